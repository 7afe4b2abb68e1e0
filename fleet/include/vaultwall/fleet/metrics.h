// The agent's fleet metrics in Prometheus text format, written as a
// textfile (DIR/vaultwall_fleet.prom) beside vaultwallctl's for
// node_exporter's textfile collector. Pure: unit-tested.
#pragma once

#include <string>

#include "vaultwall/fleet/etcd_io.h"
#include "vaultwall/fleet/sync.h"

namespace vaultwall::fleet {

inline constexpr const char* kMetricsFileName = "vaultwall_fleet.prom";

std::string render_fleet_metrics(const std::string& vault, const std::string& host,
                                 const SyncMetrics& sync, const StatusWriter::Counters& writer);

}  // namespace vaultwall::fleet
