#include "vaultwall/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "vaultwall/fd.h"
#include "vaultwall/maps.h"

namespace vaultwall {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// Reasons quote documents, which may hold invalid UTF-8: a journal line must
// still be written (with U+FFFD in place of bad bytes), never throw.
std::string one_line(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string journal_path(const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  if (const char* env = std::getenv(kJournalPathEnv); env && *env) return env;
  return kJournalDefaultPath;
}

uint64_t unix_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string format_utc_time(uint64_t unix_ns) {
  time_t seconds = static_cast<time_t>(unix_ns / 1'000'000'000ull);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char text[48];
  size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof(text) - n, ".%06lluZ",
                static_cast<unsigned long long>(unix_ns % 1'000'000'000ull / 1000));
  return text;
}

void JournalEntry::fail(const std::string& why) {
  if (result != kResultFailed) reason = why;
  result = kResultFailed;
}

namespace {

json version_json(const std::optional<PolicyVersion>& v) {
  if (!v) return nullptr;
  return {{"generation", v->generation}, {"digest", v->digest}};
}

json entry_json(const JournalEntry& e) {
  json line = {
      {"schemaVersion", 1},
      {"time", format_utc_time(e.finished_ns ? e.finished_ns : unix_now_ns())},
      {"startedAt", format_utc_time(e.started_ns)},
      {"uid", e.uid},
      {"pid", e.pid},
      {"command", e.command},
      {"argv", e.argv},
      {"pinDir", e.pin_dir},
      {"result", e.result},
      {"reason", e.reason.empty() ? json(nullptr) : json(e.reason)},
      {"from", version_json(e.from)},
      {"to", version_json(e.to)},
      {"rulesAdded", e.rules_added},
      {"rulesRemoved", e.rules_removed},
      {"settingsChanged", e.settings_changed},
  };
  if (!e.interfaces.empty()) line["interfaces"] = e.interfaces;
  if (e.source)
    line["source"] = {{"kind", e.source->kind},
                      {"vault", e.source->vault},
                      {"revision", e.source->revision},
                      {"author", e.source->author},
                      {"sharedDigest", e.source->shared_digest},
                      {"superseded", e.source->superseded}};
  return line;
}

// Markers live beside the journal: .<name>.pending.<pid>
std::string marker_prefix(const std::string& path) {
  fs::path p(path);
  return (p.parent_path() / ("." + p.filename().string() + ".pending.")).string();
}

// The kernel's start time of a process (field 22 of /proc/PID/stat), which
// tells a live process from a later one that reused its pid. 0 when gone.
uint64_t process_start_ticks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return 0;
  size_t close = text.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; i++)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

struct Marker {
  std::string file;
  json line;
  bool alive = false;
};

std::vector<Marker> read_markers(const std::string& path) {
  std::vector<Marker> out;
  std::string prefix = marker_prefix(path);
  fs::path dir = fs::path(prefix).parent_path();
  std::string name_prefix = fs::path(prefix).filename().string();
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir.empty() ? "." : dir, ec)) {
    std::string name = item.path().filename().string();
    if (!name.starts_with(name_prefix)) continue;
    std::ifstream in(item.path());
    std::string text;
    std::getline(in, text);
    Marker m{item.path().string(), json::parse(text, nullptr, false)};
    if (m.line.is_discarded() || !m.line.is_object()) continue;
    pid_t pid = m.line.value("pid", 0);
    uint64_t ticks = m.line.value("procStartTicks", uint64_t{0});
    m.alive = pid > 0 && ticks != 0 && process_start_ticks(pid) == ticks;
    m.line.erase("procStartTicks");
    out.push_back(std::move(m));
  }
  return out;
}

Result<void> write_all(int fd, const std::string& text, const std::string& what) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("write " + what);
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<UniqueFd> open_locked_journal(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent)) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) return fail(ec.value(), "create journal directory " + parent.string());
    ::chmod(parent.c_str(), 0700);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail_errno("open journal " + path,
                      "give another one with --journal FILE or VAULTWALL_JOURNAL");
  UniqueFd owned(fd);
  if (::flock(fd, LOCK_EX) != 0) return fail_errno("lock journal " + path);
  return owned;
}

