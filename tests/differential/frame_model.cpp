#include "frame_model.h"

#include <net/if.h>

#include <algorithm>
#include <optional>
#include <set>

#include "packet_builder.h"
#include "vaultwall/policy/ipv4.h"
#include "vaultwall/policy/ipv6.h"

namespace vaultwall::difftest {
namespace {

using testing::PacketBuilder;

constexpr uint16_t kEthLldp = 0x88cc;
constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;
constexpr uint8_t kIpTunnels[] = {4, 41, 47, 50, 51, 108, 115, 137};
constexpr uint16_t kUdpTunnelPorts[] = {4789, 8472, 4790, 6081, 51820, 4500, 1701};

void add_edges(std::set<uint32_t>& out, const Ipv4Prefix& p) {
  for (uint32_t a : {p.first(), p.last()})
    for (int64_t d : {-1, 0, 1}) out.insert(static_cast<uint32_t>(int64_t{a} + d));
}

// The first and last address of an IPv6 prefix, and one either side.
void add_edges(std::set<Ipv6Address>& out, const Ipv6Prefix& p) {
  Ipv6Address first = p.network().address, last = first;
  for (size_t i = 0; i < 16; i++) {
    const int bits = static_cast<int>(p.length) - static_cast<int>(i) * 8;
    const uint8_t host = bits >= 8 ? 0 : bits <= 0 ? 0xff : static_cast<uint8_t>(0xff >> bits);
    last[i] |= host;
  }
  auto step = [](Ipv6Address a, int d) {
    for (int i = 15; i >= 0; i--) {
      const uint8_t before = a[i];
      a[i] = static_cast<uint8_t>(a[i] + d);
      if ((d > 0 && a[i] > before) || (d < 0 && a[i] < before)) break;  // no carry
    }
    return a;
  };
  for (const Ipv6Address& a : {first, last})
    for (int d : {-1, 0, 1}) out.insert(d == 0 ? a : step(a, d));
}

testing::Ipv4 bytes_of(uint32_t address) { return ipv4_bytes(address); }

uint16_t read16(const std::vector<uint8_t>& f, size_t at) {
  return static_cast<uint16_t>(f[at] << 8 | f[at + 1]);
}
uint32_t read32(const std::vector<uint8_t>& f, size_t at) {
  return uint32_t{f[at]} << 24 | uint32_t{f[at + 1]} << 16 | uint32_t{f[at + 2]} << 8 | f[at + 3];
}

class FrameGenerator {
 public:
  FrameGenerator(std::mt19937_64& rng, const FramePools& pools) : rng_(rng), pools_(pools) {}

  TestFrame run() {
    TestFrame out;
    PacketBuilder b;
    b.ethernet(0);
    // A third of the frames arrive on a virtual network's segment, most of
    // them from its subnets: VNET rules are only reached that way.
    const FramePools::Segment* segment =
        !pools_.segments.empty() && chance(0.35) ? &pick(pools_.segments) : nullptr;
    if (segment) {
      out.ifindex = segment->ifindex ? segment->ifindex : pick(pools_.ifindexes);
      if (segment->vlan && chance(0.25)) b.vlan(vlan_id(), tpid());  // QinQ: the inner tag counts
      if (segment->vlan) b.vlan(segment->vlan, tpid());
      // A priority tag (VID 0) inside names no VLAN: the segment's still counts.
      if (segment->vlan && chance(0.1)) b.vlan(0, testing::kEth8021Q);
    } else {
      out.ifindex = pick(pools_.ifindexes);
      add_tags(b);
    }
    uint32_t kind = segment ? 0 : uniform(0, 99);
    if (kind < 65)
      add_ipv4(b, segment && chance(0.8) ? std::optional(pick(segment->sources)) : std::nullopt);
    else if (kind < 90)
      add_ipv6(b);
    else if (kind < 95)
      b.arp_request(bytes_of(source()), bytes_of(destination()));
    else
      b = PacketBuilder().ethernet(kEthLldp).payload(46);
    if (chance(0.5)) b.payload(uniform(0, 64), static_cast<uint8_t>(rng_()));
    out.bytes = b.bytes();
    if (chance(0.1) && out.bytes.size() > 14)
      out.bytes.resize(uniform(14, static_cast<uint32_t>(out.bytes.size() - 1)));
    return out;
  }

