#include "vaultwall/agent/coverage.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>

#include <array>
#include <cstring>

#include "vaultwall/kernel/attach.h"
#include "vaultwall/kernel/maps.h"

namespace vaultwall {

namespace {

std::string id_text(uint32_t id) { return std::to_string(id); }

}  // namespace

Assessment assess_coverage(const std::string& name, const Observation& seen) {
  if (!seen.error.empty())
    return {Coverage::kUnknown, Repair::kNone, name + ": cannot check coverage: " + seen.error};
  if (!seen.ifindex) {
    std::string detail =
        name + ": no such interface in this network namespace; it is attached when it appears";
    if (seen.link_pinned && seen.link_ifindex != 0)
      detail += " (its pinned link runs on ifindex " + id_text(seen.link_ifindex) +
                ", which has another name now)";
    return {Coverage::kMissing, Repair::kNone, detail};
  }
  const uint32_t ifindex = *seen.ifindex;
  if (seen.link_pinned && seen.link_ifindex == ifindex)
    return {Coverage::kCovered, Repair::kNone,
            name + ": covered (ifindex " + id_text(ifindex) + ", link program " +
                id_text(seen.link_prog_id) + ")"};
  if (seen.xdp_prog_id != 0 && seen.xdp_prog_id == seen.program_id)
    return {
        Coverage::kForeign, Repair::kNone,
        name + " runs vaultwall's program (id " + id_text(seen.xdp_prog_id) +
            ") attached outside the pin directory, which nothing keeps in place; detach it (ip link set dev " +
            name + " xdp off) and the agent attaches vaultwall with a pinned link"};
  if (seen.xdp_prog_id != 0)
    return {Coverage::kForeign, Repair::kNone,
            name + " runs another XDP program (id " + id_text(seen.xdp_prog_id) +
                ") and vaultwall is NOT filtering it; remove that program (ip link set dev " +
                name + " xdp off) and the agent attaches vaultwall"};
  if (seen.program_id == 0)
    return {
        Coverage::kNotLoaded, Repair::kNone,
        name +
            ": NOT filtered: nothing is loaded in the pin directory; run vaultwall-loader load (or start vaultwall.service)"};
  if (!seen.link_pinned)
    return {Coverage::kUnattached, Repair::kAttach,
            name + ": not attached (ifindex " + id_text(ifindex) + ", no link pin)"};
  if (seen.link_ifindex == 0)
    return {Coverage::kSevered, Repair::kReplace,
            name + ": its pinned link is severed (the interface was re-created, now ifindex " +
                id_text(ifindex) + ")"};
  return {Coverage::kMoved, Repair::kMovePinAndAttach,
          name + ": its pinned link runs on ifindex " + id_text(seen.link_ifindex) +
              " (renamed away), and a new " + name + " is ifindex " + id_text(ifindex)};
}

std::string_view coverage_name(Coverage coverage) {
  // In Coverage's order.
  static constexpr std::array<std::string_view, 8> kNames = {
      "covered",
      "missing",
      "not loaded",
      "unattached",
      "severed",
      "moved",
      "foreign program",
      "unknown",
  };
  static_assert(static_cast<size_t>(Coverage::kUnknown) + 1 == kNames.size());
  auto index = static_cast<size_t>(coverage);
  return index < kNames.size() ? kNames[index] : "unknown";
}

namespace {

// The id of a pinned program, 0 when nothing is pinned there.
uint32_t pinned_program_id(const std::string& pin_dir, std::string& error) {
  auto prog = open_pinned(program_pin_path(pin_dir));
  if (!prog) {
    if (prog.error().code != ENOENT) error = prog.error().message();
    return 0;
  }
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog->get(), &info, &len) != 0) {
    error = "inspect " + program_pin_path(pin_dir) + ": " + std::strerror(errno);
    return 0;
  }
  return info.id;
}

void read_link_pin(const std::string& pin_dir, const std::string& name, Observation& seen) {
  std::string pin = link_pin_path(pin_dir, name);
  auto link = open_pinned(pin);
  if (!link) {
    if (link.error().code != ENOENT) seen.error = link.error().message();
    return;
  }
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(link->get(), &info, &len) != 0) {
    seen.error = "inspect " + pin + ": " + std::strerror(errno);
    return;
  }
  seen.link_pinned = true;
  seen.link_ifindex = info.xdp.ifindex;
  seen.link_prog_id = info.prog_id;
}

}  // namespace

Observation observe_interface(const std::string& pin_dir, const std::string& name) {
  Observation seen;
  if (unsigned ifindex = if_nametoindex(name.c_str()); ifindex != 0)
    seen.ifindex = ifindex;
  else if (errno != ENODEV)
    seen.error = "look up interface " + name + ": " + std::strerror(errno);
  seen.program_id = pinned_program_id(pin_dir, seen.error);
  read_link_pin(pin_dir, name, seen);
  if (seen.ifindex) {
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    int rc = bpf_xdp_query(static_cast<int>(*seen.ifindex), 0, &query);
    if (rc == 0)
      seen.xdp_prog_id = query.prog_id;
    else if (rc == -ENODEV)  // gone between the two looks
      seen.ifindex.reset();
    else
      seen.error = "query XDP on " + name + ": " + std::strerror(-rc);
  }
  return seen;
}

}  // namespace vaultwall
