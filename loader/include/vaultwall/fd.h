// RAII owner of a file descriptor.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "vaultwall/error.h"

namespace vaultwall {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// "a FIFO", "a directory", ... for a file that is not regular (st_mode), in
// messages that refuse it.
inline const char* file_type_name(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Reads fd to its end. EFBIG ("<what> is over N bytes") as soon as more than
// max_bytes came: a file that should be small cannot make the reader
// allocate without bound.
inline Result<std::string> read_to_end(int fd, size_t max_bytes, const std::string& what) {
  std::string text;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read " + what);
    if (n == 0) return text;
    if (text.size() + static_cast<size_t>(n) > max_bytes)
      return fail(EFBIG, what + " is over " + std::to_string(max_bytes) + " bytes");
    text.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace vaultwall
