// vaultwallctl log: deny and audit events from the program's ring buffer,
// one JSON line each (shaped like Key Vault's AuditEvent) or a table.
//
// Reads the pinned ring buffer, so it works after any restart of ctl. A ring
// buffer has one consumer position: two readers at once would split the
// events between them, so a reader holds a lock per pin directory (a file
// under /run/vaultwall, or $VAULTWALL_RUN_DIR) and a second one is refused.
// --follow keeps reading until SIGINT/SIGTERM and follows the live maps:
// after a purge and a new load it drains the old ring buffer and reads the
// new one within a second. --output-file appends to a file that SIGHUP
// reopens (logrotate's postrotate), else lines go to stdout (journald under
// systemd), flushed one by one.
//
// Interface names come from vaultwall's pinned links (each link knows its
// ifindex, in the namespace it was attached in), not from the reader's
// namespace, where the same ifindex may be another interface or none.
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include "cli/common.h"
#include "vaultwall/apply/deny_log.h"
#include "vaultwall/apply/live_maps.h"
#include "vaultwall/apply/observability.h"
#include "vaultwall/common/signals.h"
#include "vaultwall/common/text.h"
#include "vaultwall/common/time.h"
#include "vaultwall/kernel/attach.h"
#include "vaultwall/kernel/program.h"

namespace vaultwall::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct LogOptions {
  bool follow = false;
  std::string format = "jsonl";
  std::string output_file;
};

// ---- one reader per pin directory -------------------------------------------------

std::string run_dir() {
  const char* dir = std::getenv("VAULTWALL_RUN_DIR");
  return dir && *dir ? dir : "/run/vaultwall";
}

// The lock file of a pin directory's event reader: /run/vaultwall/log-sys-fs-bpf-vaultwall.lock
std::string reader_lock_path(const std::string& pin_dir) {
  std::string key;
  for (char c : pin_dir) {
    if (c == '/') {
      if (!key.empty() && key.back() != '-') key += '-';
    } else {
      key += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ? c : '_';
    }
  }
  while (!key.empty() && key.back() == '-') key.pop_back();
  return run_dir() + "/log-" + key + ".lock";
}

// Where a reader keeps the connections it saw, for the next reader's
// correlationIds (next to its lock, so only the lock holder writes it).
std::string connections_path(const std::string& pin_dir) {
  std::string path = reader_lock_path(pin_dir);
  return path.substr(0, path.size() - 5) + ".connections";
}

std::string read_small_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  std::string text;
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return text;
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof(buffer))) > 0 && text.size() < (64u << 20);)
    text.append(buffer, static_cast<size_t>(n));
  return text;
}

// Replaces path through a temporary file; false (errno set) when it could not.
bool write_small_file(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  ::unlink(temp.c_str());
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  bool ok = fd.valid();
  for (size_t done = 0; ok && done < text.size();) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  if (ok && ::rename(temp.c_str(), path.c_str()) == 0) return true;
  int saved = errno ? errno : EIO;
  ::unlink(temp.c_str());
  errno = saved;
  return false;
}

// Holds the reader lock of pin_dir for the process's lifetime. EBUSY when
// another reader holds it. When the lock file cannot be made at all (a
// read-only /run), a warning, and the reader goes on unguarded.
Result<UniqueFd> lock_event_reader(const std::string& pin_dir) {
  const std::string path = reader_lock_path(pin_dir);
  ::mkdir(run_dir().c_str(), 0700);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    warn_now("cannot take the event reader lock " + path + " (" + std::strerror(errno) +
         "): make sure no other vaultwallctl log reads " + pin_dir);
    return UniqueFd();
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {};
    ssize_t n = ::pread(fd.get(), holder, sizeof(holder) - 1, 0);
    std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return fail(EBUSY,
                "another vaultwallctl log --follow (pid " + pid + ") reads the events of " +
                    pin_dir +
                    "; a ring buffer has one consumer position, so a second reader would take "
                    "events from it",
                "read that reader's output, or stop it first (systemctl stop vaultwall-log)");
  }
  // The pid is only for the message above: a failed write changes nothing.
  std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) (void)!::pwrite(fd.get(), me.data(), me.size(), 0);
  return fd;
}

// ---- names ---------------------------------------------------------------------------

// ifindex -> interface, from the pinned XDP links of pin_dir. Reloaded when an
// event names an ifindex it does not know (at most once a second).
class InterfaceNames {
 public:
  explicit InterfaceNames(std::string pin_dir) : pin_dir_(std::move(pin_dir)) {}

  std::string name(uint32_t ifindex) {
    if (ifindex == 0) return "";
    if (auto it = names_.find(ifindex); it != names_.end()) return it->second;
    if (Clock::now() - loaded_at_ < std::chrono::seconds(1)) return "";
    reload();
    auto it = names_.find(ifindex);
    return it == names_.end() ? "" : it->second;
  }

