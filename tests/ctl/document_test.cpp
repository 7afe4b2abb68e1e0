// Parsing good documents, normalisation, and the round trip through
// to_azure_json.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace vaultwall::test {
namespace {

constexpr const char* kSubnetId =
    "/subscriptions/6f1c2a55-3c1e-4b8e-9d0a-0f5d8a6e7b21/resourcegroups/rg-network-prod/providers/microsoft.network/virtualnetworks/app-vnet/subnets/web";

TEST(Document, RealAzKeyvaultShowOutputAppliesUnchanged) {
  auto result = load_policy_file(data_dir() / "good/az-keyvault-show.json");
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_TRUE(result.errors().empty());
  const Policy& policy = *result.value;
  EXPECT_EQ(policy.default_action, DefaultAction::kDeny);
  EXPECT_EQ(policy.bypass, Bypass::kAzureServices);
  EXPECT_EQ(policy.public_network_access, PublicNetworkAccess::kEnabled);
  ASSERT_EQ(policy.ip_rules.size(), 2u);
  EXPECT_EQ(policy.ip_rules[0].canonical(), "203.0.113.0/24");
  EXPECT_EQ(policy.ip_rules[1].canonical(), "198.51.100.7");  // "/32" as Azure returns it
  ASSERT_EQ(policy.vnet_rules.size(), 1u);
  EXPECT_EQ(policy.vnet_rules[0].subnet_id, kSubnetId);
  EXPECT_FALSE(policy.vnet_rules[0].ignore_missing_vnet_service_endpoint);  // null in Azure's GET
  EXPECT_TRUE(policy.vnet_rules[0].active);
  EXPECT_EQ(policy.host.profile, Profile::kAkvCurrent);
  ASSERT_EQ(policy.host.virtual_networks.size(), 1u);
  const VirtualNetwork& vnet = policy.host.virtual_networks[0];
  EXPECT_EQ(vnet.segment.interface, "eth1");
  EXPECT_EQ(vnet.segment.vlan, 100);
  // Azure's subnet shape [{"service": ...}] is accepted for serviceEndpoints.
  EXPECT_EQ(vnet.subnets[0].service_endpoints, std::vector<std::string>{"Microsoft.KeyVault"});
  // The relative serviceTags path is resolved against the document's directory.
  EXPECT_EQ(std::filesystem::path(policy.host.trusted.service_tags_path),
            std::filesystem::weakly_canonical(service_tags_file()));
  EXPECT_EQ(policy.host.trusted.services,
            (std::vector<std::string>{"AzureBackup", "AzureResourceManager", "Sql", "Storage"}));
}

TEST(Document, DesignExampleLoadsUnderAkv2018) {
  auto result = load_policy_file(data_dir() / "good/design-example.json");
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_EQ(result.value->host.profile, Profile::kAkv2018);
  EXPECT_EQ(result.value->host.addresses, std::vector<uint32_t>{*parse_ipv4("192.0.2.10")});
  EXPECT_EQ(result.value->host.private_endpoints,
            (std::vector<PrivateEndpoint>{{*parse_ipv4("10.20.0.5"), ""}}));
}

TEST(Document, BareNetworkAclsObject) {
  auto result = load_policy_file(data_dir() / "good/bare-network-acls.json");
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_EQ(result.value->bypass, Bypass::kNone);
  EXPECT_EQ(result.value->ip_rules.size(), 1u);
}

TEST(Document, VaultWithoutFirewallIsAzureDefaultAllowAll) {
  auto result = load_policy_file(data_dir() / "good/no-firewall.json");
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  // The vault's id is kept (the deny log's resourceId); everything else is Azure's default.
  Policy expected;
  expected.resource_id =
      "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-dev";
  EXPECT_EQ(*result.value, expected);
  EXPECT_EQ(result.value->default_action, DefaultAction::kAllow);
  EXPECT_EQ(result.value->host.ports, (std::vector<PortSpec>{PortSpec{6, 443}}));
}

// A typo in the firewall's field of a vault resource would leave the
// firewall off (Azure's default for a vault without networkAcls): refused.
TEST(Document, NearMissesOfTheFirewallFieldsAreRefusedInAVaultResource) {
  auto errors = errors_of(R"({"name": "kv", "properties": {"networkAcl":
      {"defaultAction": "Deny", "ipRules": [{"value": "198.51.100.0/24"}]}}})");
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "properties.networkAcl",
                             "did you mean properties.networkAcls"))
      << describe(errors);
  errors = errors_of(R"({"properties": {"network_acls": {"defaultAction": "Deny"}}})");
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "properties.network_acls", "networkAcls"))
      << describe(errors);
  errors = errors_of(R"({"properties": {"publicAccess": "Disabled"}})");
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "properties.publicAccess",
                             "properties.publicNetworkAccess"))
      << describe(errors);
  errors = errors_of(R"({"publicNetworkAccess": "Disabled", "properties": {}})");
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "publicNetworkAccess", "into properties"))
      << describe(errors);
  // Any case of the right names is Azure's.
  EXPECT_EQ(must_load(R"({"properties": {"NetworkAcls": {"defaultAction": "Deny"}}})").default_action,
            DefaultAction::kDeny);
}

