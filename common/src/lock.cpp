#include "vaultwall/common/lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <chrono>
#include <thread>

namespace vaultwall {

Result<PinDirLock> PinDirLock::acquire(const std::string& pin_dir, int timeout_ms) {
  int fd = ::open(pin_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    Error e{errno, "open pin directory " + pin_dir, {}};
    if (e.code == ENOENT) e.hint = "nothing loaded there; run vaultwall-loader load first";
    return std::unexpected(e);
  }
  UniqueFd owned(fd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (::flock(owned.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return fail_errno("lock " + pin_dir);
    if (std::chrono::steady_clock::now() > deadline)
      return fail(EWOULDBLOCK, "another vaultwall command holds the lock on " + pin_dir,
                  "wait for it to finish and retry");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return PinDirLock(std::move(owned));
}

}  // namespace vaultwall
