// The etcd options of vaultwallctl fleet and vaultwall-agent, declared once
// (CLI11, header only: included by the binaries alone).
#pragma once

#include <CLI/CLI.hpp>

#include "vaultwall/fleet/connection.h"

namespace vaultwall::fleet {

// --endpoints, --cacert, --cert, --key, --user, --password-file on
// `command`; defaults are already in `settings` (etcd_settings_from_environment).
inline void add_etcd_options(CLI::App* command, EtcdSettings& settings) {
  command->add_option(
      "--endpoints", settings.endpoints,
      std::string("etcd client URLs, comma-separated (default $") + kEtcdEndpointsEnv + ")");
  command->add_option("--cacert", settings.cacert,
                      std::string("CA bundle (PEM) that signed the etcd members' certificates "
                                  "(default $") +
                          kEtcdCaCertEnv + ")");
  command->add_option("--cert", settings.cert,
                      std::string("client certificate (PEM, no CN: the gateway refuses CNs; "
                                  "default $") +
                          kEtcdCertEnv + ")");
  command->add_option("--key", settings.key,
                      std::string("key of the client certificate (default $") + kEtcdKeyEnv + ")");
  command->add_option("--user", settings.user,
                      std::string("etcd user to authenticate as (default $") + kEtcdUserEnv + ")");
  command->add_option("--password-file", settings.password_file,
                      std::string("file holding the user's password, mode 0600 (default $") +
                          kEtcdPasswordFileEnv + ")");
}

}  // namespace vaultwall::fleet
