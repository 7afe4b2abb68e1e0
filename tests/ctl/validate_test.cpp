// Validation rules that are not simply "refused": profiles, duplicates and
// overlaps (warnings), limit overrides, inactive VNET rules.
#include <gtest/gtest.h>

#include <cstring>

#include "test_support.h"
#include "vaultwall_abi.h"

namespace vaultwall::test {
namespace {

std::string ip_rules(std::initializer_list<const char*> values, std::string_view profile = "") {
  std::string acls = R"({"defaultAction": "Deny", "ipRules": [)";
  bool first = true;
  for (const char* value : values) {
    acls += std::string(first ? "" : ", ") + "{\"value\": \"" + value + "\"}";
    first = false;
  }
  acls += "]}";
  return wrap(acls, profile.empty() ? "" : "{\"profile\": \"" + std::string(profile) + "\"}");
}

TEST(Profiles, LimitsPerProfile) {
  EXPECT_EQ(profile_limits(Profile::kAkv2018), (ProfileLimits{127, 127, true}));
  EXPECT_EQ(profile_limits(Profile::kAkvCurrent), (ProfileLimits{1000, 200, false}));
  EXPECT_EQ(profile_limits(Profile::kDualstack), (ProfileLimits{1000, 200, false, true}));
}

TEST(Profiles, AkvCurrentIsTheDefault) {
  Policy policy = must_load(ip_rules({"203.0.113.7"}));
  EXPECT_EQ(policy.host.profile, Profile::kAkvCurrent);
  EXPECT_EQ(policy.limits().max_ip_rules, 1000u);
  EXPECT_EQ(policy.limits().max_vnet_rules, 200u);
}

TEST(Profiles, Slash32IsTheIndividualAddressRuleInEveryProfile) {
  // Azure answers every GET with "a.b.c.d/32" for a single address.
  for (const char* profile : {"akv-2018", "akv-current"}) {
    Policy policy = must_load(ip_rules({"203.0.113.7/32"}, profile));
    ASSERT_EQ(policy.ip_rules.size(), 1u) << profile;
    EXPECT_EQ(policy.ip_rules[0].canonical(), "203.0.113.7") << profile;
    auto same = load_policy(ip_rules({"203.0.113.7/32", "203.0.113.7"}, profile));
    EXPECT_TRUE(has_diagnostic(same.diagnostics, Severity::kWarning,
                               "networkAcls.ipRules[1].value", "is the same rule as"))
        << profile << "\n" << describe(same.diagnostics);
  }
}

TEST(Profiles, Slash31IsRefusedUnderAkv2018Only) {
  auto errors = errors_of(ip_rules({"203.0.113.6/31"}, "akv-2018"));
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "networkAcls.ipRules[0].value",
                             "203.0.113.6/31: /31 ranges are not supported by profile akv-2018; "
                             "configure individual IP address rules instead (203.0.113.6 and "
                             "203.0.113.7)"))
      << describe(errors);
  EXPECT_EQ(must_load(ip_rules({"203.0.113.6/31"}, "akv-current")).ip_rules.size(), 1u);
}

TEST(Profiles, AkvCurrentTreatsSlash32AsTheBareAddress) {
  auto result = load_policy(ip_rules({"203.0.113.7/32", "203.0.113.7"}, "akv-current"));
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  ASSERT_EQ(result.value->ip_rules.size(), 1u);
  EXPECT_EQ(result.value->ip_rules[0].canonical(), "203.0.113.7");
  EXPECT_TRUE(has_diagnostic(
      result.diagnostics, Severity::kWarning, "networkAcls.ipRules[1].value",
      "203.0.113.7 is the same rule as networkAcls.ipRules[0].value (203.0.113.7); kept once"))
      << describe(result.diagnostics);
}

TEST(Profiles, AkvCurrentAcceptsSlash31) {
  Policy policy = must_load(ip_rules({"203.0.113.6/31"}, "akv-current"));
  EXPECT_EQ(policy.ip_rules[0].canonical(), "203.0.113.6/31");
}

