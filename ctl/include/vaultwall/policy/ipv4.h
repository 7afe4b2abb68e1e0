// IPv4 addresses and prefixes as the policy pipeline sees them: host byte
// order integers, strict dotted-quad text (no leading zeros, no shorthand).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vaultwall {

struct Ipv4Prefix {
  uint32_t address = 0;  // host byte order; host bits are zero once normalised
  uint8_t length = 32;   // 0..32

  uint32_t mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  uint32_t first() const { return address & mask(); }
  uint32_t last() const { return first() | ~mask(); }
  bool has_host_bits() const { return (address & ~mask()) != 0; }
  bool contains(uint32_t ip) const { return (ip & mask()) == first(); }
  bool contains(const Ipv4Prefix& other) const {
    return other.length >= length && contains(other.address);
  }
  bool overlaps(const Ipv4Prefix& other) const { return contains(other) || other.contains(*this); }
  Ipv4Prefix network() const { return {first(), length}; }

  // "a.b.c.d/len", always with the length.
  std::string cidr() const;
  // Canonical rule text: the bare address for a /32, else "a.b.c.d/len".
  std::string canonical() const;

  friend auto operator<=>(const Ipv4Prefix&, const Ipv4Prefix&) = default;
};

// "a.b.c.d" (host order in, dotted quad out).
std::string format_ipv4(uint32_t address);
// Strict dotted quad: four decimal octets 0..255, no leading zeros, nothing else.
std::optional<uint32_t> parse_ipv4(std::string_view text);
// "a.b.c.d" or "a.b.c.d/len" (len 0..32, no leading zeros). A bare address is
// a /32. Host bits are kept as written (the validator reports them).
std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text);
// Whether the text looks like an IPv6 address or prefix (contains ':').
bool looks_like_ipv6(std::string_view text);

// Network byte order bytes for ABI structs (addr[4]) and back.
std::array<uint8_t, 4> ipv4_bytes(uint32_t address);
uint32_t ipv4_from_bytes(const uint8_t bytes[4]);

}  // namespace vaultwall
