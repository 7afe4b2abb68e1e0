// vaultwallctl metrics: the counters in Prometheus text exposition format.
// Three ways out: stdout (once), --textfile DIR (node_exporter's textfile
// collector: DIR/vaultwall.prom replaced atomically, once or every
// --interval seconds), and --listen ADDR:PORT (serves GET /metrics, reading
// the maps at scrape time, until SIGINT/SIGTERM).
//
// The long-running forms follow the live maps (LiveMaps): after a purge and
// a new load they read the new pins within a scrape or an interval, and
// while nothing is pinned a scrape fails (500) and the textfile is removed,
// so no dashboard shows frozen counters as current.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/common.h"
#include "vaultwall/apply/apply.h"
#include "vaultwall/common/clock.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/common/signals.h"
#include "vaultwall/apply/live_maps.h"
#include "vaultwall/apply/metrics_server.h"
#include "vaultwall/apply/observability.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/policy/sha256.h"

namespace vaultwall::cli {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

struct MetricsOptions {
  std::string listen;
  std::string textfile_dir;
  unsigned interval_seconds = 0;
  bool no_rule_metrics = false;
  unsigned verify_interval_seconds = 60;
};

// Per-rule last hits in wall time; none when the kernel clock cannot be read.
std::map<uint32_t, uint64_t> rule_last_hits(const std::vector<RuleCounters>& rules) {
  std::map<uint32_t, uint64_t> out;
  auto clock = JiffiesClock::read();
  if (!clock) return out;
  for (const RuleCounters& r : rules)
    if (r.counters.last_hit_jiffies) out[r.id] = clock->to_unix_ns(r.counters.last_hit_jiffies);
  return out;
}

Result<MetricsSnapshot> read_snapshot(const PinnedMaps& maps, const MetricsOptions& options,
                                      MetricsFactsReader& facts) {
  MetricsSnapshot m;
  m.per_rule = !options.no_rule_metrics;
  m.stats = VW_TRY(read_stats(maps));
  m.events = VW_TRY(maps.read_event_stats());
  const vw_active live = VW_TRY(maps.active().get(0)).value_or(vw_active{});
  const uint32_t slot = live.slot & 1;
  if (auto info = VW_TRY(maps.policy_info().get(slot))) {
    m.generation = info->generation;
    m.applied_at_unix_ns = info->applied_at_unix_ns;
    if (m.generation != 0) m.digest = to_hex(info->digest, VW_DIGEST_LEN);
    m.profile = std::string(info->profile, strnlen(info->profile, VW_PROFILE_LEN));
  }
  m.mode = live.settings[slot].mode;
  m.deny_action = live.settings[slot].deny_action;
  auto interfaces = read_interface_attachments(maps.pin_dir());
  if (!interfaces) return std::unexpected(interfaces.error());
  m.interfaces = std::move(*interfaces);
  if (m.per_rule) m.rule_last_hit_unix_ns = rule_last_hits(m.stats.rules);
  m.facts = VW_TRY(facts.read(maps));
  return m;
}

Result<std::string> metrics_text(const PinnedMaps& maps, const MetricsOptions& options,
                                 MetricsFactsReader& facts) {
  return render_metrics(VW_TRY(read_snapshot(maps, options, facts)));
}

MetricsFactsReader facts_reader(const Globals& g, const MetricsOptions& options) {
  return MetricsFactsReader(journal_path(g.journal),
                            std::chrono::seconds(options.verify_interval_seconds));
}

// The metrics of the maps pinned now. Says on stderr, once each time, when
// the maps were replaced or are gone.
class LiveMetrics {
 public:
  LiveMetrics(const Globals& g, const MetricsOptions& options)
      : live_(g.pin_dir), options_(options), facts_(facts_reader(g, options)) {}

  Result<std::string> read() {
    auto maps = live_.current();
    if (!maps) {
      if (!gone_) warn_now("metrics: " + maps.error().message());
      gone_ = true;
      return std::unexpected(maps.error());
    }
    if (live_.epoch() != epoch_ && epoch_ != 0) {
      warn_now("metrics: the maps at " + live_.pin_dir() +
           " were replaced (a purge and a new load); reading the new ones");
      facts_.forget_policy();
    }
    epoch_ = live_.epoch();
    gone_ = false;
    auto text = metrics_text(**maps, options_, facts_);
    say_when_out_of_sync(facts_.last().sync);
    return text;
  }

 private:
  // Once per change: the metric says that it drifted, the service's log says how.
  void say_when_out_of_sync(const SyncFacts& sync) {
    const bool drifted = sync.checked && !sync.in_sync;
    if (drifted && !drifted_)
      warn_now("metrics: vaultwall_policy_in_sync is 0: " + sync.problem +
           "; vaultwallctl verify shows every difference, apply --force -f FILE repairs them");
    else if (!drifted && drifted_ && sync.checked)
      warn_now("metrics: vaultwall_policy_in_sync is 1 again");
    drifted_ = drifted;
  }

