// SHA-256 through OpenSSL's EVP interface (libcrypto, which cpp-httplib
// already brings in): no hand-written hash to review.
#include "vaultwall/policy/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace vaultwall {

std::array<uint8_t, 32> sha256(std::string_view data) {
  std::array<uint8_t, 32> digest{};
  unsigned int size = 0;
  // EVP_Digest fails only when libcrypto cannot allocate or lacks SHA-256
  // (a broken installation): the digests are the drift check, so stop.
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size())
    throw std::runtime_error("libcrypto could not compute a SHA-256 digest");
  return digest;
}

}  // namespace vaultwall
