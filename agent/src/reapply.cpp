#include "vaultwall/agent/reapply.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "vaultwall/apply.h"

namespace vaultwall {

namespace {

// The ids of the virtual networks whose segment names `interface`.
Result<std::vector<std::string>> networks_bound_to(const std::string& pin_dir,
                                                   const std::string& interface) {
  PinnedMaps maps = VW_TRY(PinnedMaps::open(pin_dir));
  KernelPolicy current = VW_TRY(read_kernel_policy(maps));
  std::vector<std::string> bound;
  if (!current.policy) return bound;
  for (const VirtualNetwork& network : current.policy->host.virtual_networks)
    if (network.segment.interface == interface) bound.push_back(network.id);
  return bound;
}

}  // namespace

void reapply_after_repair(const std::string& pin_dir, const std::string& interface) {
  auto bound = networks_bound_to(pin_dir, interface);
  if (!bound) {
    spdlog::warn(
        "{}: cannot read the stored policy to check its segments: {}; if a virtual network's segment names {}, re-apply the policy (vaultwallctl --pin-dir {} show > p.json && vaultwallctl --pin-dir {} apply --force -f p.json)",
        interface, bound.error().message(), interface, pin_dir, pin_dir);
    return;
  }
  if (bound->empty()) return;
  spdlog::warn(
      "{}: the stored policy binds {} virtual network segment(s) to {} (first: {}), compiled to its old ifindex: their traffic is treated as public until the policy is re-applied (vaultwallctl --pin-dir {} show > p.json && vaultwallctl --pin-dir {} apply --force -f p.json)",
      interface, bound->size(), interface, bound->front(), pin_dir, pin_dir);
}

}  // namespace vaultwall