TEST(Profiles, CommandLineProfileWinsOverTheDocument) {
  ValidateOptions options;
  options.profile = Profile::kAkvCurrent;
  Policy policy = must_load(ip_rules({"203.0.113.6/31"}, "akv-2018"), options);
  EXPECT_EQ(policy.host.profile, Profile::kAkvCurrent);
}

std::string many_ip_rules(size_t count, std::string_view host = "") {
  std::string acls = R"({"defaultAction": "Deny", "ipRules": [)";
  for (size_t i = 0; i < count; ++i)
    acls += std::string(i ? ", " : "") + "{\"value\": \"20." + std::to_string(i / 256) + "." +
            std::to_string(i % 256) + ".1\"}";
  return wrap(acls + "]}", host);
}

TEST(Limits, ExactlyAtTheLimitIsAccepted) {
  EXPECT_EQ(must_load(many_ip_rules(127, R"({"profile": "akv-2018"})")).ip_rules.size(), 127u);
  EXPECT_EQ(must_load(many_ip_rules(1000, R"({"profile": "akv-current"})")).ip_rules.size(), 1000u);
  auto errors = errors_of(many_ip_rules(1001, R"({"profile": "akv-current"})"));
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "networkAcls.ipRules",
                             "1001 IP rules exceed the limit of 1000 of profile akv-current"));
}

TEST(Limits, DocumentOverrideRaisesTheLimit) {
  Policy policy = must_load(
      many_ip_rules(300, R"({"profile": "akv-2018", "limits": {"maxIpRules": 300}})"));
  EXPECT_EQ(policy.limits().max_ip_rules, 300u);
  EXPECT_EQ(policy.limits().max_vnet_rules, 127u);
}

TEST(Limits, CommandLineOverrideWins) {
  ValidateOptions options;
  options.max_ip_rules = 200;
  EXPECT_EQ(
      must_load(many_ip_rules(150, R"({"limits": {"maxIpRules": 100}})"), options).ip_rules.size(),
      150u);
  options.max_ip_rules = 20000;
  auto errors = errors_of("{}", options);
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "",
                             "limit of 20000 IP rules is out of range 1-16383"));
}

TEST(Limits, DuplicatesDoNotCountTwice) {
  std::string doc = many_ip_rules(127);
  doc.insert(doc.find("]}"), R"(, {"value": "20.0.0.1"})");
  EXPECT_EQ(must_load(doc).ip_rules.size(), 127u);
}

TEST(Duplicates, ExactDuplicateIsAWarningAndKeptOnce) {
  auto result = load_policy(ip_rules({"203.0.113.0/24", "198.51.100.7", "203.0.113.0/24"}));
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_EQ(result.value->ip_rules.size(), 2u);
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning, "networkAcls.ipRules[2].value",
                             "203.0.113.0/24 is the same rule as networkAcls.ipRules[0].value"));
}

TEST(Duplicates, SubnetIdsCompareCaseInsensitively) {
  const char* host =
      R"({"virtualNetworks": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
                          "segment": {"vlan": 9}, "subnets": [{"name": "s", "addressPrefix": "10.9.0.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]}]})";
  auto result = load_policy(wrap(R"({"defaultAction": "Deny", "virtualNetworkRules": [
      {"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"},
      {"id": "/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/VIRTUALNETWORKS/V/SUBNETS/S"}]})",
                                 host));
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_EQ(result.value->vnet_rules.size(), 1u);
  EXPECT_TRUE(has_diagnostic(
      result.diagnostics, Severity::kWarning, "networkAcls.virtualNetworkRules[1].id",
      "is the same rule as networkAcls.virtualNetworkRules[0].id (subnet ids compare case-insensitively); kept once"));
}

TEST(Overlaps, WarningNamesBothRulesAndKeepsBoth) {
  auto result = load_policy(ip_rules({"203.0.113.0/24", "198.51.100.7", "203.0.113.128/25"}));
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_EQ(result.value->ip_rules.size(), 3u);
  EXPECT_TRUE(has_diagnostic(
      result.diagnostics, Severity::kWarning, "networkAcls.ipRules[2].value",
      "203.0.113.128/25 overlaps 203.0.113.0/24 (networkAcls.ipRules[0].value); both kept, the longer prefix is credited"))
      << describe(result.diagnostics);
}

