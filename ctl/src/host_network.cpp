// The pure half of host_network.h: parsing /proc text and the checks of a
// policy against a HostNetwork.
#include "vaultwall/policy/host_network.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <sstream>

namespace vaultwall {
namespace {

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < line.size()) {
    size_t start = line.find_first_not_of(" \t", at);
    if (start == std::string_view::npos) break;
    size_t end = line.find_first_of(" \t", start);
    if (end == std::string_view::npos) end = line.size();
    out.push_back(line.substr(start, end - start));
    at = end;
  }
  return out;
}

std::optional<uint32_t> hex32(std::string_view text) {
  uint32_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// /proc prints an address as the integer of its network-order bytes read
// in host order (little-endian here): byte i is bits 8i..8i+7.
uint32_t from_proc_word(uint32_t word) {
  return (word & 0xff) << 24 | ((word >> 8) & 0xff) << 16 | ((word >> 16) & 0xff) << 8 |
         (word >> 24);
}

template <class Each>
void for_each_line(std::string_view text, Each each) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    each(text.substr(at, end - at));
    at = end + 1;
  }
}

}  // namespace

std::vector<Route> parse_proc_net_route(std::string_view text) {
  constexpr uint32_t kRouteUp = 0x1;
  std::vector<Route> routes;
  for_each_line(text, [&](std::string_view line) {
    auto f = fields_of(line);
    if (f.size() < 8 || f[0] == "Iface" || f[0] == "*") return;
    auto destination = hex32(f[1]), flags = hex32(f[3]), mask = hex32(f[7]);
    if (!destination || !flags || !mask || !(*flags & kRouteUp)) return;
    uint32_t host_mask = from_proc_word(*mask);
    routes.push_back(
        {std::string(f[0]),
         Ipv4Prefix{from_proc_word(*destination), static_cast<uint8_t>(std::popcount(host_mask))}});
  });
  return routes;
}

std::vector<std::string> parse_ipv6_default_routes(std::string_view text) {
  constexpr uint32_t kRouteUp = 0x1, kRouteReject = 0x200;
  std::vector<std::string> interfaces;
  for_each_line(text, [&](std::string_view line) {
    auto f = fields_of(line);
    if (f.size() < 10 || f[0] != std::string_view("00000000000000000000000000000000") ||
        f[1] != "00")
      return;
    auto flags = hex32(f[8]);
    if (!flags || !(*flags & kRouteUp) || (*flags & kRouteReject)) return;
    interfaces.emplace_back(f[9]);
  });
  return interfaces;
}

std::vector<BoundSocket> parse_proc_net_sockets(std::string_view text, uint8_t proto, bool ipv6) {
  constexpr std::string_view kTcpListen = "0A", kUdpUnconnected = "07";
  std::vector<BoundSocket> sockets;
  for_each_line(text, [&](std::string_view line) {
    auto f = fields_of(line);
    if (f.size() < 4 || f[0] == "sl") return;
    if (f[3] != (proto == 6 ? kTcpListen : kUdpUnconnected)) return;
    std::string_view local = f[1];
    size_t colon = local.find(':');
    if (colon == std::string_view::npos) return;
    auto port = hex32(local.substr(colon + 1));
    std::string_view address = local.substr(0, colon);
    if (!port || address.size() != (ipv6 ? 32u : 8u)) return;
    std::array<uint32_t, 4> words{};
    for (size_t i = 0; i < address.size() / 8; ++i) {
      auto word = hex32(address.substr(i * 8, 8));
      if (!word) return;
      words[i] = from_proc_word(*word);
    }
    uint32_t v4 = 0;
    if (ipv6) {
      bool any = words[0] == 0 && words[1] == 0 && words[2] == 0 && words[3] == 0;
      bool mapped = words[0] == 0 && words[1] == 0 && words[2] == 0xffff;
      if (!any && !mapped) return;  // an IPv6 address: takes no IPv4
      v4 = any ? 0 : words[3];
    } else {
      v4 = words[0];
    }
    sockets.push_back({proto, v4, static_cast<uint16_t>(*port)});
  });
  return sockets;
}

bool HostNetwork::holds(uint32_t address) const {
  return std::any_of(addresses.begin(), addresses.end(),
                     [&](const LocalAddress& a) { return a.address == address; });
}

bool HostNetwork::is_subnet_broadcast(uint32_t address) const {
  return std::any_of(addresses.begin(), addresses.end(),
                     [&](const LocalAddress& a) { return a.broadcast && a.broadcast == address; });
}

