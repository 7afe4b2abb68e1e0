#include "vaultwall/common/time.h"
#include "vaultwall/fleet/sync.h"

#include <algorithm>
#include <cstdio>

#include "vaultwall/fleet/state_dir.h"

namespace vaultwall::fleet {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kLockBusyRetry{500};
constexpr milliseconds kFirstFailureRetry{1000};
constexpr milliseconds kMaxFailureRetry{30000};

std::string now_text() { return format_utc(now_unix_ns()); }

std::string hex_member(uint64_t id) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(id));
  return text;
}

std::string all_errors(const std::vector<Diagnostic>& errors) {
  std::string text;
  for (const Diagnostic& d : errors) text += (text.empty() ? "" : "; ") + d.text();
  return text;
}

std::vector<Diagnostic> errors_of(const std::vector<Diagnostic>& diagnostics) {
  std::vector<Diagnostic> out;
  for (const Diagnostic& d : diagnostics)
    if (d.is_error()) out.push_back(d);
  return out;
}

// A document path as found in the policy record (its document is under "policy").
// The record's paths for the shared policy's diagnostics; the host facts'
// keep their file's.
Diagnostic in_record(Diagnostic d, const std::string& facts_name) {
  if (diagnostic_source(d, facts_name) == "policy")
    d.path = d.path.empty() ? "policy" : "policy." + d.path;
  return d;
}

}  // namespace

SyncCore::SyncCore(SyncSettings settings, PolicyApplier& applier)
    : settings_(std::move(settings)), applier_(applier) {
  status_.host = settings_.host;
  status_.vault = settings_.vault;
  status_.agent_version = settings_.agent_version;
}

void SyncCore::note_seen(int64_t revision) {
  if (revision > decided_revision_ &&
      std::find(unapplied_.begin(), unapplied_.end(), revision) == unapplied_.end())
    unapplied_.push_back(revision);
}

void SyncCore::receive(const ReaderReport& report) {
  uint64_t now = now_unix_ns();
  // Any answer from etcd (a read, the watch's events) says it is reachable,
  // though the watch may not be up yet.
  etcd_down_ = std::holds_alternative<EtcdDown>(report);
  if (const auto* listed = std::get_if<PolicyListed>(&report)) {
    listed_ = true;
    metrics_.last_sync_unix_ns = now;
    // A read answered before the watch delivered something newer says
    // nothing new (the anti-entropy read runs beside the watch).
    if (listed->revision < known_revision_) return;
    known_revision_ = listed->revision;
    if (listed->kv) {
      if (!newest_ || listed->kv->mod_revision != newest_->mod_revision)
        note_seen(listed->kv->mod_revision);
      newest_ = listed->kv;
    } else {
      if (newest_) deleted_at_ = 0;  // deleted at a revision the watch has not told yet
      newest_.reset();
    }
  } else if (const auto* changed = std::get_if<PolicyEvents>(&report)) {
    metrics_.last_sync_unix_ns = now;
    for (const WatchEvent& event : changed->events) {
      int64_t revision = event.kv.mod_revision;
      bool put = event.type == WatchEvent::Type::kPut;
      if (put) note_seen(revision);
      if (revision <= known_revision_) continue;  // a read already showed newer
      known_revision_ = revision;
      if (put) {
        newest_ = event.kv;
      } else {
        newest_.reset();
        deleted_at_ = revision;
      }
    }
  } else if (const auto* up = std::get_if<WatchUp>(&report)) {
    metrics_.connected = true;
    status_.connected = true;
    status_.watch_member = hex_member(up->member_id);
  } else if (const auto* synced = std::get_if<WatchSynced>(&report)) {
    metrics_.last_sync_unix_ns = now;
    known_revision_ = std::max(known_revision_, synced->revision);
  } else if (std::holds_alternative<EtcdDown>(report)) {
    if (metrics_.connected || metrics_.disconnects == 0) metrics_.disconnects++;
    metrics_.connected = false;
    status_.connected = false;
  }
}

void SyncCore::recheck() { recheck_ = true; }

