// Deny and audit events: what the production program writes to its ring
// buffer for each verdict class that logs, how the per-source and per-CPU
// rate limits thin a flood out (with exact counters of what they
// suppressed), and that audit mode passes, counts and logs would-be denies.
// The network and its policies are in test_policy.h.
#include <bpf/libbpf.h>
#include <sched.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "frames.h"
#include "packet_builder.h"
#include "test_policy.h"
#include "xdp_test_fixture.h"

namespace vaultwall::testing {
namespace {

using namespace world;
using namespace frames;

std::array<uint8_t, 16> mapped(const Ipv4& a) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3]};
}
std::array<uint8_t, 16> as_array(const uint8_t (&addr)[16]) {
  std::array<uint8_t, 16> out;
  std::memcpy(out.data(), addr, 16);
  return out;
}

class EventsTest : public XdpProgramTest {
 protected:
  // The rate limits are per CPU (budget, and suppressions pending on the
  // CPU that saw them): run every packet of a test on one CPU, as one
  // flow's packets are on a NIC queue.
  void SetUp() override {
    cpu_set_t one_cpu;
    CPU_ZERO(&one_cpu);
    CPU_SET(sched_getcpu(), &one_cpu);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one_cpu), &one_cpu), 0);
    XdpProgramTest::SetUp();
  }

  // Everything waiting in the ring buffer, consumed.
  std::vector<vw_event> drain_events() {
    std::vector<vw_event> events;
    auto on_event = [](void* out, void* data, size_t size) -> int {
      EXPECT_EQ(size, sizeof(vw_event));
      vw_event e;
      std::memcpy(&e, data, sizeof(e));
      static_cast<std::vector<vw_event>*>(out)->push_back(e);
      return 0;
    };
    std::unique_ptr<ring_buffer, void (*)(ring_buffer*)> rb(
        ring_buffer__new(maps().events_fd(), on_event, &events, nullptr), ring_buffer__free);
    if (!rb) throw std::runtime_error("ring_buffer__new failed");
    EXPECT_GE(ring_buffer__consume(rb.get()), 0);
    return events;
  }

  EventStats event_stats() const { return must(maps().read_event_stats()); }

  // Runs one frame; returns the events it produced (and checks the action).
  std::vector<vw_event> events_of(const std::vector<uint8_t>& frame, uint32_t action) {
    EXPECT_EQ(run(frame).action, action);
    return drain_events();
  }
};

// ---- Content, one class at a time -------------------------------------------

TEST_F(EventsTest, DefaultDenyEventDescribesThePacket) {
  apply(policy(kDenyByDefault, 0, /*generation=*/42));
  auto frame = tcp4(kStranger).bytes();
  auto events = events_of(frame, XDP_DROP);
  ASSERT_EQ(events.size(), 1u);
  const vw_event& e = events[0];
  EXPECT_EQ(e.verdict_class, VW_CLASS_DEFAULT_DENY);
  EXPECT_EQ(e.mode, VW_EVENT_MODE_ENFORCE);
  EXPECT_EQ(e.ip_version, 4);
  EXPECT_EQ(as_array(e.saddr), mapped(kStranger));
  EXPECT_EQ(as_array(e.daddr), mapped(kVault));
  EXPECT_EQ(e.sport, kClientPort);
  EXPECT_EQ(e.dport, kHttpsPort);
  EXPECT_EQ(e.proto, kProtoTcp);
  EXPECT_EQ(e.tcp_flags, 0x02);  // the builder's TCP header is a SYN
  EXPECT_EQ(e.ifindex, kLoopbackIfindex);
  EXPECT_EQ(e.vlan, 0);
  EXPECT_EQ(e.vnet_id, VW_VNET_PUBLIC);
  EXPECT_EQ(e.rule_id, VW_RULE_NONE);
  EXPECT_EQ(e.generation, 42u);
  EXPECT_EQ(e.packet_bytes, frame.size());
  EXPECT_EQ(e.suppressed, 0u);
  EXPECT_NE(e.time_ns, 0u);
  EventStats stats = event_stats();
  EXPECT_EQ(stats.emitted, 1u);
  EXPECT_EQ(stats.suppressed, 0u);
  EXPECT_EQ(stats.lost, 0u);
}

TEST_F(EventsTest, PublicDisabledEventNamesTheRuleItOverrides) {
  apply(policy(kPublicDisabled, 0));
  auto events = events_of(tcp4(kFromRule24).bytes(), XDP_DROP);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_PUBLIC_DISABLED);
  EXPECT_EQ(events[0].rule_id, kRule24);

  events = events_of(tcp4(kStranger).bytes(), XDP_DROP);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_PUBLIC_DISABLED);
  EXPECT_EQ(events[0].rule_id, VW_RULE_NONE);
}