const Route* HostNetwork::route_to(uint32_t address) const {
  const Route* best = nullptr;
  for (const Route& route : routes)
    if (route.destination.contains(address) &&
        (!best || route.destination.length > best->destination.length))
      best = &route;
  return best;
}

bool HostNetwork::forwards_on(const std::string& interface) const {
  const std::string& name = interface.empty() ? std::string("all") : interface;
  return std::find(forwarding_interfaces.begin(), forwarding_interfaces.end(), name) !=
         forwarding_interfaces.end();
}

bool HostNetwork::wildcard_socket_owns(uint8_t proto, uint32_t dst, uint16_t port) const {
  bool wildcard = false;
  for (const BoundSocket& socket : sockets) {
    if (socket.proto != proto || socket.port != port) continue;
    if (socket.address == dst) return false;  // bound to the address itself: wins
    wildcard |= socket.address == 0;
  }
  return wildcard;
}

bool HostNetwork::forwards(const std::string& interface, uint32_t dst) const {
  if (holds(dst) || is_subnet_broadcast(dst) || !forwards_on(interface)) return false;
  return route_to(dst) != nullptr;
}

namespace {

std::string on_this_host(const HostNetwork& host) {
  return "network namespace " + host.namespace_name;
}

// The routes that carry packets to some address of `prefix`: the one its
// first address takes, and every longer one inside it.
std::vector<const Route*> routes_into(const HostNetwork& host, const Ipv4Prefix& prefix) {
  std::vector<const Route*> out;
  if (const Route* first = host.route_to(prefix.first())) out.push_back(first);
  for (const Route& route : host.routes)
    if (route.destination.length > prefix.length && prefix.contains(route.destination))
      out.push_back(&route);
  return out;
}

// Why internet traffic arrives on `interface`, or "" when nothing says so.
std::string internet_arrival(const Policy& policy, const HostNetwork& host,
                             const std::string& interface) {
  for (const Route& route : host.routes)
    if (route.destination.length == 0 && route.interface == interface)
      return "it holds the default route, so internet traffic arrives on it";
  for (const std::string& route : host.ipv6_default_route_interfaces)
    if (route == interface) return "it holds the IPv6 default route, so internet traffic arrives on it";
  for (const IpRule& rule : policy.ip_rules) {
    const Ipv4Prefix* prefix = rule.ipv4();
    if (!prefix) continue;  // the host's routes read here are IPv4 ones
    for (const Route* route : routes_into(host, *prefix))
      if (route->interface == interface)
        return "the route to IP rule " + rule.canonical() + " (" + route->destination.cidr() +
               ") leaves through it, so that rule's clients arrive on it";
  }
  return "";
}

}  // namespace

std::vector<Diagnostic> host_diagnostics(const Policy& policy, const HostNetwork& host) {
  Diagnostics out;
  for (uint32_t address : policy.host.addresses)
    if (!host.holds(address))
      out.warning(
          "vaultwall.dataPlane.addresses",
          format_ipv4(address) + " is not an address of this host (" + on_this_host(host) +
              "): packets to it are filtered only if they reach this host; check the address, or run vaultwallctl in the vault's network namespace (nsenter --net=...)");
  for (const PrivateEndpoint& endpoint : policy.host.private_endpoints)
    if (!host.holds(endpoint.address))
      out.warning(
          "vaultwall.privateEndpoints",
          format_ipv4(endpoint.address) + " is not an address of this host (" + on_this_host(host) +
              "); check the private endpoint's address, or run vaultwallctl in the vault's network namespace");
  const auto& vnets = policy.host.virtual_networks;
  for (size_t i = 0; i < vnets.size(); ++i) {
    const Segment& segment = vnets[i].segment;
    if (!segment.interface || segment.vlan) continue;
    std::string why = internet_arrival(policy, host, *segment.interface);
    if (why.empty()) continue;
    out.warning(
        "vaultwall.virtualNetworks[" + std::to_string(i) + "].segment.interface",
        *segment.interface + " carries internet traffic too (" + why + ", " + on_this_host(host) +
            "): every untagged packet on it counts as virtual network " + vnets[i].id +
            ", so IP rules never match there and a spoofed source inside its subnets gets its VNET rules; bind the virtual network to a VLAN ({\"interface\": \"" +
            *segment.interface + "\", \"vlan\": N}) or to an interface of its own");
  }
  return out.take();
}

}  // namespace vaultwall
