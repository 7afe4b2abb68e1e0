// vaultwall_bench_datapath: ns per packet through BPF_PROG_TEST_RUN for the
// production program on allowed, denied and non-protected packets at several
// rule counts, reported as ratios to an empty XDP program measured in the
// same run.
//
// Method (docs: ../shared/research/performance-anchors.md §6, §7.1, §7.5):
// every (packet, rule count) cell runs the floor, the lower-bound program and
// vaultwall back to back, once per round, for several rounds; the order is
// reversed every other round so drift within a cell favours no program. A
// cell's figure is the median of its per-round ratios, with min and max.
// The same packet every iteration keeps the trie hot: this measures the
// instruction path and trie depth, not cache misses.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/core.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_empty.skel.h"
#include "bench_lpm.skel.h"
#include "packet_builder.h"
#include "rule_sets.h"
#include "run_context.h"
#include "test_run.h"
#include "vaultwall/maps.h"
#include "vaultwall/program.h"
#include "vaultwall/slots.h"
#include "vaultwall_abi.h"

namespace vaultwall::bench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// Documentation addresses (RFC 5737): no random or real rule can cover them
// by accident, and the allowed one is covered by exactly one rule.
constexpr char kAllowedSource[] = "203.0.113.7";
constexpr char kDeniedSource[] = "198.51.100.20";
constexpr char kDestination[] = "192.0.2.10";
constexpr uint16_t kProtectedPort = 443;
constexpr uint16_t kOtherPort = 80;
constexpr size_t kFrameBytes = 64;  // the classic "64-byte packet" of forwarding benchmarks
constexpr uint64_t kRuleSetSeed = 20250101;

struct Options {
  int rounds = 7;
  int repeat = 1'000'000;
  std::vector<size_t> sizes{1, 254, 10'000, 100'000};
  std::string out;
  std::string pin_dir;
  std::string commit = "unknown";
  std::string service_tags = VW_SERVICE_TAGS_DEFAULT;
  int cpu = -1;
};

// ---- Packets ----------------------------------------------------------------

struct PacketKind {
  std::string name;
  std::string description;
  std::vector<uint8_t> frame;
  uint32_t action;           // what vaultwall and the lower bound must return
  uint32_t vaultwall_class;  // VW_CLASS_* the packet must be counted in
};

std::vector<uint8_t> tcp_frame(const char* source, uint16_t dport) {
  testing::PacketBuilder builder;
  builder.ethernet()
      .ipv4(testing::ipv4(source), testing::ipv4(kDestination), testing::kProtoTcp)
      .tcp(40000, dport);
  builder.payload(kFrameBytes - builder.size());
  return builder.bytes();
}

std::vector<PacketKind> packet_kinds() {
  return {
      {"allowed", std::string("TCP ") + kAllowedSource + " -> :443, matches its /32 rule",
       tcp_frame(kAllowedSource, kProtectedPort), XDP_PASS, VW_CLASS_IP_RULE},
      {"denied", std::string("TCP ") + kDeniedSource + " -> :443, no rule, default deny",
       tcp_frame(kDeniedSource, kProtectedPort), XDP_DROP, VW_CLASS_DEFAULT_DENY},
      {"non_protected", std::string("TCP ") + kDeniedSource + " -> :80, not a protected port",
       tcp_frame(kDeniedSource, kOtherPort), XDP_PASS, VW_CLASS_UNPROTECTED},
  };
}

// Targets from issue 2: vaultwall's median ratio to the floor. Reported, not
// asserted. rules == 0 means every rule count.
struct Target {
  const char* packet;
  size_t rules;
  double max_ratio_to_floor;
};
constexpr Target kTargets[] = {
    {"non_protected", 0, 1.2},
    {"allowed", 254, 2.5},
    {"denied", 254, 2.5},
};

const Target* target_for(const std::string& packet, size_t rules) {
  for (const Target& t : kTargets)
    if (packet == t.packet && (t.rules == 0 || t.rules == rules)) return &t;
  return nullptr;
}

