// The public IPv6 trie (vw_public6_N): the public IPv6 rule prefixes and
// the trusted IPv6 prefixes of one slot in one LPM trie, each entry
// carrying the longest rule and the longest service that hold it (layout
// in bpf/vaultwall_abi.h). Derived by the slot writer from the image's
// rules6 (vnet VW_VNET_PUBLIC) and trusted6; split back into them when a
// slot is read.
#pragma once

#include <utility>
#include <vector>

#include "vaultwall/abi/keys.h"
#include "vaultwall/abi/slot_image.h"
#include "vaultwall_abi.h"

namespace vaultwall {

using Public6Entries = std::vector<std::pair<vw_public6_key, vw_public6_value>>;

// The entries of vw_public6_N for `image`, in prefix order. A prefix
// both a rule and a service name is one entry with both.
Public6Entries build_public6(const SlotImage& image);

// The originals of `entries`: the public rule prefixes (as vw_rules6_N keys
// under VW_VNET_PUBLIC) appended to `rules6` and the trusted ones to
// `trusted6`, so that split(build(image)) gives back image's.
void split_public6(const Public6Entries& entries,
                   std::vector<std::pair<vw_rule6_key, vw_rule_value>>& rules6,
                   std::vector<std::pair<vw_public6_key, vw_trusted_value>>& trusted6);

}  // namespace vaultwall
