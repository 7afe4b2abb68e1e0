// What vaultwall.denyAction "reject" costs per denied SYN: ns per packet of
// the production program under "drop", of the same source built with
// -DVW_BENCH_UNBOUNDED_REJECT under "reject" (every SYN answered: the RST
// built in place, the tail trimmed, XDP_TX), and of the production program
// under "reject" once the per-CPU reply budget is spent (the flood's
// common case: dropped and counted), with an empty XDP program as the
// floor. Random sources, repeat 1 per packet (each run gets a fresh copy of
// the frame), programs interleaved packet by packet; the policy is flipped
// between the drop and the reject half of each round. Figures are
// per-round trimmed means, ratios the median of the per-round ratios.
// Not a test: it reports.
#include <bpf/libbpf.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "bench_empty.skel.h"
#include "bench_reject.skel.h"
#include "flood.h"
#include "test_run.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/kernel/slots.h"

namespace vaultwall::bench {
namespace {

using Json = nlohmann::ordered_json;

// Trimmed mean ns per packet of each program, the programs interleaved on
// the same random frames; fails unless each returns its expected action.
Result<std::vector<double>> interleaved(const std::vector<int>& fds,
                                        const std::vector<uint32_t>& actions, int packets,
                                        std::mt19937& rng) {
  std::vector<std::vector<double>> ns(fds.size());
  for (int i = 0; i < packets; i++) {
    auto frame = flood_frame(rng);
    for (size_t k = 0; k < fds.size(); k++) {
      size_t which = (i + k) % fds.size();  // rotate the order packet by packet
      auto run = VW_TRY(test_run_xdp(fds[which], frame, 1));
      if (run.action != actions[which] && !(actions[which] == XDP_DROP && run.action == XDP_TX))
        return fail(EPROTO, "program " + std::to_string(which) + " returned " +
                                std::to_string(run.action) + ", expected " +
                                std::to_string(actions[which]));
      ns[which].push_back(run.ns_per_packet);
    }
  }
  std::vector<double> means;
  for (auto& v : ns) means.push_back(trimmed_mean(v));
  return means;
}

SlotImage policy_with(uint8_t deny_action) {
  SlotImage image = deny_policy();
  image.settings.deny_action = deny_action;
  return image;
}

int run(const FloodTarget& target) {
  const int rounds = target.options.rounds, packets = target.options.packets;
  Program& program = target.program;
  PinnedMaps& maps = target.maps;
  // Same source, no reply budget.
  auto unbounded = load_on_pins<bench_reject, bench_reject__destroy>(
      target.pin_dir, bench_reject__open_opts, bench_reject__load);
  if (!unbounded) return std::fprintf(stderr, "cannot load the unbounded-reject build\n"), 1;
  EmptyProgram empty(bench_empty__open_and_load());
  if (!empty) return std::fprintf(stderr, "cannot load the empty program\n"), 1;
  const int floor_fd = bpf_program__fd(empty->progs.bench_empty);
  const int reject_fd = bpf_program__fd(unbounded->progs.vaultwall_xdp);

  std::mt19937 rng(20261202);
  std::vector<double> drop_floor, reject_floor, reject_drop, suppressed_drop, reject_suppressed;
  Json round_rows = Json::array();
  for (int r = 0; r < rounds; r++) {
    if (auto w = write_idle_slot_and_flip(maps, policy_with(VW_DENY_DROP)); !w)
      return fails(w.error());
    auto drop = interleaved({floor_fd, program.prog_fd()}, {XDP_PASS, XDP_DROP}, packets, rng);
    if (!drop) return fails(drop.error());
    if (auto w = write_idle_slot_and_flip(maps, policy_with(VW_DENY_REJECT)); !w)
      return fails(w.error());
    // The production program under reject: XDP_TX while the tick's budget
    // lasts, then XDP_DROP (both accepted), almost always the latter here.
    auto reject = interleaved({floor_fd, reject_fd, program.prog_fd()},
                              {XDP_PASS, XDP_TX, XDP_DROP}, packets, rng);
    if (!reject) return fails(reject.error());
    const double floor_a = (*drop)[0], drop_ns = (*drop)[1];
    const double floor_b = (*reject)[0], reject_ns = (*reject)[1], suppressed_ns = (*reject)[2];
    drop_floor.push_back(drop_ns / floor_a);
    reject_floor.push_back(reject_ns / floor_b);
    reject_drop.push_back(reject_ns / drop_ns);
    suppressed_drop.push_back(suppressed_ns / drop_ns);
    reject_suppressed.push_back(reject_ns / suppressed_ns);  // same half, interleaved
    std::printf(
        "round %d/%d: floor %.1f/%.1f ns, drop %.1f ns, reject %.1f ns, reject past the "
        "budget %.1f ns, reject/drop %.3f\n",
        r + 1, rounds, floor_a, floor_b, drop_ns, reject_ns, suppressed_ns, reject_drop.back());
    round_rows.push_back(Json{{"floor_ns", {floor_a, floor_b}},
                              {"drop_ns", drop_ns},
                              {"reject_ns", reject_ns},
                              {"reject_suppressed_ns", suppressed_ns}});
  }
  auto replies = maps.read_reject_stats();
  Json result = flood_result("reject vs drop per denied SYN, random sources",
                             "packets_per_half_round", packets, round_rows);
  result["ratio_drop_vs_floor"] = ratio_summary(drop_floor);
  result["ratio_reject_vs_floor"] = ratio_summary(reject_floor);
  result["ratio_reject_vs_drop"] = ratio_summary(reject_drop);
  result["ratio_reject_suppressed_vs_drop"] = ratio_summary(suppressed_drop);
  result["ratio_reject_vs_reject_suppressed"] = ratio_summary(reject_suppressed);
  result["reject_stats"] =
      replies ? Json{{"sent", replies->sent}, {"suppressed", replies->suppressed}} : Json();
  std::printf(
      "medians: drop/floor %.2f, reject/floor %.2f, reject/drop %.2f, reject past the "
      "budget/drop %.2f, reject/past the budget %.2f (interleaved)\n",
      median(drop_floor), median(reject_floor), median(reject_drop), median(suppressed_drop),
      median(reject_suppressed));
  return write_results(target.options, result);
}

}  // namespace
}  // namespace vaultwall::bench

int main(int argc, char** argv) {
  return vaultwall::bench::run_flood(
      argc, argv, "vaultwall_bench_reject: ns per denied SYN, reject vs drop vs the empty program",
      "reject", "packets per half round", vaultwall::bench::run);
}
