// What the alerting metrics are made of besides the counters: the build,
// the applied policy's settings and limits, the drift check, the applies
// recorded in the change journal and the Service Tags file. Plain data,
// rendered by render_metrics (metrics_families.cpp); read and cached by
// MetricsFactsReader, so a scrape stays cheap.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall/kernel/maps.h"

namespace vaultwall {

struct BuildFacts {
  std::string version;  // VAULTWALL_VERSION
  std::string commit;   // VAULTWALL_COMMIT, "unknown" outside a git checkout
  std::string libbpf;   // "1.1" (libbpf_major/minor_version)
  uint32_t abi = 0;     // VW_ABI_VERSION
};
BuildFacts build_facts();

// From the active slot's stored document (known = false when nothing is
// applied or it did not load).
struct PolicyFacts {
  bool known = false;
  std::string resource_id;  // the vault's ARM id, "" when the document has none
  std::string default_action, bypass, public_network_access;  // Azure's spelling
  uint32_t ip_rules = 0, vnet_rules = 0;                      // in the document
  uint32_t max_ip_rules = 0, max_vnet_rules = 0;              // the limits in force
  std::string service_tags_path;                              // "" when none is used
};

struct ServiceTagsFacts {
  bool known = false;  // the file was read
  int64_t change_number = 0;
  uint64_t modified_unix_ns = 0;
};

// The drift check (check_drift: the stored document recompiled and
// compared with every map), then verify's slot history (the active slot is
// the newest applied, as the change journal says).
struct SyncFacts {
  bool checked = false;
  bool in_sync = false;
  uint64_t checked_at_unix_ns = 0;
  std::string problem;  // when not in sync: the first difference, or why the check failed
};

// Policy changes (apply, update, network-rule, fleet apply, agent reapply)
// of this pin directory in the change journal.
struct ApplyFacts {
  bool known = false;     // the journal was read
  uint64_t failures = 0;  // failed or interrupted
  uint64_t last_attempt_unix_ns = 0, last_success_unix_ns = 0;
};

struct OperatorFacts {
  BuildFacts build;
  PolicyFacts policy;
  ServiceTagsFacts service_tags;
  SyncFacts sync;
  ApplyFacts applies;
};

// Reads the facts for each scrape, cheaply: the document only when the
// generation changed, the drift check at most every `verify_interval`
// (and at once after a generation change), the journal and the tags file
// only when their size or mtime changed.
class MetricsFactsReader {
 public:
  MetricsFactsReader(std::string journal, std::chrono::seconds verify_interval)
      : journal_(std::move(journal)), verify_interval_(verify_interval) {}

  Result<OperatorFacts> read(const PinnedMaps& maps);
  const OperatorFacts& last() const { return facts_; }
  // New maps (a purge and a new load): their generations start again, so
  // nothing cached by generation may be kept.
  void forget_policy() {
    policy_generation_.reset();
    sync_generation_.reset();
  }

 private:
  struct FileStamp {
    uint64_t size = 0, mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };
  void refresh_policy(const PinnedMaps& maps, uint64_t generation);
  void refresh_sync(const PinnedMaps& maps, uint64_t generation);
  void refresh_applies(const std::string& pin_dir);
  void refresh_service_tags();

  std::string journal_;
  std::chrono::seconds verify_interval_;
  OperatorFacts facts_;
  std::optional<uint64_t> policy_generation_, sync_generation_;
  std::chrono::steady_clock::time_point synced_at_{};
  std::optional<FileStamp> journal_stamp_, tags_stamp_;
  std::string tags_path_;
};

// The policy changes of pin_dir among the journal's lines (any JSON, or none).
ApplyFacts apply_facts(const std::vector<std::string>& journal_lines, const std::string& pin_dir);

// "2026-11-28T08:35:48.123456Z" -> Unix ns; nullopt when not that form.
std::optional<uint64_t> parse_utc_time(const std::string& text);

}  // namespace vaultwall
