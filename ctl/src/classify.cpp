// The reference classifier: DESIGN §1.1 (scope) and §1.2 (decision), read
// straight off the normalised policy with linear scans. Deliberately shares
// nothing with the compiler or the XDP program but the verdict classes, so
// a differential test between them means something.
#include "vaultwall/policy/classify.h"

#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace vaultwall {
namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;

// The most specific of several matches: longest prefix, then lowest id.
template <class Match>
std::optional<Match> most_specific(const std::vector<Match>& matches, auto id_of) {
  if (matches.empty()) return std::nullopt;
  return *std::min_element(matches.begin(), matches.end(), [&](const Match& a, const Match& b) {
    if (a.prefix.length != b.prefix.length) return a.prefix.length > b.prefix.length;
    return id_of(a) < id_of(b);
  });
}

// A rule prefix of one address family that holds the packet's source.
template <typename Prefix>
struct FamilyMatch {
  uint32_t rule_id = 0;
  std::string text;  // canonical identity
  uint32_t kind = VW_RULE_KIND_UNUSED;
  Prefix prefix;
};

template <typename Prefix>
const Prefix* family_prefix(const IpRule& rule) {
  if constexpr (std::is_same_v<Prefix, Ipv4Prefix>)
    return rule.ipv4();
  else
    return rule.ipv6();
}

template <typename Prefix>
const std::vector<Prefix>& family_prefixes(const Subnet& subnet) {
  if constexpr (std::is_same_v<Prefix, Ipv4Prefix>)
    return subnet.prefixes;
  else
    return subnet.prefixes6;
}

template <typename Prefix>
const std::vector<Prefix>& family_prefixes(const PerimeterRule& rule) {
  if constexpr (std::is_same_v<Prefix, Ipv4Prefix>)
    return rule.prefixes;
  else
    return rule.prefixes6;
}

class Classifier {
 public:
  Classifier(const Policy& policy, const ClassifierContext& context,
             const PacketDescription& packet)
      : policy_(policy), context_(context), packet_(packet) {}

  Classification run() {
    if (packet_.malformed)
      return finish(VW_CLASS_MALFORMED,
                    "headers cannot be parsed: fail closed, dropped in every mode");
    if (packet_.family == PacketFamily::kNotIp)
      return finish(VW_CLASS_NOT_IP, "not IP (ARP, LLDP, ...): passed untouched");
    if (packet_.family == PacketFamily::kIpv6) return classify_ipv6();
    return classify_ipv4();
  }

 private:
  // ---- §1.1 scope ----

  std::vector<PortSpec> protected_ports() const {
    return policy_.host.ports.empty() ? std::vector<PortSpec>{PortSpec{kProtoTcp, 443}}
                                      : policy_.host.ports;
  }

  bool protected_protocol() const {
    for (const PortSpec& port : protected_ports())
      if (port.proto == packet_.proto) return true;
    return false;
  }

  bool protected_port() const {
    for (const PortSpec& port : protected_ports())
      if (port.proto == packet_.proto && port.port == packet_.destination_port) return true;
    return false;
  }

  bool declared(const TunnelKind& tunnel) const {
    const auto& names = policy_.host.tunnels;
    return std::find(names.begin(), names.end(), tunnel.name) != names.end();
  }

  // The undeclared tunnel this packet is, if any (for UDP: by its port).
  const TunnelKind* undeclared_tunnel() const {
    const TunnelKind* tunnel = find_tunnel(packet_.proto, packet_.destination_port);
    return tunnel && !declared(*tunnel) ? tunnel : nullptr;
  }

  bool is_tcp_or_udp() const { return packet_.proto == kProtoTcp || packet_.proto == kProtoUdp; }

  // Whether the protocol can carry data plane: a protected port uses it, or
  // it is an undeclared tunnel (UDP: may be one, by port).
  bool data_plane_protocol() const {
    if (protected_protocol()) return true;
    for (const TunnelKind& tunnel : tunnel_kinds())
      if (tunnel.proto == packet_.proto && !declared(tunnel)) return true;
    return false;
  }

  const PrivateEndpoint* private_endpoint() const {
    for (const PrivateEndpoint& endpoint : policy_.host.private_endpoints)
      if (endpoint.address == packet_.destination) return &endpoint;
    return nullptr;
  }
  bool is_private_endpoint() const { return private_endpoint() != nullptr; }

