#include "vaultwall/fleet/metrics.h"

#include <sstream>

#include "vaultwall/apply/observability.h"

namespace vaultwall::fleet {

std::string render_fleet_metrics(const std::string& vault, const std::string& host,
                                 const SyncMetrics& sync, const StatusWriter::Counters& writer) {
  std::ostringstream out;
  const std::string labels =
      "vault=\"" + escape_label_value(vault) + "\",host=\"" + escape_label_value(host) + "\"";
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
        << name << "{" << labels << "} " << value << "\n";
  };
  family("vaultwall_fleet_connected", "gauge",
         "1 while the agent's watch of its vault's policy in etcd is established.",
         sync.connected ? 1 : 0);
  family("vaultwall_fleet_last_sync_timestamp_seconds", "gauge",
         "When the agent last knew it had the newest policy (a read, a change or a progress "
         "notification); 0 before the first.",
         sync.last_sync_unix_ns / 1000000000ull);
  family("vaultwall_fleet_policy_revision", "gauge",
         "etcd mod_revision of the fleet policy the kernel enforces; 0 for none.",
         sync.policy_revision);
  out << "# HELP vaultwall_fleet_state 1 for the sync state the agent is in.\n"
         "# TYPE vaultwall_fleet_state gauge\n";
  for (SyncState state : {SyncState::kStarting, SyncState::kApplying, SyncState::kInSync,
                          SyncState::kRejected, SyncState::kError, SyncState::kNoPolicy})
    out << "vaultwall_fleet_state{" << labels << ",state=\"" << to_string(state) << "\"} "
        << (state == sync.state ? 1 : 0) << "\n";
  family("vaultwall_fleet_applies_total", "counter", "Fleet policies applied (the kernel changed).",
         sync.applies);
  family("vaultwall_fleet_rejected_total", "counter",
         "Fleet policy values refused (invalid, or not valid with this host's facts); the kernel "
         "kept its policy.",
         sync.rejections);
  family("vaultwall_fleet_failures_total", "counter",
         "Applies or checks that failed and were retried.", sync.failures);
  family("vaultwall_fleet_disconnects_total", "counter",
         "Times the agent lost etcd (a read failed or the watch stream broke).", sync.disconnects);
  family("vaultwall_fleet_status_lease_held", "gauge",
         "1 while the agent holds the lease its status key lives under.",
         writer.lease_held ? 1 : 0);
  family("vaultwall_fleet_status_leases_lost_total", "counter",
         "Leases found expired (the status vanished until written again).", writer.leases_lost);
  family("vaultwall_fleet_status_write_failures_total", "counter",
         "Status, lease or enrolment writes that failed (retried).", writer.write_failures);
  return out.str();
}

}  // namespace vaultwall::fleet
