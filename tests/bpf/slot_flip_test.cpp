// Whole-policy changes through the real apply path: each apply writes the
// idle slot and flips the active word. Verdicts must follow the active slot,
// the active slot must alternate, and a rewritten slot must hold exactly the
// new policy (nothing left over from the one it replaced).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "frames.h"
#include "test_policy.h"
#include "vaultwall/kernel/source_index.h"
#include "xdp_test_fixture.h"

namespace vaultwall::testing {
namespace {

using namespace world;
using namespace frames;

constexpr uint32_t kRuleOnlyInB = 20;
inline const Ipv4 kFromRuleOnlyInB = ipv4("198.51.100.60");

// Policy B: the opposite stance of the world's policy. Default allow, one
// IP rule of its own, no trusted services, no segments.
SlotImage policy_b(uint64_t generation) {
  SlotImage b = policy(kAllowByDefault, 0, generation);
  b.rules = {{rule_key(VW_VNET_PUBLIC, "198.51.100.60/32"), {kRuleOnlyInB}}};
  b.trusted.clear();
  b.segments.clear();
  b.settings.flags &= ~VW_SETTINGS_HAS_SEGMENTS;
  b.info.rule_prefixes = 1;
  b.info.trusted_prefixes = 0;
  b.document = R"({"defaultAction":"Allow"})";
  return b;
}

std::string hex(const void* data, size_t size) {
  std::string out;
  const auto* bytes = static_cast<const uint8_t*>(data);
  char buf[3];
  for (size_t i = 0; i < size; i++) {
    std::snprintf(buf, sizeof(buf), "%02x", bytes[i]);
    out += buf;
  }
  return out;
}

// Entries as sorted "key -> value" hex lines: order-free and readable in a diff.
template <class Key, class Value>
std::vector<std::string> canonical(const std::vector<std::pair<Key, Value>>& entries) {
  std::vector<std::string> lines;
  for (const auto& [key, value] : entries)
    lines.push_back(hex(&key, sizeof(key)) + " -> " + hex(&value, sizeof(value)));
  std::sort(lines.begin(), lines.end());
  return lines;
}

void expect_slot_holds_exactly(const PinnedMaps& maps, uint32_t slot, const SlotImage& image) {
  SCOPED_TRACE("slot " + std::to_string(slot));
  SlotImage kernel = must(read_slot(maps, slot));
  vw_settings expected = settings_as_written(image);
  EXPECT_EQ(hex(&kernel.settings, sizeof(vw_settings)), hex(&expected, sizeof(vw_settings)));
  // The writer adds what it derived: the source index's use and roots.
  const uint32_t capacity = must(maps.index_capacity());
  const SourceIndex index = build_source_index(image, capacity);
  vw_policy_info info = image.info;
  info.index_chunks = info.index_chunks_needed = static_cast<uint32_t>(index.chunks.size());
  info.index_capacity = capacity;
  info.index6_nodes = static_cast<uint32_t>(index.nodes6.size());
  info.index6_trie_regions = index.trie_regions6;
  EXPECT_EQ(hex(&kernel.info, sizeof(vw_policy_info)), hex(&info, sizeof(vw_policy_info)));
  EXPECT_EQ(canonical(kernel.rules), canonical(image.rules));
  EXPECT_EQ(canonical(kernel.trusted), canonical(image.trusted));
  EXPECT_EQ(canonical(kernel.segments), canonical(segments_with_index(image, index)));
  EXPECT_EQ(canonical(kernel.endpoints), canonical(image.endpoints));
  EXPECT_EQ(kernel.document, image.document);
}

using SlotFlip = XdpProgramTest;

TEST_F(SlotFlip, VerdictsFollowTheActiveSlot) {
  SlotImage a = policy(kDenyByDefault, 0, /*generation=*/1);
  a.document = R"({"defaultAction":"Deny"})";
  const SlotImage b = policy_b(/*generation=*/2);
  ASSERT_EQ(must(active_slot(maps())), 0u) << "fresh maps start on slot 0";

  // A goes to the idle slot 1.
  EXPECT_EQ(apply(a), 1u);
  EXPECT_EQ(must(active_slot(maps())), 1u);
  expect_slot_holds_exactly(maps(), 1, a);
  expect_verdict(tcp4(kStranger).bytes(), drops(VW_CLASS_DEFAULT_DENY));
  expect_verdict(tcp4(kFromRule24).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(kRule24));
  expect_verdict(tcp4(kFromRuleOnlyInB).bytes(), drops(VW_CLASS_DEFAULT_DENY));

  // B goes to slot 0; A stays untouched in slot 1.
  EXPECT_EQ(apply(b), 0u);
  EXPECT_EQ(must(active_slot(maps())), 0u);
  expect_slot_holds_exactly(maps(), 0, b);
  expect_slot_holds_exactly(maps(), 1, a);
  expect_verdict(tcp4(kStranger).bytes(), passes(VW_CLASS_DEFAULT_ALLOW));
  expect_verdict(tcp4(kFromRule24).bytes(), passes(VW_CLASS_DEFAULT_ALLOW));
  expect_verdict(tcp4(kFromRuleOnlyInB).bytes(),
                 passes(VW_CLASS_IP_RULE).crediting_rule(kRuleOnlyInB));
  expect_verdict(tcp4(kFromTrusted).bytes(), passes(VW_CLASS_DEFAULT_ALLOW));

  // A again, as a new generation: slot 1 is rewritten.
  a.settings.generation = a.info.generation = 3;
  EXPECT_EQ(apply(a), 1u);
  EXPECT_EQ(must(active_slot(maps())), 1u);
  expect_slot_holds_exactly(maps(), 1, a);
  expect_verdict(tcp4(kStranger).bytes(), drops(VW_CLASS_DEFAULT_DENY));
  expect_verdict(tcp4(kFromRuleOnlyInB).bytes(), drops(VW_CLASS_DEFAULT_DENY));
  expect_verdict(tcp4(kFromTrusted).bytes(),
                 passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage));
}

TEST_F(SlotFlip, RewrittenSlotKeepsNothingOfThePolicyItReplaced) {
  apply(policy(kDenyByDefault, 0, 1));  // slot 1
  SlotImage big = policy(kAllowByDefault, 0, 2);
  big.document = std::string(3 * VW_DOC_CHUNK_SIZE + 17, 'x');  // several chunks
  apply(big);                                                   // slot 0

  // A smaller policy replaces `big` in slot 0: fewer rules, no trusted
  // services, no segments, a one-chunk document.
  apply(policy(kDenyByDefault, 0, 3));  // slot 1
  SlotImage small = policy_b(4);
  EXPECT_EQ(apply(small), 0u);
  expect_slot_holds_exactly(maps(), 0, small);
  expect_verdict(tcp4(kFromRule24).bytes(), passes(VW_CLASS_DEFAULT_ALLOW));
  expect_verdict(tcp4_vlan(kAppVlan, kFromAppVnet).bytes(), passes(VW_CLASS_DEFAULT_ALLOW));
}

// VLANs on any interface live in an array per slot (vw_vlans_N): a policy
// without a VLAN's segment must leave no entry for it in the slot it is
// written to, so the VID is public again.
TEST_F(SlotFlip, RemovedVlanSegmentIsPublicAgainInEitherSlot) {
  const SlotImage with = policy(kDenyByDefault, 0, 1);
  EXPECT_EQ(apply(with), 1u);
  expect_verdict(tcp4_vlan(kHighestVlan, kFromAnyIfVnet).bytes(),
                 passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet));

