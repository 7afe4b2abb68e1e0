// The compiler's exact output, stable ids, and the trusted set.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "test_support.h"
#include "vaultwall/abi/keys.h"
#include "vaultwall/policy/sha256.h"

namespace vaultwall::test {
namespace {

constexpr const char* kVnet =
    "/subscriptions/0/resourcegroups/rg/providers/microsoft.network/virtualnetworks/v";

const char* kHost = R"({
  "dataPlane": {"addresses": ["192.0.2.10"]},
  "privateEndpoints": ["10.20.0.5"],
  "virtualNetworks": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
                       "segment": {"interface": "eth1", "vlan": 100},
                       "subnets": [{"name": "s", "addressPrefixes": ["10.1.0.0/24", "10.2.0.0/24"], "serviceEndpoints": ["Microsoft.KeyVault"]}]}],
  "trustedServices": {"custom": [{"name": "vm-deploy", "addressPrefixes": ["52.96.0.0/14"]}]}})";

std::string policy_text(std::string_view ip_rules) {
  return wrap(
      std::string(R"({"defaultAction": "Deny", "bypass": "AzureServices", "ipRules": )") +
          std::string(ip_rules) +
          R"(, "virtualNetworkRules": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}]})",
      kHost);
}

CompiledPolicy compile(const Policy& policy, const CompileOptions& options = {}) {
  auto trusted = resolve_trusted_services(policy, nullptr);
  EXPECT_TRUE(trusted.ok()) << describe(trusted.diagnostics);
  Pipeline result = run_pipeline(policy, trusted.value.value_or(TrustedSet{}), options);
  EXPECT_TRUE(result.compiled.has_value()) << describe(result.diagnostics);
  return result.compiled.value_or(CompiledPolicy{});
}