 private:
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  uint32_t uniform(uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>(lo, hi)(rng_);
  }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[uniform(0, static_cast<uint32_t>(v.size() - 1))];
  }

  uint32_t source() {
    if (!pools_.sources.empty() && chance(0.7)) return pick(pools_.sources);
    if (chance(0.3)) return (10u << 24) | (static_cast<uint32_t>(rng_()) & 0x03ffffff);
    return static_cast<uint32_t>(rng_());
  }
  uint32_t destination() {
    if (!pools_.destinations.empty() && chance(0.8)) return pick(pools_.destinations);
    return static_cast<uint32_t>(rng_());
  }
  uint16_t vlan_id() {
    if (!pools_.vlans.empty() && chance(0.7)) return pick(pools_.vlans);
    return static_cast<uint16_t>(uniform(0, 4095));
  }
  uint16_t tpid() { return chance(0.7) ? testing::kEth8021Q : testing::kEth8021AD; }

  void add_tags(PacketBuilder& b) {
    uint32_t r = uniform(0, 99);
    int tags = r < 55 ? 0 : r < 85 ? 1 : r < 97 ? 2 : 3;  // 3: cannot be classified
    for (int i = 0; i < tags; i++) b.vlan(vlan_id(), tpid());
  }

  uint16_t port() {
    if (chance(0.5) && !pools_.ports.empty()) return pick(pools_.ports).port;
    if (chance(0.3)) return kUdpTunnelPorts[uniform(0, std::size(kUdpTunnelPorts) - 1)];
    return static_cast<uint16_t>(rng_());
  }

  void add_transport(PacketBuilder& b, uint8_t proto, std::optional<uint16_t> port_choice = {}) {
    uint16_t port = port_choice ? *port_choice : this->port();
    if (proto == testing::kProtoTcp)
      b.tcp(static_cast<uint16_t>(rng_()), port);
    else if (proto == testing::kProtoUdp)
      b.udp(static_cast<uint16_t>(rng_()), port);
    else if (proto == testing::kProtoIcmp)
      b.icmp();
    else
      b.payload(8);
  }

  uint8_t transport_protocol() {
    uint32_t r = uniform(0, 99);
    return r < 60   ? testing::kProtoTcp
           : r < 80 ? testing::kProtoUdp
           : r < 87 ? testing::kProtoIcmp
           : r < 97 ? kIpTunnels[uniform(0, std::size(kIpTunnels) - 1)]
                    : 132;  // SCTP: no tunnel
  }

  // Options of `room` bytes: NOPs, source routes, record route, timestamps,
  // lengths the kernel refuses, and End of List.
  std::vector<uint8_t> ipv4_options(size_t room) {
    std::vector<uint8_t> out;
    while (out.size() < room) {
      uint32_t r = uniform(0, 99);
      if (r < 30) {
        out.push_back(1);  // NOP
      } else if (r < 75) {
        static constexpr uint8_t kTypes[] = {0x83, 0x89, 0x07, 0x44, 0x94};  // LSRR SSRR RR TS RA
        uint8_t type = kTypes[uniform(0, std::size(kTypes) - 1)];
        uint8_t len = static_cast<uint8_t>(std::min<size_t>(room - out.size(), uniform(2, 11)));
        if (len < 2) break;
        out.push_back(type);
        out.push_back(chance(0.1) ? static_cast<uint8_t>(uniform(0, 1)) : len);
        for (size_t i = 2; i < len; i++) out.push_back(static_cast<uint8_t>(rng_()));
      } else if (r < 85) {
        out.push_back(0);  // End of List
      } else {
        out.push_back(static_cast<uint8_t>(rng_()));
      }
    }
    out.resize(std::min(out.size(), room));
    return out;
  }

