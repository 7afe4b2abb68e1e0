#include "private_network.h"

#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace vaultwall::testing {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("private network namespace: " + what + ": " + std::strerror(errno));
}

// Runs `ip ARGS...` in the calling thread's namespace (a child inherits it).
void ip(std::vector<std::string> args) {
  args.insert(args.begin(), "ip");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "ip", nullptr, nullptr, argv.data(), environ) != 0) fail("spawn ip");
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) fail("wait for ip");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string line;
    for (const std::string& a : args) line += a + " ";
    errno = EINVAL;
    fail("`" + line + "` failed");
  }
}

}  // namespace

PrivateNetwork::PrivateNetwork() {
  home_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_ < 0) fail("open /proc/thread-self/ns/net");
  if (unshare(CLONE_NEWNET) != 0) {
    close(home_);
    fail("unshare(CLONE_NEWNET)");
  }
  try {
    ip({"link", "set", "lo", "up"});
    ip({"link", "add", "vwt0", "type", "veth", "peer", "name", "vwt1"});
    ip({"link", "set", "vwt0", "up"});
    ip({"link", "set", "vwt1", "up"});
    set_forwarding(false);
  } catch (...) {
    setns(home_, CLONE_NEWNET);
    close(home_);
    throw;
  }
}

PrivateNetwork::~PrivateNetwork() {
  for (int fd : sockets_) close(fd);
  // The namespace goes away with its last reference (the veth pair with it).
  setns(home_, CLONE_NEWNET);
  close(home_);
}

uint32_t PrivateNetwork::second_ifindex() const { return if_nametoindex("vwt0"); }

void PrivateNetwork::set_forwarding(bool on) {
  std::ofstream file("/proc/sys/net/ipv4/ip_forward");
  file << (on ? "1\n" : "0\n");
  file.flush();
  if (!file) fail("write /proc/sys/net/ipv4/ip_forward");
}

void PrivateNetwork::add_route(const std::string& prefix, const std::string& device) {
  ip({"route", "add", prefix, "dev", device});
}

void PrivateNetwork::open_socket(uint8_t proto, Ipv4 address, uint16_t port) {
  int fd = keep(socket(AF_INET, (proto == kProtoTcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
  int one = 1;
  if (setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) != 0) fail("IP_FREEBIND");
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(port);
  std::memcpy(&at.sin_addr, address.data(), 4);
  bind_and_listen(fd, &at, sizeof(at), proto == kProtoTcp);
}

void PrivateNetwork::open_dual_stack_listener(uint16_t port) {
  int fd = keep(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int zero = 0;
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0) fail("IPV6_V6ONLY");
  sockaddr_in6 at{};
  at.sin6_family = AF_INET6;
  at.sin6_port = htons(port);
  at.sin6_addr = in6addr_any;
  bind_and_listen(fd, &at, sizeof(at), true);
}

int PrivateNetwork::keep(int fd) {
  if (fd < 0) fail("socket");
  sockets_.push_back(fd);
  return fd;
}

void PrivateNetwork::bind_and_listen(int fd, const void* address, size_t length, bool listening) {
  if (bind(fd, static_cast<const sockaddr*>(address), static_cast<socklen_t>(length)) != 0)
    fail("bind");
  if (listening && listen(fd, 4) != 0) fail("listen");
}

}  // namespace vaultwall::testing
