// vaultwallctl fleet: a vault's shared policy in etcd (put, get, diff) and
// what every host of the fleet enforces (status). Each command builds its
// result as JSON once; the table is drawn from that same JSON.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cli/common.h"
#include "vaultwall/common/text.h"
#include "vaultwall/common/time.h"
#include "vaultwall/common/command_line.h"
#include "vaultwall/fleet/connection_cli.h"
#include "vaultwall/fleet/layout.h"
#include "vaultwall/fleet/records.h"
#include "vaultwall/fleet/shared_policy.h"
#include "vaultwall/common/journal.h"

namespace vaultwall::cli {

using json = Json;  // ordered, as every output
namespace {

using namespace std::chrono_literals;
using fleet::EtcdClient;
using fleet::HostInfo;
using fleet::HostStatus;
using fleet::KeyValue;
using fleet::PolicyRecord;
using fleet::SharedPolicy;
using fleet::SyncState;

struct FleetFlags {
  fleet::EtcdSettings etcd = fleet::etcd_settings_from_environment();
  std::string vault;
  std::string file;
  std::string service_tags;
  std::string author;
  std::string comment;
  std::optional<int64_t> if_revision;
  bool wait = false;
  bool dry_run = false;
  bool watch = false;
  double timeout_seconds = 60;
  double stale_after_seconds = 180;
};

// ---- output: one Report, its JSON and its lines ---------------------------------

std::string short_digest(const json& digest) {
  return digest.is_string() ? digest.get<std::string>().substr(0, 12) : "-";
}

std::string text_or_dash(const json& value) {
  if (value.is_string() && !value.get<std::string>().empty()) return value.get<std::string>();
  if (value.is_number()) return std::to_string(value.get<int64_t>());
  return "-";
}

// A document that is not a valid shared policy: its diagnostics say why.
Report& refuse_invalid(Report& report, const std::string& file,
                       const std::vector<Diagnostic>& diagnostics, const char* consequence) {
  report.json["valid"] = false;
  report.json["diagnostics"] = diagnostics_json(diagnostics);
  add_diagnostic_notes(report, diagnostics);
  return report.fail(Error{0, file + ": not a valid shared policy; " + consequence, {}});
}

// ---- etcd --------------------------------------------------------------------------

Result<std::unique_ptr<EtcdClient>> connect(const FleetFlags& flags) {
  fleet::GatewayOptions options = VW_TRY(fleet::gateway_options(flags.etcd));
  return fleet::make_gateway_client(std::move(options));
}

struct StoredPolicy {
  KeyValue kv;
  PolicyRecord record;
};

// The vault's stored record, nullopt when there is none. EBADMSG when the
// value is not a record (its path in the message).
Result<std::optional<StoredPolicy>> read_stored(EtcdClient& etcd, const std::string& vault,
                                                int64_t* revision = nullptr) {
  auto range = VW_TRY(etcd.range({.key = fleet::policy_key(vault)}));
  if (revision) *revision = range.header.revision;
  if (range.kvs.empty()) return std::nullopt;
  auto record = fleet::parse_policy_record(range.kvs.front().value);
  if (!record.ok())
    return fail(EBADMSG,
                fleet::policy_key(vault) + " at revision " +
                    std::to_string(range.kvs.front().mod_revision) +
                    " is not a policy record: " + record.errors().front().text(),
                "write it again with vaultwallctl fleet put (use --if-revision " +
                    std::to_string(range.kvs.front().mod_revision) + ")");
  return StoredPolicy{range.kvs.front(), std::move(*record.value)};
}

std::string default_author() {
  std::string user = env_or("SUDO_USER", env_or("USER", "root"));
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) return user;
  return user + "@" + host;
}

// A document as a shared policy, its problems printed by the caller.
Checked<SharedPolicy> load_shared(const FleetFlags& flags) {
  std::ifstream in(flags.file, std::ios::binary);
  if (!in) {
    Checked<SharedPolicy> out;
    out.diagnostics.push_back(
        {Severity::kError, "", "cannot read " + flags.file + ": " + std::strerror(errno)});
    return out;
  }
  std::stringstream text;
  text << in.rdbuf();
  return fleet::make_shared_policy(
      text.str(), {.service_tags_file = flags.service_tags,
                   .base_dir = std::filesystem::absolute(flags.file).parent_path()});
}

// ---- diffs between two shared policies ----------------------------------------------

json tags_changes(const std::map<std::string, std::vector<std::string>>& before,
                  const std::map<std::string, std::vector<std::string>>& after) {
  json out = json::array();
  std::set<std::string> names;
  for (const auto& [name, p] : before) names.insert(name);
  for (const auto& [name, p] : after) names.insert(name);
  for (const std::string& name : names) {
    auto b = before.find(name), a = after.find(name);
    std::set<std::string> old_set, new_set;
    if (b != before.end()) old_set.insert(b->second.begin(), b->second.end());
    if (a != after.end()) new_set.insert(a->second.begin(), a->second.end());
    if (old_set == new_set) continue;
    size_t added = 0, removed = 0;
    for (const std::string& p : new_set) added += old_set.contains(p) ? 0 : 1;
    for (const std::string& p : old_set) removed += new_set.contains(p) ? 0 : 1;
    out.push_back({{"serviceTag", name}, {"prefixesAdded", added}, {"prefixesRemoved", removed}});
  }
  return out;
}

json policy_changes(const std::optional<SharedPolicy>& before, const SharedPolicy& after) {
  PolicyDiff diff =
      diff_policies(before ? std::optional(before->policy) : std::nullopt, after.policy);
  json changes = diff_json(diff);
  changes["serviceTags"] = tags_changes(
      before ? before->service_tags : decltype(after.service_tags){}, after.service_tags);
  changes["same"] = before && before->digest == after.digest;
  return changes;
}

void add_changes(Report& report, const json& changes) {
  PolicyDiff diff;
  diff.rules_added = changes["rulesAdded"].get<std::vector<std::string>>();
  diff.rules_removed = changes["rulesRemoved"].get<std::vector<std::string>>();
  diff.settings_changed = changes["settingsChanged"].get<std::vector<std::string>>();
  diff.host_changes = changes["hostChanges"].get<std::vector<std::string>>();
  diff.host_changed = changes["hostSectionChanged"].get<bool>();
  for (std::string& line : diff_lines(diff)) report.line(std::move(line));
  for (const json& tag : changes["serviceTags"])
    report.line("  ~ service tag " + tag["serviceTag"].get<std::string>() + ": +" +
                tag["prefixesAdded"].dump() + " -" + tag["prefixesRemoved"].dump() + " prefixes");
}

// The stored policy as a SharedPolicy (for diffs); nullopt when it does not check.
std::optional<SharedPolicy> stored_shared(const std::optional<StoredPolicy>& stored) {
  if (!stored) return std::nullopt;
  auto shared = fleet::shared_policy_from_record(stored->record);
  if (!shared.ok()) return std::nullopt;
  return std::move(*shared.value);
}

// ---- the fleet's hosts ----------------------------------------------------------------

struct HostRow {
  std::string host;
  std::optional<HostInfo> info;
  std::optional<HostStatus> status;
  std::string problem;  // a value under hosts/<host>/ that does not parse
};

struct FleetView {
  int64_t revision = 0;
  std::map<std::string, StoredPolicy> vaults;
  std::map<std::string, std::string> unreadable_vaults;  // vault -> why
  std::map<std::string, HostRow> hosts;
};

Result<FleetView> read_fleet(EtcdClient& etcd) {
  FleetView view;
  auto hosts = VW_TRY(etcd.range(fleet::RangeRequest::prefix(fleet::hosts_prefix())));
  fleet::RangeRequest vaults_request = fleet::RangeRequest::prefix(fleet::vaults_prefix());
  vaults_request.revision = hosts.header.revision;  // one consistent picture
  auto vaults = VW_TRY(etcd.range(vaults_request));
  view.revision = hosts.header.revision;
  for (const KeyValue& kv : vaults.kvs) {
    auto vault = fleet::parse_policy_key(kv.key);
    if (!vault) continue;
    auto record = fleet::parse_policy_record(kv.value);
    if (record.ok())
      view.vaults[*vault] = StoredPolicy{kv, std::move(*record.value)};
    else
      view.unreadable_vaults[*vault] = record.errors().front().text();
  }
  for (const KeyValue& kv : hosts.kvs) {
    auto key = fleet::parse_host_key(kv.key);
    if (!key) continue;
    HostRow& row = view.hosts[key->host];
    row.host = key->host;
    if (key->leaf == "info") {
      auto info = fleet::parse_host_info(kv.value);
      if (info)
        row.info = *info;
      else
        row.problem = "info: " + info.error().message();
    } else if (key->leaf == "status") {
      auto status = fleet::parse_host_status(kv.value);
      if (status)
        row.status = *status;
      else
        row.problem = "status: " + status.error().message();
    }
  }
  return view;
}

// Seconds since a journal-format UTC time; -1 when it does not parse.
int64_t age_seconds(const std::string& utc) {
  std::tm parts{};
  if (utc.size() < 19 || !strptime(utc.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &parts))
    return -1;
  time_t then = timegm(&parts);
  return std::max<int64_t>(0, int64_t(std::time(nullptr) - then));
}

std::string age_text(int64_t seconds) {
  if (seconds < 0) return "-";
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds / 3600) + "h";
}

