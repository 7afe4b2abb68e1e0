// vaultwall-agent: keeps the loaded program attached to named interfaces.
//
// One event loop (event_loop.h) with one handler per activity:
//   link events (rtnetlink)  -> re-check the interfaces they name, at once
//   check timer (periodic)   -> re-check every interface (a missed event,
//                               a removed link pin, a foreign XDP program)
//   retry timer              -> re-check after a failed or deferred repair
//   watchdog timer           -> WATCHDOG=1 to systemd, when it asks
//   signals                  -> SIGTERM/SIGINT stop the loop, SIGHUP
//                               re-checks everything
//   fleet sync (fleet mode)  -> apply the vault's policy from etcd, report
//                               the host's status there (fleet_activity.h)
// Stopping never detaches: the links are pinned and outlive the agent.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "vaultwall/agent/fleet_activity.h"
#include "vaultwall/common/error.h"
#include "vaultwall/kernel/attach.h"

namespace vaultwall {

struct AgentConfig {
  std::string pin_dir;
  std::vector<std::string>
      interfaces;  // names, in this network namespace; may be empty in fleet mode
  AttachMode mode = AttachMode::kAuto;
  std::string journal;            // change journal path (journal_path() resolved)
  std::vector<std::string> argv;  // the command line, for journal entries
  std::chrono::milliseconds check_interval{2000};
  std::string run_dir;               // where the one-agent-per-pin-dir lock lives
  std::optional<FleetConfig> fleet;  // fleet mode: sync the vault's policy from etcd
};

// Runs until SIGTERM or SIGINT (then returns, nothing detached). An error
// when it cannot start: another agent on the pin dir (EBUSY), no netlink.
Result<void> run_agent(const AgentConfig& config);

}  // namespace vaultwall