// ---- Programs under test ---------------------------------------------------

struct EmptyDestroy {
  void operator()(bench_empty* skel) const { bench_empty__destroy(skel); }
};
struct LpmDestroy {
  void operator()(bench_lpm* skel) const { bench_lpm__destroy(skel); }
};
using EmptySkeleton = std::unique_ptr<bench_empty, EmptyDestroy>;
using LpmSkeleton = std::unique_ptr<bench_lpm, LpmDestroy>;

Result<EmptySkeleton> load_empty() {
  EmptySkeleton skel(bench_empty__open_and_load());
  if (!skel) return fail_errno("load the empty XDP program");
  return skel;
}

// vaultwall and the lower bound, both holding the same rule set.
struct RuleSetUnderTest {
  size_t rules = 0;
  Program vaultwall;
  PinnedMaps maps;
  LpmSkeleton lower_bound;
};

// The policy the benchmark measures: IP rules only, default deny, TCP 443
// protected on every destination. Neither trusted services nor segments, so
// the allowed and denied paths are one rule-trie lookup each.
SlotImage bench_policy(const std::vector<Ipv4Prefix>& prefixes) {
  SlotImage image;
  image.settings.default_action = VW_ACTION_DENY;
  image.settings.bypass = VW_BYPASS_NONE;
  image.settings.public_access = VW_PUBLIC_ACCESS_ENABLED;
  image.settings.mode = VW_MODE_ENFORCE;
  image.settings.flags = VW_SETTINGS_ALL_DESTINATIONS;
  image.settings.port_count = 1;
  image.settings.ports[0] = vw_port{kProtectedPort, IPPROTO_TCP, 0};
  image.settings.generation = 1;
  image.info.generation = 1;
  image.info.rule_prefixes = static_cast<__u32>(prefixes.size());
  std::snprintf(image.info.profile, sizeof(image.info.profile), "bench");
  image.rules = to_rule_entries(prefixes);
  return image;
}

Result<LpmSkeleton> load_lower_bound(const SlotImage& image) {
  LpmSkeleton skel(bench_lpm__open_and_load());
  if (!skel) return fail_errno("load the lower-bound XDP program");
  TypedMap<vw_rule_key, vw_rule_value> rules(bpf_map__fd(skel->maps.lb_rules), "lb_rules");
  if (auto r = rules.put_all(image.rules); !r) return std::unexpected(r.error());
  return skel;
}

Result<RuleSetUnderTest> load_rule_set(const std::string& pin_dir,
                                       const std::vector<Ipv4Prefix>& prefixes) {
  auto program = Program::load(pin_dir);
  if (!program) return std::unexpected(program.error());
  auto maps = PinnedMaps::open(pin_dir);
  if (!maps) return std::unexpected(maps.error());
  SlotImage image = bench_policy(prefixes);
  if (auto r = write_idle_slot_and_flip(*maps, image); !r) return std::unexpected(r.error());
  auto lower_bound = load_lower_bound(image);
  if (!lower_bound) return std::unexpected(lower_bound.error());
  return RuleSetUnderTest{prefixes.size(), std::move(*program), std::move(*maps),
                          std::move(*lower_bound)};
}

// ---- Cells and rounds ------------------------------------------------------

enum Contender { kFloor, kLowerBound, kVaultwall, kContenders };
constexpr std::array<const char*, kContenders> kContenderNames{"empty", "lower_bound", "vaultwall"};

// One (packet kind, rule count): the three programs' ns, one entry per round.
struct Cell {
  const PacketKind* packet;
  size_t rules;
  std::array<int, kContenders> prog_fds;
  std::array<std::vector<uint32_t>, kContenders> ns;
};

struct RoundInfo {
  double seconds = 0;
  double steal_percent = 0;
};

volatile sig_atomic_t g_interrupted = 0;

void on_signal(int) { g_interrupted = 1; }

// No SA_RESTART: a signal makes the running BPF_PROG_TEST_RUN return EINTR,
// and the error path removes the pins.
void stop_on_signals() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
}