  bool drifted_ = false;
  LiveMaps live_;
  const MetricsOptions& options_;
  MetricsFactsReader facts_;
  uint64_t epoch_ = 0;
  bool gone_ = false;
};

// Writes DIR/vaultwall.prom through a temporary file (created fresh, never
// through a symlink) and rename(2), so the collector never reads half a
// file and a full disk leaves the previous file whole.
Result<void> write_textfile(const std::string& dir, const std::string& text) {
  std::string final_path = dir + "/vaultwall.prom";
  std::string temp_path = dir + "/.vaultwall.prom." + std::to_string(::getpid()) + ".tmp";
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::open(temp_path.c_str(), flags, 0644);
  if (fd < 0 && errno == EEXIST && ::unlink(temp_path.c_str()) == 0)
    fd = ::open(temp_path.c_str(), flags, 0644);
  if (fd < 0) return fail_errno("create " + temp_path, "does the directory exist?");
  UniqueFd owned(fd);
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int saved = n < 0 ? errno : ENOSPC;
      ::unlink(temp_path.c_str());
      return fail(saved, "write " + temp_path);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    int saved = errno;
    ::unlink(temp_path.c_str());
    return fail(saved, "replace " + final_path);
  }
  return {};
}

Report serve(const Globals& g, const MetricsOptions& options) {
  const std::string& address = options.listen;
  auto server = MetricsServer::listen(address);
  if (!server) return failed_report(server.error());
  stop_on_signals();
  LiveMetrics metrics(g, options);
  spdlog::info("serving metrics on http://{}/metrics", address);
  auto served = server->serve(
      [&metrics] {
        auto text = metrics.read();
        // A failed read is an error, never zeros: Prometheus marks the scrape failed.
        if (!text)
          return HttpReply{500, "text/plain; charset=utf-8", text.error().message() + "\n"};
        return HttpReply{200, kContentType, std::move(*text)};
      },
      [] { return stop_requested(); });
  if (!served) return failed_report(served.error());
  const auto& c = server->counts();
  spdlog::info("metrics server stopped: {} replies, {} connections timed out, {} dropped when full",
               c.replied, c.timed_out, c.dropped_for_room + c.refused);
  return {};
}

// Rewrites the textfile every `interval` until SIGINT/SIGTERM. While the
// maps cannot be read the file is removed: node_exporter then exports no
// vaultwall series (alert on their absence) instead of stale ones.
Report textfile_loop(const Globals& g, const MetricsOptions& options) {
  const std::string& dir = options.textfile_dir;
  const std::chrono::seconds interval(options.interval_seconds);
  stop_on_signals();
  LiveMetrics metrics(g, options);
  bool failing = false;
  while (!stop_requested()) {
    auto text = metrics.read();
    Result<void> written = text ? write_textfile(dir, *text) : std::unexpected(text.error());
    if (!written && !failing) {
      warn_now("metrics: " + written.error().message() + "; " + dir +
           "/vaultwall.prom removed until it can be written");
      ::unlink((dir + "/vaultwall.prom").c_str());
    }
    failing = !written;
    const auto next = std::chrono::steady_clock::now() + interval;
    while (!stop_requested() && std::chrono::steady_clock::now() < next)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {};
}

Report cmd_metrics(const Globals& g, const MetricsOptions& options) {
  if (!options.listen.empty() || options.interval_seconds > 0) {
    // The pins may come later (purge, then load): only what cannot change is checked now.
    if (auto r = check_privileges_and_bpffs(g.pin_dir); !r) return failed_report(r.error());
  }
  if (!options.listen.empty()) return serve(g, options);
  if (options.interval_seconds > 0) return textfile_loop(g, options);
  auto maps = open_maps(g);
  if (!maps) return failed_report(maps.error());
  MetricsFactsReader facts = facts_reader(g, options);
  auto text = metrics_text(*maps, options, facts);
  if (!text) return failed_report(text.error());
  if (!options.textfile_dir.empty()) {
    if (auto r = write_textfile(options.textfile_dir, *text); !r) return failed_report(r.error());
    return {};
  }
  std::cout << *text;
  return {};
}

}  // namespace

void add_metrics_commands(CLI::App& app, Globals& g, Commands& commands) {
  auto options = std::make_shared<MetricsOptions>();
  auto* metrics = app.add_subcommand(
      "metrics", "print counters in Prometheus text format, write them for node_exporter, or serve them");
  auto* listen = metrics->add_option(
      "--listen", options->listen,
      "serve GET /metrics on ADDR:PORT until SIGINT/SIGTERM (:PORT is loopback; 0.0.0.0:PORT for every address)");
  auto* textfile = metrics->add_option(
      "--textfile", options->textfile_dir,
      "write DIR/vaultwall.prom atomically (node_exporter textfile collector)");
  auto* interval = metrics->add_option(
      "--interval", options->interval_seconds,
      "with --textfile: rewrite it every SECONDS until SIGINT/SIGTERM (default: once)");
  interval->needs(textfile)->check(CLI::Range(1u, 86400u));
  metrics->add_flag("--no-rule-metrics", options->no_rule_metrics,
                    "leave out the series per rule (a rule label can be a 345-character subnet id, "
                    "and there can be 16k rules)");
  metrics
      ->add_option("--verify-interval", options->verify_interval_seconds,
                   "run the drift check behind vaultwall_policy_in_sync at most every SECONDS "
                   "(default 60; at once after an apply)")
      ->check(CLI::Range(1u, 86400u));
  listen->excludes(textfile);
  commands.add(metrics, [&g, options] { return cmd_metrics(g, *options); },
               Commands::Output::kStream);
}

}  // namespace vaultwall::cli
