// The families an operator alerts on (packaging/prometheus/vaultwall.rules.yml):
// build, drift, applies, limits, Service Tags age, per-rule last hit.
// A fact that could not be read is left out (its series is absent), never
// reported as zero: absent() in a rule catches it.
#include "exposition.h"

namespace vaultwall {
namespace {

void render_build(Exposition& x, const BuildFacts& b) {
  x.family("vaultwall_build_info", "gauge",
           "Always 1: the version, ABI, commit and libbpf of the vaultwallctl that serves.");
  x.sample("vaultwall_build_info",
           {{"version", b.version},
            {"abi", std::to_string(b.abi)},
            {"commit", b.commit},
            {"libbpf", b.libbpf}},
           1);
}

// Whether the kernel holds what the stored document compiles to, and how
// the journal's policy changes went.
void render_changes(Exposition& x, const SyncFacts& s, const ApplyFacts& a) {
  x.single("vaultwall_policy_in_sync", "gauge",
           "1 when the kernel's active slot holds exactly what its stored document compiles to "
           "(vaultwallctl verify's drift check), 0 on drift or when the check cannot run.",
           s.checked, s.in_sync ? 1 : 0);
  x.timestamp("vaultwall_policy_in_sync_checked_timestamp_seconds",
              "Unix time of the drift check behind vaultwall_policy_in_sync.", s.checked,
              s.checked_at_unix_ns);
  x.single("vaultwall_apply_failures_total", "counter",
           "Policy changes (apply, update, network-rule, the agent's fleet apply and reapply) "
           "that failed or were interrupted, per the change journal.",
           a.known, a.failures);
  x.timestamp("vaultwall_apply_last_attempt_timestamp_seconds",
              "Unix time of the last policy change attempted, per the change journal (0: none).",
              a.known, a.last_attempt_unix_ns);
  x.timestamp(
      "vaultwall_apply_last_success_timestamp_seconds",
      "Unix time of the last policy change that succeeded, per the change journal (0: none).",
      a.known, a.last_success_unix_ns);
}

void render_limits(Exposition& x, const PolicyFacts& p) {
  x.family("vaultwall_rules", "gauge", "Network rules in the applied document, by kind.");
  if (p.known) {
    x.sample("vaultwall_rules", {{"kind", "ip"}}, p.ip_rules);
    x.sample("vaultwall_rules", {{"kind", "vnet"}}, p.vnet_rules);
  }
  x.family("vaultwall_rules_limit", "gauge",
           "The most rules of a kind the profile (and its limits overrides) allows.");
  if (p.known) {
    x.sample("vaultwall_rules_limit", {{"kind", "ip"}}, p.max_ip_rules);
    x.sample("vaultwall_rules_limit", {{"kind", "vnet"}}, p.max_vnet_rules);
  }
}

void render_service_tags(Exposition& x, const ServiceTagsFacts& t) {
  x.single("vaultwall_service_tags_change_number", "gauge",
           "changeNumber of the Service Tags file the applied policy reads (absent: none used).",
           t.known, std::to_string(t.change_number));
  x.timestamp("vaultwall_service_tags_file_timestamp_seconds",
              "Modification time of that Service Tags file (Azure republishes weekly).", t.known,
              t.modified_unix_ns);
}

void render_rule_last_hits(Exposition& x, const MetricsSnapshot& m) {
  x.family("vaultwall_rule_last_hit_timestamp_seconds", "gauge",
           "Unix time a rule last admitted a packet (absent: never, or the kernel clock cannot "
           "be read). Off with --no-rule-metrics.");
  if (!m.per_rule) return;
  for (const RuleCounters& r : m.stats.rules)
    if (auto it = m.rule_last_hit_unix_ns.find(r.id); it != m.rule_last_hit_unix_ns.end())
      x.sample("vaultwall_rule_last_hit_timestamp_seconds", rule_labels(r),
               seconds_text(it->second));
}

}  // namespace

Labels rule_labels(const RuleCounters& r) {
  return {{"rule", r.text}, {"kind", rule_kind_name(r.kind)}};
}

Labels policy_info_labels(const MetricsSnapshot& m) {
  Labels labels{{"digest", m.digest},
                {"profile", m.profile},
                {"mode", m.mode == VW_MODE_AUDIT ? "audit" : "enforce"},
                {"deny_action", m.deny_action == VW_DENY_REJECT ? "reject" : "drop"}};
  const PolicyFacts& p = m.facts.policy;
  labels.push_back({"default_action", p.default_action});
  labels.push_back({"bypass", p.bypass});
  labels.push_back({"public_network_access", p.public_network_access});
  labels.push_back({"vault", p.resource_id});
  return labels;
}

void render_operator_metrics(Exposition& x, const MetricsSnapshot& m) {
  render_build(x, m.facts.build);
  render_changes(x, m.facts.sync, m.facts.applies);
  render_limits(x, m.facts.policy);
  render_service_tags(x, m.facts.service_tags);
  render_rule_last_hits(x, m);
}

}  // namespace vaultwall
