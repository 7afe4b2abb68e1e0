#include "vaultwall/common/time.h"

#include <time.h>

#include <cstdio>
#include <ctime>

namespace vaultwall {
namespace {

uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

uint64_t now_unix_ns() { return clock_ns(CLOCK_REALTIME); }
uint64_t now_monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }

std::string format_utc(uint64_t unix_ns, TimePrecision precision) {
  time_t seconds = static_cast<time_t>(unix_ns / 1'000'000'000ull);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  if (precision == TimePrecision::kMicroseconds)
    n += static_cast<size_t>(std::snprintf(text + n, sizeof(text) - n, ".%06llu",
                                           static_cast<unsigned long long>(
                                               unix_ns % 1'000'000'000ull / 1000)));
  std::snprintf(text + n, sizeof(text) - n, "Z");
  return text;
}

}  // namespace vaultwall
