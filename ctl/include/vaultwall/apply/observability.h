// What vaultwall tells the outside world: deny/audit events as JSON lines
// shaped like Key Vault's AuditEvent diagnostics, and counters as Prometheus
// text exposition. Pure functions of their inputs (no kernel access), so
// they are unit-tested; vaultwallctl log and metrics feed them from the maps.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vaultwall/apply/apply.h"
#include "vaultwall/apply/metrics_facts.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall_abi.h"

namespace vaultwall {

// Key Vault's own words for a firewall refusal (error code ForbiddenByFirewall).
inline constexpr const char* kResultTypeForbidden = "ForbiddenByFirewall";
inline constexpr const char* kResultSignatureForbidden = "Forbidden";
inline constexpr const char* kResultDescriptionForbidden =
    "Client address is not authorized and caller is not a trusted service.";
// An audit-mode pass: Key Vault has no word for it, and it must not count
// as a refusal in a query on resultType or httpStatusCode.
inline constexpr const char* kResultTypeAuditWouldForbid = "WouldBeForbiddenByFirewall";
inline constexpr const char* kResultDescriptionAuditWouldForbid =
    "Audit mode: the request was let through; in enforce mode it is refused because the client "
    "address is not authorized and caller is not a trusted service.";
// The version of the deny-log line (docs/schema/deny-log.schema.json).
inline constexpr int kEventSchemaVersion = 2;

// "203.0.113.7" for an IPv4-mapped address, RFC 5952 text for IPv6.
std::string event_address_text(const uint8_t (&addr)[16], uint8_t ip_version);

// What decided an event, in the document's terms: "defaultAction: Deny",
// "publicNetworkAccess: Disabled (overrides ipRule 203.0.113.0/24)", ...
// rule_text is the text of e.rule_id (empty when none or unknown).
std::string event_rule_text(const vw_event& e, const std::string& rule_text);

// Names the event needs that are not in it.
struct EventNames {
  std::string interface;  // from ifindex; empty when the interface is gone
  std::string rule;       // vw_rule_info text of rule_id; empty for none
  std::string virtual_network;  // resource id of the event's vnet; empty: internet or unknown
  std::string resource_id;      // the vault's ARM id; empty when the document has none
  std::string host;             // this host's name
  std::string correlation_id;   // the connection's (ConnectionCorrelator); empty: none
};

// One log record (schema: docs/schema/deny-log.schema.json): every field of
// Key Vault's AuditEvent (time, resourceId, operationName, operationVersion,
// category, resultType, resultSignature, resultDescription, durationMs,
// callerIpAddress, correlationId, identity, properties.httpStatusCode, ...;
// null where a packet cannot know it) plus what Azure lacks (host, ports,
// destination, protocol, interface, vlan, virtual network, class, rule,
// mode, action). time_unix_ns is the event's wall-clock time.
nlohmann::ordered_json event_json(const vw_event& e, uint64_t time_unix_ns,
                                  const EventNames& names);

// The same record as one human-readable table row, and its header.
std::string event_table_header();
std::string event_table_row(const vw_event& e, uint64_t time_unix_ns, const EventNames& names);

// One expected interface, for vaultwall_interface_attached.
struct InterfaceAttachment {
  std::string interface;
  std::string mode;  // as recorded at attach ("native", "generic"), "" when unknown
  bool attached = false;  // a live link runs vaultwall's loaded program
};

// The expected interfaces under pin_dir (see interface_health), for the metric.
Result<std::vector<InterfaceAttachment>> read_interface_attachments(const std::string& pin_dir);

// Everything the metrics are made of, read at one moment.
struct MetricsSnapshot {
  Stats stats;                 // per class, rule, trusted service
  EventStats events;           // emitted, suppressed, lost
  uint64_t generation = 0;     // 0: no policy applied
  uint64_t applied_at_unix_ns = 0;
  std::string digest;          // hex
  std::string profile;
  uint8_t mode = VW_MODE_ENFORCE;
  uint8_t deny_action = VW_DENY_DROP;
  std::vector<InterfaceAttachment> interfaces;
  bool per_rule = true;  // false (--no-rule-metrics): no series per rule (up to 16k of them)
  std::map<uint32_t, uint64_t> rule_last_hit_unix_ns;  // by rule id; absent: never or unknown
  OperatorFacts facts;
};

// Prometheus text exposition format 0.0.4: HELP and TYPE for every family,
// counters end in _total, bytes and seconds in base units, label values
// escaped. Passes `promtool check metrics`.
std::string render_metrics(const MetricsSnapshot& snapshot);

// "a\"b" -> "a\\\"b": a Prometheus label value.
std::string escape_label_value(const std::string& value);

}  // namespace vaultwall
