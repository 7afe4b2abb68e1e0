#include "vaultwall/kernel/source_index.h"

#include <algorithm>
#include <optional>
#include <set>
#include <span>
#include <tuple>

namespace vaultwall {

namespace {

constexpr int kTopBits = VW_INDEX_TOP_BITS;
constexpr int kStride = VW_INDEX_STRIDE;

struct Prefix {
  uint32_t addr;  // host order, host bits zero
  int len;
  bool is_rule;  // else a trusted prefix
  uint32_t id;   // rule id or service id
};

constexpr uint32_t mask_of(int len) { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }

uint32_t host_order(const __u8 addr[4]) {
  return (uint32_t{addr[0]} << 24) | (uint32_t{addr[1]} << 16) | (uint32_t{addr[2]} << 8) | addr[3];
}

// The longest rule and the longest trusted prefix seen so far for a block.
struct Best {
  int rule_len = -1, service_len = -1;
  uint32_t rule_id = VW_RULE_NONE, service_id = VW_SERVICE_NONE;

  void consider(const Prefix& p) {
    if (p.is_rule && p.len > rule_len) {
      rule_len = p.len;
      rule_id = p.id;
    } else if (!p.is_rule && p.len > service_len) {
      service_len = p.len;
      service_id = p.id;
    }
  }
  uint32_t entry() const { return VW_INDEX_RESULT(service_id, rule_id); }
};

std::vector<Prefix> public_prefixes(const SlotImage& image) {
  std::vector<Prefix> out;
  for (const auto& [key, value] : image.rules) {
    if (key.vnet_id != VW_VNET_PUBLIC) continue;
    int len = static_cast<int>(key.prefixlen) - VW_RULE_KEY_VNET_BITS;
    out.push_back({host_order(key.addr) & mask_of(len), len, true, value.rule_id});
  }
  for (const auto& [key, value] : image.trusted) {
    int len = static_cast<int>(key.prefixlen);
    out.push_back({host_order(key.addr) & mask_of(len), len, false, value.service_id});
  }
  return out;
}

// The rules of one virtual network, as prefixes of the address alone.
std::vector<Prefix> vnet_prefixes(const SlotImage& image, uint32_t vnet_id) {
  std::vector<Prefix> out;
  for (const auto& [key, value] : image.rules) {
    if (key.vnet_id != vnet_id) continue;
    int len = static_cast<int>(key.prefixlen) - VW_RULE_KEY_VNET_BITS;
    out.push_back({host_order(key.addr) & mask_of(len), len, true, value.rule_id});
  }
  std::sort(out.begin(), out.end(), [](const Prefix& a, const Prefix& b) {
    return std::tie(a.addr, a.len) < std::tie(b.addr, b.len);
  });
  return out;
}

class Builder {
 public:
  Builder(SourceIndex& index, uint32_t budget) : index_(index), budget_(budget) {}

  // The entry for the block [base, base + 2^(32-len)): `best` already holds
  // the prefixes of length <= len that contain it, `inside` the longer ones
  // within it. nullopt when the chunk budget is spent.
  std::optional<uint32_t> block(uint32_t base, int len, const Best& best,
                                std::span<const Prefix> inside) {
    if (inside.empty()) return best.entry();
    if (index_.chunks.size() >= budget_) return std::nullopt;
    if (inside.size() <= VW_INDEX_LIST_PREFIXES) return list(best, inside);
    const size_t chunk = index_.chunks.size();
    index_.chunks.emplace_back();
    const int child_len = len + kStride;
    std::vector<Prefix> deeper;
    for (uint32_t i = 0; i < VW_INDEX_CHUNK_ENTRIES; i++) {
      const uint32_t child = base | (i << (32 - child_len));
      Best child_best = best;
      deeper.clear();
      for (const Prefix& p : inside) {
        if (p.len <= child_len) {
          if ((child & mask_of(p.len)) == p.addr) child_best.consider(p);
        } else if ((p.addr & mask_of(child_len)) == child) {
          deeper.push_back(p);
        }
      }
      auto entry = block(child, child_len, child_best, deeper);
      if (!entry) return std::nullopt;
      index_.chunks[chunk].entry[i] = *entry;
    }
    return VW_INDEX_CHUNK | static_cast<uint32_t>(chunk);
  }

  // A sparse block: its few prefixes listed longest first, each with the
  // result of the addresses it holds (it and every shorter prefix of the
  // block or above that contains it), so the first match is the answer.
  uint32_t list(const Best& best, std::span<const Prefix> inside) {
    std::vector<Prefix> sorted(inside.begin(), inside.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Prefix& a, const Prefix& b) { return a.len > b.len; });
    vw_index_chunk node{};
    node.entry[VW_INDEX_LIST_DEFAULT] = best.entry();
    for (int i = 0; i < VW_INDEX_LIST_PREFIXES; i++) {
      node.entry[VW_INDEX_LIST_ADDR(i)] = ~uint32_t{0};  // unused: never matches
      node.entry[VW_INDEX_LIST_MASK(i)] = 0;
    }
    for (size_t i = 0; i < sorted.size(); i++) {
      Best within = best;
      for (const Prefix& q : inside)
        if (q.len <= sorted[i].len && (sorted[i].addr & mask_of(q.len)) == q.addr) within.consider(q);
      node.entry[VW_INDEX_LIST_ADDR(i)] = sorted[i].addr;
      node.entry[VW_INDEX_LIST_MASK(i)] = mask_of(sorted[i].len);
      node.entry[VW_INDEX_LIST_RESULT(i)] = within.entry();
    }
    index_.chunks.push_back(node);
    return VW_INDEX_LIST | static_cast<uint32_t>(index_.chunks.size() - 1);
  }