  bool is_private_endpoint_or_listed() const {
    const auto& addresses = policy_.host.addresses;
    return is_private_endpoint() ||
           std::find(addresses.begin(), addresses.end(), packet_.destination) != addresses.end();
  }

  static bool broadcast_or_multicast(uint32_t address) {
    return (address >> 28) == 0xe || address == 0xffffffffu;
  }

  enum class Probe { kNone, kSocket, kRoute };  // what the kernel can be asked (see the program)

  // Listed addresses and private endpoints; every destination when none is
  // listed; otherwise, under listen "any", whatever the host keeps for a
  // socket bound to the wildcard address (the weak host model).
  bool protected_destination(Probe probe) {
    if (is_private_endpoint_or_listed() || policy_.host.addresses.empty()) return true;
    if (packet_.ip_options) {
      step("IPv4 options (a source route may be among them): the host may deliver it to any "
           "address on the route, so it is decided as to a protected address");
      return true;
    }
    if (policy_.host.listen == Listen::kAddresses) return false;
    if (broadcast_or_multicast(packet_.destination)) {
      step("destination " + format_ipv4(packet_.destination) +
           " is broadcast or multicast: a socket bound to 0.0.0.0 receives it (weak host)");
      return true;
    }
    bool kept = !packet_.forwarded;
    if (probe == Probe::kSocket && packet_.wildcard_socket && kept) {
      step(
          "destination " + format_ipv4(packet_.destination) +
          " is not listed, but a socket bound to the wildcard address owns its port and the host keeps the packet (weak host)");
      return true;
    }
    if (probe == Probe::kRoute && kept) {
      step("destination " + format_ipv4(packet_.destination) +
           " is not listed, but the host keeps the packet and could open the tunnel (weak host)");
      return true;
    }
    return false;
  }

  Classification unprotected_destination() {
    return finish(VW_CLASS_UNPROTECTED, "destination " + format_ipv4(packet_.destination) +
                                            " is not a protected address: passed untouched");
  }

  Classification classify_ipv4() {
    if (!data_plane_protocol())
      return finish(VW_CLASS_UNPROTECTED,
                    "no data-plane port or undeclared tunnel uses this protocol: passed untouched");
    if (packet_.port_unreadable)
      return protected_destination(Probe::kNone)
                 ? finish(
                       VW_CLASS_MALFORMED,
                       "the header ends before the port, to a protected address: fail closed, dropped in every mode")
                 : unprotected_destination();
    if (packet_.later_fragment) {
      // Its port is unknown. UDP tunnels alone do not make UDP fragments
      // data plane: the datagram cannot be reassembled without its first
      // fragment, which carries the port and is decided.
      if (!protected_protocol() && (is_tcp_or_udp() || !undeclared_tunnel()))
        return finish(
            VW_CLASS_UNPROTECTED,
            "non-first fragment of a protocol that is not data plane by itself: passed untouched");
      if (!protected_destination(Probe::kNone)) return unprotected_destination();
      step("non-first fragment: port unknown, decided by its source (fail closed)");
      decide_ipv4();
      return finish_as_fragment();
    }
    if (!is_tcp_or_udp()) {  // an undeclared IP tunnel
      if (!protected_destination(Probe::kRoute)) return unprotected_destination();
      note_tunnel();
      decide_ipv4();
      return finish(result_.verdict_class, "");
    }
    if (!protected_port() && !undeclared_tunnel())
      return finish(VW_CLASS_UNPROTECTED, "port " + std::to_string(packet_.destination_port) +
                                              " is not a data-plane port: passed untouched");
    if (!protected_destination(Probe::kSocket)) return unprotected_destination();
    if (!protected_port()) note_tunnel();
    decide_ipv4();
    return finish(result_.verdict_class, "");
  }

  // A non-first fragment's verdict, decided by its source: a fragment
  // carries no port, so no rule or service is credited.
  Classification finish_as_fragment() {
    uint32_t fragment_class = verdict_class_drops(result_.verdict_class)
                                  ? VW_CLASS_FRAGMENT_DENY
                                  : VW_CLASS_FRAGMENT_ALLOW;
    result_.rule_id = VW_RULE_NONE;
    result_.service_id = VW_SERVICE_NONE;
    return finish(fragment_class, "counted as a fragment");
  }

