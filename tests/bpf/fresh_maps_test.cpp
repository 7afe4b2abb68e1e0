// DESIGN §1.6 "no open window": freshly created maps, before any policy is
// applied, are Azure's default - the firewall is off and traffic passes.
#include <atomic>
#include <filesystem>
#include <thread>

#include "frames.h"
#include "xdp_test_fixture.h"

namespace vaultwall::testing {
namespace {

using namespace frames;

using FreshMaps = XdpProgramTest;

TEST_F(FreshMaps, StartOnSlotZeroWithZeroSettings) {
  EXPECT_EQ(must(active_slot(maps())), 0u);
  SlotImage slot0 = must(read_slot(maps(), 0));
  EXPECT_EQ(slot0.settings.port_count, 0u) << "no protected port: nothing is data plane";
  EXPECT_EQ(slot0.settings.default_action, VW_ACTION_ALLOW);
  EXPECT_TRUE(slot0.rules.empty());
}

TEST_F(FreshMaps, WellFormedTrafficPassesAsUnprotected) {
  // Nothing is protected, so every IP packet is outside the data plane.
  expect_verdict(tcp4(kStranger).bytes(), passes(VW_CLASS_UNPROTECTED));
  expect_verdict(udp4(kStranger).bytes(), passes(VW_CLASS_UNPROTECTED));
  expect_verdict(tcp4(kStranger, kPrivateEndpoint).bytes(), passes(VW_CLASS_UNPROTECTED));
  expect_verdict(later_fragment(kStranger).bytes(), passes(VW_CLASS_UNPROTECTED));
  expect_verdict(tcp4_with_ihl(3, kStranger).bytes(), passes(VW_CLASS_UNPROTECTED));
  expect_verdict(tcp4_qinq(kUnknownVlan, kAppVlan, kFromAppVnet).bytes(),
                 passes(VW_CLASS_UNPROTECTED));
  expect_verdict(tcp4(kStranger).truncated(kEthLen + kIpv4Len + 2), passes(VW_CLASS_UNPROTECTED));
  expect_verdict(tcp6().bytes(), passes(VW_CLASS_UNPROTECTED));
  expect_verdict(icmp4(kStranger).bytes(), passes(VW_CLASS_UNPROTECTED));
  expect_verdict(arp().bytes(), passes(VW_CLASS_NOT_IP));
}

// With no policy nothing is data plane, so even frames the program cannot
// parse (which it would fail closed on under a policy) pass untouched.
TEST_F(FreshMaps, Ipv6WithUnreachableTransportPasses) {
  expect_verdict(ipv6_later_fragment().bytes(), passes(VW_CLASS_UNPROTECTED));
}

TEST_F(FreshMaps, UnparseableFramesPassWithNoPolicy) {
  expect_verdict(tcp4(kStranger).truncated(kEthLen + kIpv4Len - 1), passes(VW_CLASS_UNPROTECTED));
  expect_verdict(tcp6().truncated(kEthLen + kIpv6Len - 1), passes(VW_CLASS_UNPROTECTED));
  expect_verdict(tcp4_tagged({{1, kEth8021AD}, {2, kEth8021Q}, {3, kEth8021Q}}, kStranger).bytes(),
                 passes(VW_CLASS_NOT_IP));
}

// A reader (metrics, the agent, a ctl command) may open the pins while a
// fresh load creates them: it must find either no vw_abi pin or one that
// holds the version, never an unversioned one it would refuse as ABI 0.
TEST_F(FreshMaps, AFreshLoadPinsTheAbiMapOnlyWithItsVersion) {
  const std::string fresh = pin_dir() + "-fresh";
  std::atomic<bool> loading{true};
  std::atomic<int> unversioned{0}, versioned{0};
  std::thread reader([&] {
    while (loading) {
      auto maps = PinnedMaps::open(fresh);
      if (maps) ++versioned;
      else if (maps.error().message().find("ABI version 0") != std::string::npos) ++unversioned;
    }
  });
  for (int round = 0; round < 10; ++round) {
    std::optional<Program> program;
    program.emplace(must(Program::load(fresh)));
    program.reset();
    std::filesystem::remove_all(fresh);
  }
  loading = false;
  reader.join();
  EXPECT_EQ(unversioned, 0) << "reads of an unversioned vw_abi pin (" << versioned
                            << " complete opens)";
}

}  // namespace
}  // namespace vaultwall::testing
