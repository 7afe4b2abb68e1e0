#include "vaultwall/common/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "vaultwall/common/fd.h"
#include "vaultwall/common/io.h"
#include "vaultwall/common/text.h"
#include "vaultwall/common/time.h"

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

void JournalEntry::fail(const std::string& why) {
  if (result != kResultFailed) reason = why;
  result = kResultFailed;
}

namespace {

// Bounds on what one line may carry: a 100 MB value in a document must not
// become a 100 MB journal line. The digests and generations still identify
// the policy exactly.
constexpr size_t kMaxListed = 1000;    // rules added/removed, settings, interfaces
constexpr size_t kMaxArgBytes = 4096;  // per argv word
constexpr size_t kMaxMarkerBytes = 1 << 20;
// How long a command waits for another one's journal lock before it goes on
// without journaling (a change never waits on the journal for long).
constexpr auto kLockWait = std::chrono::seconds(5);
constexpr const char* kJournalHint = "give another one with --journal FILE or VAULTWALL_JOURNAL";

json version_json(const std::optional<PolicyVersion>& v) {
  if (!v) return nullptr;
  return {{"generation", v->generation}, {"digest", v->digest}};
}

json bounded_list(const std::vector<std::string>& items, size_t max_bytes = kMaxArgBytes) {
  json out = json::array();
  for (size_t i = 0; i < items.size() && i < kMaxListed; i++)
    out.push_back(truncated(items[i], max_bytes));
  if (items.size() > kMaxListed)
    out.push_back("... (" + std::to_string(items.size() - kMaxListed) + " more)");
  return out;
}

std::string user_name(uid_t uid) {
  std::array<char, 4096> buffer{};
  passwd entry{}, *found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found)
    return found->pw_name;
  return "uid " + std::to_string(uid);
}

std::string acting_user() {
  if (const char* sudo_user = std::getenv("SUDO_USER"); sudo_user && *sudo_user) return sudo_user;
  std::ifstream in("/proc/self/loginuid");
  uint64_t login_uid = 0;
  if (in >> login_uid && login_uid != std::numeric_limits<uint32_t>::max())
    return user_name(static_cast<uid_t>(login_uid));
  return user_name(::getuid());
}

std::string host_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "";
  return name.data();
}

// Who and where: uid, pid, the person and the host.
void fill_origin(JournalEntry& entry) {
  entry.uid = ::getuid();
  entry.pid = ::getpid();
  if (entry.user.empty()) entry.user = acting_user();
  if (entry.host.empty()) entry.host = host_name();
}

json entry_json(const JournalEntry& e) {
  json line = {
      {"schemaVersion", 1},
      {"time", format_utc(e.finished_ns ? e.finished_ns : now_unix_ns())},
      {"startedAt", format_utc(e.started_ns)},
      {"uid", e.uid},
      {"user", truncated(e.user, kMaxArgBytes)},
      {"host", truncated(e.host, kMaxArgBytes)},
      {"pid", e.pid},
      {"command", truncated(e.command, kMaxArgBytes)},
      {"argv", bounded_list(e.argv)},
      {"pinDir", truncated(e.pin_dir, kMaxArgBytes)},
      {"result", e.result},
      {"reason", e.reason.empty() ? json(nullptr) : json(truncated(e.reason, kMaxMessageBytes))},
      {"from", version_json(e.from)},
      {"to", version_json(e.to)},
      {"rulesAdded", bounded_list(e.rules_added)},
      {"rulesRemoved", bounded_list(e.rules_removed)},
      {"settingsChanged", bounded_list(e.settings_changed)},
  };
  if (!e.interfaces.empty()) line["interfaces"] = bounded_list(e.interfaces);
  if (e.input) line["input"] = {{"path", e.input->path}, {"sha256", e.input->sha256}};
  if (e.source)
    line["source"] = {{"kind", e.source->kind},
                      {"vault", e.source->vault},
                      {"revision", e.source->revision},
                      {"author", e.source->author},
                      {"sharedDigest", e.source->shared_digest},
                      {"superseded", e.source->superseded}};
  return line;
}

// ---- files the journal trusts --------------------------------------------------

// Who may own a file the journal reads or writes: the caller (root, for
// every state change), or root when an unprivileged user reads history.
enum class Owner { kCaller, kCallerOrRoot };

