// Fleet mode's variables of the env file the units read
// (packaging/etc/vaultwall.env.in), in one list: vaultwallctl fleet reads
// the etcd ones, vaultwall-agent all of them.
#pragma once

namespace vaultwall::fleet {

// Where the cluster is, and the TLS files that prove who is talking to it.
inline constexpr const char* kEtcdEndpointsEnv = "VAULTWALL_ETCD_ENDPOINTS";
inline constexpr const char* kEtcdCaCertEnv = "VAULTWALL_ETCD_CACERT";
inline constexpr const char* kEtcdCertEnv = "VAULTWALL_ETCD_CERT";
inline constexpr const char* kEtcdKeyEnv = "VAULTWALL_ETCD_KEY";
// etcd's own user authentication (the password from a file, never argv).
inline constexpr const char* kEtcdUserEnv = "VAULTWALL_ETCD_USER";
inline constexpr const char* kEtcdPasswordFileEnv = "VAULTWALL_ETCD_PASSWORD_FILE";
// The agent: which vault's policy, this host's name and what it keeps.
inline constexpr const char* kFleetVaultEnv = "VAULTWALL_FLEET_VAULT";
inline constexpr const char* kFleetHostNameEnv = "VAULTWALL_FLEET_HOST_NAME";
inline constexpr const char* kFleetStateDirEnv = "VAULTWALL_FLEET_STATE_DIR";
inline constexpr const char* kMetricsTextfileEnv = "VAULTWALL_METRICS_TEXTFILE_DIR";

}  // namespace vaultwall::fleet
