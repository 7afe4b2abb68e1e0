// What a benchmark result depends on besides the code: the machine, the
// kernel's BPF settings, and how much CPU the hypervisor stole meanwhile.
// Recorded with every result file so figures from different runs can be
// judged (this VM is shared and noisy).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"

namespace vaultwall::bench {

// The aggregate "cpu" line of /proc/stat, in USER_HZ ticks.
struct CpuTimes {
  uint64_t total = 0;
  uint64_t steal = 0;
};

// EIO when /proc/stat cannot be read or parsed.
Result<CpuTimes> read_cpu_times();

// Percentage of all CPU time between two readings that was stolen by the
// hypervisor (0 when no time passed).
double steal_percent(const CpuTimes& before, const CpuTimes& after);

// CPU model, CPU count, kernel release and version, JIT and BPF stats
// switches, clock source, CPU vulnerability mitigations, load average and
// the commit being measured. Missing files give empty strings, not errors:
// the context describes, it does not gate.
nlohmann::ordered_json collect_run_context(const std::string& commit);

// The first line of /proc/loadavg.
std::string load_average();

// Whether kernel.bpf_stats_enabled is on: it adds tens of ns per program
// run on this VM, so a run with it on is not comparable.
bool bpf_stats_enabled();

// Median, minimum and maximum of a non-empty sample.
struct Spread {
  double median = 0;
  double min = 0;
  double max = 0;
};
Spread spread_of(std::vector<double> values);

}  // namespace vaultwall::bench