const char* action_name(uint32_t action) {
  switch (action) {
    case XDP_ABORTED:
      return "XDP_ABORTED";
    case XDP_DROP:
      return "XDP_DROP";
    case XDP_PASS:
      return "XDP_PASS";
    case XDP_TX:
      return "XDP_TX";
    case XDP_REDIRECT:
      return "XDP_REDIRECT";
    default:
      return "unknown action";
  }
}

// A timing of the wrong path is worse than none: every run's verdict is
// checked against what the packet must get.
Result<uint32_t> timed_run(const Cell& cell, Contender who, int repeat) {
  auto run = test_run_xdp(cell.prog_fds[who], cell.packet->frame, repeat);
  if (!run) return std::unexpected(run.error());
  uint32_t expected = who == kFloor ? uint32_t{XDP_PASS} : cell.packet->action;
  if (run->action != expected)
    return fail(EPROTO, std::string(kContenderNames[who]) + " returned " +
                            action_name(run->action) + " for the " + cell.packet->name +
                            " packet at " + std::to_string(cell.rules) + " rules, expected " +
                            action_name(expected));
  return run->ns_per_packet;
}

// Before timing: one run of each vaultwall cell must move exactly its class
// counter, so "allowed" really is a rule hit and "denied" a default deny.
Result<void> check_vaultwall_paths(const std::vector<Cell>& cells,
                                   const std::vector<RuleSetUnderTest>& sets) {
  for (const Cell& cell : cells) {
    const PinnedMaps* maps = nullptr;
    for (const auto& set : sets)
      if (set.rules == cell.rules) maps = &set.maps;
    uint32_t cls = cell.packet->vaultwall_class;
    auto before = read_counters(maps->class_stats_fd(), VW_MAP_CLASS_STATS, cls);
    if (!before) return std::unexpected(before.error());
    if (auto r = timed_run(cell, kVaultwall, 1); !r) return std::unexpected(r.error());
    auto after = read_counters(maps->class_stats_fd(), VW_MAP_CLASS_STATS, cls);
    if (!after) return std::unexpected(after.error());
    if (after->packets != before->packets + 1)
      return fail(EPROTO, "the " + cell.packet->name + " packet at " + std::to_string(cell.rules) +
                              " rules was not counted in class " + std::to_string(cls) +
                              ": it does not take the path it is meant to measure");
  }
  return {};
}

Result<RoundInfo> run_round(std::vector<Cell>& cells, int round, int repeat) {
  auto before = read_cpu_times();
  if (!before) return std::unexpected(before.error());
  auto start = std::chrono::steady_clock::now();
  const bool reversed = round % 2 == 1;
  for (Cell& cell : cells) {
    for (int i = 0; i < kContenders; i++) {
      auto who = static_cast<Contender>(reversed ? kContenders - 1 - i : i);
      auto ns = timed_run(cell, who, repeat);
      if (!ns) return std::unexpected(ns.error());
      cell.ns[who].push_back(*ns);
    }
    if (g_interrupted) return fail(EINTR, "benchmark interrupted");
  }
  auto after = read_cpu_times();
  if (!after) return std::unexpected(after.error());
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return RoundInfo{elapsed.count(), steal_percent(*before, *after)};
}

// ---- Results ---------------------------------------------------------------

std::vector<double> ratios(const std::vector<uint32_t>& num, const std::vector<uint32_t>& den) {
  std::vector<double> out;
  for (size_t i = 0; i < num.size(); i++)
    out.push_back(den[i] == 0 ? 0.0 : static_cast<double>(num[i]) / den[i]);
  return out;
}

Json spread_json(const std::vector<double>& per_round) {
  Spread s = spread_of(per_round);
  return Json{{"median", s.median}, {"min", s.min}, {"max", s.max}, {"per_round", per_round}};
}

