// The agent's settings: interface lists from the command line or the env
// file, names checked, attach modes, and the messages that name the source.
#include "vaultwall/agent/options.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace vaultwall