std::optional<milliseconds> SyncCore::reconcile() {
  if (!listed_) return std::nullopt;
  if (!newest_) {
    // Never opens the firewall: whatever the kernel enforces stays.
    status_.state = SyncState::kNoPolicy;
    status_.error = StatusError{
        deleted_at_, "etcd", "",
        deleted_at_ ? "the vault's policy key was deleted at revision " +
                          std::to_string(deleted_at_) + "; the kernel keeps enforcing what it has"
                    : "the vault has no policy yet (vaultwallctl fleet put --vault " +
                          settings_.vault + " -f FILE); the kernel keeps enforcing what it has"};
    metrics_.state = status_.state;
    decided_revision_ = 0;
    return std::nullopt;
  }
  if (newest_->mod_revision == decided_revision_ && !recheck_) return std::nullopt;
  bool recheck = recheck_;
  recheck_ = false;
  KeyValue kv = *newest_;
  decide(kv);
  metrics_.state = status_.state;
  metrics_.policy_revision = status_.policy_revision;
  if (status_.state == SyncState::kApplying) {
    recheck_ = recheck_ || recheck;
    return kLockBusyRetry;
  }
  if (status_.state == SyncState::kError && decided_revision_ != kv.mod_revision) {
    recheck_ = recheck_ || recheck;
    retry_ = std::min(retry_.count() ? retry_ * 2 : kFirstFailureRetry, kMaxFailureRetry);
    return retry_;
  }
  retry_ = milliseconds(0);
  return std::nullopt;
}

void SyncCore::decide(const KeyValue& kv) {
  Checked<PolicyRecord> record = parse_policy_record(kv.value);
  if (!record.ok()) return reject(kv, "policy", record.errors(), "", "");
  if (record.value->vault != settings_.vault)
    return reject(kv, "policy",
                  {{Severity::kError, "vault",
                    "the record is for vault '" + record.value->vault + "' but stored under '" +
                        settings_.vault + "'"}},
                  record.value->author, record.value->shared_digest);
  const std::string& author = record.value->author;
  Checked<SharedPolicy> shared = shared_policy_from_record(*record.value);
  if (!shared.ok())
    return reject(kv, "policy", shared.errors(), author, record.value->shared_digest);
  Result<HostFactsText> facts = read_fleet_host_facts(settings_.host_facts_path);
  if (!facts)
    return reject(kv, "host-facts", {{Severity::kError, "", facts.error().message()}}, author,
                  shared.value->digest);

  std::string tags_file;
  if (!shared.value->service_tags.empty()) {
    auto written = write_service_tags_file(settings_.state_dir, shared.value->service_tags);
    if (!written) {
      status_.state = SyncState::kError;
      metrics_.failures++;
      return set_error(kv.mod_revision, "kernel", "", written.error().message());
    }
    tags_file = *written;
  }
  Checked<HostPolicy> host_policy = compile_for_host(*shared.value, *facts, tags_file);
  if (!host_policy.ok()) {
    std::vector<Diagnostic> errors = errors_of(host_policy.diagnostics);
    std::string source = errors.empty() ? "policy" : diagnostic_source(errors.front(), facts->name);
    for (Diagnostic& d : errors) d = in_record(d, facts->name);
    return reject(kv, source, errors, author, shared.value->digest);
  }

  ApplyRequest request{.host_policy = std::move(*host_policy.value),
                       .source = ChangeSource{.vault = settings_.vault,
                                              .revision = kv.mod_revision,
                                              .author = author,
                                              .shared_digest = shared.value->digest,
                                              .superseded = {}}};
  // The superseded list is only known once the apply is certain to be
  // tried; a busy lock keeps it for the next attempt.
  request.source.superseded = unapplied_;
  std::erase(request.source.superseded, kv.mod_revision);
  status_.state = SyncState::kApplying;
  auto applied = applier_.apply(request);
  if (applied && applied->after.verify.result == "drift" && !applied->changed) {
    // The kernel claims this policy but its maps differ: rewrite them.
    request.force = true;
    applied = applier_.apply(request);
  }
  if (!applied) {
    if (applied.error().code == EWOULDBLOCK) return;  // stays kApplying: retried shortly
    status_.state = SyncState::kError;
    metrics_.failures++;
    return set_error(kv.mod_revision, "kernel", "", applied.error().message());
  }
  if (!errors_of(applied->diagnostics).empty()) {
    std::vector<Diagnostic> errors = errors_of(applied->diagnostics);
    std::string source = diagnostic_source(errors.front(), facts->name);
    for (Diagnostic& d : errors) d = in_record(d, facts->name);
    return reject(kv, source, errors, author, shared.value->digest);
  }
  take_superseded(kv.mod_revision);
  decided_revision_ = kv.mod_revision;
  if (applied->changed) metrics_.applies++;
  bool new_policy = status_.policy_revision != kv.mod_revision;
  status_.policy_revision = kv.mod_revision;
  status_.shared_digest = shared.value->digest;
  status_.author = author;
  if (applied->changed || new_policy || status_.applied_at.empty()) status_.applied_at = now_text();
  note_kernel(applied->after);
  if (applied->after.verify.result == "ok") {
    status_.state = SyncState::kInSync;
    status_.error.reset();
  } else {
    status_.state = SyncState::kError;
    metrics_.failures++;
    std::string what = applied->after.verify.differences.empty()
                           ? "the drift check failed"
                           : applied->after.verify.differences.front();
    set_error(kv.mod_revision, "kernel", "", "applied, but the kernel does not match: " + what);
  }
}

