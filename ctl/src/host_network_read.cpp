// read_host_network: the caller's network namespace as /proc and
// getifaddrs show it.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "vaultwall/policy/host_network.h"

namespace vaultwall {
namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "net:[4026531840]", and the name `ip netns` gave it when there is one.
std::string namespace_name() {
  char link[64] = {};
  ssize_t n = readlink("/proc/thread-self/ns/net", link, sizeof(link) - 1);
  std::string name = n > 0 ? std::string(link, static_cast<size_t>(n)) : "net:[?]";
  struct stat self {};
  if (stat("/proc/thread-self/ns/net", &self) != 0) return name;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    struct stat other {};
    if (stat(entry.path().c_str(), &other) == 0 && other.st_ino == self.st_ino &&
        other.st_dev == self.st_dev)
      return name + " (" + entry.path().filename().string() + ")";
  }
  return name;
}

uint32_t host_order(const sockaddr* address) {
  return ntohl(reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr);
}

}  // namespace

Result<HostNetwork> read_host_network() {
  HostNetwork host;
  host.namespace_name = namespace_name();
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return fail_errno("list this host's addresses (getifaddrs)");
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    LocalAddress address{i->ifa_name, host_order(i->ifa_addr), 0};
    if ((i->ifa_flags & IFF_BROADCAST) && i->ifa_broadaddr)
      address.broadcast = host_order(i->ifa_broadaddr);
    host.addresses.push_back(address);
  }
  freeifaddrs(list);
  if (auto routes = read_file("/proc/net/route")) host.routes = parse_proc_net_route(*routes);
  if (auto routes = read_file("/proc/net/ipv6_route"))
    host.ipv6_default_route_interfaces = parse_ipv6_default_routes(*routes);
  for (auto [file, proto, ipv6] : {std::tuple{"/proc/net/tcp", uint8_t{6}, false},
                                   {"/proc/net/tcp6", uint8_t{6}, true},
                                   {"/proc/net/udp", uint8_t{17}, false},
                                   {"/proc/net/udp6", uint8_t{17}, true}})
    if (auto text = read_file(file)) {
      auto sockets = parse_proc_net_sockets(*text, proto, ipv6);
      host.sockets.insert(host.sockets.end(), sockets.begin(), sockets.end());
    }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/sys/net/ipv4/conf", ec)) {
    auto value = read_file((entry.path() / "forwarding").string());
    if (value && value->rfind("1", 0) == 0)
      host.forwarding_interfaces.push_back(entry.path().filename().string());
  }
  return host;
}

}  // namespace vaultwall
