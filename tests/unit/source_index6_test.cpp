// The IPv6 source index against the trie it is built from: for every probe
// the walk (the program's, written again in source_index6_entry) gives the
// value of the longest vw_public6_N entry holding the source, or leaves it
// to the trie only where the layout says it may (a /64 holding more longer
// entries than its chain of list nodes takes, or a /16 past the nodes).
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>
#include <set>

#include "vaultwall/abi/keys.h"
#include "vaultwall/kernel/public6.h"
#include "vaultwall/kernel/slots.h"
#include "vaultwall/kernel/source_index.h"

namespace vaultwall {
namespace {

using Bytes = std::array<uint8_t, 16>;

// What one /64's chain of lower-half list nodes holds.
constexpr size_t kChainPrefixes = VW_INDEX6_LIST_PREFIXES * VW_INDEX6_LOW_LISTS;

bool holds(const uint8_t (&net)[16], unsigned len, const uint8_t* a) {
  for (unsigned bit = 0; bit < len; bit++) {
    const uint8_t m = static_cast<uint8_t>(0x80u >> (bit % 8));
    if ((net[bit / 8] & m) != (a[bit / 8] & m)) return false;
  }
  return true;
}

void mask(uint8_t* a, unsigned len) {
  for (unsigned bit = len; bit < 128; bit++) a[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
}

// What the kernel's LPM lookup in vw_public6_N gives, as an index result.
uint32_t trie_result(const Public6Entries& entries, const uint8_t (&a)[16]) {
  const vw_public6_value* best = nullptr;
  int best_len = -1;
  for (const auto& [key, value] : entries)
    if (holds(key.addr, key.prefixlen, a) && static_cast<int>(key.prefixlen) > best_len)
      best_len = static_cast<int>(key.prefixlen), best = &value;
  return best ? VW_INDEX_RESULT(best->service_id, best->rule_id)
              : VW_INDEX_RESULT(VW_SERVICE_NONE, VW_RULE_NONE);
}

// Entries longer than /64 in the /64 holding `a`.
size_t long_entries_in_64(const Public6Entries& entries, const uint8_t (&a)[16]) {
  size_t n = 0;
  for (const auto& [key, value] : entries)
    n += key.prefixlen > 64 && std::memcmp(key.addr, a, 8) == 0;
  return n;
}

struct Policy6 {
  SlotImage image;
  std::vector<std::pair<Bytes, unsigned>> prefixes;  // every prefix added, for probes
  uint32_t next_rule = 1;

  void add(const Bytes& address, unsigned len, bool is_rule, uint32_t service = 0) {
    uint8_t net[16];
    std::memcpy(net, address.data(), 16);
    mask(net, len);
    Bytes masked;
    std::memcpy(masked.data(), net, 16);
    for (const auto& [p, l] : prefixes)
      if (p == masked && l == len) return;  // one rule or service per prefix, as validation ensures
    prefixes.push_back({masked, len});
    if (is_rule)
      image.rules6.push_back({make_rule6_key(VW_VNET_PUBLIC, net, len), vw_rule_value{next_rule++}});
    else
      image.trusted6.push_back({make_public6_key(net, len), vw_trusted_value{service}});
  }
};

Bytes random_under(std::mt19937& rng, const Bytes& net, unsigned len) {
  Bytes a = net;
  for (unsigned bit = len; bit < 128; bit++)
    if (rng() % 2) a[bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
  return a;
}

// Probes: inside each prefix, just outside it (its last bit flipped), and
// random addresses of the region.
void expect_index_matches_trie(const Policy6& policy, std::mt19937& rng, const std::string& what,
                               uint32_t budget = VW_INDEX6_NODES) {
  const Public6Entries entries = build_public6(policy.image);
  SourceIndex index = build_source_index(policy.image);
  build_source_index6(index, policy.image, budget);
  size_t on_trie = 0, probes = 0;
  auto probe = [&](const Bytes& bytes) {
    uint8_t a[16];
    std::memcpy(a, bytes.data(), 16);
    const uint32_t got = source_index6_entry(index, a);
    probes++;
    if (got == VW_INDEX_TRIE) {
      on_trie++;
      // Only a crowded /64, or a /16 past the budget, is left to the trie.
      if (budget == VW_INDEX6_NODES) {
        ASSERT_GT(long_entries_in_64(entries, a), kChainPrefixes)
            << what << ": left to the trie without reason";
      }
      return;
    }
    ASSERT_EQ(got, trie_result(entries, a)) << what;
  };
  for (const auto& [net, len] : policy.prefixes) {
    for (int i = 0; i < 3; i++) probe(random_under(rng, net, len));
    if (len > 0) {
      Bytes outside = random_under(rng, net, len);
      outside[(len - 1) / 8] ^= static_cast<uint8_t>(0x80u >> ((len - 1) % 8));
      probe(outside);
    }
  }
  for (int i = 0; i < 500; i++) probe(random_under(rng, policy.prefixes[rng() % policy.prefixes.size()].first, 16));
  if (budget == VW_INDEX6_NODES) {
    EXPECT_LT(on_trie * 10, probes + 10) << what << ": most probes must be decided by the index";
  }
}

TEST(SourceIndex6Test, RandomNestedPrefixesGiveTheTriesLongestMatch) {
  for (uint32_t seed = 1; seed <= 30; seed++) {
    std::mt19937 rng(seed);
    Policy6 policy;
    // A few /16s, clustered so that blocks are dense (chunks), sparse
    // (lists) and /64s hold single addresses (lower-half lists).
    static constexpr uint8_t kLengths[] = {8, 16, 20, 29, 32, 40, 44, 48, 56, 63, 64, 65, 96, 127, 128};
    const int count = 20 + static_cast<int>(rng() % 200);
    for (int i = 0; i < count; i++) {
      Bytes a{0x20, static_cast<uint8_t>(rng() % 3), 0x0d, static_cast<uint8_t>(0xb8 + rng() % 2)};
      a[4] = static_cast<uint8_t>(rng() % 3);
      a[5] = static_cast<uint8_t>(rng() % 2);
      // Odd seeds: few /64s, so that they hold nested longer prefixes.
      const uint32_t spread = seed % 2 ? 2 : 256;
      for (size_t k = 6; k < 16; k++) a[k] = static_cast<uint8_t>(rng() % (k < 8 ? spread : 3));
      // Every third seed: one /48 under the /32s, so that blocks skip levels.
      if (seed % 3 == 0) a[4] = 0x12, a[5] = 0x34;
      const unsigned len = kLengths[rng() % std::size(kLengths)];
      policy.add(a, len, rng() % 2, 1 + static_cast<uint32_t>(rng() % 40));
    }
    expect_index_matches_trie(policy, rng, "seed " + std::to_string(seed));
    if (HasFatalFailure()) return;
  }
}

TEST(SourceIndex6Test, ASingleAddressIsFoundInALowerHalfList) {
  Policy6 policy;
  Bytes a{0x20, 0x01, 0x0d, 0xb8, 0, 1};
  a[15] = 7;
  policy.add(a, 128, true);
  const SourceIndex index = build_source_index(policy.image);
  uint8_t source[16];
  std::memcpy(source, a.data(), 16);
  EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(0, 1));
  // One node: a list at the /16 whose /64 item points to the lower-half list.
  EXPECT_EQ(index.top6[0x2001] & VW_INDEX_KIND, VW_INDEX_LIST);
  EXPECT_EQ(index.nodes6.size(), 2u);
  source[15] = 8;
  EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(0, 0));
  source[15] = 7;
  source[7] = 1;
  EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(0, 0));
}

TEST(SourceIndex6Test, ASlash64OfManyAddressesIsAChainOfLists) {
  Policy6 policy;
  Bytes a{0x26, 0x03, 0x10, 0x00, 0, 4, 0, 7};
  // As in Azure's service tags: nine small prefixes in one /64.
  static constexpr uint8_t kLengths[] = {121, 123, 125, 122, 126, 121, 120, 124, 123};
  for (size_t i = 0; i < std::size(kLengths); i++) {
    a[14] = static_cast<uint8_t>(i + 1);
    policy.add(a, kLengths[i], false, static_cast<uint32_t>(i + 1));
  }
  const SourceIndex index = build_source_index(policy.image);
  for (size_t i = 0; i < std::size(kLengths); i++) {
    uint8_t source[16];
    std::memcpy(source, a.data(), 16);
    source[14] = static_cast<uint8_t>(i + 1);
    source[15] = 1;
    EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(i + 1, 0)) << i;
  }
  uint8_t outside[16];
  std::memcpy(outside, a.data(), 16);
  outside[14] = 0x40;
  EXPECT_EQ(source_index6_entry(index, outside), VW_INDEX_RESULT(0, 0));
}