std::string row_vault(const HostRow& row) {
  if (row.status) return row.status->vault;
  return row.info ? row.info->vault : "";
}

// One host as status shows it. "absent": enrolled, no status (its agent
// stopped, or lost etcd for longer than its lease); "stale": its status
// stopped being refreshed; "behind": in sync with an older policy.
json host_json(const HostRow& row, const FleetView& view, double stale_after) {
  std::string vault = row_vault(row);
  auto current = view.vaults.find(vault);
  json out{{"host", row.host}, {"vault", vault}};
  bool good = false;
  if (!row.status) {
    out["state"] = row.problem.empty() ? "absent" : "unreadable";
    out["policyRevision"] = nullptr;
    out["sharedDigest"] = nullptr;
    out["verify"] = nullptr;
    out["appliedAt"] = nullptr;
    out["ageSeconds"] = nullptr;
    out["error"] = row.problem.empty() ? json(nullptr) : json({{"message", row.problem}});
  } else {
    const HostStatus& s = *row.status;
    int64_t age = age_seconds(s.reported_at);
    bool current_digest =
        current != view.vaults.end() && current->second.record.shared_digest == s.shared_digest;
    std::string state(fleet::to_string(s.state));
    if (age > stale_after)
      state = "stale";
    else if (s.state == SyncState::kInSync && !current_digest)
      state = "behind";
    good = state == "in-sync" && s.verify.result == "ok";
    json status = fleet::to_json(s);
    out["state"] = state;
    out["reportedState"] = fleet::to_string(s.state);
    out["policyRevision"] = s.policy_revision;
    out["sharedDigest"] = status["sharedDigest"];
    out["verify"] = s.verify.result;
    out["appliedAt"] = status["appliedAt"];
    out["ageSeconds"] = age;
    out["error"] = status["error"];
    out["kernel"] = status["kernel"];
    out["connected"] = s.connected;
    out["watchMember"] = status["watchMember"];
    out["counters"] = status["counters"];
  }
  out["enrolled"] = row.info.has_value();
  out["current"] = good;
  return out;
}

