// Random frames for the differential test, and the reading of a frame that
// the reference classifier takes as input (DESIGN §1.1: what the packet is,
// and whether a header the decision needs is unreadable).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "vaultwall/policy/classify.h"
#include "vaultwall/policy/policy.h"

namespace vaultwall::difftest {

// The differential test's own network namespace, as far as the program
// asks the kernel about it (DESIGN §1.1, weak host): the sockets the test
// opens and whether forwarding is on, with one routed prefix. The test sets
// the namespace up from this, and the model answers from it.
struct HostModel {
  struct Socket {
    uint8_t proto;     // 6 TCP (listening), 17 UDP
    uint32_t address;  // 0: the wildcard
    uint16_t port;
    bool dual_stack = false;  // bound to [::] (IPv6 socket taking IPv4)
  };
  std::vector<Socket> sockets;
  bool forwarding = false;
  Ipv4Prefix routed{0xc6120000, 15};  // 198.18.0.0/15, via the second interface

  static HostModel standard();
  // Whether the socket that owns dst:port is bound to the wildcard address.
  bool wildcard_socket_owns(uint8_t proto, uint32_t dst, uint16_t port) const;
  bool forwards(uint32_t dst) const { return forwarding && routed.contains(dst); }
};

struct TestFrame {
  std::vector<uint8_t> bytes;
  uint32_t ifindex = 1;
};

// Addresses, VLANs and interfaces worth sending from: every prefix edge of
// the policy (first, last, and one either side), its endpoints and segments;
// destinations the weak host model cares about (broadcast, multicast, an
// address a socket is bound to, a forwarded one).
struct FramePools {
  // Where a virtual network's traffic arrives, and sources in its subnets.
  struct Segment {
    uint32_t ifindex = 0;
    uint16_t vlan = 0;
    std::vector<uint32_t> sources;
  };
  std::vector<Segment> segments;
  std::vector<uint32_t> sources;
  std::vector<Ipv6Address> sources6;  // edges of the IPv6 trusted prefixes
  std::vector<uint32_t> destinations;
  std::vector<Ipv6Address> destinations6;  // listed IPv6 addresses and private endpoints
  std::vector<uint16_t> vlans;
  std::vector<uint32_t> ifindexes;
  std::vector<PortSpec> ports;
};

FramePools pools_for(const Policy& policy, const std::vector<uint32_t>& ifindexes);

// A frame of at least 14 bytes (BPF_PROG_TEST_RUN refuses shorter ones).
TestFrame generate_frame(std::mt19937_64& rng, const FramePools& pools);

// What the classifier must be told about this frame under this policy and
// host. Written from DESIGN §1.1, not from bpf/parsing.h: an IPv4 header
// that ends before the port is reported as such (the classifier decides
// whether its destination makes it malformed); an IPv6 one is malformed when
// its protocol could be data plane (every IPv6 destination is protected).
PacketDescription describe_frame(const std::vector<uint8_t>& frame, uint32_t ifindex,
                                 const Policy& policy, const HostModel& host);

}  // namespace vaultwall::difftest