// Opens a journal or marker file: never through a symbolic link
// (O_NOFOLLOW), never blocking on a FIFO (O_NONBLOCK), and only a regular
// file with a trusted owner, so in a directory others can write to nobody
// can make root overwrite a file or read a forged entry. EINVAL: not a
// regular file; EPERM: untrusted owner (the context says which).
Result<UniqueFd> open_trusted(const std::string& path, int flags, Owner owner, const char* what,
                              const std::string& hint) {
  auto refuse = [&](int code, const std::string& why) {
    return fail(code, std::string(what) + " " + path + " " + why, hint);
  };
  int fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0) {
    int saved = errno;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      return refuse(EINVAL, std::string("is ") + file_type_name(st.st_mode) + ", not a regular file");
    if (saved == EACCES)
      return fail(saved, std::string("open ") + what + " " + path,
                  "it is root's (mode 0600): run this as root");
    return fail(saved, std::string("open ") + what + " " + path, hint);
  }
  UniqueFd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail_errno(std::string("stat ") + what + " " + path);
  if (!S_ISREG(st.st_mode))
    return refuse(EINVAL, std::string("is ") + file_type_name(st.st_mode) + ", not a regular file");
  const uid_t me = ::geteuid();
  if (st.st_uid != me && !(owner == Owner::kCallerOrRoot && st.st_uid == 0))
    return refuse(EPERM, "is owned by uid " + std::to_string(st.st_uid) + ", not by uid " +
                             std::to_string(me) + " (not trusted)");
  return owned;
}

// An error's text without the strerror of a refusal (the context says it).
std::string refusal_text(const Error& e) {
  return e.code == EINVAL || e.code == EPERM ? e.context : e.message();
}

// flock with a deadline: a stuck holder must not stop a change.
Result<void> lock_within(int fd, int operation, const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + kLockWait;
  while (::flock(fd, operation | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) return fail_errno("lock journal " + path);
    if (std::chrono::steady_clock::now() > deadline)
      return fail(EWOULDBLOCK,
                  "another command has held the journal " + path + " for " +
                      std::to_string(kLockWait.count()) + " s",
                  "find it with fuser " + path);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {};
}

// Appends one record with one write(2). A record is whole or absent: after
// a short write (a full disk) the file is cut back to where it was. A file
// that does not end with a newline (a record cut by a crash of an older
// version) gets one first, so the damage stays on its own line.
Result<void> append_record(int fd, std::string line, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail_errno("stat journal " + path);
  char last = '\n';
  if (st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) != 1) last = '\n';
  if (last != '\n') line.insert(line.begin(), '\n');
  line += '\n';
  ssize_t n;
  do n = ::write(fd, line.data(), line.size());
  while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(line.size())) {
    if (::fsync(fd) != 0) return fail_errno("fsync journal " + path);
    return {};
  }
  int saved = n < 0 ? errno : ENOSPC;
  if (n > 0 && ::ftruncate(fd, st.st_size) != 0)
    return fail_errno("cut a partial record from journal " + path,
                      "the journal's last line is damaged; history skips it");
  return fail(saved, "append to journal " + path);
}

Result<void> create_parent_directory(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return {};
  std::error_code ec;
  bool created = fs::create_directories(parent, ec);
  if (ec) return fail(ec.value(), "create journal directory " + parent.string());
  // A directory it makes is root's alone, like the journal inside it.
  if (created) VW_TRY(restrict_mode(parent.string(), 0700));
  return {};
}

// The journal opened for appending and locked.
Result<UniqueFd> open_locked_journal(const std::string& path) {
  VW_TRY(create_parent_directory(path));
  UniqueFd fd = VW_TRY(
      open_trusted(path, O_RDWR | O_APPEND | O_CREAT, Owner::kCaller, "journal", kJournalHint));
  VW_TRY(lock_within(fd.get(), LOCK_EX, path));
  return fd;
}

// ---- pending markers -------------------------------------------------------------

// Markers live beside the journal: .<name>.pending.<pid>
std::string marker_prefix(const std::string& path) {
  fs::path p(path);
  return (p.parent_path() / ("." + p.filename().string() + ".pending.")).string();
}

std::string marker_path(const std::string& path, pid_t pid) {
  return marker_prefix(path) + std::to_string(pid);
}

// The kernel's start time of a process (field 22 of /proc/PID/stat), which
// tells a live process from a later one that reused its pid. 0 when gone.
uint64_t process_start_ticks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return 0;
  size_t close = text.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos || close + 2 > text.size()) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; i++)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

struct Marker {
  std::string file;
  json line;  // the entry to record, procStartTicks removed
  bool alive = false;
  bool interrupted = true;  // false: a finished entry the journal had no room for
};

