// vaultwallctl commands that change or compare policy: validate, apply,
// diff, show, network-rule, update.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>

#include "cli/common.h"
#include "vaultwall/apply/apply.h"
#include "vaultwall/common/lock.h"
#include "vaultwall/common/text.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/policy/host_facts.h"
#include "vaultwall/policy/host_network.h"
#include "vaultwall/policy/service_tags.h"
#include "vaultwall/policy/validate.h"

namespace vaultwall::cli {
namespace {

// ---- loading a document ----------------------------------------------------------

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
                  "validation profile (overrides the document's; default akv-current; dualstack "
                  "also takes IPv6 IP rules)")
      ->check(CLI::IsMember({"akv-current", "akv-2018", "dualstack"}, CLI::ignore_case));
  cmd->add_option("--max-ip-rules", limits.max_ip_rules, "raise or lower the IP rule limit");
  cmd->add_option("--max-vnet-rules", limits.max_vnet_rules, "raise or lower the VNET rule limit");
}

// -n/--name and -g/--resource-group, as az keyvault takes them: the vault
// the operator means, checked against the vault id of the document or of
// the stored policy, so a document of another vault is not applied here.
struct VaultIdentity {
  std::string name, resource_group;
  bool given() const { return !name.empty() || !resource_group.empty(); }
};

void add_vault_identity_options(CLI::App* cmd, VaultIdentity& identity) {
  cmd->add_option("-n,--name", identity.name,
                  "the vault's name: refused unless the document's (or the applied policy's) "
                  "vault id names it");
  cmd->add_option("-g,--resource-group", identity.resource_group,
                  "the vault's resource group, checked the same way (in any case, as Azure "
                  "compares it)");
}

// Checks -n/-g against `id`, the vault id of `what`. Names and groups
// compare in any case (Azure's resource names are case-insensitive).
// Returns a warning when there is nothing to check against.
Result<std::string> check_vault_identity(const VaultIdentity& identity, const std::string& id,
                                         const std::string& what) {
  if (!identity.given()) return std::string();
  auto vault = vault_name_and_group(id);
  if (!vault)
    return what + " has no Key Vault id" + (id.empty() ? "" : " (its id is " + id + ")") +
           ": -n/-g are not checked";
  auto mismatch = [&](const char* option, const std::string& given, const std::string& actual) {
    return std::unexpected(Error{
        0,
        std::string(option) + " " + given + " does not match " + what + ", vault " + id + " (" +
            (std::string(option) == "--name" ? "name " : "resource group ") + actual +
            "); nothing was changed",
        "give the -n/-g of the vault it is for, or the document of the vault you mean"});
  };
  if (!identity.name.empty() && !equals_ignore_case(identity.name, vault->first))
    return mismatch("--name", identity.name, vault->first);
  if (!identity.resource_group.empty() &&
      !equals_ignore_case(identity.resource_group, vault->second))
    return mismatch("--resource-group", identity.resource_group, vault->second);
  return std::string();
}

// What the commands that compile a document take besides it: the host
// facts (--host) and which vault of a list, template or Terraform state
// (--vault); validate also --policy-only.
struct DocumentFlags {
  std::string host;   // empty: $VAULTWALL_HOST_FACTS, or the default file when it exists
  std::string vault;  // empty: the document is one vault
  bool policy_only = false;
  VaultIdentity identity;  // -n/-g
};

void add_document_options(CLI::App* cmd, DocumentFlags& flags) {
  cmd->add_option("--host", flags.host,
                  std::string("host facts: this host's virtual networks, segments, addresses "
                              "(default $") +
                      kHostFactsEnv + ", or " + kHostFactsDefaultPath + " when it exists)");
  cmd->add_option("--vault", flags.vault,
                  "the vault to read from a list of vaults, an ARM template or Terraform state");
  add_vault_identity_options(cmd, flags.identity);
}

