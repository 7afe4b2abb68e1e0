// What deny logging costs under a flood of random sources: ns per denied
// packet of the production program (events on) against the same source
// built with -DVW_BENCH_NO_EVENTS (events off), with an empty XDP program
// as the floor (figures: per-round trimmed means, ratios: median of the
// per-round ratios). Every packet has a new random source, so the per-source
// limiter never sees a repeat and the per-CPU budget does the work, as in a
// spoofed flood. Each packet runs once per program (BPF_PROG_TEST_RUN,
// repeat 1: the kernel's duration then includes a fixed ~35 ns of timing,
// the same for all three programs), the three interleaved packet by packet.
// Not a test: it reports.
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
#include <vector>

#include "bench_empty.skel.h"
#include "bench_nolog.skel.h"
#include "flood.h"
#include "packet_builder.h"
#include "run_context.h"
#include "test_run.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/kernel/slots.h"

namespace vaultwall::bench {
namespace {

using Json = nlohmann::ordered_json;

struct Round {
  double floor_ns, on_ns, off_ns;
};

Result<Round> run_round(int floor_fd, int on_fd, int off_fd, int packets, std::mt19937& rng) {
  std::vector<double> floor, on, off;
  const int fds[3] = {floor_fd, on_fd, off_fd};
  std::vector<double>* out[3] = {&floor, &on, &off};
  for (int i = 0; i < packets; i++) {
    auto frame = flood_frame(rng);
    for (int k = 0; k < 3; k++) {
      int which = (i + k) % 3;  // rotate the order packet by packet
      auto run = VW_TRY(test_run_xdp(fds[which], frame, 1));
      out[which]->push_back(run.ns_per_packet);
    }
  }
  return Round{trimmed_mean(floor), trimmed_mean(on), trimmed_mean(off)};
}

int run(const FloodTarget& target) {
  const int rounds = target.options.rounds, packets = target.options.packets;
  if (auto r = write_idle_slot_and_flip(target.maps, deny_policy()); !r) return fails(r.error());
  // Same source, no events.
  auto nolog = load_on_pins<bench_nolog, bench_nolog__destroy>(
      target.pin_dir, bench_nolog__open_opts, bench_nolog__load);
  if (!nolog) return std::fprintf(stderr, "cannot load the no-events build\n"), 1;
  EmptyProgram empty(bench_empty__open_and_load());
  if (!empty) return std::fprintf(stderr, "cannot load the empty program\n"), 1;

  std::mt19937 rng(20261128);
  std::vector<double> on_vs_off, on_vs_floor, off_vs_floor;
  Json round_rows = Json::array();
  for (int r = 0; r < rounds; r++) {
    auto round = run_round(bpf_program__fd(empty->progs.bench_empty), target.program.prog_fd(),
                           bpf_program__fd(nolog->progs.vaultwall_xdp), packets, rng);
    if (!round) return std::fprintf(stderr, "%s\n", round.error().message().c_str()), 1;
    on_vs_off.push_back(round->on_ns / round->off_ns);
    on_vs_floor.push_back(round->on_ns / round->floor_ns);
    off_vs_floor.push_back(round->off_ns / round->floor_ns);
    std::printf("round %d/%d: floor %.1f ns, events on %.1f ns, events off %.1f ns, on/off %.3f\n",
                r + 1, rounds, round->floor_ns, round->on_ns, round->off_ns, on_vs_off.back());
    round_rows.push_back(
        Json{{"floor_ns", round->floor_ns}, {"on_ns", round->on_ns}, {"off_ns", round->off_ns}});
  }
  auto stats = target.maps.read_event_stats();
  Json result =
      flood_result("deny logging cost, random sources", "packets_per_round", packets, round_rows);
  result["ratio_on_vs_off"] = ratio_summary(on_vs_off);
  result["ratio_on_vs_floor"] = ratio_summary(on_vs_floor);
  result["ratio_off_vs_floor"] = ratio_summary(off_vs_floor);
  result["target"] = "on/off <= 1.3";
  result["events"] = stats ? Json{{"emitted", stats->emitted},
                                  {"suppressed", stats->suppressed},
                                  {"lost", stats->lost}}
                           : Json();
  std::printf("on/off median %.2f (min %.2f, max %.2f); target <= 1.3: %s\n", median(on_vs_off),
              *std::min_element(on_vs_off.begin(), on_vs_off.end()),
              *std::max_element(on_vs_off.begin(), on_vs_off.end()),
              median(on_vs_off) <= 1.3 ? "met" : "MISSED");
  if (stats)
    std::printf("events: %llu emitted, %llu suppressed, %llu lost\n",
                static_cast<unsigned long long>(stats->emitted),
                static_cast<unsigned long long>(stats->suppressed),
                static_cast<unsigned long long>(stats->lost));
  return write_results(target.options, result);
}

}  // namespace
}  // namespace vaultwall::bench

int main(int argc, char** argv) {
  return vaultwall::bench::run_flood(
      argc, argv,
      "vaultwall_bench_logging: ns per denied packet, deny log on vs off, random sources", "log",
      "packets per round", vaultwall::bench::run);
}