bool same_key(const vw_rule_key& a, const vw_rule_key& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

TEST(Compile, ExactSlotImage) {
  Policy policy =
      must_load(policy_text(R"([{"value": "203.0.113.0/24"}, {"value": "198.51.100.7"}])"));
  CompiledPolicy out = compile(policy);
  const SlotImage& image = out.image;

  EXPECT_EQ(image.settings.default_action, VW_ACTION_DENY);
  EXPECT_EQ(image.settings.bypass, VW_BYPASS_AZURE_SERVICES);
  EXPECT_EQ(image.settings.public_access, VW_PUBLIC_ACCESS_ENABLED);
  EXPECT_EQ(image.settings.mode, VW_MODE_ENFORCE);
  // Addresses listed; listen "any" (the default) protects what a wildcard
  // socket would receive; every tunnel is data plane (none declared).
  EXPECT_EQ(image.settings.flags,
            uint32_t{VW_SETTINGS_HAS_SEGMENTS | VW_SETTINGS_LOCAL_DESTINATIONS});
  EXPECT_EQ(image.settings.tunnels, uint32_t{VW_TUNNELS_ALL});
  ASSERT_EQ(image.settings.port_count, 1u);
  EXPECT_EQ(image.settings.ports[0].port, 443);
  EXPECT_EQ(image.settings.ports[0].proto, 6);
  EXPECT_EQ(image.settings.generation, 0u);  // the applier's

  ASSERT_EQ(image.rules.size(), 4u);
  EXPECT_TRUE(same_key(image.rules[0].first, vw_rule_key{56, 0, {203, 0, 113, 0}}));
  EXPECT_EQ(image.rules[0].second.rule_id, 1u);
  EXPECT_TRUE(same_key(image.rules[1].first, vw_rule_key{64, 0, {198, 51, 100, 7}}));
  EXPECT_EQ(image.rules[1].second.rule_id, 2u);
  EXPECT_TRUE(same_key(image.rules[2].first, vw_rule_key{56, 1, {10, 1, 0, 0}}));
  EXPECT_EQ(image.rules[2].second.rule_id, 3u);
  EXPECT_TRUE(same_key(image.rules[3].first, vw_rule_key{56, 1, {10, 2, 0, 0}}));
  EXPECT_EQ(image.rules[3].second.rule_id, 3u);  // a VNET rule's prefixes share its id

  ASSERT_EQ(image.segments.size(), 1u);
  EXPECT_EQ(image.segments[0].first.ifindex, 11u);  // eth1 via the resolver
  EXPECT_EQ(image.segments[0].first.vlan, 100);
  EXPECT_EQ(image.segments[0].first.pad, 0);
  EXPECT_EQ(image.segments[0].second.vnet_id, 1u);

  ASSERT_EQ(image.endpoints.size(), 2u);
  EXPECT_EQ(ipv4_from_bytes(image.endpoints[0].first.addr), *parse_ipv4("192.0.2.10"));
  EXPECT_EQ(image.endpoints[0].second.kind, uint32_t{VW_ENDPOINT_PUBLIC});
  EXPECT_EQ(ipv4_from_bytes(image.endpoints[1].first.addr), *parse_ipv4("10.20.0.5"));
  EXPECT_EQ(image.endpoints[1].second.kind, uint32_t{VW_ENDPOINT_PRIVATE});
  EXPECT_EQ(image.endpoints[1].second.vnet_id, 0u);  // from any virtual network

  ASSERT_EQ(image.trusted.size(), 1u);
  EXPECT_EQ(image.trusted[0].first.prefixlen, 14u);
  EXPECT_EQ(ipv4_from_bytes(image.trusted[0].first.addr), *parse_ipv4("52.96.0.0"));
  EXPECT_EQ(image.trusted[0].second.service_id, 1u);

  ASSERT_EQ(out.rule_info.size(), 3u);
  EXPECT_EQ(out.rule_info[0].first, 1u);
  EXPECT_EQ(out.rule_info[0].second.kind, uint32_t{VW_RULE_KIND_IP});
  EXPECT_STREQ(out.rule_info[0].second.text, "203.0.113.0/24");
  EXPECT_STREQ(out.rule_info[1].second.text, "198.51.100.7");
  EXPECT_EQ(out.rule_info[2].second.kind, uint32_t{VW_RULE_KIND_VNET});
  EXPECT_EQ(out.rule_info[2].second.vnet_id, 1u);
  EXPECT_EQ(std::string(out.rule_info[2].second.text), std::string(kVnet) + "/subnets/s");
  ASSERT_EQ(out.service_info.size(), 1u);
  EXPECT_STREQ(out.service_info[0].second.name, "vm-deploy");

  EXPECT_STREQ(image.info.profile, "akv-current");
  EXPECT_EQ(image.info.rule_prefixes, 4u);
  EXPECT_EQ(image.info.trusted_prefixes, 1u);
  EXPECT_EQ(image.info.generation, 0u);
  EXPECT_EQ(to_hex(image.info.digest, VW_DIGEST_LEN), out.digest_hex);
  EXPECT_EQ(out.vnet_ids.at(kVnet), 1u);
  EXPECT_TRUE(out.freed_rule_ids.empty());
}

// Dual stack: IPv6 IP rules under the public network (vnet 0) and a
// subnet's IPv6 prefixes under its network, in vw_rules6_N.
bool same_key6(const vw_rule6_key& a, uint32_t vnet_id, const char* cidr) {
  auto prefix = parse_ipv6_prefix(cidr);
  uint8_t bytes[16];
  std::memcpy(bytes, prefix->network().address.data(), 16);
  vw_rule6_key want = make_rule6_key(vnet_id, bytes, prefix->length);
  return std::memcmp(&a, &want, sizeof a) == 0;
}

std::string dualstack_text() {
  return wrap(
      R"({"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}, {"value": "2603:1000::/40"}, {"value": "2603:1000::7"}], "virtualNetworkRules": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}]})",
      R"({"profile": "dualstack", "virtualNetworks": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "segment": {"vlan": 5}, "subnets": [{"name": "s", "addressPrefixes": ["10.1.0.0/24", "fd00:1::/64", "2001:db8:5::/48"], "serviceEndpoints": ["Microsoft.KeyVault"]}]}]})");
}

TEST(Compile, DualstackIpRulesAndSubnetPrefixesFillTheIpv6RuleTrie) {
  CompiledPolicy out = compile(must_load(dualstack_text()));
  const SlotImage& image = out.image;
  EXPECT_TRUE(image.settings.flags & VW_SETTINGS_HAS_RULES6);   // the subnet's prefixes
  EXPECT_TRUE(image.settings.flags & VW_SETTINGS_HAS_PUBLIC6);  // the IP rules
  ASSERT_EQ(image.rules.size(), 2u);  // the IPv4 rule and the subnet's IPv4 prefix
  ASSERT_EQ(image.rules6.size(), 4u);
  EXPECT_TRUE(same_key6(image.rules6[0].first, VW_VNET_PUBLIC, "2603:1000::/40"));
  EXPECT_EQ(image.rules6[0].second.rule_id, 2u);
  EXPECT_TRUE(same_key6(image.rules6[1].first, VW_VNET_PUBLIC, "2603:1000::7/128"));
  EXPECT_EQ(image.rules6[1].second.rule_id, 3u);
  EXPECT_TRUE(same_key6(image.rules6[2].first, 1, "fd00:1::/64"));
  EXPECT_EQ(image.rules6[2].second.rule_id, 4u);  // the VNET rule's id, both families
  EXPECT_TRUE(same_key6(image.rules6[3].first, 1, "2001:db8:5::/48"));
  EXPECT_EQ(image.rules6[3].second.rule_id, 4u);
  EXPECT_EQ(image.rules6[0].first.prefixlen, VW_RULE_KEY_VNET_BITS + 40);
  EXPECT_EQ(image.info.rule_prefixes, 6u);
  ASSERT_EQ(out.rule_info.size(), 4u);
  EXPECT_EQ(out.rule_info[1].second.kind, uint32_t{VW_RULE_KIND_IP});
  EXPECT_STREQ(out.rule_info[1].second.text, "2603:1000::/40");
  EXPECT_STREQ(out.rule_info[2].second.text, "2603:1000::7");
  EXPECT_STREQ(image.info.profile, "dualstack");
  ASSERT_EQ(out.rules.size(), 4u);
  EXPECT_EQ(out.rules[1].prefixes6.size(), 1u);
  EXPECT_TRUE(out.rules[1].prefixes.empty());
  EXPECT_EQ(out.rules[3].prefixes6.size(), 2u);
}