TEST(Document, EmptyObjectIsTheDefaultPolicy) { EXPECT_EQ(must_load("{}"), Policy{}); }

// The stored (normalised) document keeps the vault's id, and the digest ignores it.
TEST(Document, VaultIdSurvivesTheRoundTripButNotTheDigest) {
  Policy policy = must_load(
      R"({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
                               "properties": {"networkAcls": {"defaultAction": "Deny"}}})");
  EXPECT_EQ(policy.resource_id,
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv");
  EXPECT_EQ(must_load(to_azure_json(policy)), policy);
  Policy without_id = policy;
  without_id.resource_id.clear();
  EXPECT_EQ(canonical_serialisation(policy), canonical_serialisation(without_id));
  // A bare networkAcls document has no id to keep.
  EXPECT_EQ(must_load(R"({"networkAcls": {"defaultAction": "Deny"}})").resource_id, "");
}

TEST(Document, EnumValuesAreCaseInsensitiveAndNormalised) {
  Policy policy = must_load(R"({"networkAcls": {"defaultAction": "deny", "bypass": "azureservices"},
                               "publicNetworkAccess": "DISABLED",
                               "vaultwall": {"profile": "AKV-Current", "mode": "Audit"}})");
  EXPECT_EQ(policy.default_action, DefaultAction::kDeny);
  EXPECT_EQ(policy.bypass, Bypass::kAzureServices);
  EXPECT_EQ(policy.public_network_access, PublicNetworkAccess::kDisabled);
  EXPECT_EQ(policy.host.profile, Profile::kAkvCurrent);
  EXPECT_EQ(policy.host.mode, Mode::kAudit);
  EXPECT_EQ(must_load(R"({"networkAcls": {"defaultAction": "DENY"},
                          "vaultwall": {"profile": "AKV-2018"}})")
                .host.profile,
            Profile::kAkv2018);
  auto json = nlohmann::json::parse(to_azure_json(policy));
  EXPECT_EQ(json["properties"]["networkAcls"]["defaultAction"], "Deny");
  EXPECT_EQ(json["properties"]["networkAcls"]["bypass"], "AzureServices");
  EXPECT_EQ(json["properties"]["publicNetworkAccess"], "Disabled");
}

TEST(Document, DenyActionIsDropByDefaultRejectWhenAskedAndNothingElse) {
  EXPECT_EQ(must_load(R"({"networkAcls": {"defaultAction": "Deny"}})").host.deny_action,
            DenyAction::kDrop);
  Policy policy = must_load(
      R"({"networkAcls": {"defaultAction": "Deny"}, "vaultwall": {"denyAction": "Reject"}})");
  EXPECT_EQ(policy.host.deny_action, DenyAction::kReject);
  EXPECT_EQ(nlohmann::json::parse(to_azure_json(policy))["vaultwall"]["denyAction"], "reject");
  auto errors = errors_of(
      R"({"networkAcls": {"defaultAction": "Deny"}, "vaultwall": {"denyAction": "bounce"}})");
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "vaultwall.denyAction",
                             "\"bounce\" is not a valid deny action; expected drop or reject"));
  errors = errors_of(R"({"networkAcls": {"defaultAction": "Deny"}, "vaultwall": {"denyAction": 1}})");
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "vaultwall.denyAction", "string"))
      << describe(errors);
}

