#include "vaultwall/common/time.h"
#include "vaultwall/apply/metrics_facts.h"

#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <time.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vaultwall/apply/apply.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/apply/verify.h"

#ifndef VAULTWALL_COMMIT
#define VAULTWALL_COMMIT "unknown"
#endif

namespace vaultwall {
namespace {

std::optional<uint64_t> stat_mtime_ns(const std::string& path, uint64_t* size = nullptr) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  if (size) *size = static_cast<uint64_t>(st.st_size);
  return static_cast<uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000ull +
         static_cast<uint64_t>(st.st_mtim.tv_nsec);
}

// Journal commands that change the policy: apply, update, network-rule
// add/remove, the agent's fleet apply and reapply (attach and detach change
// links, not the policy).
bool is_policy_change(const std::string& command) {
  return command.ends_with("apply") || command == "update" || command.starts_with("network-rule");
}

}  // namespace

BuildFacts build_facts() {
  return {VAULTWALL_VERSION, VAULTWALL_COMMIT,
          std::to_string(libbpf_major_version()) + "." + std::to_string(libbpf_minor_version()),
          VW_ABI_VERSION};
}

std::optional<uint64_t> parse_utc_time(const std::string& text) {
  std::tm tm{};
  unsigned micros = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6uZ%n", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &micros, &consumed) != 7 ||
      static_cast<size_t>(consumed) != text.size())
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t seconds = ::timegm(&tm);
  if (seconds < 0) return std::nullopt;
  return static_cast<uint64_t>(seconds) * 1'000'000'000ull + uint64_t{micros} * 1000ull;
}

ApplyFacts apply_facts(const std::vector<std::string>& journal_lines, const std::string& pin_dir) {
  ApplyFacts applies{.known = true};
  for (const std::string& line : journal_lines) {
    auto entry = nlohmann::json::parse(line, nullptr, false);
    if (!entry.is_object() || entry.value("pinDir", nlohmann::json()) != pin_dir) continue;
    auto command = entry.value("command", nlohmann::json());
    if (!command.is_string() || !is_policy_change(command.get<std::string>())) continue;
    auto result = entry.value("result", nlohmann::json());
    auto time = entry.value("time", nlohmann::json());
    std::optional<uint64_t> at;
    if (time.is_string()) at = parse_utc_time(time.get<std::string>());
    if (result == kResultOk) {
      if (at) applies.last_success_unix_ns = std::max(applies.last_success_unix_ns, *at);
    } else if (result == kResultFailed || result == kResultInterrupted) {
      applies.failures++;
    } else {
      continue;  // still in progress
    }
    if (at) applies.last_attempt_unix_ns = std::max(applies.last_attempt_unix_ns, *at);
  }
  return applies;
}

Result<OperatorFacts> MetricsFactsReader::read(const PinnedMaps& maps) {
  facts_.build = build_facts();
  const vw_active live = VW_TRY(maps.active().get(0)).value_or(vw_active{});
  auto info = VW_TRY(maps.policy_info().get(live.slot & 1));
  const uint64_t generation = info ? info->generation : 0;
  if (policy_generation_ != generation) refresh_policy(maps, generation);
  refresh_sync(maps, generation);
  refresh_applies(maps.pin_dir());
  refresh_service_tags();
  return facts_;
}

void MetricsFactsReader::refresh_policy(const PinnedMaps& maps, uint64_t generation) {
  facts_.policy = {};
  auto current = read_kernel_policy(maps, StoredDocument::kMayBeDamaged);
  // Unknown facts are left out of the metrics (never guessed); a later
  // scrape tries again.
  if (!current) return;
  policy_generation_ = generation;
  if (!current->policy) return;
  const Policy& p = *current->policy;
  PolicyFacts& f = facts_.policy;
  f.known = true;
  f.resource_id = p.resource_id;
  f.default_action = to_string(p.default_action);
  f.bypass = to_string(p.bypass);
  f.public_network_access = to_string(p.public_network_access);
  f.ip_rules = static_cast<uint32_t>(p.ip_rules.size());
  f.vnet_rules = static_cast<uint32_t>(p.vnet_rules.size());
  f.max_ip_rules = p.limits().max_ip_rules;
  f.max_vnet_rules = p.limits().max_vnet_rules;
  f.service_tags_path = p.host.trusted.service_tags_path;
}

void MetricsFactsReader::refresh_sync(const PinnedMaps& maps, uint64_t generation) {
  const auto now = std::chrono::steady_clock::now();
  if (sync_generation_ == generation && now - synced_at_ < verify_interval_) return;
  sync_generation_ = generation;
  synced_at_ = now;
  auto report = check_drift(maps);
  // A check that cannot run is not a green one.
  facts_.sync = {true, report && report->in_sync(), now_unix_ns(), ""};
  if (!report)
    facts_.sync.problem = "the drift check failed: " + report.error().message();
  else if (!report->compile_errors.empty())
    facts_.sync.problem =
        "the stored document does not compile: " + report->compile_errors[0].text();
  else if (!report->differences.empty())
    facts_.sync.problem = report->differences[0];
  if (!facts_.sync.in_sync || !report->applied) return;
  // The active slot matches its document; it must also be the newest one
  // applied, as verify checks (a slot flipped back enforces an older policy).
  auto current = read_kernel_policy(maps);
  if (!current) {
    facts_.sync = {true, false, now_unix_ns(), "cannot read the active slot: " + current.error().message()};
    return;
  }
  SlotHistory history =
      check_slot_history(maps, *current, read_journal_view(journal_, maps.pin_dir()));
  if (!history.differences.empty()) {
    facts_.sync.in_sync = false;
    facts_.sync.problem = history.differences[0];
  }
}

void MetricsFactsReader::refresh_applies(const std::string& pin_dir) {
  FileStamp stamp;
  auto mtime = stat_mtime_ns(journal_, &stamp.size);
  stamp.mtime_ns = mtime.value_or(0);
  if (journal_stamp_ == stamp) return;
  auto lines = read_journal(journal_);
  if (!lines) {
    facts_.applies = {};
    journal_stamp_.reset();
    return;
  }
  journal_stamp_ = stamp;
  facts_.applies = apply_facts(*lines, pin_dir);
}

void MetricsFactsReader::refresh_service_tags() {
  const std::string& path = facts_.policy.service_tags_path;
  if (path.empty()) {
    facts_.service_tags = {};
    tags_stamp_.reset();
    return;
  }
  FileStamp stamp;
  auto mtime = stat_mtime_ns(path, &stamp.size);
  if (!mtime) {
    facts_.service_tags = {};
    tags_stamp_.reset();
    return;
  }
  stamp.mtime_ns = *mtime;
  if (tags_path_ == path && tags_stamp_ == stamp) return;
  tags_path_ = path;
  tags_stamp_ = stamp;
  facts_.service_tags = {};
  std::ifstream in(path);
  auto document = nlohmann::json::parse(in, nullptr, false);
  if (!document.is_object() || !document.contains("changeNumber") ||
      !document["changeNumber"].is_number_integer())
    return;
  facts_.service_tags = {true, document["changeNumber"].get<int64_t>(), *mtime};
}

}  // namespace vaultwall