TEST(SourceIndex6Test, ABlockOfPrefixesUnderOneLongPrefixSkipsTheLevelsBetween) {
  Policy6 policy;
  Bytes a{0x26, 0x03, 0x10, 0x00, 0x00, 0x04, 0x00};
  for (uint8_t i = 1; i <= 5; i++) {
    a[7] = i;
    policy.add(a, 64, false, i);
  }
  const SourceIndex index = build_source_index(policy.image);
  // 2603::/16 is a list of 2603:1000:4::/56 pointing to that /56's node.
  EXPECT_EQ(index.top6[0x2603] & VW_INDEX_KIND, VW_INDEX_LIST);
  EXPECT_EQ(index.nodes6.size(), 1u + VW_INDEX6_NODE_CHUNKS);
  uint8_t source[16];
  std::memcpy(source, a.data(), 16);
  for (uint8_t i = 1; i <= 5; i++) {
    source[7] = i;
    EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(i, 0)) << int{i};
  }
  source[7] = 6;
  EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(0, 0));
  source[7] = 1;
  source[5] = 5;  // skipped bits differ: outside the listed /56
  EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(0, 0));
}

// As Azure's regions are: a few clusters far apart in one /16. One list
// names each cluster's block, so a source skips every level between.
TEST(SourceIndex6Test, DistantClustersOfASlash16AreOneListOfTheirBlocks) {
  Policy6 policy;
  const Bytes clusters[] = {{0x26, 0x03, 0x10, 0x00, 0x00, 0x04, 0x00},
                            {0x26, 0x03, 0x10, 0xe1, 0x01, 0x00, 0x00},
                            {0x26, 0x03, 0x20, 0x30, 0x00, 0x00, 0x00}};
  for (size_t c = 0; c < std::size(clusters); c++) {
    Bytes a = clusters[c];
    for (uint8_t i = 1; i <= 5; i++) {
      a[7] = i;
      policy.add(a, 64, false, static_cast<uint32_t>(10 * c + i));
    }
  }
  const SourceIndex index = build_source_index(policy.image);
  // 2603::/16 is a list of the three /56s, each pointing to its node.
  EXPECT_EQ(index.top6[0x2603] & VW_INDEX_KIND, VW_INDEX_LIST);
  EXPECT_EQ(index.nodes6.size(), 1u + 3 * VW_INDEX6_NODE_CHUNKS);
  for (size_t c = 0; c < std::size(clusters); c++) {
    uint8_t source[16];
    std::memcpy(source, clusters[c].data(), 16);
    for (uint8_t i = 1; i <= 6; i++) {
      source[7] = i;
      EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(i <= 5 ? 10 * c + i : 0, 0))
          << c << " " << int{i};
    }
    source[7] = 1;
    source[4] ^= 0x80;  // skipped bits differ: outside the listed /56
    EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(0, 0)) << c;
  }
  std::mt19937 rng(3);
  expect_index_matches_trie(policy, rng, "three clusters");
}

