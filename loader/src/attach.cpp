#include "vaultwall/kernel/attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "vaultwall/common/fd.h"
#include "vaultwall/common/io.h"
#include "vaultwall/common/text.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/kernel/slots.h"

namespace vaultwall {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kLinkPrefix = "link_";

// What ip(8) would call an IFLA_XDP_ATTACHED value.
const char* mode_name(uint8_t attach_mode) {
  static constexpr std::array<const char*, 5> kNames = {"none", "native", "generic", "offload",
                                                        "multi"};
  static_assert(XDP_ATTACHED_NONE == 0 && XDP_ATTACHED_DRV == 1 && XDP_ATTACHED_SKB == 2 &&
                XDP_ATTACHED_HW == 3 && XDP_ATTACHED_MULTI == 4);
  return attach_mode < kNames.size() ? kNames[attach_mode] : "none";
}

Result<UniqueFd> create_link(int prog_fd, uint32_t ifindex, uint32_t flags) {
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
  int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
  if (fd < 0) return fail_errno("create XDP link");
  return UniqueFd(fd);
}


Result<UniqueFd> open_program(const std::string& pin_dir, uint8_t framing) {
  auto prog = open_pinned(program_pin_path_for(pin_dir, framing));
  if (!prog && prog.error().code == ENOENT)
    return fail(ENOENT, "nothing loaded at " + pin_dir + " (no " + program_name_for(framing) + ")",
                "run vaultwall-loader load first");
  return prog;
}

// Creates the XDP link of `device` to `prog_fd` in `mode` (auto: native,
// else generic), pins it and records the interface as expected.
Result<AttachResult> attach_device(const std::string& pin_dir, const NetDevice& device,
                                   uint8_t framing, AttachMode mode, int prog_fd) {
  AttachResult result{.interface = device.name, .framing = framing_name(framing)};
  Result<UniqueFd> link = fail(EINVAL, "no attach attempted");
  if (mode != AttachMode::kGeneric) {
    link = create_link(prog_fd, device.ifindex, XDP_FLAGS_DRV_MODE);
    result.mode = "native";
    if (!link && mode == AttachMode::kAuto) {
      result.native_error = link.error().message();
      result.fell_back = true;
    }
  }
  if (mode == AttachMode::kGeneric || result.fell_back) {
    link = create_link(prog_fd, device.ifindex, XDP_FLAGS_SKB_MODE);
    result.mode = "generic";
  }
  if (!link) {
    Error e = with_context(link.error(), "attach to " + device.name + " in " + result.mode + " mode");
    if (mode == AttachMode::kNative) e.hint = "the driver may lack native XDP; try --mode generic";
    return std::unexpected(e);
  }
  std::string pin = link_pin_path(pin_dir, device.name);
  if (bpf_obj_pin(link->get(), pin.c_str()) != 0) return fail_errno("pin XDP link at " + pin);
  auto unpin_on_error = [&](Error e) -> Result<AttachResult> {
    bpf_link_detach(link->get());
    ::unlink(pin.c_str());
    return std::unexpected(e);
  };
  // Pins are a security property (they hold the policy): a pin that cannot
  // be made root-only is an error, not a warning.
  if (auto r = restrict_mode(pin, 0600); !r) return unpin_on_error(r.error());
  auto netns = current_netns_inode();
  if (!netns) return unpin_on_error(netns.error());
  vw_link_info info{.netns_inode = *netns,
                    .ifindex = device.ifindex,
                    .mode = static_cast<uint8_t>(result.mode == "native" ? VW_LINK_MODE_NATIVE
                                                                         : VW_LINK_MODE_GENERIC),
                    .framing = framing};
  if (auto r = record_expected_link(pin_dir, device.name, info); !r) return unpin_on_error(r.error());
  return result;
}

// Framing and mode for a device: IP-only devices run the IP entry point,
// in generic mode (native XDP on them does not see what they receive).
Result<uint8_t> framing_and_mode(const NetDevice& device, AttachMode& mode) {
  uint8_t framing = VW_TRY(framing_for(device));
  if (framing == VW_FRAMING_IP) {
    if (mode == AttachMode::kNative)
      return fail(EOPNOTSUPP, device.name + " has no Ethernet header (" + device.kind +
                                  "): vaultwall filters it in generic mode only",
                  "attach it with --mode generic (or auto)");
    mode = AttachMode::kGeneric;
  }
  return framing;
}

// A pinned link that no longer filters (its interface was deleted): its pin
// can go, so a new link can take the name.
Result<bool> remove_severed_pin(const std::string& pin) {
  auto link = open_pinned(pin);
  if (!link) return link.error().code == ENOENT ? Result<bool>(false) : std::unexpected(link.error());
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(link->get(), &info, &len) != 0) return fail_errno("inspect " + pin);
  if (info.xdp.ifindex != 0) return fail(EEXIST, "live");
  if (::unlink(pin.c_str()) != 0) return fail_errno("remove the severed link pin " + pin);
  return true;
}


