// The IPv6 public source index: vw_public6_N's entries compiled into
// vw_index6_N's top level and nodes (layout in bpf/vaultwall_abi.h).
// Each entry of the trie already carries the longest rule and service
// holding it (public6.cpp), so the answer for a source is the value of the
// longest entry holding it: the index is that longest match, precomputed.
#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <span>
#include <tuple>
#include <vector>

#include "vaultwall/kernel/public6.h"
#include "vaultwall/kernel/source_index.h"

namespace vaultwall {

namespace {

constexpr int kTopBits = VW_INDEX_TOP_BITS;
constexpr int kStride = VW_INDEX6_STRIDE;  // below the top: wide nodes of 256 entries
constexpr int kHalf = 64;  // the chunks walk the upper half; lists may take the lower

struct Prefix6 {
  uint64_t high, low;  // host order, host bits zero
  int len;
  uint32_t result;     // VW_INDEX_RESULT of the trie entry
};

constexpr uint64_t mask64(int len) {
  return len <= 0 ? 0 : len >= 64 ? ~uint64_t{0} : ~uint64_t{0} << (64 - len);
}
uint64_t high_mask(int len) { return mask64(len); }
uint64_t low_mask(int len) { return mask64(len - kHalf); }

uint64_t half_of(const uint8_t* bytes) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | bytes[i];
  return v;
}

bool holds(const Prefix6& outer, const Prefix6& inner) {
  return outer.len <= inner.len && (inner.high & high_mask(outer.len)) == outer.high &&
         (inner.low & low_mask(outer.len)) == outer.low;
}

// The longest entry seen so far holding a block.
struct Longest {
  int len = -1;
  uint32_t result = VW_INDEX_RESULT(VW_SERVICE_NONE, VW_RULE_NONE);
  void consider(const Prefix6& p) {
    if (p.len > len) {
      len = p.len;
      result = p.result;
    }
  }
};

void put_list_item(vw_index_chunk& node, int i, uint64_t address, uint64_t mask, uint32_t result) {
  node.entry[VW_INDEX6_LIST_ADDR_HI(i)] = static_cast<uint32_t>(address >> 32);
  node.entry[VW_INDEX6_LIST_ADDR_LO(i)] = static_cast<uint32_t>(address);
  node.entry[VW_INDEX6_LIST_MASK_HI(i)] = static_cast<uint32_t>(mask >> 32);
  node.entry[VW_INDEX6_LIST_MASK_LO(i)] = static_cast<uint32_t>(mask);
  node.entry[VW_INDEX6_LIST_RESULT(i)] = result;
}

// A pointer entry's node field: the node's byte offset in vw_index6.node.
uint32_t node_field(size_t node) { return static_cast<uint32_t>(node * sizeof(vw_index_chunk)); }

vw_index_chunk empty_list(uint32_t fallback) {
  vw_index_chunk node{};
  node.entry[VW_INDEX_LIST_DEFAULT] = fallback;
  for (int i = 0; i < VW_INDEX6_LIST_PREFIXES; i++) put_list_item(node, i, ~uint64_t{0}, 0, 0);
  return node;
}

// `best` and the prefixes of `inside` holding the block high/len: what a
// source in it gets unless a longer prefix holds it.
Longest longest_holding(const Longest& best, std::span<const Prefix6> inside, uint64_t high, int len) {
  Longest within = best;
  for (const Prefix6& q : inside)
    if (q.len <= len && (high & high_mask(q.len)) == q.high) within.consider(q);
  return within;
}

class Builder6 {
 public:
  Builder6(std::vector<vw_index_chunk>& nodes, uint32_t budget) : nodes_(nodes), budget_(budget) {}