TEST_F(EventsTest, VirtualNetworkEventCarriesVlanAndVnet) {
  apply(policy(kDenyByDefault, 0));
  Ipv4 outside_subnet = ipv4("10.1.9.9");  // from app-vnet's segment, not its subnet
  auto events = events_of(tcp4_vlan(kAppVlan, outside_subnet).bytes(), XDP_DROP);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_DEFAULT_DENY);
  EXPECT_EQ(events[0].vlan, kAppVlan);
  EXPECT_EQ(events[0].vnet_id, 7u);
  EXPECT_EQ(as_array(events[0].saddr), mapped(outside_subnet));
}

TEST_F(EventsTest, Ipv6DenyEventHasTheIpv6Source) {
  apply(policy(kDenyByDefault, 0));
  auto events = events_of(tcp6().bytes(), XDP_DROP);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_IPV6_DENY);
  EXPECT_EQ(events[0].ip_version, 6);
  EXPECT_EQ(as_array(events[0].saddr), kClient6);
  EXPECT_EQ(as_array(events[0].daddr), kVault6);
  EXPECT_EQ(events[0].dport, kHttpsPort);
  EXPECT_EQ(events[0].proto, kProtoTcp);
}

TEST_F(EventsTest, FragmentDenyEventHasNoPorts) {
  apply(policy(kDenyByDefault, 0));
  auto events = events_of(later_fragment(kStranger).bytes(), XDP_DROP);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_FRAGMENT_DENY);
  EXPECT_EQ(events[0].proto, kProtoTcp);
  EXPECT_EQ(events[0].sport, 0);
  EXPECT_EQ(events[0].dport, 0);
  EXPECT_EQ(as_array(events[0].saddr), mapped(kStranger));
}

// ---- What does not log --------------------------------------------------------

TEST_F(EventsTest, PerimeterTransitionLogsWhatOnlyTheVaultAdmitsWithItsRule) {
  apply(policy(kPerimeterTransition, 0));
  auto events = events_of(tcp4(kFromRule24).bytes(), XDP_PASS);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_PERIMETER_WOULD_DENY);
  EXPECT_EQ(events[0].mode, VW_EVENT_MODE_ENFORCE);
  EXPECT_EQ(events[0].rule_id, kRule24) << "the vault's rule that admitted it";
  EXPECT_EQ(as_array(events[0].saddr), mapped(kFromRule24));

  EXPECT_TRUE(events_of(tcp4(kStranger).bytes(), XDP_PASS).empty())
      << "admitted by the perimeter's rule: nothing to log";
  events = events_of(tcp4(kNextToRuleHost).bytes(), XDP_DROP);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_DEFAULT_DENY);
}

TEST_F(EventsTest, PerimeterTransitionLogsIpv6OnlyTheVaultAdmitsWithItsRule) {
  apply(policy(kPerimeterTransition, 0));
  auto events = events_of(tcp6_from(kFromRule6).bytes(), XDP_PASS);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_PERIMETER_WOULD_DENY);
  EXPECT_EQ(events[0].rule_id, kRule6) << "the vault's IPv6 rule that admitted it";
  EXPECT_EQ(as_array(events[0].saddr), kFromRule6);
  EXPECT_TRUE(events_of(tcp6_from(kFromPerimeter6).bytes(), XDP_PASS).empty())
      << "admitted by the perimeter's IPv6 prefix: nothing to log";
}

TEST_F(EventsTest, PerimeterEnforcedDenyIsLogged) {
  apply(policy(kPerimeterEnforced, 0));
  auto events = events_of(tcp4(kFromRule24).bytes(), XDP_DROP);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_PERIMETER_DENY);
  EXPECT_EQ(events[0].rule_id, VW_RULE_NONE);
}

TEST_F(EventsTest, AllowedUnprotectedAndMalformedPacketsDoNotLog) {
  apply(policy(kDenyByDefault, 0));
  EXPECT_TRUE(events_of(tcp4(kFromRule24).bytes(), XDP_PASS).empty());
  EXPECT_TRUE(events_of(tcp4(kFromTrusted).bytes(), XDP_PASS).empty());
  EXPECT_TRUE(events_of(tcp4(kStranger, kVault, kSshPort).bytes(), XDP_PASS).empty());
  EXPECT_TRUE(events_of(tcp4(kStranger).truncated(kEthLen + kIpv4Len + 3), XDP_DROP).empty());
  EventStats stats = event_stats();
  EXPECT_EQ(stats.emitted + stats.suppressed + stats.lost, 0u);
}

// ---- Audit mode ------------------------------------------------------------------

TEST_F(EventsTest, AuditModePassesCountsAndLogsTheWouldBeClass) {
  apply(policy(kAudit, 0));
  auto before = counters();
  auto frame = tcp4(kStranger).bytes();
  auto events = events_of(frame, XDP_PASS);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].mode, VW_EVENT_MODE_AUDIT);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_DEFAULT_DENY);  // what enforce would do
  EXPECT_EQ(events[0].rule_id, VW_RULE_NONE);
  expect_only_counted(before, counters(), passes(VW_CLASS_AUDIT_DENY), frame.size());
}