// A prefix holding a cluster is never split from it: the list's regions
// must be disjoint, so here the /32 and what it holds are one group.
TEST(SourceIndex6Test, APrefixAndTheClusterItHoldsStayOneGroup) {
  Policy6 policy;
  Bytes outer{0x26, 0x03, 0x10, 0x00};
  policy.add(outer, 32, false, 9);
  Bytes a{0x26, 0x03, 0x10, 0x00, 0x00, 0x04, 0x00};
  for (uint8_t i = 1; i <= 4; i++) {
    a[7] = i;
    policy.add(a, 64, false, i);
  }
  Bytes other{0x26, 0x03, 0x20, 0x30, 0x00, 0x00, 0x00, 0x01};
  policy.add(other, 64, false, 8);
  const SourceIndex index = build_source_index(policy.image);
  uint8_t source[16] = {0x26, 0x03, 0x10, 0x00, 0x55};  // inside the /32 only
  EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(9, 0));
  std::memcpy(source, a.data(), 16);  // in the cluster: its own /64, not the /32
  EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(4, 0));
  std::mt19937 rng(5);
  expect_index_matches_trie(policy, rng, "nested cluster");
}

TEST(SourceIndex6Test, ACrowdedSlash64IsLeftToTheTrieAndTheRestIsIndexed) {
  Policy6 policy;
  Bytes a{0x20, 0x01, 0x0d, 0xb8};
  policy.add(a, 32, false, 4);
  for (size_t host = 1; host <= kChainPrefixes + 1; host++) {
    a[15] = static_cast<uint8_t>(host);
    policy.add(a, 128, true);
  }
  const SourceIndex index = build_source_index(policy.image);
  uint8_t source[16] = {0x20, 0x01, 0x0d, 0xb8};
  source[15] = 1;
  EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_TRIE);
  source[7] = 1;  // another /64 of the /32
  EXPECT_EQ(source_index6_entry(index, source), VW_INDEX_RESULT(4, 0));
}

