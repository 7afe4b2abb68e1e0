#include "vaultwall/attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <sys/stat.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "vaultwall/fd.h"
#include "vaultwall/maps.h"
#include "vaultwall/slots.h"

namespace vaultwall {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kLinkPrefix = "link_";

const char* mode_name(uint8_t attach_mode) {
  switch (attach_mode) {
    case XDP_ATTACHED_DRV:
      return "native";
    case XDP_ATTACHED_SKB:
      return "generic";
    case XDP_ATTACHED_HW:
      return "offload";
    case XDP_ATTACHED_MULTI:
      return "multi";
    default:
      return "none";
  }
}

Result<uint32_t> interface_index(const std::string& interface) {
  unsigned ifindex = if_nametoindex(interface.c_str());
  if (ifindex == 0)
    return fail(ENODEV, "unknown interface " + interface,
                "list interfaces with: ip -brief link (inside the right network namespace)");
  return ifindex;
}

Result<UniqueFd> create_link(int prog_fd, uint32_t ifindex, uint32_t flags) {
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
  int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
  if (fd < 0) return fail_errno("create XDP link");
  return UniqueFd(fd);
}

}  // namespace

std::string program_pin_path(const std::string& pin_dir) { return pin_dir + "/" VW_PROG_NAME; }

std::string link_pin_path(const std::string& pin_dir, const std::string& interface) {
  return pin_dir + "/" + std::string(kLinkPrefix) + interface;
}

Result<AttachResult> attach_interface(const std::string& pin_dir, const std::string& interface,
                                      AttachMode mode) {
  auto ifindex = interface_index(interface);
  if (!ifindex) return std::unexpected(ifindex.error());
  auto prog = open_pinned(program_pin_path(pin_dir));
  if (!prog) {
    Error e = prog.error();
    if (e.code == ENOENT) e.hint = "nothing loaded at " + pin_dir + "; run vaultwall-loader load first";
    return std::unexpected(e);
  }
  std::string pin = link_pin_path(pin_dir, interface);
  if (fs::exists(pin))
    return fail(EEXIST, "vaultwall is already attached to " + interface,
                "see vaultwall-loader status; detach it first to change the mode");
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  if (bpf_xdp_query(*ifindex, 0, &query) == 0 && query.prog_id != 0)
    return fail(EEXIST,
                interface + " already has an XDP program (id " + std::to_string(query.prog_id) +
                    ", " + mode_name(query.attach_mode) + ")",
                "remove it first (e.g. ip link set dev " + interface + " xdp off)");

  AttachResult result{.interface = interface};
  Result<UniqueFd> link = fail(EINVAL, "no attach attempted");
  if (mode != AttachMode::kGeneric) {
    link = create_link(prog->get(), *ifindex, XDP_FLAGS_DRV_MODE);
    result.mode = "native";
    if (!link && mode == AttachMode::kAuto) {
      result.native_error = link.error().message();
      result.fell_back = true;
    }
  }
  if (mode == AttachMode::kGeneric || result.fell_back) {
    link = create_link(prog->get(), *ifindex, XDP_FLAGS_SKB_MODE);
    result.mode = "generic";
  }
  if (!link) {
    Error e = link.error();
    e.context = "attach to " + interface + " in " + result.mode + " mode: " + e.context;
    if (mode == AttachMode::kNative) e.hint = "the driver may lack native XDP; try --mode generic";
    return std::unexpected(e);
  }
  if (bpf_obj_pin(link->get(), pin.c_str()) != 0) return fail_errno("pin XDP link at " + pin);
  ::chmod(pin.c_str(), 0600);
  return result;
}

Result<void> detach_interface(const std::string& pin_dir, const std::string& interface) {
  std::string pin = link_pin_path(pin_dir, interface);
  auto link = open_pinned(pin);
  if (!link) {
    Error e = link.error();
    if (e.code == ENOENT) {
      e.context = "vaultwall is not attached to " + interface + " (no " + pin + ")";
      e.hint = "see vaultwall-loader status";
    }
    return std::unexpected(e);
  }
  // Detach explicitly: the link may still be held open by another process.
  if (bpf_link_detach(link->get()) != 0 && errno != ENOLINK && errno != EINVAL)
    return fail_errno("detach XDP link from " + interface);
  if (::unlink(pin.c_str()) != 0) return fail_errno("remove " + pin);
  return {};
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

Result<void> purge_pins(const std::string& pin_dir) {
  std::error_code ec;
  fs::remove_all(pin_dir, ec);
  if (ec) return fail(ec.value(), "remove " + pin_dir);
  return {};
}

namespace {

LinkStatus link_status(const std::string& pin_dir, const std::string& interface) {
  LinkStatus status{.interface = interface, .mode = "detached"};
  auto link = open_pinned(link_pin_path(pin_dir, interface));
  if (!link) return status;
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(link->get(), &info, &len) != 0) return status;
  status.link_id = info.id;
  status.prog_id = info.prog_id;
  status.ifindex = info.xdp.ifindex;
  if (status.ifindex == 0) return status;  // the interface went away
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  if (bpf_xdp_query(status.ifindex, 0, &query) == 0) status.mode = mode_name(query.attach_mode);
  return status;
}

}  // namespace

Result<Status> read_status(const std::string& pin_dir) {
  Status status{.pin_dir = pin_dir};
  auto prog = open_pinned(program_pin_path(pin_dir));
  if (!prog) {
    if (prog.error().code == ENOENT) return status;
    return std::unexpected(prog.error());
  }
  status.loaded = true;
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog->get(), &info, &len) != 0)
    return fail_errno("inspect pinned program");
  status.prog_id = info.id;
  char tag[2 * BPF_TAG_SIZE + 1] = {};
  for (int i = 0; i < BPF_TAG_SIZE; i++) snprintf(tag + 2 * i, 3, "%02x", info.tag[i]);
  status.prog_tag = tag;

  auto maps = PinnedMaps::open(pin_dir);
  if (!maps) return std::unexpected(maps.error());
  status.abi_version = VW_ABI_VERSION;
  auto slot = active_slot(*maps);
  if (!slot) return std::unexpected(slot.error());
  status.active_slot = *slot;
  auto policy = maps->policy_info().get(*slot);
  if (!policy) return std::unexpected(policy.error());
  status.generation = *policy ? (*policy)->generation : 0;
  for (const auto& [name, fd] : maps->all()) {
    bpf_map_info map_info{};
    __u32 map_len = sizeof(map_info);
    if (bpf_obj_get_info_by_fd(fd, &map_info, &map_len) != 0) return fail_errno("inspect " + name);
    status.maps.push_back({name, map_info.id});
  }
  auto interfaces = attached_interfaces(pin_dir);
  if (!interfaces) return std::unexpected(interfaces.error());
  for (const std::string& ifname : *interfaces) status.links.push_back(link_status(pin_dir, ifname));
  return status;
}

}  // namespace vaultwall