  void reload() {
    loaded_at_ = Clock::now();
    names_.clear();
    auto interfaces = attached_interfaces(pin_dir_);
    if (!interfaces) return;
    for (const std::string& interface : *interfaces) {
      auto link = open_pinned(link_pin_path(pin_dir_, interface));
      if (!link) continue;
      bpf_link_info info{};
      __u32 length = sizeof(info);
      if (bpf_obj_get_info_by_fd(link->get(), &info, &length) != 0 || info.xdp.ifindex == 0)
        continue;
      // Two namespaces may each have the interface this ifindex names.
      std::string& name = names_[info.xdp.ifindex];
      name += (name.empty() ? "" : "|") + interface;
    }
  }

 private:
  std::string pin_dir_;
  std::map<uint32_t, std::string> names_;
  Clock::time_point loaded_at_{};
};

// Writes events where the options say, naming interfaces and rules.
class EventWriter {
 public:
  EventWriter(const std::string& pin_dir, const LogOptions& options)
      : options_(options), interfaces_(pin_dir), correlator_(host_name()), host_(host_name()) {}

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

  // The connections an earlier reader saw (correlationIds continue).
  void load_connections(const std::string& path) { correlator_.load(read_small_file(path)); }
  // A failure costs only the grouping of retransmits across readers: said once.
  void save_connections(const std::string& path) {
    if (correlator_.size() == 0 || write_small_file(path, correlator_.save())) return;
    if (!save_warned_)
      warn_now("log: cannot write " + path + " (" + std::strerror(errno) +
           "): the next reader gives these connections new correlationIds");
    save_warned_ = true;
  }

  // The maps the events now come from: names are looked up afresh.
  void use(const PinnedMaps& maps) {
    maps_ = &maps;
    rule_texts_.clear();
    interfaces_.reload();
    reload_policy_names();
  }

  ~EventWriter() {
    if (out_ && out_ != stdout) std::fclose(out_);
  }

  void write(const vw_event& e) {
    // Event times are CLOCK_MONOTONIC; the offset to wall-clock time is read
    // per event, so a clock step (NTP) shows up from the next event on.
    uint64_t wall_ns = e.time_ns + (now_unix_ns() - now_monotonic_ns());
    EventNames names{interfaces_.name(e.ifindex), rule_text(e.rule_id)};
    add_policy_names(e, names);
    if (options_.format == "table") {
      names = {printable(names.interface), printable(names.rule)};
      std::fprintf(out_, "%s\n", event_table_row(e, wall_ns, names).c_str());
    } else {
      std::fprintf(out_, "%s\n",
                   event_json(e, wall_ns, names)
                       .dump(-1, ' ', false, Json::error_handler_t::replace)
                       .c_str());
    }
    std::fflush(out_);
  }

 private:
  // The vault and vnet names of the policy that decided the event. An event
  // of another generation than the names' (an apply since) reloads them at
  // most once a second; a vnet is named only by its own generation's document.
  void add_policy_names(const vw_event& e, EventNames& names) {
    if (e.generation != policy_names_.generation &&
        Clock::now() - policy_names_loaded_at_ >= std::chrono::seconds(1))
      reload_policy_names();
    names.host = host_;
    names.correlation_id = correlator_.correlation_id(e);
    names.resource_id = policy_names_.resource_id;
    if (e.generation != policy_names_.generation) return;
    if (auto it = policy_names_.virtual_networks.find(e.vnet_id);
        it != policy_names_.virtual_networks.end())
      names.virtual_network = it->second;
  }

  void reload_policy_names() {
    policy_names_loaded_at_ = Clock::now();
    if (!maps_) return;
    auto current = read_kernel_policy(*maps_, StoredDocument::kMayBeDamaged);
    if (!current) {
      if (!names_warned_)
        warn_now(
            "log: cannot read the stored policy, so events carry no resourceId or virtual "
            "network names: " +
            current.error().message());
      names_warned_ = true;
      return;
    }
    names_warned_ = false;
    policy_names_ = event_policy_names(*current);
  }

  // Rule texts are cached per id; an id that a later apply reuses would keep
  // its old text until the maps change, which is why events carry the generation.
  std::string rule_text(uint32_t rule_id) {
    if (rule_id == VW_RULE_NONE || !maps_) return "";
    if (auto it = rule_texts_.find(rule_id); it != rule_texts_.end()) return it->second;
    auto info = maps_->rule_info().at(rule_id);
    return rule_texts_[rule_id] = info ? fixed_text(info->text) : "";
  }