// A file loaded, validated and with its trusted services resolved (once:
// the apply compiles against this set).
struct Loaded {
  std::optional<Policy> policy;
  std::optional<TrustedSet> trusted;
  std::vector<Diagnostic> diagnostics;
  std::string policy_digest;  // the shared policy digest, once the trusted set is known
  InputFile input;            // the file read: absolute path and SHA-256 (empty: not read)
};

// -n/-g against the document's vault id: a mismatch is an error of the
// document (path "id"), so every command refuses it as it refuses any.
void check_document_vault(const std::string& file, const VaultIdentity& identity, Loaded& out) {
  auto checked = check_vault_identity(identity, out.policy->resource_id, file);
  if (!checked) {
    out.diagnostics.push_back({Severity::kError, "id", checked.error().message()});
    out.policy.reset();
    out.policy_digest.clear();
  } else if (!checked->empty()) {
    out.diagnostics.push_back({Severity::kWarning, "id", *checked});
  }
}

Loaded load_file(const std::string& file, const LimitOptions& limits,
                 const DocumentFlags& flags) {
  Loaded out;
  ValidateOptions validate = limits.to_validate_options();
  validate.policy_only = flags.policy_only;
  auto loaded = load_policy_file(file, validate,
                                 flags.vault.empty() ? std::nullopt : std::optional(flags.vault),
                                 host_facts_source(flags.host), &out.input);
  out.diagnostics = loaded.diagnostics;
  if (!loaded.ok() || flags.policy_only) {  // the Azure side needs no file of this host
    out.policy = std::move(loaded.value);
    if (out.policy) check_document_vault(file, flags.identity, out);
    return out;
  }
  auto trusted = resolve_trusted_services(*loaded.value);
  out.diagnostics.insert(out.diagnostics.end(), trusted.diagnostics.begin(),
                         trusted.diagnostics.end());
  auto storage = storage_diagnostics(*loaded.value);
  out.diagnostics.insert(out.diagnostics.end(), storage.begin(), storage.end());
  if (trusted.ok() && storage.empty()) {
    out.policy_digest = shared_policy_digest_hex(*loaded.value, *trusted.value);
    out.policy = std::move(loaded.value);
    out.trusted = std::move(trusted.value);
    check_document_vault(file, flags.identity, out);
  }
  return out;
}

// The failure of a document that did not load: its diagnostics tell why.
Error invalid_document(const std::string& file, const char* consequence = "nothing was applied") {
  return Error{0, file + ": invalid; " + consequence, {}};
}

// ---- validate ------------------------------------------------------------------

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
  auto compilation = compile_against_kernel(*loaded.policy, *current, {.strict = true},
                                            &*loaded.trusted);
  for (const Diagnostic& d : compilation.diagnostics)
    if (d.is_error()) loaded.diagnostics.push_back(d);
  if (!compilation.ok()) loaded.policy.reset();
}

Report cmd_validate(const Globals& g, const std::string& file, const LimitOptions& limits,
                    const DocumentFlags& flags, bool strict_interfaces) {
  Loaded loaded = load_file(file, limits, flags);
  if (loaded.policy && strict_interfaces && !flags.policy_only) check_segment_interfaces(g, loaded);
  if (loaded.policy && !flags.policy_only)
    if (auto host = read_host_network()) {
      auto warnings = host_diagnostics(*loaded.policy, *host);
      loaded.diagnostics.insert(loaded.diagnostics.end(), warnings.begin(), warnings.end());
    }
  Report report;
  report.json = {{"file", file},
                 {"valid", loaded.policy.has_value()},
                 {"policyOnly", flags.policy_only},
                 {"policyDigest", loaded.policy_digest.empty() ? Json() : Json(loaded.policy_digest)},
                 {"diagnostics", diagnostics_json(loaded.diagnostics)}};
  add_diagnostic_notes(report, loaded.diagnostics);
  if (!loaded.policy) return report.fail(invalid_document(file));
  report.line(file + (flags.policy_only ? ": valid on the Azure side (" : ": valid (") +
              std::to_string(loaded.policy->ip_rules.size()) + " IP rules, " +
              std::to_string(loaded.policy->vnet_rules.size()) +
              " virtual-network rules, profile " + std::string(to_string(loaded.policy->host.profile)) +
              (loaded.policy_digest.empty() ? "" : ", policy digest " + loaded.policy_digest.substr(0, 12)) +
              ")");
  return report;
}

