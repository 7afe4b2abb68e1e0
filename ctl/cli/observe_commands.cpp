// vaultwallctl commands that read back what the kernel does: stats,
// explain, verify.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>

#include "cli/common.h"
#include "vaultwall/apply/apply.h"
#include "vaultwall/apply/verify.h"
#include "vaultwall/common/clock.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/common/time.h"
#include "vaultwall/kernel/links.h"
#include "vaultwall/kernel/public6.h"
#include "vaultwall/policy/classify.h"
#include "vaultwall/policy/host_facts.h"
#include "vaultwall/policy/host_network.h"
#include "vaultwall/policy/service_tags.h"

namespace vaultwall::cli {
namespace {

// ---- stats ---------------------------------------------------------------------

// "app-vnet/web" for a subnet resource id (tables are narrow; JSON has it all).
std::string short_rule_text(const std::string& text) {
  auto subnets = text.rfind("/subnets/");
  auto vnets = text.rfind("/virtualnetworks/");
  if (subnets == std::string::npos || vnets == std::string::npos || vnets > subnets) return text;
  size_t vnet_start = vnets + std::string_view("/virtualnetworks/").size();
  return text.substr(vnet_start, subnets - vnet_start) + "/" +
         text.substr(subnets + std::string_view("/subnets/").size());
}

// A counter's last hit as UTC text: "-" when never hit, "?" when the
// jiffies clock cannot be read (said once in the report's warnings).
std::string last_hit_text(const Result<JiffiesClock>& clock, uint64_t jiffies) {
  if (jiffies == 0) return "-";
  if (!clock) return "?";
  return format_utc(clock->to_unix_ns(jiffies), TimePrecision::kSeconds);
}

Json counters_json(const vw_counters& c, const Result<JiffiesClock>& clock) {
  Json last_hit = c.last_hit_jiffies && clock ? Json(last_hit_text(clock, c.last_hit_jiffies)) : Json();
  return {{"packets", c.packets}, {"bytes", c.bytes}, {"lastHit", last_hit}};
}

Json stats_json(const Stats& stats, const Result<JiffiesClock>& clock) {
  Json classes = Json::object(), rules = Json::array(), services = Json::array();
  for (uint32_t c = 0; c < stats.classes.size(); c++)
    classes[std::string(verdict_class_name(c))] = {{"packets", stats.classes[c].packets},
                                                   {"bytes", stats.classes[c].bytes}};
  for (const RuleCounters& r : stats.rules) {
    Json row = {{"id", r.id}, {"kind", rule_kind_name(r.kind)}, {"value", r.text}};
    row.update(counters_json(r.counters, clock));
    rules.push_back(row);
  }
  for (const ServiceCounters& s : stats.services) {
    Json row = {{"id", s.id}, {"service", s.name}};
    row.update(counters_json(s.counters, clock));
    services.push_back(row);
  }
  return {{"generation", stats.generation},
          {"digest", stats.digest.empty() ? Json() : Json(stats.digest)},
          {"policyDigest", stats.policy_digest.empty() ? Json() : Json(stats.policy_digest)},
          {"classes", classes},
          {"rules", rules},
          {"trustedServices", services},
          {"reject", {{"sent", stats.replies.sent}, {"suppressed", stats.replies.suppressed}}}};
}

void add_stats_tables(Report& report, const Stats& stats, const Result<JiffiesClock>& clock) {
  report.line("policy generation " + std::to_string(stats.generation) +
              (stats.digest.empty() ? "" : " (digest " + stats.digest.substr(0, 12) +
                                               ", policy digest " +
                                               stats.policy_digest.substr(0, 12) + ")"));
  report.line("");
  TextTable classes({{"CLASS", Align::kLeft, 20},
                     {"PACKETS", Align::kRight, 12},
                     {"BYTES", Align::kRight, 14}});
  for (uint32_t c = 0; c < stats.classes.size(); c++)
    classes.add_row({std::string(verdict_class_name(c)), std::to_string(stats.classes[c].packets),
                     std::to_string(stats.classes[c].bytes)});
  report.table(std::move(classes));
  report.line("");
  report.line("reject (denyAction): " + std::to_string(stats.replies.sent) + " RST sent, " +
              std::to_string(stats.replies.suppressed) +
              " denied packets dropped instead (reply budget spent, RST, not TCP, fragment, "
              "broadcast or multicast)");
  report.line("");
  TextTable rules({{"ID", Align::kLeft, 5},
                   {"KIND", Align::kLeft, 5},
                   {"RULE", Align::kLeft, 40},
                   {"PACKETS", Align::kRight, 12},
                   {"BYTES", Align::kRight, 14},
                   {"LAST HIT"}});
  for (const RuleCounters& r : stats.rules)
    rules.add_row({std::to_string(r.id), rule_kind_name(r.kind), short_rule_text(r.text),
                   std::to_string(r.counters.packets), std::to_string(r.counters.bytes),
                   last_hit_text(clock, r.counters.last_hit_jiffies)});
  report.table(std::move(rules));
  if (stats.services.empty()) return;
  report.line("");
  TextTable services({{"ID", Align::kLeft, 5},
                      {"TRUSTED SERVICE", Align::kLeft, 40},
                      {"PACKETS", Align::kRight, 12},
                      {"BYTES", Align::kRight, 14},
                      {"LAST HIT"}});
  for (const ServiceCounters& s : stats.services)
    services.add_row({std::to_string(s.id), s.name, std::to_string(s.counters.packets),
                      std::to_string(s.counters.bytes),
                      last_hit_text(clock, s.counters.last_hit_jiffies)});
  report.table(std::move(services));
}

Report cmd_stats(const Globals& g) {
  Report report;
  report.json = stats_json(Stats{}, fail(EIO, "no clock"));
  auto maps = open_maps(g);
  if (!maps) return report.fail(maps.error());
  auto stats = read_stats(*maps);
  if (!stats) return report.fail(stats.error());
  const Result<JiffiesClock> clock = JiffiesClock::read();
  if (!clock) report.warn(clock.error().message());
  report.json = stats_json(*stats, clock);
  add_stats_tables(report, *stats, clock);
  return report;
}

// ---- explain ---------------------------------------------------------------------

// The trusted set the kernel enforces for `source`: every service the
// active slot describes, with those of its trusted prefixes (from the
// trie, not today's Service Tags file, which may have changed since) that
// hold the source; the others cannot change its verdict.
Result<TrustedSet> kernel_trusted_set(const PinnedMaps& maps, const KernelPolicy& current,
                                      const PacketDescription& packet) {
  std::map<uint32_t, TrustedService> by_id;
  for (const auto& [name, id] : current.service_ids) by_id[id].name = name;
  if (packet.family == PacketFamily::kIpv6) {
    std::vector<std::pair<vw_rule6_key, vw_rule_value>> public_rules6;
    std::vector<std::pair<vw_public6_key, vw_trusted_value>> trusted6;
    split_public6(VW_TRY(maps.public6(current.slot).entries()), public_rules6, trusted6);
    for (const auto& [key, value] : trusted6) {
      Ipv6Prefix prefix{{}, static_cast<uint8_t>(key.prefixlen)};
      std::copy(std::begin(key.addr), std::end(key.addr), prefix.address.begin());
      if (prefix.contains(packet.source6)) by_id[value.service_id].ipv6.push_back(prefix);
    }
  }
  // An IPv4-mapped IPv6 source is decided as its IPv4 address.
  const bool ipv4_decided = packet.family == PacketFamily::kIpv4 || ipv4_mapped(packet.source6);
  const uint32_t source = packet.family == PacketFamily::kIpv4
                              ? packet.source
                              : ipv4_mapped(packet.source6).value_or(0);
  if (ipv4_decided) {
    for (const auto& [key, value] : VW_TRY(maps.trusted(current.slot).entries())) {
      Ipv4Prefix prefix{ipv4_from_bytes(key.addr), static_cast<uint8_t>(key.prefixlen)};
      if (prefix.contains(source)) by_id[value.service_id].ipv4.push_back(prefix);
    }
  }
  TrustedSet set;
  for (auto& [id, service] : by_id) {
    std::sort(service.ipv4.begin(), service.ipv4.end());
    std::sort(service.ipv6.begin(), service.ipv6.end());
    set.services.push_back(std::move(service));
  }
  return set;
}

// "tcp", "udp", or an IP-protocol tunnel's name ("gre", "esp", ...).
uint8_t protocol_number(const std::string& name) {
  if (name == "udp") return 17;
  if (const TunnelKind* tunnel = find_tunnel(name); tunnel && tunnel->port == 0)
    return tunnel->proto;
  return 6;
}

std::vector<std::string> explain_protocols() {
  std::vector<std::string> names = {"tcp", "udp"};
  for (const TunnelKind& tunnel : tunnel_kinds())
    if (tunnel.port == 0) names.emplace_back(tunnel.name);
  return names;
}

// Refuses anything but a dotted quad while parsing (a usage error).
const CLI::Validator kIpv4Address(
    [](const std::string& text) {
      return parse_ipv4(text) ? std::string() : text + " is not an IPv4 address";
    },
    "IPv4");

// A source: a dotted quad or an IPv6 address.
const CLI::Validator kIpAddress(
    [](const std::string& text) {
      return parse_ipv4(text) || parse_ipv6(text)
                 ? std::string()
                 : text + " is not an IPv4 or IPv6 address (203.0.113.7, 2001:db8::7)";
    },
    "IP");

struct ExplainFlags {
  std::string source, interface, destination, proto = "tcp";
  uint16_t vlan = 0;
  uint16_t port = 443;
};

// The packet explain describes: an IPv4 source, or an IPv6 one (checked
// while parsing).
PacketDescription explained_packet(const ExplainFlags& flags) {
  PacketDescription packet{.proto = protocol_number(flags.proto),
                           .destination_port = flags.port,
                           .vlan = flags.vlan};
  if (auto source = parse_ipv4(flags.source)) {
    packet.source = *source;
  } else {
    packet.family = PacketFamily::kIpv6;
    packet.source6 = *parse_ipv6(flags.source);
  }
  return packet;
}

std::string text_of_rule(const CompiledPolicy& compiled, uint32_t id) {
  for (const auto& r : compiled.rules)
    if (r.id == id) return r.text;
  return "";
}

std::string name_of_service(const CompiledPolicy& compiled, uint32_t id) {
  for (const auto& s : compiled.services)
    if (s.id == id) return s.name;
  return "";
}

Json explain_json(const ExplainFlags& flags, const PacketDescription& packet, uint64_t generation,
                  const Classification& result, const CompiledPolicy& compiled) {
  Json others = Json::array();
  for (const RuleMatch& m : result.other_rules)
    others.push_back({{"id", m.rule_id}, {"rule", m.text}, {"prefix", m.cidr()}});
  return {{"source", flags.source},
          {"destination", !flags.destination.empty() ? Json(flags.destination)
                          : packet.destination ? Json(format_ipv4(packet.destination))
                                               : Json()},
          {"generation", generation},
          {"verdict", result.passes ? "pass" : result.rejected ? "reject" : "drop"},
          {"class", verdict_class_name(result.verdict_class)},
          {"rule", result.rule_id ? Json{{"id", result.rule_id},
                                         {"value", text_of_rule(compiled, result.rule_id)}}
                                  : Json()},
          {"trustedService",
           result.service_id ? Json{{"id", result.service_id},
                                    {"name", name_of_service(compiled, result.service_id)}}
                             : Json()},
          {"vnet", result.vnet},
          {"otherMatchingRules", others},
          {"steps", result.steps}};
}

void add_explain_lines(Report& report, const ExplainFlags& flags, const PacketDescription& packet,
                       const Classification& result, const CompiledPolicy& compiled) {
  report.line(flags.source + " -> " +
              (packet.destination ? format_ipv4(packet.destination) + " " : std::string()) +
              flags.proto +
              (packet.proto == 6 || packet.proto == 17 ? "/" + std::to_string(flags.port) : "") +
              ": " + (result.passes ? "PASS" : result.rejected ? "REJECT" : "DROP") + " (" +
              std::string(verdict_class_name(result.verdict_class)) + ")");
  if (result.rule_id)
    report.line("  credited rule " + std::to_string(result.rule_id) + ": " +
                text_of_rule(compiled, result.rule_id));
  if (result.service_id)
    report.line("  credited trusted service " + std::to_string(result.service_id) + ": " +
                name_of_service(compiled, result.service_id));
  if (!result.vnet.empty()) report.line("  virtual network " + result.vnet);
  for (const RuleMatch& m : result.other_rules)
    report.line("  also matches rule " + std::to_string(m.rule_id) + ": " + m.text +
                " (not credited: a longer prefix wins)");
  for (const std::string& step : result.steps) report.line("  - " + step);
}

// explain_json's shape when explain could not run.
Json explain_blank(const ExplainFlags& flags) {
  return {{"source", flags.source}, {"destination", Json()}, {"generation", Json()},
          {"verdict", Json()},      {"class", Json()},       {"rule", Json()},
          {"trustedService", Json()}, {"vnet", ""},        {"otherMatchingRules", Json::array()},
          {"steps", Json::array()}};
}

Report cmd_explain(const Globals& g, const ExplainFlags& flags) {
  PacketDescription packet = explained_packet(flags);
  Report report;
  report.json = explain_blank(flags);
  auto maps = open_maps(g);
  if (!maps) return report.fail(maps.error());
  auto current = read_kernel_policy(*maps);
  if (!current) return report.fail(current.error());
  const Policy policy = current_or_default(*current);
  auto trusted = kernel_trusted_set(*maps, *current, packet);
  if (!trusted) return report.fail(trusted.error());
  InterfaceResolver through_links = attached_interface_resolver(g.pin_dir);
  auto compiled = compile_policy(policy, *trusted,
                                 {.resolve_interface = through_links,
                                  .previous_rule_ids = current->rule_ids,
                                  .previous_service_ids = current->service_ids,
                                  .unresolved_interface_text = unattached_interface_text(g.pin_dir)});
  add_diagnostic_notes(report, compiled.diagnostics);
  if (!compiled.ok())
    return report.fail(Error{0, "the stored policy does not compile; nothing to explain", {}});
  if (auto destination = parse_ipv4(flags.destination)) packet.destination = *destination;
  if (auto destination6 = parse_ipv6(flags.destination)) packet.destination6 = *destination6;
  if (!flags.interface.empty()) {
    auto ifindex = through_links(flags.interface);
    if (!ifindex)
      return report.fail(Error{ENODEV, flags.interface + " is not an interface vaultwall filters (no live link under " + g.pin_dir + ")",
                               "see vaultwall-loader status; attach it with vaultwall-loader attach " + flags.interface});
    packet.ifindex = *ifindex;
  }
  if (flags.destination.empty() && !policy.host.addresses.empty() &&
      packet.family == PacketFamily::kIpv4)
    packet.destination = policy.host.addresses.front();
  // What the datapath would ask the kernel about an unlisted destination.
  if (auto host = read_host_network()) {
    packet.wildcard_socket =
        host->wildcard_socket_owns(packet.proto, packet.destination, packet.destination_port);
    packet.forwarded = host->forwards(flags.interface, packet.destination);
  }
  const Classification result =
      classify(policy, context_for(*compiled.value, *trusted, through_links), packet);
  report.json = explain_json(flags, packet, current->info.generation, result, *compiled.value);
  add_explain_lines(report, flags, packet, result, *compiled.value);
  return report;
}

// ---- verify ----------------------------------------------------------------------

struct Verification {
  std::optional<uint64_t> generation;  // nullopt: the pins could not be read
  uint32_t slot = 0;
  std::vector<std::string> differences;  // red: drift or an unfiltered interface
  std::vector<std::string> warnings;     // cannot tell
  std::vector<InterfaceHealth> interfaces;
  std::optional<Error> error;            // why verify could not run
};

void check_interfaces(const Globals& g, Verification& v) {
  auto health = interface_health(g.pin_dir);
  if (!health) {
    v.differences.push_back("cannot check the interfaces: " + health.error().message());
    return;
  }
  v.interfaces = *health;
  for (const InterfaceHealth& h : *health)
    if (!h.whole())
      v.differences.push_back("interface " + h.interface + " is unfiltered: " + h.problem + "; " + h.hint);
}

void check_policy(const PinnedMaps& maps, const KernelPolicy& current, Verification& v) {
  auto compilation = compile_against_kernel(*current.policy, current);
  // The document's warnings were printed once, when it was applied: verify
  // reports drift, not them again.
  for (const Diagnostic& d : compilation.diagnostics)
    if (d.is_error()) v.differences.push_back(d.text());
  if (!compilation.ok()) {
    v.differences.push_back("the stored policy does not compile, so it cannot be compared");
    return;
  }
  auto differences = image_differences(maps, current, compilation.value->compiled);
  if (!differences) {
    v.error = differences.error();
    return;
  }
  v.differences.insert(v.differences.end(), differences->begin(), differences->end());
  auto gaps = program_gaps(maps, current.settings.tunnels);
  if (!gaps) {
    v.error = gaps.error();
    return;
  }
  v.differences.insert(v.differences.end(), gaps->begin(), gaps->end());
}

Verification run_verify(const Globals& g) {
  Verification v;
  auto maps = open_maps(g);
  if (!maps) {
    v.error = maps.error();
    return v;
  }
  auto current = read_kernel_policy(*maps);
  if (!current) {
    v.error = current.error();
    return v;
  }
  v.generation = current->info.generation;
  v.slot = current->slot;
  check_interfaces(g, v);
  if (current->applied() && v.interfaces.empty())
    v.differences.push_back("no interface is attached: generation " +
                            std::to_string(current->info.generation) +
                            " filters nothing (vaultwall-loader attach IFACE)");
  SlotHistory history = check_slot_history(
      *maps, *current, read_journal_view(journal_path(g.journal), g.pin_dir));
  v.differences.insert(v.differences.end(), history.differences.begin(),
                       history.differences.end());
  v.warnings.insert(v.warnings.end(), history.warnings.begin(), history.warnings.end());
  if (current->applied()) check_policy(*maps, *current, v);
  return v;
}

Json interfaces_json(const std::vector<InterfaceHealth>& interfaces) {
  Json out = Json::array();
  for (const InterfaceHealth& h : interfaces)
    out.push_back({{"interface", h.interface}, {"state", link_state_name(h.state)},
                   {"filtered", h.whole()}, {"mode", h.mode}, {"ifindex", h.ifindex},
                   {"vlanBypass", h.vlan_bypass}});
  return out;
}

Report cmd_verify(const Globals& g) {
  const Verification v = run_verify(g);
  const bool in_sync = !v.error && v.differences.empty();
  Report report;
  report.json = {{"generation", v.generation ? Json(*v.generation) : Json()},
                 {"inSync", in_sync},
                 {"differences", v.differences},
                 {"warnings", v.warnings},
                 {"interfaces", interfaces_json(v.interfaces)}};
  for (const std::string& w : v.warnings) report.notes.push_back("warning: " + w);
  if (v.error) return report.fail(*v.error);
  const std::string attached = std::to_string(v.interfaces.size()) + " interface(s) attached";
  if (in_sync) {
    report.line(*v.generation == 0
                    ? "nothing applied (firewall off); " + attached + ", all filtered"
                    : "in sync: generation " + std::to_string(*v.generation) + " (slot " +
                          std::to_string(v.slot) + ") matches its compiled policy; " + attached +
                          ", all filtered");
    return report;
  }
  report.exit_code = kExitError;
  report.line("DRIFT: generation " + std::to_string(*v.generation) +
              " is not what should be enforced:");
  for (const std::string& p : v.differences) report.line("  " + p);
  // show's document carries the host facts it was applied with: a host
  // facts file named by the environment as well would be refused.
  const char* facts = std::getenv(kHostFactsEnv);
  const std::string unset = facts && *facts ? "env -u " + std::string(kHostFactsEnv) + " " : "";
  report.line("repair the links with vaultwall-loader attach IFACE; repair the maps by re-applying "
              "the policy (vaultwallctl --pin-dir " + g.pin_dir + " show > p.json && " + unset +
              "vaultwallctl --pin-dir " + g.pin_dir + " apply --force -f p.json)");
  return report;
}

}  // namespace

void add_observe_commands(CLI::App& app, Globals& g, Commands& commands) {
  auto* stats = app.add_subcommand("stats", "counters per verdict class, rule and trusted service");
  add_output_option(commands, stats, kTableFormats);
  commands.add(stats, [&g] { return cmd_stats(g); });

  auto flags = std::make_shared<ExplainFlags>();
  auto* explain = app.add_subcommand("explain", "which verdict a source gets, and why");
  explain->add_option("source", flags->source, "source IPv4 or IPv6 address")
      ->required()
      ->check(kIpAddress);
  explain->add_option("--interface", flags->interface,
                      "ingress interface (default: none, i.e. no virtual-network segment)");
  explain->add_option("--vlan", flags->vlan, "VLAN ID (0: untagged)");
  explain->add_option("--port", flags->port, "destination port")->capture_default_str();
  explain
      ->add_option("--proto", flags->proto,
                   "tcp, udp, or an IP tunnel: gre, ipip, 6in4, esp, ah, ipcomp, l2tp, mpls-in-ip")
      ->check(CLI::IsMember(explain_protocols()))
      ->capture_default_str();
  explain
      ->add_option("--destination", flags->destination,
                   "destination IPv4 or IPv6 address (default: the first IPv4 data-plane "
                   "address; an IPv6 one matters for an IPv6 private endpoint)")
      ->check(kIpAddress);
  add_output_option(commands, explain);
  commands.add(explain, [&g, flags] { return cmd_explain(g, *flags); });

  auto* verify = app.add_subcommand(
      "verify", "check that the kernel's maps equal the compiled policy (exit 1 on drift)");
  add_output_option(commands, verify);
  commands.add(verify, [&g] { return cmd_verify(g); });
}

}  // namespace vaultwall::cli
