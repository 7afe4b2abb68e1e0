// Fleet convergence, seen from the kernels: runs a command (the fleet put)
// and, from the moment it starts, sends one packet through each host's
// pinned program (BPF_PROG_TEST_RUN) again and again until every one gives
// the expected verdict. Prints one JSON line: per-host milliseconds from
// the start of the command to that host's first expected verdict, and how
// long the command itself took. Not a test (scripts/bench-fleet.sh).
//
//   vaultwall_bench_fleet_probe --pins D1,D2,... --source IP --expect pass|drop
//                               --timeout S -- COMMAND ARGS...
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "packet_builder.h"
#include "test_run.h"

extern char** environ;

namespace vaultwall::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

int run(int argc, char** argv) {
  CLI::App app{"fleet convergence as the kernels see it (BPF_PROG_TEST_RUN on pinned programs)"};
  std::string pins, source, expect = "pass";
  double timeout_s = 10;
  std::vector<std::string> command;
  app.add_option("--pins", pins, "pin directories, comma-separated")->required();
  app.add_option("--source", source, "source address of the probe packet")->required();
  app.add_option("--expect", expect, "the verdict the new policy gives it")
      ->check(CLI::IsMember({"pass", "drop"}));
  app.add_option("--timeout", timeout_s, "give up after this many seconds");
  app.add_option("command", command, "what changes the policy (after --)")->required();
  CLI11_PARSE(app, argc, argv);

  std::vector<int> programs;
  for (const std::string& dir : split(pins)) {
    int fd = bpf_obj_get((dir + "/vaultwall_xdp").c_str());
    if (fd < 0) {
      std::cerr << "open " << dir << "/vaultwall_xdp: " << std::strerror(errno) << "\n";
      return 1;
    }
    programs.push_back(fd);
  }
  auto frame = testing::PacketBuilder()
                   .ethernet()
                   .ipv4(testing::ipv4(source), testing::ipv4("192.0.2.10"), testing::kProtoTcp)
                   .tcp(40000, 443)
                   .bytes();
  const uint32_t wanted = expect == "pass" ? XDP_PASS : XDP_DROP;
  auto verdict = [&](int fd) -> std::optional<uint32_t> {
    auto r = test_run_xdp(fd, frame, 1);
    if (!r) return std::nullopt;
    return r->action;
  };
  size_t already = 0;
  for (int fd : programs) already += verdict(fd) == wanted ? 1 : 0;

  std::vector<char*> args;
  for (std::string& arg : command) args.push_back(arg.data());
  args.push_back(nullptr);
  auto started = Clock::now();
  pid_t child = 0;
  // The command's output goes to stderr: stdout is this tool's JSON line.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  int spawned = posix_spawnp(&child, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    std::cerr << "run " << command[0] << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  std::vector<double> latency(programs.size(), -1);
  size_t done = 0;
  double command_ms = -1;
  int command_status = -1;
  auto ms_since = [&] {
    return std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  };
  while (done < programs.size() && ms_since() < timeout_s * 1000) {
    for (size_t i = 0; i < programs.size(); ++i) {
      if (latency[i] >= 0) continue;
      if (verdict(programs[i]) == wanted) {
        latency[i] = ms_since();
        ++done;
      }
    }
    if (command_ms < 0) {
      int status = 0;
      if (waitpid(child, &status, WNOHANG) == child) {
        command_ms = ms_since();
        command_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
      }
    }
    // Leave the CPUs to the agents and etcd between sweeps (0.2 ms resolution).
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (command_ms < 0) {
    int status = 0;
    waitpid(child, &status, 0);
    command_ms = ms_since();
    command_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }
  double slowest = 0;
  for (double l : latency) slowest = l < 0 ? -1 : std::max(slowest, l);
  nlohmann::json out{{"hosts", programs.size()}, {"already", already},
                     {"converged", done},        {"expect", expect},
                     {"latency_ms", latency},    {"all_ms", done == programs.size() ? slowest : -1},
                     {"command_ms", command_ms}, {"command_status", command_status}};
  std::cout << out.dump() << "\n";
  return done == programs.size() && command_status == 0 ? 0 : 1;
}

}  // namespace
}  // namespace vaultwall::bench

int main(int argc, char** argv) { return vaultwall::bench::run(argc, argv); }
