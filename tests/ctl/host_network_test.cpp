// host_network.h: /proc parsing, and the warnings a policy gets from the
// network namespace it is applied in (no kernel: the host is a value here).
#include "vaultwall/policy/host_network.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace vaultwall::test {
namespace {

TEST(HostNetwork, ParsesProcNetRoute) {
  auto routes = parse_proc_net_route(
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth1\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "eth2\t0000A8C0\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"  // not up
      "garbage\n");
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].interface, "eth0");
  EXPECT_EQ(routes[0].destination.cidr(), "0.0.0.0/0");
  EXPECT_EQ(routes[1].interface, "eth1");
  EXPECT_EQ(routes[1].destination.cidr(), "192.168.0.0/24");
}

TEST(HostNetwork, ParsesBoundSocketsOfBothFamilies) {
  auto tcp = parse_proc_net_sockets(
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
      "   0: 00000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
      "   1: 0A02000A:20FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
      "   2: 0A02000A:01BB 0502000A:9C40 01 00000000:00000000 00:00000000 00000000     0\n",
      6, false);
  ASSERT_EQ(tcp.size(), 2u);  // the established connection is no listener
  EXPECT_EQ(tcp[0].address, 0u);
  EXPECT_EQ(tcp[0].port, 443);
  EXPECT_EQ(format_ipv4(tcp[1].address), "10.0.2.10");
  EXPECT_EQ(tcp[1].port, 8443);
  auto tcp6 = parse_proc_net_sockets(
      "  sl  local_address                         remote_address                        st\n"
      "   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A\n"
      "   1: 0000000000000000FFFF00000A02000A:0016 00000000000000000000000000000000:0000 0A\n"
      "   2: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A\n",
      6, true);
  ASSERT_EQ(tcp6.size(), 2u);  // 2001:db8::1 takes no IPv4
  EXPECT_EQ(tcp6[0].address, 0u);
  EXPECT_EQ(format_ipv4(tcp6[1].address), "10.0.2.10");
  EXPECT_EQ(tcp6[1].port, 22);
  auto udp = parse_proc_net_sockets(
      "  sl  local_address rem_address   st\n"
      "   0: 00000000:01BB 00000000:0000 07\n"
      "   1: 00000000:0035 0502000A:0035 01\n",
      17, false);
  ASSERT_EQ(udp.size(), 1u);  // a connected socket owns only its peer's traffic
  EXPECT_EQ(udp[0].proto, 17);
}

HostNetwork vault_host() {
  HostNetwork host;
  host.namespace_name = "net:[4026531840] (vault)";
  host.addresses = {{"eth0", *parse_ipv4("192.0.2.10"), *parse_ipv4("192.0.2.255")},
                    {"eth1", *parse_ipv4("10.1.0.1"), *parse_ipv4("10.1.0.255")},
                    {"lo", *parse_ipv4("127.0.0.1"), 0}};
  host.routes = {{"eth0", Ipv4Prefix{0, 0}},
                 {"eth0", *parse_ipv4_prefix("192.0.2.0/24")},
                 {"eth1", *parse_ipv4_prefix("10.1.0.0/24")},
                 {"eth2", *parse_ipv4_prefix("198.51.100.0/25")}};
  host.sockets = {{6, 0, 443}, {6, *parse_ipv4("10.1.0.1"), 8443}, {17, 0, 443}};
  return host;
}

TEST(HostNetwork, ParsesTheIpv6DefaultRoutesOfProcNetIpv6Route) {
  const std::string zeros(32, '0');
  auto line = [&](const std::string& dest, const char* len, const char* flags, const char* dev) {
    return dest + " " + len + " " + zeros + " 00 " + zeros + " 00000400 00000002 00000000 " +
           flags + "     " + dev + "\n";
  };
  auto interfaces = parse_ipv6_default_routes(
      line(zeros, "00", "00000003", "eth3") +                      // the default route
      line("fd000000000000000000000000000000", "40", "00000001", "eth4") +  // not a default
      line(zeros, "00", "00200200", "lo") +                        // unreachable (reject)
      line(zeros, "00", "00000002", "eth5") +                      // not up
      "garbage\n");
  EXPECT_EQ(interfaces, std::vector<std::string>{"eth3"});
}

