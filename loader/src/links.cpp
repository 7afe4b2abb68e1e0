#include "vaultwall/kernel/links.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/ethtool.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <set>

#include "vaultwall/kernel/attach.h"
#include "vaultwall/common/fd.h"
#include "vaultwall/kernel/maps.h"

namespace vaultwall {

// ---- rtnetlink ------------------------------------------------------------------

namespace {

// Walks the attributes of one rtnetlink payload.
template <class Visit>
void for_each_attribute(const rtattr* attr, int length, Visit visit) {
  for (; RTA_OK(attr, length); attr = RTA_NEXT(attr, length)) visit(attr);
}

// Walks the attributes nested in `attr`.
template <class Visit>
void for_each_nested(const rtattr* attr, Visit visit) {
  for_each_attribute(static_cast<const rtattr*>(RTA_DATA(attr)), RTA_PAYLOAD(attr), visit);
}

std::string attribute_string(const rtattr* attr) {
  const char* data = static_cast<const char*>(RTA_DATA(attr));
  return std::string(data, strnlen(data, RTA_PAYLOAD(attr)));
}

// IFLA_INFO_DATA of a VLAN device (IFLA_INFO_KIND comes first in the kernel's
// messages, so the kind is known here).
void read_vlan_data(const rtattr* data, NetDevice& device) {
  if (device.kind != "vlan") return;
  for_each_nested(data, [&](const rtattr* attr) {
    if (attr->rta_type == IFLA_VLAN_PROTOCOL && RTA_PAYLOAD(attr) >= sizeof(uint16_t))
      device.vlan_protocol = ntohs(*static_cast<const uint16_t*>(RTA_DATA(attr)));
  });
}

NetDevice parse_link_message(const nlmsghdr* header) {
  const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(header));
  NetDevice device{.ifindex = static_cast<uint32_t>(info->ifi_index),
                   .type = info->ifi_type,
                   .up = (info->ifi_flags & IFF_UP) != 0};
  int length = static_cast<int>(header->nlmsg_len - NLMSG_LENGTH(sizeof(*info)));
  for_each_attribute(IFLA_RTA(info), length, [&](const rtattr* attr) {
    switch (attr->rta_type) {
      case IFLA_IFNAME:
        device.name = attribute_string(attr);
        break;
      case IFLA_LINK:
        device.link = *static_cast<const uint32_t*>(RTA_DATA(attr));
        break;
      case IFLA_LINKINFO:
        for_each_nested(attr, [&](const rtattr* nested) {
          if (nested->rta_type == IFLA_INFO_KIND) device.kind = attribute_string(nested);
          if (nested->rta_type == IFLA_INFO_DATA) read_vlan_data(nested, device);
        });
        break;
      case IFLA_XDP:
        for_each_nested(attr, [&](const rtattr* nested) {
          if (nested->rta_type == IFLA_XDP_ATTACHED)
            device.xdp_mode = *static_cast<const uint8_t*>(RTA_DATA(nested));
          else if (nested->rta_type == IFLA_XDP_PROG_ID)
            device.xdp_prog_id = *static_cast<const uint32_t*>(RTA_DATA(nested));
        });
        break;
      default:
        break;
    }
  });
  return device;
}

}  // namespace

Result<std::vector<NetDevice>> list_net_devices() {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!sock.valid()) return fail_errno("open an rtnetlink socket");
  struct {
    nlmsghdr header;
    ifinfomsg info;
  } request{};
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = RTM_GETLINK;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = 1;
  request.info.ifi_family = AF_UNSPEC;
  if (::send(sock.get(), &request, sizeof(request), 0) < 0)
    return fail_errno("ask rtnetlink for the interfaces");

  std::vector<NetDevice> devices;
  std::vector<char> buffer(64 * 1024);
  for (;;) {
    ssize_t got = ::recv(sock.get(), buffer.data(), buffer.size(), 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read the interface list from rtnetlink");
    }
    int length = static_cast<int>(got);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(header, length);
         header = NLMSG_NEXT(header, length)) {
      if (header->nlmsg_type == NLMSG_DONE) return devices;
      if (header->nlmsg_type == NLMSG_ERROR) {
        const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
        return fail(-error->error, "list interfaces through rtnetlink");
      }
      if (header->nlmsg_type == RTM_NEWLINK) devices.push_back(parse_link_message(header));
    }
  }
}

