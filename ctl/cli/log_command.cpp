// vaultwallctl log: deny and audit events from the program's ring buffer,
// one JSON line each (shaped like Key Vault's AuditEvent) or a table.
//
// Reads the pinned ring buffer, so it works after any restart of ctl. A ring
// buffer has one consumer position: two `log` readers at once split the
// events between them, so run one (the systemd service) per host.
// --follow keeps reading until SIGINT/SIGTERM; --output-file appends to a
// file that SIGHUP reopens (logrotate's postrotate), else lines go to stdout
// (journald under systemd), flushed one by one.
#include <bpf/libbpf.h>
#include <net/if.h>
#include <time.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include "cli/common.h"
#include "vaultwall/observability.h"

namespace vaultwall::cli {
namespace {

std::atomic<bool> stop_requested{false};
std::atomic<bool> reopen_requested{false};

void on_stop(int) { stop_requested = true; }
void on_hangup(int) { reopen_requested = true; }

void install_signal_handlers() {
  struct sigaction stop {};
  stop.sa_handler = on_stop;
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  struct sigaction hangup {};
  hangup.sa_handler = on_hangup;
  sigaction(SIGHUP, &hangup, nullptr);
}

uint64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct LogOptions {
  bool follow = false;
  std::string format = "jsonl";
  std::string output_file;
};

// Writes events where the options say, naming interfaces and rules.
class EventWriter {
 public:
  EventWriter(const PinnedMaps& maps, const LogOptions& options) : maps_(maps), options_(options) {}

  Result<void> open() {
    if (options_.output_file.empty()) {
      out_ = stdout;
    } else {
      std::FILE* file = std::fopen(options_.output_file.c_str(), "a");
      if (!file) return fail_errno("open " + options_.output_file);
      if (out_ && out_ != stdout) std::fclose(out_);
      out_ = file;
    }
    if (options_.format == "table" && !header_written_) {
      std::fprintf(out_, "%s\n", event_table_header().c_str());
      header_written_ = true;
    }
    return {};
  }

  ~EventWriter() {
    if (out_ && out_ != stdout) std::fclose(out_);
  }

  void write(const vw_event& e) {
    // Event times are CLOCK_MONOTONIC; the offset to wall-clock time is read
    // per event, so a clock step (NTP) shows up from the next event on.
    uint64_t wall_ns = e.time_ns + (clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC));
    EventNames names{interface_name(e.ifindex), rule_text(e.rule_id)};
    if (options_.format == "table")
      std::fprintf(out_, "%s\n", event_table_row(e, wall_ns, names).c_str());
    else
      std::fprintf(out_, "%s\n", event_json(e, wall_ns, names).dump().c_str());
    std::fflush(out_);
    written_++;
  }

  uint64_t written() const { return written_; }

 private:
  std::string interface_name(uint32_t ifindex) {
    char name[IF_NAMESIZE] = "";
    if (ifindex == 0 || !if_indextoname(ifindex, name)) return "";
    return name;
  }

  // Rule texts are cached per id; an id that a later apply reuses would keep
  // its old text until restart, which is why events carry the generation.
  std::string rule_text(uint32_t rule_id) {
    if (rule_id == VW_RULE_NONE) return "";
    if (auto it = rule_texts_.find(rule_id); it != rule_texts_.end()) return it->second;
    auto info = maps_.rule_info().get(rule_id);
    std::string text = (info && *info) ? std::string((*info)->text) : "";
    return rule_texts_[rule_id] = text;
  }

  const PinnedMaps& maps_;
  const LogOptions& options_;
  std::FILE* out_ = nullptr;
  bool header_written_ = false;
  uint64_t written_ = 0;
  std::map<uint32_t, std::string> rule_texts_;
};

int on_event(void* writer, void* data, size_t size) {
  if (size < sizeof(vw_event)) return 0;  // never: the program writes whole events
  vw_event e;
  std::memcpy(&e, data, sizeof(e));
  static_cast<EventWriter*>(writer)->write(e);
  return 0;
}

struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};

int cmd_log(const Globals& g, const LogOptions& options) {
  auto maps = open_maps(g);
  if (!maps) return report(maps.error());
  EventWriter writer(*maps, options);
  if (auto r = writer.open(); !r) return report(r.error());
  std::unique_ptr<ring_buffer, RingBufferDeleter> rb(
      ring_buffer__new(maps->events_fd(), on_event, &writer, nullptr));
  if (!rb) return report(Error{errno, "open the event ring buffer " VW_MAP_EVENTS, ""});

  if (!options.follow) {
    // What is waiting now, then exit.
    int n = ring_buffer__consume(rb.get());
    if (n < 0) return report(Error{-n, "read " VW_MAP_EVENTS, ""});
    return kExitOk;
  }
  install_signal_handlers();
  constexpr int kPollMs = 250;  // how soon a signal is noticed when idle
  while (!stop_requested) {
    int n = ring_buffer__poll(rb.get(), kPollMs);
    if (n < 0 && n != -EINTR) return report(Error{-n, "read " VW_MAP_EVENTS, ""});
    if (reopen_requested.exchange(false) && !options.output_file.empty())
      if (auto r = writer.open(); !r) return report(r.error());
  }
  ring_buffer__consume(rb.get());  // what arrived while stopping
  return kExitOk;
}

}  // namespace

void add_log_commands(CLI::App& app, Globals& g, Commands& commands) {
  auto options = std::make_shared<LogOptions>();
  auto* log = app.add_subcommand(
      "log", "print deny and audit events (one AuditEvent-shaped JSON line each); they are "
             "consumed: run one reader per host");
  log->add_flag("-f,--follow", options->follow, "keep reading until SIGINT or SIGTERM");
  // One JSON object per line; "json" is accepted for it too.
  add_output_option(commands, log, {"jsonl", "json", "table"});
  log->add_option("--output-file", options->output_file,
                  "append to this file instead of stdout; SIGHUP reopens it (logrotate)");
  commands.add(log, [&g, options] {
    options->format = g.output == "table" ? "table" : "jsonl";
    return cmd_log(g, *options);
  });
}

}  // namespace vaultwall::cli
