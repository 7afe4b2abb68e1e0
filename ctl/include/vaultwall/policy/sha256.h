// SHA-256 (OpenSSL EVP) for policy digests, and hex for printing them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "vaultwall/common/text.h"  // to_hex

namespace vaultwall {

std::array<uint8_t, 32> sha256(std::string_view data);
inline std::string sha256_hex(std::string_view data) {
  auto digest = sha256(data);
  return to_hex(digest.data(), digest.size());
}

}  // namespace vaultwall