TEST_F(EventsTest, AuditModeWithPublicAccessDisabledNamesTheOverriddenRule) {
  apply(policy(kAuditPublicDisabled, 0));
  auto before = counters();
  auto frame = tcp4(kFromRule24).bytes();
  auto events = events_of(frame, XDP_PASS);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].mode, VW_EVENT_MODE_AUDIT);
  EXPECT_EQ(events[0].verdict_class, VW_CLASS_PUBLIC_DISABLED);
  EXPECT_EQ(events[0].rule_id, kRule24);
  expect_only_counted(before, counters(), passes(VW_CLASS_AUDIT_DENY), frame.size());
}

TEST_F(EventsTest, AuditModeStillDropsMalformedWithoutLogging) {
  apply(policy(kAudit, 0));
  EXPECT_TRUE(events_of(tcp4(kStranger).truncated(kEthLen + kIpv4Len + 3), XDP_DROP).empty());
}

// ---- Rate limits ---------------------------------------------------------------------

TEST_F(EventsTest, OneSourceGetsItsBurstThenIsSuppressedExactly) {
  apply(policy(kDenyByDefault, 0));
  constexpr uint32_t kPackets = 50;
  auto frame = tcp4(kStranger).bytes();
  for (uint32_t i = 0; i < kPackets; i++) ASSERT_EQ(run(frame).action, XDP_DROP);

  auto events = drain_events();
  EXPECT_EQ(events.size(), VW_EVENT_SOURCE_BURST);
  EventStats stats = event_stats();
  EXPECT_EQ(stats.emitted, VW_EVENT_SOURCE_BURST);
  EXPECT_EQ(stats.suppressed, kPackets - VW_EVENT_SOURCE_BURST);
  EXPECT_EQ(stats.lost, 0u);
  // Every packet is still counted, logged or not.
  EXPECT_EQ(counters().classes[VW_CLASS_DEFAULT_DENY].packets, kPackets);

  // Another source has a bucket of its own.
  EXPECT_EQ(events_of(tcp4(kNextToRuleHost).bytes(), XDP_DROP).size(), 1u);

  // One interval later the source may log once more, and its event says
  // how many of its packets went unlogged in between.
  std::this_thread::sleep_for(std::chrono::nanoseconds(VW_EVENT_SOURCE_INTERVAL_NS) +
                              std::chrono::milliseconds(50));
  events = events_of(frame, XDP_DROP);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].suppressed, kPackets - VW_EVENT_SOURCE_BURST);
  EXPECT_EQ(events_of(frame, XDP_DROP).size(), 0u);  // and is limited again
}

// A source suppressed earlier in the tick is recognised before the packet
// is parsed again, by the source the decision kept: an IPv4-mapped source
// is its IPv4 address (one rate key), an IPv6 one and another IPv4 one are
// sources of their own.
TEST_F(EventsTest, SuppressedSourceIsRecognisedInEitherFamily) {
  apply(policy(kDenyByDefault, 0));
  constexpr uint32_t kPackets = 50;
  const auto mapped = tcp6_from(kMappedStranger).bytes();
  for (uint32_t i = 0; i < kPackets; i++) ASSERT_EQ(run(mapped).action, XDP_DROP);
  EXPECT_EQ(drain_events().size(), VW_EVENT_SOURCE_BURST);

  EXPECT_EQ(events_of(tcp4(kStranger).bytes(), XDP_DROP).size(), 0u) << "the same source";
  auto v6 = events_of(tcp6().bytes(), XDP_DROP);
  ASSERT_EQ(v6.size(), 1u) << "an IPv6 source is not the suppressed one";
  EXPECT_EQ(v6[0].ip_version, 6);
  auto v4 = events_of(tcp4(kNextToRuleHost).bytes(), XDP_DROP);
  ASSERT_EQ(v4.size(), 1u) << "another IPv4 source is not the suppressed one";
  EXPECT_EQ(v4[0].ip_version, 4);

  EventStats stats = event_stats();
  EXPECT_EQ(stats.emitted, VW_EVENT_SOURCE_BURST + 2);
  EXPECT_EQ(stats.suppressed, kPackets - VW_EVENT_SOURCE_BURST + 1);
}

TEST_F(EventsTest, ManySourcesAreThinnedByTheCpuBudget) {
  apply(policy(kDenyByDefault, 0));
  constexpr uint32_t kSources = 200;
  for (uint32_t i = 0; i < kSources; i++) {
    Ipv4 source = {198, 51, 100, static_cast<uint8_t>(i)};
    if (source == kFromRuleHost || (i >= 128)) source = {192, 0, 2, static_cast<uint8_t>(i)};
    ASSERT_EQ(run(tcp4(source).bytes()).action, XDP_DROP) << i;
  }
  EventStats stats = event_stats();
  EXPECT_EQ(stats.emitted + stats.suppressed, kSources);
  EXPECT_EQ(drain_events().size(), stats.emitted);
  // At least one tick's budget; far fewer than one event per source unless
  // the 200 runs spread over many ticks (4 ms each at 250 Hz).
  EXPECT_GE(stats.emitted, VW_EVENT_CPU_BUDGET);
  EXPECT_LE(stats.emitted, kSources / 2);
}

}  // namespace
}  // namespace vaultwall::testing
