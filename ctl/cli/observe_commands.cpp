// vaultwallctl commands that read back what the kernel does: stats,
// explain, verify.
#include <bpf/libbpf.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <set>

#include "cli/common.h"
#include "vaultwall/apply.h"
#include "vaultwall/classify.h"
#include "vaultwall/clock.h"
#include "vaultwall/document.h"
#include "vaultwall/lock.h"
#include "vaultwall/program.h"
#include "vaultwall/service_tags.h"
#include "vaultwall/sha256.h"
#include "vaultwall/validate.h"
#include "vaultwall/verify.h"

namespace vaultwall::cli {
namespace {

// "app-vnet/web" for a subnet resource id (tables are narrow; JSON has it all).
std::string short_rule_text(const std::string& text) {
  auto subnets = text.rfind("/subnets/");
  auto vnets = text.rfind("/virtualnetworks/");
  if (subnets == std::string::npos || vnets == std::string::npos || vnets > subnets) return text;
  size_t vnet_start = vnets + std::strlen("/virtualnetworks/");
  return text.substr(vnet_start, subnets - vnet_start) + "/" +
         text.substr(subnets + std::strlen("/subnets/"));
}

// A counter's last hit as UTC text: "-" when never hit, "?" when the
// jiffies clock cannot be read (said once on stderr by cmd_stats).
std::string last_hit_text(const Result<JiffiesClock>& clock, uint64_t jiffies) {
  if (jiffies == 0) return "-";
  if (!clock) return "?";
  return format_time(clock->to_unix_ns(jiffies));
}

json counters_json(const vw_counters& c, const Result<JiffiesClock>& clock) {
  json last_hit = c.last_hit_jiffies && clock ? json(last_hit_text(clock, c.last_hit_jiffies)) : json();
  return {{"packets", c.packets}, {"bytes", c.bytes}, {"lastHit", last_hit}};
}

int cmd_stats(const Globals& g) {
  auto maps = open_maps(g);
  if (!maps) return report(maps.error());
  auto stats = read_stats(*maps);
  if (!stats) return report(stats.error());
  const Result<JiffiesClock> clock = JiffiesClock::read();
  if (!clock) std::cerr << "vaultwallctl: warning: " << clock.error().message() << "\n";
  if (g.json()) {
    json classes = json::object(), rules = json::array(), services = json::array();
    for (uint32_t c = 0; c < stats->classes.size(); c++)
      classes[std::string(verdict_class_name(c))] = {{"packets", stats->classes[c].packets},
                                                     {"bytes", stats->classes[c].bytes}};
    for (const RuleCounters& r : stats->rules) {
      json row = {{"id", r.id}, {"kind", r.kind == VW_RULE_KIND_IP ? "ip" : "vnet"}, {"value", r.text}};
      row.update(counters_json(r.counters, clock));
      rules.push_back(row);
    }
    for (const ServiceCounters& s : stats->services) {
      json row = {{"id", s.id}, {"service", s.name}};
      row.update(counters_json(s.counters, clock));
      services.push_back(row);
    }
    std::cout << json{{"schemaVersion", kSchemaVersion}, {"generation", stats->generation},
                      {"classes", classes}, {"rules", rules}, {"trustedServices", services}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::printf("policy generation %llu\n\n%-20s %12s %14s\n",
              static_cast<unsigned long long>(stats->generation), "CLASS", "PACKETS", "BYTES");
  for (uint32_t c = 0; c < stats->classes.size(); c++)
    std::printf("%-20s %12llu %14llu\n", std::string(verdict_class_name(c)).c_str(),
                static_cast<unsigned long long>(stats->classes[c].packets),
                static_cast<unsigned long long>(stats->classes[c].bytes));
  std::printf("\n%-5s %-5s %-40s %12s %14s  %s\n", "ID", "KIND", "RULE", "PACKETS", "BYTES", "LAST HIT");
  for (const RuleCounters& r : stats->rules)
    std::printf("%-5u %-5s %-40s %12llu %14llu  %s\n", r.id, r.kind == VW_RULE_KIND_IP ? "ip" : "vnet",
                short_rule_text(r.text).c_str(), static_cast<unsigned long long>(r.counters.packets),
                static_cast<unsigned long long>(r.counters.bytes),
                last_hit_text(clock, r.counters.last_hit_jiffies).c_str());
  if (!stats->services.empty()) {
    std::printf("\n%-5s %-40s %12s %14s  %s\n", "ID", "TRUSTED SERVICE", "PACKETS", "BYTES", "LAST HIT");
    for (const ServiceCounters& s : stats->services)
      std::printf("%-5u %-40s %12llu %14llu  %s\n", s.id, s.name.c_str(),
                  static_cast<unsigned long long>(s.counters.packets),
                  static_cast<unsigned long long>(s.counters.bytes),
                  last_hit_text(clock, s.counters.last_hit_jiffies).c_str());
  }
  return kExitOk;
}

// The trusted set the kernel enforces, rebuilt from the active trusted trie
// (not from today's service-tags file, which may have changed since).
Result<TrustedSet> kernel_trusted_set(const PinnedMaps& maps, const KernelPolicy& current) {
  auto entries = maps.trusted(current.slot).entries();
  if (!entries) return std::unexpected(entries.error());
  std::map<uint32_t, TrustedService> by_id;
  for (const auto& [name, id] : current.service_ids) by_id[id].name = name;
  for (const auto& [key, value] : *entries)
    by_id[value.service_id].ipv4.push_back(
        Ipv4Prefix{ipv4_from_bytes(key.addr), static_cast<uint8_t>(key.prefixlen)});
  TrustedSet set;
  for (auto& [id, service] : by_id) {
    std::sort(service.ipv4.begin(), service.ipv4.end());
    set.services.push_back(std::move(service));
  }
  return set;
}

struct ExplainFlags {
  std::string source, interface, destination, proto = "tcp";
  uint16_t vlan = 0;
  uint16_t port = 443;
};

int cmd_explain(const Globals& g, const ExplainFlags& flags) {
  auto source = parse_ipv4(flags.source);
  if (!source) return report(Error{EINVAL, flags.source + " is not an IPv4 address", {}});
  auto maps = open_maps(g);
  if (!maps) return report(maps.error());
  auto current = read_kernel_policy(*maps);
  if (!current) return report(current.error());
  Policy policy = current_or_default(*current);
  auto trusted = kernel_trusted_set(*maps, *current);
  if (!trusted) return report(trusted.error());
  auto compiled = compile_policy(policy, *trusted,
                                 {.resolve_interface = resolve_interface,
                                  .previous_rule_ids = current->rule_ids,
                                  .previous_service_ids = current->service_ids});
  if (!compiled.ok()) {
    print_diagnostics(compiled.diagnostics);
    return kExitError;
  }
  PacketDescription packet{.source = *source,
                           .destination = flags.destination.empty() ? 0 : parse_ipv4(flags.destination).value_or(0),
                           .proto = static_cast<uint8_t>(flags.proto == "udp" ? 17 : 6),
                           .destination_port = flags.port,
                           .vlan = flags.vlan};
  if (!flags.interface.empty()) {
    auto ifindex = resolve_interface(flags.interface);
    if (!ifindex) return report(Error{ENODEV, "unknown interface " + flags.interface, {}});
    packet.ifindex = *ifindex;
  }
  if (flags.destination.empty() && !policy.host.addresses.empty())
    packet.destination = policy.host.addresses.front();
  Classification result = classify(policy, context_for(*compiled.value, *trusted, resolve_interface), packet);
  std::string rule_text;
  for (const auto& r : compiled.value->rules)
    if (r.id == result.rule_id) rule_text = r.text;
  std::string service_text;
  for (const auto& s : compiled.value->services)
    if (s.id == result.service_id) service_text = s.name;
  if (g.json()) {
    json others = json::array();
    for (const RuleMatch& m : result.other_rules)
      others.push_back({{"id", m.rule_id}, {"rule", m.text}, {"prefix", m.prefix.cidr()}});
    std::cout << json{{"schemaVersion", kSchemaVersion}, {"source", flags.source},
                      {"generation", current->info.generation},
                      {"verdict", result.passes ? "pass" : "drop"},
                      {"class", verdict_class_name(result.verdict_class)},
                      {"rule", result.rule_id ? json{{"id", result.rule_id}, {"value", rule_text}} : json()},
                      {"trustedService", result.service_id ? json{{"id", result.service_id}, {"name", service_text}} : json()},
                      {"vnet", result.vnet},
                      {"otherMatchingRules", others},
                      {"steps", result.steps}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << flags.source << " -> " << flags.proto << "/" << flags.port << ": "
            << (result.passes ? "PASS" : "DROP") << " (" << verdict_class_name(result.verdict_class)
            << ")\n";
  if (result.rule_id) std::cout << "  credited rule " << result.rule_id << ": " << rule_text << "\n";
  if (result.service_id)
    std::cout << "  credited trusted service " << result.service_id << ": " << service_text << "\n";
  if (!result.vnet.empty()) std::cout << "  virtual network " << result.vnet << "\n";
  for (const RuleMatch& m : result.other_rules)
    std::cout << "  also matches rule " << m.rule_id << ": " << m.text << " (not credited: a longer prefix wins)\n";
  for (const std::string& step : result.steps) std::cout << "  - " << step << "\n";
  return kExitOk;
}

int cmd_verify(const Globals& g) {
  auto maps = open_maps(g);
  if (!maps) return report(maps.error());
  auto drift = check_drift(*maps);
  if (!drift) return report(drift.error());
  if (!drift->applied) {
    if (g.json())
      std::cout << json{{"schemaVersion", kSchemaVersion}, {"generation", 0}, {"inSync", true},
                        {"differences", json::array()}}
                       .dump(2)
                << "\n";
    else
      std::cout << "nothing applied (firewall off); nothing to verify\n";
    return kExitOk;
  }
  if (!drift->compile_errors.empty()) {
    print_diagnostics(drift->compile_errors);
    return kExitError;
  }
  const std::vector<std::string>& problems = drift->differences;
  if (g.json()) {
    std::cout << json{{"schemaVersion", kSchemaVersion}, {"generation", drift->generation},
                      {"inSync", problems.empty()}, {"differences", problems}}
                     .dump(2)
              << "\n";
  } else if (problems.empty()) {
    std::cout << "in sync: generation " << drift->generation << " (slot " << drift->slot
              << ") matches its compiled policy\n";
  } else {
    std::cout << "DRIFT: generation " << drift->generation << " does not match its compiled policy:\n";
    for (const std::string& p : problems) std::cout << "  " << p << "\n";
    std::cout << "re-apply the policy (vaultwallctl show > p.json && vaultwallctl apply --force -f p.json)\n";
  }
  return problems.empty() ? kExitOk : kExitError;
}

}  // namespace

void add_observe_commands(CLI::App& app, Globals& g, Commands& commands) {
  auto* stats = app.add_subcommand("stats", "counters per verdict class, rule and trusted service");
  add_output_option(commands, stats);
  commands.add(stats, [&g] { return cmd_stats(g); });

  auto flags = std::make_shared<ExplainFlags>();
  auto* explain = app.add_subcommand("explain", "which verdict a source gets, and why");
  explain->add_option("source", flags->source, "source IPv4 address")->required();
  explain->add_option("--interface", flags->interface,
                      "ingress interface (default: none, i.e. no virtual-network segment)");
  explain->add_option("--vlan", flags->vlan, "VLAN ID (0: untagged)");
  explain->add_option("--port", flags->port, "destination port")->capture_default_str();
  explain->add_option("--proto", flags->proto, "tcp or udp")
      ->check(CLI::IsMember({"tcp", "udp"}))
      ->capture_default_str();
  explain->add_option("--destination", flags->destination,
                      "destination IPv4 address (default: the first data-plane address)");
  add_output_option(commands, explain);
  commands.add(explain, [&g, flags] { return cmd_explain(g, *flags); });

  auto* verify = app.add_subcommand(
      "verify", "check that the kernel's maps equal the compiled policy (exit 1 on drift)");
  add_output_option(commands, verify);
  commands.add(verify, [&g] { return cmd_verify(g); });
}

}  // namespace vaultwall::cli
