// The source index's size: chosen when the maps are created (vaultwall-loader
// load --index-chunks), kept in the pins, refused when a later load asks for
// another; and a policy larger than the index still decides every source
// correctly (the /16s that do not fit are decided by the tries).
#include <algorithm>
#include <string>
#include <vector>

#include "frames.h"
#include "test_policy.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/kernel/source_index.h"
#include "xdp_test_fixture.h"

namespace vaultwall::testing {
namespace {

using namespace world;
using namespace frames;

constexpr uint32_t kSmallIndex = 32;

class SizedIndex : public XdpProgramTest {
 protected:
  std::optional<uint32_t> index_chunks() const override { return kSmallIndex; }
};

TEST_F(SizedIndex, TheSizeIsRecordedInThePinsAndReused) {
  EXPECT_EQ(must(maps().index_capacity()), kSmallIndex);
  EXPECT_EQ(must(maps().max_entries(maps().chunks(1))), kSmallIndex);
  // A later load without the option (an upgrade, a restart) keeps it.
  must(Program::load(pin_dir()));
  EXPECT_EQ(must(must(PinnedMaps::open(pin_dir())).index_capacity()), kSmallIndex);
  must(Program::load(pin_dir(), false, kSmallIndex));
}

TEST_F(SizedIndex, ALoadAskingForAnotherSizeIsRefused) {
  auto refused = Program::load(pin_dir(), false, 2 * kSmallIndex);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, EEXIST);
  const std::string message = refused.error().message();
  EXPECT_NE(message.find("has 32 chunks, --index-chunks asks for 64"), std::string::npos) << message;
  EXPECT_NE(message.find("load with --index-chunks 32"), std::string::npos) << message;
  EXPECT_NE(message.find("detach --all --purge --pin-dir " + pin_dir()), std::string::npos) << message;
  EXPECT_EQ(must(maps().index_capacity()), kSmallIndex) << "nothing was loaded";
}

TEST_F(SizedIndex, ASizeOutOfRangeIsRefused) {
  auto refused = Program::load(pin_dir() + "-tiny", false, VW_INDEX_CHUNKS_MIN - 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, EINVAL);
  EXPECT_NE(refused.error().message().find("--index-chunks"), std::string::npos);
  refused = Program::load(pin_dir() + "-huge", false, VW_INDEX_CHUNKS_MAX + 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, EINVAL);
}

// Eight host rules in each of 8 /16s of 100.64.0.0/10: each /16 needs nine
// chunks (one, and a list node under each of its eight /20s), so 32 chunks
// hold only the first three /16s.
constexpr uint32_t kCrowdedBlocks = 8;
constexpr uint32_t kRulesPerBlock = 8;
constexpr uint32_t kFirstCrowdedRule = 100;

Ipv4 crowded_source(uint32_t block, uint32_t i) {
  return Ipv4{100, static_cast<uint8_t>(64 + block), static_cast<uint8_t>(i * 31), 9};
}

std::string cidr_of(const Ipv4& a, int len) {
  return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
         std::to_string(a[3]) + "/" + std::to_string(len);
}

uint32_t crowded_rule(uint32_t block, uint32_t i) { return kFirstCrowdedRule + block * kRulesPerBlock + i; }

// The app network (VLAN 100) gets 40 more subnets: too many for the chunks
// the public /16s leave, so its decisions fall to the trie, while the
// any-interface network (VLAN 200, one subnet) still fits in a list node.
constexpr uint32_t kCrowdedSubnets = 40;
constexpr uint32_t kFirstSubnetRule = 400;
Ipv4 crowded_subnet_source(uint32_t i) { return Ipv4{10, 50, static_cast<uint8_t>(i * 5), 7}; }

uint32_t app_vnet(const SlotImage& image) { return image.segments.at(0).second.vnet_id; }
uint32_t any_if_vnet(const SlotImage& image) { return image.segments.at(1).second.vnet_id; }

SlotImage crowded_policy() {
  SlotImage image = policy(kDenyByDefault, 0);
  for (uint32_t i = 0; i < kCrowdedSubnets; i++)
    image.rules.push_back({rule_key(app_vnet(image), cidr_of(Ipv4{10, 50, static_cast<uint8_t>(i * 5), 0}, 24)),
                           vw_rule_value{kFirstSubnetRule + i}});
  for (uint32_t b = 0; b < kCrowdedBlocks; b++)
    for (uint32_t i = 0; i < kRulesPerBlock; i++)
      image.rules.push_back({rule_key(VW_VNET_PUBLIC, cidr_of(crowded_source(b, i), 32)),
                             vw_rule_value{crowded_rule(b, i)}});
  return image;
}

uint32_t host_order(const Ipv4& a) {
  return (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
}

TEST_F(SizedIndex, APolicyLargerThanTheIndexRecordsItAndNamesTheSizeToLoadWith) {
  const uint32_t slot = apply(crowded_policy());
  const vw_policy_info info = must(maps().policy_info().at(slot));
  EXPECT_EQ(info.index_capacity, kSmallIndex);
  EXPECT_LE(info.index_chunks, kSmallIndex);
  EXPECT_GT(info.index_trie_regions, 0u);
  EXPECT_LT(info.index_trie_regions, kCrowdedBlocks) << "some crowded /16s fit";
  EXPECT_GT(info.index_chunks_needed, kSmallIndex);
  EXPECT_EQ(info.index_chunks_needed, build_source_index(crowded_policy(), VW_INDEX_CHUNKS).chunks.size());
  auto warning = source_index_warning(info);
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->find("--index-chunks " + std::to_string(info.index_chunks_needed)),
            std::string::npos) << *warning;
  // What is written is what verify expects: no difference.
  EXPECT_TRUE(must(source_index_differences(maps(), slot, crowded_policy())).empty());
}

TEST_F(SizedIndex, APolicyLargerThanTheIndexStillDecidesEverySourceCorrectly) {
  apply(crowded_policy());
  // Which /16s the index holds and which it left to the tries: both kinds
  // must be among the rows, the boundary between them included.
  const SourceIndex written = build_source_index(crowded_policy(), kSmallIndex);
  std::vector<bool> on_tries;
  for (uint32_t b = 0; b < kCrowdedBlocks; b++)
    on_tries.push_back(source_index_entry(written, host_order(crowded_source(b, 0))) == VW_INDEX_TRIE);
  ASSERT_TRUE(std::count(on_tries.begin(), on_tries.end(), true) > 0);
  ASSERT_TRUE(std::count(on_tries.begin(), on_tries.end(), false) > 0);

  for (uint32_t b = 0; b < kCrowdedBlocks; b++) {
    SCOPED_TRACE("block 100." + std::to_string(64 + b) + ".0.0/16" +
                 (on_tries[b] ? " (tries)" : " (index)"));
    for (uint32_t i : {0u, kRulesPerBlock - 1}) {
      Ipv4 source = crowded_source(b, i);
      expect_verdict(tcp4(source).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(crowded_rule(b, i)));
      source[3]++;  // the next address: no rule
      expect_verdict(tcp4(source).bytes(), drops(VW_CLASS_DEFAULT_DENY));
    }
  }
  // Virtual networks: one on the trie, one in the index.
  const SlotImage image = crowded_policy();
  ASSERT_EQ(written.vnet_roots.at(app_vnet(image)), VW_INDEX_TRIE);
  ASSERT_NE(written.vnet_roots.at(any_if_vnet(image)), VW_INDEX_TRIE);
  for (uint32_t i : {0u, kCrowdedSubnets - 1})
    expect_verdict(tcp4_tagged({{kAppVlan, kEth8021Q}}, crowded_subnet_source(i)).bytes(),
                   passes(VW_CLASS_VNET_RULE).crediting_rule(kFirstSubnetRule + i));
  expect_verdict(tcp4_tagged({{kAppVlan, kEth8021Q}}, ipv4("10.51.0.7")).bytes(),
                 drops(VW_CLASS_DEFAULT_DENY));
  expect_verdict(tcp4_tagged({{kAnyIfVlan, kEth8021Q}}, kFromAnyIfVnet).bytes(),
                 passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet));
  expect_verdict(tcp4_tagged({{kAnyIfVlan, kEth8021Q}}, kFromAppVnet).bytes(),
                 drops(VW_CLASS_DEFAULT_DENY));
  // The rest of the world's rows, unchanged.
  expect_verdict(tcp4(kFromRule24).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(kRule24));
  expect_verdict(tcp4(kFromRuleHost).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(kRuleHost));
  expect_verdict(tcp4(kFromTrusted).bytes(), passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage));
  expect_verdict(tcp4(kStranger).bytes(), drops(VW_CLASS_DEFAULT_DENY));
  expect_verdict(tcp4_tagged({{kAppVlan, kEth8021Q}}, kFromAppVnet).bytes(),
                 passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAppVnet));
}

}  // namespace
}  // namespace vaultwall::testing
