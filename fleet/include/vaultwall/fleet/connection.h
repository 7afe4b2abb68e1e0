// How vaultwallctl fleet and vaultwall-agent reach etcd: the endpoints, TLS
// files and credentials from their options or the environment (the agent's
// env file), turned into GatewayOptions. The password is read from a file
// only root can read, never from the command line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall/fleet/environment.h"  // kEtcd*Env
#include "vaultwall/fleet/gateway_client.h"

namespace vaultwall::fleet {

struct EtcdSettings {
  std::string endpoints;  // "https://10.0.0.1:2379,https://10.0.0.2:2379"
  std::string cacert, cert, key;
  std::string user;
  std::string password_file;
};

// Every field from its VAULTWALL_ETCD_* variable (empty when unset).
EtcdSettings etcd_settings_from_environment();

// "a,b c" -> {"a", "b", "c"}: separated by commas or blanks.
std::vector<std::string> split_list(std::string_view text);

// The password in path (one line; the newline is dropped). EACCES when the
// file is readable or writable by group or others (it must be 0600 or
// 0400), naming the path and the chmod that fixes it.
Result<std::string> read_password_file(const std::string& path);

// The endpoints in an order of this host's own (rotated by a hash of its
// name), so a fleet's watches spread over the members instead of all
// landing on the first one listed.
std::vector<std::string> spread_endpoints(std::vector<std::string> endpoints,
                                          std::string_view host);

// GatewayOptions for these settings. EINVAL naming the option (--endpoints,
// --user/--password-file) when they cannot work.
Result<GatewayOptions> gateway_options(const EtcdSettings& settings);

}  // namespace vaultwall::fleet
