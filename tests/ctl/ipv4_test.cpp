#include "vaultwall/policy/ipv4.h"

#include <gtest/gtest.h>

#include "vaultwall/policy/sha256.h"

namespace vaultwall {
namespace {

TEST(Ipv4, ParsesStrictDottedQuads) {
  EXPECT_EQ(parse_ipv4("203.0.113.7"), 0xcb007107u);
  EXPECT_EQ(parse_ipv4("0.0.0.0"), 0u);
  EXPECT_EQ(parse_ipv4("255.255.255.255"), 0xffffffffu);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "1..3.4", "1.2.3.4 ",
                          "+1.2.3.4", "1.2.3.-4", "a.b.c.d", "1.2.3.4/"})
    EXPECT_FALSE(parse_ipv4(bad).has_value()) << bad;
}

TEST(Ipv4, ParsesPrefixesAndKeepsHostBitsForTheValidator) {
  auto prefix = parse_ipv4_prefix("203.0.113.5/24");
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->length, 24);
  EXPECT_TRUE(prefix->has_host_bits());
  EXPECT_EQ(prefix->network().cidr(), "203.0.113.0/24");
  EXPECT_EQ(parse_ipv4_prefix("198.51.100.7")->length, 32);
  EXPECT_EQ(parse_ipv4_prefix("0.0.0.0/0")->mask(), 0u);
  EXPECT_FALSE(parse_ipv4_prefix("1.2.3.0/33"));
  EXPECT_FALSE(parse_ipv4_prefix("1.2.3.0/024"));
  EXPECT_FALSE(parse_ipv4_prefix("1.2.3.0/-1"));
}

TEST(Ipv4, CanonicalTextIsTheBareAddressForASingleHost) {
  EXPECT_EQ(parse_ipv4_prefix("198.51.100.7/32")->canonical(), "198.51.100.7");
  EXPECT_EQ(parse_ipv4_prefix("198.51.100.6/31")->canonical(), "198.51.100.6/31");
}

TEST(Ipv4, ContainmentAndOverlap) {
  Ipv4Prefix wide = *parse_ipv4_prefix("203.0.113.0/24");
  Ipv4Prefix narrow = *parse_ipv4_prefix("203.0.113.128/25");
  Ipv4Prefix other = *parse_ipv4_prefix("198.51.100.0/24");
  EXPECT_TRUE(wide.contains(narrow));
  EXPECT_FALSE(narrow.contains(wide));
  EXPECT_TRUE(narrow.overlaps(wide));
  EXPECT_FALSE(wide.overlaps(other));
  EXPECT_EQ(format_ipv4(wide.last()), "203.0.113.255");
}

TEST(Ipv4, BytesAreNetworkOrder) {
  auto bytes = ipv4_bytes(*parse_ipv4("203.0.113.7"));
  EXPECT_EQ(bytes, (std::array<uint8_t, 4>{203, 0, 113, 7}));
  EXPECT_EQ(ipv4_from_bytes(bytes.data()), *parse_ipv4("203.0.113.7"));
}

TEST(Sha256, StandardVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Lengths around the padding boundary (55, 56, 64 bytes).
  EXPECT_EQ(sha256_hex(std::string(55, 'x')).size(), 64u);
  EXPECT_NE(sha256_hex(std::string(56, 'x')), sha256_hex(std::string(57, 'x')));
}

}  // namespace
}  // namespace vaultwall
