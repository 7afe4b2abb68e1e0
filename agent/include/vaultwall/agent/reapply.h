// After a repair: virtual-network segments bind to the ifindex of the
// link vaultwall holds on their interface, so a re-created interface (new
// ifindex) needs the stored policy compiled and applied again for its
// segments to match.
#pragma once

#include <string>

namespace vaultwall {

// Called after `interface` was (re)attached: recompiles the stored policy
// against the current links and applies it when the active slot's image
// differs (journaled as "agent reapply"). The caller holds the pin
// directory's lock, as a repair does.
// A policy that cannot be re-applied is logged as an error with what to
// do; the segment's traffic is then treated as public (fail closed).
void reapply_after_repair(const std::string& pin_dir, const std::string& interface,
                          const std::string& journal);

}  // namespace vaultwall