Result<std::optional<NetDevice>> find_net_device(const std::string& name) {
  auto devices = VW_TRY(list_net_devices());
  for (NetDevice& device : devices)
    if (device.name == name) return std::optional<NetDevice>(std::move(device));
  return std::optional<NetDevice>();
}

Result<uint64_t> current_netns_inode() {
  struct stat st {};
  if (::stat("/proc/self/ns/net", &st) != 0) return fail_errno("stat /proc/self/ns/net");
  return static_cast<uint64_t>(st.st_ino);
}

std::string netns_text(uint64_t inode) { return "net:[" + std::to_string(inode) + "]"; }

// ---- framing ----------------------------------------------------------------------

Result<uint8_t> framing_for(const NetDevice& device) {
  switch (device.type) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK:
      return VW_FRAMING_ETHERNET;
    case ARPHRD_NONE:  // TUN, WireGuard: generic XDP starts at the IP header
      return VW_FRAMING_IP;
    case ARPHRD_TUNNEL:
    case ARPHRD_TUNNEL6:
    case ARPHRD_IPGRE:
    case ARPHRD_IP6GRE:
    case ARPHRD_SIT:
      return fail(
          EOPNOTSUPP,
          device.name + " is an IP tunnel (" +
              (device.kind.empty() ? "link type " + std::to_string(device.type) : device.kind) +
              "): XDP on it sees the outer header, so vaultwall cannot filter what it decapsulates",
          "terminate the tunnel off the vault host, or use a WireGuard, TUN or Ethernet (VXLAN, gretap) device and attach vaultwall to it");
    default:
      return fail(
          EOPNOTSUPP,
          device.name + " has link type " + std::to_string(device.type) +
              ", whose frames vaultwall cannot parse (it reads Ethernet frames, or IP packets on TUN/WireGuard devices)",
          "attach vaultwall to the Ethernet interface the traffic arrives on");
  }
}

const char* framing_name(uint8_t framing) { return framing == VW_FRAMING_IP ? "ip" : "ethernet"; }

const char* program_name_for(uint8_t framing) {
  return framing == VW_FRAMING_IP ? VW_PROG_L3_NAME : VW_PROG_NAME;
}

std::vector<std::string> vlan_devices_bypassing(const NetDevice& lower,
                                                const std::vector<NetDevice>& devices,
                                                const std::set<uint32_t>& programs,
                                                bool tags_inline) {
  std::vector<std::string> out;
  for (const NetDevice& d : devices) {
    if (d.kind != "vlan" || d.link != lower.ifindex || d.ifindex == lower.ifindex || !d.up)
      continue;
    if (programs.contains(d.xdp_prog_id)) continue;        // filtered where it is untagged
    if (tags_inline && d.vlan_protocol == ETH_P_8021Q) continue;  // XDP on lower sees the tag
    out.push_back(d.name);
  }
  return out;
}

bool keeps_vlan_tags_inline(const NetDevice& device) {
  if (!device.kind.empty()) return false;  // veth & co: the sender decides where the tag is
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return false;
  ethtool_value flags{.cmd = ETHTOOL_GFLAGS};
  ifreq request{};
  std::strncpy(request.ifr_name, device.name.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&flags);
  if (::ioctl(sock.get(), SIOCETHTOOL, &request) != 0) return false;  // cannot tell: not inline
  return (flags.data & ETH_FLAG_RXVLAN) == 0;
}

bool is_decapsulating_kind(const std::string& kind) {
  static const std::set<std::string> kinds = {
      "vxlan", "geneve",    "ipip",   "gre",       "gretap",  "ip6gre", "ip6gretap", "ip6tnl",
      "sit",   "wireguard", "erspan", "ip6erspan", "bareudp", "vti",    "vti6",      "xfrm",
      "gtp",   "tun",       "fou",    "l2tp",      "pptp",    "ppp"};
  return kinds.contains(kind);
}