// Attaches an expected interface whose link is severed or unpinned again,
// with its recorded mode, when an interface of that name is in the caller's
// namespace (the namespace it was attached in).
Result<void> reattach(const std::string& pin_dir, const InterfaceHealth& h, int ethernet_prog_fd,
                      int ip_prog_fd) {
  if (h.other_namespace)
    return fail(EXDEV, "attached in network namespace " + netns_text(h.netns_inode) +
                           ", not this one");
  if (h.state == LinkState::kOtherProgram) return fail(EEXIST, h.problem);
  auto device = VW_TRY(find_net_device(h.interface));
  if (!device) return fail(ENODEV, "no interface named " + h.interface + " exists now");
  AttachMode mode = h.mode == "native" ? AttachMode::kNative : h.mode == "generic" ? AttachMode::kGeneric : AttachMode::kAuto;
  uint8_t framing = VW_TRY(framing_and_mode(*device, mode));
  VW_TRY(remove_severed_pin(link_pin_path(pin_dir, h.interface)));
  VW_TRY(attach_device(pin_dir, *device, framing, mode,
                       framing == VW_FRAMING_IP ? ip_prog_fd : ethernet_prog_fd));
  return {};
}

}  // namespace

std::string program_pin_path(const std::string& pin_dir) { return pin_dir + "/" VW_PROG_NAME; }

std::string link_pin_path(const std::string& pin_dir, const std::string& interface) {
  return pin_dir + "/" + std::string(kLinkPrefix) + interface;
}

std::string program_pin_path_for(const std::string& pin_dir, uint8_t framing) {
  return pin_dir + "/" + program_name_for(framing);
}

Result<AttachResult> attach_interface(const std::string& pin_dir, const std::string& interface,
                                      AttachMode mode) {
  auto device = VW_TRY(find_net_device(interface));
  if (!device)
    return fail(ENODEV, "unknown interface " + interface,
                "list interfaces with: ip -brief link (inside the right network namespace)");
  uint8_t framing = VW_TRY(framing_and_mode(*device, mode));
  auto prog = VW_TRY(open_program(pin_dir, framing));

  auto recorded = read_expected_link(pin_dir, interface);
  if (!recorded && recorded.error().code != ENOENT) return std::unexpected(recorded.error());
  uint64_t netns = VW_TRY(current_netns_inode());
  if (recorded && *recorded && (*recorded)->netns_inode != 0 && (*recorded)->netns_inode != netns)
    return fail(EEXIST,
                "vaultwall already expects an interface named " + interface +
                    " in network namespace " + netns_text((*recorded)->netns_inode) +
                    " (this is " + netns_text(netns) + ")",
                "run the command in that namespace (nsenter --net=/run/netns/NAME), or detach it there first");
  std::string pin = link_pin_path(pin_dir, interface);
  auto severed = remove_severed_pin(pin);
  if (!severed) {
    if (severed.error().code == EEXIST)
      return fail(EEXIST, "vaultwall is already attached to " + interface,
                  mode == AttachMode::kAuto
                      ? "nothing to do for it: its link is live (vaultwall-loader status)"
                      : "see vaultwall-loader status; detach it first to change the mode");
    return std::unexpected(severed.error());
  }
  if (device->xdp_prog_id != 0)
    return fail(EEXIST,
                interface + " already has an XDP program (id " + std::to_string(device->xdp_prog_id) +
                    ", " + mode_name(device->xdp_mode) + ")",
                "remove it first (e.g. ip link set dev " + interface + " xdp off)");
  auto result = VW_TRY(attach_device(pin_dir, *device, framing, mode, prog.get()));
  result.replaced = *severed || (recorded && recorded->has_value());
  return result;
}

