// The split of a rule document into the vault's shared policy and a host's
// facts: what fleet put refuses, what it stores, what a host accepts back
// from etcd, and how it merges its own facts in (no etcd, no kernel).
#include "vaultwall/fleet/shared_policy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "vaultwall/fleet/layout.h"
#include "vaultwall/fleet/records.h"
#include "vaultwall/fleet/state_dir.h"
#include "vaultwall/policy/compile.h"
#include "vaultwall/policy/service_tags.h"

#ifndef VW_SOURCE_DIR
#error "VW_SOURCE_DIR must point at the source tree"
#endif

namespace vaultwall::fleet {
namespace {

namespace fs = std::filesystem;

const std::string kTags =
    std::string(VW_SOURCE_DIR) + "/data/service-tags/ServiceTags_Public_subset.json";
const std::string kSubnet =
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/app-vnet/subnets/web";

std::string shared_document(const std::string& ip_rules = R"([{"value": "198.51.100.0/24"}])") {
  return R"({"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices",
    "ipRules": )" +
         ip_rules + R"(, "virtualNetworkRules": [{"id": ")" + kSubnet + R"("}]}},
    "vaultwall": {"profile": "akv-current", "mode": "enforce",
      "trustedServices": {"serviceTags": ")" +
         kTags + R"(", "services": ["AzureKeyVault"]}}})";
}

const std::string kVnet =
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/app-vnet";

// A host facts file as the reader gives it to compile_for_host.
HostFactsText facts_text(std::string text, std::string name = "host.json") {
  return HostFactsText{.text = std::move(text), .name = std::move(name), .base_dir = {},
                       .explicit_path = true};
}

std::string paths(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics)
    if (d.is_error()) out += d.path + "|";
  return out;
}

SharedPolicy made(const std::string& text) {
  auto shared = make_shared_policy(text, {});
  EXPECT_TRUE(shared.ok()) << paths(shared.diagnostics)
                           << (shared.diagnostics.empty() ? "" : shared.diagnostics[0].text());
  return shared.ok() ? *shared.value : SharedPolicy{};
}

TEST(SharedPolicy, HostFactsAreRefusedAtTheirPaths) {
  auto shared = make_shared_policy(R"({"networkAcls": {"defaultAction": "Deny"},
    "vaultwall": {"dataPlane": {"addresses": ["192.0.2.10"]}, "privateEndpoints": ["10.0.0.5"],
                  "virtualNetworks": []}})",
                                   {});
  ASSERT_FALSE(shared.ok());
  EXPECT_EQ(paths(shared.diagnostics),
            "vaultwall.dataPlane|vaultwall.privateEndpoints|vaultwall.virtualNetworks|");
  EXPECT_NE(shared.diagnostics[0].message.find("host facts file"), std::string::npos);
}

TEST(SharedPolicy, VnetRulesNeedNoHostToValidate) {
  SharedPolicy shared = made(shared_document());
  ASSERT_EQ(shared.policy.vnet_rules.size(), 1u);
  EXPECT_TRUE(shared.policy.vnet_rules[0].active);
  // Stored without the stand-in host part and without the tags path.
  const Json& section = shared.document["vaultwall"];
  EXPECT_FALSE(section.contains("virtualNetworks"));
  EXPECT_FALSE(section.contains("dataPlane"));
  EXPECT_FALSE(section["trustedServices"].contains("serviceTags"));
  EXPECT_EQ(section["trustedServices"]["services"], Json::array({"AzureKeyVault"}));
}

TEST(SharedPolicy, OrdinaryValidationStillApplies) {
  auto shared = make_shared_policy(shared_document(R"([{"value": "10.0.0.0/8"}])"), {});
  ASSERT_FALSE(shared.ok());
  EXPECT_EQ(paths(shared.diagnostics), "properties.networkAcls.ipRules[0].value|");
}

// A document that cannot be read says why, and only that: no host facts
// are asked for (fleet put takes none), as if its VNET rules needed them.
TEST(SharedPolicy, AnUnreadableDocumentGetsItsOwnErrorOnly) {
  std::string text = shared_document();
  text.replace(text.find(R"("}]}},)"), 6, R"(", "colour": "blue"}]}},)");
  auto shared = make_shared_policy(text, {});
  ASSERT_FALSE(shared.ok());
  EXPECT_EQ(paths(shared.diagnostics), "properties.networkAcls.virtualNetworkRules[0].colour|");
}

