#include "rule_sets.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_set>

#include "vaultwall/abi/keys.h"

namespace vaultwall::bench {

namespace {

uint32_t to_u32(const Ipv4Address& a) {
  return (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
}

Ipv4Address from_u32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}

uint32_t netmask(uint8_t length) { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }

Ipv4Prefix make_prefix(uint32_t addr, uint8_t length) {
  return {from_u32(addr & netmask(length)), length};
}

uint64_t identity(const Ipv4Prefix& p) { return (uint64_t{to_u32(p.addr)} << 8) | p.length; }

// Special-purpose ranges (RFC 6890 and friends) a random "public" prefix must
// avoid, including the three documentation nets the benchmark's own packet
// sources come from.
bool is_special_purpose(uint32_t addr) {
  static const Ipv4Prefix kSpecial[] = {
      {{0, 0, 0, 0}, 8},     {{10, 0, 0, 0}, 8},      {{100, 64, 0, 0}, 10},
      {{127, 0, 0, 0}, 8},   {{169, 254, 0, 0}, 16},  {{172, 16, 0, 0}, 12},
      {{192, 0, 0, 0}, 24},  {{192, 0, 2, 0}, 24},    {{192, 168, 0, 0}, 16},
      {{198, 18, 0, 0}, 15}, {{198, 51, 100, 0}, 24}, {{203, 0, 113, 0}, 24},
      {{224, 0, 0, 0}, 3},  // multicast and reserved
  };
  for (const Ipv4Prefix& special : kSpecial)
    if (covers(special, from_u32(addr))) return true;
  return false;
}

}  // namespace

Ipv4Address random_public_address(uint64_t& state) {
  for (;;) {
    // splitmix64: cheap, deterministic, good enough to spread probes.
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    uint32_t addr = static_cast<uint32_t>(z ^ (z >> 31));
    if (!is_special_purpose(addr)) return from_u32(addr);
  }
}

Result<Ipv4Prefix> parse_ipv4_prefix(std::string_view text) {
  auto slash = text.find('/');
  std::string address(text.substr(0, slash));
  unsigned length = 32;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (ec != std::errc{} || end != digits.data() + digits.size() || length > 32)
      return fail(EINVAL, "bad prefix length in '" + std::string(text) + "'");
  }
  Ipv4Address addr{};
  if (inet_pton(AF_INET, address.c_str(), addr.data()) != 1)
    return fail(EINVAL, "not an IPv4 prefix: '" + std::string(text) + "'");
  return make_prefix(to_u32(addr), static_cast<uint8_t>(length));
}

std::string to_string(const Ipv4Prefix& p) {
  return std::to_string(p.addr[0]) + "." + std::to_string(p.addr[1]) + "." +
         std::to_string(p.addr[2]) + "." + std::to_string(p.addr[3]) + "/" +
         std::to_string(p.length);
}

bool covers(const Ipv4Prefix& prefix, const Ipv4Address& address) {
  return (to_u32(address) & netmask(prefix.length)) == to_u32(prefix.addr);
}

namespace {

// Every address prefix of a ServiceTags file, IPv4 and IPv6, as written.
Result<std::vector<std::string>> service_tag_prefix_texts(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ENOENT, "open service tags file " + path);
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("values") || !doc["values"].is_array())
    return fail(EINVAL, path + " is not a ServiceTags JSON file (no \"values\" array)");
  std::vector<std::string> texts;
  for (const auto& tag : doc["values"]) {
    const auto& prefixes = tag.value("properties", nlohmann::json::object())
                               .value("addressPrefixes", nlohmann::json::array());
    for (const auto& text : prefixes)
      if (text.is_string()) texts.push_back(text.get<std::string>());
  }
  return texts;
}

bool is_ipv6_text(const std::string& text) { return text.find(':') != std::string::npos; }

}  // namespace