// -n/-g against the applied policy's vault id; a warning when it has none.
Result<void> check_applied_vault(const VaultIdentity& identity, const KernelPolicy& current,
                                 Report& report) {
  const std::string id = current.policy ? current.policy->resource_id : "";
  std::string warning = VW_TRY(check_vault_identity(identity, id, "the applied policy"));
  if (!warning.empty()) report.warn(warning);
  return {};
}

// ---- apply / diff / read-modify-apply --------------------------------------------

void add_diff_lines(Report& report, const PolicyDiff& diff) {
  for (const std::string& line : diff_lines(diff)) report.line(line);
}

ChangeRecord change_record(const KernelPolicy& current, const PolicyVersion& to,
                           const PolicyDiff* diff) {
  ChangeRecord record{.from = current.version(), .to = to};
  if (!diff) return record;
  record.rules_added = diff->rules_added;
  record.rules_removed = diff->rules_removed;
  record.settings_changed = diff->settings_and_host_changes();
  return record;
}

// What an apply did, in the one JSON shape every outcome of apply has.
struct ApplyResult {
  bool applied = false, unchanged = false, dry_run = false;
  std::optional<uint64_t> generation, previous_generation;
  std::optional<uint32_t> slot;
  std::string digest, policy_digest;
  std::optional<PolicyDiff> changes;
  std::vector<Diagnostic> diagnostics;
};

Json apply_json(const ApplyResult& r) {
  auto or_null = [](const auto& v) { return v ? Json(*v) : Json(); };
  return {{"applied", r.applied},
          {"unchanged", r.unchanged},
          {"dryRun", r.dry_run},
          {"generation", or_null(r.generation)},
          {"previousGeneration", or_null(r.previous_generation)},
          {"slot", or_null(r.slot)},
          {"digest", r.digest.empty() ? Json() : Json(r.digest)},
          {"policyDigest", r.policy_digest.empty() ? Json() : Json(r.policy_digest)},
          {"changes", r.changes ? diff_json(*r.changes) : Json()},
          {"diagnostics", diagnostics_json(r.diagnostics)}};
}

Report apply_report(const ApplyResult& result) {
  Report report;
  report.json = apply_json(result);
  add_diagnostic_notes(report, result.diagnostics);
  return report;
}

struct ApplyRequest {
  bool dry_run = false;
  bool force = false;
  bool strict_interfaces = false;
};