TEST(Document, SubnetIdsAreLowerCasedAndPortsNormalised) {
  Policy policy = must_load(wrap(
      R"({"defaultAction": "Deny", "virtualNetworkRules": [{"id": "/subscriptions/0000/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/App-VNet/subnets/Web"}]})",
      R"({"dataPlane": {"ports": ["TCP/443", "udp/8443"]},
          "virtualNetworks": [{"id": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/app-vnet",
                               "segment": {"vlan": 100},
                               "subnets": [{"name": "WEB", "addressPrefixes": ["10.1.0.0/24", "10.2.0.0/24"],
                                            "serviceEndpoints": ["microsoft.keyvault"]}]}]})"));
  ASSERT_EQ(policy.vnet_rules.size(), 1u);
  EXPECT_EQ(
      policy.vnet_rules[0].subnet_id,
      "/subscriptions/0000/resourcegroups/rg/providers/microsoft.network/virtualnetworks/app-vnet/subnets/web");
  EXPECT_EQ(
      policy.vnet_rules[0].vnet_id(),
      "/subscriptions/0000/resourcegroups/rg/providers/microsoft.network/virtualnetworks/app-vnet");
  EXPECT_EQ(policy.vnet_rules[0].subnet_name(), "web");
  EXPECT_EQ(policy.host.ports, (std::vector<PortSpec>{PortSpec{6, 443}, PortSpec{17, 8443}}));
  EXPECT_EQ(policy.host.virtual_networks[0].subnets[0].prefixes.size(), 2u);
}

TEST(Document, VaultResourcePathsArePrefixedWithProperties) {
  auto errors = errors_of(
      R"({"name": "kv", "properties": {"networkAcls": {"ipRules": [{"value": "10.1.2.0/24"}]}}})");
  EXPECT_TRUE(has_diagnostic(
      errors, Severity::kError, "properties.networkAcls.ipRules[0].value",
      "10.1.2.0/24 belongs to forbidden range 10.0.0.0-10.255.255.255 (private IP addresses)"))
      << describe(errors);
}

TEST(Document, BareObjectPathsAreTheFieldsThemselves) {
  auto errors = errors_of(R"({"ipRules": [{"value": "127.0.0.1"}]})");
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "ipRules[0].value", "loopback"))
      << describe(errors);
}

TEST(Document, AllErrorsAreCollectedAcrossStages) {
  // A shape error (unknown field), two value errors and a host-section error.
  auto errors = errors_of(wrap(
      R"({"defaultActon": "Deny", "ipRules": [{"value": "10.0.0.1"}, {"value": "203.0.113.5/24"}]})",
      R"({"dataPlane": {"ports": ["tcp/99999"]}})"));
  EXPECT_EQ(errors.size(), 4u) << describe(errors);
  EXPECT_TRUE(
      has_diagnostic(errors, Severity::kError, "networkAcls.defaultActon", "unknown field"));
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "networkAcls.ipRules[0].value",
                             "private IP addresses"));
  EXPECT_TRUE(
      has_diagnostic(errors, Severity::kError, "networkAcls.ipRules[1].value", "203.0.113.0/24"));
  EXPECT_TRUE(has_diagnostic(errors, Severity::kError, "vaultwall.dataPlane.ports[0]", "1-65535"));
}