TEST(SharedPolicy, TrustedServicesAreStoredResolved) {
  SharedPolicy shared = made(shared_document());
  ASSERT_EQ(shared.service_tags.count("AzureKeyVault"), 1u);
  EXPECT_GT(shared.service_tags["AzureKeyVault"].size(), 100u);
  // A tag missing from the file is the document's error.
  std::string unknown = shared_document();
  unknown.replace(unknown.find("[\"AzureKeyVault\"]"), 17, "[\"NoSuchTag\"]");
  auto refused = make_shared_policy(unknown, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(paths(refused.diagnostics).find("vaultwall.trustedServices"), std::string::npos);
}

TEST(SharedPolicy, DigestIgnoresOrderButNotContent) {
  SharedPolicy a =
      made(shared_document(R"([{"value": "198.51.100.0/24"}, {"value": "203.0.113.7"}])"));
  SharedPolicy b =
      made(shared_document(R"([{"value": "203.0.113.7"}, {"value": "198.51.100.0/24"}])"));
  SharedPolicy c = made(shared_document(R"([{"value": "203.0.113.7"}])"));
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_NE(a.digest, c.digest);
  auto tags = a.service_tags;
  tags["AzureKeyVault"].pop_back();
  EXPECT_NE(*shared_digest(a.policy, tags), a.digest);
}

// One definition: the digest fleet stores is the policy digest the host
// prints (apply, show, stats) once it enforces the policy with its facts.
TEST(SharedPolicy, StoredDigestIsTheHostsPolicyDigest) {
  SharedPolicy shared = made(shared_document());
  fs::path dir = fs::temp_directory_path() / ("vw-shared-digest-" + std::to_string(::getpid()));
  auto tags = write_service_tags_file(dir, shared.service_tags);
  ASSERT_TRUE(tags) << tags.error().message();
  for (const char* segment : {R"({"vlan": 100})", R"({"interface": "eth7"})"}) {
    auto host = compile_for_host(shared, facts_text(std::string(R"({"virtualNetworks": [{"id": ")") +
                                                       kVnet + R"(", "segment": )" + segment +
                                                       R"(, "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]}]})"),
                                 *tags);
    ASSERT_TRUE(host.ok()) << host.diagnostics[0].text();
    auto trusted = resolve_trusted_services(host.value->policy);
    ASSERT_TRUE(trusted.ok());
    CompileOptions options{.resolve_interface = [](const std::string&) { return std::optional<uint32_t>(7); }};
    auto compiled = compile_policy(host.value->policy, *trusted.value, options);
    ASSERT_TRUE(compiled.ok());
    EXPECT_EQ(compiled.value->policy_digest_hex, shared.digest) << segment;
  }
  fs::remove_all(dir);
}

TEST(SharedPolicy, RecordRoundTrip) {
  SharedPolicy shared = made(shared_document());
  PolicyRecord record = make_record(shared, "kv-1", "alice@admin", "why", "2026-12-01T00:00:00Z");
  std::string value = to_json(record).dump();
  auto parsed = parse_policy_record(value);
  ASSERT_TRUE(parsed.ok()) << parsed.diagnostics[0].text();
  auto back = shared_policy_from_record(*parsed.value);
  ASSERT_TRUE(back.ok()) << paths(back.diagnostics) << back.diagnostics[0].text();
  EXPECT_EQ(back.value->digest, shared.digest);
  EXPECT_EQ(back.value->policy, shared.policy);
}

