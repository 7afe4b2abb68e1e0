// The agent's decision for one interface, case by case: what it calls the
// state, and which repair (if any) it proposes. The rule under test: repair
// only what is vaultwall's, report everything else.
#include "vaultwall/agent/coverage.h"

#include <gtest/gtest.h>

#include <cctype>

namespace vaultwall {
namespace {

constexpr uint32_t kOurProgram = 40;
constexpr uint32_t kForeignProgram = 77;

// An interface present as ifindex 5 with vaultwall's program loaded.
Observation present(uint32_t ifindex = 5) {
  Observation seen;
  seen.ifindex = ifindex;
  seen.program_id = kOurProgram;
  return seen;
}

Observation with_link(Observation seen, uint32_t link_ifindex) {
  seen.link_pinned = true;
  seen.link_ifindex = link_ifindex;
  seen.link_prog_id = kOurProgram;
  if (seen.ifindex && link_ifindex == *seen.ifindex) seen.xdp_prog_id = kOurProgram;
  return seen;
}

struct Case {
  const char* what;
  Observation seen;
  Coverage coverage;
  Repair repair;
  const char* detail_mentions;
};

std::string case_name(const Case& c) {
  std::string name;
  for (const char* p = c.what; *p; p++)
    name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return name;
}
void PrintTo(const Case& c, std::ostream* out) { *out << case_name(c); }

class CoverageTable : public ::testing::TestWithParam<Case> {};

TEST_P(CoverageTable, DecidesAsSpecified) {
  const Case& c = GetParam();
  Assessment a = assess_coverage("eth0", c.seen);
  EXPECT_EQ(coverage_name(a.coverage), coverage_name(c.coverage)) << c.what << ": " << a.detail;
  EXPECT_EQ(static_cast<int>(a.repair), static_cast<int>(c.repair)) << c.what << ": " << a.detail;
  EXPECT_NE(a.detail.find("eth0"), std::string::npos) << a.detail;
  EXPECT_NE(a.detail.find(c.detail_mentions), std::string::npos)
      << c.what << ": '" << a.detail << "' lacks '" << c.detail_mentions << "'";
}

Observation absent_with_severed_link() {
  Observation seen = with_link(Observation{.program_id = kOurProgram}, 0);
  return seen;
}

Observation foreign_on(Observation seen) {
  seen.xdp_prog_id = kForeignProgram;
  return seen;
}

Observation ours_unpinned() {
  Observation seen = present();
  seen.xdp_prog_id = kOurProgram;
  return seen;
}

Observation not_loaded(Observation seen) {
  seen.program_id = 0;
  return seen;
}

Observation unreadable() {
  Observation seen = present();
  seen.error = "inspect /sys/fs/bpf/x/link_eth0: Permission denied";
  return seen;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CoverageTable,
    ::testing::Values(Case{"pinned link on this ifindex", with_link(present(), 5),
                           Coverage::kCovered, Repair::kNone, "ifindex 5"},
                      Case{"no interface, no pin", Observation{.program_id = kOurProgram},
                           Coverage::kMissing, Repair::kNone, "attached when it appears"},
                      Case{"interface deleted: link severed, pin kept", absent_with_severed_link(),
                           Coverage::kMissing, Repair::kNone, "no such interface"},
                      Case{"no interface, its link on another ifindex (renamed)",
                           with_link(Observation{.program_id = kOurProgram}, 9), Coverage::kMissing,
                           Repair::kNone, "ifindex 9"},
                      Case{"present, no pin, no XDP program", present(), Coverage::kUnattached,
                           Repair::kAttach, "not attached"},
                      Case{"re-created: pin severed (ifindex 0)", with_link(present(12), 0),
                           Coverage::kSevered, Repair::kReplace, "now ifindex 12"},
                      Case{"renamed away, new one under the name", with_link(present(12), 5),
                           Coverage::kMoved, Repair::kMovePinAndAttach, "ifindex 5"},
                      Case{"link pin deleted, someone else's program on it", foreign_on(present()),
                           Coverage::kForeign, Repair::kNone, "id 77"},
                      Case{"re-created with a foreign program already on it",
                           foreign_on(with_link(present(12), 0)), Coverage::kForeign, Repair::kNone,
                           "NOT filtering"},
                      Case{"vaultwall's program attached without a pin", ours_unpinned(),
                           Coverage::kForeign, Repair::kNone, "outside the pin directory"},
                      Case{"nothing loaded, interface present", not_loaded(present()),
                           Coverage::kNotLoaded, Repair::kNone, "vaultwall-loader load"},
                      Case{"nothing loaded, but the pinned link still runs",
                           not_loaded(with_link(present(), 5)), Coverage::kCovered, Repair::kNone,
                           "covered"},
                      Case{"nothing loaded and severed", not_loaded(with_link(present(12), 0)),
                           Coverage::kNotLoaded, Repair::kNone, "NOT filtered"},
                      Case{"observation failed", unreadable(), Coverage::kUnknown, Repair::kNone,
                           "Permission denied"}),
    [](const ::testing::TestParamInfo<Case>& info) { return case_name(info.param); });

TEST(Coverage, EveryStateHasAName) {
  for (Coverage c :
       {Coverage::kCovered, Coverage::kMissing, Coverage::kNotLoaded, Coverage::kUnattached,
        Coverage::kSevered, Coverage::kMoved, Coverage::kForeign, Coverage::kUnknown})
    EXPECT_FALSE(coverage_name(c).empty());
  EXPECT_EQ(coverage_name(Coverage::kCovered), "covered");
}

}  // namespace
}  // namespace vaultwall