// Compiles `policy` against the kernel state and applies it (unless a dry
// run). The caller holds the lock.
Report apply_policy(const PinnedMaps& maps, const KernelPolicy& current, const Policy& policy,
                    const TrustedSet* trusted, std::vector<Diagnostic> diagnostics,
                    const ApplyRequest& request) {
  ApplyResult result{.dry_run = request.dry_run};
  auto compilation =
      compile_against_kernel(policy, current, {.strict = request.strict_interfaces}, trusted);
  diagnostics.insert(diagnostics.end(), compilation.diagnostics.begin(),
                     compilation.diagnostics.end());
  auto storage = storage_diagnostics(policy);  // imperative edits can outgrow the slot too
  diagnostics.insert(diagnostics.end(), storage.begin(), storage.end());
  result.diagnostics = diagnostics;
  if (!compilation.ok() || !storage.empty()) {
    Report report = apply_report(result);
    report.change = ChangeRecord{.reason = "does not compile: " + errors_text(diagnostics)};
    return report.fail(Error{0, "the policy does not compile; nothing was applied", {}});
  }
  const CompiledPolicy& compiled = compilation.value->compiled;
  PolicyDiff diff = diff_policies(current.policy, policy);
  result.digest = compiled.digest_hex;
  result.policy_digest = compiled.policy_digest_hex;
  const std::string policy_digest_text = ", policy digest " + compiled.policy_digest_hex.substr(0, 12);
  bool unchanged = current.applied() && current.policy == policy &&
                   current.version().digest == compiled.digest_hex;
  if (unchanged) {  // the same document, but its segments may bind differently now
    auto same_segments = segments_match(maps, current, compiled);
    if (!same_segments) return apply_report(result).fail(same_segments.error());
    unchanged = *same_segments;
  }
  if (unchanged && !request.force) {
    result.unchanged = true;
    result.generation = current.info.generation;
    Report report = apply_report(result);
    report.change = change_record(current, current.version(), nullptr);
    report.line("no change: generation " + std::to_string(current.info.generation) + " (digest " +
                compiled.digest_hex.substr(0, 12) + policy_digest_text +
                ") already enforces this policy");
    return report;
  }
  result.changes = diff;
  if (request.dry_run) {
    result.generation = current.info.generation;
    Report report = apply_report(result);
    report.line("dry run: would apply generation " + std::to_string(current.info.generation + 1) +
                " (digest " + compiled.digest_hex.substr(0, 12) + policy_digest_text + ")" +
                (diff.empty() ? ", no changes" : ":"));
    add_diff_lines(report, diff);
    return report;
  }
  auto outcome = apply_compiled(maps, current, policy, std::move(compilation.value->compiled));
  if (!outcome) return apply_report(result).fail(outcome.error());
  result.applied = true;
  result.generation = outcome->new_generation;
  result.previous_generation = outcome->old_generation;
  result.slot = outcome->slot;
  result.digest = outcome->new_digest;
  result.policy_digest = outcome->new_policy_digest;
  Report report = apply_report(result);
  report.change = change_record(current, {outcome->new_generation, outcome->new_digest}, &diff);
  report.line("applied generation " + std::to_string(outcome->new_generation) + " (slot " +
              std::to_string(outcome->slot) + ", digest " + outcome->new_digest.substr(0, 12) +
              ", policy digest " + outcome->new_policy_digest.substr(0, 12) + ")" +
              (diff.empty() ? ", no changes" : ":"));
  add_diff_lines(report, diff);
  if (outcome->index_warning) report.warn(*outcome->index_warning);
  for (const std::string& gap : outcome->program_gaps) report.warn(gap);
  return report;
}

// Lock, open maps and read the kernel's policy: the start of every change.
struct Session {
  std::optional<PinDirLock> lock;
  std::optional<PinnedMaps> maps;
  KernelPolicy current;
};

Result<Session> begin_change(const Globals& g, StoredDocument stored = StoredDocument::kMustLoad) {
  Session s;
  VW_TRY(check_privileges_and_bpffs(g.pin_dir));
  s.lock.emplace(VW_TRY(PinDirLock::acquire(g.pin_dir)));
  s.maps.emplace(VW_TRY(PinnedMaps::open(g.pin_dir)));
  s.current = VW_TRY(read_kernel_policy(*s.maps, stored));
  return s;
}

// An imperative edit's start: the change session, once the applied policy is
// the vault -n/-g name (a warning in `checked` when it cannot tell).
Result<Session> begin_edit(const Globals& g, const VaultIdentity& identity, Report& checked) {
  Session s = VW_TRY(begin_change(g));
  VW_TRY(check_applied_vault(identity, s.current, checked));
  return s;
}

std::optional<InputFile> input_or_none(const InputFile& input) {
  return input.sha256.empty() ? std::nullopt : std::optional(input);
}

