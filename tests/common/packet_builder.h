// Builds test frames byte by byte: Ethernet, VLAN tags, IPv4 (options,
// fragments), IPv6 (extension headers), TCP, UDP, ARP. Used by the BPF
// tests, the differential tests and the benchmarks, so every one of them
// describes packets the same way.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vaultwall::testing {

using Ipv4 = std::array<uint8_t, 4>;
using Ipv6 = std::array<uint8_t, 16>;

// "203.0.113.7" -> bytes; throws std::invalid_argument on bad text.
Ipv4 ipv4(const std::string& text);
Ipv6 ipv6(const std::string& text);

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthArp = 0x0806;
constexpr uint16_t kEth8021Q = 0x8100;
constexpr uint16_t kEth8021AD = 0x88a8;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoIcmpv6 = 58;

// Fluent builder; call in header order, then bytes(). Lengths and the IPv4
// checksum are filled in by bytes() unless set explicitly.
class PacketBuilder {
 public:
  PacketBuilder& ethernet(uint16_t ethertype = 0 /* 0: from the next header */);
  PacketBuilder& vlan(uint16_t vid, uint16_t tpid = kEth8021Q);
  // ihl: header length in 32-bit words (5 = no options); options are
  // zero-filled (NOPs would be 1s; zero is End-of-Options, fine for parsing).
  PacketBuilder& ipv4(Ipv4 src, Ipv4 dst, uint8_t proto, uint8_t ihl = 5,
                      uint16_t frag_offset_units = 0, bool more_fragments = false);
  // Writes IPv4 options into the option space of the IPv4 header just
  // added (ihl must leave room for them; the rest stays End-of-Options).
  PacketBuilder& ipv4_options(const std::vector<uint8_t>& options);
  PacketBuilder& ipv6(Ipv6 src, Ipv6 dst, uint8_t next_header);
  // IPv6 extension header (hop-by-hop 0, routing 43, destination 60) of
  // 8 bytes, or a fragment header (44) with the given offset in 8-byte units.
  PacketBuilder& ipv6_extension(uint8_t type, uint8_t next_header, uint16_t frag_offset_units = 0);
  PacketBuilder& tcp(uint16_t sport, uint16_t dport);
  PacketBuilder& udp(uint16_t sport, uint16_t dport);
  PacketBuilder& icmp();
  // Tunnel headers, followed by the encapsulated packet: GRE (4 bytes,
  // no options) carrying `protocol` (an ethertype), VXLAN (8 bytes) with
  // its network identifier.
  PacketBuilder& gre(uint16_t protocol);
  PacketBuilder& vxlan(uint32_t vni);
  PacketBuilder& arp_request(Ipv4 sender, Ipv4 target);
  PacketBuilder& payload(size_t n, uint8_t fill = 0xab);

  // The frame. Ethernet ethertypes and VLAN inner types are chained from
  // the header that follows; IPv4 total length/checksum, IPv6 payload
  // length and UDP length cover everything after them.
  std::vector<uint8_t> bytes() const;
  // The frame cut to its first n bytes (a truncated packet).
  std::vector<uint8_t> truncated(size_t n) const;

  // Offset of the most recently added header's start (for truncation at a
  // header boundary) and the size of the frame so far.
  size_t last_header_offset() const { return last_offset_; }
  size_t size() const { return buf_.size(); }

 private:
  struct Fixup {
    enum Kind { kEtherType, kIpv4, kIpv6, kUdp } kind;
    size_t offset;
  };
  void begin_header(uint16_t ethertype_for_previous);
  std::vector<uint8_t> buf_;
  std::vector<Fixup> fixups_;
  std::vector<std::pair<size_t, uint16_t>> type_slots_;  // (offset, value) ethertype chain
  size_t last_offset_ = 0;
  long pending_type_slot_ = -1;  // offset of an ethertype field waiting for the next header
};

// The bytes of each header the builder writes (IPv4 and TCP without options).
constexpr size_t kEthLen = 14;
constexpr size_t kVlanLen = 4;
constexpr size_t kIpv4Len = 20;
constexpr size_t kIpv6Len = 40;
constexpr size_t kTcpLen = 20;
constexpr size_t kUdpLen = 8;
constexpr size_t kArpLen = 28;

}  // namespace vaultwall::testing
