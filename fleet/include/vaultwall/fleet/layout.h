// Where fleet mode keeps its state in etcd, all under /vaultwall/v1/:
//   vaults/<vault>/policy   the vault's shared policy (records.h PolicyRecord);
//                           written only by `vaultwallctl fleet put`
//   hosts/<host>/info       a host's enrolment (HostInfo), no lease
//   hosts/<host>/status     what the host enforces (HostStatus), under the
//                           agent's lease: it vanishes when the agent does
// The layout and the roles that guard it: docs/DESIGN.md "Fleet: keys".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "vaultwall/common/error.h"

namespace vaultwall::fleet {

inline constexpr std::string_view kRoot = "/vaultwall/v1/";

std::string vaults_prefix();                       // /vaultwall/v1/vaults/
std::string hosts_prefix();                        // /vaultwall/v1/hosts/
std::string policy_key(std::string_view vault);    // .../vaults/<vault>/policy
std::string host_prefix(std::string_view host);    // .../hosts/<host>/
std::string host_info_key(std::string_view host);  // .../hosts/<host>/info
std::string host_status_key(std::string_view host);

// What a key under hosts_prefix() is: ("h1", "status") for
// /vaultwall/v1/hosts/h1/status; nullopt for any other key.
struct HostKey {
  std::string host;
  std::string leaf;  // "info", "status", or something newer
};
std::optional<HostKey> parse_host_key(std::string_view key);
// The vault of /vaultwall/v1/vaults/<vault>/policy; nullopt otherwise.
std::optional<std::string> parse_policy_key(std::string_view key);

// Azure's rule for vault names: 3-24 characters, letters, digits and
// hyphens, starting with a letter, ending with a letter or digit, no two
// hyphens in a row. EINVAL naming `source` (e.g. "--vault") otherwise.
Result<void> check_vault_name(std::string_view name, std::string_view source);
// A host name as DNS spells it (letters, digits, '-', '.', '_'; 1-253
// characters, no "." or ".."), so it is one key segment and one etcd user
// name. EINVAL naming `source` otherwise.
Result<void> check_host_name(std::string_view name, std::string_view source);

}  // namespace vaultwall::fleet