  void note_tunnel() {
    if (const TunnelKind* tunnel = undeclared_tunnel())
      step(
          std::string(tunnel->description) +
          " is a tunnel the kernel would open: data plane, decided by the outer source (declare it in vaultwall.dataPlane.tunnels once its device carries the filter)");
  }

  Classification classify_ipv6() {
    if (packet_.later_fragment) {
      step("IPv6 non-first fragment: port unknown, decided by its source (fail closed)");
      decide_ipv6();
      return finish_as_fragment();
    }
    if (!packet_.transport_unknown) {
      if (!data_plane_protocol() || (is_tcp_or_udp() && !protected_port() && !undeclared_tunnel()))
        return finish(VW_CLASS_UNPROTECTED, "not to a data-plane port: passed untouched");
      if (!protected_port()) note_tunnel();
    } else {
      step("IPv6 transport unknown: treated as data plane (fail closed)");
    }
    decide_ipv6();
    return finish(result_.verdict_class, "");
  }

  // An IPv4-mapped source (::ffff:a.b.c.d) is decided as a.b.c.d; any other
  // by the IPv6 prefixes of rules and trusted services, then the default
  // action (IPV6_ALLOW / IPV6_DENY); a perimeter acts as on IPv4.
  void decide_ipv6() {
    if (auto mapped = ipv4_mapped(packet_.source6)) {
      step("source " + format_ipv6(packet_.source6) + " is IPv4-mapped: decided as " +
           format_ipv4(*mapped));
      packet_.source = *mapped;
      packet_.destination = 0;  // an IPv6 destination: no private endpoint
      decide_ipv4();
      return;
    }
    find_vnet();
    if (private_endpoint6_admits()) return;
    decide_under_perimeter<Ipv6Prefix>();
  }

  // Steps 2-5 under the vault's own rules, for an IPv6 source.
  void decide_vault_rules6() {
    if (policy_.public_network_access == PublicNetworkAccess::kDisabled) {
      step("2. publicNetworkAccess Disabled: rules do not apply");
      trusted6_or(VW_CLASS_IPV6_DENY, "denied (public network access disabled)");
      return;
    }
    if (credit_rule6()) return;
    step("3. no rule matches");
    bool deny = policy_.default_action == DefaultAction::kDeny;
    trusted6_or(deny ? VW_CLASS_IPV6_DENY : VW_CLASS_IPV6_ALLOW,
                deny ? "5. defaultAction Deny: denied" : "5. defaultAction Allow: allowed");
  }

  // Step 1 for an IPv6 destination, as for IPv4: an IPv6 private endpoint
  // admits traffic from its virtual network (any, when not bound to one).
  bool private_endpoint6_admits() {
    const PrivateEndpoint6* endpoint = nullptr;
    for (const PrivateEndpoint6& e : policy_.host.private_endpoints6)
      if (e.address == packet_.destination6) endpoint = &e;
    if (!endpoint) return false;
    bool from_its_network = !result_.vnet.empty() && (endpoint->virtual_network.empty() ||
                                                      endpoint->virtual_network == result_.vnet);
    if (from_its_network) {
      set_class(VW_CLASS_PRIVATE_ENDPOINT,
                "1. destination is a private endpoint reached from its virtual network: allowed");
      return true;
    }
    step("1. destination " + format_ipv6(packet_.destination6) +
         " is a private endpoint, but the packet does not come from its virtual network, so the rules decide");
    return false;
  }

  using RuleMatch6 = FamilyMatch<Ipv6Prefix>;

  // Step 3 for an IPv6 source: the longest IPv6 rule prefix holding it
  // (IP rules from the internet, subnet prefixes from their virtual
  // network) is credited; false when none does.
  bool credit_rule6() {
    auto rules = matching_rules_of<Ipv6Prefix>(packet_.source6);
    auto best = most_specific(rules, [](const RuleMatch6& m) { return m.rule_id; });
    if (!best) return false;
    result_.rule_id = best->rule_id;
    for (const RuleMatch6& match : rules)
      if (match.rule_id != best->rule_id)
        result_.other_rules.push_back({match.rule_id, match.text, match.kind, {}, match.prefix});
    set_class(result_.vnet_id == VW_VNET_PUBLIC ? VW_CLASS_IP_RULE : VW_CLASS_VNET_RULE,
              "3. rule " + best->text + " (id " + std::to_string(best->rule_id) + ") matches " +
                  best->prefix.cidr() + ": allowed");
    return true;
  }

