// The control plane end to end, without the CLI: real rule documents go
// through load_policy -> read_kernel_policy -> compile_against_kernel ->
// apply_compiled (what vaultwallctl apply runs), then built packets go
// through the production XDP program. Each row asserts the action, the
// verdict class, the credited rule (found by its canonical text through the
// compiled rule table and vw_rule_info) or trusted service, and that no
// other counter moved.
//
// Each test runs in a network namespace of its own, with a veth pair it
// creates: the app-vnet segment is that veth (untagged), the data-vnet
// segment is VLAN 100 on loopback, and untagged loopback traffic is the
// public internet.
#include <bpf/bpf.h>
#include <net/if.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>
#include <functional>
#include <map>
#include <memory>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "frames.h"
#include "packet_builder.h"
#include "vaultwall/apply/apply.h"
#include "vaultwall/common/lock.h"
#include "vaultwall/policy/compile.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/policy/sha256.h"
#include "xdp_test_fixture.h"

namespace vaultwall::testing {
namespace {

using json = nlohmann::json;
using frames::ip_tunnel4;
using frames::kProtoGre;
using frames::kProtoIpip;
using frames::tcp4;
using frames::tcp4_vlan;
using frames::tcp6_from;
using frames::tcp6_vlan;
using frames::udp4;
using frames::udp_tunnel4;
using world::kHttpsPort;
using world::kLimitedBroadcast;
using world::kPrivateEndpoint;
using world::kSshPort;
using world::kVault;

constexpr char kAppInterface[] = "vwcapp";  // veth in the test's own namespace
constexpr char kAppPeer[] = "vwcpeer";
constexpr uint16_t kDataVlan = 100;
constexpr uint16_t kLegacyVlan = 200;

const std::string kVnets =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vault-rg/providers/"
    "Microsoft.Network/virtualNetworks/";

// Canonical identities: CIDR (bare address for one host) and lower-cased subnet ids.
const std::string kRule24 = "203.0.113.0/24";
const std::string kRule25 = "203.0.113.128/25";
const std::string kRuleHost = "198.51.100.7";
const std::string kAppSubnet = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/"
                               "vault-rg/providers/microsoft.network/virtualnetworks/app-vnet/"
                               "subnets/web";
const std::string kDataSubnet = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/"
                                "vault-rg/providers/microsoft.network/virtualnetworks/data-vnet/"
                                "subnets/db";
const std::string kLegacySubnet = "/subscriptions/00000000-0000-0000-0000-000000000000/"
                                  "resourcegroups/vault-rg/providers/microsoft.network/"
                                  "virtualnetworks/legacy-vnet/subnets/batch";

// Sources, named by what should admit them. The trusted ones are real
// prefixes of the published Service Tags file (each in one tag only).
const Ipv4 kFromRule24 = ipv4("203.0.113.77");
const Ipv4 kFromRule25 = ipv4("203.0.113.200");
const Ipv4 kFromRuleHost = ipv4("198.51.100.7");
const Ipv4 kNextToRuleHost = ipv4("198.51.100.8");
const Ipv4 kFromAppSubnet = ipv4("10.1.0.5");
const Ipv4 kOutsideAppSubnet = ipv4("10.1.1.5");
const Ipv4 kFromDataSubnet = ipv4("10.2.0.5");
const Ipv4 kFromLegacySubnet = ipv4("10.3.0.5");
const Ipv4 kFromStorage = ipv4("13.65.107.33");   // Storage 13.65.107.32/28
const Ipv4 kFromArm = ipv4("4.150.240.7");        // AzureResourceManager 4.150.240.0/23
const Ipv4 kFromBackup = ipv4("4.166.35.241");    // AzureBackup: published, not trusted here
const Ipv4 kStranger = ipv4("198.51.100.50");

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// A vault resource as `az keyvault show` prints it, plus the host section.
// The VNET rule ids are written in Azure's mixed case on purpose.
std::string vault_document() {
  std::string text = R"({
  "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vault-rg/providers/Microsoft.KeyVault/vaults/apply-path-vault",
  "name": "apply-path-vault",
  "type": "Microsoft.KeyVault/vaults",
  "location": "westeurope",
  "tags": {},
  "properties": {
    "tenantId": "00000000-0000-0000-0000-000000000000",
    "sku": {"family": "A", "name": "standard"},
    "vaultUri": "https://apply-path-vault.vault.azure.net/",
    "publicNetworkAccess": "Enabled",
    "networkAcls": {
      "defaultAction": "Deny",
      "bypass": "AzureServices",
      "ipRules": [{"value": "203.0.113.0/24"}, {"value": "203.0.113.128/25"}, {"value": "198.51.100.7"}],
      "virtualNetworkRules": [
        {"id": "@VNETS@App-VNet/subnets/Web", "ignoreMissingVnetServiceEndpoint": false},
        {"id": "@VNETS@data-vnet/subnets/db", "ignoreMissingVnetServiceEndpoint": null},
        {"id": "@VNETS@legacy-vnet/subnets/batch", "ignoreMissingVnetServiceEndpoint": true}
      ]
    }
  },
  "vaultwall": {
    "profile": "akv-2018",
    "dataPlane": {"ports": ["tcp/443", "udp/8443"], "addresses": ["192.0.2.10"]},
    "privateEndpoints": ["10.20.0.5"],
    "virtualNetworks": [
      {"id": "@VNETS@app-vnet", "segment": {"interface": "@APP_IF@"},
       "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]},
      {"id": "@VNETS@data-vnet", "segment": {"interface": "lo", "vlan": 100},
       "subnets": [{"name": "db", "addressPrefix": "10.2.0.0/24", "serviceEndpoints": [{"service": "Microsoft.KeyVault"}]}]},
      {"id": "@VNETS@legacy-vnet", "segment": {"vlan": 200},
       "subnets": [{"name": "batch", "addressPrefix": "10.3.0.0/24", "serviceEndpoints": []}]}
    ],
    "trustedServices": {"serviceTags": "@TAGS@", "services": ["Storage", "AzureResourceManager"]},
    "mode": "enforce"
  }
})";
  text = replace_all(text, "@VNETS@", kVnets);
  text = replace_all(text, "@APP_IF@", kAppInterface);
  return replace_all(text, "@TAGS@", VW_SERVICE_TAGS_FILE);
}

// The vault document with one edit applied to its parsed JSON.
template <class Edit>
std::string edited_vault_document(Edit edit) {
  json document = json::parse(vault_document());
  edit(document);
  return document.dump(2);
}

json& acls(json& document) { return document["properties"]["networkAcls"]; }

// A bare networkAcls object under Azure's current limits: /32 is the address.
std::string bare_akv_current_document() {
  return R"({
  "defaultAction": "Deny",
  "bypass": "None",
  "ipRules": [{"value": "198.51.100.7/32"}, {"value": "192.0.2.128/31"}],
  "vaultwall": {"profile": "akv-current", "dataPlane": {"addresses": ["192.0.2.10"]}}
})";
}

