#include "vaultwall/common/io.h"

#include <fcntl.h>
#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

#include "vaultwall/common/fd.h"

namespace vaultwall {

Result<std::string> read_to_end(int fd, size_t max_bytes, const std::string& what) {
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

Result<void> write_all(int fd, std::string_view data, const std::string& what) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("write " + what);
    if (n == 0) return fail(ENOSPC, "write " + what);
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<void> replace_file(const std::string& path, std::string_view data, mode_t mode) {
  const std::string::size_type slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string temp = dir + "." + name + "." + std::to_string(::getpid()) + ".tmp";
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(::open(temp.c_str(), flags, mode));
  if (!fd.valid() && errno == EEXIST && ::unlink(temp.c_str()) == 0)
    fd.reset(::open(temp.c_str(), flags, mode));
  if (!fd.valid()) return fail_errno("create " + temp, "does the directory exist?");
  auto written = write_all(fd.get(), data, temp);
  if (written && ::fsync(fd.get()) != 0) written = fail_errno("fsync " + temp);
  if (written && ::rename(temp.c_str(), path.c_str()) != 0) written = fail_errno("replace " + path);
  if (!written) ::unlink(temp.c_str());
  return written;
}

Result<void> restrict_mode(const std::string& path, mode_t mode) {
  if (::chmod(path.c_str(), mode) != 0) {
    char octal[8];
    std::snprintf(octal, sizeof(octal), "%04o", static_cast<unsigned>(mode));
    return fail_errno("restrict " + path + " to root (chmod " + std::string(octal) + ")");
  }
  return {};
}

}  // namespace vaultwall
