// What the flood benchmarks share (bench_logging, bench_reject): the deny
// policy, a flood of SYNs from random sources, and the per-round figures.
#pragma once

#include <netinet/in.h>

#include <algorithm>
#include <random>
#include <vector>

#include "packet_builder.h"
#include "vaultwall/kernel/slots.h"

namespace vaultwall::bench {

// Default deny on tcp/443 with one rule that no flood source matches.
inline SlotImage deny_policy() {
  SlotImage image;
  image.settings.default_action = VW_ACTION_DENY;
  image.settings.flags = VW_SETTINGS_ALL_DESTINATIONS;
  image.settings.port_count = 1;
  image.settings.ports[0] = {443, IPPROTO_TCP, 0};
  vw_rule_key key{VW_RULE_KEY_VNET_BITS + 32, VW_VNET_PUBLIC, {203, 0, 113, 7}};
  image.rules.push_back({key, vw_rule_value{1}});
  return image;
}

// A TCP SYN to the vault from a random source in 198.18.0.0/15 (RFC 2544's
// benchmarking range: never a rule).
inline std::vector<uint8_t> flood_frame(std::mt19937& rng) {
  uint32_t host = rng() & 0x1ffff;
  testing::Ipv4 source{198, static_cast<uint8_t>(18 + (host >> 16)),
                       static_cast<uint8_t>(host >> 8), static_cast<uint8_t>(host)};
  return testing::PacketBuilder()
      .ethernet()
      .ipv4(source, testing::ipv4("192.0.2.10"), testing::kProtoTcp)
      .tcp(static_cast<uint16_t>(1024 + rng() % 60000), 443)
      .bytes();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The kernel reports a single run's duration in coarse steps (tens of ns),
// so a round's figure is the mean over its packets, with the slowest 1%
// (interrupts, preemption) left out.
inline double trimmed_mean(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  v.resize(v.size() - v.size() / 100);
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / v.size();
}

}  // namespace vaultwall::bench