  SlotImage without = with;
  std::erase_if(without.segments, [](const auto& s) { return s.first.vlan == kHighestVlan; });
  ASSERT_EQ(without.segments.size() + 1, with.segments.size());
  without.settings.generation = without.info.generation = 2;
  EXPECT_EQ(apply(without), 0u);
  expect_verdict(tcp4_vlan(kHighestVlan, kFromAnyIfVnet).bytes(), drops(VW_CLASS_DEFAULT_DENY));
  expect_verdict(tcp4_vlan(kLowestVlan, kFromAnyIfVnet).bytes(),
                 passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet));

  // Slot 1 held the segment: rewritten, it keeps nothing of it.
  without.settings.generation = without.info.generation = 3;
  EXPECT_EQ(apply(without), 1u);
  expect_slot_holds_exactly(maps(), 1, without);
  EXPECT_EQ(must(maps().vlans(1).at(kHighestVlan)).vnet_id, VW_VNET_PUBLIC);
  expect_verdict(tcp4_vlan(kHighestVlan, kFromAnyIfVnet).bytes(), drops(VW_CLASS_DEFAULT_DENY));

  // No segments at all: every entry of the slot's array is zero.
  EXPECT_EQ(apply(policy_b(4)), 0u);
  size_t written = 0;
  for (const vw_segment_value& v : must(maps().vlans(0).array_values(VW_VLAN_IDS)))
    written += v.vnet_id != 0 || v.index != 0;
  EXPECT_EQ(written, 0u);
  expect_verdict(tcp4_vlan(kAnyIfVlan, kFromAnyIfVnet).bytes(), passes(VW_CLASS_DEFAULT_ALLOW));
}

TEST_F(SlotFlip, EmptyPolicyClearsTheSlotItIsWrittenTo) {
  apply(policy(kDenyByDefault, 0, 1));  // slot 1
  apply(policy(kDenyByDefault, 0, 2));  // slot 0
  SlotImage empty;                      // all zeros: the firewall off
  EXPECT_EQ(apply(empty), 1u);
  expect_slot_holds_exactly(maps(), 1, empty);
  expect_verdict(tcp4(kStranger).bytes(), passes(VW_CLASS_UNPROTECTED));
}

}  // namespace
}  // namespace vaultwall::testing
