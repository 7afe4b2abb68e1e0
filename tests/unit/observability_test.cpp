// The log record (AuditEvent-shaped JSON) and the Prometheus exposition,
// from fixed inputs: no kernel needed.
#include "vaultwall/apply/observability.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "vaultwall/apply/deny_log.h"
#include "vaultwall/apply/observability.h"
#include "vaultwall/common/clock.h"
#include "vaultwall/policy/classify.h"
#include "vaultwall/policy/document.h"

namespace vaultwall {
namespace {

vw_event denied_ipv4_syn() {
  vw_event e{};
  e.time_ns = 1;
  e.generation = 7;
  uint8_t src[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 9};
  uint8_t dst[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 10};
  std::memcpy(e.saddr, src, 16);
  std::memcpy(e.daddr, dst, 16);
  e.ifindex = 4;
  e.verdict_class = VW_CLASS_DEFAULT_DENY;
  e.sport = 51234;
  e.dport = 443;
  e.proto = 6;
  e.ip_version = 4;
  e.tcp_flags = 0x02;
  e.mode = VW_EVENT_MODE_ENFORCE;
  e.packet_bytes = 74;
  return e;
}

TEST(EventJson, IsShapedLikeKeyVaultAuditEvent) {
  auto line = event_json(denied_ipv4_syn(), 1'764'322'548'123'456'000ull, {"eth0", ""});
  EXPECT_EQ(line["time"], "2025-11-28T09:35:48.123456Z");
  EXPECT_EQ(line["callerIpAddress"], "203.0.113.9");
  EXPECT_EQ(line["resultType"], "ForbiddenByFirewall");
  EXPECT_EQ(line["resultSignature"], "Forbidden");
  EXPECT_EQ(line["resultDescription"],
            "Client address is not authorized and caller is not a trusted service.");
  EXPECT_EQ(line["destinationIpAddress"], "192.0.2.10");
  EXPECT_EQ(line["port"], 443);
  EXPECT_EQ(line["callerPort"], 51234);
  EXPECT_EQ(line["protocol"], "tcp");
  EXPECT_EQ(line["tcpFlags"], "S");
  EXPECT_EQ(line["interface"], "eth0");
  EXPECT_EQ(line["class"], "default_deny");
  EXPECT_EQ(line["rule"], "defaultAction: Deny");
  EXPECT_TRUE(line["ruleId"].is_null());
  EXPECT_EQ(line["mode"], "enforce");
  EXPECT_EQ(line["action"], "denied");
  EXPECT_EQ(line["generation"], 7);
  // One line: nothing in a record may break JSONL.
  EXPECT_EQ(line.dump().find('\n'), std::string::npos);
}

TEST(EventJson, AuditEventSaysTheRequestWasAllowedAndWhichRuleWasOverridden) {
  vw_event e = denied_ipv4_syn();
  e.mode = VW_EVENT_MODE_AUDIT;
  e.verdict_class = VW_CLASS_PUBLIC_DISABLED;
  e.rule_id = 3;
  auto line = event_json(e, 0, {"", "203.0.113.0/24"});
  // A pass is no refusal: a query on resultType or httpStatusCode must not count it.
  EXPECT_EQ(line["resultType"], "WouldBeForbiddenByFirewall");
  EXPECT_TRUE(line["resultSignature"].is_null());
  EXPECT_TRUE(line["properties"]["httpStatusCode"].is_null());
  EXPECT_EQ(line["mode"], "audit");
  EXPECT_EQ(line["action"], "allowed");
  EXPECT_EQ(line["class"], "public_disabled");
  EXPECT_EQ(line["rule"], "publicNetworkAccess: Disabled (overrides rule 203.0.113.0/24)");
  EXPECT_EQ(line["ruleId"], 3);
  EXPECT_TRUE(line["interface"].is_null());
}

TEST(EventJson, Ipv6CallerIsPrintedAsIpv6) {
  vw_event e = denied_ipv4_syn();
  uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50};
  std::memcpy(e.saddr, src, 16);
  e.ip_version = 6;
  e.verdict_class = VW_CLASS_IPV6_DENY;
  EXPECT_EQ(event_json(e, 0, {})["callerIpAddress"], "2001:db8::50");
  // IPv6 rules exist (dualstack, VNET subnets, a perimeter): the text says
  // none admitted the source, not that there can be none.
  EXPECT_EQ(event_json(e, 0, {})["rule"],
            "IPv6: no IPv6 rule, subnet or trusted prefix admits it; defaultAction Deny or "
            "publicNetworkAccess Disabled");
}

constexpr const char* kVaultId =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.KeyVault/vaults/kv-one";
constexpr const char* kVnetA =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/providers/"
    "microsoft.network/virtualnetworks/vnet-a";

TEST(EventJson, CarriesTheFieldsASiemJoinsOn) {
  EventNames names{"eth0",   "",         kVnetA,
                   kVaultId, "vault-01", "0a1b2c3d-0000-1111-2222-333344445555"};
  auto line = event_json(denied_ipv4_syn(), 0, names);
  EXPECT_EQ(line["resourceId"], kVaultId);
  EXPECT_EQ(line["properties"]["httpStatusCode"], 403);
  EXPECT_EQ(line["correlationId"], "0a1b2c3d-0000-1111-2222-333344445555");
  EXPECT_EQ(line["host"], "vault-01");
  EXPECT_EQ(line["virtualNetwork"], "vnet-a");
  EXPECT_EQ(line["virtualNetworkId"], kVnetA);
  EXPECT_EQ(line["schemaVersion"], 2);
  // AuditEvent's fields a packet cannot know are there, as null.
  for (const char* unknowable : {"operationVersion", "durationMs", "identity", "addrAuthType"}) {
    ASSERT_TRUE(line.contains(unknowable)) << unknowable;
    EXPECT_TRUE(line[unknowable].is_null()) << unknowable;
  }
  EXPECT_FALSE(line.contains("vnetId"));  // slot-local: meaningless after the next apply
}

TEST(EventJson, UnknownNamesAreNull) {
  auto line = event_json(denied_ipv4_syn(), 0, {});
  for (const char* field :
       {"resourceId", "host", "correlationId", "virtualNetwork", "virtualNetworkId"})
    EXPECT_TRUE(line[field].is_null()) << field;
}

TEST(DenyLog, PolicyNamesComeFromTheStoredDocument) {
  std::string document = std::string(R"({"id": ")") + kVaultId + R"(", "properties": {
    "networkAcls": {"defaultAction": "Deny", "bypass": "None", "ipRules": [],
      "virtualNetworkRules": [{"id": ")" +
                         kVnetA + R"(/subnets/web"}]}},
    "vaultwall": {"virtualNetworks": [
      {"id": ")" + kVnetA +
                         R"(", "segment": {"vlan": 20},
       "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]},
      {"id": ")" + std::string(kVnetA) +
                         R"(0", "segment": {"vlan": 10}, "subnets": []}]}})";
  auto policy = load_policy(document);
  ASSERT_TRUE(policy.ok()) << (policy.diagnostics.empty() ? "" : policy.diagnostics[0].text());
  // The stored (normalised) document keeps the id, so a fresh reader has it.
  auto stored = load_policy(to_azure_json(*policy.value));
  ASSERT_TRUE(stored.ok());
  KernelPolicy current;
  current.info.generation = 4;
  current.policy = *stored.value;
  EventPolicyNames names = event_policy_names(current);
  EXPECT_EQ(names.generation, 4u);
  EXPECT_EQ(names.resource_id, kVaultId);
  // Sorted resource ids get vnet ids 1, 2 (as the compiler numbers them).
  ASSERT_EQ(names.virtual_networks.size(), 2u);
  EXPECT_EQ(names.virtual_networks.at(1), kVnetA);
  EXPECT_EQ(names.virtual_networks.at(2), std::string(kVnetA) + "0");
  EXPECT_EQ(resource_name(names.virtual_networks.at(1)), "vnet-a");
}