std::string diagnostics_text(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) out += "\n  " + d.text();
  return out;
}

// What one apply did, kept for the id lookups of the rows that follow.
struct Applied {
  ApplyOutcome outcome;
  CompiledPolicy compiled;  // a copy of what was handed to apply_compiled
  Policy policy;
};

// One packet and what it must do: a row of the tables below.
struct Row {
  std::string name;
  std::vector<uint8_t> frame;
  Expected expected;
  uint32_t ifindex = kLoopbackIfindex;
};

class ApplyPath : public XdpProgramTest {
 protected:
  void SetUp() override {
    XdpProgramTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    enter_private_network_with_veth();
  }

  // A namespace of our own (pins live in bpffs, not in the namespace), so
  // the veth needs no unique name and vanishes with the process.
  void enter_private_network_with_veth() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
    const std::string add = std::string("ip link add ") + kAppInterface + " type veth peer name " +
                            kAppPeer + " && ip link set " + kAppInterface + " up";
    ASSERT_EQ(std::system(add.c_str()), 0) << add;
    app_ifindex_ = if_nametoindex(kAppInterface);
    ASSERT_NE(app_ifindex_, 0u) << kAppInterface << " has no ifindex";
  }

  // vaultwallctl apply's path, lock included.
  Applied apply_document(const std::string& text, const ParseOptions& options = {}) {
    Checked<Policy> loaded = load_policy(text, options);
    if (!loaded.ok())
      throw std::runtime_error("the document does not load:" + diagnostics_text(loaded.diagnostics));
    PinDirLock lock = must(PinDirLock::acquire(maps().pin_dir()));
    KernelPolicy current = must(read_kernel_policy(maps()));
    // BPF_PROG_TEST_RUN, not attached: segments resolve by name.
    Checked<Compilation> compilation =
        compile_against_kernel(*loaded.value, current, {.resolve = resolve_interface});
    if (!compilation.ok())
      throw std::runtime_error("the policy does not compile:" +
                               diagnostics_text(compilation.diagnostics));
    CompiledPolicy compiled = compilation.value->compiled;
    ApplyOutcome outcome =
        must(apply_compiled(maps(), current, *loaded.value, std::move(compilation.value->compiled)));
    last_ = Applied{outcome, std::move(compiled), *loaded.value};
    return *last_;
  }

  // The id of a rule of the last apply, by canonical text: the compiled
  // rule table gives it, and vw_rule_info must describe it the same way.
  uint32_t rule_id(const std::string& canonical) const {
    if (!last_) throw std::runtime_error("nothing applied yet");
    auto rule = std::find_if(last_->compiled.rules.begin(), last_->compiled.rules.end(),
                             [&](const CompiledRule& r) { return r.text == canonical; });
    if (rule == last_->compiled.rules.end())
      throw std::runtime_error("no rule " + canonical + " in the compiled rule table");
    std::optional<vw_rule_info> info = must(maps().rule_info().get(rule->id));
    if (!info || info->kind != rule->kind ||
        std::string(info->text, strnlen(info->text, VW_RULE_TEXT_LEN)) != rule_info_text(canonical))
      throw std::runtime_error("vw_rule_info[" + std::to_string(rule->id) + "] does not describe " +
                               canonical);
    return rule->id;
  }

  // The id of a trusted service of the last apply, checked against vw_svc_info.
  uint32_t service_id(const std::string& name) const {
    if (!last_) throw std::runtime_error("nothing applied yet");
    auto found = last_->compiled.service_ids.find(name);
    if (found == last_->compiled.service_ids.end())
      throw std::runtime_error("no trusted service " + name + " in the compiled table");
    std::optional<vw_service_info> info = must(maps().service_info().get(found->second));
    if (!info || std::string(info->name, strnlen(info->name, VW_SERVICE_NAME_LEN)) != name)
      throw std::runtime_error("vw_svc_info[" + std::to_string(found->second) + "] is not " + name);
    return found->second;
  }

  vw_rule_info rule_info_in_kernel(uint32_t id) const {
    return must(maps().rule_info().get(id)).value_or(vw_rule_info{});
  }
  vw_counters rule_counters(uint32_t id) const {
    return must(read_counters(maps().rule_stats_fd(), VW_NAME(VW_MAP_RULE_STATS), id));
  }

  // Every row through expect_verdict, each failure named by its row.
  void expect_rows(const std::vector<Row>& rows) {
    for (const Row& row : rows) {
      SCOPED_TRACE(row.name);
      expect_verdict(row.frame, row.expected, row.ifindex);
    }
  }

  uint32_t app_ifindex() const { return app_ifindex_; }
  const Applied& last() const { return *last_; }

 private:
  uint32_t app_ifindex_ = 0;
  std::optional<Applied> last_;
};

// ---- The decision, step by step, for a policy applied from a vault document ----

TEST_F(ApplyPath, VaultDocumentDecidesEveryStepOfTheDecision) {
  apply_document(vault_document());

  const std::vector<Row> rows = {
      {"ip rule /24", tcp4(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRule24))},
      {"ip rule /25 inside the /24: the longer prefix is credited", tcp4(kFromRule25).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRule25))},
      {"ip rule of one address", tcp4(kFromRuleHost).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRuleHost))},
      {"ip rule of one address: its neighbour is denied", tcp4(kNextToRuleHost).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"ip rule on the second protected port (udp/8443)", udp4(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRule24))},
      {"vnet rule: subnet source on its interface segment", tcp4(kFromAppSubnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(rule_id(kAppSubnet)), app_ifindex()},
      {"vnet rule: subnet source on its VLAN-on-loopback segment",
       tcp4_vlan(kDataVlan, kFromDataSubnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(rule_id(kDataSubnet))},
      {"vnet segment, source outside the subnet", tcp4(kOutsideAppSubnet).bytes(),
       drops(VW_CLASS_DEFAULT_DENY), app_ifindex()},
      {"ip rule source arriving over a vnet segment does not match", tcp4(kFromRule24).bytes(),
       drops(VW_CLASS_DEFAULT_DENY), app_ifindex()},
      {"subnet source arriving from the public internet", tcp4(kFromAppSubnet).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"subnet source on the other vnet's segment", tcp4_vlan(kDataVlan, kFromAppSubnet).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"inactive vnet rule (no Microsoft.KeyVault endpoint) admits nothing",
       tcp4_vlan(kLegacyVlan, kFromLegacySubnet).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"trusted service Storage, from the Service Tags file", tcp4(kFromStorage).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(service_id("Storage"))},
      {"trusted service AzureResourceManager", tcp4(kFromArm).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(service_id("AzureResourceManager"))},
      {"published tag that is not trusted (AzureBackup)", tcp4(kFromBackup).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"private endpoint admits a stranger from a virtual network",
       tcp4(kStranger, kPrivateEndpoint).bytes(), passes(VW_CLASS_PRIVATE_ENDPOINT), app_ifindex()},
      {"private endpoint from the internet: the rules decide",
       tcp4(kStranger, kPrivateEndpoint).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"GRE from a stranger to the vault (no tunnel declared)",
       ip_tunnel4(kStranger, kProtoGre).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"VXLAN from an IP rule's source", udp_tunnel4(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRule24))},
      {"udp/8443 to the limited broadcast address", udp4(kStranger, kLimitedBroadcast).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"stranger gets the default action", tcp4(kStranger).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"ssh is not data plane", tcp4(kStranger, kVault, kSshPort).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"tcp/8443 is not protected (udp only)", tcp4(kStranger, kVault, 8443).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
  };
  expect_rows(rows);
}

