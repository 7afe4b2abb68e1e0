// Frames the BPF tests send, named by what they are. Untagged, from a
// fixed client port, to the vault's protected port unless said otherwise.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "packet_builder.h"
#include "test_policy.h"

namespace vaultwall::testing::frames {

using namespace world;

constexpr uint16_t kClientPort = 40000;

inline const Ipv6 kClient6 = ipv6("2001:db8::50");
inline const Ipv6 kVault6 = ipv6("2001:db8::10");

inline PacketBuilder tcp4(Ipv4 src, Ipv4 dst = kVault, uint16_t dport = kHttpsPort) {
  PacketBuilder b;
  b.ethernet().ipv4(src, dst, kProtoTcp).tcp(kClientPort, dport);
  return b;
}

inline PacketBuilder udp4(Ipv4 src, Ipv4 dst = kVault, uint16_t dport = kQuicPort) {
  PacketBuilder b;
  b.ethernet().ipv4(src, dst, kProtoUdp).udp(kClientPort, dport);
  return b;
}

inline PacketBuilder icmp4(Ipv4 src, Ipv4 dst = kVault) {
  PacketBuilder b;
  b.ethernet().ipv4(src, dst, kProtoIcmp).icmp();
  return b;
}

inline constexpr uint8_t kIpoptRecordRoute = 0x07;
inline constexpr uint8_t kIpoptLsrr = 0x83;  // loose source route
inline constexpr uint8_t kIpoptSsrr = 0x89;  // strict source route

// TCP to `port` with a route option (source route or record route) naming
// `via`: Linux, when it accepts source routes, delivers a source-routed
// packet to `via`.
inline PacketBuilder tcp4_route_option(uint8_t option, Ipv4 src, Ipv4 dst, Ipv4 via,
                                       uint16_t port = kHttpsPort) {
  PacketBuilder b;
  // NOP, then type, length 7, pointer 4, one address: 8 bytes, ihl 7.
  std::vector<uint8_t> options = {1, option, 7, 4};
  options.insert(options.end(), via.begin(), via.end());
  b.ethernet().ipv4(src, dst, kProtoTcp, 7).ipv4_options(options).tcp(kClientPort, port);
  return b;
}

// TCP to the vault's HTTPS port with an IPv4 header of `ihl` words.
inline PacketBuilder tcp4_with_ihl(uint8_t ihl, Ipv4 src, Ipv4 dst = kVault) {
  PacketBuilder b;
  b.ethernet().ipv4(src, dst, kProtoTcp, ihl).tcp(kClientPort, kHttpsPort);
  return b;
}

// A non-first fragment: 64 bytes of the middle of a datagram, no L4 header.
inline PacketBuilder later_fragment(Ipv4 src, Ipv4 dst = kVault, uint8_t proto = kProtoTcp) {
  PacketBuilder b;
  b.ethernet().ipv4(src, dst, proto, 5, /*frag_offset_units=*/185, /*more_fragments=*/true);
  b.payload(64);
  return b;
}

// The first fragment: offset 0, more fragments, the TCP header is present.
inline PacketBuilder first_fragment(Ipv4 src, Ipv4 dst = kVault) {
  PacketBuilder b;
  b.ethernet().ipv4(src, dst, kProtoTcp, 5, 0, /*more_fragments=*/true);
  b.tcp(kClientPort, kHttpsPort).payload(64);
  return b;
}

inline PacketBuilder tcp4_tagged(std::vector<std::pair<uint16_t, uint16_t>> tags /* (vid, tpid) */,
                                 Ipv4 src, Ipv4 dst = kVault) {
  PacketBuilder b;
  b.ethernet();
  for (auto [vid, tpid] : tags) b.vlan(vid, tpid);
  b.ipv4(src, dst, kProtoTcp).tcp(kClientPort, kHttpsPort);
  return b;
}

inline PacketBuilder tcp4_vlan(uint16_t vid, Ipv4 src) {
  return tcp4_tagged({{vid, kEth8021Q}}, src);
}

inline PacketBuilder tcp4_qinq(uint16_t outer, uint16_t inner, Ipv4 src) {
  return tcp4_tagged({{outer, kEth8021AD}, {inner, kEth8021Q}}, src);
}

inline PacketBuilder tcp6(uint16_t dport = kHttpsPort) {
  PacketBuilder b;
  b.ethernet().ipv6(kClient6, kVault6, kProtoTcp).tcp(kClientPort, dport);
  return b;
}

inline PacketBuilder tcp6_from(const Ipv6& src, uint16_t dport = kHttpsPort) {
  PacketBuilder b;
  b.ethernet().ipv6(src, kVault6, kProtoTcp).tcp(kClientPort, dport);
  return b;
}

inline PacketBuilder tcp6_vlan(uint16_t vlan, const Ipv6& src) {
  PacketBuilder b;
  b.ethernet().vlan(vlan).ipv6(src, kVault6, kProtoTcp).tcp(kClientPort, kHttpsPort);
  return b;
}

inline PacketBuilder udp6(uint16_t dport = kQuicPort) {
  PacketBuilder b;
  b.ethernet().ipv6(kClient6, kVault6, kProtoUdp).udp(kClientPort, dport);
  return b;
}

inline PacketBuilder icmp6() {
  PacketBuilder b;
  b.ethernet().ipv6(kClient6, kVault6, kProtoIcmpv6).icmp();
  return b;
}

// IPv6 with the given chain of 8-byte extension headers, then TCP to dport.
constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kDestOpts = 60;
inline PacketBuilder tcp6_after(std::vector<uint8_t> extensions, uint16_t dport,
                                const Ipv6& src = kClient6) {
  PacketBuilder b;
  b.ethernet().ipv6(src, kVault6, extensions.empty() ? kProtoTcp : extensions[0]);
  for (size_t i = 0; i < extensions.size(); i++) {
    uint8_t next = i + 1 < extensions.size() ? extensions[i + 1] : kProtoTcp;
    b.ipv6_extension(extensions[i], next);
  }
  b.tcp(kClientPort, dport);
  return b;
}

inline PacketBuilder ipv6_later_fragment(const Ipv6& src = kClient6) {
  PacketBuilder b;
  b.ethernet().ipv6(src, kVault6, kFragment).ipv6_extension(kFragment, kProtoTcp, 100);
  b.payload(64);
  return b;
}

// ---- Tunnels: the outer packet carries a TCP SYN to the vault's HTTPS port
// from an address an IP rule admits, so only the outer source can explain
// a deny.
constexpr uint8_t kProtoIpip = 4, kProtoIpv6InIp = 41, kProtoGre = 47, kProtoEsp = 50,
                  kProtoAh = 51, kProtoIpcomp = 108, kProtoL2tp = 115, kProtoMplsInIp = 137;
constexpr uint16_t kVxlanPort = 4789;

inline void inner_https_syn(PacketBuilder& b) {
  b.ipv4(kFromRule24, kVault, kProtoTcp).tcp(kClientPort, kHttpsPort);
}

// Outer IPv4 from src carrying IP protocol `proto`: an inner IPv4 packet
// (IP-in-IP, GRE, MPLS), an inner IPv6 one (6in4), or for ESP, AH, IPComp
// and L2TP an opaque payload (encrypted, compressed or session data the
// program never reads).
inline PacketBuilder ip_tunnel4(Ipv4 src, uint8_t proto, Ipv4 dst = kVault) {
  PacketBuilder b;
  b.ethernet().ipv4(src, dst, proto);
  if (proto == kProtoGre) b.gre(kEthIpv4);
  if (proto == kProtoMplsInIp) b.payload(4, 0x01);  // one label, bottom of stack
  if (proto == kProtoIpv6InIp)
    b.ipv6(kClient6, kVault6, kProtoTcp).tcp(kClientPort, kHttpsPort);
  else if (proto == kProtoIpip || proto == kProtoGre || proto == kProtoMplsInIp)
    inner_https_syn(b);
  else
    b.payload(40);
  return b;
}

// Outer UDP from src to `port`, an 8-byte tunnel header and an inner
// Ethernet frame (VXLAN's shape; the program reads none of it).
inline PacketBuilder udp_tunnel4(Ipv4 src, uint16_t port = kVxlanPort, Ipv4 dst = kVault) {
  PacketBuilder b;
  b.ethernet().ipv4(src, dst, kProtoUdp).udp(kClientPort, port).vxlan(42).ethernet();
  inner_https_syn(b);
  return b;
}

inline PacketBuilder ip_tunnel6(uint8_t next_header) {
  PacketBuilder b;
  b.ethernet().ipv6(kClient6, kVault6, next_header);
  if (next_header == kProtoGre) b.gre(kEthIpv4);
  if (next_header == kProtoIpip || next_header == kProtoGre)
    inner_https_syn(b);
  else if (next_header == kProtoIpv6InIp)
    b.ipv6(kClient6, kVault6, kProtoTcp).tcp(kClientPort, kHttpsPort);
  else
    b.payload(40);
  return b;
}

inline PacketBuilder udp_tunnel6(uint16_t port = kVxlanPort) {
  PacketBuilder b;
  b.ethernet().ipv6(kClient6, kVault6, kProtoUdp).udp(kClientPort, port).vxlan(42).ethernet();
  inner_https_syn(b);
  return b;
}

inline PacketBuilder arp() {
  PacketBuilder b;
  b.ethernet().arp_request(kStranger, kVault);
  return b;
}

inline PacketBuilder arp_tagged(std::vector<std::pair<uint16_t, uint16_t>> tags) {
  PacketBuilder b;
  b.ethernet();
  for (auto [vid, tpid] : tags) b.vlan(vid, tpid);
  b.arp_request(kStranger, kVault);
  return b;
}

}  // namespace vaultwall::testing::frames