  // The subnet of an active VNET rule of the packet's virtual network.
  const Subnet* active_subnet_of(const VnetRule& rule) const {
    if (!rule.active || rule.vnet_id() != result_.vnet) return nullptr;
    const VirtualNetwork* vnet = policy_.find_virtual_network(rule.vnet_id());
    return vnet ? vnet->find_subnet(rule.subnet_name()) : nullptr;
  }

  struct ServiceMatch6 {
    uint32_t service_id = 0;
    std::string name;
    Ipv6Prefix prefix;
  };

  std::vector<ServiceMatch6> matching_services6() const {
    return services_holding<ServiceMatch6>(&TrustedService::ipv6, packet_.source6);
  }

  // Step 4 for an IPv6 source, then `fallback`.
  void trusted6_or(uint32_t fallback, const std::string& fallback_step) {
    if (policy_.bypass != Bypass::kAzureServices) {
      step("4. bypass None: trusted services not considered");
    } else if (auto best = most_specific(matching_services6(),
                                         [](const ServiceMatch6& m) { return m.service_id; })) {
      result_.service_id = best->service_id;
      set_class(VW_CLASS_TRUSTED,
                "4. trusted service " + best->name + " (" + best->prefix.cidr() + "): allowed");
      return;
    } else {
      step("4. source is not in a trusted-service prefix");
    }
    set_class(fallback, fallback_step);
  }

  // ---- §1.2 decision ----

  void decide_ipv4() {
    find_vnet();
    if (const PrivateEndpoint* endpoint = private_endpoint()) {
      bool from_its_network = !result_.vnet.empty() && (endpoint->virtual_network.empty() ||
                                                        endpoint->virtual_network == result_.vnet);
      if (from_its_network) {
        set_class(VW_CLASS_PRIVATE_ENDPOINT,
                  "1. destination is a private endpoint reached from its virtual network: allowed");
        return;
      }
      step(std::string("1. destination is a private endpoint, but the packet comes from ") +
           (result_.vnet.empty() ? "the internet" : "another virtual network") +
           ": a private endpoint is reached only through " +
           (endpoint->virtual_network.empty() ? "a virtual network" : endpoint->virtual_network) +
           ", so the rules decide");
    }
    decide_under_perimeter<Ipv4Prefix>();
  }

  // Steps 2-5 for a source of Prefix's family, as the perimeter's access
  // mode has them.
  template <typename Prefix>
  void decide_under_perimeter() {
    auto vault_rules = [this] {
      if constexpr (std::is_same_v<Prefix, Ipv4Prefix>)
        decide_vault_rules();
      else
        decide_vault_rules6();
    };
    switch (policy_.perimeter_effect()) {
      case PerimeterEffect::kEnforced:
        decide_enforced_perimeter<Prefix>();
        return;
      case PerimeterEffect::kTransition:
        vault_rules();
        decide_transition_perimeter<Prefix>();
        return;
      case PerimeterEffect::kNone:
        vault_rules();
        return;
    }
  }

  // Steps 2-5 under the vault's own rules.
  void decide_vault_rules() {
    auto rules = matching_rules();
    if (policy_.public_network_access == PublicNetworkAccess::kDisabled) {
      step("2. publicNetworkAccess Disabled: rules do not apply");
      result_.other_rules = rules;
      trusted_or(VW_CLASS_PUBLIC_DISABLED, "denied (public network access disabled)");
      return;
    }
    if (auto best = most_specific(rules, [](const RuleMatch& m) { return m.rule_id; })) {
      result_.rule_id = best->rule_id;
      for (const RuleMatch& match : rules)
        if (match.rule_id != best->rule_id) result_.other_rules.push_back(match);
      set_class(result_.vnet_id == VW_VNET_PUBLIC ? VW_CLASS_IP_RULE : VW_CLASS_VNET_RULE,
                "3. rule " + best->text + " (id " + std::to_string(best->rule_id) + ") matches " +
                    best->cidr() + ": allowed");
      // Trusted prefixes that also match are worth showing, not crediting.
      result_.other_services = matching_services();
      return;
    }
    step("3. no rule matches");
    bool deny = policy_.default_action == DefaultAction::kDeny;
    trusted_or(deny ? VW_CLASS_DEFAULT_DENY : VW_CLASS_DEFAULT_ALLOW,
               deny ? "5. defaultAction Deny: denied" : "5. defaultAction Allow: allowed");
  }