TEST(Document, DiagnosticTextIsPathColonMessage) {
  auto errors = errors_of(wrap(R"({"ipRules": [{"value": "10.0.0.0/8"}]})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(
      errors[0].text(),
      "networkAcls.ipRules[0].value: 10.0.0.0/8 belongs to forbidden range 10.0.0.0-10.255.255.255 (private IP addresses)");
}

TEST(Document, ParseDocumentKeepsValuesAsWritten) {
  auto document = parse_document(R"({"networkAcls": {"ipRules": [{"value": "203.0.113.5/24"}]}})");
  ASSERT_TRUE(document.ok()) << describe(document.diagnostics);  // shape is fine, meaning is not
  ASSERT_EQ(document.value->ip_rules.size(), 1u);
  EXPECT_EQ(document.value->ip_rules[0].value, "203.0.113.5/24");
  EXPECT_EQ(document.value->ip_rules[0].path, "networkAcls.ipRules[0].value");
  EXPECT_FALSE(validate_document(*document.value).ok());
}

// ---- round trip ----

void expect_round_trip(const Policy& policy) {
  std::string json = to_azure_json(policy);
  auto again = load_policy(json);
  ASSERT_TRUE(again.ok()) << describe(again.diagnostics) << json;
  EXPECT_EQ(*again.value, policy) << json;
  EXPECT_EQ(to_azure_json(*again.value), json);
}

TEST(RoundTrip, GoodDocumentsSurviveToAzureJsonAndBack) {
  for (const char* file : {"az-keyvault-show.json", "design-example.json", "bare-network-acls.json",
                           "no-firewall.json"}) {
    SCOPED_TRACE(file);
    auto result = load_policy_file(data_dir() / "good" / file);
    ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
    expect_round_trip(*result.value);
  }
}

TEST(RoundTrip, EverythingTheHostSectionCanSay) {
  Policy policy = must_load(wrap(
      R"({"defaultAction": "Deny", "bypass": "AzureServices",
          "ipRules": [{"value": "203.0.113.0/24"}, {"value": "198.51.100.6/31"}, {"value": "192.0.2.7/32"}],
          "virtualNetworkRules": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v1/subnets/a", "ignoreMissingVnetServiceEndpoint": true},
                                  {"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v1/subnets/b"}]})",
      R"({"profile": "akv-current", "limits": {"maxIpRules": 2000, "maxVirtualNetworkRules": 300}, "mode": "audit",
          "dataPlane": {"ports": ["tcp/443", "udp/443"], "addresses": ["192.0.2.10", "192.0.2.11"],
                        "listen": "addresses", "tunnels": ["GRE", "udp/4789"]},
          "privateEndpoints": ["10.20.0.5", {"address": "10.20.0.6",
                               "virtualNetwork": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/V1"}],
          "virtualNetworks": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v1",
                               "segment": {"interface": "eth1", "vlan": 7},
                               "subnets": [{"name": "a", "addressPrefix": "10.1.0.0/24"},
                                           {"name": "b", "addressPrefixes": ["10.2.0.0/24", "10.3.0.0/24"], "serviceEndpoints": ["Microsoft.KeyVault", "Microsoft.Storage"]}]}],
          "trustedServices": {"serviceTags": "/etc/vaultwall/ServiceTags_Public.json", "services": ["Storage"],
                              "custom": [{"name": "vm-deployment", "addressPrefixes": ["52.96.0.0/14"]}]}})"));
  EXPECT_FALSE(policy.vnet_rules[0].active);
  EXPECT_TRUE(policy.vnet_rules[1].active);
  EXPECT_EQ(policy.host.listen, Listen::kAddresses);
  EXPECT_EQ(policy.host.tunnels, (std::vector<std::string>{"gre", "vxlan"}));  // canonical names
  ASSERT_EQ(policy.host.private_endpoints.size(), 2u);
  EXPECT_EQ(policy.host.private_endpoints[1].virtual_network,
            "/subscriptions/0/resourcegroups/rg/providers/microsoft.network/virtualnetworks/v1");
  expect_round_trip(policy);
}

TEST(RoundTrip, CommandLineOverridesAreRecordedInThePolicy) {
  ValidateOptions options;
  options.profile = Profile::kAkvCurrent;
  options.max_ip_rules = 5000;
  Policy policy = must_load("{}", options);
  EXPECT_EQ(policy.host.profile, Profile::kAkvCurrent);
  EXPECT_EQ(policy.limits().max_ip_rules, 5000u);
  expect_round_trip(policy);
}

