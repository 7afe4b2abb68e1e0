#include "vaultwall/apply/observability.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "exposition.h"
#include "vaultwall/apply/deny_log.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/common/output.h"
#include "vaultwall/common/time.h"
#include "vaultwall/kernel/links.h"
#include "vaultwall/policy/classify.h"

namespace vaultwall {

using json = nlohmann::ordered_json;

std::string event_address_text(const uint8_t (&addr)[16], uint8_t ip_version) {
  char text[INET6_ADDRSTRLEN] = "";
  if (ip_version == 4)
    inet_ntop(AF_INET, addr + 12, text, sizeof(text));
  else
    inet_ntop(AF_INET6, addr, text, sizeof(text));
  return text;
}

namespace {

std::string protocol_name(uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case 0:
      return "";
    default:
      return std::to_string(proto);
  }
}

// "S", "SA", "R", ... in tcpdump's order of importance.
std::string tcp_flags_text(uint8_t flags) {
  std::string text;
  if (flags & 0x02) text += 'S';
  if (flags & 0x01) text += 'F';
  if (flags & 0x04) text += 'R';
  if (flags & 0x08) text += 'P';
  if (flags & 0x10) text += 'A';
  return text;
}

json or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

}  // namespace

std::string event_rule_text(const vw_event& e, const std::string& rule_text) {
  switch (e.verdict_class) {
    case VW_CLASS_DEFAULT_DENY:
      return "defaultAction: Deny";
    case VW_CLASS_PUBLIC_DISABLED:
      if (rule_text.empty()) return "publicNetworkAccess: Disabled";
      return "publicNetworkAccess: Disabled (overrides rule " + rule_text + ")";
    case VW_CLASS_IPV6_DENY:
      return "IPv6: no IPv6 rule, subnet or trusted prefix admits it; defaultAction Deny or "
             "publicNetworkAccess Disabled";
    case VW_CLASS_FRAGMENT_DENY:
      return "later IPv4 fragment from a source that is not allowed";
    case VW_CLASS_PERIMETER_DENY:
      return "network security perimeter: no access rule admits the source";
    case VW_CLASS_PERIMETER_WOULD_DENY:
      return "network security perimeter (Transition): allowed by " +
             (rule_text.empty() ? std::string("the vault's rules") : "rule " + rule_text) +
             ", would be denied when enforced";
    default:
      return std::string(verdict_class_name(e.verdict_class));
  }
}

json event_json(const vw_event& e, uint64_t time_unix_ns, const EventNames& names) {
  bool audit = e.mode == VW_EVENT_MODE_AUDIT;
  // An audit pass or a perimeter's would-be deny reached the vault: its
  // HTTP status is the vault's, unknown here.
  bool passed = audit || e.verdict_class == VW_CLASS_PERIMETER_WOULD_DENY;
  json status = passed ? json(nullptr) : json(403);
  json line = {
      {"time", format_utc(time_unix_ns)},
      {"resourceId", or_null(names.resource_id)},
      {"operationName", "VaultFirewall"},
      {"operationVersion", nullptr},
      {"category", "AuditEvent"},
      {"resultType", passed ? kResultTypeAuditWouldForbid : kResultTypeForbidden},
      {"resultSignature", passed ? json(nullptr) : json(kResultSignatureForbidden)},
      {"resultDescription",
       passed ? kResultDescriptionAuditWouldForbid : kResultDescriptionForbidden},
      {"durationMs", nullptr},
      {"callerIpAddress", event_address_text(e.saddr, e.ip_version)},
      {"correlationId", or_null(names.correlation_id)},
      {"identity", nullptr},
      {"properties",
       {{"clientInfo", nullptr},
        {"requestUri", nullptr},
        {"id", nullptr},
        {"httpStatusCode", status}}},
      {"isAddressAuthorized", false},
      {"addrAuthType", nullptr},
      {"host", or_null(names.host)},
      {"callerPort", e.sport},
      {"destinationIpAddress", event_address_text(e.daddr, e.ip_version)},
      {"port", e.dport},
      {"protocol", or_null(protocol_name(e.proto))},
      {"tcpFlags", or_null(e.proto == IPPROTO_TCP ? tcp_flags_text(e.tcp_flags) : "")},
      {"interface", or_null(names.interface)},
      {"ifindex", e.ifindex},
      {"vlan", e.vlan},
      {"virtualNetwork", or_null(resource_name(names.virtual_network))},
      {"virtualNetworkId", or_null(names.virtual_network)},
      {"class", std::string(verdict_class_name(e.verdict_class))},
      {"rule", event_rule_text(e, names.rule)},
      {"ruleId", e.rule_id == VW_RULE_NONE ? json(nullptr) : json(e.rule_id)},
      {"mode", audit ? "audit" : "enforce"},
      // In audit mode (and for a perimeter's would-be deny) the packet
      // passed: the log says what would have happened.
      {"action", passed ? "allowed" : "denied"},
      {"generation", e.generation},
      {"packetBytes", e.packet_bytes},
      {"suppressed", e.suppressed},
      {"schemaVersion", kEventSchemaVersion},
  };
  return line;
}

