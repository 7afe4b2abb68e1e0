// The kernel side of vaultwallctl: read the policy the kernel enforces,
// apply a compiled policy atomically, read counters back.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/kernel/slots.h"
#include "vaultwall/policy/compile.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/policy/policy.h"

namespace vaultwall {

// What the active slot holds, as read back from the pinned maps.
struct KernelPolicy {
  std::string pin_dir;              // where it was read (segments resolve through its links)
  uint32_t slot = 0;
  vw_policy_info info{};            // generation 0: nothing applied yet
  vw_settings settings{};           // the live slot's
  std::optional<Policy> policy;     // parsed from the slot's document
  std::string document;             // the normalised document as stored
  // The stored document as written (shape-checked), what imperative edits
  // change before validating it again; empty when policy is.
  std::optional<Document> written;
  IdAssignment rule_ids;            // from vw_rule_info (every described id)
  IdAssignment service_ids;         // from vw_svc_info
  std::set<uint32_t> live_rule_ids;     // ids the live slot's policy uses
  std::set<uint32_t> live_service_ids;  // (VW_SLOT_BIT of the live slot set)
  std::map<uint32_t, vw_rule_info> live_rules;  // the live ids' vw_rule_info entries
  // Why the stored document did not load, when the caller allowed that
  // (StoredDocument::kMayBeDamaged); policy is empty then.
  std::optional<Error> document_error;
  bool applied() const { return info.generation != 0; }
  // Generation and hex digest of what is in force.
  PolicyVersion version() const;
};

// The live slot, its metadata and the ids vw_rule_info / vw_svc_info
// describe; no document (stats and metrics need none).
Result<KernelPolicy> read_kernel_state(const PinnedMaps& maps);

// What read_kernel_policy does with a stored document that does not load
// (damaged, removed with its pin, or refused by a newer validator).
enum class StoredDocument {
  kMustLoad,      // EBADMSG, hint: apply --force -f FILE (show, diff, edits need it)
  kMayBeDamaged,  // document_error set: apply -f FILE replaces the document
};

// read_kernel_state plus the active slot's document, parsed.
Result<KernelPolicy> read_kernel_policy(const PinnedMaps& maps,
                                        StoredDocument stored = StoredDocument::kMustLoad);

// An error when the policy's normalised document is too large for the
// slot's vw_policy_doc (checked by validate and dry runs, not only at write).
std::vector<Diagnostic> storage_diagnostics(const Policy& policy);

// The policy to start from for read-modify-apply commands: the kernel's, or
// Azure's defaults (firewall off) when nothing was applied.
Policy current_or_default(const KernelPolicy& current);

// Differences between two policies, for diff, dry runs and the journal.
struct PolicyDiff {
  std::vector<std::string> rules_added;    // canonical identities
  std::vector<std::string> rules_removed;
  std::vector<std::string> settings_changed;  // "defaultAction: Allow -> Deny"
  // Everything else, field by field ("vaultwall.dataPlane.ports: + tcp/8443"):
  // host facts, vaultwall extensions, rule flags.
  std::vector<std::string> host_changes;
  bool host_changed = false;  // host_changes, or no policy before
  bool empty() const {
    return rules_added.empty() && rules_removed.empty() && settings_changed.empty() && !host_changed;
  }
  // Settings and host changes in one list, as the change journal records them.
  std::vector<std::string> settings_and_host_changes() const;
};
PolicyDiff diff_policies(const std::optional<Policy>& before, const Policy& after);

// How segment interfaces resolve. By default through vaultwall's live
// link for the interface under the kernel policy's pin dir: the ifindex
// the XDP program sees, whatever namespace the caller is in. An interface
// vaultwall does not filter matches nothing (a warning), or with strict is
// an error.
struct InterfaceOptions {
  bool strict = false;
  InterfaceResolver resolve;  // empty: attached_interface_resolver(current.pin_dir)
};

// The trusted set and compiled policy for `policy`, with ids kept stable
// against what the kernel holds. Diagnostics carry paths.
struct Compilation {
  TrustedSet trusted;
  CompiledPolicy compiled;
};
// `trusted`: the policy's trusted set when the caller resolved it already
// (once per apply); else it is resolved here.
Checked<Compilation> compile_against_kernel(const Policy& policy, const KernelPolicy& current,
                                            const InterfaceOptions& interfaces = {},
                                            const TrustedSet* trusted = nullptr);

// Interface name -> the ifindex of vaultwall's live link for it under
// pin_dir (nullopt when vaultwall does not filter it).
InterfaceResolver attached_interface_resolver(const std::string& pin_dir);
// The diagnostic for a segment interface that attached_interface_resolver
// does not resolve: names interface, virtual network and namespace.
UnresolvedInterfaceText unattached_interface_text(const std::string& pin_dir);

// Interface name -> ifindex in the caller's network namespace (for tests
// that run the program with BPF_PROG_TEST_RUN on interfaces it is not
// attached to).
std::optional<uint32_t> resolve_interface(const std::string& name);

// How the kernel's active slot differs from a compiled image (empty: the
// same): rule/trusted tries, segments, endpoints, source index, settings,
// digest. What verify reports as drift.
Result<std::vector<std::string>> image_differences(const PinnedMaps& maps, const KernelPolicy& current,
                                                   const CompiledPolicy& compiled);

// What the running program cannot enforce of the active slot's settings
// (empty: nothing): a program loaded by an older release does not decode a
// tunnel kind added since (vw_abi_info.tunnels_decoded). Red in verify and
// the metrics; apply warns. Re-applying does not help, loading does.
Result<std::vector<std::string>> program_gaps(const PinnedMaps& maps, uint32_t slot_tunnels);

struct ApplyOutcome {
  uint64_t old_generation = 0;
  uint64_t new_generation = 0;
  std::string old_digest;
  std::string new_digest;
  std::string new_policy_digest;  // the shared policy digest of what was applied
  uint32_t slot = 0;
  // Set when the source index could not hold the whole policy (see
  // source_index_warning): applied and correct, part of it on the tries.
  std::optional<std::string> index_warning;
  std::vector<std::string> program_gaps;  // see program_gaps(): applied, not enforced
};

// Writes the compiled policy into the idle slot and flips to it: new rule
// and service ids get zeroed counters and their info before the flip (with
// the idle slot's bit, so no reader lists them before it), ids freed by this
// policy are cleared after it. The caller holds the lock.
Result<ApplyOutcome> apply_compiled(const PinnedMaps& maps, const KernelPolicy& current,
                                    const Policy& policy, CompiledPolicy compiled);

// Whether the active slot's segments are the compiled ones: the same
// document binds differently once a segment's interface is attached.
Result<bool> segments_match(const PinnedMaps& maps, const KernelPolicy& current,
                            const CompiledPolicy& compiled);

// Recompiles the stored policy against the current links and applies it
// when the compiled image differs from the active slot (a segment's
// interface was attached, re-attached or lost its link). Run after attach
// and after a link repair; the caller holds the lock. Nothing applied:
// generation 0 and applied=false.
struct ReapplyOutcome {
  bool applied = false;
  ApplyOutcome outcome;
  std::vector<Diagnostic> diagnostics;  // warnings of the recompile
};
Result<ReapplyOutcome> reapply_stored_policy(const PinnedMaps& maps);

// Counters read back, summed over CPUs.
struct RuleCounters {
  uint32_t id = 0;
  uint32_t kind = VW_RULE_KIND_UNUSED;
  std::string text;
  vw_counters counters{};
};
// "ip", "vnet" or "perimeter" for a VW_RULE_KIND_* ("?" for any other): the
// kind vaultwallctl stats shows and the metrics' kind label.
const char* rule_kind_name(uint32_t kind);
struct ServiceCounters {
  uint32_t id = 0;
  std::string name;
  vw_counters counters{};
};
struct Stats {
  uint64_t generation = 0;
  std::string digest;         // compiled digest (policy + host facts), hex; "" when none
  std::string policy_digest;  // shared policy digest, hex
  std::vector<vw_counters> classes;  // indexed by VW_CLASS_*
  std::vector<RuleCounters> rules;   // rules of the live slot, by id
  std::vector<ServiceCounters> services;
  RejectStats replies;  // denyAction reject: RSTs sent, denied packets dropped instead
};
Result<Stats> read_stats(const PinnedMaps& maps);
// The same from a KernelPolicy already read (read_kernel_state).
Result<Stats> read_stats(const PinnedMaps& maps, const KernelPolicy& current);


}  // namespace vaultwall
