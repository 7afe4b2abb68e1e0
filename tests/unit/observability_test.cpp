// The log record (AuditEvent-shaped JSON) and the Prometheus exposition,
// from fixed inputs: no kernel needed.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "vaultwall/common/clock.h"
#include "vaultwall/apply/observability.h"

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
  EXPECT_EQ(line["resultType"], "ForbiddenByFirewall");
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
  EXPECT_NE(text.find("vaultwall_packets_total{class=\"default_deny\"} 10\n"), std::string::npos);
  EXPECT_NE(text.find("vaultwall_bytes_total{class=\"default_deny\"} 740\n"), std::string::npos);
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
