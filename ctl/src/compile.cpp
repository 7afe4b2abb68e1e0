// compile_policy: a validated policy becomes the contents of one slot
// (DESIGN §2.1) plus the rule and service tables.
#include "vaultwall/policy/compile.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "vaultwall/abi/keys.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/policy/sha256.h"

namespace vaultwall {
namespace {

constexpr uint8_t kProtoTcp = 6;

template <size_t N>
void copy_text(char (&out)[N], std::string_view text) {
  std::memset(out, 0, N);
  std::memcpy(out, text.data(), std::min(text.size(), N - 1));
}

vw_rule_key rule_key(uint32_t vnet_id, const Ipv4Prefix& prefix) {
  return make_rule_key(vnet_id, prefix.address, prefix.length);
}

vw_trusted_key trusted_key(const Ipv4Prefix& prefix) {
  return make_trusted_key(prefix.address, prefix.length);
}

vw_rule6_key rule6_key(uint32_t vnet_id, const Ipv6Prefix& prefix) {
  const Ipv6Prefix network = prefix.network();
  uint8_t bytes[16];
  std::memcpy(bytes, network.address.data(), 16);
  return make_rule6_key(vnet_id, bytes, network.length);
}

vw_public6_key trusted6_key(const Ipv6Prefix& prefix) {
  const Ipv6Prefix network = prefix.network();
  uint8_t bytes[16];
  std::memcpy(bytes, network.address.data(), 16);
  return make_public6_key(bytes, network.length);
}

vw_settings settings_for(const Policy& policy) {
  vw_settings settings{};
  settings.default_action =
      policy.default_action == DefaultAction::kDeny ? VW_ACTION_DENY : VW_ACTION_ALLOW;
  settings.bypass =
      policy.bypass == Bypass::kAzureServices ? VW_BYPASS_AZURE_SERVICES : VW_BYPASS_NONE;
  settings.public_access = policy.public_network_access == PublicNetworkAccess::kDisabled
                               ? VW_PUBLIC_ACCESS_DISABLED
                               : VW_PUBLIC_ACCESS_ENABLED;
  switch (policy.perimeter_effect()) {
    case PerimeterEffect::kEnforced:
      // Only the perimeter's rules admit (they are the public rules of the
      // slot, IPv4 and IPv6): public access is the perimeter's to decide,
      // no bypass, everything else denied.
      settings.flags |= VW_SETTINGS_PERIMETER_ENFORCED;
      settings.public_access = VW_PUBLIC_ACCESS_ENABLED;
      settings.bypass = VW_BYPASS_NONE;
      settings.default_action = VW_ACTION_DENY;
      break;
    case PerimeterEffect::kTransition:
      settings.flags |= VW_SETTINGS_PERIMETER_TRANSITION;
      break;
    case PerimeterEffect::kNone:
      break;
  }
  settings.mode = policy.host.mode == Mode::kAudit ? VW_MODE_AUDIT : VW_MODE_ENFORCE;
  settings.deny_action =
      policy.host.deny_action == DenyAction::kReject ? VW_DENY_REJECT : VW_DENY_DROP;
  if (policy.host.addresses.empty()) settings.flags |= VW_SETTINGS_ALL_DESTINATIONS;
  if (policy.host.listen == Listen::kAny) settings.flags |= VW_SETTINGS_LOCAL_DESTINATIONS;
  // Every tunnel is data plane but those declared: their devices filter.
  settings.tunnels = VW_TUNNELS_ALL;
  for (const std::string& name : policy.host.tunnels)
    if (const TunnelKind* tunnel = find_tunnel(name)) settings.tunnels &= ~tunnel->bit;
  std::vector<PortSpec> ports = policy.host.ports;
  if (ports.empty()) ports.push_back(PortSpec{kProtoTcp, 443});
  settings.port_count = static_cast<uint32_t>(std::min<size_t>(ports.size(), VW_MAX_PORTS));
  for (uint32_t i = 0; i < settings.port_count; ++i) {
    settings.ports[i].port = ports[i].port;
    settings.ports[i].proto = ports[i].proto;
  }
  return settings;
}

// What a digest covers: a canonical serialisation and the trusted prefixes
// enforced (a new Service Tags file changes what is loaded, so the digest).
std::string digest_input(const std::string& canonical, const TrustedSet& trusted) {
  std::vector<std::string> lines;
  for (const TrustedService& service : trusted.services) {
    std::string line = service.name + (service.custom ? " custom:" : ":");
    for (const Ipv4Prefix& prefix : service.ipv4) line += " " + prefix.cidr();
    for (const Ipv6Prefix& prefix : service.ipv6) line += " " + prefix.cidr();
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out = canonical + "\n";
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

// Identity of a perimeter access rule among the rule ids (IP rules are
// CIDRs, VNET rules subnet ids: neither starts like this).
std::string perimeter_identity(const PerimeterRule& rule) { return "perimeter:" + rule.name; }

// (vnet, network) pairs already in each rule trie.
struct WrittenPrefixes {
  std::set<std::pair<uint32_t, Ipv4Prefix>> ipv4;
  std::set<std::pair<uint32_t, Ipv6Prefix>> ipv6;
};

class Compiler {
 public:
  Compiler(const Policy& policy, const TrustedSet& trusted, const CompileOptions& options,
           Diagnostics& diagnostics)
      : policy_(policy), trusted_(trusted), options_(options), diagnostics_(diagnostics) {}

  CompiledPolicy run() {
    out_.image.settings = settings_for(policy_);
    assign_vnet_ids();
    compile_segments();
    compile_endpoints();
    compile_rules();
    compile_trusted();
    fill_info();
    return std::move(out_);
  }

 private:
  // Vnet ids follow the sorted resource ids: independent of document order.
  // They only live inside one slot (and vw_rule_info), so they need no
  // history the way rule ids do.
  void assign_vnet_ids() { out_.vnet_ids = virtual_network_ids(policy_); }

  void compile_segments() {
    const auto& vnets = policy_.host.virtual_networks;
    for (size_t i = 0; i < vnets.size(); ++i) {
      const Segment& segment = vnets[i].segment;
      vw_segment_key key{};
      if (segment.interface) {
        std::optional<uint32_t> ifindex;
        if (options_.resolve_interface) ifindex = options_.resolve_interface(*segment.interface);
        if (!ifindex || *ifindex == 0) {
          report_unresolved_interface(i, *segment.interface, vnets[i].id);
          continue;  // no segment: nothing is classed as this virtual network
        }
        key.ifindex = *ifindex;
      }
      key.vlan = segment.vlan.value_or(0);
      out_.image.segments.push_back({key, vw_segment_value{out_.vnet_ids.at(vnets[i].id)}});
    }
    if (!out_.image.segments.empty()) out_.image.settings.flags |= VW_SETTINGS_HAS_SEGMENTS;
  }

  void report_unresolved_interface(size_t index, const std::string& interface,
                                   const std::string& vnet) {
    std::string path = "vaultwall.virtualNetworks[" + std::to_string(index) + "].segment.interface";
    std::string text = options_.unresolved_interface_text
                           ? options_.unresolved_interface_text(interface, vnet)
                           : "no interface named " + interface + " on this host (virtual network " +
                                 vnet + "); create it or fix the name";
    if (options_.strict_interfaces)
      diagnostics_.error(path, text);
    else
      diagnostics_.warning(
          path,
          text + "; until then its segment matches nothing (--strict-interfaces refuses instead)");
  }

  void compile_endpoints() {
    for (uint32_t address : policy_.host.addresses)
      out_.image.endpoints.push_back(
          {make_endpoint_key(address), vw_endpoint_value{VW_ENDPOINT_PUBLIC, 0}});
    for (const PrivateEndpoint& endpoint : policy_.host.private_endpoints) {
      uint32_t vnet_id = 0;  // any virtual network
      if (!endpoint.virtual_network.empty()) vnet_id = out_.vnet_ids.at(endpoint.virtual_network);
      out_.image.endpoints.push_back(
          {make_endpoint_key(endpoint.address), vw_endpoint_value{VW_ENDPOINT_PRIVATE, vnet_id}});
    }
    compile_endpoints6();
  }

  // IPv6 destinations in vw_endpoints6_N, with the IPv4 map's values.
  void compile_endpoints6() {
    auto key = [](const Ipv6Address& address) {
      uint8_t bytes[16];
      std::memcpy(bytes, address.data(), 16);
      return make_endpoint6_key(bytes);
    };
    for (const Ipv6Address& address : policy_.host.addresses6)
      out_.image.endpoints6.push_back({key(address), vw_endpoint_value{VW_ENDPOINT_PUBLIC, 0}});
    for (const PrivateEndpoint6& endpoint : policy_.host.private_endpoints6) {
      uint32_t vnet_id = 0;  // any virtual network
      if (!endpoint.virtual_network.empty()) vnet_id = out_.vnet_ids.at(endpoint.virtual_network);
      out_.image.endpoints6.push_back(
          {key(endpoint.address), vw_endpoint_value{VW_ENDPOINT_PRIVATE, vnet_id}});
    }
    if (!out_.image.endpoints6.empty()) out_.image.settings.flags |= VW_SETTINGS_HAS_ENDPOINTS6;
  }

  // The perimeter's address rules that are compiled; under Enforced the
  // vault's own rules are overridden and not compiled at all.
  std::vector<const PerimeterRule*> perimeter_rules() const {
    std::vector<const PerimeterRule*> out;
    if (policy_.perimeter_effect() == PerimeterEffect::kNone) return out;
    for (const PerimeterRule& rule : policy_.host.perimeter->inbound)
      if (!rule.prefixes.empty() || !rule.prefixes6.empty()) out.push_back(&rule);
    return out;
  }
  bool vault_rules_compiled() const {
    return policy_.perimeter_effect() != PerimeterEffect::kEnforced;
  }

  void compile_rules() {
    std::vector<std::string> identities;
    if (vault_rules_compiled()) {
      for (const IpRule& rule : policy_.ip_rules) identities.push_back(rule.canonical());
      for (const VnetRule& rule : policy_.vnet_rules) identities.push_back(rule.subnet_id);
    }
    for (const PerimeterRule* rule : perimeter_rules())
      identities.push_back(perimeter_identity(*rule));
    auto allocation = allocate_ids(identities, options_.previous_rule_ids, VW_MAX_RULES - 1);
    if (!allocation) {
      diagnostics_.error("", "no free rule ids: " + std::to_string(identities.size()) +
                                 " rules need ids below " + std::to_string(VW_MAX_RULES));
      return;
    }
    out_.rule_ids = allocation->ids;
    out_.freed_rule_ids = allocation->freed;

    WrittenPrefixes written;
    compile_vault_rules(written);
    // Enforced: the perimeter's rules are the public rules (vnet 0 of both
    // families' tries; the source index serves the IPv4 ones); Transition:
    // a key space of their own in the same tries.
    uint32_t perimeter_vnet = vault_rules_compiled() ? VW_VNET_PERIMETER : VW_VNET_PUBLIC;
    for (const PerimeterRule* rule : perimeter_rules()) {
      CompiledRule compiled{id_of(perimeter_identity(*rule)),
                            VW_RULE_KIND_PERIMETER,
                            perimeter_vnet,
                            perimeter_identity(*rule),
                            true,
                            rule->prefixes,
                            rule->prefixes6};
      add_prefixes(compiled, written);
      out_.rules.push_back(std::move(compiled));
    }
    // (The slot writer derives these from the entries too; set here so the
    // compiled image says what it holds: public IPv6 rules go to
    // vw_public6_N with the trusted services' prefixes, the rest to
    // vw_rules6_N.)
    for (const auto& [key, value] : out_.image.rules6)
      out_.image.settings.flags |=
          is_public_rule6(key) ? VW_SETTINGS_HAS_PUBLIC6 : VW_SETTINGS_HAS_RULES6;
    std::sort(out_.rules.begin(), out_.rules.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const CompiledRule& rule : out_.rules) {
      vw_rule_info info{};
      info.kind = static_cast<uint16_t>(rule.kind);
      info.vnet_id = rule.vnet_id;
      copy_text(info.text, rule_info_text(rule.text));
      out_.rule_info.emplace_back(rule.id, info);
    }
  }

  // IP rules go under the public network (vnet 0) in the trie of their
  // family; a VNET rule takes its subnet's prefixes of both families.
  void compile_vault_rules(WrittenPrefixes& written) {
    if (!vault_rules_compiled()) return;
    for (const IpRule& rule : policy_.ip_rules) {
      CompiledRule compiled{id_of(rule.canonical()), VW_RULE_KIND_IP, VW_VNET_PUBLIC,
                            rule.canonical(),        true,            {}};
      if (const Ipv4Prefix* prefix = rule.ipv4()) compiled.prefixes = {*prefix};
      if (const Ipv6Prefix* prefix = rule.ipv6()) compiled.prefixes6 = {*prefix};
      add_prefixes(compiled, written);
      out_.rules.push_back(std::move(compiled));
    }
    for (const VnetRule& rule : policy_.vnet_rules) {
      const VirtualNetwork* vnet = policy_.find_virtual_network(rule.vnet_id());
      const Subnet* subnet = vnet ? vnet->find_subnet(rule.subnet_name()) : nullptr;
      if (!subnet) {  // only a policy read with validate --policy-only lacks them
        diagnostics_.error("", "virtual network rule " + rule.subnet_id +
                                   " has no host facts (segment, subnet prefixes); a policy checked with --policy-only cannot be compiled");
        continue;
      }
      uint32_t vnet_id = out_.vnet_ids.at(rule.vnet_id());
      CompiledRule compiled{id_of(rule.subnet_id), VW_RULE_KIND_VNET, vnet_id,
                            rule.subnet_id,        rule.active,       {}};
      if (rule.active) {
        compiled.prefixes = subnet->prefixes;
        compiled.prefixes6 = subnet->prefixes6;
      }
      add_prefixes(compiled, written);
      out_.rules.push_back(std::move(compiled));
    }
  }

  uint32_t id_of(const std::string& identity) const { return out_.rule_ids.at(identity); }

  void add_prefixes(const CompiledRule& rule, WrittenPrefixes& written) {
    // Validation forbids duplicates; the guards keep the tries consistent
    // (first rule wins) if a caller hands in an unvalidated policy.
    for (const Ipv4Prefix& prefix : rule.prefixes) {
      if (!written.ipv4.emplace(rule.vnet_id, prefix.network()).second) continue;
      out_.image.rules.push_back({rule_key(rule.vnet_id, prefix), vw_rule_value{rule.id}});
    }
    for (const Ipv6Prefix& prefix : rule.prefixes6) {
      if (!written.ipv6.emplace(rule.vnet_id, prefix.network()).second) continue;
      out_.image.rules6.push_back({rule6_key(rule.vnet_id, prefix), vw_rule_value{rule.id}});
    }
  }

  void compile_trusted() {
    std::vector<std::string> names;
    for (const TrustedService& service : trusted_.services) names.push_back(service.name);
    auto allocation = allocate_ids(names, options_.previous_service_ids, VW_MAX_SERVICES - 1);
    if (!allocation) {
      diagnostics_.error("vaultwall.trustedServices",
                         "no free service ids: " + std::to_string(names.size()) + " services");
      return;
    }
    out_.service_ids = allocation->ids;
    out_.freed_service_ids = allocation->freed;

    // The same prefix published under two tags goes to the lower service id
    // (the classifier breaks ties the same way).
    std::map<Ipv4Prefix, uint32_t> owner;
    std::map<Ipv6Prefix, uint32_t> owner6;
    auto own = [](auto& owners, const auto& prefix, uint32_t id) {
      auto [it, inserted] = owners.emplace(prefix.network(), id);
      if (!inserted) it->second = std::min(it->second, id);
    };
    for (const TrustedService& service : trusted_.services) {
      uint32_t id = out_.service_ids.at(service.name);
      out_.services.push_back({id, service.name, service.ipv4.size(), service.ipv6.size()});
      for (const Ipv4Prefix& prefix : service.ipv4) own(owner, prefix, id);
      for (const Ipv6Prefix& prefix : service.ipv6) own(owner6, prefix, id);
    }
    check_capacity(owner.size(), VW_MAX_TRUSTED_PREFIXES, "trusted prefixes");
    check_capacity(owner6.size(), VW_MAX_TRUSTED6_PREFIXES, "trusted IPv6 prefixes");
    for (const auto& [prefix, id] : owner)
      out_.image.trusted.push_back({trusted_key(prefix), vw_trusted_value{id}});
    for (const auto& [prefix, id] : owner6)
      out_.image.trusted6.push_back({trusted6_key(prefix), vw_trusted_value{id}});
    if (!out_.image.trusted6.empty()) out_.image.settings.flags |= VW_SETTINGS_HAS_PUBLIC6;
    std::sort(out_.services.begin(), out_.services.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const CompiledService& service : out_.services) {
      vw_service_info info{};
      copy_text(info.name, service.name);
      out_.service_info.emplace_back(service.id, info);
    }
  }

  void check_capacity(size_t count, size_t capacity, const std::string& what) {
    if (count > capacity)
      diagnostics_.error("vaultwall.trustedServices",
                         std::to_string(count) + " " + what +
                             " exceed the datapath's capacity of " + std::to_string(capacity));
  }

  void fill_info() {
    if (out_.image.rules.size() > VW_MAX_RULE_PREFIXES)
      diagnostics_.error("", std::to_string(out_.image.rules.size()) +
                                 " rule prefixes exceed the datapath's capacity of " +
                                 std::to_string(VW_MAX_RULE_PREFIXES));
    if (out_.image.rules6.size() > VW_MAX_RULE6_PREFIXES)
      diagnostics_.error("", std::to_string(out_.image.rules6.size()) +
                                 " IPv6 rule prefixes (IPv6 IP rules and subnet prefixes) exceed the datapath's capacity of " +
                                 std::to_string(VW_MAX_RULE6_PREFIXES));
    auto digest = sha256(digest_input(canonical_serialisation(policy_), trusted_));
    out_.digest_hex = to_hex(digest.data(), digest.size());
    auto shared = sha256(digest_input(canonical_policy_serialisation(policy_), trusted_));
    out_.policy_digest_hex = to_hex(shared.data(), shared.size());
    vw_policy_info& info = out_.image.info;
    std::memcpy(info.digest, digest.data(), VW_DIGEST_LEN);
    std::memcpy(info.policy_digest, shared.data(), VW_DIGEST_LEN);
    copy_text(info.profile, to_string(policy_.host.profile));
    info.rule_prefixes = static_cast<uint32_t>(out_.image.rules.size() + out_.image.rules6.size());
    info.trusted_prefixes =
        static_cast<uint32_t>(out_.image.trusted.size() + out_.image.trusted6.size());
  }

  const Policy& policy_;
  const TrustedSet& trusted_;
  const CompileOptions& options_;
  Diagnostics& diagnostics_;
  CompiledPolicy out_;
};

}  // namespace

std::string rule_info_text(std::string_view identity) {
  constexpr size_t kMax = VW_RULE_TEXT_LEN - 1;
  if (identity.size() <= kMax) return std::string(identity);
  std::string hash = sha256_hex(identity).substr(0, 12);
  std::string head = "~" + hash + "~";
  return head + std::string(identity.substr(identity.size() - (kMax - head.size())));
}

std::optional<IdAllocation> allocate_ids(const std::vector<std::string>& identities,
                                         const IdAssignment& previous, uint32_t max_id) {
  // Previous keys may be full identities or their vw_rule_info form.
  std::map<std::string, uint32_t> previous_by_text;
  for (const auto& [identity, id] : previous) previous_by_text[rule_info_text(identity)] = id;

  IdAllocation out;
  std::set<uint32_t> used;
  std::vector<const std::string*> fresh;
  for (const std::string& identity : identities) {
    if (out.ids.count(identity)) continue;
    auto it = previous_by_text.find(rule_info_text(identity));
    if (it != previous_by_text.end() && it->second >= 1 && it->second <= max_id &&
        !used.count(it->second)) {
      out.ids[identity] = it->second;
      used.insert(it->second);
    } else {
      fresh.push_back(&identity);
    }
  }
  // Ids still held by a previous rule are not handed out in the same apply:
  // their counters are zeroed first (freed), so give the lowest id that is
  // neither in use now nor just freed, and only reuse freed ones when full.
  std::set<uint32_t> freed;
  for (const auto& [text, id] : previous_by_text)
    if (!used.count(id)) freed.insert(id);
  uint32_t candidate = 1;
  for (const std::string* identity : fresh) {
    while (candidate <= max_id && (used.count(candidate) || freed.count(candidate))) ++candidate;
    uint32_t id = candidate;
    if (id > max_id) {
      auto reuse =
          std::find_if(freed.begin(), freed.end(), [&](uint32_t f) { return !used.count(f); });
      if (reuse == freed.end()) return std::nullopt;
      id = *reuse;
    }
    out.ids[*identity] = id;
    used.insert(id);
  }
  for (uint32_t id : freed) out.freed.push_back(id);
  return out;
}

IdAssignment rule_ids_from_info(const std::vector<std::pair<uint32_t, vw_rule_info>>& info) {
  IdAssignment out;
  for (const auto& [id, entry] : info) {
    if (entry.kind == VW_RULE_KIND_UNUSED || id == VW_RULE_NONE) continue;
    out[std::string(entry.text, strnlen(entry.text, VW_RULE_TEXT_LEN))] = id;
  }
  return out;
}

IdAssignment service_ids_from_info(const std::vector<std::pair<uint32_t, vw_service_info>>& info) {
  IdAssignment out;
  for (const auto& [id, entry] : info) {
    std::string name(entry.name, strnlen(entry.name, VW_SERVICE_NAME_LEN));
    if (!name.empty() && id != VW_SERVICE_NONE) out[name] = id;
  }
  return out;
}

std::string policy_digest_hex(const Policy& policy, const TrustedSet& trusted) {
  return sha256_hex(digest_input(canonical_serialisation(policy), trusted));
}

std::string shared_policy_digest_hex(const Policy& policy, const TrustedSet& trusted) {
  return sha256_hex(digest_input(canonical_policy_serialisation(policy), trusted));
}

std::map<std::string, uint32_t> virtual_network_ids(const Policy& policy) {
  std::vector<std::string> ids;
  for (const VirtualNetwork& vnet : policy.host.virtual_networks) ids.push_back(vnet.id);
  std::sort(ids.begin(), ids.end());
  std::map<std::string, uint32_t> out;
  for (size_t i = 0; i < ids.size(); ++i) out[ids[i]] = static_cast<uint32_t>(i + 1);
  return out;
}

Checked<CompiledPolicy> compile_policy(const Policy& policy, const TrustedSet& trusted,
                                       const CompileOptions& options) {
  Diagnostics diagnostics;
  CompiledPolicy compiled = Compiler(policy, trusted, options, diagnostics).run();
  Checked<CompiledPolicy> result;
  if (!diagnostics.has_errors()) result.value = std::move(compiled);
  result.diagnostics = diagnostics.take();
  return result;
}

}  // namespace vaultwall
