// The shared ABI header and the BPF object agree: every map the program
// defines has the key and value size of the C++ structs that access it, a
// name the kernel keeps whole, and the capacity the header promises.
// Opens the embedded skeleton without loading it, so no privileges needed.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "vaultwall_abi.h"
#include "vaultwall_bpf.skel.h"

namespace vaultwall {
namespace {

// What the ABI header says about one map.
struct MapContract {
  const char* name;  // VW_NAME of the VW_MAP_* token
  const bpf_map* map;
  size_t key_size;
  size_t value_size;
  uint32_t max_entries;
};

struct SkeletonDeleter {
  void operator()(vaultwall_bpf* skel) const { vaultwall_bpf__destroy(skel); }
};
using Skeleton = std::unique_ptr<vaultwall_bpf, SkeletonDeleter>;

class AbiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    skel_.reset(vaultwall_bpf__open());
    ASSERT_NE(skel_, nullptr) << "open the embedded BPF object: " << std::strerror(errno);
  }

  // One row per map of VW_MAPS: the skeleton must have a map of that name
  // (a compile error otherwise) with the row's key size, value size and
  // capacity.
  std::vector<MapContract> contracts() const {
    const auto& m = skel_->maps;
    return {
#define VW_MAP_CONTRACT_(token, key_size, value_size, max_entries) \
  {VW_NAME(token), m.token, key_size, value_size, max_entries},
        VW_MAPS(VW_MAP_CONTRACT_)
#undef VW_MAP_CONTRACT_
    };
  }

  Skeleton skel_;
};

TEST_F(AbiTest, EveryMapHasTheKeyAndValueSizeOfItsAbiStructs) {
  for (const MapContract& c : contracts()) {
    SCOPED_TRACE(c.name);
    ASSERT_NE(c.map, nullptr);
    EXPECT_EQ(bpf_map__key_size(c.map), c.key_size);
    EXPECT_EQ(bpf_map__value_size(c.map), c.value_size);
  }
}

TEST_F(AbiTest, EveryMapHasTheCapacityTheHeaderPromises) {
  for (const MapContract& c : contracts()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(bpf_map__max_entries(c.map), c.max_entries);
  }
}

TEST_F(AbiTest, MapNamesAreTheSharedTokensAndFitTheKernelsNameLength) {
  for (const MapContract& c : contracts()) {
    SCOPED_TRACE(c.name);
    EXPECT_STREQ(bpf_map__name(c.map), c.name);
    // BPF_OBJ_NAME_LEN is 16 including the NUL: longer names are cut, and
    // the pins (named by libbpf from the full name) would not match.
    EXPECT_LE(std::strlen(c.name), 15u);
  }
}

TEST_F(AbiTest, EveryMapOfTheObjectIsCoveredByTheContract) {
  std::set<std::string> covered;
  for (const MapContract& c : contracts()) covered.insert(c.name);
  std::set<std::string> in_object;
  const bpf_map* map;
  bpf_object__for_each_map(map, skel_->obj) {
    if (!bpf_map__is_internal(map)) in_object.insert(bpf_map__name(map));
  }
  EXPECT_EQ(in_object, covered);
}

TEST_F(AbiTest, StateMapsArePinnedByNameAndTriesAreNotPreallocated) {
  for (const MapContract& c : contracts()) {
    SCOPED_TRACE(c.name);
    // Pinning is what lets rules and counters survive a loader restart.
    EXPECT_NE(bpf_map__pin_path(c.map), nullptr) << "not pinned by name";
  }
  for (const bpf_map* trie : {skel_->maps.vw_rules_0, skel_->maps.vw_rules_1,
                              skel_->maps.vw_trusted_0, skel_->maps.vw_trusted_1}) {
    SCOPED_TRACE(bpf_map__name(trie));
    EXPECT_EQ(bpf_map__type(trie), BPF_MAP_TYPE_LPM_TRIE);
    EXPECT_TRUE(bpf_map__map_flags(trie) & BPF_F_NO_PREALLOC);
  }
}

// A VLAN on any interface is found with one inlined array load, by VID:
// a plain array (not mmapable, not a hash) with an entry for every VID.
TEST_F(AbiTest, VlanSegmentsAreAnArrayWithAnEntryPerVlanId) {
  for (const bpf_map* vlans : {skel_->maps.vw_vlans_0, skel_->maps.vw_vlans_1}) {
    SCOPED_TRACE(bpf_map__name(vlans));
    EXPECT_EQ(bpf_map__type(vlans), BPF_MAP_TYPE_ARRAY);
    EXPECT_EQ(bpf_map__map_flags(vlans), 0u);
    EXPECT_EQ(bpf_map__max_entries(vlans), 4096u) << "one entry per 12-bit VID";
    EXPECT_EQ(bpf_map__key_size(vlans), sizeof(uint32_t));
    EXPECT_EQ(bpf_map__value_size(vlans), sizeof(vw_segment_value));
  }
}

TEST_F(AbiTest, ProgramIsTheNamedXdpProgram) {
  const bpf_program* prog = skel_->progs.vaultwall_xdp;
  ASSERT_NE(prog, nullptr);
  EXPECT_STREQ(bpf_program__name(prog), VW_PROG_NAME);
  EXPECT_EQ(bpf_program__type(prog), BPF_PROG_TYPE_XDP);
  const bpf_program* ip_prog = skel_->progs.vaultwall_xdp_l3;
  ASSERT_NE(ip_prog, nullptr);
  EXPECT_STREQ(bpf_program__name(ip_prog), VW_PROG_L3_NAME);
  EXPECT_EQ(bpf_program__type(ip_prog), BPF_PROG_TYPE_XDP);
}

// The constants' values (zero means none, classes 0..COUNT-1, the rule
// key's layout) are static_asserts in vaultwall_abi.h: both compilers
// check them on every build.

}  // namespace
}  // namespace vaultwall