Json cell_json(const Cell& cell) {
  Json programs;
  for (int who = 0; who < kContenders; who++) {
    std::vector<double> ns(cell.ns[who].begin(), cell.ns[who].end());
    Json p{{"ns_median", spread_of(ns).median}, {"ns_per_round", cell.ns[who]}};
    if (who != kFloor) p["ratio_to_floor"] = spread_json(ratios(cell.ns[who], cell.ns[kFloor]));
    if (who == kVaultwall)
      p["ratio_to_lower_bound"] = spread_json(ratios(cell.ns[who], cell.ns[kLowerBound]));
    programs[kContenderNames[who]] = p;
  }
  Json out{{"packet", cell.packet->name},
           {"rules", cell.rules},
           {"expected_action", action_name(cell.packet->action)},
           {"programs", programs}};
  if (const Target* t = target_for(cell.packet->name, cell.rules)) {
    double median = programs["vaultwall"]["ratio_to_floor"]["median"];
    out["target"] = Json{{"metric", "vaultwall ratio_to_floor median"},
                         {"max", t->max_ratio_to_floor},
                         {"met", median <= t->max_ratio_to_floor}};
  }
  return out;
}

Json method_json(const Options& options, const std::vector<PacketKind>& packets,
                 const std::vector<std::vector<Ipv4Prefix>>& rule_sets) {
  Json packets_json = Json::array();
  for (const PacketKind& p : packets)
    packets_json.push_back({{"name", p.name},
                            {"description", p.description},
                            {"frame_bytes", p.frame.size()},
                            {"expected_action", action_name(p.action)}});
  Json sets_json = Json::array();
  for (const auto& set : rule_sets) {
    size_t slash32 = 0;
    for (const Ipv4Prefix& p : set) slash32 += p.length == 32;
    sets_json.push_back(
        {{"rules", set.size()}, {"first", to_string(set.front())}, {"slash32", slash32}});
  }
  return Json{
      {"timer", "BPF_PROG_TEST_RUN kernel-reported duration: ns per iteration, integer"},
      {"repeat", options.repeat},
      {"rounds", options.rounds},
      {"order", "per cell: empty, lower_bound, vaultwall; reversed every other round"},
      {"figure", "median of per-round ratios to the floor measured in the same cell and round"},
      {"cache", "hot: the same packet every iteration"},
      {"cpu_pinned", options.cpu},
      {"policy",
       "IP rules (vnet 0), default deny, TCP 443 protected on all destinations, "
       "no trusted services, no segments, enforce mode"},
      {"rule_sets", "allowed rule " + std::string(kAllowedSource) +
                        "/32 first, then IPv4 prefixes of " +
                        fs::path(options.service_tags).filename().string() +
                        " in file order, then random public /32 and /24 (seed " +
                        std::to_string(kRuleSetSeed) + "); each set extends the smaller ones"},
      {"rule_set_sizes", sets_json},
      {"packets", packets_json},
      {"lower_bound",
       "tests/bench/lpm_lower_bound.bpf.c: Eth/IPv4/TCP parse, port check, one "
       "LPM lookup, one per-CPU counter"},
  };
}

std::string fmt_ratio(const Json& spread) {
  return fmt::format("{:.2f} ({:.2f}-{:.2f})", spread["median"].get<double>(),
                     spread["min"].get<double>(), spread["max"].get<double>());
}

std::string target_text(const Json& cell) {
  if (!cell.contains("target")) return "";
  return fmt::format("<= {:.1f}x: {}", cell["target"]["max"].get<double>(),
                     cell["target"]["met"].get<bool>() ? "met" : "MISSED");
}

