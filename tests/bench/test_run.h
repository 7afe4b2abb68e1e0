// One timed BPF_PROG_TEST_RUN of an XDP program.
#pragma once

#include <cstdint>
#include <span>

#include "vaultwall/common/error.h"

namespace vaultwall::bench {

struct XdpRun {
  uint32_t ns_per_packet = 0;  // kernel-reported average, truncated to whole ns
  uint32_t action = 0;         // XDP_PASS, XDP_DROP, ...
};

// Runs the program `repeat` times on `frame`. The duration is the kernel's
// own per-iteration average: it excludes the syscall and the milliseconds of
// fixed setup each call with repeat > 1 costs, so only repeat large enough
// to make the ns resolution meaningful matters. EINTR when a signal arrived.
Result<XdpRun> test_run_xdp(int prog_fd, std::span<const uint8_t> frame, int repeat);

}  // namespace vaultwall::bench