// ---- Dual stack: IPv6 IP rules (profile dualstack) and subnets' IPv6 prefixes ----

// The vault document under profile dualstack with IPv6 IP rules, the web
// subnet dual stack and the db subnet IPv6 only.
std::string dualstack_document() {
  return edited_vault_document([](json& document) {
    document["vaultwall"]["profile"] = "dualstack";
    json& rules = acls(document)["ipRules"];
    rules.push_back({{"value", "2001:db8:100::/48"}});
    rules.push_back({{"value", "2001:db8:100:5::/64"}});
    rules.push_back({{"value", "2603:1000::7"}});
    json& vnets = document["vaultwall"]["virtualNetworks"];
    vnets[0]["subnets"][0].erase("addressPrefix");
    vnets[0]["subnets"][0]["addressPrefixes"] = {"10.1.0.0/24", "fd00:1::/64"};
    vnets[1]["subnets"][0]["addressPrefix"] = "fd00:2::/64";
  });
}

TEST_F(ApplyPath, DualstackCreditsIpv6RulesAndSubnetsOnTheirSegments) {
  apply_document(dualstack_document());
  const std::string kRule48 = "2001:db8:100::/48", kRule64 = "2001:db8:100:5::/64";
  const std::string kRuleHost6 = "2603:1000::7";
  EXPECT_TRUE(last().compiled.image.settings.flags & VW_SETTINGS_HAS_RULES6);

  const std::vector<Row> rows = {
      {"ipv6 ip rule /48", tcp6_from(ipv6("2001:db8:100:1::9")).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRule48))},
      {"ipv6 ip rule /64 inside the /48: the longer prefix is credited",
       tcp6_from(ipv6("2001:db8:100:5::9")).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRule64))},
      {"ipv6 ip rule of one address", tcp6_from(ipv6("2603:1000::7")).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRuleHost6))},
      {"ipv6 ip rule of one address: its neighbour is denied",
       tcp6_from(ipv6("2603:1000::8")).bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"ipv6 stranger is denied", tcp6_from(ipv6("2001:db8:101::1")).bytes(),
       drops(VW_CLASS_IPV6_DENY)},
      {"ipv4 ip rule unchanged", tcp4(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRule24))},
      {"ipv6 subnet prefix on its interface segment", tcp6_from(ipv6("fd00:1::5")).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(rule_id(kAppSubnet)), app_ifindex()},
      {"ipv4 prefix of the same dual-stack subnet", tcp4(kFromAppSubnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(rule_id(kAppSubnet)), app_ifindex()},
      {"ipv6-only subnet on its VLAN segment", tcp6_vlan(kDataVlan, ipv6("fd00:2::5")).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(rule_id(kDataSubnet))},
      {"ipv6 subnet source on the other vnet's segment",
       tcp6_vlan(kDataVlan, ipv6("fd00:1::5")).bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"ipv6 subnet source from the internet", tcp6_from(ipv6("fd00:1::5")).bytes(),
       drops(VW_CLASS_IPV6_DENY)},
      {"ipv6 ip rule source over a vnet segment does not match",
       tcp6_from(ipv6("2001:db8:100:1::9")).bytes(), drops(VW_CLASS_IPV6_DENY), app_ifindex()},
  };
  expect_rows(rows);
}

TEST_F(ApplyPath, Ipv6SubnetPrefixesAreEnforcedUnderAzureProfilesToo) {
  apply_document(edited_vault_document([](json& document) {
    json& subnet = document["vaultwall"]["virtualNetworks"][0]["subnets"][0];
    subnet.erase("addressPrefix");
    subnet["addressPrefixes"] = {"10.1.0.0/24", "fd00:1::/64"};
  }));
  expect_rows({
      {"ipv6 subnet prefix on its segment (akv-2018)", tcp6_from(ipv6("fd00:1::5")).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(rule_id(kAppSubnet)), app_ifindex()},
      {"outside it", tcp6_from(ipv6("fd00:3::5")).bytes(), drops(VW_CLASS_IPV6_DENY),
       app_ifindex()},
  });
}

// ---- IPv6 private endpoints (vw_endpoints6_N) ----

// The dualstack document with an IPv6 private endpoint bound to app-vnet
// and one for any virtual network, and a listed IPv6 data-plane address.
std::string endpoints6_document() {
  return edited_vault_document([](json& document) {
    json& host = document["vaultwall"];
    host["privateEndpoints"].push_back({{"address", "fd00:20::5"}, {"virtualNetwork", kVnets + "app-vnet"}});
    host["privateEndpoints"].push_back("fd00:20::6");
    host["dataPlane"]["addresses"].push_back("2001:db8:10::10");
  });
}

TEST_F(ApplyPath, Ipv6PrivateEndpointAdmitsItsVirtualNetworkOnly) {
  apply_document(endpoints6_document());
  EXPECT_EQ(last().compiled.image.endpoints6.size(), 3u);
  const Ipv6 bound = ipv6("fd00:20::5"), any = ipv6("fd00:20::6");
  auto to = [](const Ipv6& source, const Ipv6& destination, uint16_t vlan = 0) {
    PacketBuilder b;
    b.ethernet();
    if (vlan) b.vlan(vlan);
    b.ipv6(source, destination, kProtoTcp).tcp(40000, kHttpsPort);
    return b.bytes();
  };
  const Ipv6 stranger = ipv6("2001:db8:eeee::1");
  expect_rows({
      {"bound IPv6 private endpoint from its virtual network", to(stranger, bound),
       passes(VW_CLASS_PRIVATE_ENDPOINT), app_ifindex()},
      {"bound IPv6 private endpoint from another virtual network", to(stranger, bound, kDataVlan),
       drops(VW_CLASS_IPV6_DENY)},
      {"bound IPv6 private endpoint from the internet", to(stranger, bound),
       drops(VW_CLASS_IPV6_DENY)},
      {"IPv6 private endpoint of any virtual network, from one", to(stranger, any, kDataVlan),
       passes(VW_CLASS_PRIVATE_ENDPOINT)},
      {"listed public IPv6 address: decided as every IPv6 destination",
       to(stranger, ipv6("2001:db8:10::10")), drops(VW_CLASS_IPV6_DENY)},
  });
}

