// The change journal: one JSON line per state change (apply, update,
// network-rule add/remove, attach, detach), appended to a file that outlives
// the pins, so an operator can tell who changed what, when, and whether it
// worked. Shared by vaultwallctl and vaultwall-loader.
//
// Interrupted changes: a change first writes a pending marker next to the
// journal (.<journal>.pending.<pid>), holding the line it would append if the
// process died; finish() appends the real line and removes the marker. The
// next writer (any command that journals) appends the line of every marker
// whose process is gone, with result "interrupted". So the journal stays one
// line per change, and a kill -9 or a crash is recorded, late but surely.
// When the journal has no room for the final line (a full disk), the marker
// takes the finished entry in place and the next writer records it as is.
//
// An audit trail must not lie and must not get in the way: every record is
// written whole with one write(2) (cut back after a short write), files are
// opened without following symbolic links or blocking on FIFOs, and only
// regular files owned by the caller (root) are trusted, so a journal in a
// directory other users can write to cannot be redirected or forged. A
// journal problem is an error for the journal only: the commands warn and
// go on with the change.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall/common/time.h"

namespace vaultwall {

inline constexpr const char* kJournalDefaultPath = "/var/lib/vaultwall/journal.jsonl";
inline constexpr const char* kJournalPathEnv = "VAULTWALL_JOURNAL";

// The journal to use: explicit_path if given, else $VAULTWALL_JOURNAL, else
// kJournalDefaultPath.
std::string journal_path(const std::string& explicit_path = {});

struct PolicyVersion {
  uint64_t generation = 0;  // 0: no policy applied
  std::string digest;       // hex SHA-256 of the compiled policy, may be empty
  bool operator==(const PolicyVersion&) const = default;
};

inline constexpr const char* kResultOk = "ok";
inline constexpr const char* kResultFailed = "failed";
inline constexpr const char* kResultInterrupted = "interrupted";

// Where a change came from when no operator typed it: the fleet policy
// an agent applied (journaled as "source").
// The file a change was read from: its absolute path ("-": standard input)
// and the SHA-256 of the bytes read, so an entry names exactly what was
// applied (compare with sha256sum FILE).
struct InputFile {
  std::string path;
  std::string sha256;  // lower-case hex
};

struct ChangeSource {
  std::string kind = "fleet";
  std::string vault;
  int64_t revision = 0;  // etcd mod_revision of the policy applied
  std::string author;
  std::string shared_digest;
  // Revisions seen since the previous apply and replaced by this newer one
  // before they were applied (the agent coalesces to the newest value).
  std::vector<int64_t> superseded;
};

struct JournalEntry {
  uint64_t started_ns = 0;   // filled by begin_change
  uint64_t finished_ns = 0;  // filled when the line is written
  uint32_t uid = 0;
  pid_t pid = 0;
  // The person behind the uid: $SUDO_USER, else the login uid's name
  // (audit's loginuid survives su and sudo), else the uid's name.
  std::string user;
  std::string host;  // the host name, for journals gathered from a fleet
  std::string command;            // "apply", "network-rule add", "attach", ...
  std::vector<std::string> argv;  // the command line as typed
  std::string pin_dir;
  std::optional<PolicyVersion> from, to;  // unknown when the change failed early
  std::vector<std::string> rules_added, rules_removed, settings_changed;
  std::vector<std::string> interfaces;  // attach / detach
  std::optional<ChangeSource> source;   // none: typed by an operator
  std::optional<InputFile> input;       // apply: the document file read
  std::string result = kResultOk;       // kResultOk, kResultFailed, kResultInterrupted
  std::string reason;                   // why it failed or was interrupted

  // Marks the entry failed; the first reason given is kept (it is the cause).
  void fail(const std::string& why);
};

// The entry as one JSON object on one line (no newline), schemaVersion 1.
std::string to_journal_line(const JournalEntry& entry);

// Appends one entry (creating the file 0600 and its directory 0700), after
// recording any interrupted changes left by dead processes. Serialised with
// an flock on the journal (waited for 5 s at most), each line written with
// one write(2) and fsynced. EINVAL: the journal is not a regular file (a
// FIFO, a symbolic link...); EPERM: another user owns it; ENOSPC: no room
// (nothing of the line is left behind).
Result<void> append_journal(const std::string& path, JournalEntry entry);

// A change in progress: its pending marker is on disk until finish().
class PendingChange {
 public:
  // Fills started_ns, uid, pid; records interrupted changes of dead
  // processes; writes this process's marker.
  static Result<PendingChange> begin(const std::string& path, JournalEntry entry);

  PendingChange(PendingChange&&) noexcept;
  PendingChange& operator=(PendingChange&&) noexcept;
  // Without finish(), the marker stays: the change counts as interrupted.
  ~PendingChange();

  JournalEntry& entry() { return entry_; }

  // Appends the entry and removes the marker. Once only. When the journal
  // has no room, the entry stays in the marker for the next writer (the
  // error's hint says so).
  Result<void> finish();

  // Problems that did not stop journaling (a damaged or foreign marker
  // ignored, a late record that still has no room), for the caller to print.
  std::vector<std::string> take_warnings();

 private:
  PendingChange(std::string path, std::string marker, JournalEntry entry)
      : path_(std::move(path)), marker_(std::move(marker)), entry_(std::move(entry)) {}
  std::string path_, marker_;
  JournalEntry entry_;
  bool finished_ = false;
  std::vector<std::string> warnings_;
};

// Every line of the journal, in order, followed by the line of each pending
// marker: result "interrupted" when its process is gone, "in-progress" when
// it still runs. ENOENT-free: a missing journal is an empty history. The
// journal must be a regular file owned by the caller or root (EINVAL,
// EPERM otherwise); markers that are not are skipped with a warning.
// Lines are returned as written: a reader must expect any JSON, or none.
Result<std::vector<std::string>> read_journal(const std::string& path,
                                              std::vector<std::string>& warnings);
Result<std::vector<std::string>> read_journal(const std::string& path);

}  // namespace vaultwall