TEST(Overlaps, NestedChainsReportTheNearestEnclosingRule) {
  auto result = load_policy(ip_rules({"198.51.100.7", "198.51.100.0/24", "198.51.0.0/16"}));
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning, "networkAcls.ipRules[1].value",
                             "overlaps 198.51.0.0/16"));
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning, "networkAcls.ipRules[0].value",
                             "overlaps 198.51.100.0/24"));
}

TEST(Overlaps, DisjointNeighboursAreNotOverlaps) {
  auto result = load_policy(ip_rules({"203.0.113.0/25", "203.0.113.128/25"}));
  ASSERT_TRUE(result.ok());
  for (const Diagnostic& d : result.warnings())
    EXPECT_EQ(d.message.find("overlaps"), std::string::npos) << describe(result.diagnostics);
}

TEST(Warnings, RulesUnderDefaultAllowOnlyCredit) {
  auto result = load_policy(wrap(R"({"ipRules": [{"value": "203.0.113.0/24"}]})"));
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning, "networkAcls.defaultAction",
                             "defaultAction is Allow"));
}

TEST(Warnings, TrustedServicesUnderBypassNone) {
  auto result = load_policy(wrap(
      R"({"bypass": "None"})",
      R"({"trustedServices": {"custom": [{"name": "x", "addressPrefixes": ["52.96.0.0/14"]}]}})"));
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning, "vaultwall.trustedServices",
                             "bypass is None"));
}

const char* kVnetHost(const char* endpoints) {
  static std::string text;
  text =
      std::string(
          R"({"virtualNetworks": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
      "segment": {"interface": "eth1"}, "subnets": [{"name": "s", "addressPrefix": "10.9.0.0/24", "serviceEndpoints": )") +
      endpoints + "}]}]}";
  return text.c_str();
}

TEST(ServiceEndpoints, IgnoreMissingKeepsTheRuleInactiveWithAWarning) {
  auto result = load_policy(wrap(R"({"defaultAction": "Deny", "virtualNetworkRules": [
      {"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s", "ignoreMissingVnetServiceEndpoint": true}]})",
                                 kVnetHost("[]")));
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  ASSERT_EQ(result.value->vnet_rules.size(), 1u);
  EXPECT_FALSE(result.value->vnet_rules[0].active);
  EXPECT_TRUE(has_diagnostic(
      result.diagnostics, Severity::kWarning, "networkAcls.virtualNetworkRules[0].id",
      "1 virtual network rule(s) kept but inactive (ignoreMissingVnetServiceEndpoint): their subnets have no Microsoft.KeyVault service endpoint"))
      << describe(result.diagnostics);
}

TEST(ServiceEndpoints, RuleBecomesActiveWhenTheEndpointAppears) {
  Policy policy = must_load(wrap(R"({"defaultAction": "Deny", "virtualNetworkRules": [
      {"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s", "ignoreMissingVnetServiceEndpoint": true}]})",
                                 kVnetHost(R"(["Microsoft.KeyVault"])")));
  EXPECT_TRUE(policy.vnet_rules[0].active);
}

TEST(Tunnels, DeclaredOnceByNameOrPortInAnyCase) {
  auto result =
      load_policy(wrap("{}", R"({"dataPlane": {"tunnels": ["VXLAN", "udp/4789", "ip/50"]}})"));
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_EQ(result.value->host.tunnels, (std::vector<std::string>{"vxlan", "esp"}));
  EXPECT_TRUE(has_diagnostic(
      result.diagnostics, Severity::kWarning, "vaultwall.dataPlane.tunnels[1]",
      "\"udp/4789\" is already declared at vaultwall.dataPlane.tunnels[0]; kept once"))
      << describe(result.diagnostics);
}