  // The entry for the block high/len (16 <= len <= 64): `best` holds the
  // entries of length <= len holding it, `inside` the longer ones within
  // it, sorted by address then length. nullopt when the budget is spent.
  std::optional<uint32_t> block(uint64_t high, int len, const Longest& best,
                                std::span<const Prefix6> inside) {
    if (inside.empty()) return best.result;
    if (len == kHalf) {
      if (nodes_.size() + low_list_nodes(inside) > budget_) return std::nullopt;
      return low_list(best, inside);
    }
    if (auto listed = high_list(best, inside)) return listed;
    if (auto grouped = group_list(len, best, inside)) return *grouped;
    if (nodes_.size() + VW_INDEX6_NODE_CHUNKS > budget_) return std::nullopt;
    const size_t node = nodes_.size();
    nodes_.resize(node + VW_INDEX6_NODE_CHUNKS);
    const int child_len = len + kStride;
    std::vector<Prefix6> deeper;
    for (uint64_t i = 0; i < VW_INDEX6_NODE_ENTRIES; i++) {
      const uint64_t child = high | (i << (kHalf - child_len));
      Longest child_best = best;
      deeper.clear();
      for (const Prefix6& p : inside) {
        if (p.len <= child_len) {
          if ((child & high_mask(p.len)) == p.high) child_best.consider(p);
        } else if ((p.high & high_mask(child_len)) == child) {
          deeper.push_back(p);
        }
      }
      auto entry = block(child, child_len, child_best, deeper);
      if (!entry) return std::nullopt;
      nodes_[node + i / VW_INDEX_CHUNK_ENTRIES].entry[i % VW_INDEX_CHUNK_ENTRIES] = *entry;
    }
    return VW_INDEX_CHUNK | VW_INDEX6_DEPTH(len) | node_field(node);
  }

