// The reference classifier: DESIGN §1.1–1.2 as plain C++, over the
// normalised policy (not over the compiled maps), so it can check both the
// compiler and the XDP program, and explain a verdict to an operator.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vaultwall/policy/compile.h"
#include "vaultwall/policy/ipv6.h"
#include "vaultwall/policy/policy.h"
#include "vaultwall/policy/service_tags.h"
#include "vaultwall_abi.h"

namespace vaultwall {

enum class PacketFamily { kIpv4, kIpv6, kNotIp };

// One packet as the classifier needs it (addresses in host byte order).
struct PacketDescription {
  PacketFamily family = PacketFamily::kIpv4;
  uint32_t source = 0;
  uint32_t destination = 0;
  Ipv6Address source6{};       // IPv6 only (every IPv6 destination is protected)
  Ipv6Address destination6{};  // IPv6 only: an IPv6 private endpoint, or any
  uint8_t proto = 6;  // IPPROTO_TCP / IPPROTO_UDP / a tunnel's (GRE 47, ...) / other
  uint16_t destination_port = 443;
  uint32_t ifindex = 0;         // ingress interface
  uint16_t vlan = 0;            // 0 = untagged (inner tag when two)
  bool later_fragment = false;  // non-first fragment (port unknown)
  bool malformed = false;       // cut inside the IP header or a VLAN tag, third VLAN tag
  // IPv4: the options (IHL) or the TCP/UDP header end before the port can
  // be read: malformed when the destination alone proves it is protected
  // (listed, broadcast, multicast), else outside the data plane.
  bool port_unreadable = false;
  // IPv4 options present (IHL above 5): they may carry a source route,
  // which Linux (accepting source routes) follows to any local address on
  // the route, so the header's destination proves nothing; decided as to a
  // protected address.
  bool ip_options = false;
  // IPv6 only: the transport could not be identified (unknown extension
  // header chain) — fail closed, treated as data plane.
  bool transport_unknown = false;
  // What the kernel answers for an IPv4 destination that is not listed,
  // when dataPlane.listen is "any" (DESIGN §1.1, weak host model):
  bool wildcard_socket = false;  // the socket owning destination:port is bound to 0.0.0.0 or ::
  bool forwarded = false;        // the host would route the packet onwards, not keep it
};

struct RuleMatch {
  uint32_t rule_id = 0;
  std::string text;  // canonical identity
  uint32_t kind = VW_RULE_KIND_UNUSED;
  Ipv4Prefix prefix;                  // the prefix of the rule that matched (IPv4)
  std::optional<Ipv6Prefix> prefix6;  // instead, for an IPv6 source
  std::string cidr() const { return prefix6 ? prefix6->cidr() : prefix.cidr(); }
};

struct ServiceMatch {
  uint32_t service_id = 0;
  std::string name;
  Ipv4Prefix prefix;
};

struct Classification {
  uint32_t verdict_class = VW_CLASS_NOT_IP;  // VW_CLASS_*
  uint32_t rule_id = VW_RULE_NONE;           // credited rule
  uint32_t service_id = VW_SERVICE_NONE;     // credited trusted service
  bool passes = true;                        // XDP_PASS vs XDP_DROP
  // Dropped and answered with a TCP RST (denyAction reject, DESIGN §1.10),
  // budget permitting: what the program does then is XDP_TX.
  bool rejected = false;
  uint32_t vnet_id = VW_VNET_PUBLIC;         // where the packet came from
  std::string vnet;                          // its resource id, "" for internet
  std::vector<RuleMatch> other_rules;        // also match, not credited
  std::vector<ServiceMatch> other_services;  // trusted prefixes also matching
  std::vector<std::string> steps;            // the decision, one line per step
};

// What the classifier needs besides the policy: the enforced trusted set,
// the ids (as compiled or read back from vw_rule_info / vw_svc_info), the
// vnet ids, and interface names -> ifindex.
struct ClassifierContext {
  const TrustedSet* trusted = nullptr;
  IdAssignment rule_ids;
  IdAssignment service_ids;
  std::map<std::string, uint32_t> vnet_ids;
  InterfaceResolver resolve_interface;
};

// The context that matches a compiled policy (ids taken from it).
ClassifierContext context_for(const CompiledPolicy& compiled, const TrustedSet& trusted,
                              InterfaceResolver resolve_interface);

// The verdict DESIGN §1.1–1.2 gives this packet under this policy.
Classification classify(const Policy& policy, const ClassifierContext& context,
                        const PacketDescription& packet);

// "ip_rule", "default_deny", ... (the names of VW_CLASS_*).
std::string_view verdict_class_name(uint32_t verdict_class);
// Whether a class drops the packet.
bool verdict_class_drops(uint32_t verdict_class);
// Whether a class is a policy deny: it logs an event, and passes (as
// audit_would_deny) in audit mode.
bool verdict_class_logs(uint32_t verdict_class);

}  // namespace vaultwall