// A Markdown table built from the JSON document alone, so it can be
// regenerated from any result file.
std::string markdown_summary(const Json& doc) {
  const Json& ctx = doc["context"];
  std::string md = "# Datapath benchmark (BPF_PROG_TEST_RUN)\n\n";
  md += fmt::format(
      "Commit `{}`, {}, kernel {}, {} CPUs, {} rounds x repeat {}, steal {:.2f}% "
      "(max round {:.2f}%).\n\n",
      ctx["commit"].get<std::string>(), ctx["cpu_model"].get<std::string>(),
      ctx["kernel_release"].get<std::string>(), ctx["cpus_online"].get<long>(),
      doc["method"]["rounds"].get<int>(), doc["method"]["repeat"].get<int>(),
      doc["steal_percent"]["total"].get<double>(), doc["steal_percent"]["max_round"].get<double>());
  md +=
      "Ratios are medians of per-round ratios to the empty XDP program measured in the same "
      "round (min-max in brackets); ns are medians of the kernel's per-iteration average.\n\n";
  md +=
      "| packet | rules | empty ns | lower bound ns | lower bound x floor | vaultwall ns | "
      "vaultwall x floor | vaultwall x lower bound | target |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (const Json& cell : doc["results"]) {
    const Json& p = cell["programs"];
    md += fmt::format(
        "| {} | {} | {:.0f} | {:.0f} | {} | {:.0f} | {} | {} | {} |\n",
        cell["packet"].get<std::string>(), cell["rules"].get<size_t>(),
        p["empty"]["ns_median"].get<double>(), p["lower_bound"]["ns_median"].get<double>(),
        fmt_ratio(p["lower_bound"]["ratio_to_floor"]), p["vaultwall"]["ns_median"].get<double>(),
        fmt_ratio(p["vaultwall"]["ratio_to_floor"]),
        fmt_ratio(p["vaultwall"]["ratio_to_lower_bound"]), target_text(cell));
  }
  return md;
}

void print_table(const Json& doc) {
  fmt::print("{:<14} {:>7} {:>6} {:>8} {:>18} {:>6} {:>18} {:>18}  {}\n", "packet", "rules",
             "empty", "lb ns", "lb x floor", "vw ns", "vw x floor", "vw x lb", "target");
  for (const Json& cell : doc["results"]) {
    const Json& p = cell["programs"];
    fmt::print("{:<14} {:>7} {:>6.0f} {:>8.0f} {:>18} {:>6.0f} {:>18} {:>18}  {}\n",
               cell["packet"].get<std::string>(), cell["rules"].get<size_t>(),
               p["empty"]["ns_median"].get<double>(), p["lower_bound"]["ns_median"].get<double>(),
               fmt_ratio(p["lower_bound"]["ratio_to_floor"]),
               p["vaultwall"]["ns_median"].get<double>(),
               fmt_ratio(p["vaultwall"]["ratio_to_floor"]),
               fmt_ratio(p["vaultwall"]["ratio_to_lower_bound"]), target_text(cell));
  }
}

Result<void> write_file(const fs::path& path, const std::string& text) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return fail(EIO, "write " + path.string());
  return {};
}

// ---- Setup and main flow ---------------------------------------------------

// Removes the benchmark's own pin directory on every exit path. Only ever
// constructed for a directory this process created.
class PinDirCleanup {
 public:
  explicit PinDirCleanup(fs::path dir) : dir_(std::move(dir)) {}
  PinDirCleanup(const PinDirCleanup&) = delete;
  PinDirCleanup& operator=(const PinDirCleanup&) = delete;
  ~PinDirCleanup() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    if (ec) fmt::print(stderr, "warning: could not remove {}: {}\n", dir_.string(), ec.message());
  }

 private:
  fs::path dir_;
};

Result<void> pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0)
    return fail_errno("pin to CPU " + std::to_string(cpu));
  return {};
}

Result<std::vector<std::vector<Ipv4Prefix>>> build_rule_sets(const Options& options) {
  auto realistic = load_service_tag_prefixes(options.service_tags);
  if (!realistic) return std::unexpected(realistic.error());
  auto allowed_rule = parse_ipv4_prefix(std::string(kAllowedSource) + "/32");
  auto denied = parse_ipv4_prefix(kDeniedSource);
  RuleSetRecipe recipe{*allowed_rule, denied->addr, std::move(*realistic), kRuleSetSeed};
  std::vector<std::vector<Ipv4Prefix>> sets;
  for (size_t size : options.sizes) {
    auto set = build_rule_set(size, recipe);
    if (!set) return std::unexpected(set.error());
    sets.push_back(std::move(*set));
  }
  return sets;
}

