// Which VLAN devices bypass the filter on the interface they sit on: a VLAN
// tag handed over outside the frame (VLAN offload) is invisible to XDP on the
// lower device, so the frame would count there as its untagged traffic.
#include <gtest/gtest.h>
#include <linux/if_ether.h>

#include "vaultwall/kernel/links.h"

namespace vaultwall {
namespace {

constexpr uint32_t kVaultwallProgram = 42;
const std::set<uint32_t> kPrograms = {kVaultwallProgram};

NetDevice lower() { return {.ifindex = 2, .name = "eth0", .up = true}; }

NetDevice vlan(std::string name, uint32_t on, uint16_t protocol = ETH_P_8021Q) {
  static uint32_t next = 10;
  return {.ifindex = next++, .name = std::move(name), .up = true, .kind = "vlan", .link = on,
          .vlan_protocol = protocol};
}

TEST(VlanBypass, AVlanDeviceUpOnTheInterfaceIsNamed) {
  std::vector<NetDevice> devices = {lower(), vlan("eth0.200", 2)};
  EXPECT_EQ(vlan_devices_bypassing(lower(), devices, kPrograms, false),
            std::vector<std::string>{"eth0.200"});
}

TEST(VlanBypass, NothingWithoutVlanDevicesOrWhenTheyAreElsewhereOrDown) {
  NetDevice veth_peer{.ifindex = 3, .name = "veth1", .up = true, .kind = "veth", .link = 2};
  NetDevice down = vlan("eth0.300", 2);
  down.up = false;
  std::vector<NetDevice> devices = {lower(), veth_peer, vlan("eth1.200", 7), down};
  EXPECT_TRUE(vlan_devices_bypassing(lower(), devices, kPrograms, false).empty());
}

TEST(VlanBypass, AVlanDeviceRunningVaultwallItselfIsCovered) {
  NetDevice covered = vlan("eth0.200", 2);
  covered.xdp_prog_id = kVaultwallProgram;
  NetDevice foreign = vlan("eth0.201", 2);
  foreign.xdp_prog_id = 7;  // someone else's program decides nothing for the vault
  std::vector<NetDevice> devices = {lower(), covered, foreign};
  EXPECT_EQ(vlan_devices_bypassing(lower(), devices, kPrograms, false),
            std::vector<std::string>{"eth0.201"});
}

TEST(VlanBypass, TagsKeptInTheFrameCoverOnly8021Q) {
  std::vector<NetDevice> devices = {lower(), vlan("eth0.200", 2),
                                    vlan("eth0.s300", 2, ETH_P_8021AD)};
  EXPECT_EQ(vlan_devices_bypassing(lower(), devices, kPrograms, true),
            std::vector<std::string>{"eth0.s300"})
      << "rx VLAN offload off keeps 802.1Q tags in the frame, not 802.1ad ones";
}

TEST(VlanBypass, VirtualDevicesNeverPromiseInlineTags) {
  EXPECT_FALSE(keeps_vlan_tags_inline({.ifindex = 3, .name = "veth1", .kind = "veth"}))
      << "on a veth the sender decides where the tag travels";
  EXPECT_FALSE(keeps_vlan_tags_inline({.ifindex = 999, .name = "no-such-nic0"}))
      << "a NIC whose offload cannot be read is not trusted to keep tags inline";
}

}  // namespace
}  // namespace vaultwall