Result<std::vector<Ipv4Prefix>> load_service_tag_prefixes(const std::string& path) {
  std::vector<Ipv4Prefix> out;
  std::unordered_set<uint64_t> seen;
  const std::vector<std::string> texts = VW_TRY(service_tag_prefix_texts(path));
  for (const std::string& text : texts) {
    if (is_ipv6_text(text)) continue;  // IPv6: Azure IP rules are IPv4 only
    auto prefix = VW_TRY(parse_ipv4_prefix(text));
    if (seen.insert(identity(prefix)).second) out.push_back(prefix);
  }
  return out;
}

Result<Ipv6Prefix> parse_ipv6_prefix(std::string_view text) {
  const size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  Ipv6Prefix out;
  if (inet_pton(AF_INET6, address.c_str(), out.addr.data()) != 1)
    return fail(EINVAL, "not an IPv6 prefix: " + std::string(text));
  if (slash != std::string_view::npos) {
    const int length = std::atoi(std::string(text.substr(slash + 1)).c_str());
    if (length < 0 || length > 128) return fail(EINVAL, "bad IPv6 prefix length: " + std::string(text));
    out.length = static_cast<uint8_t>(length);
  }
  for (size_t i = 0; i < 16; i++) {
    const int bits = out.length - static_cast<int>(i) * 8;
    out.addr[i] &= bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
  }
  return out;
}

bool covers(const Ipv6Prefix& prefix, const Ipv6Address& address) {
  for (size_t i = 0; i < 16; i++) {
    const int bits = prefix.length - static_cast<int>(i) * 8;
    const uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
    if ((address[i] & mask) != prefix.addr[i]) return false;
  }
  return true;
}

Result<std::vector<Ipv6Prefix>> load_service_tag_prefixes6(const std::string& path) {
  std::vector<Ipv6Prefix> out;
  const std::vector<std::string> texts = VW_TRY(service_tag_prefix_texts(path));
  for (const std::string& text : texts) {
    if (!is_ipv6_text(text)) continue;
    auto prefix = VW_TRY(parse_ipv6_prefix(text));
    if (std::find(out.begin(), out.end(), prefix) == out.end()) out.push_back(prefix);
  }
  return out;
}

Result<std::vector<Ipv4Prefix>> build_rule_set(size_t count, const RuleSetRecipe& recipe) {
  if (count == 0) return fail(EINVAL, "a rule set needs at least one rule");
  if (covers(recipe.allowed_rule, recipe.denied_source))
    return fail(EINVAL, "the allowed rule covers the denied source");

  std::vector<Ipv4Prefix> out;
  std::unordered_set<uint64_t> seen;
  out.reserve(count);
  auto add = [&](const Ipv4Prefix& p) {
    if (out.size() < count && !covers(p, recipe.denied_source) && seen.insert(identity(p)).second)
      out.push_back(p);
  };

  add(recipe.allowed_rule);
  for (const Ipv4Prefix& p : recipe.realistic) add(p);

  std::mt19937_64 random(recipe.seed);
  for (size_t i = 0; out.size() < count; i++) {
    uint32_t addr = static_cast<uint32_t>(random());
    if (is_special_purpose(addr)) continue;
    add(make_prefix(addr, recipe.dense || i % 2 == 0 ? 32 : 24));
  }
  return out;
}

std::vector<std::pair<vw_rule_key, vw_rule_value>> to_rule_entries(
    const std::vector<Ipv4Prefix>& prefixes) {
  std::vector<std::pair<vw_rule_key, vw_rule_value>> entries;
  entries.reserve(prefixes.size());
  for (size_t i = 0; i < prefixes.size(); i++) {
    const auto& a = prefixes[i].addr;
    const uint32_t address = uint32_t{a[0]} << 24 | uint32_t{a[1]} << 16 | uint32_t{a[2]} << 8 | a[3];
    vw_rule_value value{static_cast<__u32>(1 + i % (VW_MAX_RULES - 1))};
    entries.emplace_back(make_rule_key(VW_VNET_PUBLIC, address, prefixes[i].length), value);
  }
  return entries;
}

}  // namespace vaultwall::bench
