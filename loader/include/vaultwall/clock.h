// The kernel's jiffies clock, as the XDP program stamps last hits with it.
#pragma once

#include <cstdint>

namespace vaultwall {

// Unix time in nanoseconds of a jiffies64 value read from a counter
// (0 stays 0: never hit). Reads /proc/timer_list for the current jiffies
// and the kernel's tick rate from its config (or, failing that, from how far
// jiffies have advanced since boot). Precision: one tick.
uint64_t jiffies_to_unix_ns(uint64_t jiffies);

// The kernel's tick rate (CONFIG_HZ) as determined above; 0 if unknown.
uint32_t kernel_hz();

}  // namespace vaultwall
