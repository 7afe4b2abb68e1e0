// Drift check: does the kernel's active slot hold exactly what its stored
// document compiles to? Shared by `vaultwallctl verify` and the fleet agent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/common/error.h"
#include "vaultwall/kernel/maps.h"

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

}  // namespace vaultwall
