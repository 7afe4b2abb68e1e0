#include "vaultwall/apply/verify.h"

#include "vaultwall/apply/apply.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/common/output.h"

namespace vaultwall {

Result<DriftReport> check_drift(const PinnedMaps& maps) {
  DriftReport report;
  KernelPolicy current = VW_TRY(read_kernel_policy(maps));
  report.applied = current.applied();
  report.generation = current.info.generation;
  report.slot = current.slot;
  if (!report.applied) return report;
  auto compilation = compile_against_kernel(*current.policy, current);
  if (!compilation.ok()) {
    report.compile_errors = compilation.errors();
    return report;
  }
  report.differences = VW_TRY(image_differences(maps, current, compilation.value->compiled));
  auto gaps = VW_TRY(program_gaps(maps, current.settings.tunnels));
  report.differences.insert(report.differences.end(), gaps.begin(), gaps.end());
  return report;
}

namespace {

std::optional<uint64_t> generation_of(const Json& version) {
  if (version.is_object() && version.contains("generation") &&
      version["generation"].is_number_unsigned())
    return version["generation"].get<uint64_t>();
  return std::nullopt;
}

// A failed change that still moved the generation (attach A B re-applied
// the stored policy for A, then B failed): it left its "to" in force.
bool moved_generation(const Json& entry) {
  auto from = generation_of(entry.value("from", Json()));
  auto to = generation_of(entry.value("to", Json()));
  return from && to && *from != *to;
}

}  // namespace

Result<JournalView> read_journal_view(const std::string& journal, const std::string& pin_dir) {
  auto lines = VW_TRY(read_journal(journal));
  JournalView view;
  for (const std::string& line : lines) {
    auto entry = Json::parse(line, nullptr, false);
    if (!entry.is_object() || entry.value("pinDir", Json()) != pin_dir) continue;
    auto result = entry.value("result", Json());
    if (result != kResultOk && result != kResultFailed) {
      view.interrupted_after = true;
      continue;
    }
    if (result == kResultFailed && !moved_generation(entry)) continue;
    const auto to = entry.value("to", Json());
    if (to.is_object() && to.contains("generation") && to["generation"].is_number_unsigned())
      view.last_ok = to["generation"].get<uint64_t>();
    else
      view.last_ok.reset();
    view.interrupted_after = false;
  }
  return view;
}

namespace {

// The active word must point at the newest applied slot. The idle slot
// holding a later generation is either an apply interrupted before its flip
// (harmless: the journal records it as interrupted) or vw_active.slot
// flipped back to an older policy (the journal's last apply is the idle one).
void check_slot_generations(const PinnedMaps& maps, const KernelPolicy& current,
                            const Result<JournalView>& journal, SlotHistory& h) {
  auto other = maps.policy_info().at(current.slot ^ 1);
  if (!other) {
    h.differences.push_back("cannot read the idle slot's policy info: " + other.error().message());
    return;
  }
  if (other->generation <= current.info.generation) return;
  uint64_t newer = other->generation;
  std::string what = "active slot " + std::to_string(current.slot) + " holds generation " +
                     std::to_string(current.info.generation) + " but slot " +
                     std::to_string(current.slot ^ 1) + " holds the newer generation " +
                     std::to_string(newer);
  if (journal && journal->last_ok == newer)
    h.differences.push_back(what + ", the last one applied: vw_active.slot was flipped back to an older policy");
  else if (!journal || !(journal->last_ok == current.info.generation || journal->interrupted_after))
    h.warnings.push_back(what + ": an apply interrupted before its flip, or vw_active.slot flipped back (the journal cannot tell)");
}

void check_journal(const KernelPolicy& current, const Result<JournalView>& journal, SlotHistory& h) {
  if (!journal) {
    h.warnings.push_back("cannot read the change journal (" + journal.error().message() +
                         "); the applied generation was not compared with it");
    return;
  }
  if (!journal->last_ok || *journal->last_ok == current.info.generation) return;
  // An interrupted change may have flipped before it died.
  if (journal->interrupted_after && current.info.generation > *journal->last_ok) return;
  h.differences.push_back("the change journal's last change left generation " +
                          std::to_string(*journal->last_ok) + ", the kernel enforces generation " +
                          std::to_string(current.info.generation));
}

}  // namespace

SlotHistory check_slot_history(const PinnedMaps& maps, const KernelPolicy& current,
                               const Result<JournalView>& journal) {
  SlotHistory history;
  check_slot_generations(maps, current, journal, history);
  check_journal(current, journal, history);
  return history;
}

}  // namespace vaultwall
