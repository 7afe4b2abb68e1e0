// IPv6 addresses and prefixes as the policy pipeline sees them: 16 bytes in
// network order, text as RFC 4291 writes it (read) and RFC 5952 (written).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vaultwall {

using Ipv6Address = std::array<uint8_t, 16>;

struct Ipv6Prefix {
  Ipv6Address address{};  // host bits are zero once normalised
  uint8_t length = 128;   // 0..128

  bool has_host_bits() const;
  bool contains(const Ipv6Address& ip) const;
  bool contains(const Ipv6Prefix& other) const {
    return other.length >= length && contains(other.address);
  }
  bool overlaps(const Ipv6Prefix& other) const { return contains(other) || other.contains(*this); }
  Ipv6Prefix network() const;

  // "2001:db8::/32", always with the length.
  std::string cidr() const;
  // Canonical rule text: the bare address for a /128, else the cidr.
  std::string canonical() const;

  friend auto operator<=>(const Ipv6Prefix&, const Ipv6Prefix&) = default;
};

// RFC 5952 text ("2001:db8::1").
std::string format_ipv6(const Ipv6Address& address);
// An IPv6 address (RFC 4291 text, embedded dotted quad allowed; no zone, no
// brackets); nullopt otherwise.
std::optional<Ipv6Address> parse_ipv6(std::string_view text);
// "addr" or "addr/len" (len 0..128, no leading zeros). A bare address is a
// /128. Host bits are kept as written (the validator reports them).
std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view text);

// Why a prefix meets a range no internet source comes from ("unique local
// (fc00::/7)", ...), or nullopt when it does not. Documentation space
// (2001:db8::/32) is allowed, as 192.0.2.0/24 is on the IPv4 side.
std::optional<std::string> ipv6_non_global_range(const Ipv6Prefix& prefix);

// ::ffff:a.b.c.d: the a.b.c.d it carries (host order), else nullopt.
std::optional<uint32_t> ipv4_mapped(const Ipv6Address& address);

}  // namespace vaultwall
