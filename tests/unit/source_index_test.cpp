// The source index builder against a brute-force longest-prefix match: for
// every probe, the entry the program's walk reaches must name the longest
// public IP rule and the longest trusted prefix holding the source.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <tuple>

#include "vaultwall/abi/keys.h"
#include "vaultwall/kernel/source_index.h"

namespace vaultwall {
namespace {

struct TestPrefix {
  uint32_t addr;
  int len;
  uint32_t id;
};

uint32_t mask_of(int len) { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }


class Image {
 public:
  void rule(uint32_t addr, int len, uint32_t id, uint32_t vnet = VW_VNET_PUBLIC) {
    image_.rules.push_back({make_rule_key(vnet, addr, static_cast<uint8_t>(len)), vw_rule_value{id}});
    if (vnet == VW_VNET_PUBLIC) rules_.push_back({addr & mask_of(len), len, id});
  }
  void trusted(uint32_t addr, int len, uint32_t id) {
    image_.trusted.push_back({make_trusted_key(addr, static_cast<uint8_t>(len)), vw_trusted_value{id}});
    trusted_.push_back({addr & mask_of(len), len, id});
  }
  const SlotImage& image() const { return image_; }

  // What a longest-prefix match over the prefixes says.
  uint32_t expected(uint32_t source) const {
    return VW_INDEX_RESULT(longest(trusted_, source), longest(rules_, source));
  }

