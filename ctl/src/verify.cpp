#include "vaultwall/apply/verify.h"

#include "vaultwall/apply/apply.h"

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
  return report;
}

}  // namespace vaultwall