json fleet_status_json(const FleetView& view, const std::string& only_vault, double stale_after) {
  json vaults = json::object();
  for (const auto& [name, stored] : view.vaults) {
    if (!only_vault.empty() && name != only_vault) continue;
    vaults[name] = {{"revision", stored.kv.mod_revision},
                    {"sharedDigest", stored.record.shared_digest},
                    {"author", stored.record.author},
                    {"comment", stored.record.comment},
                    {"createdAt", stored.record.created_at}};
  }
  for (const auto& [name, why] : view.unreadable_vaults)
    if (only_vault.empty() || name == only_vault) vaults[name] = {{"error", why}};
  json hosts = json::array();
  bool all_good = true;
  for (const auto& [name, row] : view.hosts) {
    if (!only_vault.empty() && row_vault(row) != only_vault) continue;
    json host = host_json(row, view, stale_after);
    all_good = all_good && host["current"].get<bool>();
    hosts.push_back(std::move(host));
  }
  return {{"revision", view.revision},
          {"vaults", vaults},
          {"hosts", hosts},
          {"allInSync", all_good && !hosts.empty()}};
}

// fleet status's JSON before anything was read: the same keys, empty.
json empty_status_json() {
  return {{"revision", nullptr}, {"vaults", json::object()}, {"hosts", json::array()},
          {"allInSync", false}};
}

void add_status_text(Report& report, const json& result) {
  TextTable table({left_column("HOST", 20), left_column("VAULT", 16), left_column("STATE", 10),
                   left_column("REVISION", 9), left_column("DIGEST", 13), left_column("VERIFY", 7),
                   left_column("APPLIED", 21), left_column("AGE")});
  for (const json& h : result["hosts"]) {
    std::string applied = text_or_dash(h["appliedAt"]);
    if (applied.size() > 19) applied = applied.substr(0, 19) + "Z";
    table.add_row({h["host"].get<std::string>(), h["vault"].get<std::string>(),
                   h["state"].get<std::string>(), text_or_dash(h["policyRevision"]),
                   short_digest(h["sharedDigest"]), text_or_dash(h["verify"]), applied,
                   h["ageSeconds"].is_number() ? age_text(h["ageSeconds"].get<int64_t>()) : "-"});
  }
  if (!result["hosts"].empty()) report.table(std::move(table));
  for (const json& h : result["hosts"]) {
    const json& error = h["error"];
    if (!error.is_object()) continue;
    std::string where = error.value("path", "");
    report.line(h["host"].get<std::string>() + ": " +
                (error.value("revision", int64_t{0})
                     ? "revision " + std::to_string(error["revision"].get<int64_t>()) + ": "
                     : "") +
                (where.empty() ? "" : where + ": ") + error.value("message", ""));
  }
  for (const auto& [vault, v] : result["vaults"].items()) {
    if (v.contains("error"))
      report.line("vault " + vault + ": the stored policy is unreadable: " +
                  v["error"].get<std::string>());
    else
      report.line("vault " + vault + ": revision " + v["revision"].dump() + ", digest " +
                  short_digest(v["sharedDigest"]) + " by " + v["author"].get<std::string>());
  }
  if (result["hosts"].empty()) report.line("no hosts are enrolled");
}