Report cmd_apply(const Globals& g, const std::string& file, const LimitOptions& limits,
                 const DocumentFlags& flags, const ApplyRequest& request) {
  Loaded loaded = load_file(file, limits, flags);
  if (!loaded.policy) {
    Report report = apply_report({.dry_run = request.dry_run, .diagnostics = loaded.diagnostics});
    report.change = ChangeRecord{.input = input_or_none(loaded.input),
                                 .reason = file + " is invalid: " + errors_text(loaded.diagnostics)};
    return report.fail(invalid_document(file));
  }
  // A whole document needs nothing from the stored one (ids come from
  // vw_rule_info): it replaces a stored document that no longer loads.
  auto session = begin_change(g, StoredDocument::kMayBeDamaged);
  if (!session) return apply_report({.dry_run = request.dry_run}).fail(session.error());
  std::vector<std::string> warnings;
  if (const auto& damaged = session->current.document_error)
    warnings.push_back(damaged->context + "; " + file + " replaces it");
  Report report = apply_policy(*session->maps, session->current, *loaded.policy,
                               &*loaded.trusted, loaded.diagnostics, request);
  report.warnings.insert(report.warnings.begin(), warnings.begin(), warnings.end());
  if (!report.change) report.change.emplace();
  report.change->input = input_or_none(loaded.input);
  return report;
}

// diff(1) convention: 0 same, 1 different, 2 trouble.
Report cmd_diff(const Globals& g, const std::string& file, const LimitOptions& limits,
                const DocumentFlags& flags) {
  Report report;
  report.json = {{"generation", Json()}, {"changes", Json()}};
  report.exit_code = kExitUsage;  // until the policies were compared
  Loaded loaded = load_file(file, limits, flags);
  add_diagnostic_notes(report, loaded.diagnostics);
  if (!loaded.policy) return report.fail(invalid_document(file, "nothing to compare"));
  auto maps = open_maps(g);
  if (!maps) return report.fail(maps.error());
  auto current = read_kernel_policy(*maps);
  if (!current) return report.fail(current.error());
  PolicyDiff diff = diff_policies(current->policy, *loaded.policy);
  report.json = {{"generation", current->info.generation}, {"changes", diff_json(diff)}};
  report.exit_code = diff.empty() ? kExitOk : kExitError;
  const std::string generation = std::to_string(current->info.generation);
  if (diff.empty()) {
    report.line("no differences: generation " + generation + " already enforces " + file);
  } else {
    report.line("differences between generation " + generation + " and " + file + ":");
    add_diff_lines(report, diff);
  }
  return report;
}

// ---- imperative edits: the stored document as written, edited -------------------

// The document to edit: the stored one as written, or (nothing applied)
// Azure's defaults, firewall off, as show prints them.
Document document_to_edit(const KernelPolicy& current) {
  if (current.written) return *current.written;
  return parse_document(to_azure_json(Policy{})).value.value_or(Document{});
}

// Validates an edited document as a whole (values the user typed carry
// their flag as path, so the messages name it) and applies it if it
// changes anything.
Report apply_edit(Session& s, const Document& edited) {
  Checked<Policy> policy = validate_document(edited);
  // The JSON of every outcome is apply's.
  if (!policy.ok()) {
    Report report = apply_report({.diagnostics = policy.diagnostics});
    report.change = ChangeRecord{.reason = errors_text(policy.diagnostics)};
    return report.fail(Error{0, "nothing was applied", {}});
  }
  if (s.current.policy && *s.current.policy == *policy.value) {
    Report report = apply_report({.unchanged = true,
                                  .generation = s.current.info.generation,
                                  .digest = s.current.version().digest,
                                  .diagnostics = policy.diagnostics});
    report.change = change_record(s.current, s.current.version(), nullptr);
    report.line("no change: generation " + std::to_string(s.current.info.generation) +
                " already has this (rules compared in canonical form)");
    return report;
  }
  return apply_policy(*s.maps, s.current, *policy.value, nullptr, policy.diagnostics, {});
}

