// One agent per pin directory: an flock on a file under the run directory
// (/run/vaultwall), named after the pin directory. Not the pin directory's
// own lock, which every command takes briefly around a change: the agent
// holds this one for its whole life.
#pragma once

#include <string>

#include "vaultwall/common/error.h"
#include "vaultwall/common/fd.h"

namespace vaultwall {

inline constexpr const char* kRunDirDefault = "/run/vaultwall";

// run_dir/agent.<pin dir escaped>.lock: '/' becomes '-', and every byte
// other than [A-Za-z0-9.] becomes _XX (hex), so distinct pin directories
// never share a lock ("/a-b" and "/a/b" included). The pin directory is
// made absolute and normal first, so "/x/" and "/x" share one.
std::string instance_lock_path(const std::string& run_dir, const std::string& pin_dir);

class InstanceLock {
 public:
  // Creates run_dir (0755) when needed and locks the file without waiting.
  // EBUSY when another agent holds it (its pid in the message).
  static Result<InstanceLock> acquire(const std::string& run_dir, const std::string& pin_dir);

  InstanceLock(InstanceLock&&) noexcept = default;
  InstanceLock& operator=(InstanceLock&&) noexcept = default;
  // Removes the file, then unlocks (an agent killed leaves it: harmless,
  // the next one locks the same file).
  ~InstanceLock();

  const std::string& path() const { return path_; }

 private:
  InstanceLock(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

}  // namespace vaultwall
