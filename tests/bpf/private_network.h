// A network namespace of the test's own, entered by the calling thread, so
// that what the datapath asks the kernel about a packet (is a socket bound
// to its destination? would the host forward it?) depends only on what the
// test sets up here, never on the host the tests run on.
//
//   loopback up, a veth pair vwt0 <-> vwt1 (both up, no addresses), IPv4
//   forwarding off; sockets and routes as a test adds them.
//
// BPF_PROG_TEST_RUN resolves the ingress ifindex in the caller's namespace,
// and the program's lookups use that device's namespace: this one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "packet_builder.h"

namespace vaultwall::testing {

class PrivateNetwork {
 public:
  // Throws std::runtime_error (with the step that failed) when the
  // namespace cannot be made; needs root.
  PrivateNetwork();
  ~PrivateNetwork();
  PrivateNetwork(const PrivateNetwork&) = delete;
  PrivateNetwork& operator=(const PrivateNetwork&) = delete;

  // vwt0: an interface besides loopback.
  uint32_t second_ifindex() const;
  // net.ipv4.ip_forward (every interface's forwarding) in this namespace.
  void set_forwarding(bool on);
  // `ip route add PREFIX dev DEVICE`.
  void add_route(const std::string& prefix, const std::string& device);
  // A socket bound to address:port (0.0.0.0 is the wildcard), listening
  // when TCP. IP_FREEBIND: the address need not be configured here.
  void open_socket(uint8_t proto, Ipv4 address, uint16_t port);
  // A TCP listener on [::]:port that also takes IPv4 (IPV6_V6ONLY off).
  void open_dual_stack_listener(uint16_t port);

 private:
  int keep(int fd);  // closed with the namespace; fails on -1
  void bind_and_listen(int fd, const void* address, size_t length, bool listening);

  int home_ = -1;  // the thread's namespace before, restored at the end
  std::vector<int> sockets_;
};

}  // namespace vaultwall::testing
