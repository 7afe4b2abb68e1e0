// Everything one slot holds: what the compiler produces, the slot writer
// writes and verify reads back. Only the ABI structs, no libbpf: the policy
// library builds it without touching a kernel.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "vaultwall_abi.h"

namespace vaultwall {

struct SlotImage {
  vw_settings settings{};
  vw_policy_info info{};
  std::vector<std::pair<vw_rule_key, vw_rule_value>> rules;
  std::vector<std::pair<vw_trusted_key, vw_trusted_value>> trusted;
  std::vector<std::pair<vw_rule6_key, vw_rule_value>> rules6;
  // Public IPv6 rules (vnet 0) and trusted6 are written together into
  // vw_public6_N (kernel/public6.h); the other rules6 into vw_rules6_N.
  std::vector<std::pair<vw_public6_key, vw_trusted_value>> trusted6;
  std::vector<std::pair<vw_segment_key, vw_segment_value>> segments;
  std::vector<std::pair<vw_endpoint_key, vw_endpoint_value>> endpoints;
  std::vector<std::pair<vw_endpoint6_key, vw_endpoint_value>> endpoints6;
  std::string document;  // normalised rule document (JSON), kept with the slot
};

}  // namespace vaultwall