Result<void> detach_interface(const std::string& pin_dir, const std::string& interface) {
  std::string pin = link_pin_path(pin_dir, interface);
  auto link = open_pinned(pin);
  if (!link) {
    Error e = link.error();
    if (e.code == ENOENT) {
      // A deleted pin leaves the interface expected: detach stops that.
      auto recorded = read_expected_link(pin_dir, interface);
      if (recorded && *recorded) return forget_expected_link(pin_dir, interface);
      e.context = "vaultwall is not attached to " + interface + " (no " + pin + ")";
      e.hint = "see vaultwall-loader status";
    }
    return std::unexpected(e);
  }
  // Detach explicitly: the link may still be held open by another process.
  if (bpf_link_detach(link->get()) != 0 && errno != ENOLINK && errno != EINVAL)
    return fail_errno("detach XDP link from " + interface);
  if (::unlink(pin.c_str()) != 0) return fail_errno("remove " + pin);
  return forget_expected_link(pin_dir, interface);
}

Result<std::vector<std::string>> attached_interfaces(const std::string& pin_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(pin_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(kLinkPrefix)) out.push_back(name.substr(kLinkPrefix.size()));
  }
  if (ec && ec != std::errc::no_such_file_or_directory)
    return fail(ec.value(), "list " + pin_dir);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> expected_interfaces(const std::string& pin_dir) {
  auto names = VW_TRY(attached_interfaces(pin_dir));
  auto expected = VW_TRY(read_expected_links(pin_dir));
  for (const ExpectedLink& e : expected) names.push_back(e.interface);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<LinkMoves> move_links(const std::string& pin_dir, int ethernet_prog_fd, int ip_prog_fd) {
  LinkMoves moves;
  auto health = VW_TRY(interface_health(pin_dir));
  for (const InterfaceHealth& h : health) {
    if (h.state == LinkState::kTunnelUnfiltered) continue;  // never attached: not load's to do
    bool ip = h.framing == framing_name(VW_FRAMING_IP);
    int prog_fd = ip ? ip_prog_fd : ethernet_prog_fd;
    if (h.state == LinkState::kFiltered || h.state == LinkState::kStaleProgram) {
      auto link = VW_TRY(open_pinned(link_pin_path(pin_dir, h.interface)));
      if (bpf_link_update(link.get(), prog_fd, nullptr) != 0)
        return fail_errno("move the XDP link on " + h.interface + " to the new program");
      moves.moved++;
      continue;
    }
    // Severed or unpinned: attach again when the interface is here.
    auto reattached = reattach(pin_dir, h, ethernet_prog_fd, ip_prog_fd);
    if (reattached)
      moves.reattached.push_back(h.interface);
    else
      moves.unfiltered.push_back(h.interface + ": " + reattached.error().message());
  }
  return moves;
}

Result<void> purge_pins(const std::string& pin_dir) {
  std::error_code ec;
  fs::remove_all(pin_dir, ec);
  if (ec) return fail(ec.value(), "remove " + pin_dir);
  return {};
}

bool Status::healthy() const {
  if (!loaded) return false;
  if (generation > 0 && links.empty()) return false;  // a policy that filters nothing
  if (older_policy_active()) return false;
  return std::all_of(links.begin(), links.end(), [](const InterfaceHealth& h) { return h.whole(); });
}

namespace {

Result<uint32_t> program_id(int prog_fd, std::string* tag) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return fail_errno("inspect pinned program");
  if (tag) *tag = to_hex(info.tag);
  return info.id;
}

// Decapsulating devices that are up and carry no vaultwall link.
std::vector<NetDevice> unfiltered_tunnels(const std::vector<NetDevice>& devices,
                                          const std::vector<InterfaceHealth>& links) {
  std::vector<NetDevice> out;
  for (const NetDevice& d : devices) {
    if (!d.up || !is_decapsulating_kind(d.kind)) continue;
    bool filtered = std::any_of(links.begin(), links.end(), [&](const InterfaceHealth& h) {
      return h.filtered() && !h.other_namespace && h.interface == d.name && h.ifindex == d.ifindex;
    });
    if (!filtered) out.push_back(d);
  }
  return out;
}

// Filtered links of veth devices in native mode (this namespace's).
std::vector<std::string> native_veth_links(const std::vector<NetDevice>& devices,
                                           const std::vector<InterfaceHealth>& links) {
  std::vector<std::string> out;
  for (const InterfaceHealth& h : links) {
    if (!h.filtered() || h.other_namespace || h.mode != "native") continue;
    bool veth = std::any_of(devices.begin(), devices.end(), [&](const NetDevice& d) {
      return d.name == h.interface && d.ifindex == h.ifindex && d.kind == "veth";
    });
    if (veth) out.push_back(h.interface);
  }
  return out;
}

}  // namespace

