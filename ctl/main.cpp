// vaultwallctl: Azure networkAcls documents in, validated, compiled and
// applied atomically to the pinned maps; counters, explanations and drift
// checks out.
#include <bpf/libbpf.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "vaultwall/apply.h"
#include "vaultwall/clock.h"
#include "vaultwall/classify.h"
#include "vaultwall/document.h"
#include "vaultwall/lock.h"
#include "vaultwall/program.h"
#include "vaultwall/service_tags.h"
#include "vaultwall/sha256.h"
#include "vaultwall/validate.h"

namespace vaultwall {
namespace {

using json = nlohmann::ordered_json;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kSchemaVersion = 1;

struct Globals {
  std::string pin_dir = VW_PIN_DIR_DEFAULT;
  std::string output = "table";
  bool json() const { return output == "json"; }
};

int report(const Error& error) {
  std::cerr << "vaultwallctl: " << error.message() << "\n";
  return kExitError;
}

void print_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  for (const Diagnostic& d : diagnostics)
    std::cerr << (d.is_error() ? "error: " : "warning: ") << d.text() << "\n";
}

json diagnostics_json(const std::vector<Diagnostic>& diagnostics) {
  json out = json::array();
  for (const Diagnostic& d : diagnostics)
    out.push_back({{"severity", d.is_error() ? "error" : "warning"}, {"path", d.path},
                   {"message", d.message}});
  return out;
}

// Pinned maps, after the privilege and bpffs checks that explain failures.
Result<PinnedMaps> open_maps(const Globals& g) {
  if (auto r = check_privileges_and_bpffs(g.pin_dir); !r) return std::unexpected(r.error());
  return PinnedMaps::open(g.pin_dir);
}

// ---- validate ------------------------------------------------------------------

struct LimitOptions {
  std::string profile;
  std::optional<uint32_t> max_ip_rules;
  std::optional<uint32_t> max_vnet_rules;
  ValidateOptions to_validate_options() const {
    return {.profile = profile.empty() ? std::nullopt : parse_profile(profile),
            .max_ip_rules = max_ip_rules,
            .max_vnet_rules = max_vnet_rules};
  }
};

void add_limit_options(CLI::App* cmd, LimitOptions& limits) {
  cmd->add_option("--profile", limits.profile, "validation profile (overrides the document's)")
      ->check(CLI::IsMember({"akv-2018", "akv-current"}));
  cmd->add_option("--max-ip-rules", limits.max_ip_rules, "raise or lower the IP rule limit");
  cmd->add_option("--max-vnet-rules", limits.max_vnet_rules, "raise or lower the VNET rule limit");
}

// Loads and validates a file and resolves its trusted services. Prints
// diagnostics (unless json output) and returns the policy or nullopt.
struct Loaded {
  std::optional<Policy> policy;
  std::vector<Diagnostic> diagnostics;
};

Loaded load_file(const std::string& file, const LimitOptions& limits) {
  Loaded out;
  auto loaded = load_policy_file(file, limits.to_validate_options());
  out.diagnostics = loaded.diagnostics;
  if (!loaded.ok()) return out;
  auto trusted = resolve_trusted_services(*loaded.value);
  out.diagnostics.insert(out.diagnostics.end(), trusted.diagnostics.begin(),
                         trusted.diagnostics.end());
  if (trusted.ok()) out.policy = std::move(loaded.value);
  return out;
}

int cmd_validate(const Globals& g, const std::string& file, const LimitOptions& limits) {
  Loaded loaded = load_file(file, limits);
  if (g.json()) {
    std::cout << json{{"schemaVersion", kSchemaVersion}, {"file", file},
                      {"valid", loaded.policy.has_value()},
                      {"diagnostics", diagnostics_json(loaded.diagnostics)}}
                     .dump(2)
              << "\n";
  } else {
    print_diagnostics(loaded.diagnostics);
    if (loaded.policy)
      std::cout << file << ": valid (" << loaded.policy->ip_rules.size() << " IP rules, "
                << loaded.policy->vnet_rules.size() << " virtual-network rules, profile "
                << to_string(loaded.policy->host.profile) << ")\n";
    else
      std::cerr << file << ": invalid; nothing was applied\n";
  }
  return loaded.policy ? kExitOk : kExitError;
}

// ---- apply / diff / read-modify-apply --------------------------------------------

void print_diff(const PolicyDiff& diff) {
  for (const std::string& r : diff.rules_added) std::cout << "  + rule " << r << "\n";
  for (const std::string& r : diff.rules_removed) std::cout << "  - rule " << r << "\n";
  for (const std::string& s : diff.settings_changed) std::cout << "  ~ " << s << "\n";
  if (diff.host_changed) std::cout << "  ~ vaultwall host section changed\n";
}

json diff_json(const PolicyDiff& diff) {
  return {{"rulesAdded", diff.rules_added},
          {"rulesRemoved", diff.rules_removed},
          {"settingsChanged", diff.settings_changed},
          {"hostSectionChanged", diff.host_changed},
          {"same", diff.empty()}};
}

// The same diagnostic can come from two stages (e.g. trusted services are
// resolved when loading and again when compiling): show each once.
std::vector<Diagnostic> unique(std::vector<Diagnostic> diagnostics) {
  std::vector<Diagnostic> out;
  for (Diagnostic& d : diagnostics)
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(std::move(d));
  return out;
}

// Compiles `policy` against the kernel state and applies it (unless dry_run).
// The caller holds the lock.
int apply_policy(const Globals& g, const PinnedMaps& maps, const KernelPolicy& current,
                 const Policy& policy, bool dry_run, std::vector<Diagnostic> diagnostics = {},
                 bool force = false) {
  auto compilation = compile_against_kernel(policy, current);
  diagnostics.insert(diagnostics.end(), compilation.diagnostics.begin(),
                     compilation.diagnostics.end());
  diagnostics = unique(std::move(diagnostics));
  if (!g.json()) print_diagnostics(diagnostics);
  if (!compilation.ok()) {
    if (g.json())
      std::cout << json{{"schemaVersion", kSchemaVersion}, {"applied", false},
                        {"diagnostics", diagnostics_json(diagnostics)}}
                       .dump(2)
                << "\n";
    else
      std::cerr << "vaultwallctl: the policy does not compile; nothing was applied\n";
    return kExitError;
  }
  PolicyDiff diff = diff_policies(current.policy, policy);
  const std::string& digest = compilation.value->compiled.digest_hex;
  bool unchanged = current.applied() && current.policy == policy &&
                   to_hex(current.info.digest, VW_DIGEST_LEN) == digest;
  if (unchanged && !force) {
    if (g.json())
      std::cout << json{{"schemaVersion", kSchemaVersion}, {"applied", false}, {"unchanged", true},
                        {"generation", current.info.generation}, {"digest", digest}}
                       .dump(2)
                << "\n";
    else
      std::cout << "no change: generation " << current.info.generation << " (digest "
                << digest.substr(0, 12) << ") already enforces this policy\n";
    return kExitOk;
  }
  if (dry_run) {
    if (g.json())
      std::cout << json{{"schemaVersion", kSchemaVersion}, {"dryRun", true},
                        {"generation", current.info.generation},
                        {"digest", compilation.value->compiled.digest_hex},
                        {"changes", diff_json(diff)}}
                       .dump(2)
                << "\n";
    else {
      std::cout << "dry run: would apply generation " << current.info.generation + 1 << " (digest "
                << compilation.value->compiled.digest_hex.substr(0, 12) << ")"
                << (diff.empty() ? ", no changes" : ":") << "\n";
      print_diff(diff);
    }
    return kExitOk;
  }
  auto outcome = apply_compiled(maps, current, policy, std::move(compilation.value->compiled));
  if (!outcome) return report(outcome.error());
  if (g.json()) {
    std::cout << json{{"schemaVersion", kSchemaVersion},   {"applied", true},
                      {"generation", outcome->new_generation}, {"previousGeneration", outcome->old_generation},
                      {"slot", outcome->slot},             {"digest", outcome->new_digest},
                      {"changes", diff_json(diff)},        {"diagnostics", diagnostics_json(diagnostics)}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "applied generation " << outcome->new_generation << " (slot " << outcome->slot
              << ", digest " << outcome->new_digest.substr(0, 12) << ")"
              << (diff.empty() ? ", no changes" : ":") << "\n";
    print_diff(diff);
  }
  return kExitOk;
}

// Lock, open maps and read the kernel's policy: the start of every change.
struct Session {
  std::optional<PinDirLock> lock;
  std::optional<PinnedMaps> maps;
  KernelPolicy current;
};

Result<Session> begin_change(const Globals& g) {
  Session s;
  if (auto r = check_privileges_and_bpffs(g.pin_dir); !r) return std::unexpected(r.error());
  auto lock = PinDirLock::acquire(g.pin_dir);
  if (!lock) return std::unexpected(lock.error());
  s.lock.emplace(std::move(*lock));
  auto maps = PinnedMaps::open(g.pin_dir);
  if (!maps) return std::unexpected(maps.error());
  s.maps.emplace(std::move(*maps));
  auto current = read_kernel_policy(*s.maps);
  if (!current) return std::unexpected(current.error());
  s.current = std::move(*current);
  return s;
}

int cmd_apply(const Globals& g, const std::string& file, const LimitOptions& limits, bool dry_run,
              bool force) {
  Loaded loaded = load_file(file, limits);
  if (!loaded.policy) {
    if (g.json())
      std::cout << json{{"schemaVersion", kSchemaVersion}, {"applied", false},
                        {"diagnostics", diagnostics_json(loaded.diagnostics)}}
                       .dump(2)
                << "\n";
    else {
      print_diagnostics(loaded.diagnostics);
      std::cerr << file << ": invalid; nothing was applied\n";
    }
    return kExitError;
  }
  auto session = begin_change(g);
  if (!session) return report(session.error());
  return apply_policy(g, *session->maps, session->current, *loaded.policy, dry_run,
                      loaded.diagnostics, force);
}

// diff(1) convention: 0 same, 1 different, 2 trouble.
int cmd_diff(const Globals& g, const std::string& file, const LimitOptions& limits) {
  Loaded loaded = load_file(file, limits);
  if (!loaded.policy) {
    print_diagnostics(loaded.diagnostics);
    return kExitUsage;
  }
  auto maps = open_maps(g);
  if (!maps) return report(maps.error()), kExitUsage;
  auto current = read_kernel_policy(*maps);
  if (!current) return report(current.error()), kExitUsage;
  PolicyDiff diff = diff_policies(current->policy, *loaded.policy);
  if (g.json())
    std::cout << json{{"schemaVersion", kSchemaVersion}, {"generation", current->info.generation},
                      {"changes", diff_json(diff)}}
                     .dump(2)
              << "\n";
  else if (diff.empty())
    std::cout << "no differences: generation " << current->info.generation << " already enforces "
              << file << "\n";
  else {
    std::cout << "differences between generation " << current->info.generation << " and " << file
              << ":\n";
    print_diff(diff);
  }
  return diff.empty() ? kExitOk : kExitError;
}

// Re-loads an edited document through the full validator, so imperative
// commands get exactly the checks and messages of a document.
Checked<Policy> reload(const json& document, const LimitOptions& limits = {}) {
  return load_policy(document.dump(), {}, limits.to_validate_options());
}

json& acls_of(json& document) { return document["properties"]["networkAcls"]; }

// Applies an edited document if it changes anything. Prints the outcome.
int apply_edit(const Globals& g, Session& s, const json& edited,
               const std::vector<std::pair<std::string, std::string>>& path_labels) {
  auto policy = reload(edited);
  // Errors about values the user just typed are named by the flag they came from.
  for (Diagnostic& d : policy.diagnostics)
    for (const auto& [path, label] : path_labels)
      if (d.path.starts_with(path)) d.path = label;
  if (!policy.ok()) {
    print_diagnostics(policy.diagnostics);
    std::cerr << "vaultwallctl: nothing was applied\n";
    return kExitError;
  }
  if (s.current.policy && *s.current.policy == *policy.value) {
    print_diagnostics(policy.diagnostics);
    std::cout << "no change: generation " << s.current.info.generation
              << " already has this (rules compared in canonical form)\n";
    return kExitOk;
  }
  return apply_policy(g, *s.maps, s.current, *policy.value, false, policy.diagnostics);
}

json current_document(const Session& s) {
  return json::parse(to_azure_json(current_or_default(s.current)));
}

// The full subnet id for --subnet ID or --vnet-name V --subnet S.
Result<std::string> subnet_id_from_flags(const Policy& policy, const std::string& subnet,
                                         const std::string& vnet_name) {
  if (vnet_name.empty()) {
    if (!subnet.starts_with("/"))
      return fail(EINVAL, "--subnet " + subnet + " is not a full subnet resource id",
                  "give the full id, or the subnet name with --vnet-name");
    return subnet;
  }
  std::string wanted = "/virtualnetworks/" + vnet_name;
  std::transform(wanted.begin(), wanted.end(), wanted.begin(), ::tolower);
  for (const VirtualNetwork& vnet : policy.host.virtual_networks)
    if (vnet.id.ends_with(wanted)) return vnet.id + "/subnets/" + subnet;
  return fail(EINVAL, "--vnet-name " + vnet_name + " is not a virtual network of the vaultwall section",
              "describe it under vaultwall.virtualNetworks and apply that document first");
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  return text;
}

// Canonical identity of an --ip-address value, or the text itself if it
// does not parse (the validator will then say why).
std::string ip_identity(const std::string& text) {
  auto prefix = parse_ipv4_prefix(text);
  return prefix ? prefix->network().canonical() : text;
}

int cmd_rule_add(const Globals& g, const std::vector<std::string>& ips, const std::string& subnet,
                 const std::string& vnet_name) {
  auto s = begin_change(g);
  if (!s) return report(s.error());
  json document = current_document(*s);
  json& acls = acls_of(document);
  std::vector<std::pair<std::string, std::string>> labels;
  for (const std::string& ip : ips) {
    size_t index = acls["ipRules"].size();
    acls["ipRules"].push_back({{"value", ip}});
    labels.emplace_back("properties.networkAcls.ipRules[" + std::to_string(index) + "]",
                        "--ip-address " + ip);
  }
  if (!subnet.empty()) {
    auto id = subnet_id_from_flags(current_or_default(s->current), subnet, vnet_name);
    if (!id) return report(id.error());
    size_t index = acls["virtualNetworkRules"].size();
    acls["virtualNetworkRules"].push_back({{"id", *id}, {"ignoreMissingVnetServiceEndpoint", false}});
    labels.emplace_back("properties.networkAcls.virtualNetworkRules[" + std::to_string(index) + "]",
                        "--subnet " + *id);
  }
  return apply_edit(g, *s, document, labels);
}

int cmd_rule_remove(const Globals& g, const std::vector<std::string>& ips,
                    const std::string& subnet, const std::string& vnet_name) {
  auto s = begin_change(g);
  if (!s) return report(s.error());
  json document = current_document(*s);
  json& acls = acls_of(document);
  auto erase_if = [](json& list, auto matches) {
    json kept = json::array();
    for (const json& item : list)
      if (!matches(item)) kept.push_back(item);
    bool removed = kept.size() != list.size();
    list = kept;
    return removed;
  };
  for (const std::string& ip : ips) {
    std::string identity = ip_identity(ip);
    bool removed = erase_if(acls["ipRules"], [&](const json& rule) {
      return ip_identity(rule.value("value", "")) == identity;
    });
    if (!removed) std::cout << "IP rule " << identity << " is not present\n";
  }
  if (!subnet.empty()) {
    auto id = subnet_id_from_flags(current_or_default(s->current), subnet, vnet_name);
    if (!id) return report(id.error());
    bool removed = erase_if(acls["virtualNetworkRules"], [&](const json& rule) {
      return lower(rule.value("id", "")) == lower(*id);
    });
    if (!removed) std::cout << "virtual-network rule " << lower(*id) << " is not present\n";
  }
  return apply_edit(g, *s, document, {});
}

int cmd_rule_list(const Globals& g) {
  auto maps = open_maps(g);
  if (!maps) return report(maps.error());
  auto current = read_kernel_policy(*maps);
  if (!current) return report(current.error());
  Policy policy = current_or_default(*current);
  if (g.json()) {
    json doc = json::parse(to_azure_json(policy));
    std::cout << json{{"schemaVersion", kSchemaVersion},
                      {"ipRules", doc["properties"]["networkAcls"]["ipRules"]},
                      {"virtualNetworkRules", doc["properties"]["networkAcls"]["virtualNetworkRules"]}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::printf("%-6s %-5s %s\n", "ID", "KIND", "RULE");
  for (const IpRule& rule : policy.ip_rules) {
    auto id = current->rule_ids.find(rule.canonical());
    std::printf("%-6s %-5s %s\n", id == current->rule_ids.end() ? "-" : std::to_string(id->second).c_str(),
                "ip", rule.canonical().c_str());
  }
  for (const VnetRule& rule : policy.vnet_rules) {
    auto id = current->rule_ids.find(rule.subnet_id);
    std::printf("%-6s %-5s %s%s\n", id == current->rule_ids.end() ? "-" : std::to_string(id->second).c_str(),
                "vnet", rule.subnet_id.c_str(), rule.active ? "" : " (inactive: no Microsoft.KeyVault endpoint)");
  }
  return kExitOk;
}

struct UpdateFlags {
  std::string default_action, bypass, public_network_access, mode;
};

int cmd_update(const Globals& g, const UpdateFlags& flags) {
  auto s = begin_change(g);
  if (!s) return report(s.error());
  json document = current_document(*s);
  if (!flags.default_action.empty()) acls_of(document)["defaultAction"] = flags.default_action;
  if (!flags.bypass.empty()) acls_of(document)["bypass"] = flags.bypass;
  if (!flags.public_network_access.empty())
    document["properties"]["publicNetworkAccess"] = flags.public_network_access;
  if (!flags.mode.empty()) document["vaultwall"]["mode"] = flags.mode;
  return apply_edit(g, *s, document,
                    {{"properties.networkAcls.defaultAction", "--default-action"},
                     {"properties.networkAcls.bypass", "--bypass"},
                     {"properties.publicNetworkAccess", "--public-network-access"},
                     {"vaultwall.mode", "--mode"}});
}

// ---- show / stats / explain / verify ---------------------------------------------

int cmd_show(const Globals& g) {
  auto maps = open_maps(g);
  if (!maps) return report(maps.error());
  auto current = read_kernel_policy(*maps);
  if (!current) return report(current.error());
  if (!current->applied() && !g.json()) {
    std::cerr << "no policy applied at " << g.pin_dir
              << " (firewall off: all networks allowed); apply one with vaultwallctl apply -f FILE\n";
  }
  // The document itself is the output (JSON either way, like az keyvault show).
  std::cout << to_azure_json(current_or_default(*current)) << "\n";
  return kExitOk;
}

// "app-vnet/web" for a subnet resource id (tables are narrow; JSON has it all).
std::string short_rule_text(const std::string& text) {
  auto subnets = text.rfind("/subnets/");
  auto vnets = text.rfind("/virtualnetworks/");
  if (subnets == std::string::npos || vnets == std::string::npos || vnets > subnets) return text;
  size_t vnet_start = vnets + std::strlen("/virtualnetworks/");
  return text.substr(vnet_start, subnets - vnet_start) + "/" +
         text.substr(subnets + std::strlen("/subnets/"));
}

json counters_json(const vw_counters& c) {
  return {{"packets", c.packets}, {"bytes", c.bytes},
          {"lastHit", c.last_hit_jiffies ? json(format_time(jiffies_to_unix_ns(c.last_hit_jiffies))) : json()}};
}

int cmd_stats(const Globals& g) {
  auto maps = open_maps(g);
  if (!maps) return report(maps.error());
  auto stats = read_stats(*maps);
  if (!stats) return report(stats.error());
  if (g.json()) {
    json classes = json::object(), rules = json::array(), services = json::array();
    for (uint32_t c = 0; c < stats->classes.size(); c++)
      classes[std::string(verdict_class_name(c))] = {{"packets", stats->classes[c].packets},
                                                     {"bytes", stats->classes[c].bytes}};
    for (const RuleCounters& r : stats->rules) {
      json row = {{"id", r.id}, {"kind", r.kind == VW_RULE_KIND_IP ? "ip" : "vnet"}, {"value", r.text}};
      row.update(counters_json(r.counters));
      rules.push_back(row);
    }
    for (const ServiceCounters& s : stats->services) {
      json row = {{"id", s.id}, {"service", s.name}};
      row.update(counters_json(s.counters));
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
                format_time(jiffies_to_unix_ns(r.counters.last_hit_jiffies)).c_str());
  if (!stats->services.empty()) {
    std::printf("\n%-5s %-40s %12s %14s  %s\n", "ID", "TRUSTED SERVICE", "PACKETS", "BYTES", "LAST HIT");
    for (const ServiceCounters& s : stats->services)
      std::printf("%-5u %-40s %12llu %14llu  %s\n", s.id, s.name.c_str(),
                  static_cast<unsigned long long>(s.counters.packets),
                  static_cast<unsigned long long>(s.counters.bytes),
                  format_time(jiffies_to_unix_ns(s.counters.last_hit_jiffies)).c_str());
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

template <class K, class V>
std::vector<std::string> entry_differences(const char* what,
                                           const std::vector<std::pair<K, V>>& expected,
                                           const std::vector<std::pair<K, V>>& actual) {
  auto bytes = [](const auto& pair) {
    return std::string(reinterpret_cast<const char*>(&pair), sizeof(pair));
  };
  std::set<std::string> want, have;
  for (const auto& e : expected) want.insert(bytes(e));
  for (const auto& e : actual) have.insert(bytes(e));
  std::vector<std::string> out;
  size_t missing = 0, extra = 0;
  for (const auto& w : want) missing += have.contains(w) ? 0 : 1;
  for (const auto& h : have) extra += want.contains(h) ? 0 : 1;
  if (missing) out.push_back(std::string(what) + ": " + std::to_string(missing) + " entries missing from the kernel");
  if (extra) out.push_back(std::string(what) + ": " + std::to_string(extra) + " unexpected entries in the kernel");
  return out;
}

int cmd_verify(const Globals& g) {
  auto maps = open_maps(g);
  if (!maps) return report(maps.error());
  auto current = read_kernel_policy(*maps);
  if (!current) return report(current.error());
  if (!current->applied()) {
    std::cout << "nothing applied (firewall off); nothing to verify\n";
    return kExitOk;
  }
  auto compilation = compile_against_kernel(*current->policy, *current);
  if (!compilation.ok()) {
    print_diagnostics(compilation.diagnostics);
    return kExitError;
  }
  auto kernel = read_slot(*maps, current->slot);
  if (!kernel) return report(kernel.error());
  const SlotImage& want = compilation.value->compiled.image;
  std::vector<std::string> problems;
  auto add = [&](std::vector<std::string> more) { problems.insert(problems.end(), more.begin(), more.end()); };
  add(entry_differences("rule trie", want.rules, kernel->rules));
  add(entry_differences("trusted trie", want.trusted, kernel->trusted));
  add(entry_differences("segments", want.segments, kernel->segments));
  add(entry_differences("endpoints", want.endpoints, kernel->endpoints));
  vw_settings want_settings = settings_as_written(want), have_settings = kernel->settings;
  want_settings.generation = have_settings.generation = 0;
  if (std::memcmp(&want_settings, &have_settings, sizeof(vw_settings)) != 0)
    problems.push_back("settings differ from the compiled policy");
  if (std::memcmp(want.info.digest, kernel->info.digest, VW_DIGEST_LEN) != 0)
    problems.push_back("digest differs: kernel " + to_hex(kernel->info.digest, VW_DIGEST_LEN).substr(0, 12) +
                       ", compiled " + compilation.value->compiled.digest_hex.substr(0, 12) +
                       " (the service-tags file or interfaces may have changed since the apply)");
  if (g.json()) {
    std::cout << json{{"schemaVersion", kSchemaVersion}, {"generation", current->info.generation},
                      {"inSync", problems.empty()}, {"differences", problems}}
                     .dump(2)
              << "\n";
  } else if (problems.empty()) {
    std::cout << "in sync: generation " << current->info.generation << " (slot " << current->slot
              << ") matches its compiled policy\n";
  } else {
    std::cout << "DRIFT: generation " << current->info.generation << " does not match its compiled policy:\n";
    for (const std::string& p : problems) std::cout << "  " << p << "\n";
    std::cout << "re-apply the policy (vaultwallctl show > p.json && vaultwallctl apply --force -f p.json)\n";
  }
  return problems.empty() ? kExitOk : kExitError;
}

// ---- command line ---------------------------------------------------------------

int libbpf_quiet(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  return std::vfprintf(stderr, format, args);
}

int run(int argc, char** argv) {
  CLI::App app{"vaultwallctl: apply Azure Key Vault networkAcls documents to the vaultwall XDP "
               "firewall and read back what it did.\nExit codes: 0 ok, 1 error, 2 usage "
               "(diff: 0 same, 1 different, 2 trouble)."};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--pin-dir", g.pin_dir, "where vaultwall's maps are pinned")->capture_default_str();
  auto add_output = [&](CLI::App* cmd) {
    cmd->add_option("-o,--output", g.output, "table or json")->check(CLI::IsMember({"table", "json"}));
  };

  std::string file;
  LimitOptions limits;
  bool dry_run = false;
  auto* validate = app.add_subcommand("validate", "check a rule document (no kernel, no root needed)");
  validate->add_option("-f,--file", file, "rule document (JSON)")->required();
  add_limit_options(validate, limits);
  add_output(validate);

  auto* apply = app.add_subcommand("apply", "validate, compile and apply a rule document atomically");
  apply->add_option("-f,--file", file, "rule document (JSON)")->required();
  apply->add_flag("--dry-run", dry_run, "show what would change, change nothing");
  bool force = false;
  apply->add_flag("--force", force,
                  "rewrite the maps even when the policy is unchanged (repairs drift)");
  add_limit_options(apply, limits);
  add_output(apply);

  auto* diff = app.add_subcommand("diff", "compare a rule document with the applied policy");
  diff->add_option("-f,--file", file, "rule document (JSON)")->required();
  add_limit_options(diff, limits);
  add_output(diff);

  auto* show = app.add_subcommand("show", "print the applied policy as a normalised Azure document");
  add_output(show);

  auto* rule = app.add_subcommand("network-rule", "add, remove or list rules (az keyvault network-rule)");
  rule->require_subcommand(1);
  std::vector<std::string> ips;
  std::string subnet, vnet_name;
  auto add_rule_flags = [&](CLI::App* cmd) {
    cmd->add_option("--ip-address", ips, "IPv4 address or CIDR range (several allowed)");
    cmd->add_option("--subnet", subnet, "subnet resource id, or subnet name with --vnet-name");
    cmd->add_option("--vnet-name", vnet_name, "virtual network name (with --subnet NAME)");
  };
  auto* rule_add = rule->add_subcommand("add", "add rules (idempotent)");
  add_rule_flags(rule_add);
  auto* rule_remove = rule->add_subcommand("remove", "remove rules (idempotent)");
  add_rule_flags(rule_remove);
  auto* rule_list = rule->add_subcommand("list", "list the applied rules");
  add_output(rule_list);

  UpdateFlags update_flags;
  auto* update = app.add_subcommand("update", "change settings (az keyvault update)");
  update->add_option("--default-action", update_flags.default_action, "Allow or Deny");
  update->add_option("--bypass", update_flags.bypass, "AzureServices or None");
  update->add_option("--public-network-access", update_flags.public_network_access, "Enabled or Disabled");
  update->add_option("--mode", update_flags.mode, "enforce or audit");

  auto* stats = app.add_subcommand("stats", "counters per verdict class, rule and trusted service");
  add_output(stats);

  ExplainFlags explain_flags;
  auto* explain = app.add_subcommand("explain", "which verdict a source gets, and why");
  explain->add_option("source", explain_flags.source, "source IPv4 address")->required();
  explain->add_option("--interface", explain_flags.interface, "ingress interface");
  explain->add_option("--vlan", explain_flags.vlan, "VLAN ID (0: untagged)");
  explain->add_option("--port", explain_flags.port, "destination port")->capture_default_str();
  explain->add_option("--proto", explain_flags.proto, "tcp or udp")->check(CLI::IsMember({"tcp", "udp"}));
  explain->add_option("--destination", explain_flags.destination, "destination IPv4 address");
  add_output(explain);

  auto* verify = app.add_subcommand("verify", "check that the kernel's maps equal the compiled policy");
  add_output(verify);

  try {
    app.parse(argc, argv);
    if ((rule_add->parsed() || rule_remove->parsed()) && ips.empty() && subnet.empty())
      throw CLI::ValidationError("network-rule", "give --ip-address and/or --subnet");
    if (update->parsed() && update_flags.default_action.empty() && update_flags.bypass.empty() &&
        update_flags.public_network_access.empty() && update_flags.mode.empty())
      throw CLI::ValidationError("update", "give at least one setting to change");
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  libbpf_set_print(libbpf_quiet);

  if (validate->parsed()) return cmd_validate(g, file, limits);
  if (apply->parsed()) return cmd_apply(g, file, limits, dry_run, force);
  if (diff->parsed()) return cmd_diff(g, file, limits);
  if (show->parsed()) return cmd_show(g);
  if (rule_add->parsed()) return cmd_rule_add(g, ips, subnet, vnet_name);
  if (rule_remove->parsed()) return cmd_rule_remove(g, ips, subnet, vnet_name);
  if (rule_list->parsed()) return cmd_rule_list(g);
  if (update->parsed()) return cmd_update(g, update_flags);
  if (stats->parsed()) return cmd_stats(g);
  if (explain->parsed()) return cmd_explain(g, explain_flags);
  if (verify->parsed()) return cmd_verify(g);
  return kExitUsage;
}

}  // namespace
}  // namespace vaultwall

int main(int argc, char** argv) { return vaultwall::run(argc, argv); }