// `report` with the warnings of `earlier` first.
Report with_warnings(Report report, const Report& earlier) {
  report.warnings.insert(report.warnings.begin(), earlier.warnings.begin(), earlier.warnings.end());
  return report;
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
  const std::string wanted = to_lower("/virtualnetworks/" + vnet_name);
  for (const VirtualNetwork& vnet : policy.host.virtual_networks)
    if (vnet.id.ends_with(wanted)) return vnet.id + "/subnets/" + subnet;
  return fail(EINVAL, "--vnet-name " + vnet_name + " is not a virtual network of the vaultwall section",
              "describe it under vaultwall.virtualNetworks and apply that document first");
}

// Canonical identity of an --ip-address value, or the text itself if it
// does not parse (the validator will then say why).
std::string ip_identity(const std::string& text) {
  if (looks_like_ipv6(text)) {
    auto prefix6 = parse_ipv6_prefix(text);
    return prefix6 ? prefix6->network().canonical() : text;
  }
  auto prefix = parse_ipv4_prefix(text);
  return prefix ? prefix->network().canonical() : text;
}

struct RuleFlags {
  std::vector<std::string> ips;
  std::string subnet, vnet_name;
};

Report cmd_rule_add(const Globals& g, const RuleFlags& flags, const VaultIdentity& identity) {
  Report checked;
  auto s = begin_edit(g, identity, checked);
  if (!s) return apply_report({}).fail(s.error());
  Document document = document_to_edit(s->current);
  for (const std::string& ip : flags.ips)
    document.ip_rules.push_back({ip, "--ip-address " + ip});
  if (!flags.subnet.empty()) {
    auto id = subnet_id_from_flags(current_or_default(s->current), flags.subnet, flags.vnet_name);
    if (!id) return apply_report({}).fail(id.error());
    document.vnet_rules.push_back({.id = {*id, "--subnet " + *id}});
  }
  return with_warnings(apply_edit(*s, document), checked);
}

template <class T, class Matches>
bool erase_matching(std::vector<T>& items, Matches matches) {
  return std::erase_if(items, matches) > 0;
}

Report cmd_rule_remove(const Globals& g, const RuleFlags& flags, const VaultIdentity& identity) {
  Report checked;
  auto s = begin_edit(g, identity, checked);
  if (!s) return apply_report({}).fail(s.error());
  Document document = document_to_edit(s->current);
  std::vector<std::string> absent;
  for (const std::string& ip : flags.ips) {
    const std::string identity = ip_identity(ip);
    if (!erase_matching(document.ip_rules, [&](const Located<std::string>& rule) {
          return ip_identity(rule.value) == identity;
        }))
      absent.push_back("IP rule " + identity + " is not present");
  }
  if (!flags.subnet.empty()) {
    auto id = subnet_id_from_flags(current_or_default(s->current), flags.subnet, flags.vnet_name);
    if (!id) return apply_report({}).fail(id.error());
    if (!erase_matching(document.vnet_rules, [&](const Document::VnetRuleText& rule) {
          return equals_ignore_case(rule.id.value, *id);
        }))
      absent.push_back("virtual-network rule " + to_lower(*id) + " is not present");
  }
  Report report = with_warnings(apply_edit(*s, document), checked);
  report.text.insert(report.text.begin(), absent.begin(), absent.end());
  return report;
}

