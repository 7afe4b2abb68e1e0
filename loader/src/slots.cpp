#include "vaultwall/kernel/slots.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "vaultwall/common/text.h"
#include "vaultwall/kernel/public6.h"
#include "vaultwall/kernel/source_index.h"

namespace vaultwall {

namespace {

// A segment the program finds in vw_vlans_N (by VID) rather than in the
// hash. A VID past the array (no parsed tag has one) stays in the hash,
// where, as before, nothing matches it.
bool is_vlan_on_any_interface(const vw_segment_key& key) {
  return key.ifindex == 0 && key.vlan != 0 && key.vlan < VW_VLAN_IDS;
}

// The pad of such a key found in the hash, as read_segments returns it.
constexpr uint16_t kDeadVlanKeyMark = 0xdead;

// The rules6 vw_rules6_N holds: the public ones go to vw_public6_N.
std::vector<std::pair<vw_rule6_key, vw_rule_value>> rules6_not_public(const SlotImage& image) {
  std::vector<std::pair<vw_rule6_key, vw_rule_value>> out;
  for (const auto& entry : image.rules6)
    if (!is_public_rule6(entry.first)) out.push_back(entry);
  return out;
}

}  // namespace

vw_settings settings_as_written(const SlotImage& image) {
  vw_settings settings = image.settings;
  settings.flags &= ~(VW_SETTINGS_HAS_SEGMENTS | VW_SETTINGS_HAS_ENDPOINTS |
                      VW_SETTINGS_TCP_PORTS | VW_SETTINGS_UDP_PORTS | VW_SETTINGS_HAS_RULES6 |
                      VW_SETTINGS_HAS_PUBLIC6 |
                      VW_SETTINGS_UNTAGGED_SEGMENTS | VW_SETTINGS_IFACE_VLAN_SEGMENTS |
                      VW_SETTINGS_VLAN_SEGMENTS | VW_SETTINGS_HAS_ENDPOINTS6);
  if (!image.segments.empty()) settings.flags |= VW_SETTINGS_HAS_SEGMENTS;
  for (const auto& [key, value] : image.rules6)
    settings.flags |= is_public_rule6(key) ? VW_SETTINGS_HAS_PUBLIC6 : VW_SETTINGS_HAS_RULES6;
  if (!image.trusted6.empty()) settings.flags |= VW_SETTINGS_HAS_PUBLIC6;
  // Which segment lookups can find anything: the others are skipped.
  for (const auto& [key, value] : image.segments) {
    if (key.vlan == 0) settings.flags |= VW_SETTINGS_UNTAGGED_SEGMENTS;
    if (key.vlan != 0 && key.ifindex != 0) settings.flags |= VW_SETTINGS_IFACE_VLAN_SEGMENTS;
    if (is_vlan_on_any_interface(key)) settings.flags |= VW_SETTINGS_VLAN_SEGMENTS;
  }
  if (!image.endpoints.empty()) settings.flags |= VW_SETTINGS_HAS_ENDPOINTS;
  if (!image.endpoints6.empty()) settings.flags |= VW_SETTINGS_HAS_ENDPOINTS6;
  settings.port_filter = 0;
  for (uint32_t i = 0; i < std::min<uint32_t>(settings.port_count, VW_MAX_PORTS); i++) {
    const vw_port& port = settings.ports[i];
    settings.port_filter |= 1u << (port.port % 32);
    if (port.proto == IPPROTO_TCP) settings.flags |= VW_SETTINGS_TCP_PORTS;
    if (port.proto == IPPROTO_UDP) settings.flags |= VW_SETTINGS_UDP_PORTS;
  }
  return settings;
}

PolicyVersion ActivePolicy::version() const {
  return {info.generation, applied() ? to_hex(info.digest) : std::string()};
}

Result<ActivePolicy> read_active_policy(const PinnedMaps& maps) {
  ActivePolicy out;
  out.active = VW_TRY(maps.active().at(0));
  out.slot = out.active.slot & 1u;
  out.info = VW_TRY(maps.policy_info().at(out.slot));
  out.idle_info = VW_TRY(maps.policy_info().at(out.slot ^ 1u));
  return out;
}

Result<uint32_t> active_slot(const PinnedMaps& maps) {
  return VW_TRY(maps.active().at(0)).slot & 1u;
}

std::optional<PolicyVersion> active_policy_version(const std::string& pin_dir) {
  auto maps = PinnedMaps::open(pin_dir);
  if (!maps) return std::nullopt;
  auto active = read_active_policy(*maps);
  if (!active) return std::nullopt;
  return active->version();
}

Result<void> wait_for_readers(const PinnedMaps& maps) {
  uint32_t zero = 0;
  int inner_fd = maps.active().fd();  // any map matching vw_sync's inner template
  if (bpf_map_update_elem(maps.sync_fd(), &zero, &inner_fd, BPF_ANY) != 0)
    return fail_errno("update " VW_NAME(VW_MAP_SYNC) " (grace-period barrier)");
  return {};
}

void note_map_write() {
  static const long abort_after = [] {
    const char* v = std::getenv("VAULTWALL_TEST_ABORT_AFTER_WRITES");
    return v ? parse_decimal<long>(v).value_or(-1L) : -1L;
  }();
  static long writes = 0;
  if (abort_after >= 0 && ++writes > abort_after) std::abort();
}

namespace {

template <class Key, class Value>
Result<void> replace_contents(const TypedMap<Key, Value>& map,
                              const std::vector<std::pair<Key, Value>>& entries) {
  VW_TRY(map.clear());
  note_map_write();
  if (entries.empty()) return {};
  VW_TRY(map.put_all(entries));
  note_map_write();
  return {};
}

Result<void> write_document(const PinnedMaps& maps, uint32_t slot, const std::string& document) {
  const size_t capacity = size_t{VW_DOC_CHUNK_SIZE} * VW_DOC_CHUNKS;
  if (document.size() >= capacity)
    return fail(EFBIG, "policy document of " + std::to_string(document.size()) +
                           " bytes exceeds the " + std::to_string(capacity) + " bytes kept per slot");
  // Chunks up to and including the first short one (it may be empty).
  for (uint32_t i = 0; i < VW_DOC_CHUNKS; i++) {
    vw_doc_chunk chunk{};
    size_t offset = size_t{i} * VW_DOC_CHUNK_SIZE;
    chunk.len = static_cast<uint32_t>(std::min<size_t>(VW_DOC_CHUNK_SIZE, document.size() - offset));
    std::memcpy(chunk.data, document.data() + offset, chunk.len);
    VW_TRY(maps.policy_doc().put(slot * VW_DOC_CHUNKS + i, chunk));
    if (chunk.len < VW_DOC_CHUNK_SIZE) break;
  }
  note_map_write();
  return {};
}

// Writes the slot's segments: VLANs on any interface into vw_vlans_N, every
// one of its entries (zero where no segment is, so none of the replaced
// policy's is left), the others into vw_segments_N.
Result<void> write_segments(
    const PinnedMaps& maps, uint32_t slot,
    const std::vector<std::pair<vw_segment_key, vw_segment_value>>& segments) {
  std::vector<std::pair<vw_segment_key, vw_segment_value>> hashed;
  std::vector<std::pair<uint32_t, vw_segment_value>> by_vid(VW_VLAN_IDS);
  for (uint32_t vid = 0; vid < VW_VLAN_IDS; vid++) by_vid[vid] = {vid, vw_segment_value{}};
  for (const auto& [key, value] : segments) {
    if (is_vlan_on_any_interface(key))
      by_vid[key.vlan].second = value;
    else
      hashed.emplace_back(key, value);
  }
  VW_TRY(replace_contents(maps.segments(slot), hashed));
  VW_TRY(maps.vlans(slot).put_all(by_vid));
  note_map_write();
  return {};
}

// The arrays hold 64-byte chunks, so elements are contiguous in the mapping
// (an array element is aligned to 8 bytes).
constexpr size_t kIndexBytes = sizeof(vw_index_chunk) * VW_INDEX_TOP_CHUNKS;
static_assert(kIndexBytes == sizeof(uint32_t) * VW_INDEX_TOP_ENTRIES);

// Shared mappings of one slot's index arrays (vw_index6_N: its one element).
struct MappedIndex {
  MappedArray top, chunks, index6;
  vw_index6& ipv6() const { return *static_cast<vw_index6*>(index6.data()); }
};

Result<MappedArray> map_array(const PinnedMaps& maps, MapId id, size_t bytes, bool writable) {
  return MappedArray::map(maps.fd(id), PinnedMaps::name(id), bytes, writable);
}

Result<MappedIndex> map_source_index(const PinnedMaps& maps, uint32_t slot, uint32_t capacity,
                                     bool writable) {
  return MappedIndex{
      VW_TRY(map_array(maps, maps.index(slot), kIndexBytes, writable)),
      VW_TRY(map_array(maps, maps.chunks(slot), sizeof(vw_index_chunk) * capacity, writable)),
      VW_TRY(map_array(maps, maps.index6(slot), sizeof(vw_index6), writable))};
}

// Writes the slot's source index through shared mappings of its arrays:
// the used chunks first, then the top levels that point into them. Chunks
// past the used ones keep stale contents nothing points to.
Result<void> write_source_index(const PinnedMaps& maps, uint32_t slot, uint32_t capacity,
                                const SourceIndex& index) {
  MappedIndex mapped = VW_TRY(map_source_index(maps, slot, capacity, true));
  std::memcpy(mapped.chunks.data(), index.chunks.data(),
              index.chunks.size() * sizeof(vw_index_chunk));
  note_map_write();
  std::memcpy(mapped.top.data(), index.top.data(), kIndexBytes);
  note_map_write();
  std::memcpy(mapped.ipv6().node, index.nodes6.data(), index.nodes6.size() * sizeof(vw_index_chunk));
  note_map_write();
  std::memcpy(mapped.ipv6().top, index.top6.data(), kIndexBytes);
  note_map_write();
  return {};
}

// What the index of `image` uses of `capacity`; when /16s were left to the
// tries, the chunks the whole policy needs (built again without a limit).
void record_index_use(vw_policy_info& info, const SlotImage& image, uint32_t capacity,
                      const SourceIndex& index) {
  info.index_chunks = static_cast<uint32_t>(index.chunks.size());
  info.index_capacity = capacity;
  info.index_trie_regions = index.trie_regions;
  info.index6_nodes = static_cast<uint32_t>(index.nodes6.size());
  info.index6_trie_regions = index.trie_regions6;
  info.index_chunks_needed =
      index.trie_regions == index.trie_regions6  // the IPv6 nodes do not grow with it
          ? info.index_chunks
          : static_cast<uint32_t>(build_source_index(image, VW_INDEX_CHUNKS_MAX).chunks.size());
}

}  // namespace

Result<std::vector<std::string>> source_index_differences(const PinnedMaps& maps, uint32_t slot,
                                                          const SlotImage& image) {
  const uint32_t capacity = VW_TRY(maps.index_capacity());
  const SourceIndex want = build_source_index(image, capacity);
  const MappedIndex mapped = VW_TRY(map_source_index(maps, slot, capacity, false));
  const auto* have_top = static_cast<const uint32_t*>(mapped.top.data());
  const auto* have_chunks = static_cast<const vw_index_chunk*>(mapped.chunks.data());
  const vw_index6& have6 = mapped.ipv6();
  size_t root_diff = 0;
  const auto want_segments = segments_with_index(image, want);
  for (const auto& [key, value] : VW_TRY(read_segments(maps, slot))) {
    auto it = std::find_if(want_segments.begin(), want_segments.end(), [&](const auto& w) {
      return std::memcmp(&w.first, &key, sizeof(key)) == 0;
    });
    root_diff += it != want_segments.end() && it->second.index != value.index;
  }
  std::vector<std::string> out;
  if (root_diff)
    out.push_back(maps.segments(slot).name() + " and " + maps.vlans(slot).name() + ": " +
                  std::to_string(root_diff) +
                  " segments point to another virtual-network index than their rules give");
  // "vw_index_0: 3 of 65536 entries differ from the rules", for each array
  // part whose items (entries or 64-byte chunks) differ from the rebuilt ones.
  auto compare = [&](MapId id, const auto* have, const auto& want_items, const char* items) {
    size_t differ = 0;
    for (size_t i = 0; i < want_items.size(); i++)
      differ += std::memcmp(&have[i], &want_items[i], sizeof(have[i])) != 0;
    if (differ)
      out.push_back(std::string(PinnedMaps::name(id)) + ": " + std::to_string(differ) + " of " +
                    std::to_string(want_items.size()) + " " + items + " differ from the rules");
  };
  compare(maps.index(slot), have_top, want.top, "entries");
  compare(maps.index6(slot), have6.top, want.top6, "entries");
  compare(maps.index6(slot), have6.node, want.nodes6, "nodes");
  compare(maps.chunks(slot), have_chunks, want.chunks, "chunks");
  return out;
}

std::optional<std::string> source_index_warning(const vw_policy_info& info) {
  if (info.index_trie_regions == 0) return std::nullopt;
  const uint32_t ipv6 = info.index6_trie_regions, others = info.index_trie_regions - ipv6;
  std::string warning;
  if (others)
    warning = "the source index holds " + std::to_string(info.index_capacity) +
              " chunks and this policy needs " + std::to_string(info.index_chunks_needed) + ": " +
              std::to_string(others) +
              " /16s are decided by the tries (correct, slower); to index them all, purge and load with "
              "vaultwall-loader load --index-chunks " + std::to_string(info.index_chunks_needed) +
              " (VAULTWALL_INDEX_CHUNKS), then apply and attach";
  if (ipv6)
    warning += std::string(others ? "; " : "") + "the IPv6 source index holds " +
               std::to_string(VW_INDEX6_NODES) + " nodes and " + std::to_string(info.index6_nodes) +
               " are used: " + std::to_string(ipv6) +
               " IPv6 /16s are decided by vw_public6 (correct, slower)";
  return warning;
}

Result<uint32_t> write_idle_slot_and_flip(const PinnedMaps& maps, const SlotImage& image) {
  // Read once: under the pin directory's lock nothing else writes vw_active.
  vw_active active = VW_TRY(maps.active().at(0));
  const uint32_t idle = (active.slot & 1u) ^ 1u;

  // A packet that read the active word before the previous flip may still be
  // using the idle slot: wait until it has finished before overwriting it.
  VW_TRY(wait_for_readers(maps));

  VW_TRY(replace_contents(maps.rules(idle), image.rules));
  VW_TRY(replace_contents(maps.trusted(idle), image.trusted));
  VW_TRY(replace_contents(maps.rules6(idle), rules6_not_public(image)));
  VW_TRY(replace_contents(maps.public6(idle), build_public6(image)));
  const uint32_t capacity = VW_TRY(maps.index_capacity());
  const SourceIndex index = build_source_index(image, capacity);
  VW_TRY(write_source_index(maps, idle, capacity, index));
  vw_policy_info info = image.info;
  record_index_use(info, image, capacity, index);
  VW_TRY(write_segments(maps, idle, segments_with_index(image, index)));
  VW_TRY(replace_contents(maps.endpoints(idle), image.endpoints));
  VW_TRY(replace_contents(maps.endpoints6(idle), image.endpoints6));
  VW_TRY(write_document(maps, idle, image.document));
  // vw_active is written whole: the live slot's word and settings go back
  // unchanged, only settings[idle] differs.
  active.settings[idle] = settings_as_written(image);
  VW_TRY(maps.active().put(0, active));
  note_map_write();
  VW_TRY(maps.policy_info().put(idle, info));
  note_map_write();

  // The flip: one word, read once per packet.
  active.slot = idle;
  VW_TRY(maps.active().put(0, active));
  note_map_write();  // a kill point after the flip, before the caller's clean-up writes
  return idle;
}

Result<std::string> read_slot_document(const PinnedMaps& maps, uint32_t slot) {
  std::string document;
  for (uint32_t i = 0; i < VW_DOC_CHUNKS; i++) {
    const vw_doc_chunk chunk = VW_TRY(maps.policy_doc().at(slot * VW_DOC_CHUNKS + i));
    uint32_t len = std::min<uint32_t>(chunk.len, VW_DOC_CHUNK_SIZE);
    document.append(chunk.data, len);
    if (len < VW_DOC_CHUNK_SIZE) break;
  }
  return document;
}

Result<std::vector<std::pair<vw_segment_key, vw_segment_value>>> read_segments(
    const PinnedMaps& maps, uint32_t slot) {
  auto segments = VW_TRY(maps.segments(slot).entries());
  // The writer puts a VLAN on any interface only in vw_vlans_N and the
  // program reads it only there: such a key in the hash is dead. Its pad is
  // marked so that it can never stand for the array's entry of the same VID
  // (which may be missing) and every comparison reports it.
  for (auto& [key, value] : segments)
    if (is_vlan_on_any_interface(key)) key.pad = kDeadVlanKeyMark;
  const auto by_vid = VW_TRY(maps.vlans(slot).array_values(VW_VLAN_IDS));
  for (uint32_t vid = 0; vid < VW_VLAN_IDS; vid++) {
    const vw_segment_value& value = by_vid[vid];
    // Anything written there is shown, entry 0 included, so verify sees
    // an entry no policy wrote (the program reads only vnet_id != 0).
    if (value.vnet_id == 0 && value.index == 0) continue;
    vw_segment_key key{};
    key.vlan = static_cast<uint16_t>(vid);
    segments.emplace_back(key, value);
  }
  return segments;
}

Result<SlotImage> read_slot(const PinnedMaps& maps, uint32_t slot) {
  SlotImage image;
  image.settings = VW_TRY(maps.active().at(0)).settings[slot & 1u];
  image.info = VW_TRY(maps.policy_info().at(slot));
  image.rules = VW_TRY(maps.rules(slot).entries());
  image.trusted = VW_TRY(maps.trusted(slot).entries());
  image.rules6 = VW_TRY(maps.rules6(slot).entries());
  split_public6(VW_TRY(maps.public6(slot).entries()), image.rules6, image.trusted6);
  image.segments = VW_TRY(read_segments(maps, slot));
  image.endpoints = VW_TRY(maps.endpoints(slot).entries());
  image.endpoints6 = VW_TRY(maps.endpoints6(slot).entries());
  image.document = VW_TRY(read_slot_document(maps, slot));
  return image;
}

}  // namespace vaultwall