  // An enforced perimeter (Enforced, or SecuredByPerimeter): only its
  // address rules admit internet sources, of either family; the vault's
  // rules, the trusted services and every virtual network are overridden,
  // and what nothing admits is the perimeter's deny (IPv6 too: there is no
  // default action for it to get).
  template <typename Prefix>
  void decide_enforced_perimeter() {
    if (!result_.vnet.empty()) {
      set_class(VW_CLASS_PERIMETER_DENY,
                "2. perimeter enforced: it admits internet sources by address only, not virtual network " +
                    result_.vnet + ": denied");
      return;
    }
    if (auto best = best_perimeter_rule<Prefix>()) {
      result_.rule_id = best->rule_id;
      set_class(VW_CLASS_PERIMETER_RULE, "2. perimeter enforced: access rule " +
                                             best->text.substr(kPerimeterPrefix.size()) + " (id " +
                                             std::to_string(best->rule_id) + ") admits " +
                                             best->prefix.cidr() + ": allowed");
      return;
    }
    set_class(VW_CLASS_PERIMETER_DENY,
              "2. perimeter enforced: no access rule admits the source (the vault's rules and the trusted-services bypass are overridden): denied");
  }

  // A perimeter in Transition: its address rules admit internet sources
  // as well; what only the vault's rules admit is a would-be deny.
  template <typename Prefix>
  void decide_transition_perimeter() {
    if (result_.vnet.empty())
      if (auto best = best_perimeter_rule<Prefix>()) {
        result_.rule_id = best->rule_id;
        result_.service_id = VW_SERVICE_NONE;
        set_class(VW_CLASS_PERIMETER_RULE, "perimeter (Transition): access rule " +
                                               best->text.substr(kPerimeterPrefix.size()) +
                                               " admits " + best->prefix.cidr() + ": allowed");
        return;
      }
    if (verdict_class_drops(result_.verdict_class)) {
      step("perimeter (Transition): no access rule admits the source either");
      return;
    }
    set_class(VW_CLASS_PERIMETER_WOULD_DENY,
              "perimeter (Transition): no access rule admits the source; allowed by the vault's rules, would be denied once the perimeter is enforced (logged)");
  }

  // The longest perimeter prefix of Prefix's family holding the source.
  template <typename Prefix>
  std::optional<FamilyMatch<Prefix>> best_perimeter_rule() const {
    std::vector<FamilyMatch<Prefix>> matches;
    for (const PerimeterRule& rule : policy_.host.perimeter->inbound) {
      std::string identity = std::string(kPerimeterPrefix) + rule.name;
      for (const Prefix& prefix : family_prefixes<Prefix>(rule))
        if (prefix.contains(source_of<Prefix>()))
          matches.push_back({rule_id(identity), identity, VW_RULE_KIND_PERIMETER, prefix});
    }
    return most_specific(matches, [](const FamilyMatch<Prefix>& m) { return m.rule_id; });
  }

  template <typename Prefix>
  const auto& source_of() const {
    if constexpr (std::is_same_v<Prefix, Ipv4Prefix>)
      return packet_.source;
    else
      return packet_.source6;
  }

  static constexpr std::string_view kPerimeterPrefix = "perimeter:";

  // Step 4, then `fallback`.
  void trusted_or(uint32_t fallback, const std::string& fallback_step) {
    if (policy_.bypass == Bypass::kAzureServices) {
      auto services = matching_services();
      if (auto best = most_specific(services, [](const ServiceMatch& m) { return m.service_id; })) {
        result_.service_id = best->service_id;
        for (const ServiceMatch& match : services)
          if (match.service_id != best->service_id) result_.other_services.push_back(match);
        set_class(VW_CLASS_TRUSTED,
                  "4. trusted service " + best->name + " (" + best->prefix.cidr() + "): allowed");
        return;
      }
      step("4. source is not in a trusted-service prefix");
    } else {
      step("4. bypass None: trusted services not considered");
    }
    set_class(fallback, fallback_step);
  }

