// Rule sets for the datapath benchmarks: real prefixes first (Azure service
// tags), padded with random public /32 and /24 prefixes, always containing
// the rule that admits the "allowed" source and never covering the "denied"
// one. Deterministic for a given seed, so runs on different commits compare.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall_abi.h"

namespace vaultwall::bench {

using Ipv4Address = std::array<uint8_t, 4>;

struct Ipv4Prefix {
  Ipv4Address addr{};  // host bits cleared
  uint8_t length = 32;

  bool operator==(const Ipv4Prefix&) const = default;
};

// "13.66.140.192/26" -> prefix with host bits cleared; a bare address is a
// /32. EINVAL on anything else (including IPv6).
Result<Ipv4Prefix> parse_ipv4_prefix(std::string_view text);

// A random public IPv4 address (no special-purpose range), network order
// bytes; `random` is advanced.
Ipv4Address random_public_address(uint64_t& state);

// "a.b.c.d/len", for messages and result files.
std::string to_string(const Ipv4Prefix& prefix);

// Whether `address` lies inside `prefix`.
bool covers(const Ipv4Prefix& prefix, const Ipv4Address& address);

// Every IPv4 prefix of a ServiceTags_Public*.json file in file order,
// without duplicates. ENOENT/EINVAL when the file is missing or malformed.
Result<std::vector<Ipv4Prefix>> load_service_tag_prefixes(const std::string& path);

// IPv6 (the "tags" sets' IPv6 side): an address and a prefix, host bits
// cleared.
using Ipv6Address = std::array<uint8_t, 16>;
struct Ipv6Prefix {
  Ipv6Address addr{};
  uint8_t length = 128;
  bool operator==(const Ipv6Prefix&) const = default;
};
// "2603:1000::/40"; EINVAL on anything else.
Result<Ipv6Prefix> parse_ipv6_prefix(std::string_view text);
bool covers(const Ipv6Prefix& prefix, const Ipv6Address& address);
// Every IPv6 prefix of a ServiceTags file, in file order, without duplicates.
Result<std::vector<Ipv6Prefix>> load_service_tag_prefixes6(const std::string& path);

struct RuleSetRecipe {
  Ipv4Prefix allowed_rule;            // always the first rule (rule id 1)
  Ipv4Address denied_source{};        // no rule may cover it
  std::vector<Ipv4Prefix> realistic;  // taken in order after allowed_rule
  uint64_t seed = 1;                  // for the random padding
  bool dense = false;                 // padding all /32 (the adversarial set)
};

// Exactly `count` distinct prefixes: allowed_rule, then realistic ones, then
// random public /32 and /24 (alternating; all /32 when dense). Prefixes
// covering denied_source are skipped. EINVAL when count is 0.
Result<std::vector<Ipv4Prefix>> build_rule_set(size_t count, const RuleSetRecipe& recipe);

// The rule trie's entries for public-internet (vnet 0) IP rules. Rule ids
// run 1..VW_MAX_RULES-1 and wrap, since ids index preallocated counters and
// are far fewer than the prefix capacity.
std::vector<std::pair<vw_rule_key, vw_rule_value>> to_rule_entries(
    const std::vector<Ipv4Prefix>& prefixes);

}  // namespace vaultwall::bench
