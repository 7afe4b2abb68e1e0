// Serialises every state-changing command: an exclusive flock on the pin
// directory, held for the object's lifetime.
#pragma once

#include <string>

#include "vaultwall/common/error.h"
#include "vaultwall/common/fd.h"

namespace vaultwall {

class PinDirLock {
 public:
  // Blocks until the lock is held, up to timeout_ms (EWOULDBLOCK after it).
  // ENOENT when the pin directory does not exist.
  static Result<PinDirLock> acquire(const std::string& pin_dir, int timeout_ms = 10000);

 private:
  explicit PinDirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace vaultwall
