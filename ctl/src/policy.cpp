#include "vaultwall/policy/policy.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <utility>

#include "vaultwall/common/text.h"
#include "vaultwall_abi.h"

namespace vaultwall {
namespace {

// The enum value whose canonical spelling equals `text` in any case.
template <class Enum>
std::optional<Enum> parse_enum(std::string_view text, std::initializer_list<Enum> values) {
  for (Enum value : values)
    if (equals_ignore_case(text, to_string(value))) return value;
  return std::nullopt;
}

constexpr std::string_view kSubnetsSegment = "/subnets/";

// The name of an enum value with more than two, from its table; the first
// entry is the default's.
template <typename Enum>
std::string_view name_of(Enum value,
                         std::initializer_list<std::pair<Enum, std::string_view>> names) {
  for (const auto& [each, name] : names)
    if (each == value) return name;
  return names.begin()->second;
}

}  // namespace

std::string_view to_string(DefaultAction value) {
  return value == DefaultAction::kAllow ? "Allow" : "Deny";
}
std::string_view to_string(Bypass value) {
  return value == Bypass::kAzureServices ? "AzureServices" : "None";
}
std::string_view to_string(PerimeterMode value) {
  return value == PerimeterMode::kEnforced ? "Enforced" : "Transition";
}
std::string_view to_string(Mode value) { return value == Mode::kEnforce ? "enforce" : "audit"; }
std::string_view to_string(DenyAction value) {
  return value == DenyAction::kDrop ? "drop" : "reject";
}
std::string_view to_string(Listen value) { return value == Listen::kAny ? "any" : "addresses"; }

std::string_view to_string(PublicNetworkAccess value) {
  return name_of(value, {{PublicNetworkAccess::kEnabled, "Enabled"},
                         {PublicNetworkAccess::kDisabled, "Disabled"},
                         {PublicNetworkAccess::kSecuredByPerimeter, "SecuredByPerimeter"}});
}
std::string_view to_string(Profile value) {
  return name_of(value, {{Profile::kAkvCurrent, "akv-current"},
                         {Profile::kAkv2018, "akv-2018"},
                         {Profile::kDualstack, "dualstack"}});
}

std::optional<DefaultAction> parse_default_action(std::string_view text) {
  return parse_enum(text, {DefaultAction::kAllow, DefaultAction::kDeny});
}
std::optional<Bypass> parse_bypass(std::string_view text) {
  return parse_enum(text, {Bypass::kAzureServices, Bypass::kNone});
}
std::optional<PublicNetworkAccess> parse_public_network_access(std::string_view text) {
  return parse_enum(text, {PublicNetworkAccess::kEnabled, PublicNetworkAccess::kDisabled,
                           PublicNetworkAccess::kSecuredByPerimeter});
}
std::optional<PerimeterMode> parse_perimeter_mode(std::string_view text) {
  if (equals_ignore_case(text, "Learning")) return PerimeterMode::kTransition;
  return parse_enum(text, {PerimeterMode::kTransition, PerimeterMode::kEnforced});
}
std::optional<Mode> parse_mode(std::string_view text) {
  return parse_enum(text, {Mode::kEnforce, Mode::kAudit});
}
std::optional<DenyAction> parse_deny_action(std::string_view text) {
  return parse_enum(text, {DenyAction::kDrop, DenyAction::kReject});
}
std::optional<Profile> parse_profile(std::string_view text) {
  return parse_enum(text, {Profile::kAkv2018, Profile::kAkvCurrent, Profile::kDualstack});
}

std::optional<Listen> parse_listen(std::string_view text) {
  return parse_enum(text, {Listen::kAny, Listen::kAddresses});
}

const std::vector<TunnelKind>& tunnel_kinds() {
  constexpr uint8_t kUdp = 17;
  static const std::vector<TunnelKind> kTunnels = {
      {"ipip", "IPv4 in IP (IP protocol 4)", VW_PROTO_IPIP, 0, VW_TUNNEL_IPIP},
      {"6in4", "IPv6 in IP, sit (IP protocol 41)", VW_PROTO_IPV6_IN_IP, 0, VW_TUNNEL_IPV6_IN_IP},
      {"gre", "GRE (IP protocol 47)", VW_PROTO_GRE, 0, VW_TUNNEL_GRE},
      {"esp", "IPsec ESP (IP protocol 50)", VW_PROTO_ESP, 0, VW_TUNNEL_ESP},
      {"ah", "IPsec AH (IP protocol 51)", VW_PROTO_AH, 0, VW_TUNNEL_AH},
      {"l2tp", "L2TPv3 over IP (IP protocol 115)", VW_PROTO_L2TP, 0, VW_TUNNEL_L2TP},
      {"mpls-in-ip", "MPLS in IP (IP protocol 137)", VW_PROTO_MPLS_IN_IP, 0, VW_TUNNEL_MPLS_IN_IP},
      {"vxlan", "VXLAN (UDP 4789)", kUdp, VW_PORT_VXLAN, VW_TUNNEL_VXLAN},
      {"vxlan-linux", "VXLAN on Linux's old port (UDP 8472)", kUdp, VW_PORT_VXLAN_LINUX,
       VW_TUNNEL_VXLAN_LINUX},
      {"vxlan-gpe", "VXLAN-GPE (UDP 4790)", kUdp, VW_PORT_VXLAN_GPE, VW_TUNNEL_VXLAN_GPE},
      {"geneve", "Geneve (UDP 6081)", kUdp, VW_PORT_GENEVE, VW_TUNNEL_GENEVE},
      {"wireguard", "WireGuard (UDP 51820)", kUdp, VW_PORT_WIREGUARD, VW_TUNNEL_WIREGUARD},
      {"esp-in-udp", "IPsec NAT traversal (UDP 4500)", kUdp, VW_PORT_ESP_IN_UDP,
       VW_TUNNEL_ESP_IN_UDP},
      {"l2tp-udp", "L2TP over UDP (UDP 1701)", kUdp, VW_PORT_L2TP_UDP, VW_TUNNEL_L2TP_UDP},
      // In bit order (VW_TUNNEL_IPCOMP came later), not grouped with the IP tunnels.
      {"ipcomp", "IPComp (IP protocol 108)", VW_PROTO_IPCOMP, 0, VW_TUNNEL_IPCOMP},
  };
  return kTunnels;
}

const TunnelKind* find_tunnel(std::string_view text) {
  for (const TunnelKind& tunnel : tunnel_kinds()) {
    std::string spelled =
        tunnel.port ? "udp/" + std::to_string(tunnel.port) : "ip/" + std::to_string(tunnel.proto);
    if (equals_ignore_case(text, tunnel.name) || equals_ignore_case(text, spelled)) return &tunnel;
  }
  return nullptr;
}

const TunnelKind* find_tunnel(uint8_t proto, uint16_t port) {
  for (const TunnelKind& tunnel : tunnel_kinds())
    if (tunnel.proto == proto && (tunnel.port == 0 || tunnel.port == port)) return &tunnel;
  return nullptr;
}

ProfileLimits profile_limits(Profile profile) {
  switch (profile) {
    case Profile::kAkv2018:
      return {127, 127, true, false};
    case Profile::kAkvCurrent:
      return {1000, 200, false, false};
    case Profile::kDualstack:  // akv-current's limits
      return {1000, 200, false, true};
  }
  return {1000, 200, false, false};
}

PerimeterEffect Policy::perimeter_effect() const {
  if (!host.perimeter) return PerimeterEffect::kNone;
  if (host.perimeter->mode == PerimeterMode::kEnforced ||
      public_network_access == PublicNetworkAccess::kSecuredByPerimeter)
    return PerimeterEffect::kEnforced;
  return PerimeterEffect::kTransition;
}

std::string VnetRule::vnet_id() const {
  size_t at = subnet_id.rfind(kSubnetsSegment);
  return at == std::string::npos ? subnet_id : subnet_id.substr(0, at);
}

std::string VnetRule::subnet_name() const {
  size_t at = subnet_id.rfind(kSubnetsSegment);
  return at == std::string::npos ? std::string() : subnet_id.substr(at + kSubnetsSegment.size());
}

std::string PortSpec::text() const {
  return std::string(proto == 17 ? "udp" : "tcp") + "/" + std::to_string(port);
}

bool Subnet::has_key_vault_endpoint() const {
  return std::any_of(service_endpoints.begin(), service_endpoints.end(), [](const std::string& s) {
    return equals_ignore_case(s, "Microsoft.KeyVault");
  });
}

const Subnet* VirtualNetwork::find_subnet(std::string_view lower_name) const {
  for (const Subnet& subnet : subnets)
    if (subnet.name == lower_name) return &subnet;
  return nullptr;
}

ProfileLimits Policy::limits() const {
  ProfileLimits limits = profile_limits(host.profile);
  if (host.max_ip_rules) limits.max_ip_rules = *host.max_ip_rules;
  if (host.max_vnet_rules) limits.max_vnet_rules = *host.max_vnet_rules;
  return limits;
}

const VirtualNetwork* Policy::find_virtual_network(std::string_view lower_id) const {
  for (const VirtualNetwork& vnet : host.virtual_networks)
    if (vnet.id == lower_id) return &vnet;
  return nullptr;
}

}  // namespace vaultwall
