// Drift check: does the kernel's active slot hold exactly what its stored
// document compiles to? Shared by `vaultwallctl verify` and the fleet agent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/common/error.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/apply/apply.h"

namespace vaultwall {

struct DriftReport {
  bool applied = false;  // false: nothing applied, nothing to compare
  uint64_t generation = 0;
  uint32_t slot = 0;
  // Set when the stored document no longer compiles (e.g. its Service Tags
  // file is gone): then differences is empty and nothing was compared.
  std::vector<Diagnostic> compile_errors;
  std::vector<std::string> differences;  // one line per kind of difference
  bool in_sync() const { return compile_errors.empty() && differences.empty(); }
};

// Recompiles the active slot's stored document and compares every map
// (tries, segments, endpoints, source index, settings, digest) with the
// kernel's. Errors for maps that cannot be read.
Result<DriftReport> check_drift(const PinnedMaps& maps);

// What the change journal says about the generation under one pin dir.
struct JournalView {
  // Left by the last change that knows it: a successful one, or a failed
  // one that still moved the generation (attach A B: A re-applied, B failed).
  std::optional<uint64_t> last_ok;
  bool interrupted_after = false;   // a later change was interrupted (or still runs):
                                    // it may have flipped to a newer generation
};
Result<JournalView> read_journal_view(const std::string& journal, const std::string& pin_dir);

// Whether the active slot is the newest applied one and the journal's last
// change left it (verify and the in-sync metric): a vw_active.slot flipped
// back to an older policy enforces what a later apply removed.
struct SlotHistory {
  std::vector<std::string> differences;  // red
  std::vector<std::string> warnings;     // cannot tell
};
SlotHistory check_slot_history(const PinnedMaps& maps, const KernelPolicy& current,
                               const Result<JournalView>& journal);

}  // namespace vaultwall