  void add_ipv4(PacketBuilder& b, std::optional<uint32_t> from) {
    // Most frames go to a data-plane port, so the decision is exercised.
    std::optional<PortSpec> data_plane;
    if (!pools_.ports.empty() && chance(0.7)) data_plane = pick(pools_.ports);
    uint8_t proto = data_plane ? data_plane->proto : transport_protocol();
    uint32_t r = uniform(0, 99);
    uint8_t ihl = r < 85   ? 5
                  : r < 95 ? static_cast<uint8_t>(uniform(6, 15))
                           : static_cast<uint8_t>(uniform(0, 4));
    uint16_t offset = 0;
    bool more = false;
    uint32_t f = uniform(0, 99);
    if (f < 10)
      offset = static_cast<uint16_t>(uniform(1, 8191)), more = chance(0.5);
    else if (f < 15)
      more = true;  // a first fragment: its port is there
    b.ipv4(bytes_of(from ? *from : source()), bytes_of(destination()), proto, ihl, offset, more);
    if (ihl > 5 && chance(0.5)) b.ipv4_options(ipv4_options(static_cast<size_t>(ihl - 5) * 4));
    add_transport(b, proto, data_plane ? std::optional(data_plane->port) : std::nullopt);
  }

  // An IPv6 source: near a trusted prefix's edge, IPv4-mapped (decided as
  // the IPv4 address it carries), or anywhere.
  testing::Ipv6 source6() {
    testing::Ipv6 src{};
    uint32_t r = uniform(0, 99);
    if (r < 45 && !pools_.sources6.empty()) return pick(pools_.sources6);
    if (r < 65) {
      src[10] = src[11] = 0xff;
      const testing::Ipv4 v4 = bytes_of(source());
      std::copy(v4.begin(), v4.end(), src.begin() + 12);
      return src;
    }
    for (auto& x : src) x = static_cast<uint8_t>(rng_());
    return src;
  }

  void add_ipv6(PacketBuilder& b) {
    testing::Ipv6 src = source6(), dst{};
    for (auto& x : dst) x = static_cast<uint8_t>(rng_());
    if (!pools_.destinations6.empty() && chance(0.4)) dst = pick(pools_.destinations6);
    uint32_t r = uniform(0, 99);
    uint8_t transport = r < 65   ? testing::kProtoTcp
                        : r < 85 ? testing::kProtoUdp
                        : r < 93 ? kIpTunnels[uniform(0, std::size(kIpTunnels) - 1)]
                                 : testing::kProtoIcmpv6;
    std::vector<uint8_t> chain;  // extension headers, outermost first
    for (uint32_t i = 0, n = chance(0.6) ? 0 : uniform(1, 5); i < n; i++)
      chain.push_back(static_cast<uint8_t>(std::vector<int>{0, 43, 44, 60}[uniform(0, 3)]));
    b.ipv6(src, dst, chain.empty() ? transport : chain[0]);
    for (size_t i = 0; i < chain.size(); i++) {
      uint8_t next = i + 1 < chain.size() ? chain[i + 1] : transport;
      uint16_t offset = chain[i] == 44 && chance(0.4) ? static_cast<uint16_t>(uniform(1, 8191)) : 0;
      b.ipv6_extension(chain[i], next, offset);
    }
    if (transport == kProtoTcp || transport == kProtoUdp)
      add_transport(b, transport);
    else
      b.payload(8);
  }

  std::mt19937_64& rng_;
  const FramePools& pools_;
};

// DESIGN §1.1: which protocols can be data plane under the policy (the
// kernel's answers about sockets and routes are the HostModel's).
class Scope {
 public:
  explicit Scope(const Policy& policy) : policy_(policy) {}
  bool declared(uint8_t proto, uint16_t port) const {
    const TunnelKind* tunnel = find_tunnel(proto, port);
    const auto& names = policy_.host.tunnels;
    return tunnel && std::find(names.begin(), names.end(), tunnel->name) != names.end();
  }
  // A protected port uses the protocol, or it is (UDP: may carry) an
  // undeclared tunnel.
  bool protocol(uint8_t proto) const {
    if (std::any_of(policy_.host.ports.begin(), policy_.host.ports.end(),
                    [&](const PortSpec& p) { return p.proto == proto; }))
      return true;
    if (proto == kProtoUdp)
      return std::any_of(std::begin(kUdpTunnelPorts), std::end(kUdpTunnelPorts),
                         [&](uint16_t port) { return !declared(kProtoUdp, port); });
    return find_tunnel(proto, 0) && !declared(proto, 0);
  }