TEST_F(ApplyPath, VerifyFindsATamperedIpv6EndpointMap) {
  apply_document(endpoints6_document());
  PinDirLock lock = must(PinDirLock::acquire(maps().pin_dir()));
  KernelPolicy current = must(read_kernel_policy(maps()));
  EXPECT_TRUE(must(image_differences(maps(), current, last().compiled)).empty());
  EXPECT_TRUE(current.settings.flags & VW_SETTINGS_HAS_ENDPOINTS6);
  const auto& [key, value] = last().compiled.image.endpoints6.front();
  must(maps().endpoints6(current.slot).erase(key));
  std::vector<std::string> problems = must(image_differences(maps(), current, last().compiled));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "IPv6 endpoints: 1 entries missing from the kernel");
}

// vw_public6_N: an entry's inherited service (not its own, so reading the
// originals back cannot show it) is still checked.
TEST_F(ApplyPath, VerifyFindsAWrongInheritedValueInTheIpv6PublicTrie) {
  apply_document(dualstack_document());
  PinDirLock lock = must(PinDirLock::acquire(maps().pin_dir()));
  KernelPolicy current = must(read_kernel_policy(maps()));
  EXPECT_TRUE(must(image_differences(maps(), current, last().compiled)).empty());
  EXPECT_TRUE(current.settings.flags & VW_SETTINGS_HAS_PUBLIC6);
  auto entries = must(maps().public6(current.slot).entries());
  ASSERT_FALSE(entries.empty());
  auto [key, value] = entries.front();
  ASSERT_EQ(value.service_id, VW_SERVICE_NONE);
  value.service_id = 1;  // trusted_prefixlen stays 0: inherited, not its own
  must(maps().public6(current.slot).put(key, value));
  std::vector<std::string> problems = must(image_differences(maps(), current, last().compiled));
  EXPECT_EQ(problems, (std::vector<std::string>{
                          "IPv6 public trie: 1 entries missing from the kernel",
                          "IPv6 public trie: 1 unexpected entries in the kernel"}));
}

// The IPv6 source index is what the program reads (a wrong entry changes
// the verdict), VW_INDEX_TRIE sends the source to vw_public6_N (the same
// verdict as the index gave), and verify names a tampered entry.
TEST_F(ApplyPath, Ipv6SourcesAreDecidedByTheIndexAndByTheTrieWhereItSaysSo) {
  apply_document(dualstack_document());
  const std::string kRule48 = "2001:db8:100::/48";
  const Row allowed = {"ipv6 ip rule /48", tcp6_from(ipv6("2001:db8:100:1::9")).bytes(),
                       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRule48))};
  expect_rows({allowed});

  PinDirLock lock = must(PinDirLock::acquire(maps().pin_dir()));
  KernelPolicy current = must(read_kernel_policy(maps()));
  // vw_index6_N's one element: the nodes, then the top level.
  const int index6 = maps().fd(maps().index6(current.slot));
  const uint32_t zero = 0, top_entry = 0x2001;
  const auto original = std::make_unique<vw_index6>();
  ASSERT_EQ(bpf_map_lookup_elem(index6, &zero, original.get()), 0);
  ASSERT_NE(original->top[top_entry] & VW_INDEX_KIND, 0u)
      << "2001::/16 holds longer prefixes: a node or a list";
  const auto tampered = std::make_unique<vw_index6>(*original);
  auto write = [&](const vw_index6& value) {
    ASSERT_EQ(bpf_map_update_elem(index6, &zero, &value, BPF_ANY), 0);
  };

  tampered->top[top_entry] = VW_INDEX_TRIE;
  write(*tampered);
  expect_rows({allowed});
  const std::string index6_name = PinnedMaps::name(maps().index6(current.slot));
  EXPECT_EQ(must(image_differences(maps(), current, last().compiled)),
            (std::vector<std::string>{index6_name + ": 1 of 65536 entries differ from the rules"}));

  tampered->top[top_entry] = VW_INDEX_RESULT(VW_SERVICE_NONE, VW_RULE_NONE);
  write(*tampered);
  expect_rows({{"the same source, its index entry cleared", allowed.frame, drops(VW_CLASS_IPV6_DENY)}});

  // The node the top entry points to, changed: verify names the nodes.
  tampered->top[top_entry] = original->top[top_entry];
  tampered->node[(original->top[top_entry] & VW_INDEX6_NODE) / sizeof(vw_index_chunk)].entry[0] ^= 1;
  write(*tampered);
  const auto node_differences = must(image_differences(maps(), current, last().compiled));
  ASSERT_EQ(node_differences.size(), 1u);
  EXPECT_EQ(node_differences[0].rfind(index6_name + ": 1 of ", 0), 0u) << node_differences[0];
  EXPECT_NE(node_differences[0].find(" nodes differ from the rules"), std::string::npos)
      << node_differences[0];

  write(*original);
  expect_rows({allowed});
  EXPECT_TRUE(must(image_differences(maps(), current, last().compiled)).empty());
}

TEST_F(ApplyPath, RuleTableDescribesEveryRuleInTheKernel) {
  apply_document(vault_document());

  EXPECT_EQ(rule_info_in_kernel(rule_id(kRule24)).kind, VW_RULE_KIND_IP);
  EXPECT_EQ(rule_info_in_kernel(rule_id(kRuleHost)).kind, VW_RULE_KIND_IP);
  EXPECT_EQ(rule_info_in_kernel(rule_id(kAppSubnet)).kind, VW_RULE_KIND_VNET);
  // The inactive rule keeps an id (and counters) but compiles to no prefix.
  const uint32_t legacy = rule_id(kLegacySubnet);
  EXPECT_EQ(rule_info_in_kernel(legacy).kind, VW_RULE_KIND_VNET);
  for (const CompiledRule& rule : last().compiled.rules)
    if (rule.id == legacy) {
      EXPECT_FALSE(rule.active);
      EXPECT_TRUE(rule.prefixes.empty());
    }
  std::vector<uint32_t> ids;
  for (const std::string& text : {kRule24, kRule25, kRuleHost, kAppSubnet, kDataSubnet, kLegacySubnet})
    ids.push_back(rule_id(text));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "two rules share an id";
  EXPECT_EQ(last().outcome.new_generation, 1u);
  EXPECT_EQ(last().outcome.old_generation, 0u);
}