void SyncCore::reject(const KeyValue& kv, std::string source, const std::vector<Diagnostic>& errors,
                      const std::string& author, const std::string& digest) {
  take_superseded(kv.mod_revision);
  decided_revision_ = kv.mod_revision;
  status_.state = SyncState::kRejected;
  Diagnostic first = errors.empty() ? Diagnostic{Severity::kError, "", "invalid"} : errors.front();
  set_error(kv.mod_revision, source, first.path, first.message);
  if (journaled_rejection_ == kv.mod_revision) return;
  journaled_rejection_ = kv.mod_revision;
  metrics_.rejections++;
  applier_.journal_rejection(ChangeSource{.vault = settings_.vault,
                                          .revision = kv.mod_revision,
                                          .author = author,
                                          .shared_digest = digest,
                                          .superseded = {}},
                             "rejected revision " + std::to_string(kv.mod_revision) + " (" +
                                 source + "): " + all_errors(errors) +
                                 "; the kernel keeps its policy");
}

void SyncCore::set_error(int64_t revision, std::string source, std::string path,
                         std::string message) {
  status_.error = StatusError{revision, std::move(source), std::move(path), std::move(message)};
}

std::vector<int64_t> SyncCore::take_superseded(int64_t applied) {
  std::vector<int64_t> out;
  for (int64_t revision : unapplied_)
    if (revision != applied) out.push_back(revision);
  unapplied_.clear();
  return out;
}

void SyncCore::note_kernel(const KernelCheck& check) {
  status_.kernel_generation = check.version.generation;
  status_.kernel_digest = check.version.digest;
  status_.verify = check.verify;
}

void SyncCore::check_kernel() {
  auto check = applier_.check();
  if (!check) {
    status_.verify = VerifyReport{"error", {check.error().message()}, now_text()};
    return;
  }
  note_kernel(*check);
}

void SyncCore::refresh_counters() {
  auto counters = applier_.counters();
  if (counters) status_.counters = *counters;
}

HostStatus SyncCore::report() const {
  HostStatus out = status_;
  out.reported_at = now_text();
  return out;
}

HostInfo SyncCore::info(std::string pin_dir) const {
  return HostInfo{.host = settings_.host,
                  .vault = settings_.vault,
                  .agent_version = settings_.agent_version,
                  .enrolled_at = now_text(),
                  .pin_dir = std::move(pin_dir),
                  .host_facts = settings_.host_facts_path};
}

std::string SyncCore::summary() const {
  std::string text = "fleet " + settings_.vault + ": " + std::string(to_string(status_.state));
  if (status_.policy_revision)
    text += " at revision " + std::to_string(status_.policy_revision) + " (" +
            status_.shared_digest.substr(0, 12) + ")";
  if (status_.error && status_.state != SyncState::kInSync)
    text += "; " +
            (status_.error->revision ? "revision " + std::to_string(status_.error->revision) + ": "
                                     : "") +
            (status_.error->path.empty() ? "" : status_.error->path + ": ") +
            status_.error->message;
  if (etcd_down_) text += "; etcd not connected (the kernel keeps enforcing)";
  return text;
}

}  // namespace vaultwall::fleet