// Which code was measured: the tag is a hash of the program's instructions,
// so results stay attributable even when the commit is "dirty".
Result<Json> program_identity(int prog_fd) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return fail_errno("inspect a program");
  std::string tag;
  for (uint8_t byte : info.tag) tag += fmt::format("{:02x}", byte);
  return Json{{"name", info.name},
              {"tag", tag},
              {"xlated_bytes", info.xlated_prog_len},
              {"jited_bytes", info.jited_prog_len}};
}

Result<Json> programs_json(const Cell& cell) {
  Json out;
  for (int who = 0; who < kContenders; who++) {
    auto identity = program_identity(cell.prog_fds[who]);
    if (!identity) return std::unexpected(identity.error());
    out[kContenderNames[who]] = *identity;
  }
  return out;
}

std::vector<Cell> make_cells(const std::vector<PacketKind>& packets,
                             const std::vector<RuleSetUnderTest>& sets, int floor_fd) {
  std::vector<Cell> cells;
  for (const RuleSetUnderTest& set : sets)
    for (const PacketKind& packet : packets)
      cells.push_back(Cell{
          &packet,
          set.rules,
          {floor_fd, bpf_program__fd(set.lower_bound->progs.bench_lpm), set.vaultwall.prog_fd()},
          {}});
  return cells;
}

Result<Json> run_benchmark(const Options& options) {
  if (bpf_stats_enabled())
    fmt::print(stderr,
               "warning: kernel.bpf_stats_enabled=1 adds tens of ns per run; results "
               "are not comparable (sysctl -w kernel.bpf_stats_enabled=0)\n");
  if (options.cpu >= 0)
    if (auto r = pin_to_cpu(options.cpu); !r) return std::unexpected(r.error());

  auto rule_sets = build_rule_sets(options);
  if (!rule_sets) return std::unexpected(rule_sets.error());
  const std::vector<PacketKind> packets = packet_kinds();

  auto empty = load_empty();
  if (!empty) return std::unexpected(empty.error());
  std::vector<RuleSetUnderTest> sets;
  for (const auto& prefixes : *rule_sets) {
    fmt::print(stderr, "loading {} rules...\n", prefixes.size());
    auto set =
        load_rule_set(options.pin_dir + "/rules-" + std::to_string(prefixes.size()), prefixes);
    if (!set) return std::unexpected(set.error());
    sets.push_back(std::move(*set));
    if (g_interrupted) return fail(EINTR, "benchmark interrupted");
  }

  std::vector<Cell> cells =
      make_cells(packets, sets, bpf_program__fd(empty->get()->progs.bench_empty));
  if (auto r = check_vaultwall_paths(cells, sets); !r) return std::unexpected(r.error());

  Json doc;
  doc["schema"] = "vaultwall-bench-datapath/1";
  doc["context"] = collect_run_context(options.commit);
  doc["method"] = method_json(options, packets, *rule_sets);
  auto programs = programs_json(cells.front());
  if (!programs) return std::unexpected(programs.error());
  doc["programs"] = *programs;

  auto start_times = read_cpu_times();
  if (!start_times) return std::unexpected(start_times.error());
  Json rounds = Json::array();
  double max_steal = 0;
  for (int round = 0; round < options.rounds; round++) {
    auto info = run_round(cells, round, options.repeat);
    if (!info) return std::unexpected(info.error());
    fmt::print(stderr, "round {}/{}: {:.1f} s, steal {:.2f}%\n", round + 1, options.rounds,
               info->seconds, info->steal_percent);
    rounds.push_back({{"seconds", info->seconds}, {"steal_percent", info->steal_percent}});
    max_steal = std::max(max_steal, info->steal_percent);
  }
  auto end_times = read_cpu_times();
  if (!end_times) return std::unexpected(end_times.error());

  doc["context"]["loadavg_at_end"] = load_average();
  doc["steal_percent"] = {{"total", steal_percent(*start_times, *end_times)},
                          {"max_round", max_steal}};
  doc["rounds"] = rounds;
  Json results = Json::array();
  for (const Cell& cell : cells) results.push_back(cell_json(cell));
  doc["results"] = results;
  return doc;
}