std::string index_size_text(uint32_t chunks) {
  const uint64_t bytes = uint64_t{chunks} * sizeof(vw_index_chunk);
  const std::string size = bytes >= (1u << 20) ? std::to_string(bytes >> 20) + " MiB"
                                               : std::to_string(bytes >> 10) + " KiB";
  return std::to_string(chunks) + " chunks per slot (" + size + " each)";
}

Result<Status> read_status(const std::string& pin_dir) {
  Status status{.pin_dir = pin_dir};
  auto prog = open_pinned(program_pin_path(pin_dir));
  if (!prog) {
    if (prog.error().code == ENOENT) return status;
    return std::unexpected(prog.error());
  }
  status.loaded = true;
  status.prog_id = VW_TRY(program_id(prog->get(), &status.prog_tag));
  if (auto ip_prog = open_pinned(program_pin_path_for(pin_dir, VW_FRAMING_IP)))
    status.ip_prog_id = VW_TRY(program_id(ip_prog->get(), nullptr));

  const PinnedMaps maps = VW_TRY(PinnedMaps::open(pin_dir));
  status.abi_version = VW_ABI_VERSION;
  const ActivePolicy active = VW_TRY(read_active_policy(maps));
  status.active_slot = active.slot;
  status.generation = active.info.generation;
  status.other_slot_generation = active.idle_info.generation;
  status.source_index = {.capacity = VW_TRY(maps.index_capacity()),
                         .used = active.info.index_chunks,
                         .needed = active.info.index_chunks_needed,
                         .trie_regions = active.info.index_trie_regions,
                         .ipv6_capacity = VW_INDEX6_NODES,
                         .ipv6_nodes = active.info.index6_nodes,
                         .ipv6_trie_regions = active.info.index6_trie_regions};
  for (const auto& [name, fd] : maps.all()) {
    bpf_map_info map_info{};
    __u32 map_len = sizeof(map_info);
    if (bpf_obj_get_info_by_fd(fd, &map_info, &map_len) != 0) return fail_errno("inspect " + name);
    status.maps.push_back({name, map_info.id});
  }
  status.links = VW_TRY(interface_health(pin_dir));
  const std::vector<NetDevice> devices = VW_TRY(list_net_devices());
  status.unfiltered_tunnels = unfiltered_tunnels(devices, status.links);
  if (active.settings().deny_action == VW_DENY_REJECT)
    status.replies_lost = native_veth_links(devices, status.links);
  return status;
}

}  // namespace vaultwall