// ---- waiting for the fleet ----------------------------------------------------------

std::atomic<bool> interrupted{false};
void on_interrupt(int) { interrupted = true; }

// Blocks until something under prefix changes after revision, or until
// deadline, or ^C. Returns false on ^C.
bool wait_for_change(EtcdClient& etcd, const std::string& prefix, int64_t after,
                     std::chrono::steady_clock::time_point deadline) {
  std::stop_source stop;
  std::jthread timer([&](std::stop_token own) {
    while (!own.stop_requested() && std::chrono::steady_clock::now() < deadline && !interrupted)
      std::this_thread::sleep_for(50ms);
    stop.request_stop();
  });
  [[maybe_unused]] auto watched = etcd.watch(
      fleet::WatchRequest::prefix(prefix, after + 1),
      [](const fleet::WatchMessage& m) {
        return std::holds_alternative<fleet::WatchEvents>(m) ? fleet::WatchControl::kStop
                                                             : fleet::WatchControl::kContinue;
      },
      stop.get_token());
  return !interrupted;
}

// Every enrolled host of the vault on `digest` with verify ok: the laggards
// otherwise. *refusing counts those that rejected revision itself (they
// will not come round by waiting).
std::vector<std::string> laggards(const FleetView& view, const std::string& vault,
                                  const std::string& digest, int64_t revision, size_t* enrolled,
                                  size_t* refusing) {
  std::vector<std::string> out;
  *enrolled = 0;
  *refusing = 0;
  for (const auto& [name, row] : view.hosts) {
    if (row_vault(row) != vault) continue;
    ++*enrolled;
    if (!row.status) {
      out.push_back(name + " (absent)");
      continue;
    }
    const HostStatus& s = *row.status;
    if (s.shared_digest == digest && s.state == SyncState::kInSync && s.verify.result == "ok")
      continue;
    std::string why(fleet::to_string(s.state));
    if (s.state == SyncState::kRejected && s.error && s.error->revision == revision) ++*refusing;
    if (s.error && (s.state == SyncState::kRejected || s.state == SyncState::kError))
      why += ": " + (s.error->path.empty() ? "" : s.error->path + ": ") + s.error->message;
    else if (s.shared_digest != digest)
      why += " on " + (s.shared_digest.empty() ? std::string("no fleet policy")
                                               : s.shared_digest.substr(0, 12));
    out.push_back(name + " (" + why + ")");
  }
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// Follows the hosts' statuses until every enrolled host of vault reports
// digest with verify ok, or the timeout (a failure naming the laggards).
// Progress goes to stderr as it comes; the result into report.json["wait"].
void wait_for_fleet(EtcdClient& etcd, const std::string& vault, const std::string& digest,
                    int64_t revision, double timeout_seconds, Report& report) {
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + std::chrono::milliseconds(int64_t(timeout_seconds * 1000));
  std::string last_progress;
  auto fixed = [](double seconds, int digits) {
    std::ostringstream text;
    text << std::fixed << std::setprecision(digits) << seconds;
    return text.str();
  };
  while (true) {
    auto view = read_fleet(etcd);
    if (!view) {
      report.json["wait"] = {{"done", false}, {"hosts", 0}, {"laggards", json::array()},
                             {"seconds", 0}};
      report.fail(view.error());
      return;
    }
    size_t enrolled = 0, refusing = 0;
    std::vector<std::string> behind =
        laggards(*view, vault, digest, revision, &enrolled, &refusing);
    double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report.json["wait"] = {{"done", behind.empty() && enrolled > 0},
                           {"hosts", enrolled},
                           {"laggards", behind},
                           {"seconds", waited}};
    bool out_of_time = std::chrono::steady_clock::now() >= deadline || interrupted;
    if (enrolled == 0 && out_of_time) {
      report.fail(Error{0, "no host of vault " + vault + " is enrolled: nothing enforces this policy",
                        "start vaultwall-agent --vault " + vault + " on its hosts"});
      return;
    }
    if (behind.empty() && enrolled > 0) {
      report.line("all " + std::to_string(enrolled) + " hosts of " + vault + " enforce " +
                  digest.substr(0, 12) + " (verified) after " + fixed(waited, 2) + " s");
      return;
    }
    std::string progress = std::to_string(enrolled - behind.size()) + "/" +
                           std::to_string(enrolled) + " hosts on " + digest.substr(0, 12) +
                           "; waiting for " + joined(behind);
    if (enrolled == 0) progress = "no host of " + vault + " is enrolled yet; waiting";
    if (!behind.empty() && refusing == behind.size()) {
      report.fail(Error{0, std::to_string(refusing) + " of " + std::to_string(enrolled) +
                               " hosts of " + vault + " rejected revision " +
                               std::to_string(revision) +
                               " and keep their previous policy: " + joined(behind),
                        "fix the policy (or those hosts' facts) and put again"});
      return;
    }
    if (progress != last_progress) std::cerr << printable(progress) << "\n";
    last_progress = progress;
    if (out_of_time) {
      report.fail(Error{0, "after " + fixed(waited, 1) + " s, " + std::to_string(behind.size()) +
                               " of " + std::to_string(enrolled) + " hosts of " + vault +
                               " do not enforce " + digest.substr(0, 12) + ": " + joined(behind),
                        "see vaultwallctl fleet status --vault " + vault});
      return;
    }
    wait_for_change(etcd, fleet::hosts_prefix(), view->revision, deadline);
  }
}

// ---- put ------------------------------------------------------------------------------

std::string conflict_text(const std::string& vault, int64_t expected,
                          const std::optional<StoredPolicy>& now, const KeyValue* raw) {
  std::string key = fleet::policy_key(vault);
  if (!now && !raw) return key + " was deleted since revision " + std::to_string(expected);
  int64_t at = now ? now->kv.mod_revision : raw->mod_revision;
  std::string who =
      now ? " by " + now->record.author + " at " + now->record.created_at +
                (now->record.comment.empty() ? "" : " (\"" + now->record.comment + "\")")
          : "";
  return key + " changed at revision " + std::to_string(at) + who +
         (expected ? ", after revision " + std::to_string(expected) : " (it did not exist before)");
}

// put's JSON in every outcome: the same keys, null until known.
json put_json(const FleetFlags& flags) {
  return {{"vault", flags.vault},
          {"key", fleet::policy_key(flags.vault)},
          {"valid", nullptr},
          {"sharedDigest", nullptr},
          {"bytes", nullptr},
          {"previousRevision", nullptr},
          {"revision", nullptr},
          {"dryRun", flags.dry_run},
          {"unchanged", false},
          {"changes", nullptr},
          {"wait", nullptr},
          {"diagnostics", json::array()}};
}

Report cmd_put(const FleetFlags& flags) {
  Report report;
  report.json = put_json(flags);
  Checked<SharedPolicy> shared = load_shared(flags);
  if (!shared.ok())
    return refuse_invalid(report, flags.file, shared.diagnostics, "nothing was written");
  // One typo would put another vault's firewall on a whole fleet.
  if (auto vault = vault_name_and_group(shared.value->policy.resource_id);
      vault && !equals_ignore_case(vault->first, flags.vault))
    return report.fail(Error{0,
                             "--vault " + flags.vault + ": " + flags.file + " is vault " +
                                 vault->first + " (" + shared.value->policy.resource_id +
                                 "); nothing was written",
                             "give --vault " + vault->first + ", or the document of " + flags.vault});
  report.json["valid"] = true;
  report.json["diagnostics"] = diagnostics_json(shared.diagnostics);
  add_diagnostic_notes(report, shared.diagnostics);
  PolicyRecord record = fleet::make_record(*shared.value, flags.vault,
                                           flags.author.empty() ? default_author() : flags.author,
                                           flags.comment, format_utc(now_unix_ns()));
  std::string value = fleet::to_json(record).dump();
  if (value.size() > fleet::kMaxPolicyRecordBytes)
    return report.fail(Error{
        EMSGSIZE,
        "the shared policy of " + flags.vault + " is " + std::to_string(value.size()) +
            " bytes, above fleet mode's limit of " + std::to_string(fleet::kMaxPolicyRecordBytes) +
            " bytes for " + fleet::policy_key(flags.vault) +
            " (etcd refuses requests above its --max-request-bytes, 1.5 MiB by "
            "default); nothing was written",
        "trust fewer or narrower service tags (their prefixes are stored "
        "resolved: " +
            std::to_string(shared.value->service_tags.size()) + " tags here) or use fewer rules"});

  auto etcd = connect(flags);
  if (!etcd) return report.fail(etcd.error());
  auto stored = read_stored(**etcd, flags.vault);
  if (!stored && stored.error().code != EBADMSG) return report.fail(stored.error());
  int64_t current_revision = 0;
  if (stored && *stored) current_revision = (*stored)->kv.mod_revision;
  if (!stored) {
    // An unreadable value may be replaced, but only deliberately.
    if (!flags.if_revision) return report.fail(stored.error());
  }
  int64_t expected = flags.if_revision.value_or(current_revision);
  if (flags.if_revision && stored && *flags.if_revision != current_revision)
    return report.fail(Error{
        ECANCELED, conflict_text(flags.vault, expected, *stored, nullptr) + "; nothing was written",
        "see what changed with vaultwallctl fleet diff --vault " + flags.vault + " -f " +
            flags.file + ", then put again with --if-revision " +
            std::to_string(current_revision)});
  std::optional<SharedPolicy> before = stored ? stored_shared(*stored) : std::nullopt;
  json changes = policy_changes(before, *shared.value);
  json& result = report.json;
  result["sharedDigest"] = shared.value->digest;
  result["bytes"] = value.size();
  result["previousRevision"] = current_revision;
  result["changes"] = changes;
  const std::string key = fleet::policy_key(flags.vault);
  const std::string digest = short_digest(result["sharedDigest"]);
  const bool same = changes["same"].get<bool>();
  if (flags.dry_run) {
    report.line("dry run: would write " + key + " (digest " + digest + ", " +
                std::to_string(value.size()) + " bytes)" + (same ? ", no changes" : ":"));
    add_changes(report, changes);
    return report;
  }
  if (before && before->digest == shared.value->digest) {
    result["unchanged"] = true;
    result["revision"] = current_revision;
    report.line("no change: revision " + std::to_string(current_revision) + " of " + key +
                " already holds this policy (digest " + digest + ")");
  } else {
    fleet::TxnRequest txn{.compare = {fleet::Compare::mod_revision_is(key, expected)},
                          .success = {fleet::PutRequest{.key = key, .value = value}},
                          .failure = {fleet::RangeRequest{.key = key}}};
    auto written = (*etcd)->txn(txn);
    if (!written && written.error().code == EIO) {
      // The outcome is unknown: our value is there, or it is not.
      auto again = read_stored(**etcd, flags.vault);
      if (again && *again && (*again)->record.shared_digest == record.shared_digest &&
          (*again)->record.created_at == record.created_at)
        written = fleet::TxnResponse{.header = {.revision = (*again)->kv.mod_revision},
                                     .succeeded = true};
    }
    if (!written) return report.fail(written.error());
    if (!written->succeeded) {
      const KeyValue* raw = nullptr;
      if (!written->responses.empty())
        if (auto* range = std::get_if<fleet::RangeResponse>(&written->responses.front()))
          if (!range->kvs.empty()) raw = &range->kvs.front();
      std::optional<StoredPolicy> now;
      if (raw)
        if (auto parsed = fleet::parse_policy_record(raw->value); parsed.ok())
          now = StoredPolicy{*raw, *parsed.value};
      return report.fail(
          Error{ECANCELED, conflict_text(flags.vault, expected, now, raw) + "; nothing was written",
                "see what changed with vaultwallctl fleet diff --vault " + flags.vault + " -f " +
                    flags.file + ", then put again" +
                    (raw ? " with --if-revision " + std::to_string(raw->mod_revision) : "")});
    }
    result["revision"] = written->header.revision;
    report.line("wrote " + key + " at revision " + std::to_string(written->header.revision) +
                " (digest " + digest + ")" + (same ? "" : ":"));
    add_changes(report, changes);
  }
  if (flags.wait) {
    std::signal(SIGINT, on_interrupt);
    wait_for_fleet(**etcd, flags.vault, shared.value->digest, result["revision"].get<int64_t>(),
                   flags.timeout_seconds, report);
  }
  return report;
}

// ---- get / diff ------------------------------------------------------------------------

// get's JSON in every outcome: the record's fields, null until read.
json get_json(const FleetFlags& flags) {
  return {{"vault", flags.vault},     {"sharedDigest", nullptr}, {"author", nullptr},
          {"comment", nullptr},       {"createdAt", nullptr},    {"policy", nullptr},
          {"serviceTags", nullptr},   {"revision", nullptr},     {"createRevision", nullptr},
          {"version", nullptr},       {"valid", nullptr},        {"diagnostics", json::array()}};
}

Report cmd_get(const Globals& g, const FleetFlags& flags) {
  Report report;
  report.json = get_json(flags);
  auto etcd = connect(flags);
  if (!etcd) return report.fail(etcd.error());
  auto stored = read_stored(**etcd, flags.vault);
  if (!stored) return report.fail(stored.error());
  if (!*stored)
    return report.fail(Error{
        ENOENT,
        "vault " + flags.vault + " has no policy in etcd (" + fleet::policy_key(flags.vault) + ")",
        "write one with vaultwallctl fleet put --vault " + flags.vault + " -f FILE"});
  const StoredPolicy& s = **stored;
  if (g.output == "document") {  // the document itself, as stored (streamed: no schemaVersion)
    std::cout << s.record.policy.dump(2) << "\n";
    return report;
  }
  json record = fleet::to_json(s.record);
  record.erase("schemaVersion");  // the record's own, not this output's
  report.json.update(record);
  report.json["revision"] = s.kv.mod_revision;
  report.json["createRevision"] = s.kv.create_revision;
  report.json["version"] = s.kv.version;
  auto shared = fleet::shared_policy_from_record(s.record);
  report.json["valid"] = shared.ok();
  report.json["diagnostics"] = diagnostics_json(shared.diagnostics);
  report.line("vault " + flags.vault + ": revision " + std::to_string(s.kv.mod_revision) +
              " (version " + std::to_string(s.kv.version) + "), digest " + s.record.shared_digest);
  report.line("  written by " + s.record.author + " at " + s.record.created_at +
              (s.record.comment.empty() ? "" : ": " + s.record.comment));
  if (shared.ok()) {
    const Policy& p = shared.value->policy;
    report.line("  " + std::to_string(p.ip_rules.size()) + " IP rules, " +
                std::to_string(p.vnet_rules.size()) + " virtual-network rules; defaultAction " +
                std::string(to_string(p.default_action)) + ", bypass " +
                std::string(to_string(p.bypass)) + ", publicNetworkAccess " +
                std::string(to_string(p.public_network_access)) + ", mode " +
                std::string(to_string(p.host.mode)));
    for (const auto& [tag, prefixes] : s.record.service_tags)
      report.line("  trusted service tag " + tag + ": " + std::to_string(prefixes.size()) +
                  " IPv4 prefixes");
  } else {
    add_diagnostic_notes(report, shared.diagnostics);
    report.line("  INVALID: hosts reject this value and keep their policy");
  }
  report.line("(the document itself: vaultwallctl fleet get --vault " + flags.vault +
              " -o document)");
  return report;
}

// diff(1) convention: 0 same, 1 different, 2 trouble.
Report cmd_diff(const FleetFlags& flags) {
  Report report;
  report.json = {{"vault", flags.vault},      {"revision", nullptr},
                 {"storedDigest", nullptr},   {"sharedDigest", nullptr},
                 {"valid", nullptr},          {"changes", nullptr},
                 {"diagnostics", json::array()}};
  report.exit_code = kExitUsage;  // until the policies were compared
  Checked<SharedPolicy> shared = load_shared(flags);
  if (!shared.ok()) return refuse_invalid(report, flags.file, shared.diagnostics, "nothing to compare");
  report.json["valid"] = true;
  report.json["diagnostics"] = diagnostics_json(shared.diagnostics);
  add_diagnostic_notes(report, shared.diagnostics);
  auto etcd = connect(flags);
  if (!etcd) return report.fail(etcd.error());
  auto stored = read_stored(**etcd, flags.vault);
  if (!stored) return report.fail(stored.error());
  std::optional<SharedPolicy> before = stored_shared(*stored);
  json changes = policy_changes(before, *shared.value);
  bool same = changes["same"].get<bool>();
  report.json["revision"] = *stored ? json((*stored)->kv.mod_revision) : json(nullptr);
  report.json["storedDigest"] = before ? json(before->digest) : json(nullptr);
  report.json["sharedDigest"] = shared.value->digest;
  report.json["changes"] = changes;
  report.exit_code = same ? kExitOk : kExitError;
  if (!*stored)
    report.line("vault " + flags.vault + " has no policy yet; " + flags.file + " would add:");
  else if (same)
    report.line("no differences: revision " + std::to_string((*stored)->kv.mod_revision) +
                " holds " + flags.file);
  else
    report.line("differences between revision " + std::to_string((*stored)->kv.mod_revision) +
                " and " + flags.file + ":");
  if (!same) add_changes(report, changes);
  return report;
}

// ---- status ------------------------------------------------------------------------------

// One picture of the fleet; exit 1 unless every host is in sync.
Report status_report(EtcdClient& etcd, const FleetFlags& flags, int64_t* revision = nullptr) {
  Report report;
  report.json = empty_status_json();
  auto view = read_fleet(etcd);
  if (!view) return report.fail(view.error());
  report.json = fleet_status_json(*view, flags.vault, flags.stale_after_seconds);
  if (revision) *revision = view->revision;
  add_status_text(report, report.json);
  report.exit_code = report.json["allInSync"].get<bool>() ? kExitOk : kExitError;
  return report;
}

Report cmd_status(const Globals& g, const FleetFlags& flags) {
  if (!flags.vault.empty())
    if (auto ok = fleet::check_vault_name(flags.vault, "--vault"); !ok) {
      Report report;
      report.json = empty_status_json();
      return report.fail(ok.error());
    }
  auto etcd = connect(flags);
  if (!etcd) {
    Report report;
    report.json = empty_status_json();
    return report.fail(etcd.error());
  }
  if (!flags.watch) return status_report(**etcd, flags);
  // --watch: a report per change (and every 5 s, for the ages), each
  // printed whole: one JSON document per redraw with -o json.
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  while (!interrupted) {
    if (!g.json()) std::cout << "\n--- " << format_utc(now_unix_ns()) << "\n";
    int64_t after = 0;
    emit(status_report(**etcd, flags, &after), g.format());
    if (!wait_for_change(**etcd, std::string(fleet::kRoot), after,
                         std::chrono::steady_clock::now() + 5s))
      break;
  }
  return exit_code_report(kExitOk);
}

}  // namespace