Result<Options> parse_options(int argc, char** argv) {
  Options options;
  CLI::App app{
      "vaultwall datapath benchmark: ns per packet through BPF_PROG_TEST_RUN as ratios "
      "to an empty XDP program (root). Not a test: it reports, it asserts nothing."};
  app.add_option("--rounds", options.rounds, "interleaved rounds (median of per-round ratios)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--repeat", options.repeat, "iterations per BPF_PROG_TEST_RUN call")
      ->check(CLI::Range(100'000, 100'000'000));
  app.add_option("--sizes", options.sizes, "rule counts, comma separated")
      ->delimiter(',')
      ->check(CLI::Range(size_t{1}, size_t{VW_MAX_RULE_PREFIXES}));
  app.add_option("--out", options.out,
                 "JSON result file; a Markdown summary goes next to it (.md)");
  app.add_option("--pin-dir", options.pin_dir,
                 "bpffs directory for vaultwall's pins; must not exist; removed at exit "
                 "(default /sys/fs/bpf/vaultwall-bench-PID)");
  app.add_option("--commit", options.commit, "git commit being measured, for the context");
  app.add_option("--service-tags", options.service_tags, "ServiceTags JSON with real prefixes")
      ->check(CLI::ExistingFile);
  app.add_option("--cpu", options.cpu, "pin the benchmark to this CPU (default: not pinned)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return fail(code == 0 ? 0 : EINVAL, "");
  }
  std::sort(options.sizes.begin(), options.sizes.end());
  options.sizes.erase(std::unique(options.sizes.begin(), options.sizes.end()), options.sizes.end());
  if (options.pin_dir.empty())
    options.pin_dir = "/sys/fs/bpf/vaultwall-bench-" + std::to_string(getpid());
  return options;
}

int run(int argc, char** argv) {
  auto options = parse_options(argc, argv);
  if (!options) return options.error().code == 0 ? 0 : 2;

  if (auto r = check_privileges_and_bpffs(options->pin_dir); !r) {
    fmt::print(stderr, "vaultwall_bench_datapath: {}\n", r.error().message());
    return 1;
  }
  std::error_code ec;
  if (fs::exists(options->pin_dir, ec)) {
    fmt::print(stderr,
               "vaultwall_bench_datapath: {} already exists; pick another --pin-dir "
               "(the benchmark removes its pin directory at exit, so it never reuses one)\n",
               options->pin_dir);
    return 1;
  }
  stop_on_signals();
  auto doc = [&] {
    PinDirCleanup cleanup(options->pin_dir);
    return run_benchmark(*options);
  }();
  if (!doc) {
    fmt::print(stderr, "vaultwall_bench_datapath: {}\n", doc.error().message());
    return 1;
  }

  print_table(*doc);
  if (!options->out.empty()) {
    fs::path json_path(options->out);
    fs::path md_path = fs::path(json_path).replace_extension(".md");
    if (auto r = write_file(json_path, doc->dump(1) + "\n"); !r) {
      fmt::print(stderr, "vaultwall_bench_datapath: {}\n", r.error().message());
      return 1;
    }
    if (auto r = write_file(md_path, markdown_summary(*doc)); !r) {
      fmt::print(stderr, "vaultwall_bench_datapath: {}\n", r.error().message());
      return 1;
    }
    fmt::print("\nresults: {}\nsummary: {}\n", json_path.string(), md_path.string());
  }
  return 0;
}

}  // namespace
}  // namespace vaultwall::bench

int main(int argc, char** argv) { return vaultwall::bench::run(argc, argv); }
