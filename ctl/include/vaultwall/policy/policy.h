// The normalised policy: what a rule document means once parsed and
// validated. Every text field is in canonical form (Azure casing for enum
// values, canonical CIDR for IP rules, lower-cased resource ids), so two
// documents that mean the same thing give equal Policy values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vaultwall/policy/ipv4.h"
#include "vaultwall/policy/ipv6.h"

namespace vaultwall {

enum class DefaultAction { kAllow, kDeny };
enum class Bypass { kAzureServices, kNone };
// SecuredByPerimeter: the network security perimeter's access rules decide
// (vaultwall.perimeter), as if associated in Enforced mode.
enum class PublicNetworkAccess { kEnabled, kDisabled, kSecuredByPerimeter };
enum class Mode { kEnforce, kAudit };
// What a policy deny does in enforce mode (vaultwall.denyAction, DESIGN
// §1.10): drop silently, or answer TCP with a RST at once.
enum class DenyAction { kDrop, kReject };
// How the vault's data-plane sockets are bound (DESIGN §1.1, weak host):
// to the wildcard address ("any": whatever a local wildcard socket would
// receive on a protected port is data plane) or to the listed addresses
// only ("addresses": nothing else is).
enum class Listen { kAny, kAddresses };
// Which set of limits validation follows (DESIGN §1.5): Azure's, or
// dualstack (a vaultwall extension: akv-current's limits, IPv6 IP rules).
enum class Profile { kAkv2018, kAkvCurrent, kDualstack };
// A network security perimeter association's access mode (Azure's
// accessMode; "Learning" is Transition's former name).
enum class PerimeterMode { kTransition, kEnforced };

// Azure's spelling: "Allow", "Deny", "AzureServices", "None", "Enabled",
// "Disabled", "SecuredByPerimeter", "Transition", "Enforced"; ours:
// "enforce", "audit", "drop", "reject", "akv-2018", "akv-current", "dualstack".
std::string_view to_string(DefaultAction value);
std::string_view to_string(Bypass value);
std::string_view to_string(PublicNetworkAccess value);
std::string_view to_string(Mode value);
std::string_view to_string(DenyAction value);
std::string_view to_string(Profile value);
std::string_view to_string(Listen value);
std::string_view to_string(PerimeterMode value);
// Case-insensitive; nullopt for anything else.
std::optional<DefaultAction> parse_default_action(std::string_view text);
std::optional<Bypass> parse_bypass(std::string_view text);
std::optional<PublicNetworkAccess> parse_public_network_access(std::string_view text);
std::optional<Mode> parse_mode(std::string_view text);
std::optional<DenyAction> parse_deny_action(std::string_view text);
std::optional<Profile> parse_profile(std::string_view text);
std::optional<Listen> parse_listen(std::string_view text);
std::optional<PerimeterMode> parse_perimeter_mode(std::string_view text);  // also "Learning"

// A tunnel the kernel opens by itself (DESIGN §1.1): its packets to a
// protected address are data plane unless the operator declares it
// (vaultwall.dataPlane.tunnels), saying its decapsulating device carries
// the filter itself.
struct TunnelKind {
  std::string_view name;         // canonical: "vxlan", "gre", ...
  std::string_view description;  // "VXLAN (UDP 4789)"
  uint8_t proto;                 // IP protocol; 17 for the UDP tunnels
  uint16_t port;                 // UDP destination port; 0 for IP-protocol tunnels
  uint32_t bit;                  // VW_TUNNEL_*
};
// Every tunnel vaultwall knows, in VW_TUNNEL_* order.
const std::vector<TunnelKind>& tunnel_kinds();
// By name ("vxlan", any case) or by what it is ("udp/4789", "ip/47").
const TunnelKind* find_tunnel(std::string_view text);
const TunnelKind* find_tunnel(uint8_t proto, uint16_t port);

// A /32 is the individual address rule under every profile: Azure returns
// every single-address rule as "a.b.c.d/32" since it normalised addresses.
struct ProfileLimits {
  uint32_t max_ip_rules = 1000;
  uint32_t max_vnet_rules = 200;
  bool slash31_rejected = false;  // /31 ranges: "configure individual IP address rules"
  bool ipv6_ip_rules = false;     // IPv6 ipRules accepted (dualstack); Azure's are IPv4 only
  friend bool operator==(const ProfileLimits&, const ProfileLimits&) = default;
};
ProfileLimits profile_limits(Profile profile);

// An IP rule's network (no host bits): IPv4, or IPv6 under the dualstack
// profile. Both families share the rule list, its limit and its order.
struct IpRule {
  std::variant<Ipv4Prefix, Ipv6Prefix> network;
  const Ipv4Prefix* ipv4() const { return std::get_if<Ipv4Prefix>(&network); }
  const Ipv6Prefix* ipv6() const { return std::get_if<Ipv6Prefix>(&network); }
  // Identity: canonical CIDR, the bare address for a /32 or /128.
  std::string canonical() const {
    return std::visit([](const auto& prefix) { return prefix.canonical(); }, network);
  }
  friend bool operator==(const IpRule&, const IpRule&) = default;
};

struct VnetRule {
  std::string subnet_id;  // lower-cased full subnet resource id (identity)
  bool ignore_missing_vnet_service_endpoint = false;
  // Derived from the vaultwall section: false when the subnet lacks the
  // Microsoft.KeyVault service endpoint (kept, not compiled in).
  bool active = true;
  std::string vnet_id() const;      // subnet_id without "/subnets/<name>"
  std::string subnet_name() const;  // the last path segment
  friend bool operator==(const VnetRule&, const VnetRule&) = default;
};

struct PortSpec {
  uint8_t proto = 6;  // IPPROTO_TCP (6) or IPPROTO_UDP (17)
  uint16_t port = 443;
  std::string text() const;  // "tcp/443"
  friend auto operator<=>(const PortSpec&, const PortSpec&) = default;
};

// Where a virtual network's traffic enters the host.
struct Segment {
  std::optional<std::string> interface;  // ingress interface name
  std::optional<uint16_t> vlan;          // 802.1Q VLAN ID 1..4094
  friend bool operator==(const Segment&, const Segment&) = default;
};

struct Subnet {
  std::string name;                            // lower-cased
  std::vector<Ipv4Prefix> prefixes;            // addressPrefix, then addressPrefixes
  std::vector<Ipv6Prefix> prefixes6;           // the IPv6 ones of the same lists
  std::vector<std::string> service_endpoints;  // as written
  bool has_key_vault_endpoint() const;         // "Microsoft.KeyVault" (any case)
  friend bool operator==(const Subnet&, const Subnet&) = default;
};

struct VirtualNetwork {
  std::string id;  // lower-cased resource id of the virtual network
  Segment segment;
  std::vector<Subnet> subnets;
  const Subnet* find_subnet(std::string_view lower_name) const;
  friend bool operator==(const VirtualNetwork&, const VirtualNetwork&) = default;
};

// A private endpoint: reached only through a virtual network (Azure's
// private link), so only traffic from one is allowed in step 1.
struct PrivateEndpoint {
  uint32_t address = 0;
  std::string virtual_network;  // lower-cased vnet id it is bound to; "" = any
  friend auto operator<=>(const PrivateEndpoint&, const PrivateEndpoint&) = default;
};

// An IPv6 private endpoint (the same, reached with an IPv6 destination).
struct PrivateEndpoint6 {
  Ipv6Address address{};
  std::string virtual_network;  // lower-cased vnet id it is bound to; "" = any
  friend auto operator<=>(const PrivateEndpoint6&, const PrivateEndpoint6&) = default;
};

struct CustomTrustedService {
  std::string name;
  std::vector<Ipv4Prefix> prefixes;   // deduplicated
  std::vector<Ipv6Prefix> prefixes6;  // deduplicated
  friend bool operator==(const CustomTrustedService&, const CustomTrustedService&) = default;
};

struct TrustedServices {
  // Absolute when the document was read from a file (relative paths are
  // resolved against the document's directory); empty when not given.
  std::string service_tags_path;
  std::vector<std::string> services;  // service tag names, as the file spells them
  std::vector<CustomTrustedService> custom;
  friend bool operator==(const TrustedServices&, const TrustedServices&) = default;
};

// A perimeter inbound access rule. Its address prefixes (both families,
// under every profile: Azure's access rules take IPv6) are enforced; its
// subscriptions and perimeters admit by identity, which an L3 filter cannot
// see: kept and reported, never enforced.
struct PerimeterRule {
  std::string name;                        // as Azure names it (its identity)
  std::vector<Ipv4Prefix> prefixes;        // IPv4, deduplicated across rules
  std::vector<Ipv6Prefix> prefixes6;       // IPv6, deduplicated across rules
  std::vector<std::string> subscriptions;  // subscription ids, as written
  std::vector<std::string> perimeters;     // networkSecurityPerimeters ids, as written
  bool admits_by_identity() const { return !subscriptions.empty() || !perimeters.empty(); }
  friend bool operator==(const PerimeterRule&, const PerimeterRule&) = default;
};

// vaultwall.perimeter: the profile of the network security perimeter the
// vault is associated with (DESIGN §1.2, operations.md "Network security
// perimeter"). Outbound rules are not kept: Key Vault makes no outbound calls.
struct Perimeter {
  PerimeterMode mode = PerimeterMode::kTransition;  // Azure's default
  std::vector<PerimeterRule> inbound;
  friend bool operator==(const Perimeter&, const Perimeter&) = default;
};

// How a perimeter acts on this policy's data plane.
enum class PerimeterEffect {
  kNone,        // no perimeter: the vault's own rules decide
  kTransition,  // the vault's rules and the perimeter's admit; perimeter would-denies logged
  kEnforced,    // only the perimeter's rules (and private endpoints) admit
};

// The `vaultwall` section: vaultwall's extensions of the vault's policy
// (profile, limits, mode, trusted services, perimeter: the same on every
// host) and the host facts (ports, addresses, private endpoints, virtual
// networks and their segments, where the Service Tags file is: what only
// a host knows).
struct HostSection {
  Profile profile = Profile::kAkvCurrent;
  std::optional<uint32_t> max_ip_rules;     // limits.maxIpRules override
  std::optional<uint32_t> max_vnet_rules;   // limits.maxVirtualNetworkRules override
  std::vector<PortSpec> ports{PortSpec{}};  // default tcp/443
  std::vector<uint32_t> addresses;          // protected data-plane IPv4
  // Listed IPv6 ones: every IPv6 destination is protected anyway (DESIGN
  // §1.11); they are written to vw_endpoints6_N so verify covers them.
  std::vector<Ipv6Address> addresses6;
  Listen listen = Listen::kAny;
  std::vector<std::string> tunnels;  // declared tunnels, canonical names
  std::vector<PrivateEndpoint> private_endpoints;
  std::vector<PrivateEndpoint6> private_endpoints6;
  std::vector<VirtualNetwork> virtual_networks;
  TrustedServices trusted;
  Mode mode = Mode::kEnforce;
  DenyAction deny_action = DenyAction::kDrop;
  std::optional<Perimeter> perimeter;
  friend bool operator==(const HostSection&, const HostSection&) = default;
};

struct Policy {
  // Azure's defaults for a vault whose document says nothing: firewall off.
  DefaultAction default_action = DefaultAction::kAllow;
  Bypass bypass = Bypass::kAzureServices;
  PublicNetworkAccess public_network_access = PublicNetworkAccess::kEnabled;
  // Lists keep document order (so paths and `show` match what was written),
  // with duplicates removed; canonical_serialisation() sorts for digests.
  std::vector<IpRule> ip_rules;
  std::vector<VnetRule> vnet_rules;
  HostSection host;
  // The vault's ARM resource id when the document was a vault resource;
  // not part of the digest (it changes nothing enforced).
  std::string resource_id;

  // The limits in force: the profile's, raised or lowered by overrides.
  ProfileLimits limits() const;
  // Enforced when the perimeter's access mode is Enforced or
  // publicNetworkAccess is SecuredByPerimeter; Transition otherwise.
  PerimeterEffect perimeter_effect() const;
  const VirtualNetwork* find_virtual_network(std::string_view lower_id) const;
  friend bool operator==(const Policy&, const Policy&) = default;
};

}  // namespace vaultwall
