// PolicyApplier on the pinned maps: the library path of `vaultwallctl
// apply` (apply.h: compile against the kernel, write the idle slot, flip),
// under the pin directory's lock, journaled with its fleet source, then
// verified (verify.h). Never a subprocess.
#pragma once

#include <string>
#include <vector>

#include "vaultwall/fleet/sync.h"

namespace vaultwall::fleet {

struct KernelApplierSettings {
  std::string pin_dir;
  std::string journal;            // resolved path
  std::vector<std::string> argv;  // the agent's command line, for journal entries
  std::string state_dir;          // applied.json, service tag files
  int lock_wait_ms = 2000;        // then EWOULDBLOCK: the sync retries shortly
};

class KernelApplier final : public PolicyApplier {
 public:
  explicit KernelApplier(KernelApplierSettings settings) : settings_(std::move(settings)) {}

  Result<ApplyReport> apply(const ApplyRequest& request) override;
  Result<KernelCheck> check() override;
  Result<CounterSummary> counters() override;
  void journal_rejection(const ChangeSource& source, const std::string& reason) override;

 private:
  KernelApplierSettings settings_;
};

}  // namespace vaultwall::fleet