 private:
  // A sparse block as one list node of upper-half prefixes: each entry of
  // /64 or shorter, and each /64 holding longer ones (its result that /64's
  // lower-half list). nullopt when they do not fit in one node.
  std::optional<uint32_t> high_list(const Longest& best, std::span<const Prefix6> inside) {
    struct Item {
      uint64_t high;
      int len;
      uint32_t result;
    };
    std::vector<Item> items;
    std::vector<Prefix6> short_ones;  // <= /64
    std::vector<std::vector<Prefix6>> long_groups;  // > /64, by /64
    for (const Prefix6& p : inside) {
      if (p.len <= kHalf) {
        short_ones.push_back(p);
      } else if (long_groups.empty() || long_groups.back().front().high != p.high) {
        long_groups.push_back({p});
      } else {
        long_groups.back().push_back(p);
      }
    }
    // A /64 entry with longer ones under it is their group's default.
    std::erase_if(short_ones, [&](const Prefix6& p) {
      return p.len == kHalf && std::any_of(long_groups.begin(), long_groups.end(),
                                           [&](const auto& g) { return g.front().high == p.high; });
    });
    if (short_ones.size() + long_groups.size() > VW_INDEX6_LIST_PREFIXES) return std::nullopt;
    // Nodes: this one and each group's lower-half chain.
    size_t nodes = 1;
    for (const auto& group : long_groups) nodes += low_list_nodes(group);
    if (nodes_.size() + nodes > budget_) return std::nullopt;

    for (const Prefix6& p : short_ones)
      items.push_back({p.high, p.len, longest_holding(best, inside, p.high, p.len).result});
    for (const auto& group : long_groups) {
      const uint64_t high = group.front().high;
      items.push_back({high, kHalf, low_list(longest_holding(best, inside, high, kHalf), group)});
    }
    // Longest first, so the first match is the longest (equal lengths are disjoint).
    std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.len > b.len; });
    vw_index_chunk node = empty_list(best.result);
    for (size_t i = 0; i < items.size(); i++)
      put_list_item(node, static_cast<int>(i), items[i].high, high_mask(items[i].len), items[i].result);
    nodes_.push_back(node);
    return VW_INDEX_LIST | node_field(nodes_.size() - 1);
  }

  // Path compression: the prefixes inside, split where neighbours share
  // the fewest leading bits into at most VW_INDEX6_LIST_PREFIXES groups
  // whose regions are disjoint, as one list node of those regions instead
  // of the wide nodes above them. A group's region is what its prefixes
  // share, cut to a node depth at least a level below this block; its
  // result is the block there (a wide node, a list, ...), or, for a group
  // in one /64 or of one prefix, what high_list would give it. Never more
  // loads than a wide node here: each group's block is at least as deep as
  // the wide node's child. Azure's regions are a few clusters far apart in
  // one /16: their sources skip every level between. nullopt when no split
  // gives such groups; otherwise the entry, or nullopt inside when the
  // budget ran out.
  std::optional<std::optional<uint32_t>> group_list(int len, const Longest& best,
                                                    std::span<const Prefix6> inside) {
    for (int split = kHalf; split >= len + kStride; split -= kStride) {
      std::vector<std::span<const Prefix6>> groups;
      size_t first = 0;
      for (size_t i = 1; i <= inside.size(); i++) {
        if (i < inside.size() && shared_bits(inside[i - 1], inside[i]) >= split) continue;
        groups.push_back(inside.subspan(first, i - first));
        first = i;
      }
      if (groups.size() > VW_INDEX6_LIST_PREFIXES) continue;
      // Neighbours in a group share at least `split` bits, so a group of
      // several lies at least a level below this block (its block is
      // deeper: the recursion ends) and one prefix is a region of its own.
      std::vector<Region> regions;
      for (auto group : groups) regions.push_back(region_of(group));
      if (!disjoint(regions)) continue;
      return listed_groups(best, inside, groups, regions);
    }
    return std::nullopt;
  }

  // Where a group of prefixes lies: the bits they share, as a list item.
  struct Region {
    uint64_t high;
    int len;
    bool direct;  // a /64 or one prefix: its result needs no node above /64
  };

  static int shared_bits(const Prefix6& a, const Prefix6& b) {
    int n = std::min({a.len, b.len, kHalf});
    if (const uint64_t differ = a.high ^ b.high) n = std::min(n, std::countl_zero(differ));
    return n;
  }

  // A group in one /64 is that /64; one prefix of /64 or shorter is
  // itself; otherwise what the group shares, cut to a node depth.
  static Region region_of(std::span<const Prefix6> group) {
    int common = std::min(group.front().len, kHalf);
    for (size_t i = 1; i < group.size(); i++) common = std::min(common, shared_bits(group[i - 1], group[i]));
    const bool direct = common == kHalf || group.size() == 1;
    const int len = direct ? common : common / kStride * kStride;
    return {group.front().high & high_mask(len), len, direct};
  }

  static bool disjoint(const std::vector<Region>& regions) {
    for (size_t i = 0; i < regions.size(); i++)
      for (size_t j = i + 1; j < regions.size(); j++)
        if (((regions[i].high ^ regions[j].high) &
             high_mask(std::min(regions[i].len, regions[j].len))) == 0)
          return false;
    return true;
  }

  std::optional<uint32_t> listed_groups(const Longest& best, std::span<const Prefix6> inside,
                                        const std::vector<std::span<const Prefix6>>& groups,
                                        const std::vector<Region>& regions) {
    if (nodes_.size() >= budget_) return std::optional<uint32_t>{};
    const size_t list = nodes_.size();
    nodes_.push_back(empty_list(best.result));
    for (size_t g = 0; g < groups.size(); g++) {
      auto entry = group_entry(best, inside, groups[g], regions[g]);
      if (!entry) return std::nullopt;
      put_list_item(nodes_[list], static_cast<int>(g), regions[g].high, high_mask(regions[g].len), *entry);
    }
    return VW_INDEX_LIST | node_field(list);
  }

  // The result for a group's region: the block there (for a group in one
  // /64, its lower-half list; for one prefix, its value).
  std::optional<uint32_t> group_entry(const Longest& best, std::span<const Prefix6> inside,
                                      std::span<const Prefix6> group, const Region& region) {
    std::vector<Prefix6> deeper;
    for (const Prefix6& p : group)
      if (p.len > region.len) deeper.push_back(p);
    return block(region.high, region.len, longest_holding(best, inside, region.high, region.len),
                 deeper);
  }

  // The entries longer than /64 of one /64, listed on the lower half,
  // longest first, in a chain of list nodes (each one's default the next);
  // more than a chain lists leave the /64 to the trie. The caller has
  // checked the budget for low_list_nodes(inside).
  uint32_t low_list(const Longest& best, std::span<const Prefix6> inside) {
    if (low_list_nodes(inside) == 0) return VW_INDEX_TRIE;
    std::vector<Prefix6> sorted(inside.begin(), inside.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Prefix6& a, const Prefix6& b) { return a.len > b.len; });
    const size_t first = nodes_.size();
    const size_t nodes = low_list_nodes(inside);
    for (size_t n = 0; n < nodes; n++) {
      const bool last = n + 1 == nodes;
      nodes_.push_back(empty_list(
          last ? best.result : VW_INDEX_LIST | VW_INDEX6_LOW | node_field(first + n + 1)));
    }
    for (size_t i = 0; i < sorted.size(); i++) {
      Longest within = best;
      for (const Prefix6& q : inside)
        if (holds(q, sorted[i])) within.consider(q);
      put_list_item(nodes_[first + i / VW_INDEX6_LIST_PREFIXES],
                    static_cast<int>(i % VW_INDEX6_LIST_PREFIXES), sorted[i].low,
                    low_mask(sorted[i].len), within.result);
    }
    return VW_INDEX_LIST | VW_INDEX6_LOW | node_field(first);
  }

  // The nodes of the chain listing `inside`, 0 when it cannot.
  static size_t low_list_nodes(std::span<const Prefix6> inside) {
    const size_t nodes = (inside.size() + VW_INDEX6_LIST_PREFIXES - 1) / VW_INDEX6_LIST_PREFIXES;
    return nodes <= VW_INDEX6_LOW_LISTS ? nodes : 0;
  }

  std::vector<vw_index_chunk>& nodes_;
  uint32_t budget_;
};