 private:
  SourceIndex& index_;
  uint32_t budget_;
};

}  // namespace

SourceIndex build_source_index(const SlotImage& image, uint32_t chunk_budget) {
  std::vector<Prefix> prefixes = public_prefixes(image);
  // Shorter first, so a longer prefix painted later wins; then by /16.
  std::sort(prefixes.begin(), prefixes.end(), [](const Prefix& a, const Prefix& b) {
    if ((a.len > kTopBits) != (b.len > kTopBits)) return a.len <= kTopBits;
    if (a.len <= kTopBits) return a.len < b.len;
    if ((a.addr >> (32 - kTopBits)) != (b.addr >> (32 - kTopBits)))
      return (a.addr >> (32 - kTopBits)) < (b.addr >> (32 - kTopBits));
    return a.len < b.len;
  });
  auto first_long = std::find_if(prefixes.begin(), prefixes.end(),
                                 [](const Prefix& p) { return p.len > kTopBits; });

  // Prefixes of /16 or shorter cover whole top entries.
  std::vector<Best> top_best(VW_INDEX_TOP_ENTRIES);
  for (auto it = prefixes.begin(); it != first_long; ++it) {
    uint32_t first = it->addr >> (32 - kTopBits);
    uint32_t count = uint32_t{1} << (kTopBits - it->len);
    for (uint32_t i = first; i < first + count; i++) top_best[i].consider(*it);
  }

  SourceIndex index;
  index.top.resize(VW_INDEX_TOP_ENTRIES);
  for (uint32_t i = 0; i < VW_INDEX_TOP_ENTRIES; i++) index.top[i] = top_best[i].entry();

  // Longer prefixes, one /16 at a time, each /16 whole or not at all.
  Builder builder(index, chunk_budget);
  for (auto group = first_long; group != prefixes.end();) {
    const uint32_t top = group->addr >> (32 - kTopBits);
    auto end = std::find_if(group, prefixes.end(),
                            [&](const Prefix& p) { return (p.addr >> (32 - kTopBits)) != top; });
    const size_t used = index.chunks.size();
    auto entry = builder.block(top << (32 - kTopBits), kTopBits, top_best[top],
                               std::span<const Prefix>(&*group, static_cast<size_t>(end - group)));
    if (entry) {
      index.top[top] = *entry;
    } else {
      index.chunks.resize(used);
      index.top[top] = VW_INDEX_TRIE;
      index.trie_regions++;
    }
    group = end;
  }

  // Each virtual network a segment names: its own index from /0, in the
  // chunks left after the public one (whole or not at all).
  std::set<uint32_t> vnets;
  for (const auto& [key, value] : image.segments) vnets.insert(value.vnet_id);
  for (uint32_t vnet_id : vnets) {
    const std::vector<Prefix> rules = vnet_prefixes(image, vnet_id);
    const size_t used = index.chunks.size();
    auto root = builder.block(0, 0, Best{}, rules);
    if (!root) {
      index.chunks.resize(used);
      index.trie_regions++;
    }
    index.vnet_roots[vnet_id] = root.value_or(VW_INDEX_TRIE);
  }
  build_source_index6(index, image);
  return index;
}

std::vector<std::pair<vw_segment_key, vw_segment_value>> segments_with_index(
    const SlotImage& image, const SourceIndex& index) {
  std::vector<std::pair<vw_segment_key, vw_segment_value>> out = image.segments;
  for (auto& [key, value] : out) {
    auto root = index.vnet_roots.find(value.vnet_id);
    value.index = root == index.vnet_roots.end() ? VW_INDEX_TRIE : root->second;
  }
  return out;
}

namespace {

// The walk of the program from `entry`, whose chunk is indexed at `shift`.
uint32_t walk(const SourceIndex& index, uint32_t entry, uint32_t source, int shift) {
  for (; shift >= 0; shift -= kStride) {
    const uint32_t kind = entry & VW_INDEX_KIND;
    if (kind != VW_INDEX_CHUNK && kind != VW_INDEX_LIST) return entry;
    const uint32_t n = entry & ~VW_INDEX_KIND;
    if (n >= index.chunks.size()) return VW_INDEX_TRIE;
    const vw_index_chunk& node = index.chunks[n];
    if (kind == VW_INDEX_CHUNK) {
      entry = node.entry[(source >> shift) & (VW_INDEX_CHUNK_ENTRIES - 1)];
      continue;
    }
    entry = node.entry[VW_INDEX_LIST_DEFAULT];
    for (int i = 0; i < VW_INDEX_LIST_PREFIXES; i++)
      if ((source & node.entry[VW_INDEX_LIST_MASK(i)]) == node.entry[VW_INDEX_LIST_ADDR(i)]) {
        entry = node.entry[VW_INDEX_LIST_RESULT(i)];
        break;
      }
  }
  return (entry & VW_INDEX_CHUNK) ? VW_INDEX_TRIE : entry;
}

}  // namespace

uint32_t source_index_entry(const SourceIndex& index, uint32_t source) {
  return walk(index, index.top.at(source >> (32 - kTopBits)), source, 32 - kTopBits - kStride);
}

uint32_t vnet_index_entry(const SourceIndex& index, uint32_t root, uint32_t source) {
  return walk(index, root, source, 32 - kStride);
}

}  // namespace vaultwall
