// vaultwall_bench_apply: how long a policy change takes, from the rule
// document to the first packet that sees it, next to `nft -f` of the same
// prefixes as one interval set, measured interleaved in the same run.
//
// Per workload and round, in turn (order reversed every other round):
//   library  the production path in-process: load_policy_file (parse +
//            validate), read_kernel_policy + compile_against_kernel,
//            apply_compiled (write the idle slot, flip), then one
//            BPF_PROG_TEST_RUN of a packet from a source only the new
//            policy admits: "visible".
//   ctl      `vaultwallctl apply -f DOC` as a process, then the same probe.
//   nft      `nft -f FILE` replacing a table with the same prefixes as an
//            interval set (auto-merge) and a rule using it, atomically.
// Each round's document adds a different sentinel /32, so every apply is a
// real change of N prefixes into an idle slot that held N (steady state,
// after two warm-up applies).
//
// Workloads that do not fit the compiler (ids for at most 16383 rules, 2^18
// trusted prefixes) are measured through the kernel library only
// (SlotImage written with write_idle_slot_and_flip), which the result says.
//
// Also: slot flip cost (the grace-period wait and the one-word flip) and
// kernel memory per prefix (the Slab line of /proc/meminfo around a write
// into an empty slot; noisy on a shared machine, so taken as the median of
// several writes).
#include <bpf/bpf.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "packet_builder.h"
#include "rule_sets.h"
#include "run_context.h"
#include "test_run.h"
#include "vaultwall/apply/apply.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/kernel/slots.h"
#include "vaultwall_abi.h"

extern char** environ;

namespace vaultwall::bench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr char kDestination[] = "192.0.2.10";
constexpr uint64_t kSeed = 20250202;

