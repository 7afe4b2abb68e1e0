#include "run_context.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vaultwall::bench {

namespace {

std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line
                                        : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return {};
}

nlohmann::ordered_json cpu_vulnerabilities() {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::directory_iterator("/sys/devices/system/cpu/vulnerabilities", ec))
    files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) out[file.filename().string()] = first_line_of(file.string());
  return out;
}

}  // namespace

Result<CpuTimes> read_cpu_times() {
  std::istringstream line(first_line_of("/proc/stat"));
  std::string label;
  line >> label;
  if (label != "cpu") return fail(EIO, "read the cpu line of /proc/stat");
  // user nice system idle iowait irq softirq steal [guest guest_nice]: guest
  // time is already inside user, so only the first eight add up to the total.
  CpuTimes times;
  for (int field = 0; field < 8; field++) {
    uint64_t ticks = 0;
    if (!(line >> ticks)) return fail(EIO, "parse the cpu line of /proc/stat");
    times.total += ticks;
    if (field == 7) times.steal = ticks;
  }
  return times;
}

double steal_percent(const CpuTimes& before, const CpuTimes& after) {
  uint64_t total = after.total - before.total;
  return total == 0 ? 0.0 : 100.0 * static_cast<double>(after.steal - before.steal) / total;
}

std::string load_average() { return first_line_of("/proc/loadavg"); }

bool bpf_stats_enabled() { return first_line_of("/proc/sys/kernel/bpf_stats_enabled") == "1"; }

nlohmann::ordered_json collect_run_context(const std::string& commit) {
  struct utsname uts {};
  uname(&uts);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  nlohmann::ordered_json context;
  context["commit"] = commit;
  context["cpu_model"] = cpu_model();
  context["cpus_online"] = sysconf(_SC_NPROCESSORS_ONLN);
  context["hostname"] = host;
  context["kernel_release"] = uts.release;
  context["kernel_version"] = uts.version;
  context["bpf_jit_enable"] = first_line_of("/proc/sys/net/core/bpf_jit_enable");
  context["bpf_stats_enabled"] = first_line_of("/proc/sys/kernel/bpf_stats_enabled");
  context["clocksource"] =
      first_line_of("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  context["loadavg_at_start"] = load_average();
  context["cpu_vulnerabilities"] = cpu_vulnerabilities();
  return context;
}

Spread spread_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return {median, values.front(), values.back()};
}

}  // namespace vaultwall::bench