  const PinnedMaps* maps_ = nullptr;
  const LogOptions& options_;
  InterfaceNames interfaces_;
  std::FILE* out_ = nullptr;
  bool header_written_ = false;
  std::map<uint32_t, std::string> rule_texts_;
  ConnectionCorrelator correlator_;
  std::string host_;
  EventPolicyNames policy_names_;
  Clock::time_point policy_names_loaded_at_{};
  bool names_warned_ = false;
  bool save_warned_ = false;
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
using RingBuffer = std::unique_ptr<ring_buffer, RingBufferDeleter>;

Result<RingBuffer> open_ring_buffer(const PinnedMaps& maps, EventWriter& writer) {
  RingBuffer rb(ring_buffer__new(maps.events_fd(), on_event, &writer, nullptr));
  if (!rb) return fail_errno("open the event ring buffer " VW_NAME(VW_MAP_EVENTS));
  return rb;
}

// Follows the live maps: every second it checks that the pins still name
// the maps it reads; when they were replaced it drains the old ring buffer
// and moves to the new one; while they are gone it waits for them. Every
// 30 s it saves the connections it saw (connections_path: "" for none), so
// a restart after a crash keeps their correlationIds too.
Report follow(const Globals& g, EventWriter& writer, const std::string& connections) {
  stop_on_signals(/*catch_hangup=*/true);
  LiveMaps live(g.pin_dir);
  RingBuffer rb;
  uint64_t epoch = 0;
  bool gone = false;
  auto next_check = Clock::now();
  auto next_save = Clock::now() + std::chrono::seconds(30);
  constexpr int kPollMs = 250;  // how soon a signal is noticed when idle
  while (!stop_requested()) {
    if (Clock::now() >= next_check) {
      next_check = Clock::now() + std::chrono::seconds(1);
      auto maps = live.current();
      if (!maps || live.epoch() != epoch) {
        if (rb) ring_buffer__consume(rb.get());  // what the old maps still hold
        rb.reset();
      }
      if (!maps) {
        if (!gone) warn_now("log: " + maps.error().message() + "; waiting for the maps to come back");
        gone = true;
      } else if (live.epoch() != epoch) {
        writer.use(**maps);
        auto opened = open_ring_buffer(**maps, writer);
        if (!opened) return failed_report(opened.error());
        rb = std::move(*opened);
        if (epoch != 0 || gone) warn_now("log: reading the new maps at " + g.pin_dir);
        epoch = live.epoch();
        gone = false;
      }
    }
    if (rb) {
      int n = ring_buffer__poll(rb.get(), kPollMs);
      if (n < 0 && n != -EINTR) return failed_report(Error{-n, "read " VW_NAME(VW_MAP_EVENTS), ""});
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
    }
    if (take_hangup())
      if (auto r = writer.open(); !r) return failed_report(r.error());
    if (!connections.empty() && Clock::now() >= next_save) {
      next_save = Clock::now() + std::chrono::seconds(30);
      writer.save_connections(connections);
    }
  }
  if (rb) ring_buffer__consume(rb.get());  // what arrived while stopping
  return {};
}

// The events are a stream, written as they come; the report says how the
// reading ended.
Report cmd_log(const Globals& g, const LogOptions& options) {
  if (auto r = check_privileges_and_bpffs(g.pin_dir); !r) return failed_report(r.error());
  auto lock = lock_event_reader(g.pin_dir);
  if (!lock) return failed_report(lock.error());
  EventWriter writer(g.pin_dir, options);
  if (auto r = writer.open(); !r) return failed_report(r.error());
  // Unguarded (no lock file), the connections file is not ours to write either.
  const std::string connections = lock->valid() ? connections_path(g.pin_dir) : "";
  if (!connections.empty()) writer.load_connections(connections);
  struct SaveAtExit {
    EventWriter& writer;
    const std::string& path;
    ~SaveAtExit() {
      if (!path.empty()) writer.save_connections(path);
    }
  } save_at_exit{writer, connections};
  if (options.follow) return follow(g, writer, connections);
  // What is waiting now, then exit.
  auto maps = open_maps(g);
  if (!maps) return failed_report(maps.error());
  writer.use(*maps);
  auto rb = open_ring_buffer(*maps, writer);
  if (!rb) return failed_report(rb.error());
  int n = ring_buffer__consume(rb->get());
  if (n < 0) return failed_report(Error{-n, "read " VW_NAME(VW_MAP_EVENTS), ""});
  return {};
}

}  // namespace

void add_log_commands(CLI::App& app, Globals& g, Commands& commands) {
  auto options = std::make_shared<LogOptions>();
  auto* log = app.add_subcommand(
      "log",
      "print deny and audit events (one AuditEvent-shaped JSON line each); they are "
      "consumed: one reader per pin directory (a second is refused)");
  log->add_flag("-f,--follow", options->follow,
                "keep reading until SIGINT or SIGTERM (follows a purge and a new load)");
  // One JSON object per line; "json" is accepted for it too.
  add_output_option(commands, log, {"jsonl", "json", "table"});
  log->add_option("--output-file", options->output_file,
                  "append to this file instead of stdout; SIGHUP reopens it (logrotate)");
  commands.add(log, [&g, options] {
    options->format = g.output == "table" ? "table" : "jsonl";
    return cmd_log(g, *options);
  }, Commands::Output::kStream);
}

}  // namespace vaultwall::cli