Report cmd_rule_list(const Globals& g, const VaultIdentity& identity) {
  Report report;
  report.json = {{"ipRules", Json::array()}, {"virtualNetworkRules", Json::array()}};
  auto maps = open_maps(g);
  if (!maps) return report.fail(maps.error());
  auto current = read_kernel_policy(*maps);
  if (!current) return report.fail(current.error());
  if (auto ok = check_applied_vault(identity, *current, report); !ok) return report.fail(ok.error());
  const Policy policy = current_or_default(*current);
  Json document = Json::parse(to_azure_json(policy));
  report.json = {{"ipRules", document["properties"]["networkAcls"]["ipRules"]},
                 {"virtualNetworkRules", document["properties"]["networkAcls"]["virtualNetworkRules"]}};
  auto id_text = [&](const std::string& identity) {
    auto id = current->rule_ids.find(identity);
    return id == current->rule_ids.end() ? std::string("-") : std::to_string(id->second);
  };
  TextTable table({{"ID", Align::kLeft, 6}, {"KIND", Align::kLeft, 5}, {"RULE"}});
  for (const IpRule& rule : policy.ip_rules)
    table.add_row({id_text(rule.canonical()), "ip", rule.canonical()});
  for (const VnetRule& rule : policy.vnet_rules)
    table.add_row({id_text(rule.subnet_id), "vnet",
                   rule.subnet_id + (rule.active ? "" : " (inactive: no Microsoft.KeyVault endpoint)")});
  report.table(std::move(table));
  return report;
}

struct UpdateFlags {
  std::string default_action, bypass, public_network_access, mode, deny_action;
};

Report cmd_update(const Globals& g, const UpdateFlags& flags, const VaultIdentity& identity) {
  Report checked;
  auto s = begin_edit(g, identity, checked);
  if (!s) return apply_report({}).fail(s.error());
  Document document = document_to_edit(s->current);
  // The flags were checked against these spellings when parsed.
  if (auto v = parse_default_action(flags.default_action))
    document.default_action = {*v, "--default-action"};
  if (auto v = parse_bypass(flags.bypass)) document.bypass = {*v, "--bypass"};
  if (auto v = parse_public_network_access(flags.public_network_access))
    document.public_network_access = {*v, "--public-network-access"};
  if (auto v = parse_mode(flags.mode)) {
    document.mode = {*v, "--mode"};
    document.has_host_section = true;
  }
  if (auto v = parse_deny_action(flags.deny_action)) {
    document.deny_action = {*v, "--deny-action"};
    document.has_host_section = true;
  }
  return with_warnings(apply_edit(*s, document), checked);
}

// ---- show ----------------------------------------------------------------------

Report cmd_show(const Globals& g, const VaultIdentity& identity) {
  auto maps = open_maps(g);
  if (!maps) return failed_report(maps.error());
  auto current = read_kernel_policy(*maps);
  if (!current) return failed_report(current.error());
  Report report;
  if (auto ok = check_applied_vault(identity, *current, report); !ok) return report.fail(ok.error());
  if (!current->applied())
    report.notes.push_back("no policy applied at " + g.pin_dir +
                           " (firewall off: all networks allowed); apply one with vaultwallctl "
                           "apply -f FILE");
  // The document itself is the output (JSON either way, like az keyvault
  // show). schemaVersion sits at the top and error at the end, where a vault
  // resource's other fields are ignored, so the output applies again as is.
  // (When show fails there is no document: the JSON is schemaVersion and
  // error alone.)
  Json document = Json::parse(to_azure_json(current_or_default(*current)));
  report.json = Json::object();
  if (current->applied()) {  // beside schemaVersion, where a vault's other fields are ignored
    report.json["compiledDigest"] = to_hex(current->info.digest, VW_DIGEST_LEN);
    report.json["policyDigest"] = to_hex(current->info.policy_digest, VW_DIGEST_LEN);
  }
  report.json.update(document);
  return report;
}

}  // namespace

