// The packet builder is the vocabulary of every BPF, differential and
// benchmark test: if it lies about a length or an ethertype, those tests
// prove nothing. Offsets below are the wire layout of each header.
#include "packet_builder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace vaultwall::testing {
namespace {

const Ipv4 kSrc = ipv4("203.0.113.9");
const Ipv4 kDst = ipv4("192.0.2.10");

uint16_t read16(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint16_t>(b.at(at) << 8 | b.at(at + 1));
}

// One's-complement sum over a header including its checksum field:
// 0xffff when the checksum is right.
uint16_t ones_complement_sum(const std::vector<uint8_t>& b, size_t start, size_t len) {
  uint32_t sum = 0;
  for (size_t i = start; i < start + len; i += 2) sum += read16(b, i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

TEST(AddressText, ParsesDottedQuadAndIpv6) {
  EXPECT_EQ(ipv4("198.51.100.7"), (Ipv4{198, 51, 100, 7}));
  Ipv6 v6 = ipv6("2001:db8::1");
  EXPECT_EQ(v6[0], 0x20);
  EXPECT_EQ(v6[1], 0x01);
  EXPECT_EQ(v6[15], 0x01);
}

TEST(AddressText, RejectsWhatIsNotAnAddress) {
  EXPECT_THROW(ipv4("203.0.113"), std::invalid_argument);
  EXPECT_THROW(ipv4("2001:db8::1"), std::invalid_argument);
  EXPECT_THROW(ipv6("203.0.113.9"), std::invalid_argument);
}

TEST(PacketBuilder, TcpOverIpv4HasTheWireLengths) {
  auto frame = PacketBuilder().ethernet().ipv4(kSrc, kDst, kProtoTcp).tcp(40000, 443).bytes();
  ASSERT_EQ(frame.size(), kEthLen + kIpv4Len + kTcpLen);
  EXPECT_EQ(read16(frame, 12), kEthIpv4);
  EXPECT_EQ(frame[kEthLen], 0x45) << "version 4, IHL 5";
  EXPECT_EQ(read16(frame, kEthLen + 2), kIpv4Len + kTcpLen) << "IPv4 total length";
  EXPECT_EQ(frame[kEthLen + 9], kProtoTcp);
  EXPECT_EQ(read16(frame, kEthLen + kIpv4Len + 0), 40000);
  EXPECT_EQ(read16(frame, kEthLen + kIpv4Len + 2), 443);
  EXPECT_EQ(frame[kEthLen + kIpv4Len + 12] >> 4, 5) << "TCP data offset";
}

TEST(PacketBuilder, Ipv4AddressesAreInNetworkOrder) {
  auto frame = PacketBuilder().ethernet().ipv4(kSrc, kDst, kProtoTcp).tcp(1, 2).bytes();
  EXPECT_EQ(std::vector<uint8_t>(frame.begin() + 26, frame.begin() + 30),
            std::vector<uint8_t>(kSrc.begin(), kSrc.end()));
  EXPECT_EQ(std::vector<uint8_t>(frame.begin() + 30, frame.begin() + 34),
            std::vector<uint8_t>(kDst.begin(), kDst.end()));
}

TEST(PacketBuilder, Ipv4ChecksumIsValidForEveryHeaderLength) {
  for (uint8_t ihl = 5; ihl <= 15; ihl++) {
    SCOPED_TRACE(ihl);
    auto frame = PacketBuilder().ethernet().ipv4(kSrc, kDst, kProtoUdp, ihl).udp(1, 2).bytes();
    ASSERT_EQ(frame.size(), kEthLen + ihl * 4u + kUdpLen);
    EXPECT_EQ(frame[kEthLen] & 0x0f, ihl);
    EXPECT_EQ(ones_complement_sum(frame, kEthLen, ihl * 4u), 0xffff);
  }
}

TEST(PacketBuilder, IhlBelowFiveStillWritesTheFixedHeader) {
  // The parser must see a 20-byte header that claims to be shorter.
  auto frame = PacketBuilder().ethernet().ipv4(kSrc, kDst, kProtoTcp, 3).tcp(1, 443).bytes();
  EXPECT_EQ(frame.size(), kEthLen + kIpv4Len + kTcpLen);
  EXPECT_EQ(frame[kEthLen], 0x43);
}

TEST(PacketBuilder, FragmentFieldsCarryOffsetAndMoreFragments) {
  auto first = PacketBuilder().ethernet().ipv4(kSrc, kDst, kProtoTcp, 5, 0, true).bytes();
  EXPECT_EQ(read16(first, kEthLen + 6), 0x2000);
  auto later = PacketBuilder().ethernet().ipv4(kSrc, kDst, kProtoTcp, 5, 185).payload(8).bytes();
  EXPECT_EQ(read16(later, kEthLen + 6), 185);
}

TEST(PacketBuilder, UdpLengthCoversThePayload) {
  auto frame =
      PacketBuilder().ethernet().ipv4(kSrc, kDst, kProtoUdp).udp(5353, 8443).payload(12).bytes();
  ASSERT_EQ(frame.size(), kEthLen + kIpv4Len + kUdpLen + 12);
  EXPECT_EQ(read16(frame, kEthLen + kIpv4Len + 4), kUdpLen + 12);
  EXPECT_EQ(read16(frame, kEthLen + 2), kIpv4Len + kUdpLen + 12);
}

TEST(PacketBuilder, VlanTagChainsEthertypes) {
  auto frame = PacketBuilder().ethernet().vlan(100).ipv4(kSrc, kDst, kProtoTcp).tcp(1, 443).bytes();
  ASSERT_EQ(frame.size(), kEthLen + kVlanLen + kIpv4Len + kTcpLen);
  EXPECT_EQ(read16(frame, 12), kEth8021Q);
  EXPECT_EQ(read16(frame, 14) & 0x0fff, 100);
  EXPECT_EQ(read16(frame, 16), kEthIpv4);
  EXPECT_EQ(frame[18], 0x45);
}

TEST(PacketBuilder, QinQChainsOuterServiceTagInnerCustomerTag) {
  auto frame = PacketBuilder()
                   .ethernet()
                   .vlan(300, kEth8021AD)
                   .vlan(100)
                   .ipv6(ipv6("2001:db8::1"), ipv6("2001:db8::2"), kProtoTcp)
                   .tcp(1, 443)
                   .bytes();
  ASSERT_EQ(frame.size(), kEthLen + 2 * kVlanLen + kIpv6Len + kTcpLen);
  EXPECT_EQ(read16(frame, 12), kEth8021AD);
  EXPECT_EQ(read16(frame, 14), 300);
  EXPECT_EQ(read16(frame, 16), kEth8021Q);
  EXPECT_EQ(read16(frame, 18), 100);
  EXPECT_EQ(read16(frame, 20), kEthIpv6);
}

TEST(PacketBuilder, VxlanCarriesAnInnerEthernetFrame) {
  auto frame = PacketBuilder()
                   .ethernet()
                   .ipv4(kSrc, kDst, kProtoUdp)
                   .udp(40000, 4789)
                   .vxlan(0x123456)
                   .ethernet()
                   .ipv4(kDst, kSrc, kProtoTcp)
                   .tcp(1, 443)
                   .bytes();
  const size_t vxlan = kEthLen + kIpv4Len + kUdpLen;
  ASSERT_EQ(frame.size(), vxlan + 8 + kEthLen + kIpv4Len + kTcpLen);
  EXPECT_EQ(frame[vxlan], 0x08);  // the "I" flag
  EXPECT_EQ(frame[vxlan + 4], 0x12);
  EXPECT_EQ(frame[vxlan + 6], 0x56);
  EXPECT_EQ(read16(frame, vxlan + 8 + 12), kEthIpv4);  // the inner ethertype
  EXPECT_EQ(read16(frame, kEthLen + kIpv4Len + 4), frame.size() - kEthLen - kIpv4Len);
  EXPECT_EQ(read16(frame, kEthLen + 2), frame.size() - kEthLen);  // outer total length
}

TEST(PacketBuilder, GreCarriesItsProtocol) {
  auto frame =
      PacketBuilder().ethernet().ipv4(kSrc, kDst, 47).gre(kEthIpv4).ipv4(kDst, kSrc, kProtoTcp).bytes();
  ASSERT_EQ(frame.size(), kEthLen + kIpv4Len + 4 + kIpv4Len);
  EXPECT_EQ(read16(frame, kEthLen + kIpv4Len), 0);  // no checksum, key or sequence
  EXPECT_EQ(read16(frame, kEthLen + kIpv4Len + 2), kEthIpv4);
  EXPECT_EQ(frame[kEthLen + 9], 47);
}

TEST(PacketBuilder, ExplicitEthertypeIsKept) {
  auto frame = PacketBuilder().ethernet(0x88cc).payload(20).bytes();  // LLDP
  EXPECT_EQ(read16(frame, 12), 0x88cc);
}

TEST(PacketBuilder, Ipv6PayloadLengthCoversExtensionHeaders) {
  auto frame = PacketBuilder()
                   .ethernet()
                   .ipv6(ipv6("2001:db8::1"), ipv6("2001:db8::2"), 0)
                   .ipv6_extension(0, 60)
                   .ipv6_extension(60, kProtoTcp)
                   .tcp(1, 443)
                   .bytes();
  ASSERT_EQ(frame.size(), kEthLen + kIpv6Len + 16 + kTcpLen);
  EXPECT_EQ(read16(frame, 12), kEthIpv6);
  EXPECT_EQ(frame[kEthLen] >> 4, 6);
  EXPECT_EQ(read16(frame, kEthLen + 4), 16 + kTcpLen);
  EXPECT_EQ(frame[kEthLen + 6], 0) << "next header: hop-by-hop";
  EXPECT_EQ(frame[kEthLen + kIpv6Len], 60) << "hop-by-hop -> destination options";
  EXPECT_EQ(frame[kEthLen + kIpv6Len + 8], kProtoTcp);
}

TEST(PacketBuilder, Ipv6FragmentHeaderCarriesOffsetInEightByteUnits) {
  auto frame = PacketBuilder()
                   .ethernet()
                   .ipv6(ipv6("2001:db8::1"), ipv6("2001:db8::2"), 44)
                   .ipv6_extension(44, kProtoTcp, 10)
                   .payload(16)
                   .bytes();
  EXPECT_EQ(read16(frame, kEthLen + kIpv6Len + 2), 10 << 3);
}

TEST(PacketBuilder, ArpRequestIsTwentyEightBytesAfterEthernet) {
  auto frame = PacketBuilder().ethernet().arp_request(kSrc, kDst).bytes();
  ASSERT_EQ(frame.size(), kEthLen + kArpLen);
  EXPECT_EQ(read16(frame, 12), kEthArp);
  EXPECT_EQ(read16(frame, kEthLen + 6), 1) << "request";
}

TEST(PacketBuilder, IcmpIsEightBytes) {
  auto frame = PacketBuilder().ethernet().ipv4(kSrc, kDst, kProtoIcmp).icmp().bytes();
  EXPECT_EQ(frame.size(), kEthLen + kIpv4Len + 8);
  EXPECT_EQ(frame[kEthLen + kIpv4Len], 8) << "echo request";
}

TEST(PacketBuilder, LastHeaderOffsetMarksTheHeaderJustAdded) {
  PacketBuilder b;
  b.ethernet();
  EXPECT_EQ(b.last_header_offset(), 0u);
  b.vlan(100);
  EXPECT_EQ(b.last_header_offset(), kEthLen);
  b.ipv4(kSrc, kDst, kProtoTcp);
  EXPECT_EQ(b.last_header_offset(), kEthLen + kVlanLen);
  b.tcp(1, 443);
  EXPECT_EQ(b.last_header_offset(), kEthLen + kVlanLen + kIpv4Len);
  EXPECT_EQ(b.size(), kEthLen + kVlanLen + kIpv4Len + kTcpLen);
}

TEST(PacketBuilder, TruncatedCutsTheFinishedFrame) {
  PacketBuilder b;
  b.ethernet().ipv4(kSrc, kDst, kProtoTcp).tcp(1, 443);
  auto whole = b.bytes();
  auto cut = b.truncated(kEthLen + kIpv4Len + 3);
  ASSERT_EQ(cut.size(), kEthLen + kIpv4Len + 3);
  // Lengths and checksum describe the whole packet, as on a wire where the
  // tail was lost: the prefix is byte-identical.
  EXPECT_TRUE(std::equal(cut.begin(), cut.end(), whole.begin()));
  EXPECT_EQ(b.truncated(1000), whole) << "cutting beyond the end keeps the frame";
}

}  // namespace
}  // namespace vaultwall::testing