 private:
  const Policy& policy_;
};

// IPv4 after the Ethernet header and tags, starting at `at`.
void describe_ipv4(const std::vector<uint8_t>& f, size_t at, PacketDescription& d) {
  if (f.size() < at + 20) {  // not even the destination is known
    d.malformed = true;
    return;
  }
  d.source = read32(f, at + 12);
  d.destination = read32(f, at + 16);
  d.proto = f[at + 9];
  const size_t header = size_t{f[at] & 0x0fu} * 4;
  if (header < 20 || f.size() < at + header) {  // bad IHL: the port cannot be found
    d.port_unreadable = true;
    return;
  }
  d.ip_options = header > 20;
  if ((read16(f, at + 6) & 0x1fff) != 0) {  // a later fragment carries no port
    d.later_fragment = true;
    return;
  }
  if (d.proto != kProtoTcp && d.proto != kProtoUdp) return;  // no port to read
  if (f.size() < at + header + 4) {  // transport header ends before the port
    d.port_unreadable = true;
    return;
  }
  d.destination_port = read16(f, at + header + 2);
}

void describe_ipv6(const std::vector<uint8_t>& f, size_t at, const Scope& scope,
                   PacketDescription& d) {
  if (f.size() < at + 40) {
    d.malformed = true;
    return;
  }
  std::copy(f.begin() + static_cast<std::ptrdiff_t>(at + 8), f.begin() + static_cast<std::ptrdiff_t>(at + 24),
            d.source6.begin());
  std::copy(f.begin() + static_cast<std::ptrdiff_t>(at + 24),
            f.begin() + static_cast<std::ptrdiff_t>(at + 40), d.destination6.begin());
  auto is_extension = [](uint8_t h) { return h == 0 || h == 43 || h == 44 || h == 60; };
  uint8_t next = f[at + 6];
  size_t pos = at + 40;
  // The reference reads as far as the program promises to: four extension
  // headers. A longer chain, or a later fragment, hides the transport.
  constexpr int kExtensionsRead = 4;
  for (int i = 0; i < kExtensionsRead && is_extension(next); i++) {
    if (f.size() < pos + 4) {
      d.malformed = true;
      return;
    }
    if (next == 44) {
      if (read16(f, pos + 2) & 0xfff8) {  // decided by its source, as a fragment
        d.later_fragment = true;
        return;
      }
      next = f[pos];
      pos += 8;
    } else {
      size_t length = (size_t{f[pos + 1]} + 1) * 8;
      next = f[pos];
      pos += length;
    }
  }
  if (is_extension(next)) {
    d.transport_unknown = true;
    return;
  }
  d.proto = next;
  if (!scope.protocol(next) || (next != kProtoTcp && next != kProtoUdp)) return;
  if (f.size() < pos + 4) {
    d.malformed = true;
    return;
  }
  d.destination_port = read16(f, pos + 2);
}

}  // namespace

