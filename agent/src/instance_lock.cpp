#include "vaultwall/agent/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>

namespace vaultwall {

namespace fs = std::filesystem;

std::string instance_lock_path(const std::string& run_dir, const std::string& pin_dir) {
  std::error_code ec;
  fs::path absolute = fs::absolute(pin_dir, ec);
  std::string normal = (ec ? fs::path(pin_dir) : absolute).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  std::string escaped;
  for (size_t i = normal.starts_with('/') ? 1 : 0; i < normal.size(); i++) {
    unsigned char c = static_cast<unsigned char>(normal[i]);
    if (c == '/') {
      escaped += '-';
    } else if (std::isalnum(c) || c == '.') {
      escaped += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "_%02x", c);
      escaped += hex;
    }
  }
  return (fs::path(run_dir) / ("agent." + escaped + ".lock")).string();
}

namespace {

// The pid the holder wrote into the lock file, or "unknown".
std::string holder_pid(const std::string& path) {
  char text[32] = {};
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || ::read(fd.get(), text, sizeof(text) - 1) <= 0) return "unknown";
  std::string pid(text);
  while (!pid.empty() && !std::isdigit(static_cast<unsigned char>(pid.back()))) pid.pop_back();
  return pid.empty() ? "unknown" : pid;
}

// True when fd is still the file at path: a holder removes the file before
// unlocking, so a lock taken on a removed file must be taken again.
bool still_linked(int fd, const std::string& path) {
  struct stat held {
  }, named{};
  return ::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

}  // namespace

Result<InstanceLock> InstanceLock::acquire(const std::string& run_dir, const std::string& pin_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec)
    return fail(
        ec.value(), "create " + run_dir,
        "the agent keeps its lock there; run it as root (or set RuntimeDirectory=vaultwall)");
  std::string path = instance_lock_path(run_dir, pin_dir);
  for (int attempt = 0; attempt < 10; attempt++) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd.valid()) return fail_errno("open " + path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return fail_errno("lock " + path);
      return fail(
          EBUSY,
          "another vaultwall-agent (pid " + holder_pid(path) + ") already keeps " + pin_dir +
              " covered (it holds " + path + ")",
          "stop it first (systemctl stop vaultwall-agent), or give this one another --pin-dir");
    }
    if (!still_linked(fd.get(), path)) continue;  // its holder removed it as we opened it
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0)
      return fail_errno("write " + path);
    return InstanceLock(path, std::move(fd));
  }
  return fail(EAGAIN, "lock " + path + ": it keeps being removed", "retry");
}

InstanceLock::~InstanceLock() {
  if (fd_.valid()) ::unlink(path_.c_str());
}

}  // namespace vaultwall
