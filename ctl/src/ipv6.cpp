#include "vaultwall/policy/ipv6.h"

#include <arpa/inet.h>

#include <charconv>
#include <vector>

namespace vaultwall {
namespace {

// The mask byte of byte i for a prefix of `length` bits.
uint8_t mask_byte(uint8_t length, size_t i) {
  const int bits = static_cast<int>(length) - static_cast<int>(i) * 8;
  if (bits >= 8) return 0xff;
  if (bits <= 0) return 0;
  return static_cast<uint8_t>(0xff << (8 - bits));
}

struct NamedRange {
  const char* text;
  const char* name;
};

// Ranges no internet source comes from (RFC 6890's IPv6 registry, the parts
// a firewall rule or trusted service could name by mistake).
const std::vector<std::pair<Ipv6Prefix, std::string>>& non_global_ranges() {
  static const auto ranges = [] {
    const NamedRange table[] = {
        {"::/128", "the unspecified address (::/128)"},
        {"::1/128", "loopback (::1/128)"},
        {"::ffff:0:0/96", "IPv4-mapped (::ffff:0:0/96; write the IPv4 address as an IPv4 rule)"},
        {"fc00::/7", "unique local (fc00::/7)"},
        {"fe80::/10", "link-local (fe80::/10)"},
        {"ff00::/8", "multicast (ff00::/8)"},
        {"64:ff9b::/96", "NAT64 (64:ff9b::/96; write the IPv4 address as an IPv4 rule)"},
        {"64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"},
        {"100::/64", "discard-only (100::/64)"},
        {"fec0::/10", "deprecated site-local (fec0::/10)"},
    };
    std::vector<std::pair<Ipv6Prefix, std::string>> out;
    for (const NamedRange& range : table)
      out.emplace_back(*parse_ipv6_prefix(range.text), range.name);
    return out;
  }();
  return ranges;
}

}  // namespace

bool Ipv6Prefix::has_host_bits() const {
  for (size_t i = 0; i < 16; ++i)
    if (address[i] & ~mask_byte(length, i)) return true;
  return false;
}

bool Ipv6Prefix::contains(const Ipv6Address& ip) const {
  for (size_t i = 0; i < 16; ++i) {
    const uint8_t mask = mask_byte(length, i);
    if ((ip[i] & mask) != (address[i] & mask)) return false;
  }
  return true;
}

Ipv6Prefix Ipv6Prefix::network() const {
  Ipv6Prefix out{{}, length};
  for (size_t i = 0; i < 16; ++i) out.address[i] = address[i] & mask_byte(length, i);
  return out;
}

std::string Ipv6Prefix::cidr() const { return format_ipv6(address) + "/" + std::to_string(length); }

std::string Ipv6Prefix::canonical() const { return length == 128 ? format_ipv6(address) : cidr(); }

std::string format_ipv6(const Ipv6Address& address) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, address.data(), text, sizeof(text));
  return text;
}

std::optional<Ipv6Address> parse_ipv6(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string copy(text);  // inet_pton wants a terminated string
  Ipv6Address out{};
  if (inet_pton(AF_INET6, copy.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view text) {
  const size_t slash = text.find('/');
  auto address = parse_ipv6(text.substr(0, slash));
  if (!address) return std::nullopt;
  if (slash == std::string_view::npos) return Ipv6Prefix{*address, 128};
  std::string_view digits = text.substr(slash + 1);
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0'))
    return std::nullopt;
  unsigned length = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
  if (ec != std::errc() || end != digits.data() + digits.size() || length > 128)
    return std::nullopt;
  return Ipv6Prefix{*address, static_cast<uint8_t>(length)};
}

std::optional<std::string> ipv6_non_global_range(const Ipv6Prefix& prefix) {
  for (const auto& [range, name] : non_global_ranges())
    if (prefix.overlaps(range))
      return (range.contains(prefix) ? "belongs to " : "contains ") + name;
  // Every internet address is allocated from global unicast (RFC 4291 2.4).
  static const Ipv6Prefix global_unicast = *parse_ipv6_prefix("2000::/3");
  if (!global_unicast.contains(prefix.network()))
    return std::string(prefix.overlaps(global_unicast) ? "reaches beyond" : "is outside") +
           " global unicast (2000::/3)";
  return std::nullopt;
}

std::optional<uint32_t> ipv4_mapped(const Ipv6Address& address) {
  static const Ipv6Prefix mapped = *parse_ipv6_prefix("::ffff:0:0/96");
  if (!mapped.contains(address)) return std::nullopt;
  return (uint32_t{address[12]} << 24) | (uint32_t{address[13]} << 16) |
         (uint32_t{address[14]} << 8) | address[15];
}

}  // namespace vaultwall
