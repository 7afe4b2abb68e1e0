// vaultwall.denyAction "reject": a denied TCP segment comes back as a RST
// built in place (XDP_TX), byte for byte as RFC 9293 §3.10.7.1 says; what
// may not be answered is dropped and counted as suppressed. Every row runs
// the production program through BPF_PROG_TEST_RUN; the checksums of each
// reply are verified here with RFC 1071 arithmetic of the test's own.
#include <sched.h>

#include <cstdint>
#include <string>
#include <vector>

#include "frames.h"
#include "packet_builder.h"
#include "private_network.h"
#include "test_policy.h"
#include "xdp_test_fixture.h"

namespace vaultwall::testing {
namespace {

using namespace world;
using namespace frames;

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

uint16_t be16(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint16_t>(b.at(at) << 8 | b.at(at + 1));
}
uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint32_t>(be16(b, at)) << 16 | be16(b, at + 2);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; i++) b.at(at + i) = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// RFC 1071: the one's-complement sum of big-endian 16-bit words, folded.
uint32_t ones_sum(const std::vector<uint8_t>& b, size_t from, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i < len; i += 2) sum += be16(b, from + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

// A segment as the client sent it: flags, sequence numbers, TCP options
// (multiple of 4 bytes) and payload, on top of a frame whose TCP header
// starts at tcp_at (PacketBuilder::last_header_offset before the payload).
struct Segment {
  uint8_t flags = kSyn;
  uint32_t seq = 0x11223344;
  uint32_t ack = 0;
  std::vector<uint8_t> options;
  size_t payload = 0;
};

// The frame: `b` ends with a bare TCP header; the segment's fields are
// written into it and options and payload appended (lengths are then
// fixed up by PacketBuilder::bytes).
std::vector<uint8_t> with_segment(PacketBuilder b, const Segment& s) {
  const size_t tcp_at = b.last_header_offset();
  if (!s.options.empty() || s.payload) b.payload(s.options.size() + s.payload);
  std::vector<uint8_t> frame = b.bytes();
  put32(frame, tcp_at + 4, s.seq);
  put32(frame, tcp_at + 8, s.ack);
  frame.at(tcp_at + 12) = static_cast<uint8_t>((5 + s.options.size() / 4) << 4);
  frame.at(tcp_at + 13) = s.flags;
  for (size_t i = 0; i < s.options.size(); i++) frame.at(tcp_at + 20 + i) = s.options[i];
  return frame;
}

struct RejectCase {
  std::string name;
  std::vector<uint8_t> frame;
  size_t l3;          // where the IP header starts (after the tags)
  int ip_version;     // 4 or 6
  size_t tcp_in;      // where the segment's TCP header is in the frame
  uint32_t want_seq;  // the RST's sequence and acknowledgement numbers
  uint32_t want_ack;
  uint8_t want_flags;
  uint32_t verdict_class = VW_CLASS_DEFAULT_DENY;
};

void PrintTo(const RejectCase& c, std::ostream* os) { *os << c.name; }

// MSS 1460, SACK permitted, timestamps, NOP, window scale 7: 20 bytes.
const std::vector<uint8_t> kSynOptions = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0,
                                          0, 1, 0, 0,    0, 0, 1, 3,  3, 7};

RejectCase ipv4_case(std::string name, PacketBuilder b, size_t l3, size_t ihl_bytes,
                     const Segment& s, uint32_t seq, uint32_t ack, uint8_t flags) {
  return {std::move(name), with_segment(std::move(b), s), l3, 4, l3 + ihl_bytes, seq, ack, flags};
}

std::vector<RejectCase> reject_cases() {
  const uint32_t s = 0x11223344, a = 0xa0b0c0d0;
  std::vector<RejectCase> rows = {
      // No ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; SYN counts one.
      ipv4_case("syn", tcp4(kStranger), kEthLen, kIpv4Len, {}, 0, s + 1, kRst | kAck),
      ipv4_case("syn_with_tcp_options", tcp4(kStranger), kEthLen, kIpv4Len,
                {.options = kSynOptions}, 0, s + 1, kRst | kAck),
      // ACK: <SEQ=SEG.ACK><CTL=RST>, whatever the payload.
      ipv4_case("ack_with_payload", tcp4(kStranger), kEthLen, kIpv4Len,
                {.flags = kAck | kPsh, .seq = s, .ack = a, .payload = 300}, a, 0, kRst),
      // FIN without ACK: payload plus one.
      ipv4_case("fin_without_ack_with_payload", tcp4(kStranger), kEthLen, kIpv4Len,
                {.flags = kFin, .seq = s, .payload = 10}, 0, s + 11, kRst | kAck),
      ipv4_case("sequence_wraps", tcp4(kStranger), kEthLen, kIpv4Len,
                {.flags = kSyn, .seq = 0xffffffff}, 0, 0, kRst | kAck),
      // Record route naming the vault: IHL 7 in, IHL 5 out.
      ipv4_case("ipv4_with_ip_options",
                tcp4_route_option(kIpoptRecordRoute, kStranger, kVault, kVault), kEthLen, 28, {}, 0,
                s + 1, kRst | kAck),
      ipv4_case("vlan_tagged", tcp4_tagged({{kUnknownVlan, kEth8021Q}}, kStranger),
                kEthLen + kVlanLen, kIpv4Len, {}, 0, s + 1, kRst | kAck),
      ipv4_case("qinq_tagged",
                tcp4_tagged({{kUnknownVlan, kEth8021AD}, {kUnknownVlan, kEth8021Q}}, kStranger),
                kEthLen + 2 * kVlanLen, kIpv4Len, {}, 0, s + 1, kRst | kAck),
  };
  RejectCase v6{"ipv6_syn",  with_segment(tcp6(), {}), kEthLen, 6, kEthLen + kIpv6Len, 0, s + 1,
                kRst | kAck, VW_CLASS_IPV6_DENY};
  rows.push_back(v6);
  RejectCase v6_ack{"ipv6_ack_with_payload",
                    with_segment(tcp6(), {.flags = kAck, .seq = s, .ack = a, .payload = 64}),
                    kEthLen,
                    6,
                    kEthLen + kIpv6Len,
                    a,
                    0,
                    kRst,
                    VW_CLASS_IPV6_DENY};
  rows.push_back(v6_ack);
  // Ethernet pads a short frame: SEG.LEN comes from the IP header, not
  // from the frame, and the padding is not sent back.
  RejectCase padded = ipv4_case("ethernet_padding_is_not_payload", tcp4(kStranger), kEthLen,
                                kIpv4Len, {}, 0, s + 1, kRst | kAck);
  padded.frame.resize(padded.frame.size() + 6, 0);
  rows.push_back(padded);
  return rows;
}

class RejectTest : public XdpProgramTest {
 protected:
  void SetUp() override {
    XdpProgramTest::SetUp();
    if (!IsSkipped()) network_.emplace();
  }
  void TearDown() override {
    network_.reset();
    XdpProgramTest::TearDown();
  }
  RejectStats reject_stats() const { return must(maps().read_reject_stats()); }
  std::optional<PrivateNetwork> network_;
};

class RejectTable : public RejectTest, public ::testing::WithParamInterface<RejectCase> {};

// Checks the reply byte by byte against the segment it answers.
void expect_rst(const RejectCase& row, const std::vector<uint8_t>& in,
                const std::vector<uint8_t>& out) {
  const size_t l3 = row.l3;
  const size_t ip_len = row.ip_version == 4 ? kIpv4Len : kIpv6Len;
  const size_t tcp = l3 + ip_len;
  ASSERT_EQ(out.size(), tcp + 20) << "no IP options, no TCP options, no payload, no padding";
  // Ethernet: addresses swapped, tags and ethertype as they came.
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 6),
            std::vector<uint8_t>(in.begin() + 6, in.begin() + 12))
      << "destination MAC";
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 6, out.begin() + 12),
            std::vector<uint8_t>(in.begin(), in.begin() + 6))
      << "source MAC";
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 12, out.begin() + l3),
            std::vector<uint8_t>(in.begin() + 12, in.begin() + l3))
      << "tags and ethertype";

  uint32_t pseudo = 0;
  if (row.ip_version == 4) {
    EXPECT_EQ(out[l3], 0x45) << "version 4, IHL 5";
    EXPECT_EQ(out[l3 + 1], 0) << "TOS";
    EXPECT_EQ(be16(out, l3 + 2), 40) << "total length";
    EXPECT_EQ(be16(out, l3 + 4), 0) << "id";
    EXPECT_EQ(be16(out, l3 + 6), 0x4000) << "DF, no fragment offset";
    EXPECT_EQ(out[l3 + 8], 64) << "TTL";
    EXPECT_EQ(out[l3 + 9], kProtoTcp);
    EXPECT_EQ(ones_sum(out, l3, kIpv4Len), 0xffffu) << "IPv4 header checksum";
    EXPECT_EQ(be32(out, l3 + 12), be32(in, l3 + 16)) << "source = the segment's destination";
    EXPECT_EQ(be32(out, l3 + 16), be32(in, l3 + 12)) << "destination = the segment's source";
    pseudo = ones_sum(out, l3 + 12, 8, kProtoTcp + 20);
  } else {
    EXPECT_EQ(be32(out, l3), 0x60000000u) << "version 6, no traffic class or flow label";
    EXPECT_EQ(be16(out, l3 + 4), 20) << "payload length";
    EXPECT_EQ(out[l3 + 6], kProtoTcp) << "next header: no extension headers";
    EXPECT_EQ(out[l3 + 7], 64) << "hop limit";
    EXPECT_EQ(std::vector<uint8_t>(out.begin() + l3 + 8, out.begin() + l3 + 24),
              std::vector<uint8_t>(in.begin() + l3 + 24, in.begin() + l3 + 40))
        << "source";
    EXPECT_EQ(std::vector<uint8_t>(out.begin() + l3 + 24, out.begin() + l3 + 40),
              std::vector<uint8_t>(in.begin() + l3 + 8, in.begin() + l3 + 24))
        << "destination";
    pseudo = ones_sum(out, l3 + 8, 32, kProtoTcp + 20);
  }
  EXPECT_EQ(be16(out, tcp), be16(in, row.tcp_in + 2)) << "source port = the segment's destination";
  EXPECT_EQ(be16(out, tcp + 2), be16(in, row.tcp_in)) << "destination port";
  EXPECT_EQ(be32(out, tcp + 4), row.want_seq) << "sequence number";
  EXPECT_EQ(be32(out, tcp + 8), row.want_ack) << "acknowledgement number";
  EXPECT_EQ(out[tcp + 12], 0x50) << "data offset 5: no options";
  EXPECT_EQ(out[tcp + 13], row.want_flags) << "flags";
  EXPECT_EQ(be16(out, tcp + 14), 0) << "window";
  EXPECT_EQ(be16(out, tcp + 18), 0) << "urgent pointer";
  EXPECT_EQ(ones_sum(out, tcp, 20, pseudo), 0xffffu) << "TCP checksum over the pseudo-header";
}

