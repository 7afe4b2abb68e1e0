#include "vaultwall/common/time.h"
#include "vaultwall/fleet/kernel_applier.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>

#include "vaultwall/apply/apply.h"
#include "vaultwall/fleet/state_dir.h"
#include "vaultwall/common/lock.h"
#include "vaultwall/policy/sha256.h"
#include "vaultwall/apply/verify.h"

namespace vaultwall::fleet {
namespace {

constexpr const char* kJournalCommand = "fleet apply";

PolicyVersion version_of(const KernelPolicy& policy) {
  return {policy.info.generation,
          policy.applied() ? to_hex(policy.info.digest, VW_DIGEST_LEN) : std::string()};
}

VerifyReport verify_report(const Result<DriftReport>& drift) {
  VerifyReport report;
  report.at = format_utc(now_unix_ns());
  if (!drift) {
    report.result = "error";
    report.differences = {drift.error().message()};
  } else if (!drift->applied) {
    report.result = "none";
  } else if (!drift->compile_errors.empty()) {
    report.result = "error";
    for (const Diagnostic& d : drift->compile_errors) report.differences.push_back(d.text());
  } else {
    report.result = drift->differences.empty() ? "ok" : "drift";
    report.differences = drift->differences;
  }
  return report;
}

Result<KernelCheck> check_maps(const PinnedMaps& maps) {
  KernelPolicy current = VW_TRY(read_kernel_policy(maps));
  return KernelCheck{version_of(current), verify_report(check_drift(maps))};
}

JournalEntry fleet_entry(const KernelApplierSettings& settings, const ChangeSource& source) {
  JournalEntry entry;
  entry.command = kJournalCommand;
  entry.argv = settings.argv;
  entry.pin_dir = settings.pin_dir;
  entry.source = source;
  return entry;
}

void record_diff(JournalEntry& entry, const PolicyDiff& diff) {
  entry.rules_added = diff.rules_added;
  entry.rules_removed = diff.rules_removed;
  entry.settings_changed = diff.settings_and_host_changes();
}

// The last document applied, for vaultwall.service to apply at boot.
void save_applied_document(const std::string& state_dir, const HostPolicy& applied) {
  if (state_dir.empty()) return;
  std::filesystem::path path = std::filesystem::path(state_dir) / kAppliedDocumentName;
  if (auto r = write_file_atomically(path, applied.document + "\n"); !r)
    spdlog::warn("fleet: cannot save the applied document: {}", r.error().message());
  const std::string& tags = applied.policy.host.trusted.service_tags_path;
  prune_service_tags_files(state_dir, tags);
}

}  // namespace

Result<ApplyReport> KernelApplier::apply(const ApplyRequest& request) {
  const Policy& policy = request.host_policy.policy;
  PinDirLock lock = VW_TRY(PinDirLock::acquire(settings_.pin_dir, settings_.lock_wait_ms));
  PinnedMaps maps = VW_TRY(PinnedMaps::open(settings_.pin_dir));
  KernelPolicy current = VW_TRY(read_kernel_policy(maps));
  ApplyReport report;
  report.before = version_of(current);
  auto compilation = compile_against_kernel(policy, current);
  if (!compilation.ok()) {
    report.diagnostics = compilation.diagnostics;
    return report;
  }
  const std::string digest = compilation.value->compiled.digest_hex;
  bool unchanged = current.applied() && current.policy == policy &&
                   to_hex(current.info.digest, VW_DIGEST_LEN) == digest;
  if (unchanged && !request.force) {
    report.after = VW_TRY(check_maps(maps));
    if (!std::filesystem::exists(std::filesystem::path(settings_.state_dir) / kAppliedDocumentName))
      save_applied_document(settings_.state_dir, request.host_policy);
    return report;
  }

  PolicyDiff diff = diff_policies(current.policy, policy);
  JournalEntry entry = fleet_entry(settings_, request.source);
  entry.from = report.before;
  auto pending = PendingChange::begin(settings_.journal, std::move(entry));
  if (!pending) spdlog::warn("fleet: this apply is not journaled: {}", pending.error().message());
  auto outcome = apply_compiled(maps, current, policy, std::move(compilation.value->compiled));
  if (pending) {
    JournalEntry& done = pending->entry();
    record_diff(done, diff);
    if (outcome) {
      done.to = PolicyVersion{outcome->new_generation, outcome->new_digest};
      if (request.force) done.reason = "forced: the kernel's maps did not match the policy";
    } else {
      done.to = report.before;
      done.fail(outcome.error().message());
    }
    if (auto r = pending->finish(); !r)
      spdlog::warn("fleet: cannot journal this apply: {}", r.error().message());
    for (const std::string& w : pending->take_warnings()) spdlog::warn("fleet: journal: {}", w);
  }
  if (!outcome) return std::unexpected(outcome.error());
  report.changed = true;
  report.after = VW_TRY(check_maps(maps));
  save_applied_document(settings_.state_dir, request.host_policy);
  return report;
}

Result<KernelCheck> KernelApplier::check() {
  PinnedMaps maps = VW_TRY(PinnedMaps::open(settings_.pin_dir));
  return check_maps(maps);
}

Result<CounterSummary> KernelApplier::counters() {
  PinnedMaps maps = VW_TRY(PinnedMaps::open(settings_.pin_dir));
  std::vector<vw_counters> classes =
      VW_TRY(read_all_counters(maps.class_stats_fd(), VW_NAME(VW_MAP_CLASS_STATS), VW_CLASS_COUNT));
  CounterSummary summary;
  summary.at = format_utc(now_unix_ns());
  for (uint32_t c = 0; c < classes.size(); ++c) {
    if (c == VW_CLASS_NOT_IP || c == VW_CLASS_UNPROTECTED) continue;
    summary.data_plane += classes[c].packets;
    bool dropped = c == VW_CLASS_DEFAULT_DENY || c == VW_CLASS_PUBLIC_DISABLED ||
                   c == VW_CLASS_IPV6_DENY || c == VW_CLASS_FRAGMENT_DENY ||
                   c == VW_CLASS_MALFORMED;
    if (dropped) summary.dropped += classes[c].packets;
    if (c == VW_CLASS_AUDIT_DENY) summary.audit_would_deny += classes[c].packets;
  }
  return summary;
}

void KernelApplier::journal_rejection(const ChangeSource& source, const std::string& reason) {
  JournalEntry entry = fleet_entry(settings_, source);
  entry.started_ns = now_unix_ns();
  entry.uid = ::getuid();
  entry.pid = ::getpid();
  entry.from = entry.to = active_policy_version(settings_.pin_dir);
  entry.fail(reason);
  if (auto r = append_journal(settings_.journal, std::move(entry)); !r)
    spdlog::warn("fleet: cannot journal a rejected policy: {}", r.error().message());
}

}  // namespace vaultwall::fleet