TEST(DenyLog, CorrelationIdGroupsOneConnectionsRetransmits) {
  ConnectionCorrelator correlator("vault-01");
  vw_event syn = denied_ipv4_syn();
  syn.time_ns = 1'000'000'000;
  std::string first = correlator.correlation_id(syn);
  EXPECT_TRUE(std::regex_match(first, std::regex("[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")));
  vw_event retransmit = syn;
  retransmit.time_ns += 3'000'000'000;  // the kernel's second SYN retransmit
  EXPECT_EQ(correlator.correlation_id(retransmit), first);
  vw_event other_port = syn;
  other_port.sport = 51235;
  EXPECT_NE(correlator.correlation_id(other_port), first);
  vw_event much_later = retransmit;
  much_later.time_ns += 120'000'000'000ull;  // idle for two minutes: a new connection
  EXPECT_NE(correlator.correlation_id(much_later), first);
  // Another host's identical connection is another connection.
  ConnectionCorrelator elsewhere("vault-02");
  EXPECT_NE(elsewhere.correlation_id(syn), first);
}

// `vaultwallctl log` run again and again (one reader at a time) continues
// the ids of the previous run; ended connections are not carried over.
TEST(DenyLog, CorrelationIdsSurviveTheNextReader) {
  ConnectionCorrelator first("vault-01");
  vw_event syn = denied_ipv4_syn(), old = syn;
  old.sport = 1;
  old.time_ns = 1;
  syn.time_ns = 100'000'000'000ull;
  first.correlation_id(old);
  std::string id = first.correlation_id(syn);
  std::string saved = first.save();
  EXPECT_EQ(std::count(saved.begin(), saved.end(), '\n'), 1) << saved;  // `old` is over
  ConnectionCorrelator next("vault-01");
  next.load(saved);
  next.load("zz 12 x\n\nnot a line at all\n");  // malformed lines are skipped
  EXPECT_EQ(next.size(), 1u);
  vw_event retransmit = syn;
  retransmit.time_ns += 1'000'000'000;
  EXPECT_EQ(next.correlation_id(retransmit), id);
}

