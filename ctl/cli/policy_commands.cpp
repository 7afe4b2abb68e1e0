// vaultwallctl commands that change or compare policy: validate, apply,
// diff, show, network-rule, update.
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
#include "vaultwall/host_facts.h"
#include "vaultwall/host_network.h"
#include "vaultwall/lock.h"
#include "vaultwall/program.h"
#include "vaultwall/service_tags.h"
#include "vaultwall/sha256.h"
#include "vaultwall/text.h"
#include "vaultwall/validate.h"

namespace vaultwall::cli {
namespace {

// ---- journal hooks (the entry is g.change; see run_journaled) -----------------

std::string errors_text(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const Diagnostic& d : diagnostics)
    if (d.is_error()) text += (text.empty() ? "" : "; ") + d.text();
  return text.empty() ? "invalid document" : text;
}

int report_change(const Globals& g, const Error& error) {
  journal_failure(g, error.message());
  return report(error);
}

PolicyVersion version_of(const KernelPolicy& policy) {
  return {policy.info.generation,
          policy.applied() ? to_hex(policy.info.digest, VW_DIGEST_LEN) : std::string()};
}

void journal_change(const Globals& g, const KernelPolicy& current, const PolicyVersion& to,
                    const PolicyDiff* diff) {
  if (!g.change) return;
  g.change->from = version_of(current);
  g.change->to = to;
  if (!diff) return;
  g.change->rules_added = diff->rules_added;
  g.change->rules_removed = diff->rules_removed;
  g.change->settings_changed = diff->settings_and_host_changes();
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
  cmd->add_option("--profile", limits.profile,
                  "validation profile (overrides the document's; default akv-current)")
      ->check(CLI::IsMember({"akv-current", "akv-2018"}, CLI::ignore_case));
  cmd->add_option("--max-ip-rules", limits.max_ip_rules, "raise or lower the IP rule limit");
  cmd->add_option("--max-vnet-rules", limits.max_vnet_rules, "raise or lower the VNET rule limit");
}

// What the commands that compile a document take besides it: the host
// facts (--host) and which vault of a list, template or Terraform state
// (--vault); validate also --policy-only.
struct DocumentFlags {
  std::string host;   // empty: $VAULTWALL_HOST_FACTS, or the default file when it exists
  std::string vault;  // empty: the document is one vault
  bool policy_only = false;
};

void add_document_options(CLI::App* cmd, DocumentFlags& flags) {
  cmd->add_option("--host", flags.host,
                  std::string("host facts: this host's virtual networks, segments, addresses "
                              "(default $") +
                      kHostFactsEnv + ", or " + kHostFactsDefaultPath + " when it exists)");
  cmd->add_option("--vault", flags.vault,
                  "the vault to read from a list of vaults, an ARM template or Terraform state");
}

// Loads and validates a file and resolves its trusted services. Prints
// diagnostics (unless json output) and returns the policy or nullopt.
struct Loaded {
  std::optional<Policy> policy;
  std::vector<Diagnostic> diagnostics;
  std::string policy_digest;  // the shared policy digest, once the trusted set is known
};

Loaded load_file(const std::string& file, const LimitOptions& limits,
                 const DocumentFlags& flags) {
  Loaded out;
  ValidateOptions validate = limits.to_validate_options();
  validate.policy_only = flags.policy_only;
  auto loaded = load_policy_file(file, validate,
                                 flags.vault.empty() ? std::nullopt : std::optional(flags.vault),
                                 host_facts_source(flags.host));
  out.diagnostics = loaded.diagnostics;
  if (!loaded.ok() || flags.policy_only) {  // the Azure side needs no file of this host
    out.policy = std::move(loaded.value);
    return out;
  }
  auto trusted = resolve_trusted_services(*loaded.value);
  out.diagnostics.insert(out.diagnostics.end(), trusted.diagnostics.begin(),
                         trusted.diagnostics.end());
  auto storage = storage_diagnostics(*loaded.value);
  out.diagnostics.insert(out.diagnostics.end(), storage.begin(), storage.end());
  if (!trusted.ok() || !storage.empty()) return out;
  out.policy_digest = shared_policy_digest_hex(*loaded.value, *trusted.value);
  out.policy = std::move(loaded.value);
  return out;
}

// --strict-interfaces on validate: every segment interface must be one
// vaultwall filters (resolved through its links under the pin dir).
void check_segment_interfaces(const Globals& g, Loaded& loaded) {
  auto maps = open_maps(g);
  auto current = maps ? read_kernel_policy(*maps) : Result<KernelPolicy>(std::unexpected(maps.error()));
  if (!current) {
    loaded.diagnostics.push_back({Severity::kError, "vaultwall.virtualNetworks",
                                  "cannot check the segment interfaces (--strict-interfaces): " +
                                      current.error().message()});
    loaded.policy.reset();
    return;
  }
  auto compilation = compile_against_kernel(*loaded.policy, *current, {.strict = true});
  for (const Diagnostic& d : compilation.diagnostics)
    if (d.is_error()) loaded.diagnostics.push_back(d);
  if (!compilation.ok()) loaded.policy.reset();
}

int cmd_validate(const Globals& g, const std::string& file, const LimitOptions& limits,
                 const DocumentFlags& flags, bool strict_interfaces) {
  Loaded loaded = load_file(file, limits, flags);
  if (loaded.policy && strict_interfaces && !flags.policy_only) check_segment_interfaces(g, loaded);
  if (loaded.policy && !flags.policy_only)
    if (auto host = read_host_network()) {
      auto warnings = host_diagnostics(*loaded.policy, *host);
      loaded.diagnostics.insert(loaded.diagnostics.end(), warnings.begin(), warnings.end());
    }
  if (g.json()) {
    json out = {{"schemaVersion", kSchemaVersion}, {"file", file},
                {"valid", loaded.policy.has_value()}, {"policyOnly", flags.policy_only}};
    if (!loaded.policy_digest.empty()) out["policyDigest"] = loaded.policy_digest;
    out["diagnostics"] = diagnostics_json(loaded.diagnostics);
    std::cout << out.dump(2) << "\n";
  } else {
    print_diagnostics(loaded.diagnostics);
    if (loaded.policy)
      std::cout << printable(file) << (flags.policy_only ? ": valid on the Azure side (" : ": valid (")
                << loaded.policy->ip_rules.size() << " IP rules, "
                << loaded.policy->vnet_rules.size() << " virtual-network rules, profile "
                << to_string(loaded.policy->host.profile)
                << (loaded.policy_digest.empty() ? "" : ", policy digest " + loaded.policy_digest.substr(0, 12))
                << ")\n";
    else
      std::cerr << printable(file) << ": invalid; nothing was applied\n";
  }
  return loaded.policy ? kExitOk : kExitError;
}

// ---- apply / diff / read-modify-apply --------------------------------------------

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
                 bool force = false, bool strict_interfaces = false) {
  auto compilation = compile_against_kernel(policy, current, {.strict = strict_interfaces});
  diagnostics.insert(diagnostics.end(), compilation.diagnostics.begin(),
                     compilation.diagnostics.end());
  auto storage = storage_diagnostics(policy);  // imperative edits can outgrow the slot too
  diagnostics.insert(diagnostics.end(), storage.begin(), storage.end());
  diagnostics = unique(std::move(diagnostics));
  if (!g.json()) print_diagnostics(diagnostics);
  if (!compilation.ok() || !storage.empty()) {
    journal_failure(g, "does not compile: " + errors_text(diagnostics));
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
  if (unchanged) {  // the same document, but its segments may bind differently now
    auto same_segments = segments_match(maps, current, compilation.value->compiled);
    if (!same_segments) return report_change(g, same_segments.error());
    unchanged = *same_segments;
  }
  const std::string& policy_digest = compilation.value->compiled.policy_digest_hex;
  if (unchanged && !force) {
    journal_change(g, current, version_of(current), nullptr);
    if (g.json())
      std::cout << json{{"schemaVersion", kSchemaVersion}, {"applied", false}, {"unchanged", true},
                        {"generation", current.info.generation}, {"digest", digest},
                        {"policyDigest", policy_digest}}
                       .dump(2)
                << "\n";
    else
      std::cout << "no change: generation " << current.info.generation << " (digest "
                << digest.substr(0, 12) << ", policy digest " << policy_digest.substr(0, 12)
                << ") already enforces this policy\n";
    return kExitOk;
  }
  if (dry_run) {
    if (g.json())
      std::cout << json{{"schemaVersion", kSchemaVersion}, {"dryRun", true},
                        {"generation", current.info.generation},
                        {"digest", compilation.value->compiled.digest_hex},
                        {"policyDigest", policy_digest},
                        {"changes", diff_json(diff)}}
                       .dump(2)
                << "\n";
    else {
      std::cout << "dry run: would apply generation " << current.info.generation + 1 << " (digest "
                << compilation.value->compiled.digest_hex.substr(0, 12) << ", policy digest "
                << policy_digest.substr(0, 12) << ")"
                << (diff.empty() ? ", no changes" : ":") << "\n";
      print_diff(diff);
    }
    return kExitOk;
  }
  auto outcome = apply_compiled(maps, current, policy, std::move(compilation.value->compiled));
  if (!outcome) return report_change(g, outcome.error());
  journal_change(g, current, {outcome->new_generation, outcome->new_digest}, &diff);
  if (g.json()) {
    std::cout << json{{"schemaVersion", kSchemaVersion},   {"applied", true},
                      {"generation", outcome->new_generation}, {"previousGeneration", outcome->old_generation},
                      {"slot", outcome->slot},             {"digest", outcome->new_digest},
                      {"policyDigest", outcome->new_policy_digest},
                      {"changes", diff_json(diff)},        {"diagnostics", diagnostics_json(diagnostics)}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "applied generation " << outcome->new_generation << " (slot " << outcome->slot
              << ", digest " << outcome->new_digest.substr(0, 12) << ", policy digest "
              << outcome->new_policy_digest.substr(0, 12) << ")"
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

Result<Session> begin_change(const Globals& g, StoredDocument stored = StoredDocument::kMustLoad) {
  Session s;
  if (auto r = check_privileges_and_bpffs(g.pin_dir); !r) return std::unexpected(r.error());
  auto lock = PinDirLock::acquire(g.pin_dir);
  if (!lock) return std::unexpected(lock.error());
  s.lock.emplace(std::move(*lock));
  auto maps = PinnedMaps::open(g.pin_dir);
  if (!maps) return std::unexpected(maps.error());
  s.maps.emplace(std::move(*maps));
  auto current = read_kernel_policy(*s.maps, stored);
  if (!current) return std::unexpected(current.error());
  s.current = std::move(*current);
  return s;
}

int cmd_apply(const Globals& g, const std::string& file, const LimitOptions& limits,
              const DocumentFlags& flags, bool dry_run, bool force, bool strict_interfaces) {
  Loaded loaded = load_file(file, limits, flags);
  if (!loaded.policy) {
    journal_failure(g, file + " is invalid: " + errors_text(loaded.diagnostics));
    if (g.json())
      std::cout << json{{"schemaVersion", kSchemaVersion}, {"applied", false},
                        {"diagnostics", diagnostics_json(loaded.diagnostics)}}
                       .dump(2)
                << "\n";
    else {
      print_diagnostics(loaded.diagnostics);
      std::cerr << printable(file) << ": invalid; nothing was applied\n";
    }
    return kExitError;
  }
  // A whole document needs nothing from the stored one (ids come from
  // vw_rule_info): it replaces a stored document that no longer loads.
  auto session = begin_change(g, StoredDocument::kMayBeDamaged);
  if (!session) return report_change(g, session.error());
  if (const auto& damaged = session->current.document_error)
    warn(damaged->context + "; " + file + " replaces it");
  return apply_policy(g, *session->maps, session->current, *loaded.policy, dry_run,
                      loaded.diagnostics, force, strict_interfaces);
}

// diff(1) convention: 0 same, 1 different, 2 trouble.
int cmd_diff(const Globals& g, const std::string& file, const LimitOptions& limits,
             const DocumentFlags& flags) {
  Loaded loaded = load_file(file, limits, flags);
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
              << printable(file) << "\n";
  else {
    std::cout << "differences between generation " << current->info.generation << " and "
              << printable(file) << ":\n";
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
    journal_failure(g, errors_text(policy.diagnostics));
    print_diagnostics(policy.diagnostics);
    std::cerr << "vaultwallctl: nothing was applied\n";
    return kExitError;
  }
  if (s.current.policy && *s.current.policy == *policy.value) {
    journal_change(g, s.current, version_of(s.current), nullptr);
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
  if (!s) return report_change(g, s.error());
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
    if (!id) return report_change(g, id.error());
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
  if (!s) return report_change(g, s.error());
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
    if (!removed) std::cout << "IP rule " << printable(identity) << " is not present\n";
  }
  if (!subnet.empty()) {
    auto id = subnet_id_from_flags(current_or_default(s->current), subnet, vnet_name);
    if (!id) return report_change(g, id.error());
    bool removed = erase_if(acls["virtualNetworkRules"], [&](const json& rule) {
      return lower(rule.value("id", "")) == lower(*id);
    });
    if (!removed)
      std::cout << "virtual-network rule " << printable(lower(*id)) << " is not present\n";
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
    std::printf("%-6s %-5s %s\n",
                id == current->rule_ids.end() ? "-" : std::to_string(id->second).c_str(), "ip",
                printable(rule.canonical()).c_str());
  }
  for (const VnetRule& rule : policy.vnet_rules) {
    auto id = current->rule_ids.find(rule.subnet_id);
    std::printf("%-6s %-5s %s%s\n",
                id == current->rule_ids.end() ? "-" : std::to_string(id->second).c_str(), "vnet",
                printable(rule.subnet_id).c_str(),
                rule.active ? "" : " (inactive: no Microsoft.KeyVault endpoint)");
  }
  return kExitOk;
}

struct UpdateFlags {
  std::string default_action, bypass, public_network_access, mode;
};

int cmd_update(const Globals& g, const UpdateFlags& flags) {
  auto s = begin_change(g);
  if (!s) return report_change(g, s.error());
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
  // The document itself is the output (JSON either way, like az keyvault
  // show). schemaVersion and the digests sit at the top, where a vault
  // resource's other fields are ignored, so the output applies again as is.
  json document = json::parse(to_azure_json(current_or_default(*current)));
  json out = {{"schemaVersion", kSchemaVersion}};
  if (current->applied()) {
    out["compiledDigest"] = to_hex(current->info.digest, VW_DIGEST_LEN);
    out["policyDigest"] = to_hex(current->info.policy_digest, VW_DIGEST_LEN);
  }
  out.update(document);
  std::cout << out.dump(2) << "\n";
  return kExitOk;
}

}  // namespace

void add_policy_commands(CLI::App& app, Globals& g, Commands& commands) {
  struct Options {
    std::string file;
    LimitOptions limits;
    DocumentFlags document;
    bool dry_run = false;
    bool force = false;
    bool strict_interfaces = false;
    std::vector<std::string> ips;
    std::string subnet, vnet_name;
    UpdateFlags update;
  };
  auto o = std::make_shared<Options>();

  auto* validate = app.add_subcommand("validate", "check a rule document (no kernel, no root needed)");
  validate->add_option("-f,--file", o->file, "rule document (JSON)")->required();
  add_limit_options(validate, o->limits);
  add_document_options(validate, o->document);
  validate->add_flag("--policy-only", o->document.policy_only,
                     "check the Azure side only (networkAcls, publicNetworkAccess, the vaultwall "
                     "policy section), as Azure would: no host facts, no Service Tags file");
  auto strict_flag = [o](CLI::App* command) {
    command->add_flag("--strict-interfaces", o->strict_interfaces,
                      "refuse a segment whose interface vaultwall does not filter (default: it "
                      "matches nothing, with a warning; validate then needs the pins)");
  };
  strict_flag(validate);
  add_output_option(commands, validate);
  commands.add(validate, [&g, o] {
    return cmd_validate(g, o->file, o->limits, o->document, o->strict_interfaces);
  });

  auto* apply = app.add_subcommand("apply", "validate, compile and apply a rule document atomically");
  apply->add_option("-f,--file", o->file, "rule document (JSON)")->required();
  apply->add_flag("--dry-run", o->dry_run, "show what would change, change nothing");
  apply->add_flag("--force", o->force,
                  "rewrite the maps even when the policy is unchanged (repairs drift)");
  add_limit_options(apply, o->limits);
  add_document_options(apply, o->document);
  strict_flag(apply);
  add_output_option(commands, apply);
  commands.add(apply, [&g, o] {
    auto run = [&] {
      return cmd_apply(g, o->file, o->limits, o->document, o->dry_run, o->force,
                       o->strict_interfaces);
    };
    return o->dry_run ? run() : run_journaled(g, "apply", run);  // a dry run changes nothing
  });

  auto* diff = app.add_subcommand("diff", "compare a rule document with the applied policy "
                                          "(exit 0 same, 1 different, 2 trouble)");
  diff->add_option("-f,--file", o->file, "rule document (JSON)")->required();
  add_limit_options(diff, o->limits);
  add_document_options(diff, o->document);
  add_output_option(commands, diff);
  commands.add(diff, [&g, o] { return cmd_diff(g, o->file, o->limits, o->document); });

  auto* show = app.add_subcommand(
      "show", "print the applied policy as a normalised Azure document (JSON; apply it again as is)");
  add_output_option(commands, show);
  commands.add(show, [&g] { return cmd_show(g); });

  auto* rule = app.add_subcommand("network-rule", "add, remove or list rules (az keyvault network-rule)");
  rule->require_subcommand(1);
  auto add_rule_flags = [o](CLI::App* cmd) {
    cmd->add_option("--ip-address", o->ips, "IPv4 address or CIDR range (several allowed)");
    cmd->add_option("--subnet", o->subnet, "subnet resource id, or subnet name with --vnet-name");
    cmd->add_option("--vnet-name", o->vnet_name, "virtual network name (with --subnet NAME)");
  };
  auto* rule_add = rule->add_subcommand("add", "add rules (idempotent: existing rules are kept once)");
  add_rule_flags(rule_add);
  commands.add(rule_add, [&g, o] {
    return run_journaled(g, "network-rule add",
                         [&] { return cmd_rule_add(g, o->ips, o->subnet, o->vnet_name); });
  });
  auto* rule_remove = rule->add_subcommand("remove", "remove rules (idempotent)");
  add_rule_flags(rule_remove);
  commands.add(rule_remove, [&g, o] {
    return run_journaled(g, "network-rule remove",
                         [&] { return cmd_rule_remove(g, o->ips, o->subnet, o->vnet_name); });
  });
  auto* rule_list = rule->add_subcommand("list", "list the applied rules with their ids");
  add_output_option(commands, rule_list);
  commands.add(rule_list, [&g] { return cmd_rule_list(g); });
  commands.checks.push_back([o, rule_add, rule_remove] {
    if ((rule_add->parsed() || rule_remove->parsed()) && o->ips.empty() && o->subnet.empty())
      throw CLI::ValidationError("network-rule", "give --ip-address and/or --subnet");
  });

  auto* update = app.add_subcommand(
      "update", "change settings of the applied policy at once (az keyvault update)");
  update->add_option("--default-action", o->update.default_action, "Allow or Deny")
      ->check(CLI::IsMember({"Allow", "Deny"}, CLI::ignore_case));
  update->add_option("--bypass", o->update.bypass, "AzureServices or None")
      ->check(CLI::IsMember({"AzureServices", "None"}, CLI::ignore_case));
  update->add_option("--public-network-access", o->update.public_network_access,
                     "Enabled or Disabled")
      ->check(CLI::IsMember({"Enabled", "Disabled"}, CLI::ignore_case));
  update->add_option("--mode", o->update.mode, "enforce or audit")
      ->check(CLI::IsMember({"enforce", "audit"}, CLI::ignore_case));
  commands.add(update, [&g, o] { return run_journaled(g, "update", [&] { return cmd_update(g, o->update); }); });
  commands.checks.push_back([o, update] {
    const UpdateFlags& u = o->update;
    if (update->parsed() && u.default_action.empty() && u.bypass.empty() &&
        u.public_network_access.empty() && u.mode.empty())
      throw CLI::ValidationError("update", "give at least one setting to change");
  });
}

}  // namespace vaultwall::cli
