#include "vaultwall/common/clock.h"

#include <time.h>
#include <zlib.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace vaultwall {

namespace {

struct TickSample {
  uint64_t jiffies = 0;
  uint64_t monotonic_ns = 0;  // "now at" of the same read
  bool ok = false;
};

// One read of /proc/timer_list gives "now at N nsecs" and "jiffies: J".
TickSample read_timer_list() {
  TickSample sample;
  std::ifstream in("/proc/timer_list");
  std::string line;
  bool have_now = false;
  while (std::getline(in, line)) {
    unsigned long long value = 0;
    if (!have_now && std::sscanf(line.c_str(), "now at %llu nsecs", &value) == 1) {
      sample.monotonic_ns = value;
      have_now = true;
    } else if (std::sscanf(line.c_str(), "jiffies: %llu", &value) == 1) {
      sample.jiffies = value;
      sample.ok = have_now;
      break;
    }
  }
  return sample;
}

// CONFIG_HZ=N from the kernel's config: /proc/config.gz (read with zlib),
// else /boot/config-<release>. 0 when neither says.
uint32_t hz_from_config() {
  auto hz_in_line = [](const char* line) {
    unsigned hz = 0;
    return std::sscanf(line, "CONFIG_HZ=%u", &hz) == 1 ? hz : 0u;
  };
  if (gzFile gz = gzopen("/proc/config.gz", "rb")) {
    char line[256];
    uint32_t hz = 0;
    while (hz == 0 && gzgets(gz, line, sizeof(line))) hz = hz_in_line(line);
    gzclose(gz);
    if (hz) return hz;
  }
  std::string release;
  std::getline(std::ifstream("/proc/sys/kernel/osrelease"), release);
  std::ifstream boot_config("/boot/config-" + release);
  for (std::string line; std::getline(boot_config, line);)
    if (uint32_t hz = hz_in_line(line.c_str())) return hz;
  return 0;
}

// jiffies64 starts at 2^32 - 300*HZ (INITIAL_JIFFIES), so after boot
// jiffies - 2^32 = (uptime - 300) * HZ; pick the nearest usual rate.
uint32_t hz_from_uptime(const TickSample& sample) {
  double uptime = sample.monotonic_ns / 1e9;
  if (uptime < 400) return 0;
  double estimate = (double(sample.jiffies) - 4294967296.0) / (uptime - 300.0);
  uint32_t best = 0;
  for (uint32_t hz : {100u, 250u, 300u, 1000u})
    if (best == 0 || std::fabs(estimate - hz) < std::fabs(estimate - best)) best = hz;
  return best;
}

}  // namespace

uint32_t kernel_hz() {
  static const uint32_t hz = [] {
    uint32_t from_config = hz_from_config();
    return from_config ? from_config : hz_from_uptime(read_timer_list());
  }();
  return hz;
}

Result<JiffiesClock> JiffiesClock::read() {
  TickSample now = read_timer_list();
  if (!now.ok) return fail(EIO, "read jiffies from /proc/timer_list", "last hits are unknown");
  uint32_t hz = kernel_hz();
  if (hz == 0)
    return fail(EIO, "find the kernel's tick rate (CONFIG_HZ)", "last hits are unknown");
  uint64_t unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  return JiffiesClock(now.jiffies, unix_ns, hz);
}

uint64_t JiffiesClock::to_unix_ns(uint64_t jiffies) const {
  if (jiffies == 0) return 0;
  if (jiffies > jiffies_) return unix_ns_;
  return unix_ns_ - (jiffies_ - jiffies) * (1000000000ull / hz_);
}

}  // namespace vaultwall