TEST(Tunnels, EveryKindHasItsBitInOrder) {
  uint32_t all = 0;
  for (size_t i = 0; i < tunnel_kinds().size(); ++i) {
    const TunnelKind& tunnel = tunnel_kinds()[i];
    EXPECT_EQ(tunnel.bit, 1u << i) << tunnel.name;
    EXPECT_EQ(find_tunnel(tunnel.name), &tunnel);
    EXPECT_EQ(find_tunnel(tunnel.proto, tunnel.port), &tunnel);
    EXPECT_EQ(tunnel.port != 0, (tunnel.bit & VW_TUNNELS_UDP) != 0) << tunnel.name;
    all |= tunnel.bit;
  }
  EXPECT_EQ(all, uint32_t{VW_TUNNELS_ALL});
  EXPECT_EQ(find_tunnel(17, 53), nullptr);
  EXPECT_EQ(find_tunnel(6, 4789), nullptr);
}

TEST(PrivateEndpoints, WithoutAnyVirtualNetworkTheyGetTheNormalDecision) {
  auto result = load_policy(wrap("{}", R"({"privateEndpoints": ["10.20.0.5"]})"));
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning, "vaultwall.privateEndpoints",
                             "no virtual network is described, so no packet can come from one"))
      << describe(result.diagnostics);
}

TEST(ForbiddenRanges, PublicDocumentationRangesAreAllowed) {
  for (const char* text : {"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "8.8.8.8",
                           "100.63.255.255", "100.128.0.0/9", "172.32.0.0/11", "11.0.0.0/8"})
    EXPECT_FALSE(forbidden_range_reason(*parse_ipv4_prefix(text)).has_value()) << text;
}

TEST(ForbiddenRanges, AzureTextForPrivateRanges) {
  EXPECT_EQ(forbidden_range_reason(*parse_ipv4_prefix("10.0.0.0/8")),
            "belongs to forbidden range 10.0.0.0-10.255.255.255 (private IP addresses)");
}

}  // namespace
}  // namespace vaultwall::test

namespace vaultwall::test {
namespace {

// A custom trusted service (a vaultwall entry) may list IPv6 prefixes; each
// range no internet source comes from is refused at its path, by name.
std::string custom_trusted(const std::string& prefix) {
  return wrap(R"({"defaultAction": "Deny", "bypass": "AzureServices"})",
              R"({"trustedServices": {"custom": [{"name": "svc", "addressPrefixes": [")" + prefix +
                  R"("]}]}})");
}

TEST(TrustedIpv6, GlobalPrefixIsAccepted) {
  Policy policy = must_load(custom_trusted("2603:1000::/40"));
  ASSERT_EQ(policy.host.trusted.custom.size(), 1u);
  ASSERT_EQ(policy.host.trusted.custom[0].prefixes6.size(), 1u);
  EXPECT_EQ(policy.host.trusted.custom[0].prefixes6[0].cidr(), "2603:1000::/40");
}

TEST(TrustedIpv6, EveryNonGlobalRangeIsRefusedByName) {
  const std::pair<const char*, const char*> cases[] = {
      {"fd12:3456::/32", "belongs to unique local (fc00::/7)"},
      {"fe80::/64", "belongs to link-local (fe80::/10)"},
      {"::1", "belongs to loopback (::1/128)"},
      {"::", "belongs to the unspecified address (::/128)"},
      {"ff02::/32", "belongs to multicast (ff00::/8)"},
      {"::ffff:203.0.113.0/120", "belongs to IPv4-mapped (::ffff:0:0/96"},
      {"64:ff9b::/96", "belongs to NAT64 (64:ff9b::/96"},
      {"4000::/20", "is outside global unicast (2000::/3)"},
  };
  for (const auto& [prefix, reason] : cases) {
    auto errors = errors_of(custom_trusted(prefix));
    EXPECT_TRUE(has_diagnostic(errors, Severity::kError,
                               "vaultwall.trustedServices.custom[0].addressPrefixes[0]", reason))
        << prefix << ": " << describe(errors);
  }
}