// Why a marker's content is not one this code wrote, or "" when it is.
std::string marker_shape_problem(const json& line, pid_t pid_in_name) {
  if (!line.is_object()) return "not a JSON object";
  const json* pid = line.contains("pid") ? &line["pid"] : nullptr;
  if (!pid || !pid->is_number_integer() || pid->get<int64_t>() <= 0 ||
      pid->get<int64_t>() > INT_MAX)
    return "no valid pid";
  if (pid->get<int64_t>() != pid_in_name) return "its pid differs from its name";
  if (!line.contains("procStartTicks") || !line["procStartTicks"].is_number_unsigned())
    return "no valid procStartTicks";
  if (!line.contains("command") || !line["command"].is_string()) return "no command";
  return "";
}

// The pid a marker's file name carries, or 0 when the name is not a marker's.
pid_t marker_pid(const std::string& name, const std::string& prefix) {
  if (!name.starts_with(prefix) || name.size() == prefix.size() || name.size() > prefix.size() + 10)
    return 0;
  long long pid = 0;
  for (char c : name.substr(prefix.size())) {
    if (c < '0' || c > '9') return 0;
    pid = pid * 10 + (c - '0');
  }
  return pid > 0 && pid <= INT_MAX ? static_cast<pid_t>(pid) : 0;
}

std::optional<Marker> read_marker(const std::string& file, pid_t pid, Owner owner,
                                  std::vector<std::string>& warnings) {
  auto ignore = [&](const std::string& what_is_wrong) {
    warnings.push_back("ignoring " + what_is_wrong + "; remove it once no vaultwall command runs");
    return std::nullopt;
  };
  auto fd = open_trusted(file, O_RDONLY, owner, "journal marker", "");
  if (!fd) return ignore(refusal_text(fd.error()));
  auto text = read_to_end(fd->get(), kMaxMarkerBytes, "journal marker " + file);
  if (!text) return ignore(text.error().message());
  Marker m{file, json::parse(*text, nullptr, false)};
  if (m.line.is_discarded()) return ignore("journal marker " + file + ": not JSON");
  if (std::string problem = marker_shape_problem(m.line, pid); !problem.empty())
    return ignore("journal marker " + file + ": " + problem);
  uint64_t ticks = m.line["procStartTicks"].get<uint64_t>();
  m.interrupted = ticks != 0;
  m.alive = m.interrupted && process_start_ticks(pid) == ticks;
  m.line.erase("procStartTicks");
  return m;
}

std::vector<Marker> read_markers(const std::string& path, Owner owner,
                                 std::vector<std::string>& warnings) {
  std::vector<Marker> out;
  fs::path prefix(marker_prefix(path));
  std::string dir = prefix.parent_path().empty() ? "." : prefix.parent_path().string();
  std::string name_prefix = prefix.filename().string();
  DIR* listing = ::opendir(dir.c_str());
  if (!listing) return out;  // no directory, no markers (the journal reports the rest)
  while (dirent* item = ::readdir(listing)) {
    pid_t pid = marker_pid(item->d_name, name_prefix);
    if (pid == 0) continue;
    std::string file = (fs::path(dir) / item->d_name).string();
    if (auto m = read_marker(file, pid, owner, warnings)) out.push_back(std::move(*m));
  }
  ::closedir(listing);
  return out;
}

// Appends the lines of dead processes' markers (and of finished entries the
// journal had no room for), then removes those markers. The caller holds
// the journal's flock, so no marker is recorded twice.
void record_markers(int fd, const std::string& path, std::vector<std::string>& warnings) {
  for (Marker& m : read_markers(path, Owner::kCaller, warnings)) {
    if (m.alive) continue;
    if (m.interrupted) m.line["time"] = format_utc(now_unix_ns());
    if (auto r = append_record(fd, one_line(m.line), path); !r) {
      warnings.push_back("cannot record " + m.file + " yet: " + r.error().message());
      return;  // no room for this one: none for the next either
    }
    ::unlink(m.file.c_str());
  }
}

// Writes a marker file whole: created fresh (O_EXCL, so a planted file or
// symlink is replaced, never written through), under the journal's lock.
Result<void> write_marker(const std::string& marker, const std::string& line) {
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST && ::unlink(marker.c_str()) == 0)
    fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return fail_errno("create journal marker " + marker);
  UniqueFd owned(fd);
  const std::string text = line + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd) != 0) {
    int saved = errno ? errno : ENOSPC;
    ::unlink(marker.c_str());
    return fail(saved, "write journal marker " + marker);
  }
  return {};
}

