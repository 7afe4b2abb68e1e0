// Whole-policy changes: write the idle slot, then flip the active word.
// A packet reads the active slot once, so it sees exactly one policy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vaultwall/abi/slot_image.h"
#include "vaultwall/common/error.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/kernel/maps.h"

namespace vaultwall {

// The settings as the slot writer stores them: the image's, with the
// HAS_SEGMENTS / HAS_ENDPOINTS flags derived from what the slot holds.
vw_settings settings_as_written(const SlotImage& image);

// What the active word says, read once: the live slot, both slots'
// settings and policy info. Every reader of "what is applied" starts here.
struct ActivePolicy {
  vw_active active{};
  uint32_t slot = 0;            // the live slot (0 or 1)
  vw_policy_info info{};        // the live slot's; generation 0: nothing applied
  vw_policy_info idle_info{};   // the other slot's
  const vw_settings& settings() const { return active.settings[slot]; }
  bool applied() const { return info.generation != 0; }
  // Generation and hex digest of the live slot (digest empty when nothing applied).
  PolicyVersion version() const;
};
Result<ActivePolicy> read_active_policy(const PinnedMaps& maps);

// The live slot (0 or 1).
Result<uint32_t> active_slot(const PinnedMaps& maps);

// The version of the policy in force under pin_dir; nullopt when nothing is
// pinned there or it cannot be read (journaling is best effort about what
// it cannot know, never about what happened).
std::optional<PolicyVersion> active_policy_version(const std::string& pin_dir);

// Returns once no XDP program still runs with a view taken before the call
// (an RCU grace period, forced by a map-in-map update of vw_sync).
Result<void> wait_for_readers(const PinnedMaps& maps);

// Test hook for crash-safety tests: when the environment variable
// VAULTWALL_TEST_ABORT_AFTER_WRITES=k is set, the process aborts after k
// map writes of an apply. Unset in production: no effect.
void note_map_write();

// Writes `image` into the idle slot (after a grace period, so no packet is
// still reading it) and then makes it active with one map write. Returns
// the new active slot. On error the active slot is unchanged. The slot's
// vw_policy_info is image.info with the index_* fields of what was written.
Result<uint32_t> write_idle_slot_and_flip(const PinnedMaps& maps, const SlotImage& image);

// How the slot's source index (vw_index_N, vw_chunks_N) differs from the
// one built from `image`: one line per array that differs, empty when equal.
Result<std::vector<std::string>> source_index_differences(const PinnedMaps& maps, uint32_t slot,
                                                          const SlotImage& image);

// When the slot's source index left /16s to the tries (its capacity was
// spent): a warning naming the --index-chunks that would index them all.
std::optional<std::string> source_index_warning(const vw_policy_info& info);

// The document a slot keeps (vw_policy_doc), without the rest of the slot.
Result<std::string> read_slot_document(const PinnedMaps& maps, uint32_t slot);

// The slot's segments as one list, as the writer was given them (with the
// roots of their networks' indexes): vw_segments_N's entries and every
// vw_vlans_N entry that is not zero, as {0, vid}. Every reader of a slot's
// segments goes through here, so nothing above the slot writer knows that
// they are kept in two maps.
Result<std::vector<std::pair<vw_segment_key, vw_segment_value>>> read_segments(
    const PinnedMaps& maps, uint32_t slot);

// Reads a slot back from the kernel (for verify and explain).
Result<SlotImage> read_slot(const PinnedMaps& maps, uint32_t slot);

}  // namespace vaultwall