TEST(TrustedIpv6, HostBitsBroadRangesAndBadSyntaxAreRefused) {
  const std::string path = "vaultwall.trustedServices.custom[0].addressPrefixes[0]";
  auto host_bits = errors_of(custom_trusted("2603:1000::1/40"));
  EXPECT_TRUE(has_diagnostic(host_bits, Severity::kError, path,
                             "has host bits set; the network is 2603:1000::/40"))
      << describe(host_bits);
  auto broad = errors_of(custom_trusted("2000::/3"));
  EXPECT_TRUE(has_diagnostic(broad, Severity::kError, path, "is broader than /20"))
      << describe(broad);
  auto syntax = errors_of(custom_trusted("2603:1000::g/40"));
  EXPECT_TRUE(has_diagnostic(syntax, Severity::kError, path, "is not a valid IPv6 address"))
      << describe(syntax);
}

}  // namespace
}  // namespace vaultwall::test

namespace vaultwall::test {
namespace {

// Profile dualstack (a vaultwall extension): IPv6 ipRules, validated at
// their path with the checker trusted IPv6 prefixes use.
std::string ipv6_rules(std::initializer_list<const char*> values,
                       std::string_view profile = "dualstack") {
  return ip_rules(values, profile);
}

TEST(DualstackIpRules, GlobalPrefixesAndAddressesAreAccepted) {
  Policy policy = must_load(ipv6_rules({"2603:1000::/40", "2603:1000:0:1::7/128", "203.0.113.7"}));
  EXPECT_EQ(policy.host.profile, Profile::kDualstack);
  ASSERT_EQ(policy.ip_rules.size(), 3u);
  ASSERT_TRUE(policy.ip_rules[0].ipv6());
  EXPECT_EQ(policy.ip_rules[0].canonical(), "2603:1000::/40");
  EXPECT_EQ(policy.ip_rules[1].canonical(), "2603:1000:0:1::7");  // a /128 is the address
  ASSERT_TRUE(policy.ip_rules[2].ipv4());                         // IPv4 unchanged
  EXPECT_EQ(policy.limits().max_ip_rules, 1000u);                  // akv-current's limits
}

TEST(DualstackIpRules, DocumentationRangeIsAcceptedAsIpv4TestNetIs) {
  EXPECT_EQ(must_load(ip_rules({"192.0.2.0/24"})).ip_rules.size(), 1u);
  EXPECT_EQ(must_load(ipv6_rules({"2001:db8::/32"})).ip_rules.size(), 1u);
}

TEST(DualstackIpRules, EveryNonGlobalRangeIsRefusedAtItsPath) {
  const std::pair<const char*, const char*> cases[] = {
      {"fd12:3456::/32", "fd12:3456::/32 belongs to unique local (fc00::/7); only public addresses are allowed in IP rules"},
      {"fc00::/7", "belongs to unique local (fc00::/7)"},
      {"fe80::/64", "belongs to link-local (fe80::/10)"},
      {"::1", "belongs to loopback (::1/128)"},
      {"::", "belongs to the unspecified address (::/128)"},
      {"ff02::1", "belongs to multicast (ff00::/8)"},
      {"::ffff:203.0.113.0/120", "belongs to IPv4-mapped (::ffff:0:0/96; write the IPv4 address"},
      {"::/0", "contains the unspecified address (::/128)"},
      {"64:ff9b::a00:0/104", "belongs to NAT64 (64:ff9b::/96; write the IPv4 address"},
      {"64:ff9b:1::/48", "belongs to local-use NAT64 (64:ff9b:1::/48)"},
      {"100::/64", "belongs to discard-only (100::/64)"},
      {"fec0::/10", "belongs to deprecated site-local (fec0::/10)"},
      {"4000::/2", "4000::/2 is outside global unicast (2000::/3); only public addresses"},
      {"c000::/3", "is outside global unicast (2000::/3)"},
  };
  for (const auto& [prefix, reason] : cases) {
    auto errors = errors_of(ipv6_rules({"203.0.113.7", prefix}));
    EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "networkAcls.ipRules[1].value", reason))
        << prefix << ": " << describe(errors);
  }
}

