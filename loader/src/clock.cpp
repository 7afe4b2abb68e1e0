#include "vaultwall/clock.h"

#include <time.h>

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

uint32_t hz_from_config() {
  std::string config;
  if (FILE* gz = popen("zcat /proc/config.gz 2>/dev/null | grep '^CONFIG_HZ='", "r")) {
    char buffer[64] = {};
    if (std::fgets(buffer, sizeof(buffer), gz)) config = buffer;
    pclose(gz);
  }
  if (config.empty()) {
    std::ifstream boot_config("/boot/config-" + [] {
      std::ifstream release("/proc/sys/kernel/osrelease");
      std::string r;
      std::getline(release, r);
      return r;
    }());
    std::string line;
    while (std::getline(boot_config, line))
      if (line.starts_with("CONFIG_HZ=")) config = line;
  }
  unsigned hz = 0;
  if (std::sscanf(config.c_str(), "CONFIG_HZ=%u", &hz) == 1) return hz;
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

uint64_t jiffies_to_unix_ns(uint64_t jiffies) {
  if (jiffies == 0) return 0;
  TickSample now = read_timer_list();
  uint32_t hz = kernel_hz();
  uint64_t now_unix = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  if (!now.ok || hz == 0 || jiffies > now.jiffies) return now_unix;
  return now_unix - (now.jiffies - jiffies) * (1000000000ull / hz);
}

}  // namespace vaultwall