// The flags say which IPv6 maps hold anything, as the slot writer derives
// them: public IPv6 rules go to vw_public6_N, not to vw_rules6_N.
TEST(Compile, PublicIpv6RulesAloneSetThePublicFlagOnly) {
  std::string text = dualstack_text();
  const std::string subnet6 = R"(, "fd00:1::/64", "2001:db8:5::/48")";
  text.replace(text.find(subnet6), subnet6.size(), "");
  CompiledPolicy out = compile(must_load(text));
  ASSERT_EQ(out.image.rules6.size(), 2u);  // the two IPv6 IP rules, under the public network
  EXPECT_TRUE(out.image.settings.flags & VW_SETTINGS_HAS_PUBLIC6);
  EXPECT_FALSE(out.image.settings.flags & VW_SETTINGS_HAS_RULES6);
}

TEST(Compile, NoIpv6RulesLeavesTheFlagClear) {
  CompiledPolicy out = compile(must_load(policy_text(R"([{"value": "203.0.113.0/24"}])")));
  EXPECT_TRUE(out.image.rules6.empty());
  EXPECT_FALSE(out.image.settings.flags & (VW_SETTINGS_HAS_RULES6 | VW_SETTINGS_HAS_PUBLIC6));
}

TEST(Compile, InactiveVnetRuleCompilesNoIpv6PrefixEither) {
  std::string text = dualstack_text();
  text.replace(text.find(R"(/subnets/s"})"), 12,
               R"(/subnets/s", "ignoreMissingVnetServiceEndpoint": true})");
  text.replace(text.find(R"("serviceEndpoints": ["Microsoft.KeyVault"])"), 42,
               R"("serviceEndpoints": [])");
  CompiledPolicy out = compile(must_load(text));
  EXPECT_EQ(out.image.rules6.size(), 2u);  // the two IPv6 IP rules only
}

TEST(Compile, EnforcedPerimeterCompilesNoIpv6VaultRule) {
  std::string text = dualstack_text();
  text.replace(text.find(R"({"profile")"), 1,
               R"({"perimeter": {"accessMode": "Enforced", "accessRules": []}, )");
  CompiledPolicy out = compile(must_load(text));
  EXPECT_TRUE(out.image.rules6.empty());
  EXPECT_FALSE(out.image.settings.flags & VW_SETTINGS_HAS_RULES6);
}

// A perimeter's IPv6 prefixes go where its IPv4 ones go: vnet 0 of
// vw_rules6_N under Enforced (the slot's only public IPv6 rules: the slot
// writer moves them to vw_public6_N, HAS_PUBLIC6), VW_VNET_PERIMETER under
// Transition (they stay in vw_rules6_N, HAS_RULES6). Any profile.
std::string perimeter6_text(const char* mode) {
  return wrap(
      R"({"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}]})",
      std::string(R"({"perimeter": {"accessMode": ")") + mode +
          R"(", "accessRules": [{"name": "six", "direction": "Inbound", "addressPrefixes": ["2603:3000::/40"]}]}})");
}

TEST(Compile, EnforcedPerimeterIpv6PrefixesAreThePublicIpv6Rules) {
  CompiledPolicy out = compile(must_load(perimeter6_text("Enforced")));
  EXPECT_TRUE(out.image.settings.flags & VW_SETTINGS_HAS_PUBLIC6);
  EXPECT_FALSE(out.image.settings.flags & VW_SETTINGS_HAS_RULES6);
  EXPECT_TRUE(out.image.rules.empty());  // the vault's IPv4 rule is overridden
  ASSERT_EQ(out.image.rules6.size(), 1u);
  EXPECT_TRUE(same_key6(out.image.rules6[0].first, VW_VNET_PUBLIC, "2603:3000::/40"));
  uint32_t id = out.rule_ids.at("perimeter:six");
  EXPECT_EQ(out.image.rules6[0].second.rule_id, id);
  ASSERT_EQ(out.rules.size(), 1u);
  EXPECT_EQ(out.rules[0].kind, uint32_t{VW_RULE_KIND_PERIMETER});
  ASSERT_EQ(out.rules[0].prefixes6.size(), 1u);
  EXPECT_EQ(out.rule_info.at(0).second.kind, VW_RULE_KIND_PERIMETER);
  EXPECT_EQ(out.rule_info.at(0).second.vnet_id, uint32_t{VW_VNET_PUBLIC});
}

