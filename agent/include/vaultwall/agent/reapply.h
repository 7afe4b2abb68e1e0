// After a repair: virtual-network segments are compiled to the ifindex an
// interface had when the policy was applied, so a re-created interface
// (new ifindex) needs the stored policy applied again for its segments to
// match.
#pragma once

#include <string>

namespace vaultwall {

// Called after `interface` was (re)attached. Nothing to do when the stored
// policy binds no virtual-network segment to that interface; otherwise the
// agent does not re-apply the policy itself: it logs a warning with the
// command that does.
void reapply_after_repair(const std::string& pin_dir, const std::string& interface);

}  // namespace vaultwall
