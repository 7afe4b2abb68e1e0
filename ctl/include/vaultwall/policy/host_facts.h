// Host facts: what only the host knows about the vault it serves — which
// interface or VLAN each virtual network's traffic arrives on and its
// subnets' prefixes, the protected ports and addresses, declared tunnels,
// private-endpoint addresses, where the Service Tags file is. The Azure
// document (the policy) is the same on every host of a vault; the host
// facts are each host's own (DESIGN §1.9, vaultwall-host.json(5)).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/common/error.h"

namespace vaultwall {

inline constexpr const char* kHostFactsEnv = "VAULTWALL_HOST_FACTS";
inline constexpr const char* kHostFactsDefaultPath = "/etc/vaultwall/host.json";

// --host FILE when given (explicit), else $VAULTWALL_HOST_FACTS (explicit),
// else the default path (used only when it exists).
HostFactsSource host_facts_source(const std::string& command_line);

// The host-facts file of `source`: nullopt when there is none (no path, or
// the default path does not exist). Errors: an explicit file that does not
// exist (ENOENT, the hint names `vaultwallctl host init`), or one that
// cannot be read (read_input_file's errors).
Result<std::optional<HostFactsText>> read_host_facts(const HostFactsSource& source);

// A host-facts skeleton for a rule document: one entry per virtual network
// and subnet its rules name, one per private endpoint connection, the
// Service Tags file when trusted services are listed; each with a
// `description` saying what it is and "<...>" placeholders that validation
// refuses until they are filled in. The document's own errors when its
// shape cannot be read.
Checked<std::string> host_facts_skeleton(std::string_view document_text,
                                         const ParseOptions& options,
                                         std::string_view document_name);

}  // namespace vaultwall