// The input fuzz_document found (tests/fuzz/targets/fuzz_document.cpp): a
// mutated digit made "10.1.2.0/24" contain ':', so the prefix looked like
// IPv6 and was skipped with a warning, leaving subnet "api" with no prefix.
// The policy was accepted, but to_azure_json printed "addressPrefixes": [],
// which load_policy refuses ("missing: ... needs its addressPrefix"). A
// subnet with IPv6 prefixes only is now refused where it is written.
constexpr const char* kFuzzSubnetOnlyIpv6Like = R"({
  "networkAcls": {
    "defaultAction": "Deny",
    "bypass": "AzureServices",
    "ipRules": [],
    "virtualNetworkRules": []
  },
  "vaultwall": {
    "virtualNetworks": [
      {
        "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/app-vne+",
        "segment": {
          "interface": "eth1"
        },
        "subnets": [
          {
            "name": "web",
            "addressPrefix": "10.1.0.0/16"
          },
          {
            "name": "api",
            "addressPrefix": "55:.1.2.0/24"
          }
        ]
      }
    ]
  }
}
)";

// The fuzz target's property: refused with an error, or survives the round trip.
void expect_refused_or_round_trip(std::string_view text) {
  auto loaded = load_policy(text);
  if (!loaded.ok()) {
    EXPECT_FALSE(loaded.errors().empty());
    return;
  }
  expect_round_trip(*loaded.value);
}

TEST(RoundTrip, FuzzFoundSubnetLeftWithoutPrefixIsRefused) {
  expect_refused_or_round_trip(kFuzzSubnetOnlyIpv6Like);
  auto errors = errors_of(kFuzzSubnetOnlyIpv6Like);
  ASSERT_EQ(errors.size(), 1u) << describe(errors);
  EXPECT_EQ(errors[0].path, "vaultwall.virtualNetworks[0].subnets[1].addressPrefix");
  EXPECT_EQ(errors[0].message,
            "\"55:.1.2.0/24\" is not a valid IPv6 address or prefix; write it as 2001:db8::/32");
}

constexpr const char* kIpv6Vnet =
    "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v6";

// A document with one virtual network rule on subnet s, whose prefixes are
// `prefixes` (a JSON array).
std::string subnet_rule_document(const std::string& prefixes) {
  return wrap(
      std::string(R"({"defaultAction": "Deny", "virtualNetworkRules": [{"id": ")") + kIpv6Vnet +
          R"(/subnets/s"}]})",
      std::string(R"({"virtualNetworks": [{"id": ")") + kIpv6Vnet +
          R"(", "segment": {"vlan": 6}, "subnets": [{"name": "s", "addressPrefixes": )" + prefixes +
          R"(, "serviceEndpoints": ["Microsoft.KeyVault"]}]}]})");
}

// Whether any diagnostic, at any path, says `text`.
bool any_mentions(const std::vector<Diagnostic>& diagnostics, std::string_view text) {
  return std::any_of(diagnostics.begin(), diagnostics.end(), [&](const Diagnostic& d) {
    return d.message.find(text) != std::string::npos;
  });
}

TEST(RoundTrip, Ipv6OnlySubnetKeepsItsIpv6Prefixes) {
  std::string text = subnet_rule_document(R"(["2001:db8::/64", "fd00:6::/64"])");
  auto result = load_policy(text);
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  const Subnet& subnet = result.value->host.virtual_networks[0].subnets[0];
  EXPECT_TRUE(subnet.prefixes.empty());
  EXPECT_EQ(subnet.prefixes6, (std::vector<Ipv6Prefix>{*parse_ipv6_prefix("2001:db8::/64"),
                                                       *parse_ipv6_prefix("fd00:6::/64")}));
  EXPECT_FALSE(any_mentions(result.diagnostics, "not enforceable")) << describe(result.diagnostics);
  expect_round_trip(*result.value);
}