struct Options {
  int rounds = 5;
  std::vector<std::string> workloads{"tags:254", "ip:4000", "trusted:100000", "library:1000000"};
  std::string ctl;
  std::string netns;  // run nft (and everything) in this network namespace
  std::string pin_dir;
  std::string work_dir;
  std::string out;
  std::string commit = "unknown";
  std::string service_tags = VW_SERVICE_TAGS_DEFAULT;
  bool memory = true;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// ---- Workloads -------------------------------------------------------------

// tags:N      N IP rules + every service of the service-tags file trusted
//             (bypass AzureServices): the "254 + ~4k" deployment.
// ip:N        N IP rules (limits.maxIpRules raised).
// trusted:N   254 IP rules + a custom trusted service holding N-254
//             prefixes: N prefixes through the full ctl path, since rule ids
//             stop at 16383.
// library:N   N IP-rule prefixes written through the kernel library only.
struct Workload {
  std::string name;
  std::string kind;
  size_t prefixes = 0;  // what lands in the tries (before the sentinel)
  std::vector<Ipv4Prefix> ip_rules;
  std::vector<Ipv4Prefix> custom_trusted;
  std::vector<Ipv4Prefix> tag_prefixes;  // tags: the trusted prefixes (for nft)
  std::vector<std::string> tag_names;
  bool ctl_path() const { return kind != "library"; }
};

std::string address_text(const Ipv4Address& a) {
  return fmt::format("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
}

// A rule as Azure writes it: a bare address for a /32.
std::string rule_text(const Ipv4Prefix& p) {
  return p.length == 32 ? address_text(p.addr) : to_string(p);
}

// Round r's sentinel: admitted by round r's policy only.
Ipv4Prefix sentinel(int round) {
  return Ipv4Prefix{{203, 0, 113, static_cast<uint8_t>(100 + round)}, 32};
}

Result<std::vector<std::string>> service_names(const std::string& path) {
  std::ifstream in(path);
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.contains("values"))
    return fail(EINVAL, path + " is not a ServiceTags JSON file");
  std::vector<std::string> names;
  for (const auto& v : doc["values"]) names.push_back(v.value("name", ""));
  return names;
}

Result<Workload> make_workload(const std::string& text, const Options& options,
                               const std::vector<Ipv4Prefix>& tags) {
  auto colon = text.find(':');
  if (colon == std::string::npos) return fail(EINVAL, "workload '" + text + "': write KIND:N");
  Workload w{text, text.substr(0, colon)};
  size_t n = std::stoul(text.substr(colon + 1));
  auto denied = parse_ipv4_prefix("198.51.100.20");
  auto first = parse_ipv4_prefix("203.0.113.7/32");
  RuleSetRecipe recipe{*first, denied->addr, {}, kSeed};
  if (w.kind == "tags") {
    auto rules = VW_TRY(build_rule_set(n, recipe));
    w.ip_rules = std::move(rules);
    w.tag_prefixes = tags;
    auto names = VW_TRY(service_names(options.service_tags));
    w.tag_names = std::move(names);
    w.prefixes = n + tags.size();
  } else if (w.kind == "ip" || w.kind == "library") {
    auto rules = VW_TRY(build_rule_set(n, recipe));
    w.ip_rules = std::move(rules);
    w.prefixes = n;
  } else if (w.kind == "trusted") {
    if (n <= 254) return fail(EINVAL, "trusted:N needs N > 254");
    auto all = VW_TRY(build_rule_set(n, recipe));
    w.ip_rules.assign(all.begin(), all.begin() + 254);
    w.custom_trusted.assign(all.begin() + 254, all.end());
    w.prefixes = n;
  } else {
    return fail(EINVAL, "workload '" + text + "': KIND is tags, ip, trusted or library");
  }
  return w;
}

// The rule document of round r.
std::string document_for(const Workload& w, int round, const Options& options) {
  Json rules = Json::array();
  rules.push_back({{"value", rule_text(sentinel(round))}});
  for (const Ipv4Prefix& p : w.ip_rules) rules.push_back({{"value", rule_text(p)}});
  Json host{{"profile", "akv-current"},
            {"limits", {{"maxIpRules", rules.size()}}},
            {"dataPlane", {{"ports", {"tcp/443"}}}}};
  Json trusted = Json::object();
  if (w.kind == "tags") {
    trusted["serviceTags"] = fs::absolute(options.service_tags).string();
    trusted["services"] = w.tag_names;
  }
  if (!w.custom_trusted.empty()) {
    Json prefixes = Json::array();
    for (const Ipv4Prefix& p : w.custom_trusted) prefixes.push_back(to_string(p));
    trusted["custom"] = Json::array({{{"name", "BenchPrefixes"}, {"addressPrefixes", prefixes}}});
  }
  if (!trusted.empty()) host["trustedServices"] = trusted;
  Json doc{{"properties",
            {{"publicNetworkAccess", "Enabled"},
             {"networkAcls",
              {{"defaultAction", "Deny"},
               {"bypass", trusted.empty() ? "None" : "AzureServices"},
               {"ipRules", rules},
               {"virtualNetworkRules", Json::array()}}}}},
           {"vaultwall", host}};
  return doc.dump();
}

// The same prefixes for nftables: one interval set (auto-merge folds the
// overlaps nft would otherwise refuse) and the rule that uses it, replacing
// the table atomically like an apply replaces a slot.
std::string nft_file_for(const Workload& w, int round) {
  std::string out = "table ip vwbapply\ndelete table ip vwbapply\n";
  out += "table ip vwbapply {\n  set allow {\n    type ipv4_addr\n    flags interval\n"
         "    auto-merge\n    elements = { ";
  out += to_string(sentinel(round));
  for (const auto* list : {&w.ip_rules, &w.custom_trusted, &w.tag_prefixes})
    for (const Ipv4Prefix& p : *list) out += ",\n" + to_string(p);
  out += " }\n  }\n  chain input {\n    type filter hook prerouting priority -300; policy accept;\n"
         "    tcp dport 443 ip saddr @allow accept\n    tcp dport 443 drop\n  }\n}\n";
  return out;
}

// The kernel-library image of round r (library:N).
SlotImage image_for(const Workload& w, int round, uint64_t generation) {
  std::vector<Ipv4Prefix> prefixes{sentinel(round)};
  prefixes.insert(prefixes.end(), w.ip_rules.begin(), w.ip_rules.end());
  SlotImage image;
  image.settings.default_action = VW_ACTION_DENY;
  image.settings.flags = VW_SETTINGS_ALL_DESTINATIONS;
  image.settings.port_count = 1;
  image.settings.ports[0] = vw_port{443, IPPROTO_TCP, 0};
  image.settings.generation = generation;
  image.info.generation = generation;
  image.info.rule_prefixes = static_cast<__u32>(prefixes.size());
  image.rules = to_rule_entries(prefixes);  // ids wrap modulo VW_MAX_RULES - 1
  return image;
}

Result<void> write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return fail(EIO, "write " + path.string());
  return {};
}

