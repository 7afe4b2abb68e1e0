#include "vaultwall/kernel/public6.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>

namespace vaultwall {

namespace {

using Address6 = std::array<uint8_t, 16>;
using Prefix6 = std::pair<Address6, uint8_t>;  // network address, length

Address6 masked(const uint8_t (&addr)[16], unsigned length) {
  Address6 out{};
  for (unsigned i = 0; i < 16; i++) {
    const unsigned bits = length >= 8 * (i + 1) ? 8 : length > 8 * i ? length - 8 * i : 0;
    out[i] = static_cast<uint8_t>(addr[i] & (0xff00u >> bits));
  }
  return out;
}

// Prefixes of one kind (rules or services) by prefix, and the lengths they
// come in: the longest one holding a prefix is found by masking it to each
// of those lengths, longest first (a handful, not 128).
template <class Id>
struct PrefixSet {
  std::map<Prefix6, Id> owner;
  std::set<uint8_t, std::greater<>> lengths;

  void add(const uint8_t (&addr)[16], uint8_t length, Id id) {
    // First one wins, as in the rule tries (validation forbids duplicates).
    if (owner.emplace(Prefix6{masked(addr, length), length}, id).second) lengths.insert(length);
  }

  // The longest member holding addr/length: its id and length, or none.
  std::pair<Id, uint8_t> longest_holding(const uint8_t (&addr)[16], uint8_t length) const {
    for (uint8_t l : lengths) {
      if (l > length) continue;
      auto it = owner.find(Prefix6{masked(addr, l), l});
      if (it != owner.end()) return {it->second, l};
    }
    return {Id{}, 0};
  }
};

}  // namespace

Public6Entries build_public6(const SlotImage& image) {
  PrefixSet<uint32_t> rules, services;
  for (const auto& [key, value] : image.rules6)
    if (is_public_rule6(key))
      rules.add(key.addr, static_cast<uint8_t>(key.prefixlen - VW_RULE_KEY_VNET_BITS), value.rule_id);
  for (const auto& [key, value] : image.trusted6)
    services.add(key.addr, static_cast<uint8_t>(key.prefixlen), value.service_id);

  std::set<Prefix6> all;
  for (const auto& [prefix, id] : rules.owner) all.insert(prefix);
  for (const auto& [prefix, id] : services.owner) all.insert(prefix);
  Public6Entries out;
  out.reserve(all.size());
  for (const auto& [address, length] : all) {
    vw_public6_key key{};
    key.prefixlen = length;
    std::memcpy(key.addr, address.data(), 16);
    vw_public6_value value{};
    auto [rule_id, rule_length] = rules.longest_holding(key.addr, length);
    auto [service_id, service_length] = services.longest_holding(key.addr, length);
    value.rule_id = rule_id;
    value.rule_prefixlen = rule_id == VW_RULE_NONE ? 0 : rule_length;
    value.service_id = service_id;
    value.trusted_prefixlen = service_id == VW_SERVICE_NONE ? 0 : service_length;
    out.emplace_back(key, value);
  }
  return out;
}

void split_public6(const Public6Entries& entries,
                   std::vector<std::pair<vw_rule6_key, vw_rule_value>>& rules6,
                   std::vector<std::pair<vw_public6_key, vw_trusted_value>>& trusted6) {
  for (const auto& [key, value] : entries) {
    if (value.rule_id != VW_RULE_NONE && value.rule_prefixlen == key.prefixlen) {
      vw_rule6_key rule{};
      rule.prefixlen = VW_RULE_KEY_VNET_BITS + key.prefixlen;
      rule.vnet_id = VW_VNET_PUBLIC;
      std::memcpy(rule.addr, key.addr, 16);
      rules6.emplace_back(rule, vw_rule_value{value.rule_id});
    }
    if (value.service_id != VW_SERVICE_NONE && value.trusted_prefixlen == key.prefixlen)
      trusted6.emplace_back(key, vw_trusted_value{value.service_id});
  }
}

}  // namespace vaultwall