TEST(DualstackIpRules, HostBitsAndBadSyntaxAreRefusedAtTheirPath) {
  auto host_bits = errors_of(ipv6_rules({"2603:1000::1/40"}));
  EXPECT_TRUE(has_diagnostic(host_bits, Severity::kError, "networkAcls.ipRules[0].value",
                             "2603:1000::1/40 has host bits set; the network is 2603:1000::/40"))
      << describe(host_bits);
  for (const char* bad : {"2603:1000::g/40", "2603:1000::/129", "2603:1000::/040", "2603::1::2"}) {
    auto syntax = errors_of(ipv6_rules({bad}));
    EXPECT_TRUE(has_diagnostic(syntax, Severity::kError, "networkAcls.ipRules[0].value",
                               "is not a valid IPv6 address or prefix"))
        << bad << ": " << describe(syntax);
  }
}

TEST(DualstackIpRules, AzureProfilesRefuseIpv6AsAzureDoes) {
  for (const char* profile : {"akv-current", "akv-2018"}) {
    auto errors = errors_of(ipv6_rules({"2001:db8::/32"}, profile));
    ASSERT_EQ(errors.size(), 1u) << profile << ": " << describe(errors);
    EXPECT_EQ(errors[0].path, "networkAcls.ipRules[0].value");
    EXPECT_EQ(errors[0].message, "2001:db8::/32: only IPv4 addresses are supported") << profile;
  }
  ValidateOptions options;  // --profile dualstack over the document's
  options.profile = Profile::kDualstack;
  EXPECT_EQ(must_load(ipv6_rules({"2001:db8::/32"}, "akv-current"), options).ip_rules.size(), 1u);
}

TEST(DualstackIpRules, CountInTheIpRuleLimit) {
  std::string doc = wrap(
      R"({"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.7"}, {"value": "2603:1000::/40"}, {"value": "2603:1001::/40"}]})",
      R"({"profile": "dualstack", "limits": {"maxIpRules": 2}})");
  auto errors = errors_of(doc);
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "networkAcls.ipRules",
                             "3 IP rules exceed the limit of 2 in force"))
      << describe(errors);
}

TEST(DualstackIpRules, DuplicatesAndOverlapsWarnAsForIpv4) {
  auto result = load_policy(ipv6_rules({"2603:1000::7", "2603:1000:0::7/128", "2603:1000::/40"}));
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_EQ(result.value->ip_rules.size(), 2u);
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning,
                             "networkAcls.ipRules[1].value",
                             "is the same rule as networkAcls.ipRules[0].value (2603:1000::7)"))
      << describe(result.diagnostics);
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kWarning,
                             "networkAcls.ipRules[0].value",
                             "2603:1000::7 overlaps 2603:1000::/40 (networkAcls.ipRules[2].value)"))
      << describe(result.diagnostics);
}

}  // namespace
}  // namespace vaultwall::test

namespace vaultwall::test {
namespace {

// IPv6 data-plane addresses and private endpoints (host facts): unicast
// addresses, in vw_endpoints6_N.
std::string endpoints6(const std::string& addresses, const std::string& endpoints) {
  return wrap(R"({"defaultAction": "Deny"})",
              R"({"dataPlane": {"addresses": )" + addresses + R"(}, "privateEndpoints": )" +
                  endpoints +
                  R"(, "virtualNetworks": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "segment": {"vlan": 5}, "subnets": [{"name": "s", "addressPrefix": "10.1.0.0/24"}]}]})");
}

TEST(Ipv6Endpoints, AddressesAndPrivateEndpointsAreKeptAndCompiled) {
  Policy policy = must_load(endpoints6(
      R"(["192.0.2.10", "2001:db8:10::10"])",
      R"(["fd00:20::6", {"address": "fd00:20::5", "virtualNetwork": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/V"}])"));
  ASSERT_EQ(policy.host.addresses6.size(), 1u);
  EXPECT_EQ(format_ipv6(policy.host.addresses6[0]), "2001:db8:10::10");
  ASSERT_EQ(policy.host.private_endpoints6.size(), 2u);
  EXPECT_EQ(policy.host.private_endpoints6[1].virtual_network,
            "/subscriptions/0/resourcegroups/rg/providers/microsoft.network/virtualnetworks/v");
  std::string shown = to_azure_json(policy, -1);
  EXPECT_NE(shown.find(R"("addresses":["192.0.2.10","2001:db8:10::10"])"), std::string::npos) << shown;
  auto again = load_policy(shown);
  ASSERT_TRUE(again.ok()) << describe(again.diagnostics);
  EXPECT_EQ(*again.value, policy);

