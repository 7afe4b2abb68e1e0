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

struct EmptyDestroy {
  void operator()(bench_empty* skel) const { bench_empty__destroy(skel); }
};
struct NologDestroy {
  void operator()(bench_nolog* skel) const { bench_nolog__destroy(skel); }
};

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

int run(int argc, char** argv) {
  CLI::App app{"vaultwall_bench_logging: ns per denied packet, deny log on vs off, random sources"};
  int rounds = 5, packets = 20000;
  std::string out;
  app.add_option("--rounds", rounds)->capture_default_str();
  app.add_option("--packets", packets, "packets per round")->capture_default_str();
  app.add_option("--out", out, "write the results as JSON here");
  CLI11_PARSE(app, argc, argv);

  const std::string pin_dir = "/sys/fs/bpf/vwbench-log-" + std::to_string(getpid());
  struct RemovePins {
    std::string dir;
    ~RemovePins() { std::filesystem::remove_all(dir); }
  } remove_pins{pin_dir};

  auto program = Program::load(pin_dir);
  if (!program) return std::fprintf(stderr, "%s\n", program.error().message().c_str()), 1;
  auto maps = PinnedMaps::open(pin_dir);
  if (!maps) return std::fprintf(stderr, "%s\n", maps.error().message().c_str()), 1;
  if (auto r = write_idle_slot_and_flip(*maps, deny_policy()); !r)
    return std::fprintf(stderr, "%s\n", r.error().message().c_str()), 1;

  // Same source, no events; it reuses the pinned maps, so the same policy.
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir.c_str());
  std::unique_ptr<bench_nolog, NologDestroy> nolog(bench_nolog__open_opts(&opts));
  if (!nolog || bench_nolog__load(nolog.get()) != 0)
    return std::fprintf(stderr, "cannot load the no-events build\n"), 1;
  std::unique_ptr<bench_empty, EmptyDestroy> empty(bench_empty__open_and_load());
  if (!empty) return std::fprintf(stderr, "cannot load the empty program\n"), 1;

  std::mt19937 rng(20261128);
  std::vector<double> on_vs_off, on_vs_floor, off_vs_floor;
  Json round_rows = Json::array();
  for (int r = 0; r < rounds; r++) {
    auto round = run_round(bpf_program__fd(empty->progs.bench_empty), program->prog_fd(),
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
  auto stats = maps->read_event_stats();
  auto summary = [](const std::vector<double>& v) {
    return Json{{"median", median(v)},
                {"min", *std::min_element(v.begin(), v.end())},
                {"max", *std::max_element(v.begin(), v.end())}};
  };
  Json result = {{"benchmark", "deny logging cost, random sources"},
                 {"method", "BPF_PROG_TEST_RUN repeat 1 per packet, programs interleaved"},
                 {"packets_per_round", packets},
                 {"rounds", round_rows},
                 {"ratio_on_vs_off", summary(on_vs_off)},
                 {"ratio_on_vs_floor", summary(on_vs_floor)},
                 {"ratio_off_vs_floor", summary(off_vs_floor)},
                 {"target", "on/off <= 1.3"},
                 {"events", stats ? Json{{"emitted", stats->emitted},
                                         {"suppressed", stats->suppressed},
                                         {"lost", stats->lost}}
                                  : Json()}};
  std::printf("on/off median %.2f (min %.2f, max %.2f); target <= 1.3: %s\n", median(on_vs_off),
              *std::min_element(on_vs_off.begin(), on_vs_off.end()),
              *std::max_element(on_vs_off.begin(), on_vs_off.end()),
              median(on_vs_off) <= 1.3 ? "met" : "MISSED");
  if (stats)
    std::printf("events: %llu emitted, %llu suppressed, %llu lost\n",
                static_cast<unsigned long long>(stats->emitted),
                static_cast<unsigned long long>(stats->suppressed),
                static_cast<unsigned long long>(stats->lost));
  if (!out.empty()) std::ofstream(out) << result.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace vaultwall::bench

int main(int argc, char** argv) { return vaultwall::bench::run(argc, argv); }
