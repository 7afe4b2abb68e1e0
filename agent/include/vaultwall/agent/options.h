// The agent's settings as typed on its command line or set in the env file
// the units read (VAULTWALL_INTERFACES, VAULTWALL_ATTACH_MODE): parsed and
// checked here, so a bad value is refused with its source named.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/kernel/attach.h"
#include "vaultwall/common/error.h"

namespace vaultwall {

inline constexpr const char* kInterfacesEnv = "VAULTWALL_INTERFACES";
inline constexpr const char* kAttachModeEnv = "VAULTWALL_ATTACH_MODE";

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
// or saying where to list them when there are none.
Result<std::vector<std::string>> interfaces_to_cover(
    const std::vector<std::string>& from_command_line, std::string_view from_environment);

}  // namespace vaultwall