TEST(Compile, TransitionPerimeterIpv6PrefixesHaveTheirOwnKeySpace) {
  CompiledPolicy out = compile(must_load(perimeter6_text("Transition")));
  EXPECT_TRUE(out.image.settings.flags & VW_SETTINGS_HAS_RULES6);
  ASSERT_EQ(out.image.rules6.size(), 1u);
  EXPECT_TRUE(same_key6(out.image.rules6[0].first, VW_VNET_PERIMETER, "2603:3000::/40"));
  EXPECT_EQ(out.image.rules.size(), 1u);  // the vault's IPv4 rule
}

TEST(Compile, NoAddressesProtectsEveryDestinationAndNoSegmentsClearsTheFlag) {
  CompiledPolicy out = compile(
      must_load(wrap(R"({"defaultAction": "Deny"})",
                     R"({"dataPlane": {"ports": ["tcp/443", "udp/8443"]}, "mode": "audit"})")));
  EXPECT_EQ(out.image.settings.flags,
            uint32_t{VW_SETTINGS_ALL_DESTINATIONS | VW_SETTINGS_LOCAL_DESTINATIONS});
  EXPECT_EQ(out.image.settings.mode, VW_MODE_AUDIT);
  ASSERT_EQ(out.image.settings.port_count, 2u);
  EXPECT_EQ(out.image.settings.ports[1].port, 8443);
  EXPECT_EQ(out.image.settings.ports[1].proto, 17);
  EXPECT_TRUE(out.image.rules.empty());
  EXPECT_TRUE(out.image.segments.empty());
}

TEST(Compile, DenyActionReachesTheSlotSettings) {
  EXPECT_EQ(compile(must_load(wrap(R"({"defaultAction": "Deny"})", R"({})"))).image.settings.deny_action,
            VW_DENY_DROP);
  CompiledPolicy reject =
      compile(must_load(wrap(R"({"defaultAction": "Deny"})", R"({"denyAction": "reject"})")));
  EXPECT_EQ(reject.image.settings.deny_action, VW_DENY_REJECT);
}

TEST(Compile, DeclaredTunnelsAreNotDataPlane) {
  CompiledPolicy out = compile(must_load(wrap(
      R"({"defaultAction": "Deny"})",
      R"({"dataPlane": {"addresses": ["192.0.2.10"], "tunnels": ["vxlan", "ip/47", "WireGuard"]}})")));
  EXPECT_EQ(out.image.settings.tunnels,
            uint32_t{VW_TUNNELS_ALL & ~(VW_TUNNEL_VXLAN | VW_TUNNEL_GRE | VW_TUNNEL_WIREGUARD)});
}

TEST(Compile, ListenOnAddressesOnlyClearsTheWeakHostFlag) {
  CompiledPolicy out = compile(
      must_load(wrap(R"({"defaultAction": "Deny"})",
                     R"({"dataPlane": {"addresses": ["192.0.2.10"], "listen": "addresses"}})")));
  EXPECT_EQ(out.image.settings.flags & VW_SETTINGS_LOCAL_DESTINATIONS, 0u);
  EXPECT_EQ(out.image.settings.flags & VW_SETTINGS_HAS_ENDPOINTS, 0u);  // the slot writer's
}

TEST(Compile, PrivateEndpointBoundToAVirtualNetworkCarriesItsId) {
  CompiledPolicy out = compile(must_load(wrap(R"({"defaultAction": "Deny"})", std::string(R"({
    "privateEndpoints": ["10.20.0.5", {"address": "10.20.0.6", "virtualNetwork": ")") +
                                                                                  kVnet +
                                                                                  R"("}],
    "virtualNetworks": [{"id": ")" + kVnet + R"(", "segment": {"vlan": 100},
                         "subnets": [{"name": "s", "addressPrefix": "10.1.0.0/24"}]}]})")));
  ASSERT_EQ(out.image.endpoints.size(), 2u);
  EXPECT_EQ(out.image.endpoints[0].second.vnet_id, 0u);
  EXPECT_EQ(out.image.endpoints[1].second.kind, uint32_t{VW_ENDPOINT_PRIVATE});
  EXPECT_EQ(out.image.endpoints[1].second.vnet_id, out.vnet_ids.at(kVnet));
}

TEST(Compile, PublicAccessDisabledAndBypassNone) {
  CompiledPolicy out = compile(
      must_load(R"({"networkAcls": {"bypass": "None"}, "publicNetworkAccess": "Disabled"})"));
  EXPECT_EQ(out.image.settings.public_access, VW_PUBLIC_ACCESS_DISABLED);
  EXPECT_EQ(out.image.settings.bypass, VW_BYPASS_NONE);
  EXPECT_EQ(out.image.settings.default_action, VW_ACTION_ALLOW);
}

TEST(Compile, VlanOnlySegmentMatchesAnyInterface) {
  CompiledPolicy out = compile(must_load(wrap(
      "{}",
      R"({"virtualNetworks": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "segment": {"vlan": 42}, "subnets": []}]})")));
  ASSERT_EQ(out.image.segments.size(), 1u);
  EXPECT_EQ(out.image.segments[0].first.ifindex, 0u);
  EXPECT_EQ(out.image.segments[0].first.vlan, 42);
}

TEST(Compile, InactiveVnetRuleKeepsItsIdButNoPrefixes) {
  Policy policy = must_load(wrap(
      R"({"defaultAction": "Deny", "virtualNetworkRules": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s", "ignoreMissingVnetServiceEndpoint": true}]})",
      R"({"virtualNetworks": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "segment": {"vlan": 5}, "subnets": [{"name": "s", "addressPrefix": "10.1.0.0/24"}]}]})"));
  CompiledPolicy out = compile(policy);
  ASSERT_EQ(out.rules.size(), 1u);
  EXPECT_FALSE(out.rules[0].active);
  EXPECT_EQ(out.rules[0].id, 1u);
  EXPECT_TRUE(out.image.rules.empty());
  EXPECT_EQ(out.rule_info.size(), 1u);
}