TEST(HostNetwork, AnswersWhatTheDatapathAsksTheKernel) {
  HostNetwork host = vault_host();
  EXPECT_TRUE(host.wildcard_socket_owns(6, *parse_ipv4("10.1.0.1"), 443));
  EXPECT_FALSE(host.wildcard_socket_owns(6, *parse_ipv4("10.1.0.1"), 8443));  // bound to it
  EXPECT_FALSE(host.wildcard_socket_owns(17, *parse_ipv4("10.1.0.1"), 8443));
  EXPECT_TRUE(host.is_subnet_broadcast(*parse_ipv4("192.0.2.255")));
  EXPECT_FALSE(host.forwards("eth0", *parse_ipv4("198.51.100.9")));  // forwarding off
  host.forwarding_interfaces = {"all", "eth0"};
  EXPECT_TRUE(host.forwards("eth0", *parse_ipv4("198.51.100.9")));
  EXPECT_FALSE(host.forwards("eth0", *parse_ipv4("10.1.0.1")));      // local
  EXPECT_FALSE(host.forwards("eth0", *parse_ipv4("192.0.2.255")));   // broadcast
  EXPECT_FALSE(host.forwards("eth1", *parse_ipv4("198.51.100.9")));  // not on eth1
}

constexpr const char* kVnet =
    "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/app";

std::string document(std::string_view segment, std::string_view ip_rules = "[]") {
  return wrap(R"({"defaultAction": "Deny", "ipRules": )" + std::string(ip_rules) + "}",
              R"({"dataPlane": {"addresses": ["192.0.2.10", "192.0.2.77"]},
                  "privateEndpoints": ["10.20.0.5"],
                  "virtualNetworks": [{"id": ")" +
                  std::string(kVnet) + R"(", "segment": )" + std::string(segment) +
                  R"(, "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24"}]}]})");
}

TEST(HostNetwork, WarnsAboutAddressesThisHostDoesNotHold) {
  auto warnings = host_diagnostics(must_load(document(R"({"vlan": 100})")), vault_host());
  EXPECT_TRUE(has_diagnostic(warnings, Severity::kWarning, "vaultwall.dataPlane.addresses",
                             "192.0.2.77 is not an address of this host (network namespace "
                             "net:[4026531840] (vault))"))
      << describe(warnings);
  EXPECT_FALSE(has_diagnostic(warnings, Severity::kWarning, "vaultwall.dataPlane.addresses",
                              "192.0.2.10 is not"));
  EXPECT_TRUE(has_diagnostic(warnings, Severity::kWarning, "vaultwall.privateEndpoints",
                             "10.20.0.5 is not an address of this host"));
}

// A virtual network bound to a whole interface that internet traffic
// arrives on: its untagged packets all count as the virtual network's.
TEST(HostNetwork, WarnsAboutAVirtualNetworkOnTheInternetInterface) {
  auto on_default = host_diagnostics(must_load(document(R"({"interface": "eth0"})")), vault_host());
  EXPECT_TRUE(has_diagnostic(on_default, Severity::kWarning,
                             "vaultwall.virtualNetworks[0].segment.interface",
                             "eth0 carries internet traffic too (it holds the default route"))
      << describe(on_default);
  HostNetwork ipv6_internet = vault_host();
  ipv6_internet.ipv6_default_route_interfaces = {"eth1"};
  auto on_ipv6_default =
      host_diagnostics(must_load(document(R"({"interface": "eth1"})")), ipv6_internet);
  EXPECT_TRUE(has_diagnostic(on_ipv6_default, Severity::kWarning,
                             "vaultwall.virtualNetworks[0].segment.interface",
                             "eth1 carries internet traffic too (it holds the IPv6 default route"))
      << describe(on_ipv6_default);
  auto via_rule = host_diagnostics(
      must_load(document(R"({"interface": "eth2"})", R"([{"value": "198.51.100.0/24"}])")),
      vault_host());
  EXPECT_TRUE(
      has_diagnostic(via_rule, Severity::kWarning, "vaultwall.virtualNetworks[0].segment.interface",
                     "the route to IP rule 198.51.100.0/24 (198.51.100.0/25) leaves through it"))
      << describe(via_rule);
  for (const char* quiet :
       {R"({"interface": "eth1"})", R"({"interface": "eth0", "vlan": 100})", R"({"vlan": 100})"}) {
    auto warnings = host_diagnostics(must_load(document(quiet)), vault_host());
    for (const Diagnostic& d : warnings)
      EXPECT_EQ(d.path.find("virtualNetworks"), std::string::npos) << quiet << ": " << d.text();
  }
}

}  // namespace
}  // namespace vaultwall::test
