// The kernel's jiffies clock, as the XDP program stamps last hits with it.
#pragma once

#include <cstdint>

#include "vaultwall/common/error.h"

namespace vaultwall {

// A reading of the jiffies clock against wall time, taken once and used to
// convert many counters' last hits.
class JiffiesClock {
 public:
  // Reads /proc/timer_list (current jiffies) and the kernel's tick rate
  // (its config, else how far jiffies advanced since boot). EIO when
  // either cannot be read: a last hit is then unknown, never "now".
  static Result<JiffiesClock> read();

  // Unix time in nanoseconds of a jiffies64 value read from a counter
  // (0 stays 0: never hit; a value ahead of the reading is the reading).
  // Precision: one tick.
  uint64_t to_unix_ns(uint64_t jiffies) const;

  uint32_t hz() const { return hz_; }
  uint64_t jiffies() const { return jiffies_; }  // jiffies64 at the reading

 private:
  JiffiesClock(uint64_t jiffies, uint64_t unix_ns, uint32_t hz)
      : jiffies_(jiffies), unix_ns_(unix_ns), hz_(hz) {}
  uint64_t jiffies_;  // jiffies64 at the reading
  uint64_t unix_ns_;  // wall time at the reading
  uint32_t hz_;
};

// The kernel's tick rate (CONFIG_HZ) as determined above; 0 if unknown.
uint32_t kernel_hz();

}  // namespace vaultwall
