#include "vaultwall/policy/ipv4.h"

#include <charconv>

namespace vaultwall {
namespace {

// A decimal number without sign, leading zeros ("0" itself is fine) or
// anything else; nullopt otherwise.
std::optional<uint32_t> parse_decimal(std::string_view text, uint32_t max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

}  // namespace

std::string format_ipv4(uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::string Ipv4Prefix::cidr() const { return format_ipv4(address) + "/" + std::to_string(length); }

std::string Ipv4Prefix::canonical() const { return length == 32 ? format_ipv4(address) : cidr(); }

std::optional<uint32_t> parse_ipv4(std::string_view text) {
  uint32_t address = 0;
  for (int octet = 0; octet < 4; ++octet) {
    size_t dot = text.find('.');
    std::string_view part = octet < 3 ? text.substr(0, dot) : text;
    if (octet < 3 && dot == std::string_view::npos) return std::nullopt;
    auto value = parse_decimal(part, 255);
    if (!value) return std::nullopt;
    address = (address << 8) | *value;
    if (octet < 3) text.remove_prefix(dot + 1);
  }
  return address;
}

std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text) {
  size_t slash = text.find('/');
  auto address = parse_ipv4(text.substr(0, slash));
  if (!address) return std::nullopt;
  if (slash == std::string_view::npos) return Ipv4Prefix{*address, 32};
  auto length = parse_decimal(text.substr(slash + 1), 32);
  if (!length) return std::nullopt;
  return Ipv4Prefix{*address, static_cast<uint8_t>(*length)};
}

bool looks_like_ipv6(std::string_view text) { return text.find(':') != std::string_view::npos; }

std::array<uint8_t, 4> ipv4_bytes(uint32_t address) {
  return {static_cast<uint8_t>(address >> 24), static_cast<uint8_t>(address >> 16),
          static_cast<uint8_t>(address >> 8), static_cast<uint8_t>(address)};
}

uint32_t ipv4_from_bytes(const uint8_t bytes[4]) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         bytes[3];
}

}  // namespace vaultwall
