#include "vaultwall/apply/apply.h"

#include <net/if.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

#include "vaultwall/common/text.h"
#include "vaultwall/common/time.h"
#include "vaultwall/kernel/links.h"
#include "vaultwall/kernel/public6.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/policy/host_network.h"
#include "vaultwall/policy/json_changes.h"
#include "vaultwall/policy/service_tags.h"
#include "vaultwall/policy/validate.h"
#include "vaultwall/policy/sha256.h"
#include <nlohmann/json.hpp>

namespace vaultwall {

namespace {

std::set<std::string> rule_identities(const Policy& policy) {
  std::set<std::string> out;
  for (const IpRule& r : policy.ip_rules) out.insert(r.canonical());
  for (const VnetRule& r : policy.vnet_rules) out.insert(r.subnet_id);
  return out;
}

bool same_identity(const vw_rule_info& a, const vw_rule_info& b) {
  return a.kind == b.kind && std::memcmp(a.text, b.text, VW_RULE_TEXT_LEN) == 0;
}
bool same_identity(const vw_service_info& a, const vw_service_info& b) {
  return std::memcmp(a.name, b.name, VW_SERVICE_NAME_LEN) == 0;
}

// Before a flip to `idle`: every id of the new policy is described with the
// idle slot's bit (and keeps the live slot's bit when the live policy has
// the same rule), and every other id loses the idle slot's bit. So at any
// point of the apply, the ids with the live slot's bit are exactly the live
// slot's. New ids get zeroed counters. Unchanged entries are not rewritten.
constexpr const char* kRuleStats = VW_NAME(VW_MAP_RULE_STATS);
constexpr const char* kServiceStats = VW_NAME(VW_MAP_SVC_STATS);

template <class Info>
Result<void> describe_ids_for_slot(const TypedArray<Info>& map, uint32_t count,
                                   uint32_t idle,
                                   const std::vector<std::pair<uint32_t, Info>>& wanted,
                                   const std::set<uint32_t>& previous_ids, int stats_fd,
                                   const char* stats_map) {
  std::vector<Info> existing = VW_TRY(map.array_values(count));
  const uint32_t idle_bit = VW_SLOT_BIT(idle), live_bit = VW_SLOT_BIT(idle ^ 1u);
  std::vector<bool> in_policy(count, false);
  for (const auto& [id, info] : wanted) {
    in_policy[id] = true;
    Info entry = info;
    entry.slots = static_cast<decltype(entry.slots)>(
        idle_bit | (same_identity(existing[id], info) ? existing[id].slots & live_bit : 0));
    if (!previous_ids.contains(id)) VW_TRY(zero_counters(stats_fd, stats_map, id));
    if (std::memcmp(&entry, &existing[id], sizeof(Info)) != 0) VW_TRY(map.put(id, entry));
  }
  for (uint32_t id = 1; id < count; id++) {
    if (in_policy[id] || !(existing[id].slots & idle_bit)) continue;
    Info entry = existing[id];
    entry.slots = static_cast<decltype(entry.slots)>(entry.slots & ~idle_bit);
    VW_TRY(map.put(id, entry));
  }
  return {};
}

// After the flip and a grace period: ids this policy freed lose their
// description and counters, unless it reused them at once (ids were full).
template <class Info>
Result<void> forget_ids(const TypedArray<Info>& map,
                        const std::vector<std::pair<uint32_t, Info>>& in_policy,
                        const std::vector<uint32_t>& freed, int stats_fd, const char* stats_map) {
  std::set<uint32_t> used;
  for (const auto& [id, info] : in_policy) used.insert(id);
  for (uint32_t id : freed) {
    if (used.contains(id)) continue;
    VW_TRY(map.put(id, Info{}));
    VW_TRY(zero_counters(stats_fd, stats_map, id));
  }
  return {};
}

void note_change(std::vector<std::string>& out, const char* field, std::string_view before,
                 std::string_view after) {
  if (before != after) out.push_back(std::string(field) + ": " + std::string(before) + " -> " +
                                     std::string(after));
}

// Everything else that differs between two stored documents, field by
// field: host facts, vaultwall extensions, rule flags. Rules added or
// removed and the settings above are reported on their own.
std::vector<std::string> other_changes(const Policy& before, const Policy& after) {
  static const std::set<std::string> kReportedAsSettings = {
      "properties.networkAcls.defaultAction", "properties.networkAcls.bypass",
      "properties.publicNetworkAccess", "vaultwall.mode", "vaultwall.denyAction",
      "vaultwall.profile"};
  static const std::set<std::string> kRuleLists = {"properties.networkAcls.ipRules",
                                                   "properties.networkAcls.virtualNetworkRules"};
  std::vector<std::string> out;
  for (const JsonChange& change : json_changes(nlohmann::json::parse(to_azure_json(before)),
                                               nlohmann::json::parse(to_azure_json(after)))) {
    if (kReportedAsSettings.contains(change.path)) continue;
    if (change.kind != JsonChange::Kind::kChanged && kRuleLists.contains(change.path)) continue;
    out.push_back(change.text());
  }
  return out;
}

}  // namespace

std::optional<uint32_t> resolve_interface(const std::string& name) {
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return std::nullopt;
  return index;
}

InterfaceResolver attached_interface_resolver(const std::string& pin_dir) {
  return [pin_dir](const std::string& name) -> std::optional<uint32_t> {
    auto ifindex = filtered_ifindex(pin_dir, name);
    return ifindex ? *ifindex : std::nullopt;
  };
}

UnresolvedInterfaceText unattached_interface_text(const std::string& pin_dir) {
  return [pin_dir](const std::string& name, const std::string& vnet) {
    auto netns = current_netns_inode();
    std::string where = netns ? " (looked up from network namespace " + netns_text(*netns) + ")" : "";
    return name + " is not attached: vaultwall has no live link for it under " + pin_dir + where +
           " (virtual network " + vnet + "); attach it with vaultwall-loader attach " + name +
           " in its namespace (which re-applies the stored policy), or fix the name";
  };
}

PolicyVersion KernelPolicy::version() const {
  return {info.generation, applied() ? to_hex(info.digest) : std::string()};
}

Result<KernelPolicy> read_kernel_state(const PinnedMaps& maps) {
  KernelPolicy current;
  current.pin_dir = maps.pin_dir();
  const ActivePolicy active = VW_TRY(read_active_policy(maps));
  current.slot = active.slot;
  current.info = active.info;
  current.settings = active.settings();
  const uint32_t live_bit = VW_SLOT_BIT(current.slot);

  const auto rule_info = VW_TRY(maps.rule_info().array_values(VW_MAX_RULES));
  for (uint32_t id = 1; id < VW_MAX_RULES; id++) {
    const vw_rule_info& entry = rule_info[id];
    if (entry.kind == VW_RULE_KIND_UNUSED) continue;
    current.rule_ids[fixed_text(entry.text)] = id;
    if (!(entry.slots & live_bit)) continue;
    current.live_rule_ids.insert(id);
    current.live_rules[id] = entry;
  }
  const auto svc_info = VW_TRY(maps.service_info().array_values(VW_MAX_SERVICES));
  for (uint32_t id = 1; id < VW_MAX_SERVICES; id++) {
    const vw_service_info& entry = svc_info[id];
    if (entry.name[0] == '\0') continue;
    current.service_ids[fixed_text(entry.name)] = id;
    if (entry.slots & live_bit) current.live_service_ids.insert(id);
  }
  return current;
}

Result<KernelPolicy> read_kernel_policy(const PinnedMaps& maps, StoredDocument stored) {
  KernelPolicy current = VW_TRY(read_kernel_state(maps));
  if (!current.applied()) return current;
  current.document = VW_TRY(read_slot_document(maps, current.slot));
  // Parsed and validated in two steps (load_policy's), so edits can start
  // from the document as written.
  auto written = parse_document(current.document);
  Checked<Policy> loaded = written.ok() ? validate_document(*written.value)
                                        : Checked<Policy>{std::nullopt, written.diagnostics};
  if (loaded.ok()) {
    current.written = std::move(*written.value);
    current.policy = std::move(*loaded.value);
    return current;
  }
  std::string first = loaded.errors().empty() ? "" : loaded.errors().front().text();
  Error error{EBADMSG,
              "the policy document stored in slot " + std::to_string(current.slot) +
                  " does not load (" + truncated(first, 400) + ")",
              "re-apply the whole rule document with vaultwallctl apply --force -f FILE "
              "(rules keep their ids and counters)"};
  if (stored == StoredDocument::kMustLoad) return std::unexpected(error);
  current.document_error = std::move(error);
  return current;
}

std::vector<Diagnostic> storage_diagnostics(const Policy& policy) {
  constexpr size_t kCapacity = size_t{VW_DOC_CHUNK_SIZE} * VW_DOC_CHUNKS;
  const size_t size = to_azure_json(policy).size();
  if (size < kCapacity) return {};
  return {{Severity::kError, "",
           "the normalised document is " + std::to_string(size) + " bytes; a slot keeps at most " +
               std::to_string(kCapacity - 1) +
               " bytes of it (vw_policy_doc); remove virtual networks, subnets or rules nothing "
               "uses, or split the vault"}};
}

Policy current_or_default(const KernelPolicy& current) {
  return current.policy ? *current.policy : Policy{};
}

std::vector<std::string> PolicyDiff::settings_and_host_changes() const {
  std::vector<std::string> out = settings_changed;
  out.insert(out.end(), host_changes.begin(), host_changes.end());
  if (host_changed && host_changes.empty()) out.push_back("vaultwall host section set");
  return out;
}

PolicyDiff diff_policies(const std::optional<Policy>& before, const Policy& after) {
  PolicyDiff diff;
  const Policy base = before ? *before : Policy{};
  std::set<std::string> old_rules = before ? rule_identities(*before) : std::set<std::string>{};
  std::set<std::string> new_rules = rule_identities(after);
  std::set_difference(new_rules.begin(), new_rules.end(), old_rules.begin(), old_rules.end(),
                      std::back_inserter(diff.rules_added));
  std::set_difference(old_rules.begin(), old_rules.end(), new_rules.begin(), new_rules.end(),
                      std::back_inserter(diff.rules_removed));
  note_change(diff.settings_changed, "defaultAction", to_string(base.default_action),
              to_string(after.default_action));
  note_change(diff.settings_changed, "bypass", to_string(base.bypass), to_string(after.bypass));
  note_change(diff.settings_changed, "publicNetworkAccess", to_string(base.public_network_access),
              to_string(after.public_network_access));
  note_change(diff.settings_changed, "mode", to_string(base.host.mode), to_string(after.host.mode));
  note_change(diff.settings_changed, "denyAction", to_string(base.host.deny_action),
              to_string(after.host.deny_action));
  note_change(diff.settings_changed, "profile", to_string(base.host.profile),
              to_string(after.host.profile));
  if (before) diff.host_changes = other_changes(*before, after);
  diff.host_changed = !diff.host_changes.empty() || !before;
  return diff;
}

Checked<Compilation> compile_against_kernel(const Policy& policy, const KernelPolicy& current,
                                            const InterfaceOptions& interfaces,
                                            const TrustedSet* resolved) {
  Checked<Compilation> out;
  Checked<TrustedSet> trusted;
  if (resolved) {
    trusted.value = *resolved;
  } else {
    trusted = resolve_trusted_services(policy);
    out.diagnostics = trusted.diagnostics;
    if (!trusted.ok()) return out;
  }
  CompileOptions options{.resolve_interface = interfaces.resolve,
                         .previous_rule_ids = current.rule_ids,
                         .previous_service_ids = current.service_ids,
                         .strict_interfaces = interfaces.strict};
  if (!options.resolve_interface) {
    options.resolve_interface = attached_interface_resolver(current.pin_dir);
    options.unresolved_interface_text = unattached_interface_text(current.pin_dir);
  }
  auto compiled = compile_policy(policy, *trusted.value, options);
  out.diagnostics.insert(out.diagnostics.end(), compiled.diagnostics.begin(),
                         compiled.diagnostics.end());
  if (!compiled.ok()) return out;
  // What this host says about the policy (warnings only; see host_network.h).
  if (auto host = read_host_network()) {
    auto warnings = host_diagnostics(policy, *host);
    out.diagnostics.insert(out.diagnostics.end(), warnings.begin(), warnings.end());
  }
  out.value = Compilation{std::move(*trusted.value), std::move(*compiled.value)};
  return out;
}

Result<ApplyOutcome> apply_compiled(const PinnedMaps& maps, const KernelPolicy& current,
                                    const Policy& policy, CompiledPolicy compiled) {
  ApplyOutcome outcome{.old_generation = current.info.generation,
                       .new_generation = current.info.generation + 1,
                       .old_digest = current.version().digest,
                       .new_digest = compiled.digest_hex,
                       .new_policy_digest = compiled.policy_digest_hex};
  SlotImage& image = compiled.image;
  image.info.generation = outcome.new_generation;
  image.info.applied_at_unix_ns = now_unix_ns();
  image.settings.generation = outcome.new_generation;
  image.document = to_azure_json(policy);

  // Ids new to this policy are referenced by no live slot yet: reset their
  // counters and describe them before any packet can be credited to them,
  // marked as the idle slot's only, so no reader lists them before the flip.
  std::set<uint32_t> old_rule_ids, old_service_ids;
  for (const auto& [text, id] : current.rule_ids) old_rule_ids.insert(id);
  for (const auto& [name, id] : current.service_ids) old_service_ids.insert(id);
  const uint32_t idle = VW_TRY(active_slot(maps)) ^ 1u;
  VW_TRY(describe_ids_for_slot(maps.rule_info(), VW_MAX_RULES, idle, compiled.rule_info,
                               old_rule_ids, maps.rule_stats_fd(), kRuleStats));
  VW_TRY(describe_ids_for_slot(maps.service_info(), VW_MAX_SERVICES, idle, compiled.service_info,
                               old_service_ids, maps.service_stats_fd(), kServiceStats));

  outcome.slot = VW_TRY(write_idle_slot_and_flip(maps, image));
  outcome.index_warning = source_index_warning(VW_TRY(maps.policy_info().at(outcome.slot)));
  outcome.program_gaps = VW_TRY(program_gaps(maps, image.settings.tunnels));

  // Freed ids: once no packet can still use the old slot, forget them.
  if (!compiled.freed_rule_ids.empty() || !compiled.freed_service_ids.empty())
    VW_TRY(wait_for_readers(maps));
  VW_TRY(forget_ids(maps.rule_info(), compiled.rule_info, compiled.freed_rule_ids,
                    maps.rule_stats_fd(), kRuleStats));
  VW_TRY(forget_ids(maps.service_info(), compiled.service_info, compiled.freed_service_ids,
                    maps.service_stats_fd(), kServiceStats));
  return outcome;
}

namespace {

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

// The segments as the compiler gives them: the slot writer adds the root of
// each network's index, which source_index_differences checks.
std::vector<std::pair<vw_segment_key, vw_segment_value>> without_index_roots(
    std::vector<std::pair<vw_segment_key, vw_segment_value>> segments) {
  for (auto& [key, value] : segments) value.index = 0;
  return segments;
}

}  // namespace

Result<std::vector<std::string>> image_differences(const PinnedMaps& maps, const KernelPolicy& current,
                                                   const CompiledPolicy& compiled) {
  auto kernel = VW_TRY(read_slot(maps, current.slot));
  const SlotImage& want = compiled.image;
  std::vector<std::string> problems;
  auto add = [&](std::vector<std::string> more) { problems.insert(problems.end(), more.begin(), more.end()); };
  add(entry_differences("rule trie", want.rules, kernel.rules));
  add(entry_differences("trusted trie", want.trusted, kernel.trusted));
  add(entry_differences("IPv6 rule trie", want.rules6, kernel.rules6));
  add(entry_differences("IPv6 trusted trie", want.trusted6, kernel.trusted6));
  // The originals read back above could hide a wrong inherited value: the
  // trie's entries are compared whole too.
  add(entry_differences("IPv6 public trie", build_public6(want),
                        VW_TRY(maps.public6(current.slot).entries())));
  add(entry_differences("segments", want.segments, without_index_roots(kernel.segments)));
  add(entry_differences("endpoints", want.endpoints, kernel.endpoints));
  add(entry_differences("IPv6 endpoints", want.endpoints6, kernel.endpoints6));
  add(VW_TRY(source_index_differences(maps, current.slot, want)));
  vw_settings want_settings = settings_as_written(want), have_settings = kernel.settings;
  want_settings.generation = have_settings.generation = 0;
  if (std::memcmp(&want_settings, &have_settings, sizeof(vw_settings)) != 0)
    problems.push_back("settings differ from the compiled policy");
  if (std::memcmp(want.info.digest, kernel.info.digest, VW_DIGEST_LEN) != 0)
    problems.push_back("digest differs: kernel " + to_hex(kernel.info.digest) +
                       ", compiled " + compiled.digest_hex +
                       " (the service-tags file may have changed since the apply)");
  else if (std::memcmp(want.info.policy_digest, kernel.info.policy_digest, VW_DIGEST_LEN) != 0)
    problems.push_back("policy digest differs: kernel " +
                       to_hex(kernel.info.policy_digest, VW_DIGEST_LEN) + ", compiled " +
                       compiled.policy_digest_hex);
  return problems;
}

Result<std::vector<std::string>> program_gaps(const PinnedMaps& maps, uint32_t slot_tunnels) {
  const uint32_t recorded = VW_TRY(maps.abi().at(0)).tunnels_decoded;
  const uint32_t decoded = recorded != 0 ? recorded : VW_TUNNELS_BEFORE_IPCOMP;
  std::vector<std::string> gaps;
  for (const TunnelKind& tunnel : tunnel_kinds())
    if ((slot_tunnels & tunnel.bit) && !(decoded & tunnel.bit))
      gaps.push_back("the running program predates " + std::string(tunnel.name) + " (" +
                     std::string(tunnel.description) +
                     "): it passes that tunnel to protected addresses undecided; load this "
                     "release's program: vaultwall-loader load");
  return gaps;
}

Result<bool> segments_match(const PinnedMaps& maps, const KernelPolicy& current,
                            const CompiledPolicy& compiled) {
  auto kernel = VW_TRY(read_segments(maps, current.slot));
  return entry_differences("segments", compiled.image.segments, without_index_roots(kernel)).empty();
}

Result<ReapplyOutcome> reapply_stored_policy(const PinnedMaps& maps) {
  ReapplyOutcome out;
  auto current = VW_TRY(read_kernel_policy(maps));
  if (!current.applied()) return out;
  auto compilation = compile_against_kernel(*current.policy, current);
  out.diagnostics = compilation.diagnostics;
  if (!compilation.ok()) {
    std::string first;
    for (const Diagnostic& d : compilation.diagnostics)
      if (d.severity == Severity::kError && first.empty()) first = d.path + ": " + d.message;
    return fail(EINVAL, "the stored policy (generation " + std::to_string(current.info.generation) +
                            ") no longer compiles: " + first,
                "fix it and apply it again: vaultwallctl apply -f FILE");
  }
  auto differences = VW_TRY(image_differences(maps, current, compilation.value->compiled));
  if (differences.empty()) return out;
  out.outcome = VW_TRY(apply_compiled(maps, current, *current.policy,
                                      std::move(compilation.value->compiled)));
  out.applied = true;
  return out;
}

const char* rule_kind_name(uint32_t kind) {
  // By VW_RULE_KIND_*: 0 is an unused id.
  static constexpr std::array<const char*, 4> kNames{"?", "ip", "vnet", "perimeter"};
  static_assert(VW_RULE_KIND_IP == 1 && VW_RULE_KIND_VNET == 2 && VW_RULE_KIND_PERIMETER == 3);
  return kind < kNames.size() ? kNames[kind] : "?";
}

Result<Stats> read_stats(const PinnedMaps& maps) {
  return read_stats(maps, VW_TRY(read_kernel_state(maps)));
}

Result<Stats> read_stats(const PinnedMaps& maps, const KernelPolicy& current) {
  Stats stats;
  stats.generation = current.info.generation;
  if (current.applied()) {
    stats.digest = to_hex(current.info.digest, VW_DIGEST_LEN);
    stats.policy_digest = to_hex(current.info.policy_digest, VW_DIGEST_LEN);
  }
  stats.classes =
      VW_TRY(read_all_counters(maps.class_stats_fd(), VW_NAME(VW_MAP_CLASS_STATS), VW_CLASS_COUNT));
  for (const auto& [id, info] : current.live_rules)
    stats.rules.push_back({id, info.kind, fixed_text(info.text),
                           VW_TRY(read_counters(maps.rule_stats_fd(), kRuleStats, id))});
  for (const auto& [name, id] : current.service_ids) {
    if (!current.live_service_ids.contains(id)) continue;
    stats.services.push_back(
        {id, name, VW_TRY(read_counters(maps.service_stats_fd(), kServiceStats, id))});
  }
  std::sort(stats.services.begin(), stats.services.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  stats.replies = VW_TRY(maps.read_reject_stats());
  return stats;
}

}  // namespace vaultwall
