// The public source index: the IP rules and trusted prefixes of one slot,
// compiled into the arrays the XDP program walks (vw_index_N, vw_chunks_N;
// layout and entry format in bpf/vaultwall_abi.h). Derived from the slot's
// tries, so it never holds anything they do not.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "vaultwall/abi/slot_image.h"
#include "vaultwall_abi.h"

namespace vaultwall {

struct SourceIndex {
  std::vector<uint32_t> top;           // VW_INDEX_TOP_ENTRIES entries, one per /16
  std::vector<uint32_t> top6;          // VW_INDEX_TOP_ENTRIES entries, one per IPv6 /16
  std::vector<vw_index_chunk> chunks;  // chunk n is vw_chunks_N[n]; only the used ones
  std::vector<vw_index_chunk> nodes6;  // node n is vw_index6_N[0].node[n]; only the used ones
  uint32_t trie_regions = 0;           // /16s (of either family) and vnets left to the tries (budget spent)
  uint32_t trie_regions6 = 0;          // of which IPv6 /16s (past VW_INDEX6_NODES)
  std::map<uint32_t, uint32_t> vnet_roots;  // vnet id -> root entry of its own index
};

// Builds the index of `image`'s public IP rules (vnet VW_VNET_PUBLIC) and
// trusted prefixes. A /16 whose chunks do not fit in `chunk_budget` gets
// VW_INDEX_TRIE; /16s are filled in address order, so the result is
// deterministic. Then each virtual network a segment names gets an index of
// its own rules in the chunks left (VW_INDEX_TRIE as its root when they do
// not fit). Last the IPv6 index of the image's public IPv6 trie
// (build_public6), /16 by /16 in nodes of its own (VW_INDEX6_NODES).
SourceIndex build_source_index(const SlotImage& image, uint32_t chunk_budget = VW_INDEX_CHUNKS);

// The image's segments as the slot writer stores them: each value with the
// root of its virtual network's index (vw_segment_value.index).
std::vector<std::pair<vw_segment_key, vw_segment_value>> segments_with_index(
    const SlotImage& image, const SourceIndex& index);

// The entry the XDP program reaches for `source` (host byte order): a
// result or VW_INDEX_TRIE. The same walk as index_lookup() in the program.
uint32_t source_index_entry(const SourceIndex& index, uint32_t source);

// The entry the XDP program reaches for an IPv6 source (network order
// bytes): the same walk as public6_entry() in the program.
uint32_t source_index6_entry(const SourceIndex& index, const uint8_t (&source)[16]);

// Fills index.top6 and index.nodes6 (at most `node_budget` nodes) from
// `image`'s public IPv6 trie; part of build_source_index (source_index6.cpp).
void build_source_index6(SourceIndex& index, const SlotImage& image,
                         uint32_t node_budget = VW_INDEX6_NODES);

// The same in a virtual network's index, from its root (vnet_rule()).
uint32_t vnet_index_entry(const SourceIndex& index, uint32_t root, uint32_t source);

}  // namespace vaultwall