TEST(SourceIndex6Test, ASlash16PastTheBudgetIsLeftToTheTrieWhole) {
  Policy6 policy;
  std::mt19937 rng(7);
  for (int i = 0; i < 40; i++) {
    Bytes a{0x2a, 0x01, static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())};
    policy.add(a, 40, false, 2);
  }
  Bytes other{0x26, 0x03, 0x10, 0x20};
  policy.add(other, 32, false, 3);
  const SourceIndex full = build_source_index(policy.image);
  ASSERT_EQ(full.trie_regions, 0u);
  SourceIndex tight = build_source_index(policy.image);
  build_source_index6(tight, policy.image, static_cast<uint32_t>(full.nodes6.size() - 1));
  EXPECT_EQ(tight.trie_regions, 1u);
  EXPECT_EQ(tight.trie_regions6, 1u);
  EXPECT_EQ(tight.top6[0x2a01], VW_INDEX_TRIE);  // after 2603::/16, past the budget
  uint8_t source[16] = {0x26, 0x03, 0x10, 0x20, 0x42};
  EXPECT_EQ(source_index6_entry(tight, source), VW_INDEX_RESULT(3, 0));
  expect_index_matches_trie(policy, rng, "tight budget", static_cast<uint32_t>(full.nodes6.size() - 1));
}

TEST(SourceIndex6Test, NoPublicIpv6PrefixesLeaveEveryTopEntryEmpty) {
  const SourceIndex index = build_source_index(SlotImage{});
  ASSERT_EQ(index.top6.size(), VW_INDEX_TOP_ENTRIES);
  for (uint32_t entry : index.top6) ASSERT_EQ(entry, VW_INDEX_RESULT(VW_SERVICE_NONE, VW_RULE_NONE));
}

// IPv6 /16s past the IPv6 nodes are not helped by a larger IPv4 index: the
// warning says so instead of naming --index-chunks for them.
TEST(SourceIndex6Test, TheWarningTellsIpv6RegionsFromThoseALargerIndexWouldTake) {
  vw_policy_info info{};
  info.index_capacity = 1024;
  info.index_chunks_needed = 4096;
  info.index_trie_regions = 3;
  info.index6_trie_regions = 1;
  info.index6_nodes = VW_INDEX6_NODES - 5;
  const std::string both = source_index_warning(info).value();
  EXPECT_NE(both.find("2 /16s are decided by the tries"), std::string::npos) << both;
  EXPECT_NE(both.find("--index-chunks 4096"), std::string::npos) << both;
  EXPECT_NE(both.find("1 IPv6 /16s are decided by vw_public6"), std::string::npos) << both;

  info.index_trie_regions = 1;
  const std::string ipv6_only = source_index_warning(info).value();
  EXPECT_EQ(ipv6_only.find("--index-chunks"), std::string::npos) << ipv6_only;
  EXPECT_NE(ipv6_only.find("IPv6 source index holds " + std::to_string(VW_INDEX6_NODES)),
            std::string::npos) << ipv6_only;

  info.index_trie_regions = info.index6_trie_regions = 0;
  EXPECT_FALSE(source_index_warning(info).has_value());
}

}  // namespace
}  // namespace vaultwall
