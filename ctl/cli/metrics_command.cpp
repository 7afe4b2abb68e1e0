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
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/common.h"
#include "vaultwall/apply/apply.h"
#include "vaultwall/apply/live_maps.h"
#include "vaultwall/apply/metrics_server.h"
#include "vaultwall/apply/observability.h"
#include "vaultwall/common/io.h"
#include "vaultwall/common/signals.h"
#include "vaultwall/common/text.h"
#include "vaultwall/kernel/program.h"

namespace vaultwall::cli {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// One read of the live slot: its policy info and settings come with the
// ids the counters are listed by.
Result<MetricsSnapshot> read_snapshot(const PinnedMaps& maps) {
  const KernelPolicy current = VW_TRY(read_kernel_state(maps));
  MetricsSnapshot m;
  m.stats = VW_TRY(read_stats(maps, current));
  m.events = VW_TRY(maps.read_event_stats());
  m.generation = current.info.generation;
  m.applied_at_unix_ns = current.info.applied_at_unix_ns;
  m.digest = current.version().digest;
  m.profile = fixed_text(current.info.profile);
  m.mode = current.settings.mode;
  m.interfaces = VW_TRY(read_interface_attachments(maps.pin_dir()));
  return m;
}

Result<std::string> metrics_text(const PinnedMaps& maps) {
  return render_metrics(VW_TRY(read_snapshot(maps)));
}

// The metrics of the maps pinned now. Says on stderr, once each time, when
// the maps were replaced or are gone.
class LiveMetrics {
 public:
  explicit LiveMetrics(const std::string& pin_dir) : live_(pin_dir) {}

  Result<std::string> read() {
    auto maps = live_.current();
    if (!maps) {
      if (!gone_) warn_now("metrics: " + maps.error().message());
      gone_ = true;
      return std::unexpected(maps.error());
    }
    if (live_.epoch() != epoch_ && epoch_ != 0)
      warn_now("metrics: the maps at " + live_.pin_dir() +
               " were replaced (a purge and a new load); reading the new ones");
    epoch_ = live_.epoch();
    gone_ = false;
    return metrics_text(**maps);
  }

 private:
  LiveMaps live_;
  uint64_t epoch_ = 0;
  bool gone_ = false;
};

// DIR/vaultwall.prom, replaced atomically: the collector never reads half
// a file, and a full disk leaves the previous file whole.
Result<void> write_textfile(const std::string& dir, const std::string& text) {
  return replace_file(dir + "/vaultwall.prom", text);
}

Report serve(const std::string& pin_dir, const std::string& address) {
  auto server = MetricsServer::listen(address);
  if (!server) return failed_report(server.error());
  stop_on_signals();
  LiveMetrics metrics(pin_dir);
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
Report textfile_loop(const std::string& pin_dir, const std::string& dir,
                     std::chrono::seconds interval) {
  stop_on_signals();
  LiveMetrics metrics(pin_dir);
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

struct MetricsOptions {
  std::string listen;
  std::string textfile_dir;
  unsigned interval_seconds = 0;
};

// The exposition is a stream format of its own: written to stdout as is,
// not through a Report.
Report cmd_metrics(const Globals& g, const MetricsOptions& options) {
  if (!options.listen.empty() || options.interval_seconds > 0) {
    // The pins may come later (purge, then load): only what cannot change is checked now.
    if (auto r = check_privileges_and_bpffs(g.pin_dir); !r) return failed_report(r.error());
  }
  if (!options.listen.empty()) return serve(g.pin_dir, options.listen);
  if (options.interval_seconds > 0)
    return textfile_loop(g.pin_dir, options.textfile_dir,
                         std::chrono::seconds(options.interval_seconds));
  auto maps = open_maps(g);
  if (!maps) return failed_report(maps.error());
  auto text = metrics_text(*maps);
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
  listen->excludes(textfile);
  commands.add(metrics, [&g, options] { return cmd_metrics(g, *options); },
               Commands::Output::kStream);
}

}  // namespace vaultwall::cli
