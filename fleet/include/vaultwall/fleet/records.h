// The values fleet mode stores in etcd (keys: layout.h), as JSON objects
// with schemaVersion 1, and their parsers. Parsers take the raw value
// (etcd holds bytes: anyone with write access may put anything there) and
// refuse, naming the JSON path, whatever is not what a vaultwall writer
// produces. Fields added by newer writers are ignored.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/common/error.h"

namespace vaultwall::fleet {

using Json = nlohmann::ordered_json;

inline constexpr int kRecordSchemaVersion = 1;
// The largest policy record fleet put writes. etcd refuses requests above
// --max-request-bytes (1.5 MiB by default); the margin covers the rest of
// the transaction and a member configured a little lower.
inline constexpr size_t kMaxPolicyRecordBytes = 1024 * 1024;

// vaults/<vault>/policy: the policy every host of the vault enforces.
struct PolicyRecord {
  std::string vault;
  std::string shared_digest;  // hex SHA-256 of policy + service_tags (shared_policy.h)
  std::string author;
  std::string comment;
  std::string created_at;  // UTC, journal format
  Json policy;             // the normalised shared document (no host facts)
  // The trusted service tags the policy names, resolved to their IPv4
  // prefixes when it was put, so every host trusts the same addresses.
  std::map<std::string, std::vector<std::string>> service_tags;
};

Json to_json(const PolicyRecord& record);
// One error naming the path ("sharedDigest", "policy", ...) of the first
// problem, or the syntax error's position for a value that is not JSON.
Checked<PolicyRecord> parse_policy_record(std::string_view value);

// hosts/<host>/info: a host's enrolment, written by its agent at start.
struct HostInfo {
  std::string host;
  std::string vault;
  std::string agent_version;
  std::string enrolled_at;
  std::string pin_dir;
  std::string host_facts;  // the path of its host facts file
  bool operator==(const HostInfo&) const = default;
};
Json to_json(const HostInfo& info);
Result<HostInfo> parse_host_info(std::string_view value);

// What a host's agent is doing about its vault's policy.
enum class SyncState {
  kStarting,  // not yet read the policy since the agent started
  kApplying,  // a newer policy is being applied (or waits for the pin dir's lock)
  kInSync,    // the kernel enforces the newest policy of the vault
  kRejected,  // the newest policy is invalid for this host: the previous one stays
  kError,     // applying or verifying failed: the previous policy stays
  kNoPolicy,  // the vault has no policy key (never put, or deleted): nothing changed
};
std::string_view to_string(SyncState state);
std::optional<SyncState> parse_sync_state(std::string_view text);

struct StatusError {
  int64_t revision = 0;  // the policy revision it is about (0: none)
  std::string source;    // "policy", "host-facts", "kernel" or "etcd"
  std::string path;      // JSON path in that source; may be empty
  std::string message;
  bool operator==(const StatusError&) const = default;
};

struct VerifyReport {
  std::string result = "none";  // "ok", "drift", "error", "none" (nothing checked yet)
  std::vector<std::string> differences;
  std::string at;
  bool operator==(const VerifyReport&) const = default;
};

struct CounterSummary {
  uint64_t data_plane = 0;  // packets to a protected port and address
  uint64_t dropped = 0;     // of those, dropped (denied or malformed)
  uint64_t audit_would_deny = 0;
  std::string at;
  bool operator==(const CounterSummary&) const = default;
};

// hosts/<host>/status, under the agent's lease.
struct HostStatus {
  std::string host;
  std::string vault;
  SyncState state = SyncState::kStarting;
  int64_t policy_revision = 0;  // mod_revision of the fleet policy enforced (0: none)
  std::string shared_digest;    // of that policy
  std::string author;           // of that policy
  uint64_t kernel_generation = 0;
  std::string kernel_digest;
  std::optional<StatusError> error;
  VerifyReport verify;
  std::string applied_at;    // when the enforced policy was applied or found applied
  std::string reported_at;   // when this status was written (at least every heartbeat)
  bool connected = false;    // the agent's watch was established when it wrote this
  std::string watch_member;  // hex id of the etcd member it watches
  std::optional<CounterSummary> counters;
  std::string agent_version;

  // Equal apart from reported_at (a heartbeat changes nothing else).
  bool same_report(const HostStatus& other) const;
  bool operator==(const HostStatus&) const = default;
};
Json to_json(const HostStatus& status);
Result<HostStatus> parse_host_status(std::string_view value);

}  // namespace vaultwall::fleet
