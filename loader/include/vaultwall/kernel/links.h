// Which interfaces vaultwall is expected to filter, and whether each one
// really is: the vw_links record (written by attach, cleared by detach)
// compared with the pinned XDP links and the kernel's devices.
//
// A pinned link can stop filtering without any command noticing: its
// interface is deleted (the link is "severed", ifindex 0, and stays severed
// when an interface of the same name comes back), or its pin is deleted
// (which detaches it). Every health signal (status, verify, metrics) reads
// interface_health() so they agree on what is unfiltered.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall_abi.h"

namespace vaultwall {

// A network device of the caller's network namespace, from rtnetlink.
struct NetDevice {
  uint32_t ifindex = 0;
  std::string name;
  uint16_t type = 0;  // ARPHRD_*
  bool up = false;    // IFF_UP
  std::string kind;   // IFLA_INFO_KIND: "veth", "vxlan", "tun", ... (empty for physical NICs)
  uint32_t xdp_prog_id = 0;
  uint8_t xdp_mode = 0;        // XDP_ATTACHED_*
  uint32_t link = 0;           // IFLA_LINK: the device it sits on (a VLAN's parent), 0: none
  uint16_t vlan_protocol = 0;  // a VLAN device's tag (ETH_P_8021Q or ETH_P_8021AD), host order
};

// Every device of the caller's network namespace (RTM_GETLINK dump).
Result<std::vector<NetDevice>> list_net_devices();
// The device named `name` in the caller's namespace; nullopt when none.
Result<std::optional<NetDevice>> find_net_device(const std::string& name);

// Inode of the caller's network namespace (as in `ls -l /proc/self/ns/net`).
Result<uint64_t> current_netns_inode();
// "net:[4026531840]"
std::string netns_text(uint64_t inode);

// Which entry point can parse the device's frames (VW_FRAMING_*), or an
// error naming the device type when none can: tunnels whose generic XDP
// view starts at the outer header (ipip, gre, sit, ip6tnl) are refused.
Result<uint8_t> framing_for(const NetDevice& device);
// "ethernet" or "ip"
const char* framing_name(uint8_t framing);
// Pin name of the program for a framing (VW_PROG_NAME or VW_PROG_L3_NAME).
const char* program_name_for(uint8_t framing);

// Device kinds that decapsulate traffic: what arrives through them was
// inside a packet the outer interface's filter passed as "unprotected".
bool is_decapsulating_kind(const std::string& kind);

// VLAN devices that bypass the filter on `lower`. A NIC or veth may hand a
// received VLAN tag to the stack outside the frame (VLAN offload), where XDP
// on `lower` does not see it: the frame counts there as untagged traffic of
// `lower`, while the stack then delivers it on the VLAN device. So every VLAN
// device that is up on `lower` and does not run one of vaultwall's
// `programs` itself is named, unless its tags stay in the frame: an 802.1Q
// device on a physical NIC whose rx VLAN offload is off (`tags_inline`).
std::vector<std::string> vlan_devices_bypassing(const NetDevice& lower,
                                                const std::vector<NetDevice>& devices,
                                                const std::set<uint32_t>& programs,
                                                bool tags_inline);
// Whether a physical NIC keeps received 802.1Q tags in the frame (its rx VLAN
// offload is off: ethtool -K IF rxvlan off). Virtual devices never promise it.
bool keeps_vlan_tags_inline(const NetDevice& device);

// The vw_links record.
struct ExpectedLink {
  std::string interface;
  vw_link_info info{};
};
Result<std::vector<ExpectedLink>> read_expected_links(const std::string& pin_dir);
Result<std::optional<vw_link_info>> read_expected_link(const std::string& pin_dir,
                                                       const std::string& interface);
Result<void> record_expected_link(const std::string& pin_dir, const std::string& interface,
                                  const vw_link_info& info);
Result<void> forget_expected_link(const std::string& pin_dir, const std::string& interface);

enum class LinkState {
  kFiltered,      // a live link runs vaultwall's loaded program
  kSevered,       // the link's interface was deleted (it may exist again)
  kPinMissing,    // the link pin was deleted: the XDP program is detached
  kStaleProgram,  // the link runs a program that is not the loaded one
  kOtherProgram,  // no vaultwall link; another XDP program is on the interface
  // Never attached: a decapsulating device (vxlan, tun, wireguard, ...) up
  // without vaultwall while a policy is applied. What it delivers was
  // decided by nothing: it counts as an expected interface left unfiltered.
  kTunnelUnfiltered,
};
// "filtered", "severed", "pin-missing", "stale-program", "other-program",
// "tunnel-unfiltered"
const char* link_state_name(LinkState state);

struct InterfaceHealth {
  std::string interface;
  LinkState state = LinkState::kPinMissing;
  uint32_t ifindex = 0;  // the link's (0 when severed), else the recorded one
  std::string mode;      // "native" / "generic" (recorded at attach), "" when unknown
  std::string framing;   // "ethernet" / "ip"
  uint32_t link_id = 0;
  uint32_t prog_id = 0;
  uint64_t netns_inode = 0;      // 0 when not recorded
  bool other_namespace = false;  // recorded in a namespace other than the caller's
  std::string problem;           // what is wrong, for humans ("" when whole)
  std::string hint;              // what to do about it
  std::vector<std::string> vlan_bypass;  // vlan_devices_bypassing() of a filtered interface
  // A live link runs vaultwall's loaded program on it.
  bool filtered() const { return state == LinkState::kFiltered; }
  // ... and no VLAN device on it bypasses the filter: what every health
  // signal reports as filtered.
  bool whole() const { return filtered() && vlan_bypass.empty(); }
};

// Every expected interface (the vw_links record and every link pin), and,
// with a policy applied, every decapsulating device of the caller's
// namespace that is up without vaultwall (kTunnelUnfiltered), in name
// order. Errors only when the pins cannot be read at all.
Result<std::vector<InterfaceHealth>> interface_health(const std::string& pin_dir);

// The ifindex the XDP program sees for `interface` (its live link's), or
// nullopt when vaultwall does not filter it.
Result<std::optional<uint32_t>> filtered_ifindex(const std::string& pin_dir,
                                                 const std::string& interface);

}  // namespace vaultwall