// Appends the lines of dead processes' markers, then removes the markers.
// The caller holds the journal's flock, so no marker is recorded twice.
Result<void> record_interrupted(int fd, const std::string& path) {
  for (Marker& m : read_markers(path)) {
    if (m.alive) continue;
    m.line["time"] = format_utc_time(unix_now_ns());
    if (auto r = write_all(fd, one_line(m.line) + "\n", path); !r) return r;
    ::unlink(m.file.c_str());
  }
  return {};
}

}  // namespace

std::string to_journal_line(const JournalEntry& entry) { return one_line(entry_json(entry)); }

Result<void> append_journal(const std::string& path, JournalEntry entry) {
  auto fd = open_locked_journal(path);
  if (!fd) return std::unexpected(fd.error());
  if (auto r = record_interrupted(fd->get(), path); !r) return r;
  if (entry.finished_ns == 0) entry.finished_ns = unix_now_ns();
  if (auto r = write_all(fd->get(), to_journal_line(entry) + "\n", path); !r) return r;
  if (::fsync(fd->get()) != 0) return fail_errno("fsync journal " + path);
  return {};
}

Result<PendingChange> PendingChange::begin(const std::string& path, JournalEntry entry) {
  entry.started_ns = unix_now_ns();
  entry.uid = ::getuid();
  entry.pid = ::getpid();
  {
    auto fd = open_locked_journal(path);
    if (!fd) return std::unexpected(fd.error());
    if (auto r = record_interrupted(fd->get(), path); !r) return std::unexpected(r.error());
  }
  JournalEntry if_interrupted = entry;
  if_interrupted.result = kResultInterrupted;
  if_interrupted.reason =
      "the command ended before recording a result (killed, crashed, or the host went down); "
      "check the applied policy with vaultwallctl verify";
  json marker_line = entry_json(if_interrupted);
  marker_line["procStartTicks"] = process_start_ticks(entry.pid);
  std::string marker = marker_prefix(path) + std::to_string(entry.pid);
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail_errno("create journal marker " + marker);
  UniqueFd owned(fd);
  if (auto r = write_all(fd, one_line(marker_line) + "\n", marker); !r) return std::unexpected(r.error());
  if (::fsync(fd) != 0) return fail_errno("fsync " + marker);
  return PendingChange(path, marker, std::move(entry));
}

PendingChange::PendingChange(PendingChange&&) noexcept = default;
PendingChange& PendingChange::operator=(PendingChange&&) noexcept = default;
PendingChange::~PendingChange() = default;

Result<void> PendingChange::finish() {
  if (finished_) return fail(EALREADY, "journal entry for " + entry_.command + " already written");
  finished_ = true;
  // The marker goes only after the real line is on disk, under the
  // journal's lock: a crash in between leaves the line, never neither.
  auto fd = open_locked_journal(path_);
  if (!fd) return std::unexpected(fd.error());
  if (auto r = record_interrupted(fd->get(), path_); !r) return r;
  entry_.finished_ns = unix_now_ns();
  if (auto r = write_all(fd->get(), to_journal_line(entry_) + "\n", path_); !r) return r;
  if (::fsync(fd->get()) != 0) return fail_errno("fsync journal " + path_);
  ::unlink(marker_.c_str());
  return {};
}

std::optional<PolicyVersion> active_policy_version(const std::string& pin_dir) {
  auto maps = PinnedMaps::open(pin_dir);
  if (!maps) return std::nullopt;
  auto active = maps->active().get(0);
  if (!active || !*active) return std::nullopt;
  auto info = maps->policy_info().get((*active)->slot & 1);
  if (!info || !*info) return std::nullopt;
  PolicyVersion v{(*info)->generation, {}};
  static constexpr char kHex[] = "0123456789abcdef";
  if (v.generation != 0)
    for (uint8_t byte : (*info)->digest) {
      v.digest += kHex[byte >> 4];
      v.digest += kHex[byte & 15];
    }
  return v;
}

Result<std::vector<std::string>> read_journal(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  if (!in && fs::exists(path)) return fail_errno("read journal " + path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  for (Marker& m : read_markers(path)) {
    if (m.alive) {
      m.line["result"] = "in-progress";
      m.line["reason"] = nullptr;
    }
    lines.push_back(one_line(m.line));
  }
  return lines;
}

}  // namespace vaultwall
