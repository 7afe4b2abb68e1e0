// The packet table: every row is one frame, the policy it meets, and what
// the production XDP program must do with it - the action and the exact
// counters it moves (one class; the credited rule or service, if any;
// nothing else). Policies are applied through the real apply path
// (SlotImage + write_idle_slot_and_flip). The network is in test_policy.h.
// Every row runs in a network namespace of its own (private_network.h):
// the sockets and routes the program may ask the kernel about are the
// row's, not the host's.
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "frames.h"
#include "packet_builder.h"
#include "private_network.h"
#include "test_policy.h"
#include "xdp_test_fixture.h"

namespace vaultwall::testing {
namespace {

using namespace world;
using namespace frames;

// ---- The table -----------------------------------------------------------

enum class Ingress { kLoopback, kSecondInterface };

// What the row's namespace holds besides loopback and the veth pair.
struct Host {
  std::vector<std::tuple<uint8_t, Ipv4, uint16_t>> sockets;  // (proto, bound address, port)
  bool dual_stack_https = false;  // a TCP listener on [::]:443 taking IPv4 too
  bool forwarding = false;        // with a route 198.18.0.0/15 via the second interface
};

struct PacketCase {
  std::string name;
  Knobs policy;
  std::vector<uint8_t> frame;
  Expected expected;
  Ingress ingress = Ingress::kLoopback;
  Host host = {};
};

void PrintTo(const PacketCase& c, std::ostream* os) { *os << c.name; }

std::vector<PacketCase> not_data_plane_cases() {
  return {
      {"arp_is_not_ip", kDenyByDefault, arp().bytes(), passes(VW_CLASS_NOT_IP)},
      {"lldp_is_not_ip", kDenyByDefault, PacketBuilder().ethernet(0x88cc).payload(46).bytes(),
       passes(VW_CLASS_NOT_IP)},
      {"icmp_to_vault", kDenyByDefault, icmp4(kStranger).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"ssh_tcp22_to_vault", kDenyByDefault, tcp4(kStranger, kVault, kSshPort).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"dns_udp53_to_vault", kDenyByDefault, udp4(kStranger, kVault, 53).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"tcp8443_protected_for_udp_only", kDenyByDefault, tcp4(kStranger, kVault, kQuicPort).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"udp443_protected_for_tcp_only", kDenyByDefault, udp4(kStranger, kVault, kHttpsPort).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"tcp443_to_unlisted_host", kDenyByDefault, tcp4(kStranger, kOtherHost).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"tcp443_to_any_host_when_none_listed", kEveryDestination,
       tcp4(kStranger, kOtherHost).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"tcp22_to_private_endpoint", kDenyByDefault,
       tcp4(kStranger, kPrivateEndpoint, kSshPort).bytes(), passes(VW_CLASS_UNPROTECTED)},
  };
}

// DESIGN §1.2, one step after the other.
std::vector<PacketCase> decision_cases() {
  return {
      // Step 1: a private endpoint, reached from a virtual network, is not
      // subject to the firewall; from the internet it gets the decision
      // any protected address gets (Azure reaches one only through its VNet).
      {"private_endpoint_from_virtual_network", kDenyByDefault,
       tcp4_tagged({{kAppVlan, kEth8021Q}}, kStranger, kPrivateEndpoint).bytes(),
       passes(VW_CLASS_PRIVATE_ENDPOINT)},
      {"private_endpoint_from_virtual_network_with_public_access_disabled",
       kPublicDisabledNoBypass,
       tcp4_tagged({{kAnyIfVlan, kEth8021Q}}, kStranger, kPrivateEndpoint).bytes(),
       passes(VW_CLASS_PRIVATE_ENDPOINT)},
      {"private_endpoint_from_internet_gets_the_default_action", kDenyByDefault,
       tcp4(kStranger, kPrivateEndpoint).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"private_endpoint_from_internet_ip_rule_applies", kDenyByDefault,
       tcp4(kFromRule24, kPrivateEndpoint).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"private_endpoint_from_internet_with_public_access_disabled", kPublicDisabledNoBypass,
       tcp4(kStranger, kPrivateEndpoint).bytes(), drops(VW_CLASS_PUBLIC_DISABLED)},
      // A private endpoint bound to one virtual network (vnet 8, VLAN 200).
      {"bound_private_endpoint_from_its_virtual_network", kPublicDisabledNoBypass,
       tcp4_tagged({{kAnyIfVlan, kEth8021Q}}, kStranger, kBoundPrivateEndpoint).bytes(),
       passes(VW_CLASS_PRIVATE_ENDPOINT)},
      {"bound_private_endpoint_from_another_virtual_network", kDenyByDefault,
       tcp4_tagged({{kAppVlan, kEth8021Q}}, kStranger, kBoundPrivateEndpoint).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"bound_private_endpoint_from_another_virtual_network_vnet_rule", kDenyByDefault,
       tcp4_tagged({{kAppVlan, kEth8021Q}}, kFromAppVnet, kBoundPrivateEndpoint).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAppVnet)},
      {"bound_private_endpoint_from_internet", kPublicDisabledNoBypass,
       tcp4(kStranger, kBoundPrivateEndpoint).bytes(), drops(VW_CLASS_PUBLIC_DISABLED)},
      {"private_endpoint_from_unknown_vlan_is_internet", kPublicDisabledNoBypass,
       tcp4_tagged({{kUnknownVlan, kEth8021Q}}, kFromRule24, kPrivateEndpoint).bytes(),
       drops(VW_CLASS_PUBLIC_DISABLED)},

      // Step 2: public network access disabled: trusted services only.
      {"public_disabled_denies_stranger", kPublicDisabled, tcp4(kStranger).bytes(),
       drops(VW_CLASS_PUBLIC_DISABLED)},
      {"public_disabled_ignores_ip_rule", kPublicDisabled, tcp4(kFromRule24).bytes(),
       drops(VW_CLASS_PUBLIC_DISABLED)},
      {"public_disabled_ignores_vnet_rule", kPublicDisabled,
       tcp4_vlan(kAppVlan, kFromAppVnet).bytes(), drops(VW_CLASS_PUBLIC_DISABLED)},
      {"public_disabled_ignores_default_allow", kPublicDisabledAllowByDefault,
       tcp4(kStranger).bytes(), drops(VW_CLASS_PUBLIC_DISABLED)},
      {"public_disabled_passes_trusted_with_bypass", kPublicDisabled, tcp4(kFromTrusted).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"public_disabled_credits_service_not_rule", kPublicDisabled,
       tcp4(kFromRuleAndTrusted).bytes(), passes(VW_CLASS_TRUSTED).crediting_service(kServiceArm)},
      {"public_disabled_without_bypass_denies_trusted", kPublicDisabledNoBypass,
       tcp4(kFromTrusted).bytes(), drops(VW_CLASS_PUBLIC_DISABLED)},

      // Step 3a: IP rules, longest prefix credited.
      {"ip_rule_24", kDenyByDefault, tcp4(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"ip_rule_longest_prefix_25_wins", kDenyByDefault, tcp4(kFromRule25).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule25)},
      {"ip_rule_single_address", kDenyByDefault, tcp4(kFromRuleHost).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRuleHost)},
      {"ip_rule_single_address_neighbour_denied", kDenyByDefault, tcp4(kNextToRuleHost).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"ip_rule_credited_before_trusted_service", kDenyByDefault, tcp4(kFromRuleAndTrusted).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"ip_rule_credited_under_default_allow", kAllowByDefault, tcp4(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"ip_rule_udp8443", kDenyByDefault, udp4(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},

      // Step 3b: VNET rules, keyed by where the packet came from.
      {"vnet_rule_via_interface_and_vlan", kDenyByDefault,
       tcp4_vlan(kAppVlan, kFromAppVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAppVnet)},
      {"vnet_rule_via_vlan_on_any_interface", kDenyByDefault,
       tcp4_vlan(kAnyIfVlan, kFromAnyIfVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet)},
      {"vnet_rule_via_vlan_on_any_interface_second_nic", kDenyByDefault,
       tcp4_vlan(kAnyIfVlan, kFromAnyIfVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet), Ingress::kSecondInterface},
      {"vnet_rule_via_untagged_interface", kDenyByDefault, tcp4(kFromIfaceVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleIfaceVnet), Ingress::kSecondInterface},
      {"vnet_segment_of_loopback_not_on_second_nic", kDenyByDefault,
       tcp4_vlan(kAppVlan, kFromAppVnet).bytes(), drops(VW_CLASS_DEFAULT_DENY),
       Ingress::kSecondInterface},
      {"ip_rule_does_not_match_vnet_traffic", kDenyByDefault,
       tcp4_vlan(kAppVlan, kFromRule24).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"ip_rule_does_not_match_untagged_vnet_traffic", kDenyByDefault, tcp4(kFromRule24).bytes(),
       drops(VW_CLASS_DEFAULT_DENY), Ingress::kSecondInterface},
      {"vnet_rule_does_not_match_public_traffic", kDenyByDefault, tcp4(kFromAppVnet).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"vnet_rule_does_not_match_other_vnet", kDenyByDefault,
       tcp4_vlan(kAnyIfVlan, kFromAppVnet).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"unknown_vlan_is_public_internet", kDenyByDefault,
       tcp4_vlan(kUnknownVlan, kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},

      // Step 4: trusted services, when bypass is on.
      {"trusted_service_with_bypass", kDenyByDefault, tcp4(kFromTrusted).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"trusted_service_without_bypass_denied", kNoBypass, tcp4(kFromTrusted).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"trusted_service_credited_before_default_allow", kAllowByDefault, tcp4(kFromTrusted).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"trusted_without_bypass_gets_default_allow", kAllowByDefaultNoBypass,
       tcp4(kFromTrusted).bytes(), passes(VW_CLASS_DEFAULT_ALLOW)},
      {"trusted_service_from_vnet_segment", kDenyByDefault,
       tcp4_vlan(kAppVlan, kFromTrusted).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},

      // Step 5: the default action.
      {"default_deny_stranger", kDenyByDefault, tcp4(kStranger).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"default_deny_stranger_udp8443", kDenyByDefault, udp4(kStranger).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"default_allow_stranger", kAllowByDefault, tcp4(kStranger).bytes(),
       passes(VW_CLASS_DEFAULT_ALLOW)},

      // Step 6: audit mode turns policy denies into counted passes.
      {"audit_would_deny_stranger", kAudit, tcp4(kStranger).bytes(), passes(VW_CLASS_AUDIT_DENY)},
      {"audit_would_deny_public_disabled", kAuditPublicDisabled, tcp4(kFromRule24).bytes(),
       passes(VW_CLASS_AUDIT_DENY)},
      {"audit_ip_rule_allow_unchanged", kAudit, tcp4(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"audit_trusted_allow_unchanged", kAudit, tcp4(kFromTrusted).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"audit_would_deny_later_fragment", kAudit, later_fragment(kStranger).bytes(),
       passes(VW_CLASS_AUDIT_DENY)},
      {"audit_would_deny_ipv6", kAudit, tcp6().bytes(), passes(VW_CLASS_AUDIT_DENY)},
      {"audit_malformed_still_drops", kAudit, tcp4(kStranger).truncated(kEthLen + kIpv4Len + 3),
       drops(VW_CLASS_MALFORMED)},
  };
}

// DESIGN §1.1: a non-first fragment has no port; it is decided by its
// source and counted in its own class, without rule credit.
std::vector<PacketCase> fragment_cases() {
  return {
      {"first_fragment_from_ip_rule", kDenyByDefault, first_fragment(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"first_fragment_from_stranger", kDenyByDefault, first_fragment(kStranger).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"later_fragment_from_ip_rule", kDenyByDefault, later_fragment(kFromRule24).bytes(),
       passes(VW_CLASS_FRAGMENT_ALLOW)},
      {"later_fragment_from_stranger", kDenyByDefault, later_fragment(kStranger).bytes(),
       drops(VW_CLASS_FRAGMENT_DENY)},
      {"later_fragment_from_trusted", kDenyByDefault, later_fragment(kFromTrusted).bytes(),
       passes(VW_CLASS_FRAGMENT_ALLOW)},
      {"later_fragment_from_stranger_default_allow", kAllowByDefault,
       later_fragment(kStranger).bytes(), passes(VW_CLASS_FRAGMENT_ALLOW)},
      {"later_fragment_to_private_endpoint_from_internet", kPublicDisabledNoBypass,
       later_fragment(kStranger, kPrivateEndpoint).bytes(), drops(VW_CLASS_FRAGMENT_DENY)},
      {"later_fragment_to_private_endpoint_from_virtual_network", kPublicDisabledNoBypass,
       [] {
         PacketBuilder b;
         b.ethernet().vlan(kAppVlan).ipv4(kStranger, kPrivateEndpoint, kProtoTcp, 5, 185, true);
         return b.payload(64).bytes();
       }(),
       passes(VW_CLASS_FRAGMENT_ALLOW)},
      {"later_fragment_ip_rule_public_disabled", kPublicDisabled,
       later_fragment(kFromRule24).bytes(), drops(VW_CLASS_FRAGMENT_DENY)},
      {"later_udp_fragment_port_unknown_fails_closed", kDenyByDefault,
       later_fragment(kStranger, kVault, kProtoUdp).bytes(), drops(VW_CLASS_FRAGMENT_DENY)},
      {"later_fragment_to_unlisted_host", kDenyByDefault,
       later_fragment(kStranger, kOtherHost).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"later_icmp_fragment", kDenyByDefault, later_fragment(kStranger, kVault, kProtoIcmp).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
  };
}

// IHL 0..15 for an allowed source: below 5 the header is a lie and the
// packet is dropped as malformed; 6..15 carry options and are decided.
std::vector<PacketCase> ihl_cases() {
  std::vector<PacketCase> cases;
  for (uint8_t ihl = 0; ihl <= 15; ihl++) {
    Expected expected =
        ihl < 5 ? drops(VW_CLASS_MALFORMED) : passes(VW_CLASS_IP_RULE).crediting_rule(kRule24);
    cases.push_back({"ihl_" + std::to_string(ihl) + "_from_ip_rule", kDenyByDefault,
                     tcp4_with_ihl(ihl, kFromRule24).bytes(), expected});
  }
  cases.push_back({"ihl_3_icmp_proven_out_of_scope", kDenyByDefault,
                   [] {
                     PacketBuilder b;
                     b.ethernet().ipv4(kStranger, kVault, kProtoIcmp, 3).icmp();
                     return b.bytes();
                   }(),
                   passes(VW_CLASS_UNPROTECTED)});
  cases.push_back({"ihl_2_to_unlisted_host", kDenyByDefault,
                   tcp4_with_ihl(2, kStranger, kOtherHost).bytes(), passes(VW_CLASS_UNPROTECTED)});
  cases.push_back({"ihl_15_options_cut_short", kDenyByDefault,
                   tcp4_with_ihl(15, kFromRule24).truncated(kEthLen + 15 * 4 - 1),
                   drops(VW_CLASS_MALFORMED)});
  cases.push_back({"ihl_6_options_cut_after_fixed_header", kDenyByDefault,
                   tcp4_with_ihl(6, kFromRule24).truncated(kEthLen + kIpv4Len + 2),
                   drops(VW_CLASS_MALFORMED)});
  return cases;
}

// Each header cut at its boundaries. Frames under 14 bytes never reach the
// program (the kernel answers EINVAL; see FrameShorterThanEthernet).
std::vector<PacketCase> truncation_cases() {
  const size_t kL4 = kEthLen + kIpv4Len;  // where TCP/UDP start, untagged IPv4
  return {
      {"cut_after_ethernet_with_ipv4_type", kDenyByDefault, tcp4(kFromRule24).truncated(kEthLen),
       drops(VW_CLASS_MALFORMED)},
      {"cut_in_ipv4_fixed_header_at_1", kDenyByDefault, tcp4(kFromRule24).truncated(kEthLen + 1),
       drops(VW_CLASS_MALFORMED)},
      {"cut_in_ipv4_fixed_header_at_19", kDenyByDefault,
       tcp4(kFromRule24).truncated(kEthLen + kIpv4Len - 1), drops(VW_CLASS_MALFORMED)},
      {"cut_after_ipv4_header_before_tcp", kDenyByDefault, tcp4(kFromRule24).truncated(kL4),
       drops(VW_CLASS_MALFORMED)},
      {"cut_in_tcp_before_port_at_3", kDenyByDefault, tcp4(kFromRule24).truncated(kL4 + 3),
       drops(VW_CLASS_MALFORMED)},
      {"cut_in_tcp_right_after_port_allowed", kDenyByDefault, tcp4(kFromRule24).truncated(kL4 + 4),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"cut_in_tcp_right_after_port_denied", kDenyByDefault, tcp4(kStranger).truncated(kL4 + 4),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"cut_in_tcp_right_after_port_ssh", kDenyByDefault,
       tcp4(kStranger, kVault, kSshPort).truncated(kL4 + 4), passes(VW_CLASS_UNPROTECTED)},
      {"cut_in_tcp_to_unlisted_host", kDenyByDefault,
       tcp4(kStranger, kOtherHost).truncated(kL4 + 1), passes(VW_CLASS_UNPROTECTED)},
      {"cut_in_udp_before_port_at_2", kDenyByDefault, udp4(kFromRule24).truncated(kL4 + 2),
       drops(VW_CLASS_MALFORMED)},
      {"cut_in_udp_right_after_port", kDenyByDefault, udp4(kFromRule24).truncated(kL4 + 4),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"cut_in_vlan_tag", kDenyByDefault, tcp4_vlan(kAppVlan, kFromAppVnet).truncated(kEthLen + 2),
       drops(VW_CLASS_MALFORMED)},
      {"cut_after_vlan_tag", kDenyByDefault,
       tcp4_vlan(kAppVlan, kFromAppVnet).truncated(kEthLen + kVlanLen), drops(VW_CLASS_MALFORMED)},
      {"cut_in_qinq_inner_tag", kDenyByDefault,
       tcp4_qinq(kUnknownVlan, kAppVlan, kFromAppVnet).truncated(kEthLen + kVlanLen + 3),
       drops(VW_CLASS_MALFORMED)},
      {"cut_in_ipv6_header_at_39", kDenyByDefault, tcp6().truncated(kEthLen + kIpv6Len - 1),
       drops(VW_CLASS_MALFORMED)},
      {"cut_in_ipv6_extension_header", kDenyByDefault,
       tcp6_after({kHopByHop}, kSshPort).truncated(kEthLen + kIpv6Len + 3),
       drops(VW_CLASS_MALFORMED)},
      {"cut_after_ipv6_extension_before_tcp_port", kDenyByDefault,
       tcp6_after({kHopByHop}, kSshPort).truncated(kEthLen + kIpv6Len + 8 + 2),
       drops(VW_CLASS_MALFORMED)},
      {"cut_in_ipv6_tcp_before_port", kDenyByDefault,
       tcp6(kSshPort).truncated(kEthLen + kIpv6Len + 3), drops(VW_CLASS_MALFORMED)},
      {"cut_arp_after_ethernet", kDenyByDefault, arp().truncated(kEthLen), passes(VW_CLASS_NOT_IP)},
  };
}

std::vector<PacketCase> vlan_cases() {
  return {
      {"qinq_inner_tag_decides_segment", kDenyByDefault,
       tcp4_qinq(kUnknownVlan, kAppVlan, kFromAppVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAppVnet)},
      {"qinq_outer_tag_is_not_the_segment", kDenyByDefault,
       tcp4_qinq(kAppVlan, kUnknownVlan, kFromAppVnet).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"two_8021q_tags_inner_decides", kDenyByDefault,
       tcp4_tagged({{kUnknownVlan, kEth8021Q}, {kAnyIfVlan, kEth8021Q}}, kFromAnyIfVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet)},
      {"three_vlan_tags_malformed", kDenyByDefault,
       tcp4_tagged({{1, kEth8021AD}, {2, kEth8021Q}, {kAppVlan, kEth8021Q}}, kFromAppVnet).bytes(),
       drops(VW_CLASS_MALFORMED)},
      {"vlan_tagged_arp_is_not_ip", kDenyByDefault, arp_tagged({{kAppVlan, kEth8021Q}}).bytes(),
       passes(VW_CLASS_NOT_IP)},
      {"qinq_tagged_arp_is_not_ip", kDenyByDefault,
       arp_tagged({{kUnknownVlan, kEth8021AD}, {kAppVlan, kEth8021Q}}).bytes(),
       passes(VW_CLASS_NOT_IP)},
      // A VID 0 tag is a priority tag, not a VLAN (IEEE 802.1Q): Linux
      // delivers such a frame on the device of the VLAN outside it.
      {"qinq_inner_priority_tag_keeps_the_outer_vlan", kDenyByDefault,
       tcp4_qinq(kAppVlan, 0, kFromAppVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAppVnet)},
      {"qinq_inner_priority_tag_is_not_internet", kDenyByDefault,
       tcp4_qinq(kAppVlan, 0, kFromRule24).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"two_8021q_tags_inner_priority_tag", kDenyByDefault,
       tcp4_tagged({{kAnyIfVlan, kEth8021Q}, {0, kEth8021Q}}, kFromAnyIfVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet)},
      {"qinq_outer_priority_tag_inner_vlan", kDenyByDefault,
       tcp4_qinq(0, kAppVlan, kFromAppVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAppVnet)},
      {"single_priority_tag_is_untagged", kDenyByDefault, tcp4_vlan(0, kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"single_priority_tag_is_no_vlan_segment", kDenyByDefault,
       tcp4_vlan(0, kFromAnyIfVnet).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"untagged_is_no_vlan_segment", kDenyByDefault, tcp4(kFromAnyIfVnet).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      // VLAN segments on any interface at both ends of the VID range.
      {"vlan_1_on_any_interface", kDenyByDefault, tcp4_vlan(kLowestVlan, kFromAnyIfVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet)},
      {"vlan_1_on_any_interface_second_nic", kDenyByDefault,
       tcp4_vlan(kLowestVlan, kFromAnyIfVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet), Ingress::kSecondInterface},
      {"vlan_1_is_not_internet", kDenyByDefault, tcp4_vlan(kLowestVlan, kFromRule24).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"vlan_4095_on_any_interface", kDenyByDefault,
       tcp4_vlan(kHighestVlan, kFromAnyIfVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet)},
      {"vlan_4095_is_not_internet", kDenyByDefault, tcp4_vlan(kHighestVlan, kFromRule24).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"vlan_4095_other_vnet_source_denied", kDenyByDefault,
       tcp4_vlan(kHighestVlan, kFromAppVnet).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      // VLAN 100 is loopback's segment (vnet 7) and, on any other
      // interface, vnet 9's: the interface's own segment takes precedence.
      {"vlan_on_its_interface_beats_vlan_on_any_interface", kDenyByDefault,
       tcp4_vlan(kAppVlan, kFromAppVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAppVnet)},
      {"vlan_on_any_interface_not_used_where_interface_has_it", kDenyByDefault,
       tcp4_vlan(kAppVlan, kFromIfaceVnet).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"vlan_on_any_interface_used_on_other_interfaces", kDenyByDefault,
       tcp4_vlan(kAppVlan, kFromIfaceVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleIfaceVnet), Ingress::kSecondInterface},
      // QinQ with VLANs on any interface: the inner tag decides, the outer
      // one only behind a priority tag (as for the interface's segments).
      {"qinq_8021ad_inner_vlan_on_any_interface", kDenyByDefault,
       tcp4_qinq(kUnknownVlan, kHighestVlan, kFromAnyIfVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet)},
      {"qinq_outer_vlan_on_any_interface_is_not_the_segment", kDenyByDefault,
       tcp4_qinq(kHighestVlan, kUnknownVlan, kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"qinq_inner_priority_tag_keeps_the_outer_vlan_on_any_interface", kDenyByDefault,
       tcp4_qinq(kLowestVlan, 0, kFromAnyIfVnet).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet), Ingress::kSecondInterface},
      {"vlan_tagged_ipv6_to_protected_port", kDenyByDefault,
       [] {
         PacketBuilder b;
         b.ethernet().vlan(kAppVlan).ipv6(kClient6, kVault6, kProtoTcp).tcp(1, kHttpsPort);
         return b.bytes();
       }(),
       drops(VW_CLASS_IPV6_DENY)},
  };
}

// DESIGN §1.10: IPv6 sources meet their own rules and trusted prefixes;
// the default action (IPV6_*) for the rest; an IPv4-mapped source is
// decided as the IPv4 address it carries.
std::vector<PacketCase> ipv6_decision_cases() {
  return {
      {"ipv6_trusted_service_with_bypass", kDenyByDefault, tcp6_from(kFromTrusted6).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"ipv6_longest_trusted_prefix_credited", kDenyByDefault,
       tcp6_from(kFromLongerTrusted6).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceArm)},
      {"ipv6_trusted_without_bypass_denied", kNoBypass, tcp6_from(kFromTrusted6).bytes(),
       drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_trusted_credited_before_default_allow", kAllowByDefault,
       tcp6_from(kFromTrusted6).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"ipv6_public_disabled_passes_trusted", kPublicDisabled, tcp6_from(kFromTrusted6).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"ipv6_public_disabled_denies_rule_source", kPublicDisabled, tcp6_from(kFromRule6).bytes(),
       drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_trusted_after_hop_by_hop_and_routing", kDenyByDefault,
       tcp6_after({kHopByHop, kRouting}, kHttpsPort, kFromTrusted6).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"ipv6_trusted_first_fragment", kDenyByDefault,
       tcp6_after({kFragment}, kHttpsPort, kFromTrusted6).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"ipv6_later_fragment_from_trusted", kDenyByDefault,
       ipv6_later_fragment(kFromTrusted6).bytes(), passes(VW_CLASS_FRAGMENT_ALLOW)},
      {"ipv6_ip_rule", kDenyByDefault, tcp6_from(kFromRule6).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule6)},
      {"ipv6_ip_rule_after_routing_header", kDenyByDefault,
       tcp6_after({kRouting}, kHttpsPort, kFromRule6).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule6)},
      {"ipv6_denied_stranger", kDenyByDefault, tcp6_from(kClient6).bytes(),
       drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_vnet_rule_on_its_segment", kDenyByDefault, tcp6_vlan(kAppVlan, kFromAppVnet6).bytes(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAppVnet)},
      {"ipv6_vnet_source_from_internet_denied", kDenyByDefault,
       tcp6_from(kFromAppVnet6).bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_vnet_source_on_another_vnet_segment_denied", kDenyByDefault,
       tcp6_vlan(kAnyIfVlan, kFromAppVnet6).bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_ip_rule_neighbour_denied", kDenyByDefault,
       tcp6_from(ipv6("2001:db8:101::1")).bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_ip_rule_source_on_vnet_segment_denied", kDenyByDefault,
       tcp6_vlan(kAppVlan, kFromRule6).bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_perimeter_enforced_denies_trusted", kPerimeterEnforced,
       tcp6_from(kFromTrusted6).bytes(), drops(VW_CLASS_PERIMETER_DENY)},
      {"ipv6_audit_would_deny_stranger", kAudit, tcp6_from(kClient6).bytes(),
       passes(VW_CLASS_AUDIT_DENY)},
      {"ipv4_mapped_source_meets_ipv4_rule", kDenyByDefault, tcp6_from(kMappedFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"ipv4_mapped_source_meets_ipv4_trusted", kDenyByDefault,
       tcp6_from(kMappedFromTrusted).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"ipv4_mapped_stranger_gets_ipv4_default_deny", kDenyByDefault,
       tcp6_from(kMappedStranger).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"ipv4_mapped_trusted_without_bypass_denied", kNoBypass,
       tcp6_from(kMappedFromTrusted).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"ipv4_mapped_later_fragment_decided_as_ipv4", kDenyByDefault,
       ipv6_later_fragment(kMappedStranger).bytes(), drops(VW_CLASS_FRAGMENT_DENY)},
  };
}

// DESIGN §1.1: IPv6 scope; sources no rule or service holds get the
// default action.
std::vector<PacketCase> ipv6_cases() {
  return {
      {"ipv6_tcp443_default_deny", kDenyByDefault, tcp6().bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_tcp443_default_allow", kAllowByDefault, tcp6().bytes(), passes(VW_CLASS_IPV6_ALLOW)},
      {"ipv6_udp8443_default_deny", kDenyByDefault, udp6().bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_public_disabled_overrides_default_allow", kPublicDisabledAllowByDefault,
       tcp6().bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_tcp22", kDenyByDefault, tcp6(kSshPort).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"ipv6_udp443_protected_for_tcp_only", kDenyByDefault, udp6(kHttpsPort).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"icmpv6", kDenyByDefault, icmp6().bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"ipv6_hop_and_dest_options_then_tcp443", kDenyByDefault,
       tcp6_after({kHopByHop, kDestOpts}, kHttpsPort).bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_hop_by_hop_then_tcp22", kDenyByDefault, tcp6_after({kHopByHop}, kSshPort).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"ipv6_three_extensions_then_tcp22", kDenyByDefault,
       tcp6_after({kHopByHop, kRouting, kDestOpts}, kSshPort).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"ipv6_first_fragment_tcp22", kDenyByDefault, tcp6_after({kFragment}, kSshPort).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"ipv6_first_fragment_tcp443", kDenyByDefault, tcp6_after({kFragment}, kHttpsPort).bytes(),
       drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_later_fragment_fails_closed", kDenyByDefault, ipv6_later_fragment().bytes(),
       drops(VW_CLASS_FRAGMENT_DENY)},
      {"ipv6_later_fragment_default_allow", kAllowByDefault, ipv6_later_fragment().bytes(),
       passes(VW_CLASS_FRAGMENT_ALLOW)},
      // Listed data-plane addresses are IPv4 only, so IPv6 is never scoped
      // by destination: any IPv6 host's protected port is decided.
      {"ipv6_tcp443_to_any_destination_is_decided", kDenyByDefault,
       [] {
         PacketBuilder b;
         b.ethernet().ipv6(kClient6, ipv6("2001:db8::99"), kProtoTcp).tcp(1, kHttpsPort);
         return b.bytes();
       }(),
       drops(VW_CLASS_IPV6_DENY)},
      {"ipv6_five_extensions_fail_closed", kDenyByDefault,
       tcp6_after({kHopByHop, kDestOpts, kRouting, kDestOpts, kDestOpts}, kSshPort).bytes(),
       drops(VW_CLASS_IPV6_DENY)},
  };
}

// DESIGN §1.1: a tunnel to a protected address is data plane, decided by
// its outer source; the kernel would otherwise open it and deliver what it
// carries (here a TCP SYN to 443 from an allowed inner source) unfiltered.
std::vector<PacketCase> tunnel_cases() {
  std::vector<PacketCase> cases;
  const std::pair<const char*, uint8_t> ip_tunnels[] = {
      {"ipip", kProtoIpip}, {"6in4", kProtoIpv6InIp}, {"gre", kProtoGre},
      {"esp", kProtoEsp},   {"ah", kProtoAh},         {"ipcomp", kProtoIpcomp},
      {"l2tp", kProtoL2tp}, {"mpls_in_ip", kProtoMplsInIp}};
  for (auto [name, proto] : ip_tunnels) {
    cases.push_back({std::string(name) + "_from_stranger_denied", kDenyByDefault,
                     ip_tunnel4(kStranger, proto).bytes(), drops(VW_CLASS_DEFAULT_DENY)});
    cases.push_back({std::string(name) + "_over_ipv6_denied", kDenyByDefault,
                     ip_tunnel6(proto).bytes(), drops(VW_CLASS_IPV6_DENY)});
  }
  const std::pair<const char*, uint16_t> udp_tunnels[] = {
      {"vxlan", 4789},     {"vxlan_linux", 8472},   {"vxlan_gpe", 4790},  {"geneve", 6081},
      {"wireguard", 51820}, {"esp_in_udp", 4500}, {"l2tp_udp", 1701}};
  for (auto [name, port] : udp_tunnels) {
    cases.push_back({std::string(name) + "_from_stranger_denied", kDenyByDefault,
                     udp_tunnel4(kStranger, port).bytes(), drops(VW_CLASS_DEFAULT_DENY)});
    cases.push_back({std::string(name) + "_over_ipv6_denied", kDenyByDefault,
                     udp_tunnel6(port).bytes(), drops(VW_CLASS_IPV6_DENY)});
  }
  std::vector<PacketCase> more = {
      {"vxlan_from_ip_rule_credited", kDenyByDefault, udp_tunnel4(kFromRule24).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"gre_from_trusted_service", kDenyByDefault, ip_tunnel4(kFromTrusted, kProtoGre).bytes(),
       passes(VW_CLASS_TRUSTED).crediting_service(kServiceStorage)},
      {"gre_from_virtual_network_segment", kDenyByDefault,
       [] {
         PacketBuilder b;
         b.ethernet().vlan(kAppVlan).ipv4(kFromAppVnet, kVault, kProtoGre).gre(kEthIpv4);
         inner_https_syn(b);
         return b.bytes();
       }(),
       passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAppVnet)},
      {"esp_public_access_disabled", kPublicDisabled, ip_tunnel4(kFromRule24, kProtoEsp).bytes(),
       drops(VW_CLASS_PUBLIC_DISABLED)},
      {"vxlan_default_allow", kAllowByDefault, udp_tunnel4(kStranger).bytes(),
       passes(VW_CLASS_DEFAULT_ALLOW)},
      {"vxlan_audit_would_deny", kAudit, udp_tunnel4(kStranger).bytes(),
       passes(VW_CLASS_AUDIT_DENY)},
      {"ipv6_esp_default_allow", kAllowByDefault, ip_tunnel6(kProtoEsp).bytes(),
       passes(VW_CLASS_IPV6_ALLOW)},
      {"gre_later_fragment_from_stranger", kDenyByDefault,
       later_fragment(kStranger, kVault, kProtoGre).bytes(), drops(VW_CLASS_FRAGMENT_DENY)},
      {"gre_later_fragment_from_ip_rule", kDenyByDefault,
       later_fragment(kFromRule24, kVault, kProtoGre).bytes(), passes(VW_CLASS_FRAGMENT_ALLOW)},
      {"gre_ihl_3_to_vault_malformed", kDenyByDefault,
       [] {
         PacketBuilder b;
         b.ethernet().ipv4(kStranger, kVault, kProtoGre, 3).gre(kEthIpv4);
         inner_https_syn(b);
         return b.bytes();
       }(),
       drops(VW_CLASS_MALFORMED)},
      {"vxlan_cut_before_port_malformed", kDenyByDefault,
       udp_tunnel4(kStranger).truncated(kEthLen + kIpv4Len + 2), drops(VW_CLASS_MALFORMED)},
      // A declared tunnel's decapsulating device carries the filter itself:
      // its outer packets pass untouched.
      {"vxlan_declared_passes_untouched", kVxlanAndGreDeclared, udp_tunnel4(kStranger).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"gre_declared_passes_untouched", kVxlanAndGreDeclared,
       ip_tunnel4(kStranger, kProtoGre).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"gre_declared_over_ipv6_passes_untouched", kVxlanAndGreDeclared,
       ip_tunnel6(kProtoGre).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"gre_declared_later_fragment_passes_untouched", kVxlanAndGreDeclared,
       later_fragment(kStranger, kVault, kProtoGre).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"geneve_not_declared_still_denied", kVxlanAndGreDeclared,
       udp_tunnel4(kStranger, 6081).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"ipip_not_declared_still_denied", kVxlanAndGreDeclared,
       ip_tunnel4(kStranger, kProtoIpip).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"udp_to_other_port_is_not_a_tunnel", kDenyByDefault, udp4(kStranger, kVault, 4788).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"sctp_is_not_a_tunnel", kDenyByDefault,
       [] {
         PacketBuilder b;
         b.ethernet().ipv4(kStranger, kVault, 132).payload(40);
         return b.bytes();
       }(),
       passes(VW_CLASS_UNPROTECTED)},
  };
  for (PacketCase& c : more) cases.push_back(std::move(c));
  return cases;
}

// DESIGN §1.1, the weak host model: a socket bound to 0.0.0.0 on a protected
// port receives datagrams to broadcast and multicast addresses and packets
// to any local address, arriving on any interface. So those are data plane
// too; forwarded traffic and sockets bound to other addresses are not.
std::vector<PacketCase> weak_host_cases() {
  const Host https_on_any{.sockets = {{kProtoTcp, kAnyAddress, kHttpsPort}}};
  const Host quic_on_any{.sockets = {{kProtoUdp, kAnyAddress, kQuicPort}}};
  const Host https_on_other{.sockets = {{kProtoTcp, kOtherHost, kHttpsPort}}};
  const Host quic_on_other{.sockets = {{kProtoUdp, kOtherHost, kQuicPort}}};
  const Host vxlan_on_any{.sockets = {{kProtoUdp, kAnyAddress, kVxlanPort}}};
  Host https_on_any_forwarding = https_on_any;
  https_on_any_forwarding.forwarding = true;
  const Host forwarding{.forwarding = true};
  return {
      // Broadcast and multicast: by address, no lookup.
      {"udp8443_to_limited_broadcast_denied", kDenyByDefault,
       udp4(kStranger, kLimitedBroadcast).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"udp8443_to_all_hosts_group_denied", kDenyByDefault, udp4(kStranger, kAllHostsGroup).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"udp8443_to_ssdp_group_denied", kDenyByDefault, udp4(kStranger, kSsdpGroup).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"udp8443_to_multicast_from_ip_rule", kDenyByDefault,
       udp4(kFromRule24, kAllHostsGroup).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"tcp443_to_multicast_denied", kDenyByDefault, tcp4(kStranger, kAllHostsGroup).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"udp53_to_broadcast_unprotected", kDenyByDefault,
       udp4(kStranger, kLimitedBroadcast, 53).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"vxlan_to_multicast_group_denied", kDenyByDefault,
       udp_tunnel4(kStranger, kVxlanPort, ipv4("239.1.1.1")).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"later_fragment_to_multicast_denied", kDenyByDefault,
       later_fragment(kStranger, kAllHostsGroup, kProtoUdp).bytes(),
       drops(VW_CLASS_FRAGMENT_DENY)},
      {"udp8443_to_broadcast_cut_before_port", kDenyByDefault,
       udp4(kStranger, kLimitedBroadcast).truncated(kEthLen + kIpv4Len + 2),
       drops(VW_CLASS_MALFORMED)},

      // Another local address or a subnet broadcast: the kernel's socket
      // lookup says whether a wildcard socket would receive it.
      {"tcp443_to_other_address_with_wildcard_listener", kDenyByDefault,
       tcp4(kStranger, kOtherHost).bytes(), drops(VW_CLASS_DEFAULT_DENY), Ingress::kLoopback,
       https_on_any},
      {"tcp443_to_other_address_with_wildcard_listener_ip_rule", kDenyByDefault,
       tcp4(kFromRule24, kOtherHost).bytes(), passes(VW_CLASS_IP_RULE).crediting_rule(kRule24),
       Ingress::kLoopback, https_on_any},
      {"tcp443_to_other_address_with_dual_stack_listener", kDenyByDefault,
       tcp4(kStranger, kOtherHost).bytes(), drops(VW_CLASS_DEFAULT_DENY), Ingress::kLoopback,
       Host{.dual_stack_https = true}},
      {"tcp443_to_other_address_second_interface", kDenyByDefault,
       tcp4(kStranger, kOtherHost).bytes(), drops(VW_CLASS_DEFAULT_DENY),
       Ingress::kSecondInterface, https_on_any},
      {"tcp443_to_address_another_service_is_bound_to", kDenyByDefault,
       tcp4(kStranger, kOtherHost).bytes(), passes(VW_CLASS_UNPROTECTED), Ingress::kLoopback,
       https_on_other},
      {"tcp443_to_other_address_no_listener", kDenyByDefault, tcp4(kStranger, kOtherHost).bytes(),
       passes(VW_CLASS_UNPROTECTED), Ingress::kLoopback, quic_on_any},
      // A source route through the vault's address: Linux (accepting source
      // routes) rewrites the destination and delivers it to the vault. Any
      // IPv4 options make the destination untrusted (options are not parsed).
      {"lsrr_via_the_vault_to_other_address_denied", kDenyByDefault,
       tcp4_route_option(kIpoptLsrr, kStranger, kOtherHost, kVault).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"ssrr_via_the_vault_to_other_address_denied", kDenyByDefault,
       tcp4_route_option(kIpoptSsrr, kStranger, kOtherHost, kVault).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"lsrr_from_an_ip_rule_passes", kDenyByDefault,
       tcp4_route_option(kIpoptLsrr, kFromRule24, kOtherHost, kVault).bytes(),
       passes(VW_CLASS_IP_RULE).crediting_rule(kRule24)},
      {"lsrr_to_the_ssh_port_unprotected", kDenyByDefault,
       tcp4_route_option(kIpoptLsrr, kStranger, kOtherHost, kVault, kSshPort).bytes(),
       passes(VW_CLASS_UNPROTECTED)},
      {"record_route_to_other_address_denied_too", kDenyByDefault,
       tcp4_route_option(kIpoptRecordRoute, kStranger, kOtherHost, kVault).bytes(),
       drops(VW_CLASS_DEFAULT_DENY)},
      {"tcp22_to_other_address_with_wildcard_listener", kDenyByDefault,
       tcp4(kStranger, kOtherHost, kSshPort).bytes(), passes(VW_CLASS_UNPROTECTED),
       Ingress::kLoopback, https_on_any},
      {"udp8443_to_subnet_broadcast_with_wildcard_socket", kDenyByDefault,
       udp4(kStranger, kSubnetBroadcast).bytes(), drops(VW_CLASS_DEFAULT_DENY),
       Ingress::kLoopback, quic_on_any},
      {"udp8443_to_other_address_socket_bound_elsewhere", kDenyByDefault,
       udp4(kStranger, kSubnetBroadcast).bytes(), passes(VW_CLASS_UNPROTECTED),
       Ingress::kLoopback, quic_on_other},
      {"udp8443_to_its_bound_address_is_another_service", kDenyByDefault,
       udp4(kStranger, kOtherHost).bytes(), passes(VW_CLASS_UNPROTECTED), Ingress::kLoopback,
       quic_on_other},
      {"vxlan_to_other_address_with_tunnel_socket", kDenyByDefault,
       udp_tunnel4(kStranger, kVxlanPort, kOtherHost).bytes(), drops(VW_CLASS_DEFAULT_DENY),
       Ingress::kLoopback, vxlan_on_any},
      {"vxlan_to_other_address_no_tunnel_socket", kDenyByDefault,
       udp_tunnel4(kStranger, kVxlanPort, kOtherHost).bytes(), passes(VW_CLASS_UNPROTECTED)},

      // dataPlane.listen "addresses": the vault binds only its listed
      // addresses, so nothing else is data plane.
      {"listen_addresses_udp8443_to_broadcast", kListenOnAddresses,
       udp4(kStranger, kLimitedBroadcast).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"listen_addresses_tcp443_to_other_address", kListenOnAddresses,
       tcp4(kStranger, kOtherHost).bytes(), passes(VW_CLASS_UNPROTECTED), Ingress::kLoopback,
       https_on_any},
      {"listen_addresses_gre_to_other_address", kListenOnAddresses,
       ip_tunnel4(kStranger, kProtoGre, kOtherHost).bytes(), passes(VW_CLASS_UNPROTECTED)},
      {"listen_addresses_listed_address_still_decided", kListenOnAddresses, tcp4(kStranger).bytes(),
       drops(VW_CLASS_DEFAULT_DENY), Ingress::kLoopback, https_on_any},

      // Forwarded traffic stays untouched; with forwarding off nothing is
      // forwarded, so what the socket would get is decided.
      {"tcp443_forwarded_with_wildcard_listener", kDenyByDefault,
       tcp4(kStranger, kForwardedHost).bytes(), passes(VW_CLASS_UNPROTECTED), Ingress::kLoopback,
       https_on_any_forwarding},
      {"tcp443_not_forwarded_with_wildcard_listener", kDenyByDefault,
       tcp4(kStranger, kForwardedHost).bytes(), drops(VW_CLASS_DEFAULT_DENY), Ingress::kLoopback,
       https_on_any},
      {"gre_to_other_address_forwarding_off_denied", kDenyByDefault,
       ip_tunnel4(kStranger, kProtoGre, kOtherHost).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"gre_forwarded_unprotected", kDenyByDefault,
       ip_tunnel4(kStranger, kProtoGre, kForwardedHost).bytes(), passes(VW_CLASS_UNPROTECTED),
       Ingress::kLoopback, forwarding},
      {"gre_to_unrouted_address_forwarding_on_denied", kDenyByDefault,
       ip_tunnel4(kStranger, kProtoGre, kOtherHost).bytes(), drops(VW_CLASS_DEFAULT_DENY),
       Ingress::kLoopback, forwarding},
  };
}

// A network security perimeter (DESIGN §1.2): Transition admits what its
// rule or the vault's admit, and marks what only the vault admits;
// Enforced admits only its rule (and private endpoints).
std::vector<PacketCase> perimeter_cases() {
  return {
      {"perimeter_transition_rule_admits_a_stranger", kPerimeterTransition,
       tcp4(kStranger).bytes(), passes(VW_CLASS_PERIMETER_RULE).crediting_rule(kRulePerimeter)},
      {"perimeter_transition_only_the_ip_rule_admits", kPerimeterTransition,
       tcp4(kFromRule24).bytes(), passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_rule(kRule24)},
      {"perimeter_transition_only_the_trusted_service_admits", kPerimeterTransition,
       tcp4(kFromTrusted).bytes(),
       passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_service(kServiceStorage)},
      {"perimeter_transition_only_the_vnet_rule_admits", kPerimeterTransition,
       tcp4_vlan(kAppVlan, kFromAppVnet).bytes(),
       passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_rule(kRuleAppVnet)},
      {"perimeter_transition_rule_does_not_admit_vnet_traffic", kPerimeterTransition,
       tcp4_vlan(kAppVlan, kStranger).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"perimeter_transition_neither_admits", kPerimeterTransition,
       tcp4(kNextToRuleHost).bytes(), drops(VW_CLASS_DEFAULT_DENY)},
      {"perimeter_transition_private_endpoint_not_subject", kPerimeterTransition,
       tcp4_tagged({{kAppVlan, kEth8021Q}}, kNextToRuleHost, kPrivateEndpoint).bytes(),
       passes(VW_CLASS_PRIVATE_ENDPOINT)},
      {"perimeter_transition_public_disabled_rule_admits", kPerimeterTransitionPublicDisabled,
       tcp4(kStranger).bytes(), passes(VW_CLASS_PERIMETER_RULE).crediting_rule(kRulePerimeter)},
      {"perimeter_transition_public_disabled_ip_rule_does_not", kPerimeterTransitionPublicDisabled,
       tcp4(kFromRule24).bytes(), drops(VW_CLASS_PUBLIC_DISABLED)},
      {"perimeter_transition_fragment_follows_its_source", kPerimeterTransition,
       later_fragment(kStranger).bytes(), passes(VW_CLASS_FRAGMENT_ALLOW)},
      {"perimeter_enforced_rule_admits", kPerimeterEnforced, tcp4(kStranger).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(kRulePerimeter)},
      {"perimeter_enforced_udp_port_too", kPerimeterEnforced, udp4(kStranger).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(kRulePerimeter)},
      {"perimeter_enforced_ip_rule_overridden", kPerimeterEnforced, tcp4(kFromRule24).bytes(),
       drops(VW_CLASS_PERIMETER_DENY)},
      {"perimeter_enforced_trusted_overridden", kPerimeterEnforced, tcp4(kFromTrusted).bytes(),
       drops(VW_CLASS_PERIMETER_DENY)},
      {"perimeter_enforced_vnet_rule_overridden", kPerimeterEnforced,
       tcp4_vlan(kAppVlan, kFromAppVnet).bytes(), drops(VW_CLASS_PERIMETER_DENY)},
      {"perimeter_enforced_private_endpoint_not_subject", kPerimeterEnforced,
       tcp4_tagged({{kAppVlan, kEth8021Q}}, kNextToRuleHost, kPrivateEndpoint).bytes(),
       passes(VW_CLASS_PRIVATE_ENDPOINT)},
      {"perimeter_enforced_fragment_denied", kPerimeterEnforced,
       later_fragment(kFromRule24).bytes(), drops(VW_CLASS_FRAGMENT_DENY)},
      // IPv6 (DESIGN §1.11): decided by the perimeter as IPv4 is.
      {"perimeter_enforced_ipv6_rule_admits", kPerimeterEnforced,
       tcp6_from(kFromPerimeter6).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(kRulePerimeter)},
      {"perimeter_enforced_ipv6_stranger_denied", kPerimeterEnforced, tcp6().bytes(),
       drops(VW_CLASS_PERIMETER_DENY)},
      {"perimeter_enforced_ipv6_ip_rule_overridden", kPerimeterEnforced,
       tcp6_from(kFromRule6).bytes(), drops(VW_CLASS_PERIMETER_DENY)},
      {"perimeter_enforced_ipv6_trusted_overridden", kPerimeterEnforced,
       tcp6_from(kFromTrusted6).bytes(), drops(VW_CLASS_PERIMETER_DENY)},
      {"perimeter_enforced_ipv6_vnet_rule_overridden", kPerimeterEnforced,
       tcp6_vlan(kAppVlan, kFromAppVnet6).bytes(), drops(VW_CLASS_PERIMETER_DENY)},
      {"perimeter_enforced_ipv6_rule_prefix_over_vnet_segment_denied", kPerimeterEnforced,
       tcp6_vlan(kAppVlan, kFromPerimeter6).bytes(), drops(VW_CLASS_PERIMETER_DENY)},
      {"perimeter_enforced_ipv4_mapped_decided_as_ipv4", kPerimeterEnforced,
       tcp6_from(kMappedStranger).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(kRulePerimeter)},
      {"perimeter_enforced_ipv4_mapped_ip_rule_overridden", kPerimeterEnforced,
       tcp6_from(kMappedFromRule24).bytes(), drops(VW_CLASS_PERIMETER_DENY)},
      {"perimeter_transition_ipv6_rule_admits", kPerimeterTransition,
       tcp6_from(kFromPerimeter6).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(kRulePerimeter)},
      {"perimeter_transition_ipv6_only_the_ip_rule_admits", kPerimeterTransition,
       tcp6_from(kFromRule6).bytes(), passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_rule(kRule6)},
      {"perimeter_transition_ipv6_only_the_trusted_service_admits", kPerimeterTransition,
       tcp6_from(kFromTrusted6).bytes(),
       passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_service(kServiceStorage)},
      {"perimeter_transition_ipv6_only_the_vnet_rule_admits", kPerimeterTransition,
       tcp6_vlan(kAppVlan, kFromAppVnet6).bytes(),
       passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_rule(kRuleAppVnet)},
      {"perimeter_transition_ipv6_default_allow_would_deny", kPerimeterTransitionAllowByDefault,
       tcp6().bytes(), passes(VW_CLASS_PERIMETER_WOULD_DENY)},
      {"perimeter_transition_ipv6_neither_admits", kPerimeterTransition, tcp6().bytes(),
       drops(VW_CLASS_IPV6_DENY)},
      {"perimeter_transition_ipv6_rule_prefix_over_vnet_segment_denied", kPerimeterTransition,
       tcp6_vlan(kAppVlan, kFromPerimeter6).bytes(), drops(VW_CLASS_IPV6_DENY)},
      {"perimeter_transition_public_disabled_ipv6_rule_admits", kPerimeterTransitionPublicDisabled,
       tcp6_from(kFromPerimeter6).bytes(),
       passes(VW_CLASS_PERIMETER_RULE).crediting_rule(kRulePerimeter)},
      {"perimeter_transition_ipv4_mapped_decided_as_ipv4", kPerimeterTransition,
       tcp6_from(kMappedFromRule24).bytes(),
       passes(VW_CLASS_PERIMETER_WOULD_DENY).crediting_rule(kRule24)},
      {"perimeter_enforced_audit_passes_would_be_denies", kPerimeterEnforcedAudit,
       tcp4(kFromRule24).bytes(), passes(VW_CLASS_AUDIT_DENY)},
      {"perimeter_enforced_ssh_untouched", kPerimeterEnforced,
       tcp4(kFromRule24, kVault, kSshPort).bytes(), passes(VW_CLASS_UNPROTECTED)},
  };
}

std::vector<PacketCase> all_cases() {
  std::vector<PacketCase> all;
  for (auto group : {not_data_plane_cases, decision_cases, fragment_cases, ihl_cases,
                     truncation_cases, vlan_cases, ipv6_cases, ipv6_decision_cases, tunnel_cases, weak_host_cases,
                     perimeter_cases}) {
    for (PacketCase& c : group()) all.push_back(std::move(c));
  }
  return all;
}

// ---- Running a row -------------------------------------------------------

// The row's namespace, with what its host holds.
class RowNetwork {
 public:
  explicit RowNetwork(const Host& host) {
    for (const auto& [proto, address, port] : host.sockets) net_.open_socket(proto, address, port);
    if (host.dual_stack_https) net_.open_dual_stack_listener(kHttpsPort);
    if (host.forwarding) {
      net_.set_forwarding(true);
      net_.add_route("198.18.0.0/15", "vwt0");
    }
  }
  uint32_t second_ifindex() const { return net_.second_ifindex(); }

 private:
  PrivateNetwork net_;
};

class PacketTable : public XdpProgramTest, public ::testing::WithParamInterface<PacketCase> {
 protected:
  void TearDown() override {
    network_.reset();
    XdpProgramTest::TearDown();
  }
  std::optional<RowNetwork> network_;
};

TEST_P(PacketTable, VerdictAndCounters) {
  const PacketCase& row = GetParam();
  network_.emplace(row.host);
  const uint32_t second_ifindex = network_->second_ifindex();
  apply(policy(row.policy, second_ifindex));
  const uint32_t ingress =
      row.ingress == Ingress::kSecondInterface ? second_ifindex : kLoopbackIfindex;
  SCOPED_TRACE("expected " + action_name(row.expected.action) + " as " +
               class_name(row.expected.verdict_class));
  expect_verdict(row.frame, row.expected, ingress);
}

INSTANTIATE_TEST_SUITE_P(Packets, PacketTable, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<PacketCase>& info) {
                           return info.param.name;
                         });

// ---- Outside the table ---------------------------------------------------

class PacketEdges : public XdpProgramTest {
 protected:
  void SetUp() override {
    XdpProgramTest::SetUp();
    if (!IsSkipped()) network_.emplace(Host{});
  }
  void TearDown() override {
    network_.reset();
    XdpProgramTest::TearDown();
  }
  std::optional<RowNetwork> network_;
};

TEST_F(PacketEdges, FrameShorterThanEthernetIsRejectedByTheKernel) {
  apply(policy(kDenyByDefault, 0));
  CounterSnapshot before = counters();
  auto result = run_xdp(prog_fd(), tcp4(kStranger).truncated(kEthLen - 1), kLoopbackIfindex);
  ASSERT_FALSE(result.has_value()) << "a 13-byte frame ran through the program";
  EXPECT_EQ(result.error().code, EINVAL) << result.error().message();
  CounterSnapshot after = counters();
  for (uint32_t c = 0; c < VW_CLASS_COUNT; c++)
    EXPECT_EQ(after.classes[c].packets, before.classes[c].packets) << class_name(c);
}

TEST_F(PacketEdges, ClassCountersSumToThePacketsSeen) {
  apply(policy(kDenyByDefault, 0));
  CounterSnapshot before = counters();
  std::vector<std::vector<uint8_t>> frames;
  for (const PacketCase& c : all_cases())
    if (c.ingress == Ingress::kLoopback) frames.push_back(c.frame);
  uint64_t bytes = 0;
  for (const auto& frame : frames) {
    run(frame);
    bytes += frame.size();
  }
  CounterSnapshot after = counters();
  uint64_t counted_packets = 0, counted_bytes = 0;
  for (uint32_t c = 0; c < VW_CLASS_COUNT; c++) {
    counted_packets += after.classes[c].packets - before.classes[c].packets;
    counted_bytes += after.classes[c].bytes - before.classes[c].bytes;
  }
  EXPECT_EQ(counted_packets, frames.size());
  EXPECT_EQ(counted_bytes, bytes);
}

// VID 0 is untagged (or a priority tag): whatever vw_vlans_N[0] holds, it
// is never a VLAN segment.
TEST_F(PacketEdges, VlanEntryZeroIsNeverASegment) {
  const uint32_t slot = apply(policy(kDenyByDefault, 0));
  const vw_segment_value any_if_vnet = must(maps().vlans(slot).at(kAnyIfVlan));
  ASSERT_NE(any_if_vnet.vnet_id, VW_VNET_PUBLIC);
  must(maps().vlans(slot).put(0, any_if_vnet));
  expect_verdict(tcp4(kFromAnyIfVnet).bytes(), drops(VW_CLASS_DEFAULT_DENY));
  expect_verdict(tcp4_vlan(0, kFromAnyIfVnet).bytes(), drops(VW_CLASS_DEFAULT_DENY));
  expect_verdict(tcp4_vlan(kAnyIfVlan, kFromAnyIfVnet).bytes(),
                 passes(VW_CLASS_VNET_RULE).crediting_rule(kRuleAnyIfVnet));
}

// The transport after the last extension header the parser walks is still
// found: SSH over IPv6 with four extension headers is not data plane.
TEST_F(PacketEdges, Ipv6FourExtensionHeadersStillReachTheTransport) {
  apply(policy(kDenyByDefault, 0));
  expect_verdict(tcp6_after({kHopByHop, kDestOpts, kRouting, kDestOpts}, kSshPort).bytes(),
                 passes(VW_CLASS_UNPROTECTED));
}

}  // namespace
}  // namespace vaultwall::testing
