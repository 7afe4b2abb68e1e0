// The map keys of bpf/vaultwall_abi.h built from host-order addresses, in
// one place: the compiler, the tests and the benchmarks all key the tries
// this way.
#pragma once

#include <cstdint>
#include <cstring>

#include "vaultwall_abi.h"

namespace vaultwall {

// Network byte order, as the keys store addresses.
inline void store_ipv4(uint8_t (&out)[4], uint32_t address) {
  out[0] = static_cast<uint8_t>(address >> 24);
  out[1] = static_cast<uint8_t>(address >> 16);
  out[2] = static_cast<uint8_t>(address >> 8);
  out[3] = static_cast<uint8_t>(address);
}

// vw_rules_N key of `address`/`length` under virtual network vnet_id
// (VW_VNET_PUBLIC for IP rules); host bits of `address` are dropped.
inline vw_rule_key make_rule_key(uint32_t vnet_id, uint32_t address, uint8_t length) {
  vw_rule_key key{};
  key.prefixlen = VW_RULE_KEY_VNET_BITS + length;
  key.vnet_id = vnet_id;
  store_ipv4(key.addr, length == 0 ? 0 : address & ~uint32_t{0} << (32 - length));
  return key;
}

// vw_trusted_N key of `address`/`length`.
inline vw_trusted_key make_trusted_key(uint32_t address, uint8_t length) {
  vw_trusted_key key{};
  key.prefixlen = length;
  store_ipv4(key.addr, length == 0 ? 0 : address & ~uint32_t{0} << (32 - length));
  return key;
}

// vw_rules6_N / vw_public6_N keys of a 16-byte network-order address
// whose host bits the caller has dropped (Ipv6Prefix::network).
inline vw_rule6_key make_rule6_key(uint32_t vnet_id, const uint8_t (&address)[16], uint8_t length) {
  vw_rule6_key key{};
  key.prefixlen = VW_RULE_KEY_VNET_BITS + length;
  key.vnet_id = vnet_id;
  std::memcpy(key.addr, address, 16);
  return key;
}

// A vw_rules6_N key of the public network: the slot writer moves it to
// vw_public6_N (with the trusted services' IPv6 prefixes).
inline bool is_public_rule6(const vw_rule6_key& key) { return key.vnet_id == VW_VNET_PUBLIC; }

inline vw_public6_key make_public6_key(const uint8_t (&address)[16], uint8_t length) {
  vw_public6_key key{};
  key.prefixlen = length;
  std::memcpy(key.addr, address, 16);
  return key;
}

// vw_endpoints_N key of a destination address.
inline vw_endpoint_key make_endpoint_key(uint32_t address) {
  vw_endpoint_key key{};
  store_ipv4(key.addr, address);
  return key;
}

// vw_endpoints6_N key of a 16-byte network-order destination.
inline vw_endpoint6_key make_endpoint6_key(const uint8_t (&address)[16]) {
  vw_endpoint6_key key{};
  std::memcpy(key.addr, address, 16);
  return key;
}

}  // namespace vaultwall
