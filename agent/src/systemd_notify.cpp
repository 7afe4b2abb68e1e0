#include "vaultwall/agent/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "vaultwall/common/fd.h"
#include "vaultwall/common/text.h"

namespace vaultwall {

Result<void> notify_systemd(std::string_view state) {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (!socket_path || !*socket_path) return {};
  sockaddr_un address{.sun_family = AF_UNIX};
  size_t length = std::strlen(socket_path);
  if (length >= sizeof(address.sun_path))
    return fail(ENAMETOOLONG, "NOTIFY_SOCKET=" + std::string(socket_path));
  std::memcpy(address.sun_path, socket_path, length);
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';  // abstract namespace
  socklen_t address_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);

  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail_errno("open a socket to notify systemd");
  if (::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
               reinterpret_cast<sockaddr*>(&address), address_length) < 0)
    return fail_errno("notify systemd at " + std::string(socket_path));
  return {};
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (!usec || !*usec) return std::nullopt;
  // WATCHDOG_PID names the process meant (a child inherits the variables).
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid && *pid) {
    auto watched = parse_decimal<pid_t>(pid);
    if (!watched || *watched != ::getpid()) return std::nullopt;
  }
  auto value = parse_decimal<long long>(usec);
  if (!value || *value <= 0) return std::nullopt;
  return std::chrono::microseconds(*value);
}

}  // namespace vaultwall
