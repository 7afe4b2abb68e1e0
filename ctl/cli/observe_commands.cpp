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
#include "vaultwall/host_network.h"
#include "vaultwall/journal.h"
#include "vaultwall/links.h"
#include "vaultwall/lock.h"
#include "vaultwall/program.h"
#include "vaultwall/service_tags.h"
#include "vaultwall/sha256.h"
#include "vaultwall/text.h"
#include "vaultwall/validate.h"

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

const char* rule_kind_name(uint32_t kind) {
  switch (kind) {
    case VW_RULE_KIND_IP:
      return "ip";
    case VW_RULE_KIND_VNET:
      return "vnet";
    case VW_RULE_KIND_PERIMETER:
      return "perimeter";
    default:
      return "?";
  }
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
      json row = {{"id", r.id}, {"kind", rule_kind_name(r.kind)}, {"value", r.text}};
      row.update(counters_json(r.counters, clock));
      rules.push_back(row);
    }
    for (const ServiceCounters& s : stats->services) {
      json row = {{"id", s.id}, {"service", s.name}};
      row.update(counters_json(s.counters, clock));
      services.push_back(row);
    }
    std::cout << json{{"schemaVersion", kSchemaVersion}, {"generation", stats->generation},
                      {"digest", stats->digest.empty() ? json() : json(stats->digest)},
                      {"policyDigest", stats->policy_digest.empty() ? json() : json(stats->policy_digest)},
                      {"classes", classes}, {"rules", rules}, {"trustedServices", services}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::printf("policy generation %llu", static_cast<unsigned long long>(stats->generation));
  if (!stats->digest.empty())
    std::printf(" (digest %s, policy digest %s)", stats->digest.substr(0, 12).c_str(),
                stats->policy_digest.substr(0, 12).c_str());
  std::printf("\n\n%-20s %12s %14s\n", "CLASS", "PACKETS", "BYTES");
  for (uint32_t c = 0; c < stats->classes.size(); c++)
    std::printf("%-20s %12llu %14llu\n", std::string(verdict_class_name(c)).c_str(),
                static_cast<unsigned long long>(stats->classes[c].packets),
                static_cast<unsigned long long>(stats->classes[c].bytes));
  std::printf("\n%-5s %-5s %-40s %12s %14s  %s\n", "ID", "KIND", "RULE", "PACKETS", "BYTES", "LAST HIT");
  for (const RuleCounters& r : stats->rules)
    std::printf("%-5u %-5s %-40s %12llu %14llu  %s\n", r.id, rule_kind_name(r.kind),
                printable(short_rule_text(r.text)).c_str(),
                static_cast<unsigned long long>(r.counters.packets),
                static_cast<unsigned long long>(r.counters.bytes),
                last_hit_text(clock, r.counters.last_hit_jiffies).c_str());
  if (!stats->services.empty()) {
    std::printf("\n%-5s %-40s %12s %14s  %s\n", "ID", "TRUSTED SERVICE", "PACKETS", "BYTES", "LAST HIT");
    for (const ServiceCounters& s : stats->services)
      std::printf("%-5u %-40s %12llu %14llu  %s\n", s.id, printable(s.name).c_str(),
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
  InterfaceResolver through_links = attached_interface_resolver(g.pin_dir);
  auto compiled = compile_policy(policy, *trusted,
                                 {.resolve_interface = through_links,
                                  .previous_rule_ids = current->rule_ids,
                                  .previous_service_ids = current->service_ids,
                                  .unresolved_interface_text = unattached_interface_text(g.pin_dir)});
  if (!compiled.ok()) {
    print_diagnostics(compiled.diagnostics);
    return kExitError;
  }
  if (!g.json()) print_diagnostics(compiled.diagnostics);
  std::optional<uint32_t> destination;
  if (!flags.destination.empty()) {
    destination = parse_ipv4(flags.destination);
    if (!destination)
      return report(Error{EINVAL, flags.destination + " is not an IPv4 address", {}});
  }
  PacketDescription packet{.source = *source,
                           .destination = destination.value_or(0),
                           .proto = protocol_number(flags.proto),
                           .destination_port = flags.port,
                           .vlan = flags.vlan};
  if (!flags.interface.empty()) {
    auto ifindex = through_links(flags.interface);
    if (!ifindex)
      return report(Error{ENODEV, flags.interface + " is not an interface vaultwall filters (no live link under " + g.pin_dir + ")",
                          "see vaultwall-loader status; attach it with vaultwall-loader attach " + flags.interface});
    packet.ifindex = *ifindex;
  }
  if (!destination && !policy.host.addresses.empty())
    packet.destination = policy.host.addresses.front();
  // What the datapath would ask the kernel about an unlisted destination.
  if (auto host = read_host_network()) {
    packet.wildcard_socket =
        host->wildcard_socket_owns(packet.proto, packet.destination, packet.destination_port);
    packet.forwarded = host->forwards(flags.interface, packet.destination);
  }
  Classification result = classify(policy, context_for(*compiled.value, *trusted, through_links), packet);
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
                      {"destination", packet.destination ? json(format_ipv4(packet.destination)) : json()},
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
  std::cout << flags.source << " -> "
            << (packet.destination ? format_ipv4(packet.destination) + " " : std::string())
            << flags.proto
            << (packet.proto == 6 || packet.proto == 17 ? "/" + std::to_string(flags.port) : "")
            << ": " << (result.passes ? "PASS" : "DROP") << " ("
            << verdict_class_name(result.verdict_class) << ")\n";
  if (result.rule_id) std::cout << "  credited rule " << result.rule_id << ": " << rule_text << "\n";
  if (result.service_id)
    std::cout << "  credited trusted service " << result.service_id << ": " << service_text << "\n";
  if (!result.vnet.empty()) std::cout << "  virtual network " << result.vnet << "\n";
  for (const RuleMatch& m : result.other_rules)
    std::cout << "  also matches rule " << m.rule_id << ": " << m.text << " (not credited: a longer prefix wins)\n";
  for (const std::string& step : result.steps) std::cout << "  - " << step << "\n";
  return kExitOk;
}

// What the change journal says about the generation under this pin dir.
struct JournalView {
  std::optional<uint64_t> last_ok;  // left by the last successful change that knows it
  bool interrupted_after = false;   // a later change was interrupted (or still runs):
                                    // it may have flipped to a newer generation
};

Result<JournalView> read_journal_view(const Globals& g) {
  auto lines = VW_TRY(read_journal(journal_path(g.journal)));
  JournalView view;
  for (const std::string& line : lines) {
    auto entry = nlohmann::json::parse(line, nullptr, false);
    if (!entry.is_object() || entry.value("pinDir", json()) != g.pin_dir) continue;
    auto result = entry.value("result", json());
    if (result != kResultOk) {
      if (result != kResultFailed) view.interrupted_after = true;
      continue;
    }
    const auto to = entry.value("to", nlohmann::json());
    if (to.is_object() && to.contains("generation") && to["generation"].is_number_unsigned())
      view.last_ok = to["generation"].get<uint64_t>();
    else
      view.last_ok.reset();
    view.interrupted_after = false;
  }
  return view;
}

struct Verification {
  std::optional<uint64_t> generation;  // nullopt: the pins could not be read
  uint32_t slot = 0;
  std::vector<std::string> differences;  // red: drift or an unfiltered interface
  std::vector<std::string> warnings;     // cannot tell
  std::vector<InterfaceHealth> interfaces;
  std::string error;                     // why verify could not run
};

void check_interfaces(const Globals& g, Verification& v) {
  auto health = interface_health(g.pin_dir);
  if (!health) {
    v.differences.push_back("cannot check the interfaces: " + health.error().message());
    return;
  }
  v.interfaces = *health;
  for (const InterfaceHealth& h : *health)
    if (!h.filtered())
      v.differences.push_back("interface " + h.interface + " is unfiltered: " + h.problem + "; " + h.hint);
}

// The active word must point at the newest applied slot. The idle slot
// holding a later generation is either an apply interrupted before its flip
// (harmless: the journal records it as interrupted) or vw_active.slot
// flipped back to an older policy (the journal's last apply is the idle one).
void check_slot_generations(const PinnedMaps& maps, const KernelPolicy& current,
                            const Result<JournalView>& journal, Verification& v) {
  auto other = maps.policy_info().get(current.slot ^ 1);
  if (!other) {
    v.differences.push_back("cannot read the idle slot's policy info: " + other.error().message());
    return;
  }
  if (!*other || (*other)->generation <= current.info.generation) return;
  uint64_t newer = (*other)->generation;
  std::string what = "active slot " + std::to_string(current.slot) + " holds generation " +
                     std::to_string(current.info.generation) + " but slot " +
                     std::to_string(current.slot ^ 1) + " holds the newer generation " +
                     std::to_string(newer);
  if (journal && journal->last_ok == newer)
    v.differences.push_back(what + ", the last one applied: vw_active.slot was flipped back to an older policy");
  else if (!journal || !(journal->last_ok == current.info.generation || journal->interrupted_after))
    v.warnings.push_back(what + ": an apply interrupted before its flip, or vw_active.slot flipped back (the journal cannot tell)");
}

void check_journal(const KernelPolicy& current, const Result<JournalView>& journal, Verification& v) {
  if (!journal) {
    v.warnings.push_back("cannot read the change journal (" + journal.error().message() +
                         "); the applied generation was not compared with it");
    return;
  }
  if (!journal->last_ok || *journal->last_ok == current.info.generation) return;
  // An interrupted change may have flipped before it died.
  if (journal->interrupted_after && current.info.generation > *journal->last_ok) return;
  v.differences.push_back("the change journal's last successful change left generation " +
                          std::to_string(*journal->last_ok) + ", the kernel enforces generation " +
                          std::to_string(current.info.generation));
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
    v.error = differences.error().message();
    return;
  }
  v.differences.insert(v.differences.end(), differences->begin(), differences->end());
}

Verification run_verify(const Globals& g) {
  Verification v;
  auto maps = open_maps(g);
  if (!maps) {
    v.error = maps.error().message();
    return v;
  }
  auto current = read_kernel_policy(*maps);
  if (!current) {
    v.error = current.error().message();
    return v;
  }
  v.generation = current->info.generation;
  v.slot = current->slot;
  check_interfaces(g, v);
  Result<JournalView> journal = read_journal_view(g);
  check_slot_generations(*maps, *current, journal, v);
  check_journal(*current, journal, v);
  if (current->applied()) check_policy(*maps, *current, v);
  return v;
}

json interfaces_json(const std::vector<InterfaceHealth>& interfaces) {
  json out = json::array();
  for (const InterfaceHealth& h : interfaces)
    out.push_back({{"interface", h.interface}, {"state", link_state_name(h.state)},
                   {"filtered", h.filtered()}, {"mode", h.mode}, {"ifindex", h.ifindex}});
  return out;
}

int cmd_verify(const Globals& g) {
  Verification v = run_verify(g);
  bool in_sync = v.error.empty() && v.differences.empty();
  if (g.json()) {
    std::cout << json{{"schemaVersion", kSchemaVersion},
                      {"generation", v.generation ? json(*v.generation) : json()},
                      {"inSync", in_sync},
                      {"differences", v.differences},
                      {"warnings", v.warnings},
                      {"interfaces", interfaces_json(v.interfaces)},
                      {"error", v.error.empty() ? json() : json(v.error)}}
                     .dump(2)
              << "\n";
    return in_sync ? kExitOk : kExitError;
  }
  for (const std::string& w : v.warnings) std::cerr << "warning: " << w << "\n";
  if (!v.error.empty()) {
    std::cerr << "vaultwallctl: " << v.error << "\n";
    return kExitError;
  }
  if (in_sync) {
    if (*v.generation == 0)
      std::cout << "nothing applied (firewall off); " << v.interfaces.size()
                << " interface(s) attached, all filtered\n";
    else
      std::cout << "in sync: generation " << *v.generation << " (slot " << v.slot
                << ") matches its compiled policy; " << v.interfaces.size()
                << " interface(s) attached, all filtered\n";
    return kExitOk;
  }
  std::cout << "DRIFT: generation " << *v.generation << " is not what should be enforced:\n";
  for (const std::string& p : v.differences) std::cout << "  " << p << "\n";
  std::cout << "repair the links with vaultwall-loader attach IFACE; repair the maps by re-applying the policy "
               "(vaultwallctl --pin-dir "
            << g.pin_dir << " show > p.json && vaultwallctl --pin-dir " << g.pin_dir
            << " apply --force -f p.json)\n";
  return kExitError;
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
  explain
      ->add_option("--proto", flags->proto,
                   "tcp, udp, or an IP tunnel: gre, ipip, 6in4, esp, ah, l2tp, mpls-in-ip")
      ->check(CLI::IsMember(explain_protocols()))
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