FramePools pools_for(const Policy& policy, const std::vector<uint32_t>& ifindexes) {
  std::set<uint32_t> sources;
  std::set<Ipv6Address> sources6;
  for (const IpRule& rule : policy.ip_rules) {
    if (const Ipv4Prefix* p = rule.ipv4()) add_edges(sources, *p);
    if (const Ipv6Prefix* p = rule.ipv6()) add_edges(sources6, *p);
  }
  for (const VirtualNetwork& vnet : policy.host.virtual_networks)
    for (const Subnet& subnet : vnet.subnets) {
      for (const Ipv4Prefix& p : subnet.prefixes) add_edges(sources, p);
      for (const Ipv6Prefix& p : subnet.prefixes6) add_edges(sources6, p);
    }
  for (const CustomTrustedService& service : policy.host.trusted.custom)
    for (const Ipv4Prefix& p : service.prefixes) add_edges(sources, p);
  for (const CustomTrustedService& service : policy.host.trusted.custom)
    for (const Ipv6Prefix& p : service.prefixes6) add_edges(sources6, p);
  if (policy.host.perimeter)
    for (const PerimeterRule& rule : policy.host.perimeter->inbound) {
      for (const Ipv4Prefix& p : rule.prefixes) add_edges(sources, p);
      for (const Ipv6Prefix& p : rule.prefixes6) add_edges(sources6, p);
    }
  FramePools pools;
  pools.sources.assign(sources.begin(), sources.end());
  pools.sources6.assign(sources6.begin(), sources6.end());
  pools.destinations = policy.host.addresses;
  for (const PrivateEndpoint& endpoint : policy.host.private_endpoints)
    pools.destinations.push_back(endpoint.address);
  pools.destinations6 = policy.host.addresses6;
  for (const PrivateEndpoint6& endpoint : policy.host.private_endpoints6)
    pools.destinations6.push_back(endpoint.address);
  // Unlisted: an address a socket is bound to, the subnet broadcast, the
  // limited broadcast, two groups, a routed one, another "local" one.
  for (const char* other : {"192.0.2.99", "192.0.2.255", "255.255.255.255", "224.0.0.1",
                            "239.1.2.3", "198.18.0.5", "10.200.0.1", "127.0.0.5"})
    pools.destinations.push_back(ipv4_from_bytes(testing::ipv4(other).data()));
  std::set<uint16_t> vlans = {0};
  for (const VirtualNetwork& vnet : policy.host.virtual_networks)
    if (vnet.segment.vlan) vlans.insert(*vnet.segment.vlan);
  pools.vlans.assign(vlans.begin(), vlans.end());
  pools.ifindexes = ifindexes;
  for (const VirtualNetwork& vnet : policy.host.virtual_networks) {
    FramePools::Segment segment;
    if (vnet.segment.interface) {
      unsigned index = if_nametoindex(vnet.segment.interface->c_str());
      if (index == 0) continue;
      segment.ifindex = index;
    }
    segment.vlan = vnet.segment.vlan.value_or(0);
    std::set<uint32_t> inside;
    for (const Subnet& subnet : vnet.subnets)
      for (const Ipv4Prefix& p : subnet.prefixes) add_edges(inside, p);
    segment.sources.assign(inside.begin(), inside.end());
    if (!segment.sources.empty()) pools.segments.push_back(std::move(segment));
  }
  pools.ports = policy.host.ports;
  return pools;
}

TestFrame generate_frame(std::mt19937_64& rng, const FramePools& pools) {
  return FrameGenerator(rng, pools).run();
}

HostModel HostModel::standard() {
  uint32_t bound = ipv4_from_bytes(testing::ipv4("192.0.2.99").data());
  HostModel host;
  host.sockets = {{kProtoTcp, 0, 443},         {kProtoTcp, bound, 8443}, {kProtoTcp, 0, 1},
                  {kProtoTcp, 0, 65535, true}, {kProtoUdp, 0, 443},      {kProtoUdp, bound, 53},
                  {kProtoUdp, 0, 4789}};
  return host;
}

bool HostModel::wildcard_socket_owns(uint8_t proto, uint32_t dst, uint16_t port) const {
  bool wildcard = false;
  for (const Socket& socket : sockets) {
    if (socket.proto != proto || socket.port != port) continue;
    if (socket.address == dst) return false;  // a socket bound to the address wins
    wildcard |= socket.address == 0;
  }
  return wildcard;
}

PacketDescription describe_frame(const std::vector<uint8_t>& f, uint32_t ifindex,
                                 const Policy& policy, const HostModel& host) {
  PacketDescription d;
  d.ifindex = ifindex;
  d.family = PacketFamily::kNotIp;
  d.destination_port = 0;  // unknown until read (no port is protected as 0)
  size_t at = 14;
  uint16_t type = read16(f, 12);
  auto is_tag = [](uint16_t t) { return t == testing::kEth8021Q || t == testing::kEth8021AD; };
  for (int tags = 0; is_tag(type); tags++) {
    if (tags == 2 || f.size() < at + 4) {  // a third tag, or a cut one: payload unknown
      d.malformed = true;
      return d;
    }
    // The innermost tag that names a VLAN names the segment (VID 0 is a
    // priority tag only).
    if (uint16_t vid = read16(f, at) & 0x0fff) d.vlan = vid;
    type = read16(f, at + 2);
    at += 4;
  }
  Scope scope(policy);
  if (type == testing::kEthIpv4) {
    d.family = PacketFamily::kIpv4;
    describe_ipv4(f, at, d);
    d.wildcard_socket = host.wildcard_socket_owns(d.proto, d.destination, d.destination_port);
    d.forwarded = host.forwards(d.destination);
  } else if (type == testing::kEthIpv6) {
    d.family = PacketFamily::kIpv6;
    describe_ipv6(f, at, scope, d);
  }
  return d;
}

}  // namespace vaultwall::difftest