 private:
  static uint32_t longest(const std::vector<TestPrefix>& prefixes, uint32_t source) {
    int best_len = -1;
    uint32_t id = 0;
    for (const TestPrefix& p : prefixes)
      if ((source & mask_of(p.len)) == p.addr && p.len > best_len) {
        best_len = p.len;
        id = p.id;
      }
    return id;
  }
  SlotImage image_;
  std::vector<TestPrefix> rules_, trusted_;
};

constexpr uint32_t ip(int a, int b, int c, int d) {
  return (uint32_t(a) << 24) | (uint32_t(b) << 16) | (uint32_t(c) << 8) | uint32_t(d);
}

TEST(SourceIndex, EmptyImageResolvesEverySourceToNothingAtTheTop) {
  SourceIndex index = build_source_index(Image().image());
  EXPECT_TRUE(index.chunks.empty());
  EXPECT_EQ(source_index_entry(index, ip(203, 0, 113, 7)), VW_INDEX_RESULT(0, 0));
}

TEST(SourceIndex, NestedRulesAndTrustedPrefixesResolveToTheLongestOfEach) {
  Image img;
  img.rule(ip(203, 0, 113, 0), 24, 1);
  img.rule(ip(203, 0, 113, 128), 25, 2);
  img.rule(ip(198, 51, 100, 7), 32, 3);
  img.trusted(ip(203, 0, 0, 0), 16, 7);
  img.trusted(ip(203, 0, 113, 192), 26, 8);
  img.trusted(ip(10, 0, 0, 0), 8, 9);
  SourceIndex index = build_source_index(img.image());

  EXPECT_EQ(source_index_entry(index, ip(203, 0, 113, 77)), VW_INDEX_RESULT(7, 1));
  EXPECT_EQ(source_index_entry(index, ip(203, 0, 113, 200)), VW_INDEX_RESULT(8, 2));
  EXPECT_EQ(source_index_entry(index, ip(203, 0, 113, 130)), VW_INDEX_RESULT(7, 2));
  EXPECT_EQ(source_index_entry(index, ip(203, 0, 114, 1)), VW_INDEX_RESULT(7, 0));
  EXPECT_EQ(source_index_entry(index, ip(198, 51, 100, 7)), VW_INDEX_RESULT(0, 3));
  EXPECT_EQ(source_index_entry(index, ip(198, 51, 100, 8)), VW_INDEX_RESULT(0, 0));
  EXPECT_EQ(source_index_entry(index, ip(10, 200, 1, 1)), VW_INDEX_RESULT(9, 0));
}

TEST(SourceIndex, VnetRulesStayOutOfThePublicIndex) {
  Image img;
  img.rule(ip(10, 1, 0, 0), 16, 4, /*vnet=*/5);
  SourceIndex index = build_source_index(img.image());
  EXPECT_EQ(source_index_entry(index, ip(10, 1, 2, 3)), VW_INDEX_RESULT(0, 0));
}

TEST(SourceIndex, AnIsolatedHostTakesOneListNode) {
  Image img;
  img.rule(ip(198, 51, 100, 7), 32, 3);
  SourceIndex index = build_source_index(img.image());
  ASSERT_EQ(index.chunks.size(), 1u);
  EXPECT_EQ(index.top[ip(198, 51, 0, 0) >> 16], VW_INDEX_LIST | 0u);
  EXPECT_EQ(source_index_entry(index, ip(198, 51, 100, 7)), VW_INDEX_RESULT(0, 3));
  EXPECT_EQ(source_index_entry(index, ip(198, 51, 100, 6)), VW_INDEX_RESULT(0, 0));
}

TEST(SourceIndex, ABlockWithMorePrefixesThanAListHoldsGetsChunks) {
  Image img;
  for (int i = 0; i <= VW_INDEX_LIST_PREFIXES; i++) img.rule(ip(192, 0, 16 * i, 0), 24, i + 1);
  SourceIndex index = build_source_index(img.image());
  // The /16's chunk, then one list node per /20 holding a /24.
  EXPECT_EQ(index.chunks.size(), 1u + VW_INDEX_LIST_PREFIXES + 1);
  EXPECT_EQ(index.top[ip(192, 0, 0, 0) >> 16] & VW_INDEX_KIND, VW_INDEX_CHUNK);
  for (int i = 0; i <= VW_INDEX_LIST_PREFIXES; i++)
    EXPECT_EQ(source_index_entry(index, ip(192, 0, 16 * i, 9)), VW_INDEX_RESULT(0, i + 1));
  EXPECT_EQ(source_index_entry(index, ip(192, 0, 17, 9)), VW_INDEX_RESULT(0, 0));
}

TEST(SourceIndex, RegionsBeyondTheChunkBudgetAreLeftToTheTries) {
  Image img;
  for (int i = 0; i <= VW_INDEX_LIST_PREFIXES; i++)  // 192.0/16: 7 chunks
    img.rule(ip(192, 0, 16 * i, 0), 24, i + 1);
  img.rule(ip(198, 51, 100, 7), 32, 20);  // a later /16: one list node
  img.rule(ip(10, 9, 0, 0), 16, 21);      // a /16 itself: no chunk at all
  SourceIndex index = build_source_index(img.image(), /*chunk_budget=*/7);
  EXPECT_EQ(index.trie_regions, 1u);
  EXPECT_EQ(index.chunks.size(), 7u);
  EXPECT_EQ(source_index_entry(index, ip(192, 0, 16, 9)), VW_INDEX_RESULT(0, 2));
  EXPECT_EQ(source_index_entry(index, ip(198, 51, 100, 7)), VW_INDEX_TRIE);
  EXPECT_EQ(source_index_entry(index, ip(10, 9, 1, 1)), VW_INDEX_RESULT(0, 21));
}

TEST(SourceIndex, RandomPrefixSetsMatchALongestPrefixMatch) {
  std::mt19937 rng(7);
  for (int round = 0; round < 40; round++) {
    // Even rounds: ~15 prefixes per /16 (chunks, then list nodes below);
    // odd rounds: ~2 (list nodes at the top).
    const uint32_t prefixes = round % 2 ? 8 : 60;
    Image img;
    // A few /16s so prefixes nest and share chunks.
    std::vector<uint32_t> bases;
    for (int i = 0; i < 4; i++) bases.push_back(rng() & 0xffff0000u);
    std::uniform_int_distribution<int> len_of(4, 32);
    std::set<std::tuple<bool, uint32_t, int>> seen;  // a trie holds a prefix once
    for (uint32_t id = 1; id <= prefixes; id++) {
      uint32_t addr = bases[rng() % bases.size()] | (rng() & 0xffffu);
      int len = len_of(rng);
      bool is_rule = rng() % 2;
      if (!seen.insert({is_rule, addr & mask_of(len), len}).second) continue;
      if (is_rule) img.rule(addr, len, id);
      else img.trusted(addr, len, id % 250 + 1);
    }
    SourceIndex index = build_source_index(img.image());
    for (int probe = 0; probe < 5000; probe++) {
      uint32_t source = probe % 2 ? rng() : (bases[rng() % bases.size()] | (rng() & 0xffffu));
      ASSERT_EQ(source_index_entry(index, source), img.expected(source))
          << "round " << round << " source " << std::hex << source;
    }
  }
}

// Each virtual network a segment names gets an index of its own rules: the
// walk from the segment's root must give the longest of that network's
// rules, never another network's nor a public rule.
TEST(SourceIndex, EachVirtualNetworkIndexMatchesALongestPrefixMatchOfItsRules) {
  std::mt19937 rng(11);
  for (int round = 0; round < 30; round++) {
    SlotImage image;
    std::map<uint32_t, std::vector<TestPrefix>> rules;  // vnet -> its rules
    std::set<std::tuple<uint32_t, uint32_t, int>> seen;
    const int per_vnet = round % 3 == 0 ? 3 : round % 3 == 1 ? 12 : 80;
    std::uniform_int_distribution<int> len_of(8, 32);
    uint32_t id = 1;
    for (uint32_t vnet : {0u, 7u, 8u, 9u}) {  // 0: public rules, to be ignored
      for (int i = 0; i < per_vnet; i++) {
        uint32_t addr = (10u << 24) | (rng() & 0x00ffffffu);
        int len = len_of(rng);
        if (!seen.insert({vnet, addr & mask_of(len), len}).second) continue;
        image.rules.push_back({make_rule_key(vnet, addr, static_cast<uint8_t>(len)), vw_rule_value{id}});
        rules[vnet].push_back({addr & mask_of(len), len, id++});
      }
      if (vnet != 0) image.segments.push_back({vw_segment_key{vnet, 0, 0}, vw_segment_value{vnet, 0}});
    }
    image.segments.push_back({vw_segment_key{99, 0, 0}, vw_segment_value{42, 0}});  // no rules
    const SourceIndex index = build_source_index(image);
    EXPECT_EQ(index.trie_regions, 0u);
    const auto segments = segments_with_index(image, index);
    for (const auto& [key, value] : segments) {
      ASSERT_EQ(index.vnet_roots.at(value.vnet_id), value.index);
      for (int probe = 0; probe < 3000; probe++) {
        uint32_t source = probe % 4 ? (10u << 24) | (rng() & 0x00ffffffu) : rng();
        int best_len = -1;
        uint32_t want = 0;
        for (const TestPrefix& p : rules[value.vnet_id])
          if ((source & mask_of(p.len)) == p.addr && p.len > best_len) best_len = p.len, want = p.id;
        ASSERT_EQ(vnet_index_entry(index, value.index, source), VW_INDEX_RESULT(0, want))
            << "round " << round << " vnet " << value.vnet_id << " source " << std::hex << source;
      }
    }
  }
}

TEST(SourceIndex, AVirtualNetworkBeyondTheChunkBudgetIsLeftToTheTrie) {
  SlotImage image;
  for (int i = 0; i <= VW_INDEX_LIST_PREFIXES; i++)  // six subnets: more than a list node
    image.rules.push_back({make_rule_key(7, ip(10, 1, 16 * i, 0), 24), vw_rule_value{uint32_t(i + 1)}});
  image.rules.push_back({make_rule_key(8, ip(10, 2, 0, 0), 24), vw_rule_value{30}});
  image.segments.push_back({vw_segment_key{0, 100, 0}, vw_segment_value{7, 0}});
  image.segments.push_back({vw_segment_key{0, 200, 0}, vw_segment_value{8, 0}});
  const SourceIndex fits = build_source_index(image);
  EXPECT_EQ(vnet_index_entry(fits, fits.vnet_roots.at(7), ip(10, 1, 32, 9)), VW_INDEX_RESULT(0, 3));
  EXPECT_EQ(vnet_index_entry(fits, fits.vnet_roots.at(8), ip(10, 2, 0, 9)), VW_INDEX_RESULT(0, 30));
  EXPECT_EQ(vnet_index_entry(fits, fits.vnet_roots.at(8), ip(10, 1, 32, 9)), VW_INDEX_RESULT(0, 0));
  const SourceIndex tight = build_source_index(image, static_cast<uint32_t>(fits.chunks.size() - 1));
  EXPECT_EQ(tight.trie_regions, 1u);
  EXPECT_EQ(tight.vnet_roots.at(8), VW_INDEX_TRIE) << "vnet 7 took the chunks first";
  EXPECT_EQ(vnet_index_entry(tight, tight.vnet_roots.at(8), ip(10, 2, 0, 9)), VW_INDEX_TRIE);
  EXPECT_EQ(vnet_index_entry(tight, tight.vnet_roots.at(7), ip(10, 1, 80, 9)), VW_INDEX_RESULT(0, 6));
}

}  // namespace
}  // namespace vaultwall