TEST(DenyLog, CorrelatorForgetsTheLeastRecentConnectionWhenFull) {
  ConnectionCorrelator correlator("h", 65'000'000'000ull, 2);
  vw_event a = denied_ipv4_syn(), b = a, c = a;
  b.sport = 2;
  c.sport = 3;
  std::string a_id = correlator.correlation_id(a);
  correlator.correlation_id(b);
  EXPECT_EQ(correlator.correlation_id(a), a_id);  // a is now the most recent
  correlator.correlation_id(c);                   // b goes
  EXPECT_EQ(correlator.size(), 2u);
  EXPECT_EQ(correlator.correlation_id(a), a_id);
}

MetricsSnapshot sample_snapshot() {
  MetricsSnapshot m;
  m.stats.generation = 5;
  m.stats.classes.assign(VW_CLASS_COUNT, vw_counters{});
  m.stats.classes[VW_CLASS_DEFAULT_DENY] = {10, 740, 0};
  m.stats.rules.push_back({1, VW_RULE_KIND_IP, "203.0.113.0/24", {3, 222, 0}});
  m.stats.rules.push_back({2, VW_RULE_KIND_VNET, "/subscriptions/0/x\"y\\z", {1, 60, 0}});
  m.stats.services.push_back({4, "Storage", {2, 120, 0}});
  m.events = {5, 4, 1};
  m.generation = 5;
  m.applied_at_unix_ns = 1'764'322'548'250'000'000ull;
  m.digest = "abc";
  m.profile = "akv-2018";
  m.mode = VW_MODE_AUDIT;
  m.deny_action = VW_DENY_REJECT;
  m.stats.replies = {.sent = 7, .suppressed = 3};
  m.interfaces = {{"eth0", "native", true}, {"eth1", "generic", false}};
  return m;
}

// The table of `vaultwallctl log -o table`: fixed-width columns, so rows
// printed one by one line up under the header; the last column is not padded.
TEST(EventTable, HeaderAndRowsHaveFixedColumns) {
  EXPECT_EQ(event_table_header(),
            "TIME                        MODE    ACTION   CALLER                                  "
            "PORT   PROTO INTERFACE  VLAN CLASS / RULE");
  vw_event e = denied_ipv4_syn();
  e.vlan = 100;
  EXPECT_EQ(event_table_row(e, 1'764'322'548'123'456'000ull, {"eth0", ""}),
            "2025-11-28T09:35:48.123456Z enforce denied   203.0.113.9:51234                       "
            "443    tcp   eth0       100  default_deny / defaultAction: Deny");
  e.mode = VW_EVENT_MODE_AUDIT;
  e.suppressed = 3;
  const std::string audit = event_table_row(e, 0, {"", "203.0.113.0/24"});
  EXPECT_EQ(audit.substr(28, 17), "audit   allowed  ");
  EXPECT_EQ(audit.find("4          100 "), 98u) << audit;  // no name: the ifindex
  EXPECT_TRUE(audit.ends_with("(+3 suppressed)")) << audit;
}

TEST(Metrics, FollowsPrometheusNamingAndFormat) {
  std::string text = render_metrics(sample_snapshot());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::istringstream in(text);
  std::regex sample(R"(^([a-z_]+)(\{[^}]*\})? ([0-9.]+)$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.starts_with("# HELP ")) {
      helped.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (line.starts_with("# TYPE ")) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      types[name] = type;
      if (type == "counter") {
        EXPECT_TRUE(name.ends_with("_total")) << name;
      }
    } else {
      bool is_sample = std::regex_match(line, m, sample);
      ASSERT_TRUE(is_sample) << line;
      EXPECT_TRUE(types.contains(m[1])) << "no TYPE before " << line;
      EXPECT_TRUE(helped.contains(m[1])) << "no HELP before " << line;
    }
  }
  EXPECT_NE(text.find("vaultwall_packets_total{class=\"default_deny\",verdict=\"drop\"} 10\n"),
            std::string::npos);
  EXPECT_NE(text.find("vaultwall_bytes_total{class=\"default_deny\",verdict=\"drop\"} 740\n"),
            std::string::npos);
  EXPECT_NE(text.find("vaultwall_rule_packets_total{rule=\"203.0.113.0/24\",kind=\"ip\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("vaultwall_trusted_service_bytes_total{service=\"Storage\"} 120\n"),
            std::string::npos);
  EXPECT_NE(text.find("vaultwall_events_suppressed_total 4\n"), std::string::npos);
  EXPECT_NE(text.find("vaultwall_events_lost_total 1\n"), std::string::npos);
  EXPECT_NE(text.find("vaultwall_policy_generation 5\n"), std::string::npos);
  EXPECT_NE(text.find("vaultwall_policy_last_apply_timestamp_seconds 1764322548.250\n"),
            std::string::npos);
  EXPECT_NE(text.find("mode=\"audit\""), std::string::npos);
  EXPECT_EQ(types["vaultwall_policy_generation"], "gauge");
}

// One sample per expected interface, 0 for an unfiltered one: the alert
// `vaultwall_interface_attached == 0` needs the series to exist then.
TEST(Metrics, InterfaceAttachedIsOneOrZeroPerExpectedInterface) {
  std::string text = render_metrics(sample_snapshot());
  EXPECT_NE(text.find("# TYPE vaultwall_interface_attached gauge\n"), std::string::npos);
  EXPECT_NE(text.find("vaultwall_interface_attached{interface=\"eth0\",mode=\"native\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("vaultwall_interface_attached{interface=\"eth1\",mode=\"generic\"} 0\n"),
            std::string::npos);
}

TEST(Metrics, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  std::string text = render_metrics(sample_snapshot());
  EXPECT_NE(text.find("rule=\"/subscriptions/0/x\\\"y\\\\z\",kind=\"vnet\""), std::string::npos);
}

MetricsSnapshot snapshot_with_facts() {
  MetricsSnapshot m = sample_snapshot();
  m.rule_last_hit_unix_ns[1] = 1'764'322'000'500'000'000ull;
  m.facts.build = {"0.1.0", "abc123def456", "1.1", VW_ABI_VERSION};
  m.facts.policy = {
      true,      "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
      "Deny",    "AzureServices",
      "Enabled", 3,
      1,         1000,
      200,       "/usr/share/tags.json"};
  m.facts.service_tags = {true, 412, 1'764'000'000'000'000'000ull};
  m.facts.sync = {true, false, 1'764'322'600'000'000'000ull};
  m.facts.applies = {true, 2, 1'764'322'700'000'000'000ull, 1'764'322'548'250'000'000ull};
  return m;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

// A network security perimeter's inbound access rule is labelled as
// vaultwallctl stats names its kind ("perimeter"), on every per-rule series.
TEST(Metrics, PerimeterRulesAreLabelledPerimeter) {
  MetricsSnapshot m = sample_snapshot();
  m.stats.rules.push_back({3, VW_RULE_KIND_PERIMETER, "198.51.100.0/24", {2, 80, 0}});
  m.rule_last_hit_unix_ns[3] = 1'764'322'000'500'000'000ull;
  std::string text = render_metrics(m);
  EXPECT_TRUE(has_line(
      text, "vaultwall_rule_packets_total{rule=\"198.51.100.0/24\",kind=\"perimeter\"} 2"));
  EXPECT_TRUE(
      has_line(text, "vaultwall_rule_bytes_total{rule=\"198.51.100.0/24\",kind=\"perimeter\"} 80"));
  EXPECT_TRUE(has_line(text,
                       "vaultwall_rule_last_hit_timestamp_seconds{rule=\"198.51.100.0/24\","
                       "kind=\"perimeter\"} 1764322000.500"));
}

TEST(Metrics, OperatorFamiliesCarryTheFacts) {
  std::string text = render_metrics(snapshot_with_facts());
  EXPECT_TRUE(has_line(text, "vaultwall_build_info{version=\"0.1.0\",abi=\"" +
                                 std::to_string(VW_ABI_VERSION) +
                                 "\",commit=\"abc123def456\",libbpf=\"1.1\"} 1"));
  EXPECT_TRUE(has_line(text, "vaultwall_policy_in_sync 0"));
  EXPECT_TRUE(has_line(text, "vaultwall_policy_in_sync_checked_timestamp_seconds 1764322600.000"));
  EXPECT_TRUE(has_line(text, "vaultwall_apply_failures_total 2"));
  EXPECT_TRUE(has_line(text, "vaultwall_apply_last_attempt_timestamp_seconds 1764322700.000"));
  EXPECT_TRUE(has_line(text, "vaultwall_apply_last_success_timestamp_seconds 1764322548.250"));
  EXPECT_TRUE(has_line(text, "vaultwall_rules{kind=\"ip\"} 3"));
  EXPECT_TRUE(has_line(text, "vaultwall_reject_sent_total 7"));
  EXPECT_TRUE(has_line(text, "vaultwall_reject_suppressed_total 3"));
  EXPECT_TRUE(has_line(text, "vaultwall_rules_limit{kind=\"vnet\"} 200"));
  EXPECT_TRUE(has_line(text, "vaultwall_service_tags_change_number 412"));
  EXPECT_TRUE(has_line(text, "vaultwall_service_tags_file_timestamp_seconds 1764000000.000"));
  EXPECT_TRUE(has_line(text,
                       "vaultwall_rule_last_hit_timestamp_seconds{rule=\"203.0.113.0/24\","
                       "kind=\"ip\"} 1764322000.500"));
  EXPECT_TRUE(has_line(text,
                       "vaultwall_policy_info{digest=\"abc\",profile=\"akv-2018\",mode=\"audit\","
                       "deny_action=\"reject\","
                       "default_action=\"Deny\",bypass=\"AzureServices\","
                       "public_network_access=\"Enabled\",vault=\"/subscriptions/s/"
                       "resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv\"} 1"));
}

// The verdict label comes from the classes' own drop/pass, for every class.
TEST(Metrics, EveryClassHasItsVerdict) {
  std::string text = render_metrics(sample_snapshot());
  for (uint32_t c = 0; c < VW_CLASS_COUNT; c++) {
    std::string labels = "{class=\"" + std::string(verdict_class_name(c)) + "\",verdict=\"" +
                         (verdict_class_drops(c) ? "drop" : "pass") + "\"}";
    EXPECT_NE(text.find("\nvaultwall_packets_total" + labels + " "), std::string::npos) << labels;
    EXPECT_NE(text.find("\nvaultwall_bytes_total" + labels + " "), std::string::npos) << labels;
  }
}

// Unknown facts are absent, never zero (a zero in_sync or limit would lie).
TEST(Metrics, UnknownFactsHaveNoSeries) {
  std::string text = render_metrics(sample_snapshot());
  for (const char* name :
       {"vaultwall_policy_in_sync ", "vaultwall_apply_failures_total ", "vaultwall_rules{",
        "vaultwall_service_tags_change_number ", "vaultwall_rule_last_hit_timestamp_seconds{"})
    EXPECT_EQ(text.find(std::string("\n") + name), std::string::npos) << name;
  EXPECT_NE(text.find("# TYPE vaultwall_policy_in_sync gauge\n"), std::string::npos);
}

TEST(Metrics, NoRuleMetricsLeavesOutEverySeriesPerRule) {
  MetricsSnapshot m = snapshot_with_facts();
  m.per_rule = false;
  std::string text = render_metrics(m);
  EXPECT_EQ(text.find("rule=\""), std::string::npos);
  EXPECT_TRUE(has_line(text, "vaultwall_rules{kind=\"ip\"} 3"));  // counts stay
  EXPECT_NE(text.find("vaultwall_trusted_service_packets_total{service=\"Storage\"}"),
            std::string::npos);
}

// The text format groups a family's samples right after its TYPE line.
TEST(Metrics, EverySampleFollowsItsOwnFamily) {
  for (const MetricsSnapshot& m : {sample_snapshot(), snapshot_with_facts()}) {
    std::istringstream in(render_metrics(m));
    std::string family;
    std::set<std::string> seen;
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("# TYPE ")) {
        family = line.substr(7, line.find(' ', 7) - 7);
        EXPECT_TRUE(seen.insert(family).second) << "family twice: " << family;
      } else if (!line.starts_with("#")) {
        EXPECT_EQ(line.substr(0, line.find_first_of("{ ")), family) << line;
      }
    }
  }
}

TEST(MetricsFacts, AppliesComeFromThisPinDirectorysPolicyChanges) {
  auto line = [](const char* command, const char* result, const char* time, const char* pin) {
    return nlohmann::json{{"command", command}, {"result", result}, {"time", time}, {"pinDir", pin}}
        .dump();
  };
  std::vector<std::string> journal = {
      line("apply", "ok", "2025-11-28T09:00:00.000000Z", "/p"),
      line("fleet apply", "failed", "2025-11-28T09:01:00.000000Z", "/p"),
      line("attach", "failed", "2025-11-28T09:02:00.000000Z", "/p"),  // links, not policy
      line("network-rule add", "failed", "2025-11-28T09:03:00.000000Z", "/other"),
      line("agent reapply", "interrupted", "2025-11-28T09:04:00.000000Z", "/p"),
      line("update", "in-progress", "2025-11-28T09:05:00.000000Z", "/p"),  // not over yet
      "not json",
      "[1]",
  };
  ApplyFacts a = apply_facts(journal, "/p");
  EXPECT_TRUE(a.known);
  EXPECT_EQ(a.failures, 2u);
  EXPECT_EQ(a.last_success_unix_ns, *parse_utc_time("2025-11-28T09:00:00.000000Z"));
  EXPECT_EQ(a.last_attempt_unix_ns, *parse_utc_time("2025-11-28T09:04:00.000000Z"));
}

TEST(MetricsFacts, ParsesTheJournalsTimes) {
  EXPECT_EQ(parse_utc_time("2025-11-28T09:35:48.123456Z"), 1'764'322'548'123'456'000ull);
  EXPECT_EQ(parse_utc_time("2025-11-28T09:35:48Z"), std::nullopt);
  EXPECT_EQ(parse_utc_time("2025-11-28T09:35:48.123456Zjunk"), std::nullopt);
}

}  // namespace
}  // namespace vaultwall

// The jiffies clock is read once and converts every last hit; unreadable,
// it is an error (the last hit is unknown), never "now".
TEST(JiffiesClock, ConvertsAgainstOneReading) {
  auto clock = vaultwall::JiffiesClock::read();
  if (!clock) {
    // /proc/timer_list is root's: unprivileged runs see the error, with why.
    EXPECT_EQ(clock.error().code, EIO);
    EXPECT_NE(clock.error().message().find("/proc/timer_list"), std::string::npos);
    return;
  }
  EXPECT_TRUE(clock->hz() == 100 || clock->hz() == 250 || clock->hz() == 300 || clock->hz() == 1000)
      << clock->hz();
  EXPECT_EQ(clock->to_unix_ns(0), 0u) << "never hit stays 0";
  const uint64_t j = clock->jiffies();
  const uint64_t at = clock->to_unix_ns(j);
  const uint64_t wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_LE(at, wall);
  EXPECT_GT(at + 1'000'000'000ull, wall) << "the reading is now, not a stale time";
  EXPECT_EQ(at - clock->to_unix_ns(j - clock->hz()), 1'000'000'000ull) << "hz ticks are a second";
  EXPECT_EQ(clock->to_unix_ns(j + 5), at) << "a value ahead of the reading is the reading";
}