TEST(SharedPolicy, RecordsEditedByHandAreRefusedWithTheirPath) {
  SharedPolicy shared = made(shared_document());
  Json record = to_json(make_record(shared, "kv-1", "a", "", "t"));
  auto refused_at = [](Json value) {
    auto parsed = parse_policy_record(value.dump());
    if (!parsed.ok()) return parsed.diagnostics[0].path;
    auto checked = shared_policy_from_record(*parsed.value);
    return checked.ok() ? std::string("accepted") : checked.errors()[0].path;
  };
  // A rule changed without recomputing the digest.
  Json stale = record;
  stale["policy"]["properties"]["networkAcls"]["ipRules"][0]["value"] = "203.0.113.0/24";
  EXPECT_EQ(refused_at(stale), "sharedDigest");
  Json invalid = record;
  invalid["policy"]["properties"]["networkAcls"]["ipRules"][0]["value"] = "10.1.2.0/24";
  EXPECT_EQ(refused_at(invalid), "policy.properties.networkAcls.ipRules[0].value");
  Json host_fact = record;
  host_fact["policy"]["vaultwall"]["dataPlane"] = {{"addresses", {"192.0.2.10"}}};
  EXPECT_EQ(refused_at(host_fact), "policy.vaultwall.dataPlane");
  Json no_prefixes = record;
  no_prefixes["serviceTags"].erase("AzureKeyVault");
  EXPECT_EQ(refused_at(no_prefixes), "serviceTags");
  Json bad_prefix = record;
  bad_prefix["serviceTags"]["AzureKeyVault"][0] = "20.0.0.1/8";
  EXPECT_EQ(refused_at(bad_prefix), "serviceTags.AzureKeyVault[0]");
  Json no_digest = record;
  no_digest.erase("sharedDigest");
  EXPECT_EQ(refused_at(no_digest), "sharedDigest");
  EXPECT_EQ(refused_at(Json{{"schemaVersion", 2}}), "");
  auto not_json = parse_policy_record("{\"schemaVersion\": 1,");
  ASSERT_FALSE(not_json.ok());
  EXPECT_NE(not_json.diagnostics[0].message.find("not JSON"), std::string::npos);
}

TEST(SharedPolicy, HostFactsFileHoldsOnlyHostFacts) {
  SharedPolicy shared = made(shared_document());
  auto compile = [&](const std::string& text) { return compile_for_host(shared, facts_text(text), "/x.json"); };
  const std::string vnet = R"("virtualNetworks": [{"id": ")" + kVnet +
                           R"(", "segment": {"vlan": 100}, "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]}])";
  // A Service Tags path of its own is ignored (the record's prefixes are
  // enforced), and it says so.
  auto tags = compile(R"({"serviceTags": "/elsewhere.json", )" + vnet + "}");
  ASSERT_TRUE(tags.ok()) << tags.diagnostics[0].text();
  ASSERT_EQ(tags.warnings().size(), 1u);
  EXPECT_EQ(tags.warnings()[0].path, "host.json:serviceTags");
  EXPECT_EQ(tags.value->policy.host.trusted.service_tags_path, "/x.json");
  // The vault's policy in the host facts: one error naming what it is.
  auto policy = compile(R"({"properties": {}, )" + vnet + "}");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(paths(policy.diagnostics), "host.json:properties|");
  // The form of a document's vaultwall section: one error saying where host facts go.
  auto wrapped = compile(R"({"vaultwall": {)" + vnet + "}}");
  ASSERT_FALSE(wrapped.ok());
  EXPECT_EQ(paths(wrapped.diagnostics), "host.json:vaultwall|");
  EXPECT_NE(wrapped.errors()[0].message.find("top level"), std::string::npos);
  EXPECT_EQ(diagnostic_source(wrapped.errors()[0], "host.json"), "host-facts");
  // Placeholders of vaultwallctl host init are refused until filled.
  auto skeleton = compile(R"({"dataPlane": {"addresses": ["<a.b.c.d>"]}, )" + vnet + "}");
  ASSERT_FALSE(skeleton.ok());
  EXPECT_EQ(paths(skeleton.diagnostics), "host.json:dataPlane.addresses[0]|");

  auto missing = read_fleet_host_facts("/nonexistent/host.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("/nonexistent/host.json"), std::string::npos);
  EXPECT_NE(missing.error().message().find("{} for none"), std::string::npos);
}

