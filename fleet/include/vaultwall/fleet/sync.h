// The decisions of fleet sync, apart from threads and sockets: what the
// agent does with each thing etcd tells it, and what it reports. The agent
// (agent/src/fleet_activity.cpp) feeds it from PolicyReader (etcd_io.h) on
// its event loop; tests feed it directly.
//
// The rules it keeps:
// - Coalesce: only the newest value of the policy key is ever applied; the
//   revisions it replaced are named in the journal entry (superseded).
// - The kernel keeps the last good policy: an invalid value is rejected
//   (status `rejected`, the JSON path and message, a journal entry) and
//   never applied; a deleted or absent key changes nothing (`no-policy`);
//   an unreachable etcd changes nothing either.
// - Every decision is made again after a re-read (anti-entropy, SIGHUP):
//   a kernel changed behind the agent's back, or host facts edited, are
//   applied; drift found by verify is repaired with a forced apply.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/common/error.h"
#include "vaultwall/fleet/etcd_client.h"
#include "vaultwall/fleet/records.h"
#include "vaultwall/fleet/shared_policy.h"
#include "vaultwall/common/journal.h"

namespace vaultwall::fleet {

// ---- what the etcd reader reports -------------------------------------------------

struct PolicyListed {  // a fresh read of the policy key
  std::optional<KeyValue> kv;
  int64_t revision = 0;  // the store's revision when it answered
};
struct PolicyEvents {  // changes of the key, in order
  std::vector<WatchEvent> events;
};
struct WatchUp {  // the watch stream is established on this member
  uint64_t member_id = 0;
};
struct WatchSynced {  // progress: nothing newer than revision
  int64_t revision = 0;
};
struct EtcdDown {  // a read failed or the watch stream broke; it is retried
  Error error;
};
using ReaderReport = std::variant<PolicyListed, PolicyEvents, WatchUp, WatchSynced, EtcdDown>;

// ---- how a policy reaches the kernel ----------------------------------------------

struct ApplyRequest {
  HostPolicy host_policy;
  ChangeSource source;
  bool force = false;  // rewrite the maps even when the kernel holds this policy already
};

struct KernelCheck {
  PolicyVersion version;  // what the kernel enforces
  VerifyReport verify;    // its drift check
};

struct ApplyReport {
  std::vector<Diagnostic> diagnostics;  // errors: refused by the compiler, nothing applied
  bool changed = false;                 // false: the kernel held this policy already
  PolicyVersion before;
  KernelCheck after;
};

class PolicyApplier {
 public:
  virtual ~PolicyApplier() = default;
  // Compiles request.host_policy against the kernel and applies it under the
  // pin directory's lock (journaled with request.source) unless the kernel
  // holds it already; then verifies. EWOULDBLOCK when the lock stays busy.
  virtual Result<ApplyReport> apply(const ApplyRequest& request) = 0;
  virtual Result<KernelCheck> check() = 0;
  virtual Result<CounterSummary> counters() = 0;
  // Journals a policy refused before it reached the kernel.
  virtual void journal_rejection(const ChangeSource& source, const std::string& reason) = 0;
};

// ---- the sync -----------------------------------------------------------------------

struct SyncSettings {
  std::string vault;
  std::string host;
  std::string host_facts_path;
  std::string state_dir;
  std::string agent_version;
};

struct SyncMetrics {
  bool connected = false;
  uint64_t last_sync_unix_ns = 0;  // the last time the newest policy was known to be seen
  int64_t policy_revision = 0;     // enforced
  SyncState state = SyncState::kStarting;
  uint64_t applies = 0;      // policies applied (the kernel changed)
  uint64_t rejections = 0;   // values refused (invalid, or not for this host)
  uint64_t failures = 0;     // applies or checks that failed (retried)
  uint64_t disconnects = 0;  // reads failed or watch streams broken
};

class SyncCore {
 public:
  SyncCore(SyncSettings settings, PolicyApplier& applier);

  void receive(const ReaderReport& report);
  // Decides about the newest value when it has not been decided (or a
  // re-check is due). Returns a delay after which to call it again (the
  // lock was busy or applying failed), or nullopt.
  std::optional<std::chrono::milliseconds> reconcile();
  // The next reconcile decides the current value again and verifies.
  void recheck();
  void refresh_counters();
  // Reads the kernel's version and drift (at start, before any policy).
  void check_kernel();

  // The status to publish, stamped now.
  HostStatus report() const;
  HostInfo info(std::string pin_dir) const;
  const SyncMetrics& metrics() const { return metrics_; }
  const SyncSettings& settings() const { return settings_; }
  // One line for systemd's STATUS= and the log: "fleet kv-1: in-sync at revision 42
  // (ab12cd34ef56)".
  std::string summary() const;

 private:
  void decide(const KeyValue& kv);
  void reject(const KeyValue& kv, std::string source, const std::vector<Diagnostic>& errors,
              const std::string& author, const std::string& digest);
  void set_error(int64_t revision, std::string source, std::string path, std::string message);
  void note_kernel(const KernelCheck& check);
  std::vector<int64_t> take_superseded(int64_t applied);
  void note_seen(int64_t revision);

  SyncSettings settings_;
  PolicyApplier& applier_;
  HostStatus status_;
  SyncMetrics metrics_;
  bool listed_ = false;                 // a PolicyListed arrived: newest_ is the store's
  bool etcd_down_ = false;              // the last word from etcd was EtcdDown (the summary's)
  std::optional<KeyValue> newest_;      // the newest value known (nullopt: no key)
  int64_t deleted_at_ = 0;              // revision of the delete, when newest_ is empty
  int64_t known_revision_ = 0;          // everything up to it is reflected in newest_
  std::vector<int64_t> unapplied_;      // revisions seen since the last decision
  int64_t decided_revision_ = 0;        // mod_revision of the last value decided
  int64_t journaled_rejection_ = 0;     // journal a rejection once per revision
  bool recheck_ = true;                 // the first decision is a full one
  std::chrono::milliseconds retry_{0};  // backoff after failures
};

}  // namespace vaultwall::fleet