Policy policy_with_segment_on(const std::string& interface) {
  return must_load(wrap(
      "{}",
      R"({"virtualNetworks": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "segment": {"interface": ")" +
          interface + R"(", "vlan": 7}, "subnets": []}]})"));
}

// Unrelated changes must still apply while a segment's interface is gone:
// the segment matches nothing, with one warning. It must not fall back to
// the VLAN alone (that would match the tag on every interface).
TEST(Compile, UnknownInterfaceWarnsAndTheSegmentMatchesNothing) {
  auto result = compile_policy(policy_with_segment_on("wg0"), {}, CompileOptions{fake_interfaces, {}, {}});
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning,
                             "vaultwall.virtualNetworks[0].segment.interface",
                             "no interface named wg0"));
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning,
                             "vaultwall.virtualNetworks[0].segment.interface", "matches nothing"));
  EXPECT_EQ(result.diagnostics.size(), 1u) << describe(result.diagnostics);
  EXPECT_TRUE(result.value->image.segments.empty());
  EXPECT_FALSE(result.value->image.settings.flags & VW_SETTINGS_HAS_SEGMENTS);
}

TEST(Compile, UnknownInterfaceIsAnErrorWhenStrict) {
  CompileOptions options{fake_interfaces, {}, {}};
  options.strict_interfaces = true;
  auto result = compile_policy(policy_with_segment_on("wg0"), {}, options);
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kError,
                             "vaultwall.virtualNetworks[0].segment.interface",
                             "no interface named wg0"));
}

TEST(Compile, UnresolvedInterfaceTextNamesWhatTheResolverKnows) {
  CompileOptions options{fake_interfaces, {}, {}};
  options.unresolved_interface_text = [](const std::string& name, const std::string& vnet) {
    return name + " is not attached (virtual network " + vnet + ")";
  };
  auto result = compile_policy(policy_with_segment_on("wg0"), {}, options);
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning,
                             "vaultwall.virtualNetworks[0].segment.interface",
                             "wg0 is not attached (virtual network /subscriptions/0/"));
}

// ---- stable ids ----

TEST(StableIds, SurviveReorderAndReapply) {
  CompiledPolicy first = compile(must_load(policy_text(
      R"([{"value": "203.0.113.0/24"}, {"value": "198.51.100.7"}, {"value": "192.0.2.0/25"}])")));
  CompileOptions options{fake_interfaces, rule_ids_from_info(first.rule_info),
                         service_ids_from_info(first.service_info)};
  CompiledPolicy reordered = compile(
      must_load(policy_text(
          R"([{"value": "192.0.2.0/25"}, {"value": "203.0.113.0/24"}, {"value": "198.51.100.7"}])")),
      options);
  EXPECT_EQ(reordered.rule_ids, first.rule_ids);
  EXPECT_TRUE(reordered.freed_rule_ids.empty());
  EXPECT_EQ(reordered.digest_hex, first.digest_hex);  // same meaning, same digest
}