TEST(RoundTrip, DualStackSubnetKeepsBothFamilies) {
  std::string text = subnet_rule_document(R"(["2001:db8::/64", "10.6.0.0/24"])");
  auto result = load_policy(text);
  ASSERT_TRUE(result.ok()) << describe(result.diagnostics);
  EXPECT_FALSE(any_mentions(result.diagnostics, "not enforceable")) << describe(result.diagnostics);
  const Subnet& subnet = result.value->host.virtual_networks[0].subnets[0];
  EXPECT_EQ(subnet.prefixes, std::vector<Ipv4Prefix>{*parse_ipv4_prefix("10.6.0.0/24")});
  EXPECT_EQ(subnet.prefixes6, std::vector<Ipv6Prefix>{*parse_ipv6_prefix("2001:db8::/64")});
  expect_round_trip(*result.value);
  // show writes IPv4 then IPv6 under addressPrefixes
  EXPECT_NE(to_azure_json(*result.value, -1).find(R"("addressPrefixes":["10.6.0.0/24","2001:db8::/64"])"),
            std::string::npos)
      << to_azure_json(*result.value);
}

TEST(SubnetIpv6, HostBitsSyntaxMappedAndOverlapsAreRefusedAtTheirPath) {
  const std::string path = "vaultwall.virtualNetworks[0].subnets[0].addressPrefixes[";
  const std::pair<const char*, const char*> cases[] = {
      {R"(["fd00:6::1/64"])", "fd00:6::1/64 has host bits set; the network is fd00:6::/64"},
      {R"(["fd00:6::g/64"])", "is not a valid IPv6 address or prefix"},
      {R"(["::ffff:10.6.0.0/120"])", "write the IPv4 address"},
  };
  for (const auto& [prefixes, reason] : cases) {
    auto errors = errors_of(subnet_rule_document(prefixes));
    EXPECT_TRUE(has_diagnostic(errors, Severity::kError, path + "0]", reason))
        << prefixes << ": " << describe(errors);
  }
  auto overlap = errors_of(subnet_rule_document(R"(["fd00:6::/48", "fd00:6:0:1::/64"])"));
  EXPECT_TRUE(has_diagnostic(overlap, Severity::kError, path + "1]",
                             "fd00:6:0:1::/64 overlaps fd00:6::/48"))
      << describe(overlap);
}

TEST(DualstackIpRules, RoundTripThroughShow) {
  std::string text = wrap(
      R"({"defaultAction": "Deny", "ipRules": [{"value": "2603:1000::/40"}, {"value": "203.0.113.7"}, {"value": "2603:1000:0:1::7/128"}]})",
      R"({"profile": "dualstack"})");
  Policy policy = must_load(text);
  expect_round_trip(policy);
  std::string shown = to_azure_json(policy, -1);
  EXPECT_NE(shown.find(R"("ipRules":[{"value":"2603:1000::/40"},{"value":"203.0.113.7"},{"value":"2603:1000:0:1::7"}])"),
            std::string::npos)
      << shown;
  EXPECT_NE(shown.find(R"("profile":"dualstack")"), std::string::npos) << shown;
}

TEST(CanonicalSerialisation, IgnoresOrderButNotContent) {
  Policy a = must_load(wrap(
      R"({"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}, {"value": "198.51.100.7"}]})"));
  Policy b = must_load(wrap(
      R"({"defaultAction": "Deny", "ipRules": [{"value": "198.51.100.7"}, {"value": "203.0.113.0/24"}]})"));
  Policy c = must_load(wrap(
      R"({"defaultAction": "Deny", "ipRules": [{"value": "198.51.100.8"}, {"value": "203.0.113.0/24"}]})"));
  EXPECT_NE(a, b);  // document order is kept for show
  EXPECT_EQ(canonical_serialisation(a), canonical_serialisation(b));
  EXPECT_NE(canonical_serialisation(a), canonical_serialisation(c));
}

}  // namespace
}  // namespace vaultwall::test
