// The compiler: normalised policy (+ trusted set) -> one slot image plus the
// rule and service tables, with ids that belong to a rule's canonical
// identity, not its position (counters survive reorders and re-applies).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/policy/policy.h"
#include "vaultwall/policy/service_tags.h"
#include "vaultwall/abi/slot_image.h"
#include "vaultwall_abi.h"

namespace vaultwall {

// Interface name -> ifindex; nullopt when there is no such interface.
using InterfaceResolver = std::function<std::optional<uint32_t>(const std::string&)>;

// Canonical identity -> id: canonical CIDR or lower-cased subnet id for
// rules (as read back from vw_rule_info), service name for services.
using IdAssignment = std::map<std::string, uint32_t>;

// Why a segment's interface did not resolve, for its diagnostic:
// (interface, virtual network id) -> message.
using UnresolvedInterfaceText =
    std::function<std::string(const std::string& interface, const std::string& vnet)>;

struct CompileOptions {
  InterfaceResolver resolve_interface;  // required when a segment names one
  IdAssignment previous_rule_ids;       // empty on a fresh install
  IdAssignment previous_service_ids;
  // A segment whose interface does not resolve matches nothing (one
  // warning), so unrelated changes still apply; strict makes it an error.
  bool strict_interfaces = false;
  UnresolvedInterfaceText unresolved_interface_text;  // default: "no interface named ..."
};

struct CompiledRule {
  uint32_t id = 0;
  uint32_t kind = VW_RULE_KIND_UNUSED;  // VW_RULE_KIND_IP | _VNET | _PERIMETER
  uint32_t vnet_id = VW_VNET_PUBLIC;
  std::string text;                  // canonical identity
  bool active = true;                // inactive VNET rules keep an id, no prefixes
  std::vector<Ipv4Prefix> prefixes;   // what went into the rule trie
  std::vector<Ipv6Prefix> prefixes6;  // what went into the IPv6 rule trie
};

struct CompiledService {
  uint32_t id = 0;
  std::string name;
  size_t ipv4_prefixes = 0;  // as listed (before cross-service dedupe)
  size_t ipv6_prefixes = 0;
};

struct CompiledPolicy {
  // settings, rules, trusted, segments, endpoints; info has digest, profile
  // and the prefix counts (generation and applied_at are the applier's).
  SlotImage image;
  std::vector<CompiledRule> rules;                                 // sorted by id
  std::vector<CompiledService> services;                           // sorted by id
  std::vector<std::pair<uint32_t, vw_rule_info>> rule_info;        // for vw_rule_info
  std::vector<std::pair<uint32_t, vw_service_info>> service_info;  // for vw_svc_info
  IdAssignment rule_ids;                     // canonical -> id, all rules of this policy
  IdAssignment service_ids;                  // name -> id
  std::vector<uint32_t> freed_rule_ids;      // in previous, gone now: zero counters
  std::vector<uint32_t> freed_service_ids;   // same for services
  std::map<std::string, uint32_t> vnet_ids;  // lower-cased vnet id -> vnet id (1..)
  std::string digest_hex;                    // = image.info.digest as hex: policy + host facts
  std::string policy_digest_hex;             // = image.info.policy_digest: the shared policy
};

// Compiles a validated policy. Errors (with paths) for ids exhausted, too
// many prefixes/segments/endpoints for the maps, and (strict_interfaces) a
// segment interface that does not resolve; without strict_interfaces that
// is a warning and the segment is left out (it matches nothing).
Checked<CompiledPolicy> compile_policy(const Policy& policy, const TrustedSet& trusted,
                                       const CompileOptions& options);

// The slot-local vnet ids (vw_segment_value, vw_event.vnet_id) of a
// policy's virtual networks: 1.. in the order of their sorted resource ids,
// so a reader of the stored document can name an event's vnet.
std::map<std::string, uint32_t> virtual_network_ids(const Policy& policy);

// Stable id assignment: keeps previous ids of identities still present,
// gives new identities the lowest free id in [1, max_id]; nullopt when full.
struct IdAllocation {
  IdAssignment ids;
  std::vector<uint32_t> freed;
};
std::optional<IdAllocation> allocate_ids(const std::vector<std::string>& identities,
                                         const IdAssignment& previous, uint32_t max_id);

// What vw_rule_info.text holds for an identity: the identity itself when it
// fits (VW_RULE_TEXT_LEN - 1 bytes), else "~<12 hex of its SHA-256>~<tail>"
// (full subnet ids with real subscription GUIDs are ~135 bytes). Previous
// assignments are matched through this function, so either form works as
// a key of IdAssignment.
std::string rule_info_text(std::string_view identity);

// The previous assignment as vw_rule_info entries read back from the kernel
// describe it (kind UNUSED entries are skipped); keys are rule_info_text.
IdAssignment rule_ids_from_info(const std::vector<std::pair<uint32_t, vw_rule_info>>& info);
IdAssignment service_ids_from_info(const std::vector<std::pair<uint32_t, vw_service_info>>& info);

// SHA-256 digest (hex) of the canonical serialisation of the policy with its
// host facts and the trusted prefixes it enforces: equal for documents that
// mean the same on this host (the compiled digest).
std::string policy_digest_hex(const Policy& policy, const TrustedSet& trusted);
// The same without the host facts: equal on every host of a vault whose
// trusted prefixes are the same (the shared policy digest).
std::string shared_policy_digest_hex(const Policy& policy, const TrustedSet& trusted);

}  // namespace vaultwall
