// The agent's settings as typed on its command line or set in the env file
// the units read (VAULTWALL_INTERFACES, VAULTWALL_ATTACH_MODE): parsed and
// checked here, so a bad value is refused with its source named.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/agent/fleet_activity.h"
#include "vaultwall/common/error.h"
#include "vaultwall/fleet/connection.h"
#include "vaultwall/fleet/environment.h"
#include "vaultwall/kernel/attach.h"
#include "vaultwall/policy/host_facts.h"  // kHostFactsEnv, kHostFactsDefaultPath: as vaultwallctl --host

namespace vaultwall {

// What to keep attached, and how.
inline constexpr const char* kInterfacesEnv = "VAULTWALL_INTERFACES";
inline constexpr const char* kAttachModeEnv = "VAULTWALL_ATTACH_MODE";
// Fleet mode's (fleet::kFleetVaultEnv, ...) are listed with etcd's in
// vaultwall/fleet/environment.h.

// Interface names from a list separated by spaces, tabs or commas
// ("eth0 eth1", "eth0,eth1"), duplicates dropped, order kept.
std::vector<std::string> split_interface_list(std::string_view list);

// Why `name` cannot be an interface name (empty, longer than 15 bytes, or
// holding '/', whitespace or a control character, or "." / ".."); nullopt
// when it can.
std::optional<std::string> interface_name_problem(std::string_view name);

// "auto", "native" or "generic"; EINVAL naming `source` (e.g. "--mode" or
// "VAULTWALL_ATTACH_MODE") otherwise.
Result<AttachMode> parse_attach_mode(std::string_view text, std::string_view source);

// The interfaces to cover: those given on the command line, else those of
// VAULTWALL_INTERFACES. EINVAL naming the bad name and where it came from,
// or saying where to list them when there are none (none is fine in fleet
// mode: the agent then only syncs the policy).
Result<std::vector<std::string>> interfaces_to_cover(
    const std::vector<std::string>& from_command_line, std::string_view from_environment,
    bool fleet_mode = false);

// Fleet mode's settings as typed (defaults from the env file already in).
struct FleetOptions {
  std::string vault;      // empty: fleet mode off
  std::string host_name;  // empty: this host's name (gethostname)
  std::string host_facts = kHostFactsDefaultPath;
  std::string state_dir;
  std::string metrics_dir;
  fleet::EtcdSettings etcd;
  double status_ttl_seconds = 30;
  double anti_entropy_seconds = 300;
  double heartbeat_seconds = 60;
  double watch_timeout_seconds = 30;
};

// The fleet configuration, or nullopt when no vault is named. EINVAL naming
// the option (--vault, --host-name, --endpoints, ...) that cannot work.
Result<std::optional<FleetConfig>> fleet_config(const FleetOptions& options);

}  // namespace vaultwall