// Replaces a marker's content in place: its blocks are already allocated,
// so this works on a disk too full for a new file.
Result<void> rewrite_marker(const std::string& marker, const std::string& line) {
  UniqueFd fd = VW_TRY(open_trusted(marker, O_WRONLY, Owner::kCaller, "journal marker", ""));
  const std::string text = line + "\n";
  if (::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
      ::ftruncate(fd.get(), static_cast<off_t>(text.size())) != 0 || ::fsync(fd.get()) != 0)
    return fail(errno ? errno : ENOSPC, "rewrite journal marker " + marker);
  return {};
}

json marker_json(const JournalEntry& entry, uint64_t start_ticks) {
  json line = entry_json(entry);
  line["procStartTicks"] = start_ticks;
  return line;
}

}  // namespace

std::string to_journal_line(const JournalEntry& entry) { return one_line(entry_json(entry)); }

Result<void> append_journal(const std::string& path, JournalEntry entry) {
  std::vector<std::string> ignored;
  UniqueFd fd = VW_TRY(open_locked_journal(path));
  record_markers(fd.get(), path, ignored);
  if (entry.finished_ns == 0) entry.finished_ns = now_unix_ns();
  if (entry.pid == 0) fill_origin(entry);
  return append_record(fd.get(), to_journal_line(entry), path);
}

Result<PendingChange> PendingChange::begin(const std::string& path, JournalEntry entry) {
  entry.started_ns = now_unix_ns();
  fill_origin(entry);
  std::vector<std::string> warnings;
  UniqueFd fd = VW_TRY(open_locked_journal(path));
  record_markers(fd.get(), path, warnings);
  JournalEntry if_interrupted = entry;
  if_interrupted.result = kResultInterrupted;
  if_interrupted.reason =
      "the command ended before recording a result (killed, crashed, or the host went down); "
      "check the applied policy with vaultwallctl verify";
  std::string marker = marker_path(path, entry.pid);
  VW_TRY(
      write_marker(marker, one_line(marker_json(if_interrupted, process_start_ticks(entry.pid)))));
  PendingChange change(path, marker, std::move(entry));
  change.warnings_ = std::move(warnings);
  return change;
}

PendingChange::PendingChange(PendingChange&&) noexcept = default;
PendingChange& PendingChange::operator=(PendingChange&&) noexcept = default;
PendingChange::~PendingChange() = default;

Result<void> PendingChange::finish() {
  if (finished_) return fail(EALREADY, "journal entry for " + entry_.command + " already written");
  finished_ = true;
  // The marker goes only after the real line is on disk, under the
  // journal's lock: a crash in between leaves the line, never neither.
  UniqueFd fd = VW_TRY(open_locked_journal(path_));
  record_markers(fd.get(), path_, warnings_);
  entry_.finished_ns = now_unix_ns();
  const std::string line = to_journal_line(entry_);
  auto appended = append_record(fd.get(), line, path_);
  if (appended) {
    ::unlink(marker_.c_str());
    return {};
  }
  // No room in the journal: the marker (whose blocks are already on disk)
  // takes the finished entry instead, and the next command records it.
  if (rewrite_marker(marker_, one_line(marker_json(entry_, 0))))
    return fail(appended.error().code, appended.error().context,
                "the entry is kept in " + marker_ + " and recorded by the next command");
  return std::unexpected(appended.error());
}

std::vector<std::string> PendingChange::take_warnings() { return std::exchange(warnings_, {}); }

Result<std::vector<std::string>> read_journal(const std::string& path,
                                              std::vector<std::string>& warnings) {
  std::vector<std::string> lines;
  auto fd = open_trusted(path, O_RDONLY, Owner::kCallerOrRoot, "journal", kJournalHint);
  if (!fd && fd.error().code != ENOENT) return std::unexpected(fd.error());
  if (fd) {
    VW_TRY(lock_within(fd->get(), LOCK_SH, path));
    std::string text = VW_TRY(read_to_end(fd->get(), SIZE_MAX, "journal " + path));
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) lines.push_back(line);
  }
  for (Marker& m : read_markers(path, Owner::kCallerOrRoot, warnings)) {
    if (m.alive) {
      m.line["result"] = "in-progress";
      m.line["reason"] = nullptr;
    }
    lines.push_back(one_line(m.line));
  }
  return lines;
}

Result<std::vector<std::string>> read_journal(const std::string& path) {
  std::vector<std::string> ignored;
  return read_journal(path, ignored);
}

}  // namespace vaultwall