void add_fleet_commands(CLI::App& app, Globals& g, Commands& commands) {
  auto flags = std::make_shared<FleetFlags>();
  auto* fleet_app = app.add_subcommand(
      "fleet", "a vault's shared policy in etcd, and what every host of the fleet enforces");
  fleet_app->require_subcommand(1);

  auto add_vault = [&](CLI::App* command, bool required) {
    auto* option = command->add_option("--vault", flags->vault, "the vault (its Azure name)");
    if (required) option->required();
  };
  auto add_document = [&](CLI::App* command) {
    command
        ->add_option("-f,--file", flags->file,
                     "the rule document (the shared policy; no host facts)")
        ->required();
    command->add_option("--service-tags", flags->service_tags,
                        "Azure's Service Tags JSON to resolve the trusted services with (default: "
                        "the document's vaultwall.trustedServices.serviceTags)");
  };

  auto* put = fleet_app->add_subcommand(
      "put", "validate a shared policy and write it for every host of a vault (compare-and-swap)");
  add_vault(put, true);
  add_document(put);
  put->add_option(
      "--if-revision", flags->if_revision,
      "write only if the stored policy is still at this revision (0: only if there is none)");
  put->add_flag("--wait", flags->wait,
                "then wait until every enrolled host of the vault enforces it, verified (exit 1 "
                "naming the laggards)");
  put->add_option("--timeout", flags->timeout_seconds, "seconds --wait waits")
      ->capture_default_str();
  put->add_flag("--dry-run", flags->dry_run, "validate and show what would change, write nothing");
  put->add_option("--author", flags->author, "recorded with the policy (default user@host)");
  put->add_option("--comment", flags->comment, "recorded with the policy: why it changed");
  add_output_option(commands, put);
  commands.add(put, [flags] { return cmd_put(*flags); });
  commands.checks.push_back([put, flags] {
    if (put->parsed() && put->count("--timeout") && !flags->wait)
      throw CLI::ValidationError("--timeout", "--timeout goes with --wait");
    if (put->parsed() && flags->wait && flags->dry_run)
      throw CLI::ValidationError("--wait", "--wait and --dry-run exclude each other");
  });

  auto* get = fleet_app->add_subcommand("get", "show a vault's stored policy");
  add_vault(get, true);
  add_output_option(commands, get, {"table", "json", "document"});
  commands.add(get, [&g, flags] { return cmd_get(g, *flags); }, Commands::Output::kReport,
               [&g] { return g.output == "document"; });

  auto* diff = fleet_app->add_subcommand(
      "diff",
      "compare a rule document with a vault's stored policy (exit 0 same, 1 different, 2 trouble)");
  add_vault(diff, true);
  add_document(diff);
  add_output_option(commands, diff);
  commands.add(diff, [flags] { return cmd_diff(*flags); });

  auto* status = fleet_app->add_subcommand(
      "status",
      "what every host enforces: state, policy revision, digest, verify (exit 1 unless "
      "every host is in sync)");
  add_vault(status, false);
  status->add_flag("--watch", flags->watch, "redraw on every change until interrupted");
  status
      ->add_option("--stale-after", flags->stale_after_seconds,
                   "seconds without a status refresh after which a host shows as stale")
      ->capture_default_str();
  add_output_option(commands, status, kTableFormats);
  commands.add(status, [&g, flags] { return cmd_status(g, *flags); }, Commands::Output::kReport,
               [flags] { return flags->watch; });

  // Before or after the subcommand, like the rest of the CLI.
  add_everywhere(*fleet_app,
                 [flags](CLI::App* command) { fleet::add_etcd_options(command, flags->etcd); });
  commands.checks.push_back([flags, fleet_app] {
    if (fleet_app->parsed() && !flags->vault.empty())
      if (auto ok = fleet::check_vault_name(flags->vault, "--vault"); !ok)
        throw CLI::ValidationError("--vault", ok.error().message());
  });
}

}  // namespace vaultwall::cli