// ---- the vw_links record ----------------------------------------------------------

namespace {

Result<TypedMap<vw_link_key, vw_link_info>> open_links_map(const std::string& pin_dir,
                                                           UniqueFd& holder) {
  holder = VW_TRY(open_pinned(pin_dir + "/" VW_NAME(VW_MAP_LINKS)));
  return TypedMap<vw_link_key, vw_link_info>(holder.get(), VW_NAME(VW_MAP_LINKS));
}

Result<vw_link_key> link_key(const std::string& interface) {
  vw_link_key key{};
  if (interface.empty() || interface.size() >= sizeof(key.name))
    return fail(EINVAL, "interface name '" + interface + "' is not 1 to 15 characters");
  std::memcpy(key.name, interface.data(), interface.size());
  return key;
}

}  // namespace

Result<std::vector<ExpectedLink>> read_expected_links(const std::string& pin_dir) {
  UniqueFd fd;
  auto map = open_links_map(pin_dir, fd);
  if (!map) {
    if (map.error().code == ENOENT) return std::vector<ExpectedLink>{};
    return std::unexpected(map.error());
  }
  auto entries = VW_TRY(map->entries());
  std::vector<ExpectedLink> out;
  for (const auto& [key, info] : entries)
    out.push_back({std::string(key.name, strnlen(key.name, sizeof(key.name))), info});
  std::sort(out.begin(), out.end(),
            [](const ExpectedLink& a, const ExpectedLink& b) { return a.interface < b.interface; });
  return out;
}

Result<std::optional<vw_link_info>> read_expected_link(const std::string& pin_dir,
                                                       const std::string& interface) {
  UniqueFd fd;
  auto map = VW_TRY(open_links_map(pin_dir, fd));
  auto key = VW_TRY(link_key(interface));
  return map.get(key);
}

Result<void> record_expected_link(const std::string& pin_dir, const std::string& interface,
                                  const vw_link_info& info) {
  UniqueFd fd;
  auto map = VW_TRY(open_links_map(pin_dir, fd));
  auto key = VW_TRY(link_key(interface));
  return map.put(key, info);
}

Result<void> forget_expected_link(const std::string& pin_dir, const std::string& interface) {
  UniqueFd fd;
  auto map = open_links_map(pin_dir, fd);
  if (!map) return map.error().code == ENOENT ? Result<void>{} : std::unexpected(map.error());
  auto key = VW_TRY(link_key(interface));
  return map->erase(key);
}

// ---- health -------------------------------------------------------------------------

const char* link_state_name(LinkState state) {
  // In LinkState's order.
  static constexpr std::array<const char*, 6> kNames = {
      "filtered", "severed", "pin-missing", "stale-program", "other-program", "tunnel-unfiltered"};
  static_assert(static_cast<size_t>(LinkState::kTunnelUnfiltered) + 1 == kNames.size());
  auto index = static_cast<size_t>(state);
  return index < kNames.size() ? kNames[index] : "unknown";
}

namespace {

const char* recorded_mode_name(uint8_t mode) {
  return mode == VW_LINK_MODE_NATIVE ? "native" : mode == VW_LINK_MODE_GENERIC ? "generic" : "";
}

// Ids of the programs loaded under pin_dir (one per framing).
std::set<uint32_t> loaded_program_ids(const std::string& pin_dir) {
  std::set<uint32_t> ids;
  for (uint8_t framing : {VW_FRAMING_ETHERNET, VW_FRAMING_IP}) {
    auto prog = open_pinned(pin_dir + "/" + program_name_for(framing));
    if (!prog) continue;
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog->get(), &info, &len) == 0) ids.insert(info.id);
  }
  return ids;
}

struct Context {
  std::string pin_dir;
  uint64_t caller_netns = 0;
  std::set<uint32_t> programs;
  std::vector<NetDevice> devices;  // the caller's namespace
  const NetDevice* device(const std::string& name) const {
    for (const NetDevice& d : devices)
      if (d.name == name) return &d;
    return nullptr;
  }
};

std::string attach_hint(const std::string& interface) {
  return "re-attach it with: vaultwall-loader attach " + interface +
         " (it also re-applies the stored policy)";
}