  // §1.3: the segment the packet arrived on names its virtual network.
  // Interface+VLAN is the most specific; a VLAN-only segment matches the
  // tag on any interface; an interface-only segment takes untagged frames.
  void find_vnet() {
    if (vnet_known_) return;
    vnet_known_ = true;
    const VirtualNetwork* found = nullptr;
    int found_rank = 0;
    for (const VirtualNetwork& vnet : policy_.host.virtual_networks) {
      const Segment& segment = vnet.segment;
      std::optional<uint32_t> ifindex;
      if (segment.interface && context_.resolve_interface)
        ifindex = context_.resolve_interface(*segment.interface);
      if (segment.interface && (!ifindex || *ifindex != packet_.ifindex)) continue;
      if (segment.vlan.value_or(0) != packet_.vlan) continue;
      int rank = segment.interface ? 2 : 1;
      if (rank > found_rank) found = &vnet, found_rank = rank;
    }
    if (!found) {
      step("source network: public internet (no virtual network segment)");
      return;
    }
    result_.vnet = found->id;
    auto id = context_.vnet_ids.find(found->id);
    result_.vnet_id = id == context_.vnet_ids.end() ? 0 : id->second;
    step("source network: virtual network " + found->id);
  }

  uint32_t rule_id(const std::string& identity) const {
    auto it = context_.rule_ids.find(identity);
    if (it == context_.rule_ids.end()) it = context_.rule_ids.find(rule_info_text(identity));
    return it == context_.rule_ids.end() ? VW_RULE_NONE : it->second;
  }

  // IP rules apply to internet traffic; a VNET rule to traffic from its
  // virtual network with a source inside its subnet (and only when active).
  // One walk for either family: Prefix is Ipv4Prefix or Ipv6Prefix.
  template <typename Prefix, typename Address>
  std::vector<FamilyMatch<Prefix>> matching_rules_of(const Address& source) const {
    std::vector<FamilyMatch<Prefix>> out;
    if (result_.vnet.empty()) {
      for (const IpRule& rule : policy_.ip_rules)
        if (const Prefix* prefix = family_prefix<Prefix>(rule); prefix && prefix->contains(source))
          out.push_back({rule_id(rule.canonical()), rule.canonical(), VW_RULE_KIND_IP, *prefix});
      return out;
    }
    for (const VnetRule& rule : policy_.vnet_rules)
      if (const Subnet* subnet = active_subnet_of(rule))
        for (const Prefix& prefix : family_prefixes<Prefix>(*subnet))
          if (prefix.contains(source))
            out.push_back({rule_id(rule.subnet_id), rule.subnet_id, VW_RULE_KIND_VNET, prefix});
    return out;
  }

  std::vector<RuleMatch> matching_rules() const {
    std::vector<RuleMatch> out;
    for (auto& match : matching_rules_of<Ipv4Prefix>(packet_.source))
      out.push_back({match.rule_id, std::move(match.text), match.kind, match.prefix});
    return out;
  }

  std::vector<ServiceMatch> matching_services() const {
    return services_holding<ServiceMatch>(&TrustedService::ipv4, packet_.source);
  }

  // The trusted prefixes of one family (TrustedService::ipv4 or ::ipv6)
  // that hold `source`.
  template <class Match, class Prefixes, class Address>
  std::vector<Match> services_holding(Prefixes TrustedService::*family,
                                      const Address& source) const {
    std::vector<Match> out;
    if (!context_.trusted) return out;
    for (const TrustedService& service : context_.trusted->services)
      for (const auto& prefix : service.*family)
        if (prefix.contains(source)) out.push_back({service_id(service.name), service.name, prefix});
    return out;
  }

  uint32_t service_id(const std::string& name) const {
    auto id = context_.service_ids.find(name);
    return id == context_.service_ids.end() ? VW_SERVICE_NONE : id->second;
  }

  void set_class(uint32_t verdict_class, const std::string& why) {
    result_.verdict_class = verdict_class;
    step(why);
  }

  void step(const std::string& text) {
    if (!text.empty()) result_.steps.push_back(text);
  }