TEST(StableIds, RemovedIdsAreFreedAndNotReusedInTheSameApply) {
  CompiledPolicy first = compile(must_load(policy_text(
      R"([{"value": "203.0.113.0/24"}, {"value": "198.51.100.7"}, {"value": "192.0.2.0/25"}])")));
  ASSERT_EQ(first.rule_ids.at("198.51.100.7"), 2u);
  CompileOptions options{fake_interfaces, first.rule_ids, {}};
  CompiledPolicy second = compile(
      must_load(policy_text(
          R"([{"value": "203.0.113.0/24"}, {"value": "192.0.2.0/25"}, {"value": "198.51.100.8"}])")),
      options);
  EXPECT_EQ(second.freed_rule_ids, std::vector<uint32_t>{2});
  EXPECT_EQ(second.rule_ids.at("203.0.113.0/24"), first.rule_ids.at("203.0.113.0/24"));
  EXPECT_EQ(second.rule_ids.at("192.0.2.0/25"), first.rule_ids.at("192.0.2.0/25"));
  // The new rule does not inherit id 2's counters: it gets the next free id.
  EXPECT_EQ(second.rule_ids.at("198.51.100.8"), 5u);
  EXPECT_NE(second.digest_hex, first.digest_hex);

  // Next apply (id 2 zeroed and gone from vw_rule_info): the lowest free id is 2 again.
  CompileOptions third_options{fake_interfaces, rule_ids_from_info(second.rule_info), {}};
  CompiledPolicy third = compile(
      must_load(policy_text(
          R"([{"value": "203.0.113.0/24"}, {"value": "192.0.2.0/25"}, {"value": "198.51.100.8"}, {"value": "198.51.100.9"}])")),
      third_options);
  EXPECT_EQ(third.rule_ids.at("198.51.100.9"), 2u);
  EXPECT_TRUE(third.freed_rule_ids.empty());
}

TEST(StableIds, AllocatorKeepsPreviousAndFillsTheLowestFreeId) {
  auto allocation = allocate_ids({"a", "b", "c", "d"}, {{"b", 1}, {"d", 3}, {"gone", 2}}, 100);
  ASSERT_TRUE(allocation);
  EXPECT_EQ(allocation->ids, (IdAssignment{{"a", 4}, {"b", 1}, {"c", 5}, {"d", 3}}));
  EXPECT_EQ(allocation->freed, std::vector<uint32_t>{2});
}

TEST(StableIds, AllocatorReusesFreedIdsOnlyWhenFull) {
  auto allocation = allocate_ids({"a", "new"}, {{"a", 1}, {"gone", 2}}, 2);
  ASSERT_TRUE(allocation);
  EXPECT_EQ(allocation->ids.at("new"), 2u);
  EXPECT_FALSE(allocate_ids({"a", "b", "c"}, {}, 2).has_value());
}

TEST(StableIds, LongSubnetIdsAreAbbreviatedInRuleInfoAndStillMatch) {
  // Azure allows 90-character group, 64-character vnet and 80-character
  // subnet names: ids can outgrow vw_rule_info.text.
  std::string id = "/subscriptions/6f1c2a55-3c1e-4b8e-9d0a-0f5d8a6e7b21/resourcegroups/" +
                   std::string(90, 'g') + "/providers/microsoft.network/virtualnetworks/" +
                   std::string(64, 'v') + "/subnets/" + std::string(80, 's');
  ASSERT_GT(id.size(), VW_RULE_TEXT_LEN - 1u);
  std::string text = rule_info_text(id);
  EXPECT_EQ(text.size(), VW_RULE_TEXT_LEN - 1u);
  EXPECT_EQ(text[0], '~');
  EXPECT_TRUE(text.ends_with("/subnets/" + std::string(80, 's')));
  EXPECT_EQ(rule_info_text(text), text);  // idempotent
  auto allocation = allocate_ids({id}, {{text, 7}}, 100);
  ASSERT_TRUE(allocation);
  EXPECT_EQ(allocation->ids.at(id), 7u);
  EXPECT_EQ(rule_info_text("203.0.113.0/24"), "203.0.113.0/24");
}

TEST(StableIds, ServiceIdsAreStableToo) {
  std::string host_a =
      R"({"trustedServices": {"custom": [{"name": "a", "addressPrefixes": ["52.96.0.0/14"]}, {"name": "b", "addressPrefixes": ["52.100.0.0/14"]}]}})";
  std::string host_b =
      R"({"trustedServices": {"custom": [{"name": "b", "addressPrefixes": ["52.100.0.0/14"]}]}})";
  CompiledPolicy first = compile(must_load(wrap("{}", host_a)));
  CompiledPolicy second =
      compile(must_load(wrap("{}", host_b)),
              CompileOptions{fake_interfaces, {}, service_ids_from_info(first.service_info)});
  EXPECT_EQ(second.service_ids.at("b"), first.service_ids.at("b"));
  EXPECT_EQ(second.freed_service_ids, std::vector<uint32_t>{first.service_ids.at("a")});
}

// ---- Service Tags ----