  Pipeline out = run_pipeline(policy, TrustedSet{});
  ASSERT_TRUE(out.compiled) << describe(out.diagnostics);
  const SlotImage& image = out.compiled->image;
  ASSERT_EQ(image.endpoints6.size(), 3u);
  EXPECT_EQ(image.endpoints6[0].second.kind, uint32_t{VW_ENDPOINT_PUBLIC});
  EXPECT_EQ(image.endpoints6[1].second.kind, uint32_t{VW_ENDPOINT_PRIVATE});
  EXPECT_EQ(image.endpoints6[1].second.vnet_id, 0u);
  EXPECT_EQ(image.endpoints6[2].second.vnet_id, 1u);
  EXPECT_EQ(std::memcmp(image.endpoints6[2].first.addr, parse_ipv6("fd00:20::5")->data(), 16), 0);
  EXPECT_TRUE(image.settings.flags & VW_SETTINGS_HAS_ENDPOINTS6);
  EXPECT_EQ(image.endpoints.size(), 1u);  // the IPv4 address
}

TEST(Ipv6Endpoints, NonUnicastRangesAndDuplicatesAreRefusedAtTheirPath) {
  const std::pair<const char*, const char*> cases[] = {
      {"ff02::1", "ff02::1 is not a unicast host address (ff00::/8: multicast)"},
      {"::", "(::/128: the unspecified address)"},
      {"::1", "(::1/128: loopback"},
      {"::ffff:192.0.2.10", "write the IPv4 address"},
      {"2001:db8::/64", "is not a single IPv6 address (list addresses, not ranges)"},
  };
  for (const auto& [address, reason] : cases) {
    auto errors = errors_of(endpoints6(std::string("[\"") + address + "\"]", "[]"));
    EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "vaultwall.dataPlane.addresses[0]", reason))
        << address << ": " << describe(errors);
  }
  auto twice = errors_of(endpoints6(R"(["fd00:20::5"])", R"(["fd00:20::5"])"));
  EXPECT_TRUE(has_diagnostic(twice, Severity::kError, "vaultwall.privateEndpoints[0]",
                             "either a data-plane address or a private endpoint"))
      << describe(twice);
}

}  // namespace
}  // namespace vaultwall::test