void add_policy_commands(CLI::App& app, Globals& g, Commands& commands) {
  struct Options {
    std::string file;
    LimitOptions limits;
    DocumentFlags document;
    ApplyRequest apply;
    RuleFlags rules;
    UpdateFlags update;
    VaultIdentity applied_vault;  // -n/-g of the commands on the applied policy
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
    command->add_flag("--strict-interfaces", o->apply.strict_interfaces,
                      "refuse a segment whose interface vaultwall does not filter (default: it "
                      "matches nothing, with a warning; validate then needs the pins)");
  };
  strict_flag(validate);
  add_output_option(commands, validate);
  commands.add(validate, [&g, o] {
    return cmd_validate(g, o->file, o->limits, o->document, o->apply.strict_interfaces);
  });

  auto* apply = app.add_subcommand("apply", "validate, compile and apply a rule document atomically");
  apply->add_option("-f,--file", o->file, "rule document (JSON)")->required();
  apply->add_flag("--dry-run", o->apply.dry_run, "show what would change, change nothing");
  apply->add_flag("--force", o->apply.force,
                  "rewrite the maps even when the policy is unchanged (repairs drift)");
  add_limit_options(apply, o->limits);
  add_document_options(apply, o->document);
  strict_flag(apply);
  add_output_option(commands, apply);
  commands.add(apply, [&g, o] {
    auto run = [&] { return cmd_apply(g, o->file, o->limits, o->document, o->apply); };
    return o->apply.dry_run ? run() : journaled(g, "apply", run);  // a dry run changes nothing
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
  add_vault_identity_options(show, o->applied_vault);
  add_output_option(commands, show);
  commands.add(show, [&g, o] { return cmd_show(g, o->applied_vault); }, Commands::Output::kDocument);

  auto* rule = app.add_subcommand("network-rule", "add, remove or list rules (az keyvault network-rule)");
  rule->require_subcommand(1);
  auto add_rule_flags = [o](CLI::App* cmd) {
    cmd->add_option("--ip-address", o->rules.ips,
                    "IPv4 address or CIDR range; IPv6 under profile dualstack (several allowed)");
    cmd->add_option("--subnet", o->rules.subnet,
                    "subnet resource id, or subnet name with --vnet-name");
    cmd->add_option("--vnet-name", o->rules.vnet_name, "virtual network name (with --subnet NAME)");
    add_vault_identity_options(cmd, o->applied_vault);
  };
  auto* rule_add = rule->add_subcommand("add", "add rules (idempotent: existing rules are kept once)");
  add_rule_flags(rule_add);
  add_output_option(commands, rule_add);
  commands.add(rule_add, [&g, o] {
    return journaled(g, "network-rule add", [&] { return cmd_rule_add(g, o->rules, o->applied_vault); });
  });
  auto* rule_remove = rule->add_subcommand("remove", "remove rules (idempotent)");
  add_rule_flags(rule_remove);
  add_output_option(commands, rule_remove);
  commands.add(rule_remove, [&g, o] {
    return journaled(g, "network-rule remove", [&] { return cmd_rule_remove(g, o->rules, o->applied_vault); });
  });
  auto* rule_list = rule->add_subcommand("list", "list the applied rules with their ids");
  add_vault_identity_options(rule_list, o->applied_vault);
  add_output_option(commands, rule_list, kTableFormats);
  commands.add(rule_list, [&g, o] { return cmd_rule_list(g, o->applied_vault); });
  commands.checks.push_back([o, rule_add, rule_remove] {
    if ((rule_add->parsed() || rule_remove->parsed()) && o->rules.ips.empty() &&
        o->rules.subnet.empty())
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
  update->add_option("--deny-action", o->update.deny_action,
                     "drop, or reject: answer denied TCP with a RST")
      ->check(CLI::IsMember({"drop", "reject"}, CLI::ignore_case));
  add_vault_identity_options(update, o->applied_vault);
  add_output_option(commands, update);
  commands.add(update, [&g, o] {
    return journaled(g, "update", [&] { return cmd_update(g, o->update, o->applied_vault); });
  });
  commands.checks.push_back([o, update] {
    const UpdateFlags& u = o->update;
    if (update->parsed() && u.default_action.empty() && u.bypass.empty() &&
        u.public_network_access.empty() && u.mode.empty() && u.deny_action.empty())
      throw CLI::ValidationError("update", "give at least one setting to change");
  });
}

}  // namespace vaultwall::cli