TEST(ServiceTags, RealFileKeepsIpv4AndIpv6) {
  auto file = load_service_tags(service_tags_file());
  ASSERT_TRUE(file) << file.error().message();
  size_t ipv4 = 0, ipv6 = 0, ipv6_published = 0;
  for (const auto& [name, tag] : file->tags) {
    ipv4 += tag.ipv4.size();
    ipv6 += tag.ipv6.size();
    ipv6_published += tag.published6.size();
  }
  EXPECT_EQ(file->tags.size(), 9u);
  // data/service-tags/README.md: 4,028 IPv4 of 5,531
  EXPECT_EQ(ipv6_published, 5531u - 4028u);
  EXPECT_LE(ipv6, ipv6_published);  // duplicates within a tag are kept once
  EXPECT_GT(ipv6, 1400u);
  EXPECT_LE(ipv4, 4028u);          // duplicates within a tag are kept once
  EXPECT_GT(ipv4, 3900u);
  EXPECT_NE(file->find("azurebackup"), nullptr);  // tag names match in any case
}

TEST(ServiceTags, PipelineOnTheRealDocumentCreditsEachPrefixToOneService) {
  Pipeline result = run_pipeline_file(data_dir() / "good/az-keyvault-show.json");
  ASSERT_TRUE(result.compiled) << describe(result.diagnostics);
  // The IPv6 prefixes are enforced: nothing warns about them.
  for (const Diagnostic& d : result.diagnostics)
    EXPECT_EQ(d.message.find("IPv6"), std::string::npos) << describe(result.diagnostics);
  const CompiledPolicy& out = *result.compiled;
  ASSERT_EQ(out.services.size(), 4u);
  EXPECT_EQ(out.service_ids.at("AzureBackup"), 1u);
  EXPECT_EQ(out.service_ids.at("Storage"), 4u);
  EXPECT_GT(out.image.trusted.size(), 1000u);
  EXPECT_GT(out.image.trusted6.size(), 800u);
  EXPECT_EQ(out.image.info.trusted_prefixes, out.image.trusted.size() + out.image.trusted6.size());
  std::set<std::string> keys6;
  for (const auto& [key, value] : out.image.trusted6) {
    EXPECT_LE(key.prefixlen, 128u);
    EXPECT_TRUE(keys6.insert(std::string(reinterpret_cast<const char*>(&key), sizeof(key))).second)
        << "duplicate IPv6 trusted key";
    EXPECT_GE(value.service_id, 1u);
    EXPECT_LE(value.service_id, 4u);
  }
  std::set<std::pair<uint32_t, uint32_t>> keys;
  for (const auto& [key, value] : out.image.trusted) {
    EXPECT_TRUE(keys.emplace(key.prefixlen, ipv4_from_bytes(key.addr)).second)
        << "duplicate trusted key";
    EXPECT_GE(value.service_id, 1u);
    EXPECT_LE(value.service_id, 4u);
  }
}

TEST(ServiceTags, UnknownTagIsAnError) {
  Policy policy = must_load(wrap(
      "{}", R"({"trustedServices": {"serviceTags": "/x.json", "services": ["Storage", "Nope"]}})"));
  auto file = load_service_tags(service_tags_file());
  ASSERT_TRUE(file);
  auto trusted = resolve_trusted_services(policy, &*file);
  EXPECT_FALSE(trusted.ok());
  EXPECT_TRUE(has_diagnostic(trusted.diagnostics, Severity::kError,
                             "vaultwall.trustedServices.services[1]", "Nope is not a service tag"));
}

TEST(ServiceTags, BypassNoneTrustsNothing) {
  Policy policy = must_load(
      wrap(R"({"bypass": "None"})",
           R"({"trustedServices": {"serviceTags": "/missing.json", "services": ["Storage"]}})"));
  auto trusted = resolve_trusted_services(policy);
  ASSERT_TRUE(trusted.ok()) << describe(trusted.diagnostics);
  EXPECT_TRUE(trusted.value->services.empty());
}

// A Service Tags file is data from outside, refreshed weekly: a trusted
// tag's prefixes are refused as a custom entry's would be, at their place in
// the file, and the policy is not applied.
Checked<TrustedSet> trust_tag_of(std::string_view file_text, std::string_view tag = "Evil") {
  Policy policy = must_load(wrap("{}", R"({"trustedServices": {"serviceTags": "tags.json",
      "services": [")" + std::string(tag) + R"("]}})"));
  auto file = parse_service_tags(file_text);
  EXPECT_TRUE(file) << (file ? "" : file.error().message());
  return resolve_trusted_services(policy, file ? &*file : nullptr);
}

TEST(ServiceTags, TrustedTagCoveringEverythingIsRefusedAtItsPlaceInTheFile) {
  auto trusted = trust_tag_of(
      R"({"values": [{"name": "Fine", "properties": {"addressPrefixes": ["52.96.0.0/14"]}},
      {"name": "Evil", "properties": {"addressPrefixes": ["2603:1000::/24", "52.96.0.0/14", "0.0.0.0/0"]}}]})");
  EXPECT_FALSE(trusted.ok());
  EXPECT_TRUE(has_diagnostic(
      trusted.diagnostics, Severity::kError, "tags.json:values[1].properties.addressPrefixes[2]",
      "0.0.0.0/0 of service tag Evil is broader than /8 (it covers every IPv4 address)"))
      << describe(trusted.diagnostics);
}