namespace vaultwall::test {
namespace {

// A perimeter's IPv6 address prefixes are enforced under every profile
// (Azure's access rules take IPv6), checked as IPv6 IP rules are.
std::string perimeter_prefixes(const std::string& prefixes, const char* mode = "Enforced") {
  return wrap(
      R"({"defaultAction": "Deny"})",
      std::string(R"({"perimeter": {"accessMode": ")") + mode +
          R"(", "accessRules": [{"name": "office", "direction": "Inbound", "addressPrefixes": [)" +
          prefixes + "]}]}}");
}

constexpr const char* kPerimeterPrefix0 = "vaultwall.perimeter.accessRules[0].addressPrefixes[0]";

TEST(PerimeterIpv6, GlobalPrefixIsKeptUnderEveryProfileWithoutAWarning) {
  for (const char* profile : {"akv-2018", "akv-current", "dualstack"}) {
    std::string doc = perimeter_prefixes(R"("2603:1000::/40", "203.0.113.0/24")");
    doc.replace(doc.find(R"({"perimeter")"), 1, std::string(R"({"profile": ")") + profile + "\", ");
    auto result = load_policy(doc);
    ASSERT_TRUE(result.ok()) << profile << ": " << describe(result.diagnostics);
    const PerimeterRule& rule = result.value->host.perimeter->inbound.at(0);
    ASSERT_EQ(rule.prefixes6.size(), 1u) << profile;
    EXPECT_EQ(rule.prefixes6[0].cidr(), "2603:1000::/40");
    ASSERT_EQ(rule.prefixes.size(), 1u);
    for (const Diagnostic& d : result.diagnostics)
      EXPECT_EQ(d.message.find("not enforceable"), std::string::npos) << d.message;
  }
}

TEST(PerimeterIpv6, NonGlobalRangesAreRefusedByNameAtTheirPath) {
  const std::pair<const char*, const char*> cases[] = {
      {"fd12:3456::/32", "belongs to unique local (fc00::/7)"},
      {"fe80::/64", "belongs to link-local (fe80::/10)"},
      {"::1", "belongs to loopback (::1/128)"},
      {"ff02::1", "belongs to multicast (ff00::/8)"},
      {"::ffff:203.0.113.0/120", "belongs to IPv4-mapped (::ffff:0:0/96; write the IPv4 address"},
      {"64:ff9b::a00:0/104", "belongs to NAT64 (64:ff9b::/96"},
      {"4000::/2", "is outside global unicast (2000::/3)"},
  };
  for (const auto& [prefix, reason] : cases) {
    auto errors = errors_of(perimeter_prefixes("\"" + std::string(prefix) + "\""));
    EXPECT_TRUE(has_diagnostic(errors, Severity::kError, kPerimeterPrefix0, reason))
        << prefix << ": " << describe(errors);
    EXPECT_TRUE(has_diagnostic(errors, Severity::kError, kPerimeterPrefix0, "a perimeter rule"))
        << prefix << ": " << describe(errors);
  }
}

TEST(PerimeterIpv6, HostBitsAndBadSyntaxAreRefusedAtTheirPath) {
  auto host_bits = errors_of(perimeter_prefixes(R"("2603:1000::1/40")"));
  EXPECT_TRUE(has_diagnostic(host_bits, Severity::kError, kPerimeterPrefix0,
                             "2603:1000::1/40 has host bits set; the network is 2603:1000::/40"))
      << describe(host_bits);
  auto syntax = errors_of(perimeter_prefixes(R"("2603:1000::g/40")"));
  EXPECT_TRUE(has_diagnostic(syntax, Severity::kError, kPerimeterPrefix0,
                             "is not a valid IPv6 address or prefix"))
      << describe(syntax);
}

TEST(PerimeterIpv6, DuplicatesAcrossRulesAreWarnedOnceAndKeptOnce) {
  std::string doc = wrap(R"({"defaultAction": "Deny"})",
                         R"({"perimeter": {"accessMode": "Transition", "accessRules": [
      {"name": "a", "direction": "Inbound", "addressPrefixes": ["2603:1000::/40", "2603:1000:0::/40"]},
      {"name": "b", "direction": "Inbound", "addressPrefixes": ["2603:1000::/40"]}]}})");
  auto result = load_policy(doc);
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  const auto& inbound = result.value->host.perimeter->inbound;
  EXPECT_EQ(inbound.at(0).prefixes6.size(), 1u);
  EXPECT_TRUE(inbound.at(1).prefixes6.empty());
  size_t duplicates = 0;
  for (const Diagnostic& d : result.diagnostics)
    duplicates += d.message.find("is already admitted at") != std::string::npos ? 1 : 0;
  EXPECT_EQ(duplicates, 2u) << describe(result.diagnostics);
  EXPECT_TRUE(has_diagnostic(
      result.diagnostics, Severity::kWarning,
      "vaultwall.perimeter.accessRules[1].addressPrefixes[0]",
      "2603:1000::/40 is already admitted at " + std::string(kPerimeterPrefix0) + "; kept once"))
      << describe(result.diagnostics);
}

TEST(PerimeterIpv6, ARuleWithOnlyIpv6PrefixesTakesARuleId) {
  std::string doc = many_ip_rules(
      VW_MAX_RULES - 1, R"({"limits": {"maxIpRules": )" + std::to_string(VW_MAX_RULES - 1) +
                            R"(}, "perimeter": {"accessMode": "Transition", "accessRules": [
      {"name": "six", "direction": "Inbound", "addressPrefixes": ["2603:1000::/40"]}]}})");
  auto errors = errors_of(doc);
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "networkAcls.ipRules",
                             "rules exceed the datapath's capacity"))
      << describe(errors);
}

}  // namespace
}  // namespace vaultwall::test
