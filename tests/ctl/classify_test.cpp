// The reference classifier on each step of DESIGN §1.1–1.2, and a check
// that it agrees with an interpreter of the compiled slot image (which does
// what decide_ipv4 does with the maps) on many packets.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "test_support.h"

namespace vaultwall::test {
namespace {

constexpr const char* kSubnet =
    "/subscriptions/0/resourcegroups/rg/providers/microsoft.network/virtualnetworks/v/subnets/s";

constexpr const char* kDataPlane =
    R"("dataPlane": {"addresses": ["192.0.2.10"], "ports": ["tcp/443", "udp/443"]})";
constexpr const char* kPrivateEndpoints = R"("privateEndpoints": ["10.20.0.5"])";

std::string policy_text(std::string_view acls_extra = "", std::string_view host_extra = "",
                        std::string_view public_access = "Enabled",
                        std::string_view data_plane = kDataPlane,
                        std::string_view private_endpoints = kPrivateEndpoints) {
  return std::string(R"({"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices",
     "ipRules": [{"value": "203.0.113.0/24"}, {"value": "203.0.113.128/25"}, {"value": "198.51.100.7"}],
     "virtualNetworkRules": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}])") +
         std::string(acls_extra) + R"(},
   "publicNetworkAccess": ")" +
         std::string(public_access) + R"(",
   "vaultwall": {
     )" + std::string(data_plane) +
         ", " + std::string(private_endpoints) + R"(,
     "virtualNetworks": [
       {"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "segment": {"interface": "eth1", "vlan": 100},
        "subnets": [{"name": "s", "addressPrefix": "10.1.0.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]},
       {"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/w", "segment": {"vlan": 200},
        "subnets": [{"name": "t", "addressPrefix": "10.2.0.0/24"}]}],
     "trustedServices": {"custom": [{"name": "svc-a", "addressPrefixes": ["52.96.0.0/14", "203.0.113.0/26"]},
                                    {"name": "svc-b", "addressPrefixes": ["52.98.0.0/16"]}]})" +
         std::string(host_extra) + "}}";
}

struct Fixture {
  Policy policy;
  TrustedSet trusted;
  CompiledPolicy compiled;
  ClassifierContext context;

  explicit Fixture(const std::string& text) {
    policy = must_load(text);
    trusted = resolve_trusted_services(policy, nullptr).value.value_or(TrustedSet{});
    compiled = run_pipeline(policy, trusted).compiled.value_or(CompiledPolicy{});
    context = context_for(compiled, trusted, fake_interfaces);
  }

  Classification classify(PacketDescription packet) const {
    return vaultwall::classify(policy, context, packet);
  }
  uint32_t id(const std::string& identity) const { return compiled.rule_ids.at(identity); }
};

PacketDescription packet(const char* source, const char* destination = "192.0.2.10",
                         uint16_t port = 443) {
  PacketDescription p;
  p.source = *parse_ipv4(source);
  p.destination = *parse_ipv4(destination);
  p.destination_port = port;
  p.ifindex = 10;  // eth0: the internet side
  return p;
}

TEST(Classify, Scope_NotIpAndMalformed) {
  Fixture f(policy_text());
  PacketDescription p = packet("8.8.8.8");
  p.family = PacketFamily::kNotIp;
  EXPECT_EQ(f.classify(p).verdict_class, uint32_t{VW_CLASS_NOT_IP});
  p = packet("8.8.8.8");
  p.malformed = true;
  auto v = f.classify(p);
  EXPECT_EQ(v.verdict_class, uint32_t{VW_CLASS_MALFORMED});
  EXPECT_FALSE(v.passes);
}

TEST(Classify, Scope_OtherPortsProtocolsAndDestinationsAreUntouched) {
  Fixture f(policy_text());
  EXPECT_EQ(f.classify(packet("8.8.8.8", "192.0.2.10", 22)).verdict_class,
            uint32_t{VW_CLASS_UNPROTECTED});
  EXPECT_EQ(f.classify(packet("8.8.8.8", "192.0.2.99")).verdict_class,
            uint32_t{VW_CLASS_UNPROTECTED});
  PacketDescription icmp = packet("8.8.8.8");
  icmp.proto = 1;
  EXPECT_EQ(f.classify(icmp).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  PacketDescription udp = packet("8.8.8.8");
  udp.proto = 17;
  EXPECT_EQ(f.classify(udp).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});  // udp/443 listed
}

TEST(Classify, Scope_EveryDestinationWhenNoneListed) {
  Fixture f(R"({"networkAcls": {"defaultAction": "Deny"}})");
  EXPECT_EQ(f.classify(packet("8.8.8.8", "192.0.2.99")).verdict_class,
            uint32_t{VW_CLASS_DEFAULT_DENY});
}

TEST(Classify, Step1_PrivateEndpointFromAVirtualNetworkIsAllowedEvenWhenPublicAccessIsDisabled) {
  Fixture f(policy_text("", "", "Disabled"));
  PacketDescription p = packet("8.8.8.8", "10.20.0.5");
  p.vlan = 200;  // virtual network w, VLAN 200 on any interface
  auto v = f.classify(p);
  EXPECT_EQ(v.verdict_class, uint32_t{VW_CLASS_PRIVATE_ENDPOINT});
  EXPECT_TRUE(v.passes);
}

// Azure reaches a private endpoint only through its virtual network: from
// the internet it gets what any protected address gets.
TEST(Classify, Step1_PrivateEndpointFromTheInternetGetsTheNormalDecision) {
  Fixture disabled(policy_text("", "", "Disabled"));
  auto v = disabled.classify(packet("8.8.8.8", "10.20.0.5"));
  EXPECT_EQ(v.verdict_class, uint32_t{VW_CLASS_PUBLIC_DISABLED});
  EXPECT_FALSE(v.passes);
  ASSERT_FALSE(v.steps.empty());
  EXPECT_NE(v.steps[1].find("reached only through a virtual network"), std::string::npos)
      << v.steps[1];
  Fixture enabled(policy_text());
  EXPECT_EQ(enabled.classify(packet("8.8.8.8", "10.20.0.5")).verdict_class,
            uint32_t{VW_CLASS_DEFAULT_DENY});
  auto ruled = enabled.classify(packet("198.51.100.7", "10.20.0.5"));
  EXPECT_EQ(ruled.verdict_class, uint32_t{VW_CLASS_IP_RULE});
  EXPECT_EQ(ruled.rule_id, enabled.id("198.51.100.7"));
}

TEST(Classify, Step1_BoundPrivateEndpointAdmitsOnlyItsVirtualNetwork) {
  Fixture f(policy_text("", "", "Enabled", kDataPlane, R"("privateEndpoints": ["10.20.0.5",
      {"address": "10.20.0.6",
       "virtualNetwork": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/W"}])"));
  PacketDescription p = packet("8.8.8.8", "10.20.0.6");
  p.vlan = 200;  // w
  EXPECT_EQ(f.classify(p).verdict_class, uint32_t{VW_CLASS_PRIVATE_ENDPOINT});
  p.vlan = 100;  // v, on eth1 (ifindex 11)
  p.ifindex = 11;
  auto other = f.classify(p);
  EXPECT_EQ(other.verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
  EXPECT_NE(other.steps[1].find("another virtual network"), std::string::npos) << other.steps[1];
}

// Tunnels to a protected address: data plane, decided by the outer source.
TEST(Classify, UndeclaredTunnelsAreDecidedByTheirOuterSource) {
  Fixture f(policy_text());
  PacketDescription gre = packet("8.8.8.8", "192.0.2.10", 0);
  gre.proto = 47;
  EXPECT_EQ(f.classify(gre).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
  gre.source = *parse_ipv4("198.51.100.7");
  auto ruled = f.classify(gre);
  EXPECT_EQ(ruled.verdict_class, uint32_t{VW_CLASS_IP_RULE});
  EXPECT_NE(ruled.steps[0].find("GRE (IP protocol 47) is a tunnel"), std::string::npos)
      << ruled.steps[0];
  PacketDescription vxlan = packet("8.8.8.8", "192.0.2.10", 4789);
  vxlan.proto = 17;
  EXPECT_EQ(f.classify(vxlan).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
  vxlan.destination_port = 4788;
  EXPECT_EQ(f.classify(vxlan).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  PacketDescription esp6 = packet("8.8.8.8", "192.0.2.10", 0);
  esp6.family = PacketFamily::kIpv6;
  esp6.proto = 50;
  EXPECT_EQ(f.classify(esp6).verdict_class, uint32_t{VW_CLASS_IPV6_DENY});
  PacketDescription icmp = packet("8.8.8.8", "192.0.2.10", 0);
  icmp.proto = 1;
  EXPECT_EQ(f.classify(icmp).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
}

TEST(Classify, DeclaredTunnelsPassUntouched) {
  Fixture f(policy_text("", "", "Enabled",
                        R"("dataPlane": {"addresses": ["192.0.2.10"], "ports": ["tcp/443"],
                                         "tunnels": ["gre", "udp/4789"]})"));
  PacketDescription gre = packet("8.8.8.8", "192.0.2.10", 0);
  gre.proto = 47;
  EXPECT_EQ(f.classify(gre).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  gre.later_fragment = true;
  EXPECT_EQ(f.classify(gre).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  PacketDescription vxlan = packet("8.8.8.8", "192.0.2.10", 4789);
  vxlan.proto = 17;
  EXPECT_EQ(f.classify(vxlan).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  PacketDescription ipip = packet("8.8.8.8", "192.0.2.10", 0);
  ipip.proto = 4;
  EXPECT_EQ(f.classify(ipip).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
}

// Fragments: an IP tunnel's are decided by source; a UDP fragment is only
// when a UDP port is protected (UDP tunnels alone: the first fragment,
// which holds the port, is decided, and nothing reassembles without it).
TEST(Classify, FragmentsOfTunnels) {
  Fixture tcp_only(policy_text("", "", "Enabled", R"("dataPlane": {"addresses": ["192.0.2.10"]})"));
  PacketDescription p = packet("8.8.8.8", "192.0.2.10", 0);
  p.later_fragment = true;
  p.proto = 47;
  EXPECT_EQ(tcp_only.classify(p).verdict_class, uint32_t{VW_CLASS_FRAGMENT_DENY});
  p.proto = 17;
  EXPECT_EQ(tcp_only.classify(p).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  Fixture with_udp(policy_text());
  EXPECT_EQ(with_udp.classify(p).verdict_class, uint32_t{VW_CLASS_FRAGMENT_DENY});
}

// DESIGN §1.1, weak host: an unlisted destination is data plane when a
// wildcard socket owns its port and the host keeps the packet.
TEST(Classify, WeakHostDestinations) {
  Fixture f(policy_text());
  PacketDescription p = packet("8.8.8.8", "10.200.0.1");
  EXPECT_EQ(f.classify(p).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  p.wildcard_socket = true;
  auto decided = f.classify(p);
  EXPECT_EQ(decided.verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
  EXPECT_NE(decided.steps[0].find("socket bound to the wildcard address"), std::string::npos);
  p.forwarded = true;
  EXPECT_EQ(f.classify(p).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  for (const char* group : {"224.0.0.1", "239.255.255.250", "255.255.255.255"}) {
    PacketDescription b = packet("8.8.8.8", group);
    b.proto = 17;
    EXPECT_EQ(f.classify(b).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY}) << group;
  }
  PacketDescription gre = packet("8.8.8.8", "10.200.0.1", 0);
  gre.proto = 47;
  EXPECT_EQ(f.classify(gre).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});  // kept, not forwarded
  gre.forwarded = true;
  EXPECT_EQ(f.classify(gre).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
}

TEST(Classify, ListenOnAddressesProtectsOnlyThem) {
  Fixture f(policy_text("", "", "Enabled",
                        R"("dataPlane": {"addresses": ["192.0.2.10"], "listen": "addresses",
                                         "ports": ["tcp/443", "udp/443"]})"));
  PacketDescription p = packet("8.8.8.8", "255.255.255.255");
  p.wildcard_socket = true;
  EXPECT_EQ(f.classify(p).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  p.destination = *parse_ipv4("10.200.0.1");
  EXPECT_EQ(f.classify(p).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  p.destination = *parse_ipv4("192.0.2.10");
  EXPECT_EQ(f.classify(p).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
}

TEST(Classify, Step2_PublicAccessDisabledDeniesRulesButNotTrustedServices) {
  Fixture f(policy_text("", "", "Disabled"));
  auto v = f.classify(packet("198.51.100.7"));
  EXPECT_EQ(v.verdict_class, uint32_t{VW_CLASS_PUBLIC_DISABLED});
  EXPECT_FALSE(v.passes);
  EXPECT_EQ(v.rule_id, 0u);
  ASSERT_EQ(v.other_rules.size(), 1u);  // the rule that would have matched
  EXPECT_EQ(v.other_rules[0].text, "198.51.100.7");
  auto trusted = f.classify(packet("52.98.1.1"));
  EXPECT_EQ(trusted.verdict_class, uint32_t{VW_CLASS_TRUSTED});
  EXPECT_EQ(trusted.service_id, f.compiled.service_ids.at("svc-b"));
}

TEST(Classify, Step3_IpRuleLongestPrefixIsCreditedAndTheOtherListed) {
  Fixture f(policy_text());
  auto v = f.classify(packet("203.0.113.200"));
  EXPECT_EQ(v.verdict_class, uint32_t{VW_CLASS_IP_RULE});
  EXPECT_EQ(v.rule_id, f.id("203.0.113.128/25"));
  ASSERT_EQ(v.other_rules.size(), 1u);
  EXPECT_EQ(v.other_rules[0].rule_id, f.id("203.0.113.0/24"));
  // A rule match wins over a trusted prefix (we look rules up first); the
  // service is shown, not credited.
  auto both = f.classify(packet("203.0.113.5"));
  EXPECT_EQ(both.verdict_class, uint32_t{VW_CLASS_IP_RULE});
  EXPECT_EQ(both.rule_id, f.id("203.0.113.0/24"));
  EXPECT_EQ(both.service_id, 0u);
  ASSERT_EQ(both.other_services.size(), 1u);
  EXPECT_EQ(both.other_services[0].name, "svc-a");
}

TEST(Classify, Step3_VnetRuleNeedsTheSegmentAndTheSubnet) {
  Fixture f(policy_text());
  PacketDescription from_vnet = packet("10.1.0.9");
  from_vnet.ifindex = 11;  // eth1
  from_vnet.vlan = 100;
  auto v = f.classify(from_vnet);
  EXPECT_EQ(v.verdict_class, uint32_t{VW_CLASS_VNET_RULE});
  EXPECT_EQ(v.rule_id, f.id(kSubnet));
  EXPECT_EQ(v.vnet_id, 1u);

  PacketDescription wrong_vlan = from_vnet;
  wrong_vlan.vlan = 101;
  EXPECT_EQ(f.classify(wrong_vlan).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
  PacketDescription from_internet = packet("10.1.0.9");  // right address, wrong place
  EXPECT_EQ(f.classify(from_internet).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
  PacketDescription outside_subnet = from_vnet;
  outside_subnet.source = *parse_ipv4("10.1.1.9");
  EXPECT_EQ(f.classify(outside_subnet).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
}

TEST(Classify, Step3_IpRulesNeverMatchVnetTraffic) {
  Fixture f(policy_text());
  PacketDescription p = packet("198.51.100.7");
  p.ifindex = 15;
  p.vlan = 200;  // vnet w: a VLAN-only segment, any interface
  auto v = f.classify(p);
  EXPECT_EQ(v.verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
  EXPECT_EQ(v.vnet,
            "/subscriptions/0/resourcegroups/rg/providers/microsoft.network/virtualnetworks/w");
}

TEST(Classify, Step4_TrustedServiceLongestPrefix) {
  Fixture f(policy_text());
  auto v = f.classify(packet("52.98.3.3"));  // in svc-a's /14 and svc-b's /16
  EXPECT_EQ(v.verdict_class, uint32_t{VW_CLASS_TRUSTED});
  EXPECT_EQ(v.service_id, f.compiled.service_ids.at("svc-b"));
  ASSERT_EQ(v.other_services.size(), 1u);
  EXPECT_EQ(v.other_services[0].name, "svc-a");
}

TEST(Classify, Step4_BypassNoneIgnoresTrustedPrefixes) {
  Fixture f(policy_text(R"(, "bypass": "None")")
                .replace(policy_text().find("\"bypass\": \"AzureServices\","), 26, ""));
  EXPECT_EQ(f.classify(packet("52.98.3.3")).verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
}

TEST(Classify, Step5_DefaultAllow) {
  Fixture f(R"({"networkAcls": {"defaultAction": "Allow"}})");
  auto v = f.classify(packet("8.8.8.8"));
  EXPECT_EQ(v.verdict_class, uint32_t{VW_CLASS_DEFAULT_ALLOW});
  EXPECT_TRUE(v.passes);
}

TEST(Classify, Step6_AuditModePassesWouldBeDenies) {
  Fixture f(policy_text("", R"(, "mode": "audit")"));
  auto v = f.classify(packet("8.8.8.8"));
  EXPECT_EQ(v.verdict_class, uint32_t{VW_CLASS_AUDIT_DENY});
  EXPECT_TRUE(v.passes);
  PacketDescription bad = packet("8.8.8.8");
  bad.malformed = true;
  EXPECT_EQ(f.classify(bad).verdict_class, uint32_t{VW_CLASS_MALFORMED});  // not a policy decision
}

TEST(Classify, DenyActionRejectAnswersDeniedTcpOnly) {
  Fixture f(policy_text("", R"(, "denyAction": "reject")"));
  auto tcp = f.classify(packet("8.8.8.8"));
  EXPECT_EQ(tcp.verdict_class, uint32_t{VW_CLASS_DEFAULT_DENY});
  EXPECT_FALSE(tcp.passes);
  EXPECT_TRUE(tcp.rejected);
  EXPECT_NE(tcp.steps.back().find("would be rejected"), std::string::npos) << tcp.steps.back();
  PacketDescription udp = packet("8.8.8.8", "192.0.2.10", 443);
  udp.proto = 17;
  auto dropped = f.classify(udp);
  EXPECT_FALSE(dropped.passes);
  EXPECT_FALSE(dropped.rejected);
  EXPECT_FALSE(f.classify(packet("198.51.100.7")).rejected) << "allowed";
  PacketDescription bad = packet("8.8.8.8");
  bad.malformed = true;
  EXPECT_FALSE(f.classify(bad).rejected) << "malformed is no policy decision";
  Fixture audit(policy_text("", R"(, "denyAction": "reject", "mode": "audit")"));
  auto passed = audit.classify(packet("8.8.8.8"));
  EXPECT_TRUE(passed.passes);
  EXPECT_FALSE(passed.rejected) << "audit mode never rejects";
}

TEST(Classify, FragmentsAreDecidedBySourceWithoutCredit) {
  Fixture f(policy_text());
  PacketDescription p = packet("198.51.100.7", "192.0.2.10", 0);
  p.later_fragment = true;
  auto allowed = f.classify(p);
  EXPECT_EQ(allowed.verdict_class, uint32_t{VW_CLASS_FRAGMENT_ALLOW});
  EXPECT_EQ(allowed.rule_id, 0u);
  p.source = *parse_ipv4("8.8.8.8");
  EXPECT_EQ(f.classify(p).verdict_class, uint32_t{VW_CLASS_FRAGMENT_DENY});
}

TEST(Classify, Ipv6GetsTheDefaultAction) {
  Fixture deny(policy_text());
  PacketDescription p = packet("8.8.8.8");
  p.family = PacketFamily::kIpv6;
  EXPECT_EQ(deny.classify(p).verdict_class, uint32_t{VW_CLASS_IPV6_DENY});
  Fixture allow(R"({"networkAcls": {"defaultAction": "Allow"}})");
  EXPECT_EQ(allow.classify(p).verdict_class, uint32_t{VW_CLASS_IPV6_ALLOW});
  Fixture disabled(
      R"({"networkAcls": {"defaultAction": "Allow"}, "publicNetworkAccess": "Disabled"})");
  EXPECT_EQ(disabled.classify(p).verdict_class, uint32_t{VW_CLASS_IPV6_DENY});
  p.destination_port = 22;
  EXPECT_EQ(allow.classify(p).verdict_class, uint32_t{VW_CLASS_UNPROTECTED});
  p.transport_unknown = true;
  EXPECT_EQ(deny.classify(p).verdict_class, uint32_t{VW_CLASS_IPV6_DENY});  // fail closed
}

// Profile dualstack: IPv6 IP rules from the internet, a subnet's IPv6
// prefix from its virtual network's segment, credited as IPv4 ones are.
TEST(Classify, Ipv6RulesAndSubnetPrefixesAreCredited) {
  std::string text = policy_text(
      R"(, "ipRules": [{"value": "2603:1000::/40"}, {"value": "2603:1000:0:1::/64"}])",
      R"(, "profile": "dualstack")");
  // The fixture's subnet s is made dual stack.
  text.replace(text.find(R"("addressPrefix": "10.1.0.0/24")"), 30,
               R"("addressPrefixes": ["10.1.0.0/24", "fd00:1::/64"])");
  // The IPv6 rules replace the fixture's IPv4 ones (one ipRules list).
  text.replace(text.find(R"("ipRules": [{"value": "203.0.113.0/24"}, {"value": "203.0.113.128/25"}, {"value": "198.51.100.7"}],)"),
               std::string(R"("ipRules": [{"value": "203.0.113.0/24"}, {"value": "203.0.113.128/25"}, {"value": "198.51.100.7"}],)").size(),
               "");
  Fixture f(text);
  auto six = [](const char* source, uint32_t ifindex = 10, uint16_t vlan = 0) {
    PacketDescription p;
    p.family = PacketFamily::kIpv6;
    p.source6 = *parse_ipv6(source);
    p.ifindex = ifindex;
    p.vlan = vlan;
    return p;
  };
  auto wide = f.classify(six("2603:1000:0:2::9"));
  EXPECT_EQ(wide.verdict_class, uint32_t{VW_CLASS_IP_RULE});
  EXPECT_EQ(wide.rule_id, f.id("2603:1000::/40"));
  auto narrow = f.classify(six("2603:1000:0:1::9"));
  EXPECT_EQ(narrow.rule_id, f.id("2603:1000:0:1::/64"));  // the longer prefix
  ASSERT_EQ(narrow.other_rules.size(), 1u);
  EXPECT_EQ(narrow.other_rules[0].cidr(), "2603:1000::/40");
  EXPECT_EQ(f.classify(six("2603:1001::9")).verdict_class, uint32_t{VW_CLASS_IPV6_DENY});
  auto subnet = f.classify(six("fd00:1::5", 11, 100));  // eth1, VLAN 100: vnet v
  EXPECT_EQ(subnet.verdict_class, uint32_t{VW_CLASS_VNET_RULE});
  EXPECT_EQ(subnet.rule_id, f.id(kSubnet));
  EXPECT_EQ(f.classify(six("fd00:1::5")).verdict_class, uint32_t{VW_CLASS_IPV6_DENY});
  EXPECT_EQ(f.classify(six("fd00:1::5", 10, 200)).verdict_class, uint32_t{VW_CLASS_IPV6_DENY});
  EXPECT_EQ(f.classify(six("2603:1000::9", 11, 100)).verdict_class,
            uint32_t{VW_CLASS_IPV6_DENY});  // IP rules do not match from a vnet
}

// A perimeter decides IPv6 as it decides IPv4 (DESIGN §1.2, §1.11): the
// vault has an IPv6 IP rule (dualstack) and a trusted IPv6 prefix, the
// perimeter's access rule office an IPv4 and an IPv6 prefix.
std::string perimeter6_text(const char* mode, const char* default_action = "Deny") {
  std::string text = policy_text(
      "", std::string(R"(, "profile": "dualstack", "perimeter": {"accessMode": ")") + mode +
              R"(", "accessRules": [{"name": "office", "direction": "Inbound",
          "addressPrefixes": ["198.51.100.48/29", "2603:3000::/40"]}]})");
  text.replace(text.find(R"({"value": "198.51.100.7"})"), 25,
               R"({"value": "198.51.100.7"}, {"value": "2603:1000::/40"})");
  text.replace(text.find(R"("203.0.113.0/26"])"), 17, R"("203.0.113.0/26", "2603:2000::/40"])");
  text.replace(text.find(R"("defaultAction": "Deny")"), 23,
               std::string(R"("defaultAction": ")") + default_action + "\"");
  return text;
}

PacketDescription six(const char* source, uint32_t ifindex = 10, uint16_t vlan = 0) {
  PacketDescription p;
  p.family = PacketFamily::kIpv6;
  p.source6 = *parse_ipv6(source);
  p.destination_port = 443;
  p.ifindex = ifindex;
  p.vlan = vlan;
  return p;
}

// The program answers no address a reply must not go to or come from
// (bpf/reject.h): explain says so for the same set, not "would be rejected".
TEST(Classify, DenyActionRejectDoesNotAnswerTheNoReplySet) {
  Fixture f(policy_text("", R"(, "denyAction": "reject")"));
  for (const char* source : {"127.0.0.1", "0.1.2.3", "240.0.0.1", "224.0.0.5", "192.0.2.10"}) {
    SCOPED_TRACE(source);
    auto v = f.classify(packet(source));
    EXPECT_FALSE(v.passes);
    EXPECT_FALSE(v.rejected);
    EXPECT_NE(v.steps.back().find("without a reply"), std::string::npos) << v.steps.back();
  }
  EXPECT_TRUE(f.classify(packet("8.8.8.8")).rejected) << "an ordinary denied source is answered";
  auto reject6 = [&](const char* source, const char* destination) {
    PacketDescription p = six(source);
    p.destination6 = *parse_ipv6(destination);
    return f.classify(p).rejected;
  };
  EXPECT_TRUE(reject6("2001:db8::9", "2001:db8::1"));
  EXPECT_FALSE(reject6("::1", "2001:db8::1")) << "loopback";
  EXPECT_FALSE(reject6("::", "2001:db8::1")) << "unspecified";
  EXPECT_FALSE(reject6("ff02::1", "2001:db8::1")) << "multicast source";
  EXPECT_FALSE(reject6("2001:db8::9", "ff02::1")) << "multicast destination";
  EXPECT_FALSE(reject6("2001:db8::1", "2001:db8::1")) << "the host as the source";
  EXPECT_FALSE(reject6("fe80::9", "2001:db8::1")) << "link-local source to a wider scope";
  EXPECT_FALSE(reject6("::ffff:127.0.0.1", "2001:db8::1")) << "IPv4-mapped, checked as IPv4";
}

TEST(Classify, EnforcedPerimeterAdmitsIpv6OnlyByItsIpv6Prefixes) {
  Fixture f(perimeter6_text("Enforced"));
  auto office = f.classify(six("2603:3000::5"));
  EXPECT_EQ(office.verdict_class, uint32_t{VW_CLASS_PERIMETER_RULE});
  EXPECT_EQ(office.rule_id, f.id("perimeter:office"));
  EXPECT_TRUE(office.passes);
  // The vault's own IPv6 rule and trusted prefix are overridden, as for IPv4.
  EXPECT_EQ(f.classify(six("2603:1000::5")).verdict_class, uint32_t{VW_CLASS_PERIMETER_DENY});
  EXPECT_EQ(f.classify(six("2603:2000::5")).verdict_class, uint32_t{VW_CLASS_PERIMETER_DENY});
  EXPECT_EQ(f.classify(six("2603:4000::5")).verdict_class, uint32_t{VW_CLASS_PERIMETER_DENY});
  // From a virtual network's segment the perimeter admits nobody.
  EXPECT_EQ(f.classify(six("2603:3000::5", 11, 100)).verdict_class,
            uint32_t{VW_CLASS_PERIMETER_DENY});
  // IPv4-mapped: decided as the IPv4 address, by the perimeter's IPv4 prefix.
  auto mapped = f.classify(six("::ffff:198.51.100.50"));
  EXPECT_EQ(mapped.verdict_class, uint32_t{VW_CLASS_PERIMETER_RULE});
  EXPECT_EQ(mapped.rule_id, f.id("perimeter:office"));
  EXPECT_EQ(f.classify(six("::ffff:203.0.113.77")).verdict_class,
            uint32_t{VW_CLASS_PERIMETER_DENY});
}

TEST(Classify, TransitionPerimeterMarksIpv6OnlyTheVaultAdmits) {
  Fixture f(perimeter6_text("Transition"));
  auto office = f.classify(six("2603:3000::5"));
  EXPECT_EQ(office.verdict_class, uint32_t{VW_CLASS_PERIMETER_RULE});
  EXPECT_EQ(office.rule_id, f.id("perimeter:office"));
  auto rule = f.classify(six("2603:1000::5"));
  EXPECT_EQ(rule.verdict_class, uint32_t{VW_CLASS_PERIMETER_WOULD_DENY});
  EXPECT_EQ(rule.rule_id, f.id("2603:1000::/40"));  // still credited to the vault's rule
  EXPECT_TRUE(rule.passes);
  auto trusted = f.classify(six("2603:2000::5"));
  EXPECT_EQ(trusted.verdict_class, uint32_t{VW_CLASS_PERIMETER_WOULD_DENY});
  EXPECT_EQ(trusted.service_id, f.compiled.service_ids.at("svc-a"));
  EXPECT_EQ(f.classify(six("2603:4000::5")).verdict_class, uint32_t{VW_CLASS_IPV6_DENY});
  // A perimeter prefix over a virtual network's segment is not the perimeter's.
  EXPECT_EQ(f.classify(six("2603:3000::5", 11, 100)).verdict_class, uint32_t{VW_CLASS_IPV6_DENY});
  auto mapped = f.classify(six("::ffff:203.0.113.77"));
  EXPECT_EQ(mapped.verdict_class, uint32_t{VW_CLASS_PERIMETER_WOULD_DENY});
  EXPECT_EQ(mapped.rule_id, f.id("203.0.113.0/24"));

  Fixture allow(perimeter6_text("Transition", "Allow"));
  EXPECT_EQ(allow.classify(six("2603:4000::5")).verdict_class,
            uint32_t{VW_CLASS_PERIMETER_WOULD_DENY});
  EXPECT_EQ(allow.classify(six("2603:3000::5")).verdict_class, uint32_t{VW_CLASS_PERIMETER_RULE});
}

TEST(Classify, ExplainsEachStep) {
  Fixture f(policy_text());
  auto v = f.classify(packet("8.8.8.8"));
  ASSERT_FALSE(v.steps.empty());
  EXPECT_EQ(v.steps.back(), "5. defaultAction Deny: denied");
  EXPECT_EQ(verdict_class_name(v.verdict_class), "default_deny");
}

// ---- agreement with the compiled image ----

// What decide_ipv4 does with one slot's maps, written against the SlotImage.
struct ImageVerdict {
  uint32_t verdict_class;
  uint32_t rule_id;
  uint32_t service_id;
};

ImageVerdict interpret_image(const SlotImage& image, const PacketDescription& p) {
  const vw_settings& s = image.settings;
  bool protected_proto = false, protected_port = false;
  for (uint32_t i = 0; i < s.port_count; ++i) {
    protected_proto |= s.ports[i].proto == p.proto;
    protected_port |= s.ports[i].proto == p.proto && s.ports[i].port == p.destination_port;
  }
  uint32_t endpoint = 0, endpoint_vnet = 0;
  for (const auto& [key, value] : image.endpoints)
    if (ipv4_from_bytes(key.addr) == p.destination)
      endpoint = value.kind, endpoint_vnet = value.vnet_id;
  if (!protected_proto || (!endpoint && !(s.flags & VW_SETTINGS_ALL_DESTINATIONS)) ||
      !protected_port)
    return {VW_CLASS_UNPROTECTED, 0, 0};
  auto trusted_or = [&](uint32_t fallback) -> ImageVerdict {
    if (s.bypass != VW_BYPASS_AZURE_SERVICES) return {fallback, 0, 0};
    int best = -1;
    uint32_t service = 0;
    for (const auto& [key, value] : image.trusted) {
      Ipv4Prefix prefix{ipv4_from_bytes(key.addr), static_cast<uint8_t>(key.prefixlen)};
      if (prefix.contains(p.source) && static_cast<int>(key.prefixlen) > best)
        best = key.prefixlen, service = value.service_id;
    }
    return service ? ImageVerdict{VW_CLASS_TRUSTED, 0, service} : ImageVerdict{fallback, 0, 0};
  };
  uint32_t vnet = 0;
  if (s.flags & VW_SETTINGS_HAS_SEGMENTS) {
    bool found = false;
    for (const auto& [key, value] : image.segments)
      if (key.ifindex == p.ifindex && key.vlan == p.vlan) vnet = value.vnet_id, found = true;
    if (!found && p.vlan)
      for (const auto& [key, value] : image.segments)
        if (key.ifindex == 0 && key.vlan == p.vlan) vnet = value.vnet_id;
  }
  if (endpoint == VW_ENDPOINT_PRIVATE && vnet != 0 && (endpoint_vnet == 0 || endpoint_vnet == vnet))
    return {VW_CLASS_PRIVATE_ENDPOINT, 0, 0};
  if (s.public_access == VW_PUBLIC_ACCESS_DISABLED) return trusted_or(VW_CLASS_PUBLIC_DISABLED);
  int best = -1;
  uint32_t rule = 0;
  for (const auto& [key, value] : image.rules) {
    if (key.vnet_id != vnet) continue;
    Ipv4Prefix prefix{ipv4_from_bytes(key.addr),
                      static_cast<uint8_t>(key.prefixlen - VW_RULE_KEY_VNET_BITS)};
    if (prefix.contains(p.source) && static_cast<int>(key.prefixlen) > best)
      best = key.prefixlen, rule = value.rule_id;
  }
  if (rule) return {vnet ? uint32_t{VW_CLASS_VNET_RULE} : uint32_t{VW_CLASS_IP_RULE}, rule, 0};
  return trusted_or(s.default_action == VW_ACTION_DENY ? VW_CLASS_DEFAULT_DENY
                                                       : VW_CLASS_DEFAULT_ALLOW);
}

TEST(Classify, AgreesWithTheCompiledImageOnRandomPackets) {
  std::vector<std::string> policies = {
      policy_text(), policy_text("", "", "Disabled"),
      R"({"networkAcls": {"defaultAction": "Allow", "ipRules": [{"value": "203.0.113.0/24"}]}})"};
  const char* sources[] = {"203.0.113.", "198.51.100.", "10.1.0.", "10.2.0.",
                           "52.98.0.",   "52.96.7.",    "8.8.8."};
  const char* destinations[] = {"192.0.2.10", "10.20.0.5", "192.0.2.99"};
  std::mt19937 random(20240611);
  for (const std::string& text : policies) {
    Fixture f(text);
    for (int i = 0; i < 3000; ++i) {
      PacketDescription p = packet("0.0.0.0", destinations[random() % 3], random() % 4 ? 443 : 22);
      p.source = *parse_ipv4(std::string(sources[random() % 7]) + std::to_string(random() % 256));
      p.proto = random() % 5 ? 6 : 17;
      p.ifindex = 10 + random() % 3;
      p.vlan = std::array<uint16_t, 4>{0, 100, 200, 300}[random() % 4];
      auto expected = f.classify(p);
      auto actual = interpret_image(f.compiled.image, p);
      uint32_t expected_class = expected.verdict_class;
      ASSERT_EQ(actual.verdict_class, expected_class)
          << "seed 20240611 packet " << i << " from " << format_ipv4(p.source);
      ASSERT_EQ(actual.rule_id, expected.rule_id) << i;
      ASSERT_EQ(actual.service_id, expected.service_id) << i;
    }
  }
}

}  // namespace
}  // namespace vaultwall::test
