// The one network every BPF test row lives in, and the policies applied to
// it. Addresses come from DESIGN §4's ranges: 192.0.2.0/24, 198.51.100.0/24
// and 203.0.113.0/24 are "public", 10.x are virtual networks.
//
//   vault data-plane address   192.0.2.10   (listed: a public endpoint)
//   private endpoint           10.20.0.5    (from any virtual network)
//   private endpoint           10.20.0.6    (bound to vnet 8)
//   some other host            192.0.2.99   (not listed)
//   protected ports            tcp/443, udp/8443
//
//   rule  1  IP    203.0.113.0/24
//   rule  2  IP    203.0.113.128/25          (overlaps rule 1: longer wins)
//   rule  3  IP    198.51.100.7              (one address)
//   rule 10  VNET  10.1.0.0/24 in vnet 7     segment: loopback, VLAN 100
//   rule 11  VNET  10.2.0.0/24 in vnet 8     segment: VLAN 200 on any interface
//   rule 12  VNET  10.3.0.0/24 in vnet 9     segment: the second interface, untagged
//                                            and VLAN 100 on any interface (loopback's
//                                            own VLAN 100 segment takes precedence)
//   vnet 8 also has VLANs 1 and 4095 on any interface (the ends of the VID range)
//   service 4 trusted 198.51.100.128/25
//   service 5 trusted 203.0.113.0/28         (inside rule 1: rules credit first)
//   rule 30  IP    2001:db8:100::/48         (IPv6, as a dualstack profile allows)
//   rule 10  VNET  2001:db8:a00::/64 in vnet 7 (the same subnet's IPv6 prefix)
//   service 4 trusted 2001:db8:7000::/48      (IPv6 prefixes of the same services)
//   service 5 trusted 2001:db8:7000:1::/64    (inside service 4's: longer wins)
//   rule 20  PERIMETER  198.51.100.48/29     (only with a perimeter knob: under
//            and 2001:db8:4800::/48           VW_VNET_PERIMETER in Transition; the
//                                             only rule, public, when Enforced)
#pragma once

#include <cstdint>

#include "packet_builder.h"
#include "vaultwall/kernel/slots.h"
#include "vaultwall_abi.h"
#include "xdp_test_fixture.h"

