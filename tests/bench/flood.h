// What the flood benchmarks share (bench_logging, bench_reject): the deny
// policy, a flood of SYNs from random sources, and the per-round figures.
#pragma once

#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "bench_empty.skel.h"
#include "packet_builder.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/kernel/slots.h"

namespace vaultwall::bench {

// Default deny on tcp/443 with one rule that no flood source matches.
inline SlotImage deny_policy() {
  SlotImage image;
  image.settings.default_action = VW_ACTION_DENY;
  image.settings.flags = VW_SETTINGS_ALL_DESTINATIONS;
  image.settings.port_count = 1;
  image.settings.ports[0] = {443, IPPROTO_TCP, 0};
  vw_rule_key key{VW_RULE_KEY_VNET_BITS + 32, VW_VNET_PUBLIC, {203, 0, 113, 7}};
  image.rules.push_back({key, vw_rule_value{1}});
  return image;
}

// A TCP SYN to the vault from a random source in 198.18.0.0/15 (RFC 2544's
// benchmarking range: never a rule).
inline std::vector<uint8_t> flood_frame(std::mt19937& rng) {
  uint32_t host = rng() & 0x1ffff;
  testing::Ipv4 source{198, static_cast<uint8_t>(18 + (host >> 16)),
                       static_cast<uint8_t>(host >> 8), static_cast<uint8_t>(host)};
  return testing::PacketBuilder()
      .ethernet()
      .ipv4(source, testing::ipv4("192.0.2.10"), testing::kProtoTcp)
      .tcp(static_cast<uint16_t>(1024 + rng() % 60000), 443)
      .bytes();
}

// A pin directory of the benchmark's own, /sys/fs/bpf/vwbench-NAME-PID,
// removed when it ends.
struct BenchPinDir {
  explicit BenchPinDir(const std::string& name)
      : path("/sys/fs/bpf/vwbench-" + name + "-" + std::to_string(getpid())) {}
  BenchPinDir(const BenchPinDir&) = delete;
  BenchPinDir& operator=(const BenchPinDir&) = delete;
  ~BenchPinDir() { std::filesystem::remove_all(path); }
  const std::string path;
};

// Exit status 1 with the error on stderr.
inline int fails(const Error& e) { return std::fprintf(stderr, "%s\n", e.message().c_str()), 1; }

struct FloodOptions {
  int rounds = 5;
  int packets = 20000;
  std::string out;  // the results as JSON, when set
};

// What the production program is to a flood benchmark: loaded under its
// own pin directory, with its maps.
struct FloodTarget {
  const FloodOptions& options;
  const std::string& pin_dir;
  Program& program;
  PinnedMaps& maps;
};

// A flood benchmark's main: --rounds, --packets (packets_help says what one
// is) and --out parsed, the production program loaded under
// /sys/fs/bpf/vwbench-NAME-PID (removed at the end), then body(FloodTarget).
template <class Body>
int run_flood(int argc, char** argv, const std::string& description, const std::string& name,
              const std::string& packets_help, Body body) {
  CLI::App app{description};
  FloodOptions options;
  app.add_option("--rounds", options.rounds)->capture_default_str();
  app.add_option("--packets", options.packets, packets_help)->capture_default_str();
  app.add_option("--out", options.out, "write the results as JSON here");
  CLI11_PARSE(app, argc, argv);
  BenchPinDir pins(name);
  auto program = Program::load(pins.path);
  if (!program) return fails(program.error());
  auto maps = PinnedMaps::open(pins.path);
  if (!maps) return fails(maps.error());
  return body(FloodTarget{options, pins.path, *program, *maps});
}

// A skeleton freed with its own destroy function.
template <class Skeleton, void (*destroy)(Skeleton*)>
struct SkeletonDestroy {
  void operator()(Skeleton* skeleton) const { destroy(skeleton); }
};
template <class Skeleton, void (*destroy)(Skeleton*)>
using SkeletonPtr = std::unique_ptr<Skeleton, SkeletonDestroy<Skeleton, destroy>>;

// A build of the production source with other flags, opened on pin_dir so
// that it reuses the pinned maps (and so runs the same policy); null when
// it cannot be loaded.
template <class Skeleton, void (*destroy)(Skeleton*)>
SkeletonPtr<Skeleton, destroy> load_on_pins(const std::string& pin_dir,
                                            Skeleton* (*open)(const bpf_object_open_opts*),
                                            int (*load)(Skeleton*)) {
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir.c_str());
  SkeletonPtr<Skeleton, destroy> skeleton(open(&opts));
  if (skeleton && load(skeleton.get()) != 0) skeleton.reset();
  return skeleton;
}

// The floor: a program that passes every packet, timed the same way.
using EmptyProgram = SkeletonPtr<bench_empty, bench_empty__destroy>;

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The kernel reports a single run's duration in coarse steps (tens of ns),
// so a round's figure is the mean over its packets, with the slowest 1%
// (interrupts, preemption) left out.
inline double trimmed_mean(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  v.resize(v.size() - v.size() / 100);
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / v.size();
}

// The median, min and max of one ratio over the rounds.
inline nlohmann::ordered_json ratio_summary(const std::vector<double>& v) {
  return {{"median", median(v)},
          {"min", *std::min_element(v.begin(), v.end())},
          {"max", *std::max_element(v.begin(), v.end())}};
}

// The results' first fields, the same in every flood benchmark.
inline nlohmann::ordered_json flood_result(const std::string& benchmark, const char* packets_field,
                                           int packets, nlohmann::ordered_json rounds) {
  return {{"benchmark", benchmark},
          {"method", "BPF_PROG_TEST_RUN repeat 1 per packet, programs interleaved"},
          {packets_field, packets},
          {"rounds", std::move(rounds)}};
}

// Writes the results where --out says (nowhere without it); exit status 0.
inline int write_results(const FloodOptions& options, const nlohmann::ordered_json& result) {
  if (!options.out.empty()) std::ofstream(options.out) << result.dump(2) << "\n";
  return 0;
}

}  // namespace vaultwall::bench