// An IPv6 prefix of a tag has the same bound as a custom entry's: a damaged
// or hand-edited file cannot trust most of the internet.
TEST(ServiceTags, TrustedTagCoveringMostOfIpv6IsRefusedAtItsPlaceInTheFile) {
  auto trusted = trust_tag_of(
      R"({"values": [{"name": "Evil", "properties": {"addressPrefixes": ["52.96.0.0/14", "2000::/3"]}}]})");
  EXPECT_FALSE(trusted.ok());
  EXPECT_TRUE(has_diagnostic(trusted.diagnostics, Severity::kError,
                             "tags.json:values[0].properties.addressPrefixes[1]",
                             "2000::/3 of service tag Evil is broader than /20"))
      << describe(trusted.diagnostics);
}

TEST(ServiceTags, TrustedTagWithNonPublicRangesIsRefused) {
  for (const char* prefix : {"10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10",
                             "224.0.0.0/8", "240.0.0.0/8"}) {
    auto trusted =
        trust_tag_of(R"({"values": [{"name": "Evil", "properties": {"addressPrefixes": [")" +
                     std::string(prefix) + R"("]}}]})");
    EXPECT_FALSE(trusted.ok()) << prefix;
    EXPECT_TRUE(has_diagnostic(trusted.diagnostics, Severity::kError,
                               "tags.json:values[0].properties.addressPrefixes[0]",
                               "a trusted service's prefixes must be public addresses"))
        << prefix << "\n"
        << describe(trusted.diagnostics);
  }
}

TEST(ServiceTags, TrustedTagWithHostBitsIsRefused) {
  auto trusted = trust_tag_of(
      R"({"values": [{"name": "Evil", "properties": {"addressPrefixes": ["52.96.0.1/14"]}}]})");
  EXPECT_FALSE(trusted.ok());
  EXPECT_TRUE(has_diagnostic(trusted.diagnostics, Severity::kError,
                             "tags.json:values[0].properties.addressPrefixes[0]",
                             "has host bits set (the network would be 52.96.0.0/14)"))
      << describe(trusted.diagnostics);
}

TEST(ServiceTags, TrustedTagNamedTwiceIsAmbiguous) {
  auto trusted = trust_tag_of(R"({"values": [
      {"name": "Storage", "properties": {"addressPrefixes": ["52.96.0.0/14"]}},
      {"name": "storage", "properties": {"addressPrefixes": ["8.0.0.0/8"]}}]})",
                              "Storage");
  EXPECT_FALSE(trusted.ok());
  EXPECT_TRUE(has_diagnostic(trusted.diagnostics, Severity::kError, "tags.json:values[1].name",
                             "service tag Storage is named 2 times (values 0, 1"))
      << describe(trusted.diagnostics);
}

TEST(ServiceTags, BadPrefixesOfTagsNotTrustedDoNotMatter) {
  auto trusted = trust_tag_of(
      R"({"values": [{"name": "Evil", "properties": {"addressPrefixes": ["52.96.0.0/14"]}},
      {"name": "Other", "properties": {"addressPrefixes": ["0.0.0.0/0"]}},
      {"name": "other", "properties": {"addressPrefixes": ["10.0.0.0/8"]}}]})");
  EXPECT_TRUE(trusted.ok()) << describe(trusted.diagnostics);
}

TEST(ServiceTags, RealFileHasNoPrefixTheChecksRefuse) {
  auto file = load_service_tags(service_tags_file());
  ASSERT_TRUE(file);
  for (const auto& [name, tag] : file->tags)
    for (const PublishedPrefix& published : tag.published)
      EXPECT_FALSE(untrustable_prefix_reason(published.prefix))
          << name << " " << published.prefix.cidr();
}

TEST(ServiceTags, MalformedFileIsEinval) {
  auto parsed = parse_service_tags(R"({"values": 5})");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, EINVAL);
}

TEST(Digest, ChangesWithTheTrustedPrefixes) {
  Policy policy = must_load("{}");
  TrustedSet empty, one;
  one.services.push_back({"x", {*parse_ipv4_prefix("52.96.0.0/14")}, {}, true});
  TrustedSet with_ipv6 = one;
  with_ipv6.services[0].ipv6.push_back(*parse_ipv6_prefix("2603:1000::/40"));
  EXPECT_NE(policy_digest_hex(policy, empty), policy_digest_hex(policy, one));
  EXPECT_NE(policy_digest_hex(policy, one), policy_digest_hex(policy, with_ipv6));
  EXPECT_EQ(policy_digest_hex(policy, one).size(), 64u);
}

}  // namespace
}  // namespace vaultwall::test
