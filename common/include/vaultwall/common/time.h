// Wall-clock time, read and written one way everywhere.
#pragma once

#include <cstdint>
#include <string>

namespace vaultwall {

// CLOCK_REALTIME in nanoseconds since the Unix epoch.
[[nodiscard]] uint64_t now_unix_ns();
// CLOCK_MONOTONIC in nanoseconds (what bpf_ktime_get_ns() reads).
[[nodiscard]] uint64_t now_monotonic_ns();

enum class TimePrecision { kSeconds, kMicroseconds };

// "2026-11-28T08:35:48Z" or "2026-11-28T08:35:48.123456Z" (UTC) for a Unix
// time in nanoseconds.
[[nodiscard]] std::string format_utc(uint64_t unix_ns,
                                     TimePrecision precision = TimePrecision::kMicroseconds);

}  // namespace vaultwall