TEST(SharedPolicy, CompileForHostMergesTheHostsFacts) {
  SharedPolicy shared = made(shared_document());
  fs::path dir = fs::temp_directory_path() / ("vw-shared-test-" + std::to_string(::getpid()));
  auto tags = write_service_tags_file(dir, shared.service_tags);
  ASSERT_TRUE(tags) << tags.error().message();
  auto host = compile_for_host(shared, facts_text(R"({"dataPlane": {"addresses": ["192.0.2.10"]},
    "virtualNetworks": [{"id": ")" + kVnet + R"(",
      "segment": {"vlan": 100},
      "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]}]})"),
                               *tags);
  ASSERT_TRUE(host.ok()) << host.diagnostics[0].text();
  EXPECT_EQ(host.value->policy.host.addresses.size(), 1u);
  EXPECT_EQ(host.value->policy.host.trusted.service_tags_path, *tags);
  EXPECT_EQ(host.value->policy.ip_rules, shared.policy.ip_rules);
  // The document kept for boot is self-contained: it loads to the same policy alone.
  auto reloaded = load_policy(host.value->document);
  ASSERT_TRUE(reloaded.ok()) << reloaded.diagnostics[0].text();
  EXPECT_EQ(*reloaded.value, host.value->policy);

  // A host that does not describe the vault's virtual network: its facts' fault.
  auto bare = compile_for_host(shared, facts_text("{}"), *tags);
  ASSERT_FALSE(bare.ok());
  EXPECT_EQ(bare.errors()[0].path, "host.json:virtualNetworks");
  EXPECT_EQ(diagnostic_source(bare.errors()[0], "host.json"), "host-facts");
  EXPECT_NE(bare.errors()[0].message.find("host.json"), std::string::npos);
  auto refused = compile_for_host(shared, facts_text(R"({"virtualNetworks": [{"id": ")" + kVnet + R"(",
      "segment": {"vlan": 5000}, "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]}]})"),
                                  *tags);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.errors()[0].path, "host.json:virtualNetworks[0].segment.vlan");
  EXPECT_EQ(diagnostic_source(refused.errors()[0], "host.json"), "host-facts");
  EXPECT_EQ(diagnostic_source(Diagnostic{Severity::kError, "properties.networkAcls", "x"}, "host.json"), "policy");

  // Same content, same file; pruning keeps the one named.
  auto again = write_service_tags_file(dir, shared.service_tags);
  EXPECT_EQ(*again, *tags);
  auto other = write_service_tags_file(dir, {{"AzureKeyVault", {"20.0.0.0/16"}}});
  prune_service_tags_files(dir, *tags);
  EXPECT_TRUE(fs::exists(*tags));
  EXPECT_FALSE(fs::exists(*other));
  fs::remove_all(dir);
}

TEST(Layout, KeysAndNames) {
  EXPECT_EQ(policy_key("kv-1"), "/vaultwall/v1/vaults/kv-1/policy");
  EXPECT_EQ(host_status_key("h1"), "/vaultwall/v1/hosts/h1/status");
  auto key = parse_host_key("/vaultwall/v1/hosts/h1.example/info");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->host, "h1.example");
  EXPECT_EQ(key->leaf, "info");
  EXPECT_FALSE(parse_host_key("/vaultwall/v1/hosts/h1"));
  EXPECT_EQ(parse_policy_key("/vaultwall/v1/vaults/kv-1/policy"), "kv-1");
  EXPECT_FALSE(parse_policy_key("/vaultwall/v1/vaults/kv-1/other"));
  EXPECT_TRUE(check_vault_name("kv-prod-1", "--vault"));
  for (const char* bad : {"kv", "1vault", "kv-", "kv--1", "kv_1", "a23456789012345678901234x"}) {
    auto refused = check_vault_name(bad, "--vault");
    ASSERT_FALSE(refused) << bad;
    EXPECT_NE(refused.error().message().find("--vault '"), std::string::npos);
  }
  EXPECT_TRUE(check_host_name("vault-host-1.example", "--host-name"));
  EXPECT_FALSE(check_host_name("h/1", "--host-name"));
  EXPECT_FALSE(check_host_name("..", "--host-name"));
}

TEST(Records, StatusRoundTripAndRefusals) {
  HostStatus status{.host = "h1",
                    .vault = "kv-1",
                    .state = SyncState::kRejected,
                    .policy_revision = 7,
                    .shared_digest = std::string(64, 'a'),
                    .kernel_generation = 3,
                    .error = StatusError{8, "policy", "policy.x", "bad"},
                    .verify = VerifyReport{"ok", {}, "t"},
                    .reported_at = "2026-12-01T00:00:00Z",
                    .connected = true,
                    .counters = CounterSummary{10, 2, 0, "t"}};
  auto back = parse_host_status(to_json(status).dump());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, status);
  HostStatus later = status;
  later.reported_at = "2026-12-01T00:01:00Z";
  EXPECT_TRUE(later.same_report(status));
  later.state = SyncState::kInSync;
  EXPECT_FALSE(later.same_report(status));
  Json unknown_state = to_json(status);
  unknown_state["state"] = "sleeping";
  auto refused = parse_host_status(unknown_state.dump());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("state"), std::string::npos);
  HostInfo info{"h1", "kv-1", "1", "t", "/sys/fs/bpf/vaultwall", "/etc/vaultwall/host.json"};
  EXPECT_EQ(*parse_host_info(to_json(info).dump()), info);
}

}  // namespace
}  // namespace vaultwall::fleet
