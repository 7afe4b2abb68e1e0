// Whole-policy changes: write the idle slot, then flip the active word.
// A packet reads the active slot once, so it sees exactly one policy.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vaultwall/error.h"
#include "vaultwall/maps.h"

namespace vaultwall {

// Everything one slot holds: what the compiler produces and apply writes.
struct SlotImage {
  vw_settings settings{};
  vw_policy_info info{};
  std::vector<std::pair<vw_rule_key, vw_rule_value>> rules;
  std::vector<std::pair<vw_trusted_key, vw_trusted_value>> trusted;
  std::vector<std::pair<vw_segment_key, vw_segment_value>> segments;
  std::vector<std::pair<vw_endpoint_key, vw_endpoint_value>> endpoints;
  std::string document;  // normalised rule document (JSON), kept with the slot
};

// The settings as the slot writer stores them: the image's, with the
// HAS_SEGMENTS / HAS_ENDPOINTS flags derived from what the slot holds.
vw_settings settings_as_written(const SlotImage& image);

// The live slot (0 or 1).
Result<uint32_t> active_slot(const PinnedMaps& maps);

// The settings a slot holds (in vw_active, beside the live-slot word).
Result<vw_settings> slot_settings(const PinnedMaps& maps, uint32_t slot);

// Returns once no XDP program still runs with a view taken before the call
// (an RCU grace period, forced by a map-in-map update of vw_sync).
Result<void> wait_for_readers(const PinnedMaps& maps);

// Test hook for crash-safety tests: when the environment variable
// VAULTWALL_TEST_ABORT_AFTER_WRITES=k is set, the process aborts after k
// map writes of an apply. Unset in production: no effect.
void note_map_write();

// Writes `image` into the idle slot (after a grace period, so no packet is
// still reading it) and then makes it active with one map write. Returns
// the new active slot. On error the active slot is unchanged.
Result<uint32_t> write_idle_slot_and_flip(const PinnedMaps& maps, const SlotImage& image);

// How the slot's source index (vw_index_N, vw_chunks_N) differs from the
// one built from `image`: one line per array that differs, empty when equal.
Result<std::vector<std::string>> source_index_differences(const PinnedMaps& maps, uint32_t slot,
                                                          const SlotImage& image);

// The document a slot keeps (vw_policy_doc), without the rest of the slot.
Result<std::string> read_slot_document(const PinnedMaps& maps, uint32_t slot);

// Reads a slot back from the kernel (for verify and explain).
Result<SlotImage> read_slot(const PinnedMaps& maps, uint32_t slot);

}  // namespace vaultwall