// Where the interface lives, for messages about an interface the caller
// cannot see.
std::string elsewhere_hint(const InterfaceHealth& h) {
  return "it was attached in network namespace " + netns_text(h.netns_inode) +
         "; run vaultwall-loader there (nsenter --net=/run/netns/NAME vaultwall-loader ...)";
}

void describe_unattached(InterfaceHealth& h, const Context& context) {
  const NetDevice* device = h.other_namespace ? nullptr : context.device(h.interface);
  if (device && device->xdp_prog_id != 0 && !context.programs.contains(device->xdp_prog_id)) {
    h.state = LinkState::kOtherProgram;
    h.problem = "vaultwall is not attached; XDP program id " + std::to_string(device->xdp_prog_id) +
                " (not vaultwall's) is";
    h.hint =
        "remove it (ip link set dev " + h.interface + " xdp off), then " + attach_hint(h.interface);
    return;
  }
  if (h.other_namespace) {
    h.hint = elsewhere_hint(h);
  } else if (device) {
    h.problem += "; an interface named " + h.interface + " exists now (ifindex " +
                 std::to_string(device->ifindex) + ") and is unfiltered";
    h.hint = attach_hint(h.interface);
  } else {
    h.problem += "; no interface named " + h.interface + " exists now";
    h.hint = "attach it when it is back (vaultwall-loader attach " + h.interface +
             "), or stop expecting it: vaultwall-loader detach " + h.interface;
  }
}

void describe_vlan_bypass(InterfaceHealth& h, const NetDevice& device, const Context& context) {
  bool has_vlan = std::any_of(context.devices.begin(), context.devices.end(),
                              [&](const NetDevice& d) { return d.link == device.ifindex; });
  if (!has_vlan) return;  // no ioctl for the common case
  h.vlan_bypass = vlan_devices_bypassing(device, context.devices, context.programs,
                                         keeps_vlan_tags_inline(device));
  if (h.vlan_bypass.empty()) return;
  std::string names;
  for (const std::string& name : h.vlan_bypass) names += (names.empty() ? "" : ", ") + name;
  h.problem = "VLAN device " + names + " on it is not filtered: a VLAN tag can reach XDP on " +
              h.interface + " outside the frame (VLAN offload), and the frame then counts as " +
              h.interface + "'s untagged traffic";
  h.hint = "attach vaultwall to " + h.vlan_bypass.front() + " as well (vaultwall-loader attach " +
           h.vlan_bypass.front() +
           "): its frames are then decided again where they are untagged; on a physical NIC, "
           "ethtool -K " + h.interface + " rxvlan off keeps the tags in the frame";
}

InterfaceHealth check_interface(const std::string& interface,
                                const std::optional<vw_link_info>& recorded,
                                const Context& context) {
  InterfaceHealth h{.interface = interface};
  if (recorded) {
    h.ifindex = recorded->ifindex;
    h.mode = recorded_mode_name(recorded->mode);
    h.framing = framing_name(recorded->framing);
    h.netns_inode = recorded->netns_inode;
    h.other_namespace = recorded->netns_inode != 0 && recorded->netns_inode != context.caller_netns;
  } else {
    h.framing = framing_name(VW_FRAMING_ETHERNET);
  }
  auto link = open_pinned(link_pin_path(context.pin_dir, interface));
  if (!link) {
    h.state = LinkState::kPinMissing;
    h.problem = "its link pin " + link_pin_path(context.pin_dir, interface) +
                " is gone, so the XDP program is detached from it";
    describe_unattached(h, context);
    return h;
  }
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(link->get(), &info, &len) != 0) {
    h.state = LinkState::kSevered;
    h.problem = std::string("its link cannot be inspected: ") + std::strerror(errno);
    h.hint = attach_hint(interface);
    return h;
  }
  h.link_id = info.id;
  h.prog_id = info.prog_id;
  if (info.xdp.ifindex == 0) {
    h.state = LinkState::kSevered;
    h.problem = "its link is severed: the interface it was attached to (ifindex " +
                std::to_string(h.ifindex) + ") was deleted";
    describe_unattached(h, context);
    return h;
  }
  h.ifindex = info.xdp.ifindex;
  if (!context.programs.contains(info.prog_id)) {
    h.state = LinkState::kStaleProgram;
    h.problem = "its link runs program id " + std::to_string(info.prog_id) +
                ", not the program loaded at " + context.pin_dir;
    h.hint = "move it to the loaded program: vaultwall-loader load";
    return h;
  }
  h.state = LinkState::kFiltered;
  const NetDevice* device = h.other_namespace ? nullptr : context.device(interface);
  if (device && device->ifindex == h.ifindex && device->xdp_prog_id == info.prog_id)
    h.mode = device->xdp_mode == XDP_ATTACHED_DRV   ? "native"
             : device->xdp_mode == XDP_ATTACHED_SKB ? "generic"
                                                    : h.mode;
  if (device && device->ifindex == h.ifindex) describe_vlan_bypass(h, *device, context);
  return h;
}

