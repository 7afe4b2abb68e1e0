// What the network namespace vaultwallctl runs in says about a policy: the
// host's addresses, IPv4 routes (main table), bound sockets and forwarding.
// Used for warnings a document cannot show by itself (an address not on
// this host, a virtual network bound to the interface internet traffic
// arrives on) and by `explain` to answer what the datapath asks the kernel
// (DESIGN §1.1, weak host). The checks are pure; only read_host_network
// touches the system.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/common/error.h"
#include "vaultwall/policy/ipv4.h"
#include "vaultwall/policy/policy.h"

namespace vaultwall {

struct LocalAddress {
  std::string interface;
  uint32_t address = 0;
  uint32_t broadcast = 0;  // the subnet's broadcast address; 0 when none
};

struct Route {
  std::string interface;
  Ipv4Prefix destination;  // 0.0.0.0/0 for the default route
};

// A socket that takes IPv4: bound to `address`, 0 for the wildcard
// (0.0.0.0, or :: when not IPv6-only; /proc does not say, so :: counts).
struct BoundSocket {
  uint8_t proto = 6;  // 6 TCP (listening), 17 UDP
  uint32_t address = 0;
  uint16_t port = 0;
};

struct HostNetwork {
  std::string namespace_name;  // "net:[4026531840]", plus " (name)" when /run/netns knows it
  std::vector<LocalAddress> addresses;
  std::vector<Route> routes;
  std::vector<BoundSocket> sockets;
  std::vector<std::string> forwarding_interfaces;  // IPv4 forwarding on; "all" included when global
  std::vector<std::string> ipv6_default_route_interfaces;  // where an IPv6 default route leaves

  bool holds(uint32_t address) const;  // an address of an interface
  bool is_subnet_broadcast(uint32_t address) const;
  const Route* route_to(uint32_t address) const;         // longest prefix; nullptr: no route
  bool forwards_on(const std::string& interface) const;  // "" = the global setting
  // Whether the socket the kernel would hand new traffic to dst:port (proto)
  // is bound to the wildcard address: a socket bound to dst itself wins.
  bool wildcard_socket_owns(uint8_t proto, uint32_t dst, uint16_t port) const;
  // Whether the host would route a packet to dst onwards (arriving on
  // `interface`) instead of keeping it: not local, forwarding on, a route.
  bool forwards(const std::string& interface, uint32_t dst) const;
};

// /proc/net/route, /proc/net/tcp and /proc/net/udp (and their "6"
// siblings) as the kernel prints them; malformed lines are skipped.
std::vector<Route> parse_proc_net_route(std::string_view text);
// The interfaces of /proc/net/ipv6_route's usable default routes (::/0, up,
// not a reject route such as the kernel's unreachable one on lo).
std::vector<std::string> parse_ipv6_default_routes(std::string_view text);
std::vector<BoundSocket> parse_proc_net_sockets(std::string_view text, uint8_t proto, bool ipv6);

// Reads the caller's network namespace. Errors name what could not be read.
Result<HostNetwork> read_host_network();

// Warnings for a valid policy on this host: a data-plane address or private
// endpoint no interface holds, and a virtual network bound to a whole
// interface (no VLAN) that internet traffic arrives on (its default route,
// or the route to an IP rule's addresses): there every untagged packet
// counts as that virtual network's, so IP rules never match and a spoofed
// source inside its subnets gets its VNET rules.
std::vector<Diagnostic> host_diagnostics(const Policy& policy, const HostNetwork& host);

}  // namespace vaultwall
