#include "packet_builder.h"

#include <arpa/inet.h>

#include <stdexcept>

namespace vaultwall::testing {

Ipv4 ipv4(const std::string& text) {
  Ipv4 out{};
  if (inet_pton(AF_INET, text.c_str(), out.data()) != 1)
    throw std::invalid_argument("not an IPv4 address: " + text);
  return out;
}

Ipv6 ipv6(const std::string& text) {
  Ipv6 out{};
  if (inet_pton(AF_INET6, text.c_str(), out.data()) != 1)
    throw std::invalid_argument("not an IPv6 address: " + text);
  return out;
}

namespace {

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}

void append16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(v >> 8);
  b.push_back(v & 0xff);
}

template <size_t N>
void append(std::vector<uint8_t>& b, const std::array<uint8_t, N>& a) {
  b.insert(b.end(), a.begin(), a.end());
}

uint16_t ipv4_checksum(const uint8_t* header, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (header[i] << 8) | header[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

// Fills the pending ethertype slot (of an Ethernet header or VLAN tag) with
// the type of the header now being added.
void PacketBuilder::begin_header(uint16_t ethertype_for_previous) {
  if (pending_type_slot_ >= 0 && ethertype_for_previous != 0) {
    put16(buf_, pending_type_slot_, ethertype_for_previous);
    pending_type_slot_ = -1;
  }
  last_offset_ = buf_.size();
}

PacketBuilder& PacketBuilder::ethernet(uint16_t ethertype) {
  last_offset_ = buf_.size();
  const std::array<uint8_t, 6> dst{0x02, 0, 0, 0, 0, 0x01}, src{0x02, 0, 0, 0, 0, 0x02};
  append(buf_, dst);
  append(buf_, src);
  pending_type_slot_ = buf_.size();
  append16(buf_, ethertype);
  if (ethertype != 0) pending_type_slot_ = -1;
  return *this;
}

PacketBuilder& PacketBuilder::vlan(uint16_t vid, uint16_t tpid) {
  begin_header(tpid);
  append16(buf_, vid & 0x0fff);
  pending_type_slot_ = buf_.size();
  append16(buf_, 0);
  return *this;
}

PacketBuilder& PacketBuilder::ipv4(Ipv4 src, Ipv4 dst, uint8_t proto, uint8_t ihl,
                                   uint16_t frag_offset_units, bool more_fragments) {
  begin_header(kEthIpv4);
  size_t start = buf_.size();
  buf_.push_back(0x40 | (ihl & 0x0f));
  buf_.push_back(0);       // TOS
  append16(buf_, 0);       // total length: fixed up
  append16(buf_, 0x1234);  // id
  append16(buf_, (more_fragments ? 0x2000 : 0) | (frag_offset_units & 0x1fff));
  buf_.push_back(64);
  buf_.push_back(proto);
  append16(buf_, 0);  // checksum: fixed up
  append(buf_, src);
  append(buf_, dst);
  size_t header_len = static_cast<size_t>(ihl) * 4;
  if (header_len > 20) buf_.resize(start + header_len, 0);
  fixups_.push_back({Fixup::kIpv4, start});
  return *this;
}

PacketBuilder& PacketBuilder::ipv4_options(const std::vector<uint8_t>& options) {
  if (fixups_.empty() || fixups_.back().kind != Fixup::kIpv4)
    throw std::logic_error("ipv4_options() must follow ipv4()");
  const size_t start = fixups_.back().offset;
  const size_t room = static_cast<size_t>(buf_[start] & 0x0f) * 4 - 20;
  if (options.size() > room) throw std::logic_error("ipv4_options(): ihl leaves no room");
  std::copy(options.begin(), options.end(), buf_.begin() + static_cast<ptrdiff_t>(start + 20));
  return *this;
}

PacketBuilder& PacketBuilder::ipv6(Ipv6 src, Ipv6 dst, uint8_t next_header) {
  begin_header(kEthIpv6);
  size_t start = buf_.size();
  buf_.push_back(0x60);
  buf_.push_back(0);
  append16(buf_, 0);
  append16(buf_, 0);  // payload length: fixed up
  buf_.push_back(next_header);
  buf_.push_back(64);
  append(buf_, src);
  append(buf_, dst);
  fixups_.push_back({Fixup::kIpv6, start});
  return *this;
}

PacketBuilder& PacketBuilder::ipv6_extension(uint8_t type, uint8_t next_header,
                                             uint16_t frag_offset_units) {
  last_offset_ = buf_.size();
  buf_.push_back(next_header);
  buf_.push_back(0);  // hdr ext len: 0 -> 8 bytes (fragment header is always 8)
  if (type == 44) {
    append16(buf_, static_cast<uint16_t>(frag_offset_units << 3));
  } else {
    append16(buf_, 0);
  }
  for (int i = 0; i < 4; i++) buf_.push_back(0);
  return *this;
}

PacketBuilder& PacketBuilder::tcp(uint16_t sport, uint16_t dport) {
  last_offset_ = buf_.size();
  append16(buf_, sport);
  append16(buf_, dport);
  for (int i = 0; i < 8; i++) buf_.push_back(0);  // seq, ack
  buf_.push_back(5 << 4);                         // data offset
  buf_.push_back(0x02);                           // SYN
  append16(buf_, 65535);
  append16(buf_, 0);  // checksum (not checked by the program)
  append16(buf_, 0);
  return *this;
}

PacketBuilder& PacketBuilder::udp(uint16_t sport, uint16_t dport) {
  last_offset_ = buf_.size();
  append16(buf_, sport);
  append16(buf_, dport);
  append16(buf_, 0);  // length: fixed up to cover the payload
  append16(buf_, 0);  // checksum 0: "not computed", valid for UDP over IPv4
  fixups_.push_back({Fixup::kUdp, last_offset_});
  return *this;
}

PacketBuilder& PacketBuilder::icmp() {
  last_offset_ = buf_.size();
  buf_.push_back(8);  // echo request
  buf_.push_back(0);
  append16(buf_, 0);
  append16(buf_, 1);
  append16(buf_, 1);
  return *this;
}

PacketBuilder& PacketBuilder::gre(uint16_t protocol) {
  last_offset_ = buf_.size();
  append16(buf_, 0);  // no checksum, key or sequence number; version 0
  append16(buf_, protocol);
  return *this;
}

PacketBuilder& PacketBuilder::vxlan(uint32_t vni) {
  last_offset_ = buf_.size();
  buf_.push_back(0x08);  // "I" flag: the identifier is valid
  for (int i = 0; i < 3; i++) buf_.push_back(0);
  buf_.push_back(static_cast<uint8_t>(vni >> 16));
  buf_.push_back(static_cast<uint8_t>(vni >> 8));
  buf_.push_back(static_cast<uint8_t>(vni));
  buf_.push_back(0);
  return *this;
}

PacketBuilder& PacketBuilder::arp_request(Ipv4 sender, Ipv4 target) {
  begin_header(kEthArp);
  append16(buf_, 1);       // Ethernet
  append16(buf_, 0x0800);  // IPv4
  buf_.push_back(6);
  buf_.push_back(4);
  append16(buf_, 1);  // request
  const std::array<uint8_t, 6> mac{0x02, 0, 0, 0, 0, 0x02}, zero{};
  append(buf_, mac);
  append(buf_, sender);
  append(buf_, zero);
  append(buf_, target);
  return *this;
}

PacketBuilder& PacketBuilder::payload(size_t n, uint8_t fill) {
  buf_.insert(buf_.end(), n, fill);
  return *this;
}

std::vector<uint8_t> PacketBuilder::bytes() const {
  std::vector<uint8_t> out = buf_;
  for (const Fixup& f : fixups_) {
    if (f.kind == Fixup::kIpv4) {
      size_t header_len = (out[f.offset] & 0x0f) * 4;
      put16(out, f.offset + 2, static_cast<uint16_t>(out.size() - f.offset));
      if (header_len >= 20 && f.offset + header_len <= out.size())
        put16(out, f.offset + 10, ipv4_checksum(&out[f.offset], header_len));
    } else if (f.kind == Fixup::kIpv6) {
      put16(out, f.offset + 4, static_cast<uint16_t>(out.size() - f.offset - 40));
    } else if (f.kind == Fixup::kUdp) {
      put16(out, f.offset + 4, static_cast<uint16_t>(out.size() - f.offset));
    }
  }
  return out;
}

std::vector<uint8_t> PacketBuilder::truncated(size_t n) const {
  std::vector<uint8_t> out = bytes();
  if (n < out.size()) out.resize(n);
  return out;
}

}  // namespace vaultwall::testing
