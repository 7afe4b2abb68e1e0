// The agent's settings: interface lists from the command line or the env
// file, names checked, attach modes, and the messages that name the source.
#include "vaultwall/agent/options.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

namespace vaultwall {
namespace {

using Names = std::vector<std::string>;

TEST(Options, InterfaceListsSplitOnSpacesTabsAndCommas) {
  EXPECT_EQ(split_interface_list("eth0 eth1"), (Names{"eth0", "eth1"}));
  EXPECT_EQ(split_interface_list("  eth0,eth1\teth2  "), (Names{"eth0", "eth1", "eth2"}));
  EXPECT_EQ(split_interface_list("eth1 eth0 eth1"), (Names{"eth1", "eth0"}));
  EXPECT_TRUE(split_interface_list("").empty());
  EXPECT_TRUE(split_interface_list(" , ").empty());
}

TEST(Options, InterfaceNamesFollowTheKernelsRules) {
  EXPECT_FALSE(interface_name_problem("eth0"));
  EXPECT_FALSE(interface_name_problem("enp0s31f6.100"));
  EXPECT_FALSE(interface_name_problem("abcdefghijklmno"));  // 15 bytes
  EXPECT_TRUE(interface_name_problem("abcdefghijklmnop"));  // 16
  EXPECT_TRUE(interface_name_problem(""));
  EXPECT_TRUE(interface_name_problem("a/b"));
  EXPECT_TRUE(interface_name_problem(".."));
  EXPECT_TRUE(interface_name_problem("a\x1b[2Jb"));
}

TEST(Options, AttachModes) {
  EXPECT_EQ(parse_attach_mode("auto", "--mode"), AttachMode::kAuto);
  EXPECT_EQ(parse_attach_mode("native", "--mode"), AttachMode::kNative);
  EXPECT_EQ(parse_attach_mode("generic", "--mode"), AttachMode::kGeneric);
  auto bad = parse_attach_mode("skb", "VAULTWALL_ATTACH_MODE");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, EINVAL);
  EXPECT_NE(bad.error().message().find("VAULTWALL_ATTACH_MODE=skb is not auto, native or generic"),
            std::string::npos)
      << bad.error().message();
}

TEST(Options, CommandLineInterfacesWinOverTheEnvironment) {
  auto names = interfaces_to_cover({"eth2", "eth3,eth4"}, "eth0 eth1");
  ASSERT_TRUE(names) << names.error().message();
  EXPECT_EQ(*names, (Names{"eth2", "eth3", "eth4"}));
}

TEST(Options, EnvironmentInterfacesWhenNoneAreTyped) {
  auto names = interfaces_to_cover({}, "eth0 eth1");
  ASSERT_TRUE(names) << names.error().message();
  EXPECT_EQ(*names, (Names{"eth0", "eth1"}));
}

TEST(Options, NoInterfacesSaysWhereToListThem) {
  auto names = interfaces_to_cover({}, "  ");
  ASSERT_FALSE(names);
  EXPECT_NE(names.error().message().find("--interface"), std::string::npos);
  EXPECT_NE(names.error().message().find("VAULTWALL_INTERFACES"), std::string::npos);
}

TEST(Options, ABadNameIsRefusedWithItsSource) {
  auto typed = interfaces_to_cover({"eth0", "much-too-long-name0"}, "");
  ASSERT_FALSE(typed);
  EXPECT_NE(typed.error().message().find("--interface 'much-too-long-name0'"), std::string::npos)
      << typed.error().message();
  auto from_env = interfaces_to_cover({}, "eth0 a/b");
  ASSERT_FALSE(from_env);
  EXPECT_NE(from_env.error().message().find("VAULTWALL_INTERFACES 'a/b'"), std::string::npos)
      << from_env.error().message();
}

TEST(Options, FleetModeIsOffWithoutAVault) {
  auto config = fleet_config(FleetOptions{});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_FALSE(config->has_value());
  auto names = interfaces_to_cover({}, "", /*fleet_mode=*/true);
  ASSERT_TRUE(names);
  EXPECT_TRUE(names->empty());  // fleet mode needs no interfaces
}

TEST(Options, FleetSettingsAreCheckedWithTheirOption) {
  FleetOptions good{.vault = "kv-prod-1", .host_name = "vault-host-1"};
  good.etcd.endpoints = "http://127.0.0.1:2379,http://127.0.0.1:2380";
  auto config = fleet_config(good);
  ASSERT_TRUE(config) << config.error().message();
  ASSERT_TRUE(config->has_value());
  EXPECT_EQ((*config)->host, "vault-host-1");
  EXPECT_EQ((*config)->etcd.endpoints.size(), 2u);
  auto refused = [](FleetOptions options, const std::string& wanted) {
    auto config = fleet_config(options);
    if (config) return ::testing::AssertionFailure() << "accepted";
    if (config.error().message().find(wanted) == std::string::npos)
      return ::testing::AssertionFailure() << config.error().message();
    return ::testing::AssertionSuccess();
  };
  FleetOptions bad = good;
  bad.vault = "kv_prod";
  EXPECT_TRUE(refused(bad, "--vault 'kv_prod'"));
  bad = good;
  bad.host_name = "host/1";
  EXPECT_TRUE(refused(bad, "--host-name 'host/1'"));
  bad = good;
  bad.etcd.endpoints = "";
  EXPECT_TRUE(refused(bad, "--endpoints"));
  bad = good;
  bad.etcd.user = "h1";
  EXPECT_TRUE(refused(bad, "--user is set without --password-file"));
  bad = good;
  bad.status_ttl_seconds = 1;
  EXPECT_TRUE(refused(bad, "--status-ttl"));
}

TEST(Options, APasswordFileOthersCanReadIsRefused) {
  std::string path = ::testing::TempDir() + "/vw-options-password";
  std::ofstream(path) << "secret\n";
  ::chmod(path.c_str(), 0644);
  auto open = fleet::read_password_file(path);
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error().code, EACCES);
  EXPECT_NE(open.error().message().find("chmod 600 " + path), std::string::npos);
  ::chmod(path.c_str(), 0600);
  auto closed = fleet::read_password_file(path);
  ASSERT_TRUE(closed) << closed.error().message();
  EXPECT_EQ(*closed, "secret");
  ::unlink(path.c_str());
}

TEST(Options, EachHostStartsAtItsOwnMember) {
  std::vector<std::string> members{"a", "b", "c"};
  std::set<std::string> first;
  for (int i = 0; i < 30; ++i)
    first.insert(fleet::spread_endpoints(members, "host" + std::to_string(i)).front());
  EXPECT_EQ(first.size(), 3u);  // the fleet spreads over all of them
  EXPECT_EQ(fleet::spread_endpoints(members, "h1"), fleet::spread_endpoints(members, "h1"));
  auto rotated = fleet::spread_endpoints(members, "h1");
  std::sort(rotated.begin(), rotated.end());
  EXPECT_EQ(rotated, members);  // the same members, in an order of its own
}

}  // namespace
}  // namespace vaultwall
