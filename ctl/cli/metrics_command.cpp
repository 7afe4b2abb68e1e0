// vaultwallctl metrics: the counters in Prometheus text exposition format.
// Three ways out: stdout (once), --textfile DIR (node_exporter's textfile
// collector: DIR/vaultwall.prom replaced atomically, e.g. from a timer), and
// --listen ADDR:PORT (serves GET /metrics, reading the maps at scrape time,
// until SIGINT/SIGTERM).
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/common.h"
#include "vaultwall/apply.h"
#include "vaultwall/observability.h"
#include "vaultwall/sha256.h"

namespace vaultwall::cli {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

Result<MetricsSnapshot> read_snapshot(const PinnedMaps& maps) {
  MetricsSnapshot m;
  auto stats = read_stats(maps);
  if (!stats) return std::unexpected(stats.error());
  m.stats = std::move(*stats);
  auto events = maps.read_event_stats();
  if (!events) return std::unexpected(events.error());
  m.events = *events;
  auto active = maps.active().get(0);
  if (!active) return std::unexpected(active.error());
  const vw_active live = active->value_or(vw_active{});
  const uint32_t slot = live.slot & 1;
  auto info = maps.policy_info().get(slot);
  if (!info) return std::unexpected(info.error());
  if (*info) {
    m.generation = (*info)->generation;
    m.applied_at_unix_ns = (*info)->applied_at_unix_ns;
    if (m.generation != 0) m.digest = to_hex((*info)->digest, VW_DIGEST_LEN);
    m.profile = std::string((*info)->profile, strnlen((*info)->profile, VW_PROFILE_LEN));
  }
  m.mode = live.settings[slot].mode;
  auto interfaces = read_interface_attachments(maps.pin_dir());
  if (!interfaces) return std::unexpected(interfaces.error());
  m.interfaces = std::move(*interfaces);
  return m;
}

Result<std::string> metrics_text(const PinnedMaps& maps) {
  auto snapshot = read_snapshot(maps);
  if (!snapshot) return std::unexpected(snapshot.error());
  return render_metrics(*snapshot);
}

// Writes DIR/vaultwall.prom through a temporary file and rename(2), so the
// collector never reads half a file.
Result<void> write_textfile(const std::string& dir, const std::string& text) {
  std::string final_path = dir + "/vaultwall.prom";
  std::string temp_path = final_path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp_path, std::ios::trunc);
    if (!out) return fail_errno("create " + temp_path, "does the directory exist?");
    out << text;
    out.flush();
    if (!out) return fail_errno("write " + temp_path);
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    ::unlink(temp_path.c_str());
    return fail_errno("rename " + temp_path + " to " + final_path);
  }
  return {};
}

std::atomic<bool> stop_requested{false};
void on_stop(int) { stop_requested = true; }

Result<std::pair<std::string, int>> parse_listen_address(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    return fail(EINVAL, "--listen " + text + " is not ADDR:PORT", "e.g. --listen 127.0.0.1:9465");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = std::atoi(text.c_str() + colon + 1);
  if (port <= 0 || port > 65535) return fail(EINVAL, "--listen " + text + ": bad port");
  return std::pair{host.empty() ? std::string("0.0.0.0") : host, port};
}

int serve(const PinnedMaps& maps, const std::string& address) {
  auto where = parse_listen_address(address);
  if (!where) return report(where.error());
  httplib::Server server;
  server.Get("/metrics", [&maps](const httplib::Request&, httplib::Response& response) {
    auto text = metrics_text(maps);
    if (!text) {
      // A failed read is an error, never zeros: Prometheus marks the scrape failed.
      response.status = 500;
      response.set_content(text.error().message() + "\n", "text/plain");
      return;
    }
    response.set_content(*text, kContentType);
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("vaultwall metrics: see /metrics\n", "text/plain");
  });
  if (!server.bind_to_port(where->first.c_str(), where->second))
    return report(Error{EADDRNOTAVAIL, "listen on " + address, "is the port free and the address local?"});

  struct sigaction stop {};
  stop.sa_handler = on_stop;
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  // httplib's stop() is not async-signal-safe: a watcher thread calls it.
  std::thread watcher([&server] {
    while (!stop_requested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server.stop();
  });
  std::cerr << "vaultwallctl: serving metrics on http://" << address << "/metrics\n";
  server.listen_after_bind();
  stop_requested = true;
  watcher.join();
  return kExitOk;
}

struct MetricsOptions {
  std::string listen;
  std::string textfile_dir;
};

int cmd_metrics(const Globals& g, const MetricsOptions& options) {
  auto maps = open_maps(g);
  if (!maps) return report(maps.error());
  if (!options.listen.empty()) return serve(*maps, options.listen);
  auto text = metrics_text(*maps);
  if (!text) return report(text.error());
  if (!options.textfile_dir.empty()) {
    if (auto r = write_textfile(options.textfile_dir, *text); !r) return report(r.error());
    return kExitOk;
  }
  std::cout << *text;
  return kExitOk;
}

}  // namespace

void add_metrics_commands(CLI::App& app, Globals& g, Commands& commands) {
  auto options = std::make_shared<MetricsOptions>();
  auto* metrics = app.add_subcommand(
      "metrics", "print counters in Prometheus text format, write them for node_exporter, or serve them");
  auto* listen = metrics->add_option("--listen", options->listen,
                                     "serve GET /metrics on ADDR:PORT until SIGINT/SIGTERM");
  auto* textfile = metrics->add_option(
      "--textfile", options->textfile_dir,
      "write DIR/vaultwall.prom atomically (node_exporter textfile collector)");
  listen->excludes(textfile);
  commands.add(metrics, [&g, options] { return cmd_metrics(g, *options); });
}

}  // namespace vaultwall::cli