namespace {

// The log's table has fixed widths: rows are printed one at a time, as the
// events come, and stay aligned with the header printed first.
TextTable event_table() {
  return TextTable({left_column("TIME", 27), left_column("MODE", 7), left_column("ACTION", 8),
                    left_column("CALLER", 39), left_column("PORT", 6), left_column("PROTO", 5),
                    left_column("INTERFACE", 10), left_column("VLAN", 4),
                    left_column("CLASS / RULE")});
}

std::string without_newline(std::string line) {
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

}  // namespace

std::string event_table_header() {
  return without_newline(event_table().render({.headers = true}));
}

std::string event_table_row(const vw_event& e, uint64_t time_unix_ns, const EventNames& names) {
  bool audit = e.mode == VW_EVENT_MODE_AUDIT;
  bool passed = audit || e.verdict_class == VW_CLASS_PERIMETER_WOULD_DENY;
  std::string caller = event_address_text(e.saddr, e.ip_version) + ":" + std::to_string(e.sport);
  std::string cause = std::string(verdict_class_name(e.verdict_class)) + " / " +
                      event_rule_text(e, names.rule);
  if (e.suppressed) cause += " (+" + std::to_string(e.suppressed) + " suppressed)";
  TextTable table = event_table();
  table.add_row({format_utc(time_unix_ns), audit ? "audit" : "enforce",
                 passed ? "allowed" : "denied", caller, std::to_string(e.dport),
                 protocol_name(e.proto),
                 names.interface.empty() ? std::to_string(e.ifindex) : names.interface,
                 std::to_string(e.vlan), cause});
  return without_newline(table.render({.headers = false}));
}

// ---- Prometheus ------------------------------------------------------------------

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string seconds_text(uint64_t unix_ns) {
  char text[32];
  std::snprintf(text, sizeof(text), "%llu.%03llu",
                static_cast<unsigned long long>(unix_ns / 1'000'000'000ull),
                static_cast<unsigned long long>(unix_ns % 1'000'000'000ull / 1'000'000ull));
  return text;
}

Result<std::vector<InterfaceAttachment>> read_interface_attachments(const std::string& pin_dir) {
  auto health = VW_TRY(interface_health(pin_dir));
  std::vector<InterfaceAttachment> out;
  for (const InterfaceHealth& h : health) out.push_back({h.interface, h.mode, h.whole()});
  return out;
}

std::string render_metrics(const MetricsSnapshot& m) {
  Exposition x;
  const Stats& s = m.stats;

  // verdict: what happened to the packet (drop or pass), so an alert on
  // denies needs no list of classes.
  auto class_labels = [](uint32_t c) -> Labels {
    return {{"class", std::string(verdict_class_name(c))},
            {"verdict", verdict_class_drops(c) ? "drop" : "pass"}};
  };
  x.family("vaultwall_packets_total", "counter",
           "Packets seen by the XDP program, by verdict class and verdict (drop, pass); classes "
           "sum to all packets.");
  for (uint32_t c = 0; c < s.classes.size(); c++)
    x.sample("vaultwall_packets_total", class_labels(c), s.classes[c].packets);
  x.family("vaultwall_bytes_total", "counter", "Bytes of the packets, by verdict class.");
  for (uint32_t c = 0; c < s.classes.size(); c++)
    x.sample("vaultwall_bytes_total", class_labels(c), s.classes[c].bytes);

  x.family("vaultwall_rule_packets_total", "counter",
           "Packets admitted by each rule, labelled with the rule's canonical value.");
  for (const RuleCounters& r : m.per_rule ? s.rules : std::vector<RuleCounters>{})
    x.sample("vaultwall_rule_packets_total", rule_labels(r), r.counters.packets);
  x.family("vaultwall_rule_bytes_total", "counter", "Bytes admitted by each rule.");
  for (const RuleCounters& r : m.per_rule ? s.rules : std::vector<RuleCounters>{})
    x.sample("vaultwall_rule_bytes_total", rule_labels(r), r.counters.bytes);

  x.family("vaultwall_trusted_service_packets_total", "counter",
           "Packets admitted as a trusted service (bypass AzureServices), by service.");
  for (const ServiceCounters& svc : s.services)
    x.sample("vaultwall_trusted_service_packets_total", {{"service", svc.name}},
             svc.counters.packets);
  x.family("vaultwall_trusted_service_bytes_total", "counter",
           "Bytes admitted as a trusted service, by service.");
  for (const ServiceCounters& svc : s.services)
    x.sample("vaultwall_trusted_service_bytes_total", {{"service", svc.name}}, svc.counters.bytes);

  x.counter("vaultwall_events_emitted_total",
            "Deny and audit events written to the event ring buffer.", m.events.emitted);
  x.counter("vaultwall_events_suppressed_total",
            "Deny and audit events not written because of the per-source or per-CPU rate limit.",
            m.events.suppressed);
  x.counter("vaultwall_events_lost_total",
            "Deny and audit events lost because the ring buffer was full (reader too slow).",
            m.events.lost);

  x.counter("vaultwall_reject_sent_total",
            "Denied TCP segments answered with a RST (denyAction reject).", s.replies.sent);
  x.counter("vaultwall_reject_suppressed_total",
            "Packets denied under denyAction reject and dropped without a reply (per-CPU reply "
            "budget spent, a RST, not TCP, a later fragment, broadcast or multicast).",
            s.replies.suppressed);

  x.family("vaultwall_policy_generation", "gauge",
           "Generation of the active policy (0: none applied, firewall off).");
  x.sample("vaultwall_policy_generation", {}, m.generation);
  x.family("vaultwall_policy_last_apply_timestamp_seconds", "gauge",
           "Unix time of the last apply (0: never).");
  x.sample("vaultwall_policy_last_apply_timestamp_seconds", {}, seconds_text(m.applied_at_unix_ns));
  x.family("vaultwall_policy_info", "gauge",
           "The active policy: digest, profile, mode, defaultAction, bypass, publicNetworkAccess "
           "and the vault's resource id (empty when unknown).");
  x.sample("vaultwall_policy_info", policy_info_labels(m), 1);
  x.family("vaultwall_interface_attached", "gauge",
           "1 when an interface vaultwall is expected to filter has a live link to its program, "
           "0 when it is unfiltered (link severed, pin deleted, another program, a VLAN device on "
           "it without vaultwall, or a decapsulating device up without it).");
  for (const InterfaceAttachment& i : m.interfaces)
    x.sample("vaultwall_interface_attached", {{"interface", i.interface}, {"mode", i.mode}},
             i.attached ? 1 : 0);
  // Always exported: with no interface attached there is no series above
  // to alert on, yet a policy in force filters nothing.
  x.family("vaultwall_interfaces_filtered", "gauge",
           "How many interfaces have a live link to vaultwall's program (0 with a policy "
           "applied: nothing is filtered).");
  x.sample("vaultwall_interfaces_filtered", {},
           std::count_if(m.interfaces.begin(), m.interfaces.end(),
                         [](const InterfaceAttachment& i) { return i.attached; }));
  render_operator_metrics(x, m);
  return x.text();
}

}  // namespace vaultwall
