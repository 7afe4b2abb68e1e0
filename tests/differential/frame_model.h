// Random frames for the differential test, and the reading of a frame that
// the reference classifier takes as input (DESIGN §1.1: what the packet is,
// and whether a header the decision needs is unreadable).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "vaultwall/classify.h"
#include "vaultwall/policy.h"

namespace vaultwall::difftest {

struct TestFrame {
  std::vector<uint8_t> bytes;
  uint32_t ifindex = 1;
};

// Addresses, VLANs and interfaces worth sending from: every prefix edge of
// the policy (first, last, and one either side), its endpoints and segments.
struct FramePools {
  // Where a virtual network's traffic arrives, and sources in its subnets.
  struct Segment {
    uint32_t ifindex = 0;
    uint16_t vlan = 0;
    std::vector<uint32_t> sources;
  };
  std::vector<Segment> segments;
  std::vector<uint32_t> sources;
  std::vector<uint32_t> destinations;
  std::vector<uint16_t> vlans;
  std::vector<uint32_t> ifindexes;
  std::vector<PortSpec> ports;
};

FramePools pools_for(const Policy& policy, const std::vector<uint32_t>& ifindexes);

// A frame of at least 14 bytes (BPF_PROG_TEST_RUN refuses shorter ones).
TestFrame generate_frame(std::mt19937_64& rng, const FramePools& pools);

// What the classifier must be told about this frame under this policy.
// Written from DESIGN §1.1, not from bpf/parsing.h: a header that cannot be
// read makes the packet malformed only when what was readable does not
// already prove it is outside the data plane (protocol or destination).
PacketDescription describe_frame(const std::vector<uint8_t>& frame, uint32_t ifindex,
                                 const Policy& policy);

}  // namespace vaultwall::difftest
