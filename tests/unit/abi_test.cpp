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
  const char* name;  // the VW_MAP_* token
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

  // One row per map in bpf/vaultwall.bpf.c.
  std::vector<MapContract> contracts() const {
    const auto& m = skel_->maps;
    const uint32_t kKey = sizeof(uint32_t);
    return {
        {VW_MAP_ACTIVE, m.vw_active, kKey, sizeof(vw_active), 1},
        // Map-in-map: the value is an inner map fd.
        {VW_MAP_SYNC, m.vw_sync, kKey, sizeof(uint32_t), 1},
        {VW_MAP_RULES_0, m.vw_rules_0, sizeof(vw_rule_key), sizeof(vw_rule_value),
         VW_MAX_RULE_PREFIXES},
        {VW_MAP_RULES_1, m.vw_rules_1, sizeof(vw_rule_key), sizeof(vw_rule_value),
         VW_MAX_RULE_PREFIXES},
        {VW_MAP_TRUSTED_0, m.vw_trusted_0, sizeof(vw_trusted_key), sizeof(vw_trusted_value),
         VW_MAX_TRUSTED_PREFIXES},
        {VW_MAP_TRUSTED_1, m.vw_trusted_1, sizeof(vw_trusted_key), sizeof(vw_trusted_value),
         VW_MAX_TRUSTED_PREFIXES},
        {VW_MAP_SEGMENTS_0, m.vw_segments_0, sizeof(vw_segment_key), sizeof(vw_segment_value),
         VW_MAX_SEGMENTS},
        {VW_MAP_SEGMENTS_1, m.vw_segments_1, sizeof(vw_segment_key), sizeof(vw_segment_value),
         VW_MAX_SEGMENTS},
        {VW_MAP_ENDPOINTS_0, m.vw_endpoints_0, sizeof(vw_endpoint_key), sizeof(vw_endpoint_value),
         VW_MAX_ENDPOINTS},
        {VW_MAP_ENDPOINTS_1, m.vw_endpoints_1, sizeof(vw_endpoint_key), sizeof(vw_endpoint_value),
         VW_MAX_ENDPOINTS},
        {VW_MAP_INDEX_0, m.vw_index_0, kKey, sizeof(vw_index_chunk), VW_INDEX_TOP_CHUNKS},
        {VW_MAP_INDEX_1, m.vw_index_1, kKey, sizeof(vw_index_chunk), VW_INDEX_TOP_CHUNKS},
        {VW_MAP_CHUNKS_0, m.vw_chunks_0, kKey, sizeof(vw_index_chunk), VW_INDEX_CHUNKS},
        {VW_MAP_CHUNKS_1, m.vw_chunks_1, kKey, sizeof(vw_index_chunk), VW_INDEX_CHUNKS},
        {VW_MAP_RULE_STATS, m.vw_rule_stats, kKey, sizeof(vw_counters), VW_MAX_RULES},
        {VW_MAP_CLASS_STATS, m.vw_class_stats, kKey, sizeof(vw_counters), VW_CLASS_COUNT},
        {VW_MAP_SVC_STATS, m.vw_svc_stats, kKey, sizeof(vw_counters), VW_MAX_SERVICES},
        {VW_MAP_RULE_INFO, m.vw_rule_info, kKey, sizeof(vw_rule_info), VW_MAX_RULES},
        {VW_MAP_SVC_INFO, m.vw_svc_info, kKey, sizeof(vw_service_info), VW_MAX_SERVICES},
        {VW_MAP_POLICY_INFO, m.vw_policy_info, kKey, sizeof(vw_policy_info), VW_SLOTS},
        {VW_MAP_POLICY_DOC, m.vw_policy_doc, kKey, sizeof(vw_doc_chunk), VW_SLOTS * VW_DOC_CHUNKS},
        {VW_MAP_ABI, m.vw_abi, kKey, sizeof(vw_abi_info), 1},
        // A ring buffer has no key or value; its size is in bytes.
        {VW_MAP_EVENTS, m.vw_events, 0, 0, VW_EVENT_RING_BYTES},
        {VW_MAP_EVENT_RATE, m.vw_event_rate, sizeof(vw_rate_key), sizeof(vw_rate_state),
         VW_EVENT_SOURCES},
        {VW_MAP_EVENT_BUDGET, m.vw_event_cpu, kKey, sizeof(vw_event_budget), 1},
        {VW_MAP_EVENT_STATS, m.vw_event_stats, kKey, sizeof(uint64_t), VW_EVENT_STAT_COUNT},
        {VW_MAP_LINKS, m.vw_links, sizeof(vw_link_key), sizeof(vw_link_info), VW_MAX_LINKS},
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

TEST(AbiConstants, RuleKeyPrefixLengthCountsTheVnetBitsFirst) {
  // An IP rule /24 is a 56-bit prefix: 32 bits of vnet id, then 24 of address.
  EXPECT_EQ(VW_RULE_KEY_VNET_BITS, 32);
  EXPECT_EQ(offsetof(vw_rule_key, vnet_id), 4u);
  EXPECT_EQ(offsetof(vw_rule_key, addr), 8u);
  EXPECT_EQ(offsetof(vw_trusted_key, addr), 4u);
}

TEST(AbiConstants, ZeroSettingsMeanTheFirewallIsOff) {
  // A fresh slot (all zeros) must read as Azure's default: allow everything.
  vw_settings fresh{};
  EXPECT_EQ(fresh.default_action, VW_ACTION_ALLOW);
  EXPECT_EQ(fresh.public_access, VW_PUBLIC_ACCESS_ENABLED);
  EXPECT_EQ(fresh.mode, VW_MODE_ENFORCE);
  EXPECT_EQ(fresh.port_count, 0u);
}

TEST(AbiConstants, VerdictClassesAreDenseAndIdsZeroMeanNone) {
  EXPECT_EQ(VW_CLASS_MALFORMED + 1, VW_CLASS_PERIMETER_RULE);
  EXPECT_EQ(VW_CLASS_PERIMETER_WOULD_DENY + 1, VW_CLASS_COUNT);
  EXPECT_EQ(VW_RULE_NONE, 0);
  EXPECT_EQ(VW_SERVICE_NONE, 0);
  EXPECT_EQ(VW_VNET_PUBLIC, 0);
}

}  // namespace
}  // namespace vaultwall
