#include "test_policy.h"

#include <cstring>
#include <stdexcept>

#include "vaultwall/abi/keys.h"
#include "vaultwall/policy/ipv4.h"
#include "vaultwall/policy/ipv6.h"

namespace vaultwall::testing::world {

namespace {

constexpr uint32_t kAppVnet = 7;
constexpr uint32_t kAnyIfVnet = 8;
constexpr uint32_t kIfaceVnet = 9;

// "203.0.113.0/24" as the policy library parses it.
Ipv4Prefix parse_cidr(const std::string& cidr) {
  auto prefix = parse_ipv4_prefix(cidr);
  if (!prefix) throw std::invalid_argument("test policy: bad CIDR " + cidr);
  return *prefix;
}

vw_segment_key segment(uint32_t ifindex, uint16_t vlan) {
  vw_segment_key key{};
  key.ifindex = ifindex;
  key.vlan = vlan;
  return key;
}

vw_endpoint_key endpoint(const Ipv4& address) {
  vw_endpoint_key key{};
  std::memcpy(key.addr, address.data(), 4);
  return key;
}

Ipv6Prefix parse_cidr6(const std::string& cidr, uint8_t (&bytes)[16]) {
  auto prefix = parse_ipv6_prefix(cidr);
  if (!prefix) throw std::invalid_argument("test policy: bad IPv6 CIDR " + cidr);
  std::memcpy(bytes, prefix->network().address.data(), 16);
  return *prefix;
}

}  // namespace

vw_rule6_key rule6_key(uint32_t vnet_id, const std::string& cidr) {
  uint8_t bytes[16];
  const Ipv6Prefix prefix = parse_cidr6(cidr, bytes);
  return make_rule6_key(vnet_id, bytes, prefix.length);
}

vw_public6_key trusted6_key(const std::string& cidr) {
  uint8_t bytes[16];
  const Ipv6Prefix prefix = parse_cidr6(cidr, bytes);
  return make_public6_key(bytes, prefix.length);
}

vw_rule_key rule_key(uint32_t vnet_id, const std::string& cidr) {
  const Ipv4Prefix prefix = parse_cidr(cidr);
  return make_rule_key(vnet_id, prefix.address, prefix.length);
}

vw_trusted_key trusted_key(const std::string& cidr) {
  const Ipv4Prefix prefix = parse_cidr(cidr);
  return make_trusted_key(prefix.address, prefix.length);
}

SlotImage policy(const Knobs& knobs, uint32_t second_ifindex, uint64_t generation) {
  SlotImage image;
  vw_settings& s = image.settings;
  s.default_action = knobs.default_action;
  s.bypass = knobs.bypass;
  s.public_access = knobs.public_access;
  s.mode = knobs.mode;
  s.deny_action = knobs.deny_action;
  s.flags = VW_SETTINGS_HAS_SEGMENTS |
            (knobs.every_destination ? VW_SETTINGS_ALL_DESTINATIONS : 0) |
            (knobs.listen_on_addresses_only ? 0 : VW_SETTINGS_LOCAL_DESTINATIONS);
  s.tunnels = VW_TUNNELS_ALL & ~knobs.declared_tunnels;
  s.ports[0] = {kHttpsPort, kProtoTcp, 0};
  s.ports[1] = {kQuicPort, kProtoUdp, 0};
  s.port_count = 2;
  s.generation = generation;
  image.info.generation = generation;
  std::strncpy(image.info.profile, "akv-2018", sizeof(image.info.profile));

  image.rules = {
      {rule_key(VW_VNET_PUBLIC, "203.0.113.0/24"), {kRule24}},
      {rule_key(VW_VNET_PUBLIC, "203.0.113.128/25"), {kRule25}},
      {rule_key(VW_VNET_PUBLIC, "198.51.100.7/32"), {kRuleHost}},
      {rule_key(kAppVnet, "10.1.0.0/24"), {kRuleAppVnet}},
      {rule_key(kAnyIfVnet, "10.2.0.0/24"), {kRuleAnyIfVnet}},
      {rule_key(kIfaceVnet, "10.3.0.0/24"), {kRuleIfaceVnet}},
  };
  image.trusted = {
      {trusted_key("198.51.100.128/25"), {kServiceStorage}},
      {trusted_key("203.0.113.0/28"), {kServiceArm}},
  };
  image.rules6 = {
      {rule6_key(VW_VNET_PUBLIC, "2001:db8:100::/48"), {kRule6}},
      {rule6_key(kAppVnet, "2001:db8:a00::/64"), {kRuleAppVnet}},
  };
  image.trusted6 = {
      {trusted6_key("2001:db8:7000::/48"), {kServiceStorage}},
      {trusted6_key("2001:db8:7000:1::/64"), {kServiceArm}},
  };
  image.segments = {
      {segment(kLoopbackIfindex, kAppVlan), {kAppVnet}},
      {segment(0, kAnyIfVlan), {kAnyIfVnet}},
  };
  if (second_ifindex != 0) image.segments.push_back({segment(second_ifindex, 0), {kIfaceVnet}});
  // The VIDs at both ends of the range, on any interface.
  image.segments.push_back({segment(0, kLowestVlan), {kAnyIfVnet}});
  image.segments.push_back({segment(0, kHighestVlan), {kAnyIfVnet}});
  // VLAN 100 on any other interface than loopback's (whose own segment wins).
  if (second_ifindex != 0) image.segments.push_back({segment(0, kAppVlan), {kIfaceVnet}});
  image.endpoints = {{endpoint(kPrivateEndpoint), {VW_ENDPOINT_PRIVATE, 0}},
                     {endpoint(kBoundPrivateEndpoint), {VW_ENDPOINT_PRIVATE, kAnyIfVnet}}};
  if (!knobs.every_destination)
    image.endpoints.push_back({endpoint(kVault), {VW_ENDPOINT_PUBLIC, 0}});
  if (knobs.perimeter == VW_SETTINGS_PERIMETER_TRANSITION) {
    image.rules.push_back({rule_key(VW_VNET_PERIMETER, "198.51.100.48/29"), {kRulePerimeter}});
    image.rules6.push_back({rule6_key(VW_VNET_PERIMETER, "2001:db8:4800::/48"), {kRulePerimeter}});
  }
  if (knobs.perimeter == VW_SETTINGS_PERIMETER_ENFORCED) {
    // The vault's rules and trusted services are overridden: not written.
    image.rules = {{rule_key(VW_VNET_PUBLIC, "198.51.100.48/29"), {kRulePerimeter}}};
    image.trusted.clear();
    image.rules6 = {{rule6_key(VW_VNET_PUBLIC, "2001:db8:4800::/48"), {kRulePerimeter}}};
    image.trusted6.clear();
    s.bypass = VW_BYPASS_NONE;
    s.default_action = VW_ACTION_DENY;
    s.public_access = VW_PUBLIC_ACCESS_ENABLED;
  }
  s.flags |= knobs.perimeter;
  image.info.rule_prefixes = static_cast<uint32_t>(image.rules.size() + image.rules6.size());
  image.info.trusted_prefixes = static_cast<uint32_t>(image.trusted.size() + image.trusted6.size());
  return image;
}

}  // namespace vaultwall::testing::world