namespace vaultwall::testing::world {

inline const Ipv4 kVault = ipv4("192.0.2.10");
inline const Ipv4 kPrivateEndpoint = ipv4("10.20.0.5");
inline const Ipv4 kBoundPrivateEndpoint = ipv4("10.20.0.6");
inline const Ipv4 kOtherHost = ipv4("192.0.2.99");
// Destinations a datagram can have besides a host (DESIGN §1.1, weak host).
inline const Ipv4 kSubnetBroadcast = ipv4("192.0.2.255");
inline const Ipv4 kLimitedBroadcast = ipv4("255.255.255.255");
inline const Ipv4 kAllHostsGroup = ipv4("224.0.0.1");
inline const Ipv4 kSsdpGroup = ipv4("239.255.255.250");
// Routed onwards when a row turns forwarding on (route 198.18.0.0/15 via
// the second interface).
inline const Ipv4 kForwardedHost = ipv4("198.18.0.5");
inline const Ipv4 kAnyAddress = ipv4("0.0.0.0");

constexpr uint16_t kHttpsPort = 443;  // protected for TCP only
constexpr uint16_t kQuicPort = 8443;  // protected for UDP only
constexpr uint16_t kSshPort = 22;

// Sources, named by what should admit them.
inline const Ipv4 kFromRule24 = ipv4("203.0.113.77");
inline const Ipv4 kFromRule25 = ipv4("203.0.113.200");
inline const Ipv4 kFromRuleHost = ipv4("198.51.100.7");
inline const Ipv4 kNextToRuleHost = ipv4("198.51.100.8");
inline const Ipv4 kFromRuleAndTrusted = ipv4("203.0.113.5");
inline const Ipv4 kFromTrusted = ipv4("198.51.100.200");
inline const Ipv4 kStranger = ipv4("198.51.100.50");
inline const Ipv4 kFromAppVnet = ipv4("10.1.0.5");
inline const Ipv4 kFromAnyIfVnet = ipv4("10.2.0.5");
inline const Ipv4 kFromIfaceVnet = ipv4("10.3.0.5");

constexpr uint32_t kRule24 = 1;
constexpr uint32_t kRule25 = 2;
constexpr uint32_t kRuleHost = 3;
constexpr uint32_t kRuleAppVnet = 10;
constexpr uint32_t kRule6 = 30;
constexpr uint32_t kRuleAnyIfVnet = 11;
constexpr uint32_t kRuleIfaceVnet = 12;
constexpr uint32_t kServiceStorage = 4;
constexpr uint32_t kServiceArm = 5;
constexpr uint32_t kRulePerimeter = 20;

// IPv6 sources (the world's IPv6 tries), and IPv4-mapped ones.
inline const Ipv6 kFromTrusted6 = ipv6("2001:db8:7000::5");
inline const Ipv6 kFromLongerTrusted6 = ipv6("2001:db8:7000:1::9");
inline const Ipv6 kFromRule6 = ipv6("2001:db8:100::77");
inline const Ipv6 kFromAppVnet6 = ipv6("2001:db8:a00::5");
inline const Ipv6 kMappedFromRule24 = ipv6("::ffff:203.0.113.77");
inline const Ipv6 kMappedFromTrusted = ipv6("::ffff:198.51.100.200");
inline const Ipv6 kMappedStranger = ipv6("::ffff:198.51.100.50");  // in the perimeter's /29
inline const Ipv6 kFromPerimeter6 = ipv6("2001:db8:4800::50");

constexpr uint16_t kAppVlan = 100;
constexpr uint16_t kAnyIfVlan = 200;
constexpr uint16_t kUnknownVlan = 300;
constexpr uint16_t kLowestVlan = 1;  // segments of vnet 8 on any interface
constexpr uint16_t kHighestVlan = 4095;

// The knobs of DESIGN §1.2 that differ between rows; defaults are a
// typical locked-down vault.
struct Knobs {
  uint8_t default_action = VW_ACTION_DENY;
  uint8_t bypass = VW_BYPASS_AZURE_SERVICES;
  uint8_t public_access = VW_PUBLIC_ACCESS_ENABLED;
  uint8_t mode = VW_MODE_ENFORCE;
  bool every_destination = false;         // no data-plane address listed
  uint32_t declared_tunnels = 0;          // VW_TUNNEL_*: their devices carry the filter
  bool listen_on_addresses_only = false;  // dataPlane.listen "addresses"
  // VW_SETTINGS_PERIMETER_TRANSITION or _ENFORCED; Enforced is written as
  // the compiler writes it (only the perimeter's rule, no bypass, deny).
  uint32_t perimeter = 0;
  uint8_t deny_action = VW_DENY_DROP;  // vaultwall.denyAction
};

inline constexpr Knobs kDenyByDefault{};
inline constexpr Knobs kAllowByDefault{.default_action = VW_ACTION_ALLOW};
inline constexpr Knobs kNoBypass{.bypass = VW_BYPASS_NONE};
inline constexpr Knobs kAllowByDefaultNoBypass{.default_action = VW_ACTION_ALLOW,
                                               .bypass = VW_BYPASS_NONE};
inline constexpr Knobs kPublicDisabled{.public_access = VW_PUBLIC_ACCESS_DISABLED};
inline constexpr Knobs kPublicDisabledNoBypass{.bypass = VW_BYPASS_NONE,
                                               .public_access = VW_PUBLIC_ACCESS_DISABLED};
inline constexpr Knobs kPublicDisabledAllowByDefault{.default_action = VW_ACTION_ALLOW,
                                                     .public_access = VW_PUBLIC_ACCESS_DISABLED};
inline constexpr Knobs kAudit{.mode = VW_MODE_AUDIT};
inline constexpr Knobs kAuditPublicDisabled{.public_access = VW_PUBLIC_ACCESS_DISABLED,
                                            .mode = VW_MODE_AUDIT};
inline constexpr Knobs kEveryDestination{.every_destination = true};
inline constexpr Knobs kVxlanAndGreDeclared{.declared_tunnels = VW_TUNNEL_VXLAN | VW_TUNNEL_GRE};
inline constexpr Knobs kListenOnAddresses{.listen_on_addresses_only = true};
inline constexpr Knobs kPerimeterTransition{.perimeter = VW_SETTINGS_PERIMETER_TRANSITION};
inline constexpr Knobs kPerimeterTransitionPublicDisabled{
    .public_access = VW_PUBLIC_ACCESS_DISABLED, .perimeter = VW_SETTINGS_PERIMETER_TRANSITION};
inline constexpr Knobs kPerimeterTransitionAllowByDefault{
    .default_action = VW_ACTION_ALLOW, .perimeter = VW_SETTINGS_PERIMETER_TRANSITION};
inline constexpr Knobs kPerimeterEnforced{.perimeter = VW_SETTINGS_PERIMETER_ENFORCED};
inline constexpr Knobs kReject{.deny_action = VW_DENY_REJECT};
inline constexpr Knobs kEveryDestinationReject{.every_destination = true,
                                               .deny_action = VW_DENY_REJECT};
inline constexpr Knobs kRejectAudit{.mode = VW_MODE_AUDIT, .deny_action = VW_DENY_REJECT};
inline constexpr Knobs kPerimeterEnforcedAudit{.mode = VW_MODE_AUDIT,
                                               .perimeter = VW_SETTINGS_PERIMETER_ENFORCED};

// The world's policy with the given knobs, as the compiler would emit it.
// second_ifindex binds vnet 9 (its untagged traffic, and VLAN 100 on any interface);
// 0 leaves those segments out.
SlotImage policy(const Knobs& knobs, uint32_t second_ifindex, uint64_t generation = 1);

// Key helpers, shared with the slot-flip test.
vw_rule_key rule_key(uint32_t vnet_id, const std::string& cidr);
vw_trusted_key trusted_key(const std::string& cidr);
vw_rule6_key rule6_key(uint32_t vnet_id, const std::string& cidr);
vw_public6_key trusted6_key(const std::string& cidr);

}  // namespace vaultwall::testing::world