// Whether pin_dir's live slot holds a policy; true (fail closed) when
// vw_active cannot be read.
bool policy_applied(const std::string& pin_dir) {
  auto fd = open_pinned(pin_dir + "/" VW_NAME(VW_MAP_ACTIVE));
  vw_active active{};
  uint32_t zero = 0;
  if (!fd || bpf_map_lookup_elem(fd->get(), &zero, &active) != 0) return true;
  return active.settings[active.slot & 1].generation != 0;
}

// A decapsulating device that no expected interface names. The program on
// the NIC decides a tunnel by its outer packet at most (and a declared one,
// or a userspace VPN's port, not at all); the inner packets the device
// delivers are decided only by vaultwall on the device itself.
InterfaceHealth unfiltered_tunnel(const NetDevice& device) {
  InterfaceHealth h{.interface = device.name,
                    .state = LinkState::kTunnelUnfiltered,
                    .ifindex = device.ifindex};
  auto framing = framing_for(device);
  h.framing = framing_name(framing.value_or(VW_FRAMING_ETHERNET));
  h.problem = "a " + device.kind + " device that is up without vaultwall: the packets it "
              "decapsulates reach the host decided by nothing";
  const std::string down = "take it down (ip link set " + device.name + " down)";
  // An IP tunnel cannot carry the filter (framing_for says why): it must go.
  h.hint = framing ? attach_hint(device.name) + ", or " + down
                   : framing.error().context + "; " + framing.error().hint + ", or " + down;
  return h;
}

}  // namespace

Result<std::vector<InterfaceHealth>> interface_health(const std::string& pin_dir) {
  Context context{.pin_dir = pin_dir};
  context.caller_netns = VW_TRY(current_netns_inode());
  context.programs = loaded_program_ids(pin_dir);
  context.devices = VW_TRY(list_net_devices());
  auto expected = VW_TRY(read_expected_links(pin_dir));
  auto pinned = VW_TRY(attached_interfaces(pin_dir));
  std::map<std::string, std::optional<vw_link_info>> all;
  for (const std::string& name : pinned) all[name];
  for (const ExpectedLink& e : expected) all[e.interface] = e.info;
  std::vector<InterfaceHealth> out;
  for (const auto& [name, recorded] : all) out.push_back(check_interface(name, recorded, context));
  if (!policy_applied(pin_dir)) return out;  // nothing is filtered anywhere: firewall off
  for (const NetDevice& d : context.devices)
    if (d.up && is_decapsulating_kind(d.kind) && !all.contains(d.name))
      out.push_back(unfiltered_tunnel(d));
  std::sort(out.begin(), out.end(), [](const InterfaceHealth& a, const InterfaceHealth& b) {
    return a.interface < b.interface;
  });
  return out;
}

Result<std::optional<uint32_t>> filtered_ifindex(const std::string& pin_dir,
                                                 const std::string& interface) {
  auto health = VW_TRY(interface_health(pin_dir));
  for (const InterfaceHealth& h : health)
    if (h.interface == interface && h.filtered()) return std::optional<uint32_t>(h.ifindex);
  return std::optional<uint32_t>();
}

}  // namespace vaultwall