TEST_P(RejectTable, DeniedSegmentIsAnsweredWithRst) {
  const RejectCase& row = GetParam();
  apply(policy(kReject, 0));
  CounterSnapshot before = counters();
  RejectStats stats_before = reject_stats();
  XdpRun result = run(row.frame);
  EXPECT_EQ(action_name(result.action), action_name(XDP_TX));
  expect_rst(row, row.frame, result.output);
  // Counted in its class as a deny is, and once as sent.
  expect_only_counted(before, counters(), drops(row.verdict_class), row.frame.size());
  RejectStats stats = reject_stats();
  EXPECT_EQ(stats.sent - stats_before.sent, 1u);
  EXPECT_EQ(stats.suppressed - stats_before.suppressed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Replies, RejectTable, ::testing::ValuesIn(reject_cases()),
                         [](const ::testing::TestParamInfo<RejectCase>& info) {
                           return info.param.name;
                         });

// ---- No reply ------------------------------------------------------------

struct SilentCase {
  std::string name;
  Knobs policy;
  std::vector<uint8_t> frame;
  uint32_t action;
  uint64_t suppressed;  // counted in vw_reject_stats
};

void PrintTo(const SilentCase& c, std::ostream* os) { *os << c.name; }

std::vector<uint8_t> to_multicast_mac(std::vector<uint8_t> frame) {
  frame[0] = 0x01;  // 01:00:5e:...: the group bit
  return frame;
}

std::vector<SilentCase> silent_cases() {
  return {
      {"rst_is_never_answered", kReject, with_segment(tcp4(kStranger), {.flags = kRst | kAck}),
       XDP_DROP, 1},
      {"ipv6_rst_is_never_answered", kReject, with_segment(tcp6(), {.flags = kRst}), XDP_DROP, 1},
      {"udp_is_dropped", kReject, udp4(kStranger).bytes(), XDP_DROP, 1},
      {"later_fragment_is_dropped", kReject, later_fragment(kStranger).bytes(), XDP_DROP, 1},
      {"multicast_destination_mac", kReject, to_multicast_mac(tcp4(kStranger).bytes()), XDP_DROP,
       1},
      {"multicast_destination_address", kEveryDestinationReject,
       tcp4(kStranger, kAllHostsGroup).bytes(), XDP_DROP, 1},
      // Sources no real client has (spoofed by definition), in both
      // families, an IPv4-mapped one checked as the IPv4 address it carries.
      {"loopback_source", kReject, tcp4(ipv4("127.0.0.1")).bytes(), XDP_DROP, 1},
      {"this_network_source", kReject, tcp4(ipv4("0.1.2.3")).bytes(), XDP_DROP, 1},
      {"class_e_source", kReject, tcp4(ipv4("240.0.0.1")).bytes(), XDP_DROP, 1},
      {"source_is_the_destination", kReject, tcp4(kVault).bytes(), XDP_DROP, 1},
      {"ipv6_loopback_source", kReject, tcp6_from(ipv6("::1")).bytes(), XDP_DROP, 1},
      {"ipv6_source_is_the_destination", kReject, tcp6_from(kVault6).bytes(), XDP_DROP, 1},
      {"ipv6_link_local_source_to_a_global_address", kReject, tcp6_from(ipv6("fe80::1")).bytes(),
       XDP_DROP, 1},
      {"ipv4_mapped_unspecified_source", kReject, tcp6_from(ipv6("::ffff:0.0.0.0")).bytes(),
       XDP_DROP, 1},
      {"ipv4_mapped_broadcast_source", kReject, tcp6_from(ipv6("::ffff:255.255.255.255")).bytes(),
       XDP_DROP, 1},
      {"ipv4_mapped_multicast_source", kReject, tcp6_from(ipv6("::ffff:224.0.0.1")).bytes(),
       XDP_DROP, 1},
      {"ipv4_mapped_loopback_source", kReject, tcp6_from(ipv6("::ffff:127.0.0.1")).bytes(),
       XDP_DROP, 1},
      {"truncated_is_malformed_not_rejected", kReject,
       tcp4(kStranger).truncated(kEthLen + kIpv4Len + 3), XDP_DROP, 0},
      {"audit_mode_passes", kRejectAudit, tcp4(kStranger).bytes(), XDP_PASS, 0},
      {"drop_is_the_default", kDenyByDefault, tcp4(kStranger).bytes(), XDP_DROP, 0},
      {"allowed_is_untouched", kReject, tcp4(kFromRule24).bytes(), XDP_PASS, 0},
  };
}

class RejectSilent : public RejectTest, public ::testing::WithParamInterface<SilentCase> {};

TEST_P(RejectSilent, NoReply) {
  const SilentCase& row = GetParam();
  apply(policy(row.policy, 0));
  RejectStats before = reject_stats();
  XdpRun result = run(row.frame);
  EXPECT_EQ(action_name(result.action), action_name(row.action));
  EXPECT_EQ(result.output, row.frame) << "a packet that is not answered is not rewritten";
  RejectStats after = reject_stats();
  EXPECT_EQ(after.sent - before.sent, 0u);
  EXPECT_EQ(after.suppressed - before.suppressed, row.suppressed);
}

INSTANTIATE_TEST_SUITE_P(Silent, RejectSilent, ::testing::ValuesIn(silent_cases()),
                         [](const ::testing::TestParamInfo<SilentCase>& info) {
                           return info.param.name;
                         });

// The reply budget: one CPU, back-to-back SYNs. Within one kernel tick at
// most VW_REJECT_CPU_BUDGET are answered; the runs may straddle one tick
// boundary (a tick is 1 to 10 ms, the runs take well under one), so at
// most twice that. Every other SYN is dropped and counted as suppressed.
TEST_F(RejectTest, RepliesPastTheCpuBudgetAreDroppedAndCounted) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  cpu_set_t previous;
  ASSERT_EQ(sched_getaffinity(0, sizeof(previous), &previous), 0);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);

  apply(policy(kReject, 0));
  const std::vector<uint8_t> syn = with_segment(tcp4(kStranger), {});
  constexpr uint32_t kSent = 6 * VW_REJECT_CPU_BUDGET;
  RejectStats before = reject_stats();
  std::vector<uint32_t> actions;
  for (uint32_t i = 0; i < kSent; i++) actions.push_back(run(syn).action);
  RejectStats after = reject_stats();
  sched_setaffinity(0, sizeof(previous), &previous);

  uint64_t tx = 0, dropped = 0;
  for (uint32_t action : actions) {
    if (action == XDP_TX) tx++;
    if (action == XDP_DROP) dropped++;
  }
  EXPECT_EQ(tx + dropped, kSent) << "every SYN is answered or dropped";
  EXPECT_GE(tx, VW_REJECT_CPU_BUDGET);
  EXPECT_LE(tx, 2u * VW_REJECT_CPU_BUDGET);
  EXPECT_EQ(after.sent - before.sent, tx);
  EXPECT_EQ(after.suppressed - before.suppressed, dropped);
}

}  // namespace
}  // namespace vaultwall::testing
