// The public IPv6 trie builder against a brute-force longest-prefix match:
// the longest entry holding a probe (what the kernel's LPM lookup returns)
// must name the longest public rule and the longest trusted prefix holding
// it; and reading the trie back gives the originals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <string>

#include "vaultwall/abi/keys.h"
#include "vaultwall/kernel/public6.h"

namespace vaultwall {
namespace {

using Bytes = std::array<uint8_t, 16>;

bool holds(const uint8_t (&net)[16], unsigned len, const Bytes& a) {
  for (unsigned bit = 0; bit < len; bit++) {
    const uint8_t m = static_cast<uint8_t>(0x80u >> (bit % 8));
    if ((net[bit / 8] & m) != (a[bit / 8] & m)) return false;
  }
  return true;
}

void mask(uint8_t (&a)[16], unsigned len) {
  for (unsigned bit = len; bit < 128; bit++) a[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
}

struct Random6 {
  std::mt19937 rng;
  // Addresses under 2001:db8::/32 whose next 16 bits take few values, so
  // that prefixes of different lengths nest and overlap often.
  Bytes address() {
    Bytes a{0x20, 0x01, 0x0d, 0xb8};
    a[4] = static_cast<uint8_t>(rng() % 4);
    a[5] = static_cast<uint8_t>(rng() % 4);
    for (size_t i = 6; i < 16; i++) a[i] = static_cast<uint8_t>(rng());
    return a;
  }
  uint8_t length() {
    static constexpr uint8_t kLengths[] = {32, 36, 40, 44, 46, 48, 56, 64, 128};
    return kLengths[rng() % std::size(kLengths)];
  }
};

struct Brute {
  struct P {
    uint8_t net[16];
    unsigned len;
    uint32_t id;
  };
  std::vector<P> prefixes;
  uint32_t longest(const Bytes& a) const {
    int best = -1;
    uint32_t id = 0;
    for (const P& p : prefixes)
      if (holds(p.net, p.len, a) && static_cast<int>(p.len) > best) best = static_cast<int>(p.len), id = p.id;
    return id;
  }
};

const vw_public6_value* lpm(const Public6Entries& entries, const Bytes& a) {
  const vw_public6_value* best = nullptr;
  int best_len = -1;
  for (const auto& [key, value] : entries)
    if (holds(key.addr, key.prefixlen, a) && static_cast<int>(key.prefixlen) > best_len)
      best_len = static_cast<int>(key.prefixlen), best = &value;
  return best;
}

template <class Entries>
std::set<std::string> as_bytes(const Entries& entries) {
  std::set<std::string> out;
  for (const auto& e : entries) out.insert(std::string(reinterpret_cast<const char*>(&e), sizeof(e)));
  return out;
}

TEST(Public6Test, LongestEntryGivesLongestRuleAndServiceAndReadsBack) {
  for (uint32_t seed = 1; seed <= 20; seed++) {
    Random6 random{std::mt19937(seed)};
    SlotImage image;
    Brute rules, services;
    std::set<std::pair<Bytes, unsigned>> seen_rule, seen_service;
    for (uint32_t i = 0; i < 60; i++) {
      const bool is_rule = random.rng() % 2;
      Bytes a = random.address();
      const uint8_t len = random.length();
      uint8_t net[16];
      std::memcpy(net, a.data(), 16);
      mask(net, len);
      Bytes key_bytes;
      std::memcpy(key_bytes.data(), net, 16);
      if (is_rule) {
        if (!seen_rule.emplace(key_bytes, len).second) continue;
        const uint32_t id = 100 + i;
        image.rules6.push_back({make_rule6_key(VW_VNET_PUBLIC, net, len), vw_rule_value{id}});
        Brute::P p{{}, len, id};
        std::memcpy(p.net, net, 16);
        rules.prefixes.push_back(p);
      } else {
        if (!seen_service.emplace(key_bytes, len).second) continue;
        const uint32_t id = 1 + i % 7;
        image.trusted6.push_back({make_public6_key(net, len), vw_trusted_value{id}});
        Brute::P p{{}, len, id};
        std::memcpy(p.net, net, 16);
        services.prefixes.push_back(p);
      }
    }
    // A VNET subnet is not public: it stays out of the trie.
    uint8_t subnet[16] = {0x20, 0x01, 0x0d, 0xb8};
    image.rules6.push_back({make_rule6_key(3, subnet, 32), vw_rule_value{999}});

    const Public6Entries entries = build_public6(image);
    for (int probe = 0; probe < 2000; probe++) {
      const Bytes a = random.address();
      const vw_public6_value* value = lpm(entries, a);
      const uint32_t rule = value ? value->rule_id : VW_RULE_NONE;
      const uint32_t service = value ? value->service_id : VW_SERVICE_NONE;
      ASSERT_EQ(rule, rules.longest(a)) << "seed " << seed << " probe " << probe;
      ASSERT_EQ(service, services.longest(a)) << "seed " << seed << " probe " << probe;
    }

    std::vector<std::pair<vw_rule6_key, vw_rule_value>> rules6;
    std::vector<std::pair<vw_public6_key, vw_trusted_value>> trusted6;
    split_public6(entries, rules6, trusted6);
    std::vector<std::pair<vw_rule6_key, vw_rule_value>> public_rules;
    for (const auto& e : image.rules6)
      if (is_public_rule6(e.first)) public_rules.push_back(e);
    EXPECT_EQ(as_bytes(rules6), as_bytes(public_rules)) << "seed " << seed;
    EXPECT_EQ(as_bytes(trusted6), as_bytes(image.trusted6)) << "seed " << seed;
  }
}

TEST(Public6Test, APrefixOfARuleAndAServiceIsOneEntryWithBoth) {
  uint8_t net[16] = {0x20, 0x01, 0x0d, 0xb8, 0x70};
  SlotImage image;
  image.rules6.push_back({make_rule6_key(VW_VNET_PUBLIC, net, 40), vw_rule_value{5}});
  image.trusted6.push_back({make_public6_key(net, 40), vw_trusted_value{2}});
  const Public6Entries entries = build_public6(image);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].second.rule_id, 5u);
  EXPECT_EQ(entries[0].second.service_id, 2u);
  EXPECT_EQ(entries[0].second.rule_prefixlen, 40);
  EXPECT_EQ(entries[0].second.trusted_prefixlen, 40);
}

TEST(Public6Test, NoPublicPrefixesNoEntries) {
  uint8_t net[16] = {0xfd, 0x00, 0x00, 0x01};
  SlotImage image;
  image.rules6.push_back({make_rule6_key(4, net, 64), vw_rule_value{5}});
  EXPECT_TRUE(build_public6(image).empty());
}

}  // namespace
}  // namespace vaultwall