// ---- Timed steps -------------------------------------------------------------

// Runs argv to completion, output discarded; returns wall ms. EPROTO when the
// command fails.
Result<double> run_process(const std::vector<std::string>& argv, const std::string& journal) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; e++) env_strings.push_back(*e);
  env_strings.push_back("VAULTWALL_JOURNAL=" + journal);
  std::vector<char*> env;
  for (std::string& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  std::string err_path = journal + ".stderr";
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  auto start = Clock::now();
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return fail(rc, "start " + argv[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return fail_errno("wait for " + argv[0]);
  double ms = ms_since(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream err(err_path);
    std::string first;
    std::getline(err, first);
    return fail(EPROTO, argv[0] + " " + (argv.size() > 3 ? argv[3] : "") + " failed (status " +
                            std::to_string(status) + "): " + first);
  }
  return ms;
}

std::vector<uint8_t> probe_frame(const Ipv4Prefix& source) {
  testing::PacketBuilder b;
  b.ethernet()
      .ipv4(testing::ipv4(address_text(source.addr)), testing::ipv4(kDestination),
            testing::kProtoTcp)
      .tcp(40000, 443);
  b.payload(64 - b.size());
  return b.bytes();
}

// One packet from the round's sentinel: PASS means the new policy is live.
Result<void> check_visible(int prog_fd, int round, const std::string& who) {
  auto run = VW_TRY(test_run_xdp(prog_fd, probe_frame(sentinel(round)), 1));
  if (run.action != XDP_PASS)
    return fail(EPROTO, who + " apply of round " + std::to_string(round) +
                            " returned but its sentinel is still dropped");
  return {};
}

struct LibraryTiming {
  double parse_ms = 0, read_ms = 0, compile_ms = 0, write_ms = 0, visible_ms = 0;
};

Result<LibraryTiming> apply_library(const Workload& w, int round, const fs::path& doc,
                                    const PinnedMaps& maps, int prog_fd) {
  LibraryTiming t;
  auto start = Clock::now();
  if (!w.ctl_path()) {
    auto slot = VW_TRY(active_slot(maps));
    auto info = VW_TRY(maps.policy_info().get(slot));
    SlotImage image = image_for(w, round, (info ? (info)->generation : 0) + 1);
    t.compile_ms = ms_since(start);
    VW_TRY(write_idle_slot_and_flip(maps, image));
    t.write_ms = ms_since(start) - t.compile_ms;
  } else {
    auto policy = load_policy_file(doc);
    if (!policy.ok()) {
      std::string first = policy.errors().empty() ? "" : policy.errors().front().path + ": " +
                                                             policy.errors().front().message;
      return fail(EINVAL, doc.string() + " does not validate: " + first);
    }
    t.parse_ms = ms_since(start);
    auto current = VW_TRY(read_kernel_policy(maps));
    t.read_ms = ms_since(start) - t.parse_ms;
    auto compilation = compile_against_kernel(*policy.value, current);
    if (!compilation.ok()) {
      std::string first = compilation.errors().empty() ? "" : compilation.errors().front().message;
      return fail(EINVAL, doc.string() + " does not compile: " + first);
    }
    t.compile_ms = ms_since(start) - t.parse_ms - t.read_ms;
    auto outcome = VW_TRY(
        apply_compiled(maps, current, *policy.value, std::move(compilation.value->compiled)));
    t.write_ms = ms_since(start) - t.parse_ms - t.read_ms - t.compile_ms;
  }
  VW_TRY(check_visible(prog_fd, round, "library"));
  t.visible_ms = ms_since(start);
  return t;
}

// ---- Memory ------------------------------------------------------------------

Result<long> slab_kib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  long value;
  std::string unit;
  while (in >> key >> value >> unit)
    if (key == "Slab:") return value;
  return fail(EIO, "no Slab line in /proc/meminfo");
}

// The memlock fdinfo reports for one map (for preallocated arrays: their size).
double memlock_bytes(int fd) {
  std::ifstream fdinfo("/proc/self/fdinfo/" + std::to_string(fd));
  std::string line;
  while (std::getline(fdinfo, line))
    if (line.rfind("memlock:", 0) == 0) return std::stod(line.substr(8));
  return 0;
}

// The public source index is preallocated when the maps are created: a
// fixed cost, whatever the number of prefixes.
Result<Json> source_index_memory(const std::string& pin_dir) {
  const std::string dir = pin_dir + "-index";
  Json out;
  {
    auto program = VW_TRY(Program::load(dir));
    auto maps = VW_TRY(PinnedMaps::open(dir));
    double total = 0;
    for (uint32_t slot = 0; slot < VW_SLOTS; slot++)
      total += memlock_bytes(maps.fd(maps.index(slot))) + memlock_bytes(maps.fd(maps.chunks(slot)));
    out = Json{{"bytes_both_slots", total},
               {"chunks_per_slot", VW_INDEX_CHUNKS},
               {"chunk_bytes", sizeof(vw_index_chunk)}};
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return out;
}

// Bytes of slab per prefix for writing `prefixes` into an empty rule trie
// of a fresh pin directory, median of `tries` (other processes move Slab
// too). Also returns what the kernel reports as the map's memlock.
Result<Json> memory_per_prefix(const std::string& pin_dir, size_t prefixes, int tries) {
  std::vector<double> per_prefix;
  double memlock = 0;
  Workload w{"memory", "library", prefixes};
  auto first = parse_ipv4_prefix("203.0.113.7/32");
  auto denied = parse_ipv4_prefix("198.51.100.20");
  auto rules = VW_TRY(build_rule_set(prefixes, RuleSetRecipe{*first, denied->addr, {}, kSeed + 7}));
  w.ip_rules = std::move(rules);
  for (int i = 0; i < tries; i++) {
    std::string dir = pin_dir + "-mem" + std::to_string(i);
    {
      auto program = VW_TRY(Program::load(dir));
      auto maps = VW_TRY(PinnedMaps::open(dir));
      SlotImage image = image_for(w, 0, 1);
      auto before = VW_TRY(slab_kib());
      TypedMap<vw_rule_key, vw_rule_value> trie = maps.rules(1);
      VW_TRY(trie.put_all(image.rules));
      // Allocations are per element, but the bpf memory allocator refills
      // its per-CPU caches asynchronously: let it settle.
      usleep(200'000);
      auto after = slab_kib();
      if (!after) return std::unexpected(after.error());
      per_prefix.push_back(1024.0 * static_cast<double>(*after - before) / image.rules.size());
      std::ifstream fdinfo("/proc/self/fdinfo/" + std::to_string(trie.fd()));
      std::string line;
      while (std::getline(fdinfo, line))
        if (line.rfind("memlock:", 0) == 0)
          memlock = std::stod(line.substr(8)) / image.rules.size();
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    // The trie just unpinned is freed asynchronously (seconds for 1M
    // nodes): a free overlapping the next write cancels its growth. Wait
    // until Slab stops shrinking (at most 20 s).
    for (int i = 0; i < 40; i++) {
      auto a = slab_kib();
      usleep(500'000);
      auto b = slab_kib();
      if (!a || !b || *a - *b < 1024) break;
    }
  }
  Spread s = spread_of(per_prefix);
  return Json{{"prefixes", prefixes},
              {"slab_bytes_per_prefix", {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"per_try", per_prefix}}},
              {"memlock_bytes_per_prefix", memlock}};
}

// ---- Main flow ---------------------------------------------------------------

Json spread_json(const std::vector<double>& values) {
  Spread s = spread_of(values);
  return Json{{"median", s.median}, {"min", s.min}, {"max", s.max}, {"per_round", values}};
}

std::vector<double> ratio_of(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out;
  for (size_t i = 0; i < a.size() && i < b.size(); i++) out.push_back(b[i] > 0 ? a[i] / b[i] : 0);
  return out;
}

Result<Json> run_workload(const Workload& w, const Options& options, int index) {
  const std::string pin_dir = options.pin_dir + "/w" + std::to_string(index);
  const fs::path dir = fs::path(options.work_dir) / ("w" + std::to_string(index));
  fs::create_directories(dir);
  const std::string journal = (dir / "journal").string();
  auto program = VW_TRY(Program::load(pin_dir));
  auto maps = VW_TRY(PinnedMaps::open(pin_dir));

  // Files first: writing them is not part of any apply. Round -2 and -1 are
  // the warm-up applies (sentinels 98 and 99 never collide with a round's).
  const int first = -2;
  for (int r = first; r < 2 * options.rounds; r++) {
    if (w.ctl_path())
      if (auto e = write_text(dir / fmt::format("doc{}.json", r), document_for(w, r, options)); !e)
        return std::unexpected(e.error());
    if (auto e = write_text(dir / fmt::format("nft{}.nft", r), nft_file_for(w, r)); !e)
      return std::unexpected(e.error());
  }
  auto doc_path = [&](int r) { return dir / fmt::format("doc{}.json", r); };
  auto nft = [&](int r) {
    return run_process({"/usr/sbin/nft", "-f", (dir / fmt::format("nft{}.nft", r)).string()}, journal);
  };
  auto ctl = [&](int r) {
    return run_process({options.ctl, "--pin-dir", pin_dir, "apply", "-f", doc_path(r).string()},
                       journal);
  };
  // Warm-up: both slots hold a policy of this size; nft has the table.
  for (int r = first; r < 0; r++) {
    VW_TRY(apply_library(w, r, doc_path(r), maps, program.prog_fd()));
    VW_TRY(nft(r));
  }

  std::vector<double> lib_total, lib_parse, lib_read, lib_compile, lib_write, ctl_total, nft_total;
  for (int round = 0; round < options.rounds; round++) {
    // Two sentinels per round: one for the library apply, one for ctl.
    const int lib_round = 2 * round, ctl_round = 2 * round + 1;
    auto do_library = [&]() -> Result<void> {
      auto t = VW_TRY(apply_library(w, lib_round, doc_path(lib_round), maps, program.prog_fd()));
      lib_total.push_back(t.visible_ms);
      lib_parse.push_back(t.parse_ms);
      lib_read.push_back(t.read_ms);
      lib_compile.push_back(t.compile_ms);
      lib_write.push_back(t.write_ms);
      return {};
    };
    auto do_ctl = [&]() -> Result<void> {
      if (!w.ctl_path()) return {};
      auto start = Clock::now();
      VW_TRY(ctl(ctl_round));
      if (auto r = check_visible(program.prog_fd(), ctl_round, "vaultwallctl"); !r)
        return std::unexpected(r.error());
      ctl_total.push_back(ms_since(start));
      return {};
    };
    auto do_nft = [&]() -> Result<void> {
      auto t = VW_TRY(nft(lib_round));
      nft_total.push_back(t);
      return {};
    };
    std::vector<std::function<Result<void>()>> steps{do_library, do_ctl, do_nft};
    if (round % 2 == 1) std::reverse(steps.begin(), steps.end());
    for (auto& step : steps) VW_TRY(step());
    fmt::print(stderr, "  {} round {}/{}: library {:.1f} ms{} nft {:.1f} ms\n", w.name, round + 1,
               options.rounds, lib_total.back(),
               ctl_total.empty() ? std::string(",") : fmt::format(", ctl {:.1f} ms,", ctl_total.back()),
               nft_total.back());
  }
  // Flip alone: the grace-period wait every apply starts with, and the
  // one-word write that makes the idle slot live.
  std::vector<double> grace, flip;
  for (int i = 0; i < std::max(5, options.rounds); i++) {
    auto start = Clock::now();
    VW_TRY(wait_for_readers(maps));
    grace.push_back(ms_since(start));
    auto slot = VW_TRY(active_slot(maps));
    start = Clock::now();
    VW_TRY(maps.active().put(0, vw_active{slot}));
    flip.push_back(ms_since(start));
  }
  // Clean-up of the comparison table: a failure leaves only an nft table behind.
  (void)run_process({"/usr/sbin/nft", "delete", "table", "ip", "vwbapply"}, journal);

  Json out{{"workload", w.name},
           {"kind", w.kind},
           {"prefixes", w.prefixes},
           {"path", w.ctl_path() ? "parse -> validate -> compile -> write idle slot -> flip -> "
                                   "probe packet (library and vaultwallctl apply -f)"
                                 : "kernel library only (SlotImage, rule ids modulo 16383): "
                                   "beyond what the compiler accepts"},
           {"library_ms", spread_json(lib_total)},
           {"library_phases_ms",
            {{"parse_validate", spread_json(lib_parse)},
             {"read_kernel_policy", spread_json(lib_read)},
             {"compile", spread_json(lib_compile)},
             {"write_flip", spread_json(lib_write)}}},
           {"nft_ms", spread_json(nft_total)},
           {"library_to_nft", spread_json(ratio_of(lib_total, nft_total))},
           {"grace_period_ms", spread_json(grace)},
           {"flip_word_ms", spread_json(flip)}};
  if (!ctl_total.empty()) {
    out["ctl_ms"] = spread_json(ctl_total);
    out["ctl_to_nft"] = spread_json(ratio_of(ctl_total, nft_total));
  }
  std::error_code ec;
  fs::remove_all(pin_dir, ec);
  return out;
}

Result<void> enter_netns(const std::string& name) {
  std::string path = "/run/netns/" + name;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("open " + path);
  int rc = setns(fd, CLONE_NEWNET);
  close(fd);
  if (rc != 0) return fail_errno("enter network namespace " + name);
  return {};
}

Result<Json> run_benchmark(const Options& options) {
  if (!options.netns.empty()) VW_TRY(enter_netns(options.netns));
  auto tags = VW_TRY(load_service_tag_prefixes(options.service_tags));
  Json doc;
  doc["schema"] = "vaultwall-bench-apply/1";
  doc["context"] = collect_run_context(options.commit);
  doc["method"] = {
      {"rounds", options.rounds},
      {"order", "per workload and round: library, vaultwallctl, nft; reversed every other round"},
      {"state", "steady state: two warm-up applies first, so every timed apply replaces N "
                "prefixes with N (one sentinel /32 differs)"},
      {"visible", "one BPF_PROG_TEST_RUN of a packet from the round's sentinel source returns "
                  "XDP_PASS (default deny otherwise)"},
      {"nft", "nft -f: atomic table replace with one interval set (auto-merge) of the same "
              "prefixes and a prerouting rule using it, in network namespace " +
                  (options.netns.empty() ? std::string("(caller's)") : options.netns)},
      {"memory", "Slab delta (/proc/meminfo) around a batch write into an empty rule trie"}};
  auto start_times = VW_TRY(read_cpu_times());
  Json results = Json::array();
  for (size_t i = 0; i < options.workloads.size(); i++) {
    auto w = VW_TRY(make_workload(options.workloads[i], options, tags));
    fmt::print(stderr, "workload {} ({} prefixes)\n", w.name, w.prefixes);
    auto r = VW_TRY(run_workload(w, options, static_cast<int>(i)));
    results.push_back(r);
  }
  doc["results"] = results;
  if (options.memory) {
    Json memory = Json::array();
    for (size_t n : {size_t{100'000}, size_t{1'000'000}}) {
      auto m = VW_TRY(memory_per_prefix(options.pin_dir + "/mem", n, 3));
      fmt::print(stderr, "memory: {} prefixes, {:.0f} B of slab per prefix\n", n,
                 (m)["slab_bytes_per_prefix"]["median"].get<double>());
      memory.push_back(m);
    }
    doc["memory"] = memory;
    auto index = VW_TRY(source_index_memory(options.pin_dir + "/mem"));
    doc["source_index_memory"] = index;
  }
  auto end_times = VW_TRY(read_cpu_times());
  doc["context"]["loadavg_at_end"] = load_average();
  doc["steal_percent"] = {{"total", steal_percent(start_times, end_times)}};
  return doc;
}

int run(int argc, char** argv) {
  Options options;
  CLI::App app{"vaultwall apply-time benchmark: document to first packet, vs nft -f (root). "
               "Not a test: it reports, it asserts nothing."};
  app.add_option("--rounds", options.rounds, "interleaved rounds")->check(CLI::Range(1, 40));
  app.add_option("--workloads", options.workloads,
                 "tags:N, ip:N, trusted:N (254 rules + N-254 custom trusted), library:N")
      ->delimiter(',');
  app.add_option("--ctl", options.ctl, "the vaultwallctl binary")->required()->check(CLI::ExistingFile);
  app.add_option("--netns", options.netns, "network namespace (ip netns name) to run in");
  app.add_option("--pin-dir", options.pin_dir, "bpffs directory for pins; removed at exit")->required();
  app.add_option("--work-dir", options.work_dir, "directory for documents and nft files")->required();
  app.add_option("--out", options.out, "JSON result file");
  app.add_option("--commit", options.commit, "git commit being measured");
  app.add_option("--service-tags", options.service_tags, "ServiceTags JSON")->check(CLI::ExistingFile);
  app.add_flag("!--no-memory", options.memory, "skip the memory-per-prefix measurement");
  CLI11_PARSE(app, argc, argv);

  if (auto r = check_privileges_and_bpffs(options.pin_dir); !r) {
    fmt::print(stderr, "vaultwall_bench_apply: {}\n", r.error().message());
    return 1;
  }
  auto doc = run_benchmark(options);
  std::error_code ec;
  fs::remove_all(options.pin_dir, ec);
  if (!doc) {
    fmt::print(stderr, "vaultwall_bench_apply: {}\n", doc.error().message());
    return 1;
  }
  for (const Json& r : (*doc)["results"])
    fmt::print("{:<18} {:>8} prefixes  library {:8.1f} ms  ctl {:>8}  nft {:8.1f} ms  library/nft {:.2f}\n",
               r["workload"].get<std::string>(), r["prefixes"].get<size_t>(),
               r["library_ms"]["median"].get<double>(),
               r.contains("ctl_ms") ? fmt::format("{:.1f} ms", r["ctl_ms"]["median"].get<double>()) : "-",
               r["nft_ms"]["median"].get<double>(), r["library_to_nft"]["median"].get<double>());
  if (!options.out.empty()) {
    std::ofstream out(options.out);
    out << doc->dump(1) << "\n";
    if (!out) {
      fmt::print(stderr, "vaultwall_bench_apply: cannot write {}\n", options.out);
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace vaultwall::bench

int main(int argc, char** argv) { return vaultwall::bench::run(argc, argv); }