  // §1.2 step 6 (audit), then the action.
  Classification finish(uint32_t verdict_class, const std::string& why) {
    result_.verdict_class = verdict_class;
    step(why);
    if (policy_.host.mode == Mode::kAudit && verdict_class < VW_CLASS_COUNT &&
        VW_CLASS_POLICY_DENIES(verdict_class)) {
      result_.verdict_class = VW_CLASS_AUDIT_DENY;
      step("6. audit mode: would be denied, passed and logged");
    }
    result_.passes = !verdict_class_drops(result_.verdict_class);
    if (policy_.host.deny_action == DenyAction::kReject && verdict_class < VW_CLASS_COUNT &&
        VW_CLASS_POLICY_DENIES(result_.verdict_class))
      note_reject();
    return result_;
  }

  // denyAction reject answers a denied TCP segment that is not a RST, when
  // neither address is in the program's no-reply set (bpf/reject.h); the RST
  // flag and MACs are not part of a description.
  void note_reject() {
    if (packet_.proto == 6 && !packet_.later_fragment && replies_may_go_to_the_source()) {
      result_.rejected = true;
      step("7. denyAction reject: would be rejected, answered at once with a TCP RST (within "
           "the per-CPU reply budget; dropped past it)");
    } else {
      step("7. denyAction reject: dropped without a reply (only first TCP segments to a unicast "
           "address are answered)");
    }
  }

  // bpf/reject.h's set: multicast, 240/4, 0/8, loopback, the host's own
  // address as the source; on IPv6 also :: and a link-local source to a
  // wider scope, an IPv4-mapped address checked as IPv4. An unspecified
  // destination (0) is one explain was not given: not checked.
  static bool ipv4_no_reply(uint32_t a) {
    return (a >> 28) >= 0xe || (a >> 24) == 0 || (a >> 24) == 127;
  }
  static bool ipv6_no_reply(const Ipv6Address& a) {
    if (a[0] == 0xff) return true;
    if (auto mapped = ipv4_mapped(a)) return ipv4_no_reply(*mapped);
    return std::all_of(a.begin(), a.end() - 1, [](uint8_t b) { return b == 0; }) && a[15] <= 1;
  }
  static bool link_local(const Ipv6Address& a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }
  bool replies_may_go_to_the_source() const {
    if (packet_.family == PacketFamily::kIpv4)
      return !ipv4_no_reply(packet_.source) && packet_.source != packet_.destination &&
             (packet_.destination == 0 || !ipv4_no_reply(packet_.destination));
    const Ipv6Address& source = packet_.source6;
    const Ipv6Address& destination = packet_.destination6;
    const bool given = destination != Ipv6Address{};
    return !ipv6_no_reply(source) &&
           !(given && (source == destination || ipv6_no_reply(destination) ||
                       (link_local(source) && !link_local(destination))));
  }

  const Policy& policy_;
  const ClassifierContext& context_;
  PacketDescription packet_;  // a copy: an IPv4-mapped source is decided as IPv4
  Classification result_;
  bool vnet_known_ = false;
};

}  // namespace

ClassifierContext context_for(const CompiledPolicy& compiled, const TrustedSet& trusted,
                              InterfaceResolver resolve_interface) {
  ClassifierContext context;
  context.trusted = &trusted;
  context.rule_ids = compiled.rule_ids;
  context.service_ids = compiled.service_ids;
  context.vnet_ids = compiled.vnet_ids;
  context.resolve_interface = std::move(resolve_interface);
  return context;
}

Classification classify(const Policy& policy, const ClassifierContext& context,
                        const PacketDescription& packet) {
  return Classifier(policy, context, packet).run();
}

std::string_view verdict_class_name(uint32_t verdict_class) {
  switch (verdict_class) {
#define VW_CLASS_NAME_CASE_(token, value, name, drops, logs) \
  case value:                                                \
    return name;
    VW_CLASSES(VW_CLASS_NAME_CASE_)
#undef VW_CLASS_NAME_CASE_
    default:
      return "unknown";
  }
}

bool verdict_class_drops(uint32_t verdict_class) {
  return verdict_class < VW_CLASS_COUNT && VW_CLASS_DROPS(verdict_class);
}

bool verdict_class_logs(uint32_t verdict_class) {
  return verdict_class < VW_CLASS_COUNT && VW_CLASS_LOGS(verdict_class);
}

}  // namespace vaultwall