std::vector<Prefix6> public6_prefixes(const SlotImage& image) {
  std::vector<Prefix6> out;
  for (const auto& [key, value] : build_public6(image))
    out.push_back({half_of(key.addr), half_of(key.addr + 8), static_cast<int>(key.prefixlen),
                   VW_INDEX_RESULT(value.service_id, value.rule_id)});
  // By /16 (shorter than /16 first), then address, then length.
  std::sort(out.begin(), out.end(), [](const Prefix6& a, const Prefix6& b) {
    const bool a_top = a.len <= kTopBits, b_top = b.len <= kTopBits;
    if (a_top != b_top) return a_top;
    if (a_top) return a.len < b.len;
    return std::tie(a.high, a.low, a.len) < std::tie(b.high, b.low, b.len);
  });
  return out;
}

}  // namespace

void build_source_index6(SourceIndex& index, const SlotImage& image, uint32_t node_budget) {
  const std::vector<Prefix6> prefixes = public6_prefixes(image);
  auto first_long = std::find_if(prefixes.begin(), prefixes.end(),
                                 [](const Prefix6& p) { return p.len > kTopBits; });
  constexpr int kTopShift = kHalf - kTopBits;

  // Entries of /16 or shorter cover whole top entries; shorter ones first.
  std::vector<Longest> top_best(VW_INDEX_TOP_ENTRIES);
  for (auto it = prefixes.begin(); it != first_long; ++it) {
    const uint64_t first = it->high >> kTopShift;
    const uint64_t count = uint64_t{1} << (kTopBits - it->len);
    for (uint64_t i = first; i < first + count; i++) top_best[i].consider(*it);
  }
  index.top6.assign(VW_INDEX_TOP_ENTRIES, 0);
  for (uint32_t i = 0; i < VW_INDEX_TOP_ENTRIES; i++) index.top6[i] = top_best[i].result;

  // Longer entries, one /16 at a time, each /16 whole or not at all.
  // Built again (a test's smaller budget): the IPv6 part starts afresh.
  index.nodes6.clear();
  index.trie_regions -= index.trie_regions6;
  index.trie_regions6 = 0;
  Builder6 builder(index.nodes6, std::min<uint32_t>(node_budget, VW_INDEX6_NODES));
  for (auto group = first_long; group != prefixes.end();) {
    const uint64_t top = group->high >> kTopShift;
    auto end = std::find_if(group, prefixes.end(),
                            [&](const Prefix6& p) { return (p.high >> kTopShift) != top; });
    const size_t used = index.nodes6.size();
    auto entry = builder.block(top << kTopShift, kTopBits, top_best[top],
                               std::span<const Prefix6>(&*group, static_cast<size_t>(end - group)));
    if (entry) {
      index.top6[top] = *entry;
    } else {
      index.nodes6.resize(used);
      index.top6[top] = VW_INDEX_TRIE;
      index.trie_regions++;
      index.trie_regions6++;
    }
    group = end;
  }
}

