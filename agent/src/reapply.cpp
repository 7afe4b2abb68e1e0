#include "vaultwall/agent/reapply.h"

#include <spdlog/spdlog.h>

#include "vaultwall/apply/apply.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/kernel/slots.h"

namespace vaultwall {

namespace {

// The caller (a repair) holds the pin directory's lock.
Result<ReapplyOutcome> reapply(const std::string& pin_dir) {
  PinnedMaps maps = VW_TRY(PinnedMaps::open(pin_dir));
  return reapply_stored_policy(maps);
}

void journal_reapply(const std::string& pin_dir, const std::string& interface,
                     const std::string& journal, const std::optional<PolicyVersion>& from,
                     const Result<ReapplyOutcome>& outcome) {
  if (outcome && !outcome->applied) return;  // nothing changed: nothing to record
  JournalEntry entry;
  entry.command = "agent reapply";
  entry.pin_dir = pin_dir;
  entry.interfaces = {interface};
  entry.from = from;
  entry.to = active_policy_version(pin_dir);
  entry.started_ns = now_unix_ns();
  if (outcome)
    entry.reason = interface + " was attached again: its segments bound to the new link";
  else
    entry.fail("re-apply after attaching " + interface + ": " + outcome.error().message());
  if (auto r = append_journal(journal, std::move(entry)); !r)
    spdlog::warn("{}: cannot journal the re-apply: {}", interface, r.error().message());
}

}  // namespace

void reapply_after_repair(const std::string& pin_dir, const std::string& interface,
                          const std::string& journal) {
  std::optional<PolicyVersion> from = active_policy_version(pin_dir);
  Result<ReapplyOutcome> outcome = reapply(pin_dir);
  journal_reapply(pin_dir, interface, journal, from, outcome);
  if (!outcome) {
    spdlog::error(
        "{}: cannot re-apply the stored policy against the new link: {}; a virtual network whose segment names {} is treated as public until it is (vaultwallctl --pin-dir {} apply --force -f FILE)",
        interface, outcome.error().message(), interface, pin_dir);
    return;
  }
  for (const Diagnostic& d : outcome->diagnostics)
    if (d.path.ends_with("segment.interface")) spdlog::warn("{}: {}", interface, d.text());
  if (outcome->applied)
    spdlog::info("{}: re-applied the stored policy so its segments bind to the new link: generation {} (slot {})",
                 interface, outcome->outcome.new_generation, outcome->outcome.slot);
}

}  // namespace vaultwall