TEST_F(ApplyPath, PublicNetworkAccessDisabledAdmitsOnlyTrustedServicesAndPrivateEndpoints) {
  apply_document(edited_vault_document(
      [](json& d) { d["properties"]["publicNetworkAccess"] = "Disabled"; }));

  const std::vector<Row> rows = {
      {"ip rule ignored", tcp4(kFromRule24).bytes(), drops(VW_CLASS_PUBLIC_DISABLED)},
      {"vnet rule ignored", tcp4(kFromAppSubnet).bytes(), drops(VW_CLASS_PUBLIC_DISABLED),
       app_ifindex()},
      {"stranger", tcp4(kStranger).bytes(), drops(VW_CLASS_PUBLIC_DISABLED)},
      {"trusted service still passes", tcp4(kFromStorage).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(service_id("Storage"))},
      {"private endpoint still passes from a virtual network",
       tcp4(kStranger, kPrivateEndpoint).bytes(), passes(VW_CLASS_PRIVATE_ENDPOINT), app_ifindex()},
      {"private endpoint from the internet does not", tcp4(kStranger, kPrivateEndpoint).bytes(),
       drops(VW_CLASS_PUBLIC_DISABLED)},
  };
  expect_rows(rows);
}

TEST_F(ApplyPath, DeclaredTunnelsAndListenOnAddressesPassTheirPacketsUntouched) {
  apply_document(edited_vault_document([](json& d) {
    d["vaultwall"]["dataPlane"]["tunnels"] = json::array({"vxlan", "ip/47"});
    d["vaultwall"]["dataPlane"]["listen"] = "addresses";
  }));

  const std::vector<Row> rows = {
      {"declared VXLAN", udp_tunnel4(kStranger).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"declared GRE", ip_tunnel4(kStranger, kProtoGre).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"undeclared IP-in-IP", ip_tunnel4(kStranger, kProtoIpip).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"broadcast: the vault binds only its address", udp4(kStranger, kLimitedBroadcast).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"the vault's address is still protected", tcp4(kStranger).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
  };
  expect_rows(rows);
}

// A program loaded by a release that wrote no tunnels_decoded (0) predates
// IPComp: it passes IPComp to the vault undecided, so an apply whose slot
// asks for IPComp to be decided must say the program has a gap, and verify
// (image differences plus gaps) must not be green.
TEST_F(ApplyPath, AProgramThatPredatesATunnelKindIsAGapNotGreen) {
  const vw_abi_info loaded = must(maps().abi().at(0));
  EXPECT_EQ(loaded.tunnels_decoded, VW_TUNNELS_ALL) << "this release's loader records what it decodes";
  EXPECT_TRUE(apply_document(vault_document()).outcome.program_gaps.empty());

  must(maps().abi().put(0, vw_abi_info{VW_ABI_VERSION, 0}));
  const std::vector<std::string> gaps = apply_document(vault_document()).outcome.program_gaps;
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_NE(gaps[0].find("IPComp"), std::string::npos) << gaps[0];
  EXPECT_NE(gaps[0].find("vaultwall-loader load"), std::string::npos) << gaps[0];
  KernelPolicy current = must(read_kernel_policy(maps()));
  EXPECT_EQ(must(program_gaps(maps(), current.settings.tunnels)), gaps);

  // Declaring IPComp a tunnel of the host's own leaves nothing to decide.
  apply_document(edited_vault_document(
      [](json& d) { d["vaultwall"]["dataPlane"]["tunnels"] = json::array({"ipcomp"}); }));
  EXPECT_TRUE(last().outcome.program_gaps.empty());
}

TEST_F(ApplyPath, AuditModePassesWouldBeDeniesAndStillCreditsRules) {
  apply_document(edited_vault_document([](json& d) { d["vaultwall"]["mode"] = "audit"; }));

  const std::vector<Row> rows = {
      {"stranger would be denied", tcp4(kStranger).bytes(), passes(VW_CLASS_AUDIT_DENY)},
      {"ip rule still credited", tcp4(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRule24))},
      {"vnet rule still credited", tcp4(kFromAppSubnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(rule_id(kAppSubnet)), app_ifindex()},
  };
  expect_rows(rows);
}

TEST_F(ApplyPath, BypassNoneLoadsNoTrustedServices) {
  apply_document(edited_vault_document([](json& d) { acls(d)["bypass"] = "None"; }));

  EXPECT_TRUE(last().compiled.service_ids.empty());
  expect_verdict(tcp4(kFromStorage).bytes(), drops(VW_CLASS_DEFAULT_DENY));
}

TEST_F(ApplyPath, BareAclsUnderAkvCurrentTreatASlash32AsTheAddress) {
  apply_document(bare_akv_current_document());

  const std::vector<Row> rows = {
      {"198.51.100.7/32 is the rule 198.51.100.7", tcp4(kFromRuleHost).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id("198.51.100.7"))},
      {"a /31 is allowed under akv-current", tcp4(ipv4("192.0.2.129")).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(rule_id("192.0.2.128/31"))},
      {"bypass None: a trusted-service address is a stranger", tcp4(kFromStorage).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
  };
  expect_rows(rows);
}

// ---- Network security perimeter ---------------------------------------------

// The vault document associated with a perimeter: `office` admits the /25
// that is also an IP rule of the vault, `partners` a block of strangers.
std::string perimeter_document(const std::string& public_access, const std::string& mode) {
  return edited_vault_document([&](json& d) {
    d["properties"]["publicNetworkAccess"] = public_access;
    d["vaultwall"]["perimeter"] = {
        {"accessMode", mode},
        {"accessRules",
         {{{"name", "office"}, {"direction", "Inbound"}, {"addressPrefixes", {"203.0.113.128/25"}}},
          {{"name", "partners"},
           {"properties",
            {{"direction", "Inbound"},
             {"addressPrefixes", {"198.51.100.48/29", "2001:db8:4800::/48"}}}}},
          {{"name", "ops"},
           {"properties",
            {{"direction", "Inbound"},
             {"subscriptions", {{{"id", "/subscriptions/00000000-0000-0000-0000-000000000000"}}}}}}}}}};
  });
}

const std::string kOffice = "perimeter:office";
const std::string kPartners = "perimeter:partners";
const Ipv6 kFromPartners6 = ipv6("2001:db8:4800::9");  // partners' IPv6 prefix (any profile)

TEST_F(ApplyPath, PerimeterEnforcedAdmitsOnlyItsAccessRulesAndPrivateEndpoints) {
  apply_document(perimeter_document("SecuredByPerimeter", "Enforced"));

  EXPECT_EQ(rule_info_in_kernel(rule_id(kOffice)).kind, VW_RULE_KIND_PERIMETER);
  EXPECT_EQ(rule_info_in_kernel(rule_id(kOffice)).vnet_id, uint32_t{VW_VNET_PUBLIC});
  EXPECT_TRUE(last().compiled.service_ids.empty()) << "the bypass is overridden";
  EXPECT_EQ(std::count_if(last().compiled.rules.begin(), last().compiled.rules.end(),
                          [](const CompiledRule& r) { return r.kind != VW_RULE_KIND_PERIMETER; }),
            0)
      << "the vault's own rules are overridden, not compiled";
  const std::vector<Row> rows = {
      {"access rule office admits its /25", tcp4(kFromRule25).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(rule_id(kOffice))},
      {"access rule partners admits a stranger of its /29", tcp4(kStranger).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(rule_id(kPartners))},
      {"the vault's own IP rule is overridden", tcp4(kFromRule24).bytes(),
       drops(VW_CLASS_PERIMETER_DENY)},
      {"a trusted service is overridden", tcp4(kFromStorage).bytes(),
       drops(VW_CLASS_PERIMETER_DENY)},
      {"a vnet rule's subnet on its segment is overridden", tcp4(kFromAppSubnet).bytes(),
       drops(VW_CLASS_PERIMETER_DENY), app_ifindex()},
      {"a private endpoint is never subject to the perimeter",
       tcp4(kNextToRuleHost, kPrivateEndpoint).bytes(), passes(VW_CLASS_PRIVATE_ENDPOINT),
       app_ifindex()},
      {"nobody else", tcp4(kNextToRuleHost).bytes(), drops(VW_CLASS_PERIMETER_DENY)},
      {"access rule partners admits its IPv6 prefix", tcp6_from(kFromPartners6).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(rule_id(kPartners))},
      {"any other IPv6 source is the perimeter's deny", frames::tcp6().bytes(),
       drops(VW_CLASS_PERIMETER_DENY)},
      {"an IPv6 access-rule prefix over a vnet segment is denied",
       tcp6_from(kFromPartners6).bytes(), drops(VW_CLASS_PERIMETER_DENY), app_ifindex()},
  };
  // The access rules' IPv6 prefixes are the slot's public IPv6 rules (vw_public6_N).
  EXPECT_TRUE(last().compiled.image.settings.flags & VW_SETTINGS_HAS_PUBLIC6);
  EXPECT_FALSE(last().compiled.image.settings.flags & VW_SETTINGS_HAS_RULES6);
  expect_rows(rows);
}

TEST_F(ApplyPath, PerimeterEnforcedModeOverridesPublicNetworkAccessEnabled) {
  apply_document(perimeter_document("Enabled", "Enforced"));
  expect_verdict(tcp4(kFromRule24).bytes(), drops(VW_CLASS_PERIMETER_DENY));
  expect_verdict(tcp4(kFromRule25).bytes(),
                 passes(VW_CLASS_PERIMETER_RULE).crediting_rule(rule_id(kOffice)));
}

TEST_F(ApplyPath, PerimeterTransitionAdmitsBothAndCountsWhatOnlyTheVaultAdmits) {
  apply_document(perimeter_document("Enabled", "Transition"));

  EXPECT_EQ(rule_info_in_kernel(rule_id(kOffice)).vnet_id, uint32_t{VW_VNET_PERIMETER});
  const std::vector<Row> rows = {
      {"both admit: the perimeter's rule is credited", tcp4(kFromRule25).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(rule_id(kOffice))},
      {"the perimeter admits what the vault denies", tcp4(kStranger).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(rule_id(kPartners))},
      {"only the vault's IP rule admits: a would-be deny, still credited",
       tcp4(kFromRule24).bytes(),
       passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_rule(rule_id(kRule24))},
      {"only the trusted-services bypass admits", tcp4(kFromStorage).bytes(),
       passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_service(service_id("Storage"))},
      {"only a vnet rule admits", tcp4(kFromAppSubnet).bytes(),
       passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_rule(rule_id(kAppSubnet)), app_ifindex()},
      {"a perimeter prefix arriving over a vnet segment is not the perimeter's",
       tcp4(kStranger).bytes(), drops(VW_CLASS_DEFAULT_DENY), app_ifindex()},
      {"neither admits", tcp4(kNextToRuleHost).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"a private endpoint is never subject to the perimeter",
       tcp4(kNextToRuleHost, kPrivateEndpoint).bytes(), passes(VW_CLASS_PRIVATE_ENDPOINT),
       app_ifindex()},
      {"the perimeter admits an IPv6 source the vault denies", tcp6_from(kFromPartners6).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(rule_id(kPartners))},
      {"neither admits an IPv6 stranger", frames::tcp6().bytes(), drops(VW_CLASS_IPV6_DENY)},
  };
  expect_rows(rows);
}

TEST_F(ApplyPath, PerimeterTransitionWithPublicAccessDisabledAdmitsItsRules) {
  apply_document(perimeter_document("Disabled", "Learning"));
  const std::vector<Row> rows = {
      {"the perimeter's rule admits", tcp4(kFromRule25).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(rule_id(kOffice))},
      {"public access disabled: the vault's IP rule does not", tcp4(kFromRule24).bytes(),
       drops(VW_CLASS_PUBLIC_DISABLED)},
      {"the bypass still admits, and enforced would not", tcp4(kFromStorage).bytes(),
       passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_service(service_id("Storage"))},
  };
  expect_rows(rows);
}

// ---- One policy, many hosts -----------------------------------------------------

// The vault document without its host facts, and two hosts' facts for it.
std::string shared_policy() {
  return edited_vault_document([](json& d) {
    d["vaultwall"].erase("dataPlane");
    d["vaultwall"].erase("privateEndpoints");
    d["vaultwall"].erase("virtualNetworks");
    d["vaultwall"]["trustedServices"].erase("serviceTags");
  });
}

HostFactsText host_facts(const std::string& app_segment, const std::string& address) {
  json vaultwall = json::parse(vault_document())["vaultwall"];
  json facts = {{"dataPlane", vaultwall["dataPlane"]},
                {"privateEndpoints", vaultwall["privateEndpoints"]},
                {"virtualNetworks", vaultwall["virtualNetworks"]},
                {"serviceTags", VW_SERVICE_TAGS_FILE}};
  facts["virtualNetworks"][0]["segment"] = json::parse(app_segment);
  facts["dataPlane"]["addresses"] = {address};
  return {facts.dump(2), "host.json", "/", true};
}

// verify's drift check reads VLANs on any interface from their array
// (vw_vlans_N): an entry that differs from the document is drift, be it a
// VLAN the document binds to another network or to none, or the root of
// the network's index.
TEST_F(ApplyPath, VerifyReportsAVlanEntryThatDiffersFromTheDocument) {
  const Applied applied = apply_document(vault_document());
  const KernelPolicy current = must(read_kernel_policy(maps()));
  auto drift = [&] {
    std::string out;
    for (const std::string& line : must(image_differences(maps(), current, applied.compiled)))
      out += line + "\n";
    return out;
  };
  ASSERT_EQ(drift(), "");
  const TypedArray<vw_segment_value> vlans = maps().vlans(current.slot);
  const vw_segment_value legacy = must(vlans.at(kLegacyVlan));
  ASSERT_NE(legacy.vnet_id, VW_VNET_PUBLIC) << "VLAN 200 on any interface is in the array";

  vw_segment_value tampered = legacy;
  tampered.vnet_id += 1;
  must(vlans.put(kLegacyVlan, tampered));
  EXPECT_EQ(drift(),
            "segments: 1 entries missing from the kernel\n"
            "segments: 1 unexpected entries in the kernel\n");

  must(vlans.put(kLegacyVlan, legacy));
  must(vlans.put(4095, legacy));  // a VLAN the document binds to nothing
  EXPECT_EQ(drift(), "segments: 1 unexpected entries in the kernel\n");

  must(vlans.put(4095, vw_segment_value{}));
  tampered = legacy;
  tampered.index ^= 1;
  must(vlans.put(kLegacyVlan, tampered));
  EXPECT_NE(drift().find("1 segments point to another virtual-network index"), std::string::npos)
      << drift();

  must(vlans.put(kLegacyVlan, legacy));
  EXPECT_EQ(drift(), "");

  // The same VLAN moved from the array into the hash, where the program
  // never looks for a VLAN on any interface: the VID is no segment any
  // more, and the hash entry must not pass for the array's.
  const TypedMap<vw_segment_key, vw_segment_value> hashed = maps().segments(current.slot);
  vw_segment_key key{};
  key.vlan = kLegacyVlan;
  must(hashed.put(key, legacy));
  must(vlans.put(kLegacyVlan, vw_segment_value{}));
  EXPECT_EQ(drift(),
            "segments: 1 entries missing from the kernel\n"
            "segments: 1 unexpected entries in the kernel\n");
  EXPECT_FALSE(must(segments_match(maps(), current, applied.compiled)))
      << "apply must not call the slot unchanged";

  must(hashed.erase(key));
  must(vlans.put(kLegacyVlan, legacy));
  EXPECT_EQ(drift(), "");
}

TEST_F(ApplyPath, OnePolicyWithTwoHostsFactsCompilesToTheirSegmentsAndOnePolicyDigest) {
  auto segments_of_live_slot = [&] {
    KernelPolicy current = must(read_kernel_policy(maps()));
    auto entries = must(read_segments(maps(), current.slot));
    std::set<std::pair<uint32_t, uint16_t>> out;
    for (const auto& [key, value] : entries) out.insert({key.ifindex, key.vlan});
    return std::pair(current.info, out);
  };
  ParseOptions first_host, second_host;
  first_host.host_facts = host_facts(R"({"interface": "vwcapp"})", "192.0.2.10");
  second_host.host_facts = host_facts(R"({"vlan": 300})", "192.0.2.11");

  apply_document(shared_policy(), first_host);
  auto [first_info, first_segments] = segments_of_live_slot();
  expect_verdict(tcp4(kFromAppSubnet).bytes(),
                 passes(VW_CLASS_VNET_RULE).crediting_rule(rule_id(kAppSubnet)), app_ifindex());
  apply_document(shared_policy(), second_host);
  auto [second_info, second_segments] = segments_of_live_slot();
  expect_verdict(frames::tcp4_tagged({{300, 0x8100}}, kFromAppSubnet, ipv4("192.0.2.11")).bytes(),
                 passes(VW_CLASS_VNET_RULE).crediting_rule(rule_id(kAppSubnet)));

  EXPECT_TRUE(first_segments.contains({app_ifindex(), 0}));
  EXPECT_TRUE(second_segments.contains({0, 300}));
  EXPECT_NE(first_segments, second_segments);
  std::string first_policy = to_hex(first_info.policy_digest, VW_DIGEST_LEN);
  std::string second_policy = to_hex(second_info.policy_digest, VW_DIGEST_LEN);
  std::string first_compiled = to_hex(first_info.digest, VW_DIGEST_LEN);
  std::string second_compiled = to_hex(second_info.digest, VW_DIGEST_LEN);
  std::printf("host 1: policy digest %s, compiled digest %s\n", first_policy.c_str(),
              first_compiled.c_str());
  std::printf("host 2: policy digest %s, compiled digest %s\n", second_policy.c_str(),
              second_compiled.c_str());
  EXPECT_EQ(first_policy, second_policy) << "the policy is the same on both hosts";
  EXPECT_NE(first_compiled, second_compiled) << "their host facts differ";
  EXPECT_EQ(second_policy, last().compiled.policy_digest_hex);
}

// ---- Stable ids and counters across applies -------------------------------

TEST_F(ApplyPath, ReorderedReapplyKeepsIdsCountersAndDigest) {
  Applied first = apply_document(vault_document());
  const std::vector<std::string> identities = {kRule24, kRule25, kRuleHost, kAppSubnet,
                                               kDataSubnet, kLegacySubnet};
  std::map<std::string, uint32_t> ids_before;
  for (const std::string& text : identities) ids_before[text] = rule_id(text);
  expect_verdict(tcp4(kFromRule24).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(ids_before[kRule24]));
  expect_verdict(tcp4(kFromRuleHost).bytes(),
                 passes(VW_CLASS_IP_RULE).crediting_rule(ids_before[kRuleHost]));
  expect_verdict(tcp4(kFromAppSubnet).bytes(),
                 passes(VW_CLASS_VNET_RULE).crediting_rule(ids_before[kAppSubnet]), app_ifindex());

  Applied second = apply_document(edited_vault_document([](json& d) {
    std::reverse(acls(d)["ipRules"].begin(), acls(d)["ipRules"].end());
    std::reverse(acls(d)["virtualNetworkRules"].begin(), acls(d)["virtualNetworkRules"].end());
  }));

  for (const std::string& text : identities) EXPECT_EQ(rule_id(text), ids_before[text]) << text;
  EXPECT_TRUE(second.compiled.freed_rule_ids.empty());
  EXPECT_EQ(second.outcome.new_digest, first.outcome.new_digest) << "the digest ignores order";
  EXPECT_EQ(second.outcome.new_generation, first.outcome.new_generation + 1);
  EXPECT_NE(second.outcome.slot, first.outcome.slot) << "every apply flips the slot";
  EXPECT_EQ(rule_counters(ids_before[kRule24]).packets, 1u);
  EXPECT_EQ(rule_counters(ids_before[kRuleHost]).packets, 1u);
  EXPECT_EQ(rule_counters(ids_before[kAppSubnet]).packets, 1u);
  EXPECT_EQ(rule_counters(ids_before[kRule25]).packets, 0u);

  // The kept counter keeps counting under the same id.
  expect_verdict(tcp4(kFromRule24).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(ids_before[kRule24]));
  EXPECT_EQ(rule_counters(ids_before[kRule24]).packets, 2u);
}

TEST_F(ApplyPath, RemovedRuleIdIsZeroedAndOnlyReusedByALaterApply) {
  apply_document(vault_document());
  const uint32_t removed_id = rule_id(kRuleHost);
  expect_verdict(tcp4(kFromRuleHost).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(removed_id));
  expect_verdict(tcp4(kFromRuleHost).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(removed_id));
  ASSERT_EQ(rule_counters(removed_id).packets, 2u);

  // Remove 198.51.100.7 and add 192.0.2.128/25 in the same apply.
  Applied removal = apply_document(edited_vault_document([](json& d) {
    acls(d)["ipRules"] = json::array({{{"value", "203.0.113.0/24"}},
                                      {{"value", "203.0.113.128/25"}},
                                      {{"value", "192.0.2.128/25"}}});
  }));
  EXPECT_EQ(removal.compiled.freed_rule_ids, std::vector<uint32_t>{removed_id});
  EXPECT_EQ(rule_info_in_kernel(removed_id).kind, VW_RULE_KIND_UNUSED) << "info of a freed id";
  EXPECT_EQ(rule_counters(removed_id).packets, 0u) << "counters of a freed id";
  EXPECT_EQ(rule_counters(removed_id).bytes, 0u);
  EXPECT_NE(rule_id("192.0.2.128/25"), removed_id) << "an id freed in this apply was reused at once";
  expect_verdict(tcp4(kFromRuleHost).bytes(), drops(VW_CLASS_DEFAULT_DENY));

  // The next new rule takes the lowest free id: the freed one, still at zero.
  apply_document(edited_vault_document([](json& d) {
    acls(d)["ipRules"] = json::array({{{"value", "203.0.113.0/24"}},
                                      {{"value", "203.0.113.128/25"}},
                                      {{"value", "192.0.2.128/25"}},
                                      {{"value", "198.51.100.64/26"}}});
  }));
  EXPECT_EQ(rule_id("198.51.100.64/26"), removed_id);
  EXPECT_EQ(rule_counters(removed_id).packets, 0u);
  expect_verdict(tcp4(ipv4("198.51.100.70")).bytes(),
                 passes(VW_CLASS_IP_RULE).crediting_rule(removed_id));
  EXPECT_EQ(rule_counters(removed_id).packets, 1u) << "the new rule starts from zero";
}

TEST_F(ApplyPath, UnchangedReapplyBumpsTheGenerationOnly) {
  Applied first = apply_document(vault_document());
  const uint32_t id = rule_id(kRule24);
  expect_verdict(tcp4(kFromRule24).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(id));

  Applied second = apply_document(vault_document());

  EXPECT_EQ(second.outcome.old_generation, 1u);
  EXPECT_EQ(second.outcome.new_generation, 2u);
  EXPECT_EQ(second.outcome.old_digest, first.outcome.new_digest);
  EXPECT_EQ(second.outcome.new_digest, first.outcome.new_digest);
  EXPECT_EQ(rule_id(kRule24), id);
  EXPECT_EQ(rule_counters(id).packets, 1u);
  KernelPolicy kernel = must(read_kernel_policy(maps()));
  EXPECT_EQ(kernel.info.generation, 2u);
  EXPECT_EQ(kernel.slot, second.outcome.slot);
}

// ---- Read-modify-apply, as network-rule add and update do it --------------

// The document the kernel holds, edited as JSON and applied again: what
// `vaultwallctl network-rule add` and `update` do under the lock.
std::string kernel_document_edited(const PinnedMaps& maps, const std::function<void(json&)>& edit) {
  KernelPolicy current = must(read_kernel_policy(maps));
  json document = json::parse(to_azure_json(current_or_default(current)));
  edit(document);
  return document.dump();
}

TEST_F(ApplyPath, StoredDocumentLoadsBackToTheAppliedPolicy) {
  Applied applied = apply_document(vault_document());

  KernelPolicy kernel = must(read_kernel_policy(maps()));
  ASSERT_TRUE(kernel.policy.has_value());
  EXPECT_EQ(*kernel.policy, applied.policy) << "show -> apply would not be a no-op";
  EXPECT_EQ(kernel.rule_ids, applied.compiled.rule_ids);
  EXPECT_EQ(kernel.service_ids, applied.compiled.service_ids);
}

TEST_F(ApplyPath, NetworkRuleAddKeepsOtherIdsAndCountersAndAdmitsTheNewSource) {
  apply_document(vault_document());
  const uint32_t id24 = rule_id(kRule24);
  const uint32_t app = rule_id(kAppSubnet);
  expect_verdict(tcp4(kFromRule24).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(id24));
  expect_verdict(tcp4(ipv4("192.0.2.77")).bytes(), drops(VW_CLASS_DEFAULT_DENY));

  Applied added = apply_document(kernel_document_edited(
      maps(), [](json& d) { acls(d)["ipRules"].push_back({{"value", "192.0.2.77"}}); }));

  EXPECT_EQ(added.outcome.new_generation, 2u);
  EXPECT_EQ(rule_id(kRule24), id24);
  EXPECT_EQ(rule_id(kAppSubnet), app);
  EXPECT_EQ(rule_counters(id24).packets, 1u);
  expect_verdict(tcp4(ipv4("192.0.2.77")).bytes(),
                 passes(VW_CLASS_IP_RULE).crediting_rule(rule_id("192.0.2.77")));
}

TEST_F(ApplyPath, UpdateDefaultActionAllowFlipsStrangersToDefaultAllow) {
  apply_document(vault_document());
  expect_verdict(tcp4(kStranger).bytes(), drops(VW_CLASS_DEFAULT_DENY));

  apply_document(kernel_document_edited(maps(), [](json& d) { acls(d)["defaultAction"] = "Allow"; }));

  expect_verdict(tcp4(kStranger).bytes(), passes(VW_CLASS_DEFAULT_ALLOW));
  expect_verdict(tcp4(kFromRule25).bytes(),
                 passes(VW_CLASS_IP_RULE).crediting_rule(rule_id(kRule25)));
}

TEST_F(ApplyPath, AddingAnExistingRuleInItsOtherCanonicalFormChangesNothing) {
  apply_document(bare_akv_current_document());
  KernelPolicy before = must(read_kernel_policy(maps()));
  ASSERT_TRUE(before.policy.has_value());

  // 198.51.100.7 is applied; 198.51.100.7/32 is the same rule under akv-current.
  Checked<Policy> edited = load_policy(kernel_document_edited(
      maps(), [](json& d) { acls(d)["ipRules"].push_back({{"value", "198.51.100.7/32"}}); }));
  ASSERT_TRUE(edited.ok()) << diagnostics_text(edited.diagnostics);
  EXPECT_EQ(*edited.value, *before.policy) << "network-rule add would apply a change";

  // And a subnet id differing only in case is the same VNET rule.
  apply_document(vault_document());
  KernelPolicy vault = must(read_kernel_policy(maps()));
  Checked<Policy> same_subnet = load_policy(kernel_document_edited(maps(), [](json& d) {
    acls(d)["virtualNetworkRules"].push_back(
        {{"id", kVnets + "APP-VNET/subnets/WEB"}, {"ignoreMissingVnetServiceEndpoint", false}});
  }));
  ASSERT_TRUE(same_subnet.ok()) << diagnostics_text(same_subnet.diagnostics);
  EXPECT_EQ(*same_subnet.value, *vault.policy);
}

}  // namespace
}  // namespace vaultwall::testing