namespace {

uint32_t list_result(const vw_index_chunk& node, uint64_t half) {
  const uint32_t high = static_cast<uint32_t>(half >> 32), low = static_cast<uint32_t>(half);
  for (int i = 0; i < VW_INDEX6_LIST_PREFIXES; i++)
    if ((high & node.entry[VW_INDEX6_LIST_MASK_HI(i)]) == node.entry[VW_INDEX6_LIST_ADDR_HI(i)] &&
        (low & node.entry[VW_INDEX6_LIST_MASK_LO(i)]) == node.entry[VW_INDEX6_LIST_ADDR_LO(i)])
      return node.entry[VW_INDEX6_LIST_RESULT(i)];
  return node.entry[VW_INDEX_LIST_DEFAULT];
}

// The word at byte `offset` of the nodes, masked to them as the program
// does. Nodes past the used ones read as zeros here (in the map they may
// hold an earlier policy's nodes; only a corrupt pointer reaches them).
uint32_t word_at(const SourceIndex& index, uint32_t offset) {
  offset &= VW_INDEX6_NODE_WORD;
  const size_t n = offset / sizeof(vw_index_chunk);
  return n < index.nodes6.size() ? index.nodes6[n].entry[offset % sizeof(vw_index_chunk) / 4] : 0;
}

// The node a pointer entry names (list nodes are one chunk).
vw_index_chunk node_of(const SourceIndex& index, uint32_t entry) {
  vw_index_chunk node;
  for (uint32_t i = 0; i < VW_INDEX_CHUNK_ENTRIES; i++)
    node.entry[i] = word_at(index, (entry & VW_INDEX6_NODE) + 4 * i);
  return node;
}

}  // namespace

uint32_t source_index6_entry(const SourceIndex& index, const uint8_t (&source)[16]) {
  const uint64_t high = half_of(source), low = half_of(source + 8);
  uint32_t entry = index.top6.at(high >> (kHalf - kTopBits));
  for (int depth = kTopBits; depth < kHalf; depth += kStride) {
    const uint32_t kind = entry & VW_INDEX_KIND;
    const bool node_here =
        kind == VW_INDEX_CHUNK && (entry & VW_INDEX6_DEPTH_MASK) == VW_INDEX6_DEPTH(depth);
    if (!node_here && !(kind == VW_INDEX_LIST && !(entry & VW_INDEX6_LOW))) continue;
    const uint32_t i =
        static_cast<uint32_t>(high >> (kHalf - depth - kStride)) & (VW_INDEX6_NODE_ENTRIES - 1);
    entry = kind == VW_INDEX_LIST ? list_result(node_of(index, entry), high)
                                  : word_at(index, entry + 4 * i);
  }
  for (int chained = 0; chained < VW_INDEX6_LOW_LISTS &&
                        (entry & (VW_INDEX_KIND | VW_INDEX6_LOW)) == (VW_INDEX_LIST | VW_INDEX6_LOW);
       chained++) {
    entry = list_result(node_of(index, entry), low);
  }
  return (entry & VW_INDEX_CHUNK) ? VW_INDEX_TRIE : entry;
}

}  // namespace vaultwall
