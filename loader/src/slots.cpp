#include "vaultwall/slots.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "vaultwall/source_index.h"

namespace vaultwall {

vw_settings settings_as_written(const SlotImage& image) {
  vw_settings settings = image.settings;
  settings.flags &= ~(VW_SETTINGS_HAS_SEGMENTS | VW_SETTINGS_HAS_ENDPOINTS |
                      VW_SETTINGS_TCP_PORTS | VW_SETTINGS_UDP_PORTS);
  if (!image.segments.empty()) settings.flags |= VW_SETTINGS_HAS_SEGMENTS;
  if (!image.endpoints.empty()) settings.flags |= VW_SETTINGS_HAS_ENDPOINTS;
  settings.port_filter = 0;
  for (uint32_t i = 0; i < std::min<uint32_t>(settings.port_count, VW_MAX_PORTS); i++) {
    const vw_port& port = settings.ports[i];
    settings.port_filter |= 1u << (port.port % 32);
    if (port.proto == IPPROTO_TCP) settings.flags |= VW_SETTINGS_TCP_PORTS;
    if (port.proto == IPPROTO_UDP) settings.flags |= VW_SETTINGS_UDP_PORTS;
  }
  return settings;
}

namespace {

Result<vw_active> read_active(const PinnedMaps& maps) {
  auto active = maps.active().get(0);
  if (!active) return std::unexpected(active.error());
  return active->value_or(vw_active{});
}

}  // namespace

Result<uint32_t> active_slot(const PinnedMaps& maps) {
  auto active = read_active(maps);
  if (!active) return std::unexpected(active.error());
  return active->slot & 1u;
}

Result<vw_settings> slot_settings(const PinnedMaps& maps, uint32_t slot) {
  auto active = read_active(maps);
  if (!active) return std::unexpected(active.error());
  return active->settings[slot & 1u];
}

Result<void> wait_for_readers(const PinnedMaps& maps) {
  uint32_t zero = 0;
  int inner_fd = maps.active().fd();  // any map matching vw_sync's inner template
  if (bpf_map_update_elem(maps.sync_fd(), &zero, &inner_fd, BPF_ANY) != 0)
    return fail_errno("update " VW_MAP_SYNC " (grace-period barrier)");
  return {};
}

void note_map_write() {
  static const long abort_after = [] {
    const char* v = std::getenv("VAULTWALL_TEST_ABORT_AFTER_WRITES");
    return v ? std::strtol(v, nullptr, 10) : -1L;
  }();
  static long writes = 0;
  if (abort_after >= 0 && ++writes > abort_after) std::abort();
}

namespace {

template <class Key, class Value>
Result<void> replace_contents(const TypedMap<Key, Value>& map,
                              const std::vector<std::pair<Key, Value>>& entries) {
  if (auto r = map.clear(); !r) return r;
  note_map_write();
  if (entries.empty()) return {};
  if (auto r = map.put_all(entries); !r) return r;
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
    if (auto r = maps.policy_doc().put(slot * VW_DOC_CHUNKS + i, chunk); !r) return r;
    if (chunk.len < VW_DOC_CHUNK_SIZE) break;
  }
  note_map_write();
  return {};
}

// Both arrays hold 64-byte chunks, so elements are contiguous in the mapping
// (an array element is aligned to 8 bytes).
constexpr size_t kIndexBytes = sizeof(vw_index_chunk) * VW_INDEX_TOP_CHUNKS;
static_assert(kIndexBytes == sizeof(uint32_t) * VW_INDEX_TOP_ENTRIES);
constexpr size_t kChunksBytes = sizeof(vw_index_chunk) * VW_INDEX_CHUNKS;

// Shared mappings of one slot's two index arrays.
struct MappedIndex {
  MappedArray top, chunks;
};

Result<MappedIndex> map_source_index(const PinnedMaps& maps, uint32_t slot, bool writable) {
  auto top = MappedArray::map(maps.index_fd(slot), maps.index_name(slot), kIndexBytes, writable);
  if (!top) return std::unexpected(top.error());
  auto chunks =
      MappedArray::map(maps.chunks_fd(slot), maps.chunks_name(slot), kChunksBytes, writable);
  if (!chunks) return std::unexpected(chunks.error());
  return MappedIndex{std::move(*top), std::move(*chunks)};
}

// Writes the slot's source index through shared mappings of its arrays:
// the used chunks first, then the top level that points into them. Chunks
// past the used ones keep stale contents nothing points to.
Result<void> write_source_index(const PinnedMaps& maps, uint32_t slot, const SourceIndex& index) {
  auto mapped = map_source_index(maps, slot, true);
  if (!mapped) return std::unexpected(mapped.error());
  std::memcpy(mapped->chunks.data(), index.chunks.data(),
              index.chunks.size() * sizeof(vw_index_chunk));
  note_map_write();
  std::memcpy(mapped->top.data(), index.top.data(), kIndexBytes);
  note_map_write();
  return {};
}

}  // namespace

Result<std::vector<std::string>> source_index_differences(const PinnedMaps& maps, uint32_t slot,
                                                          const SlotImage& image) {
  const SourceIndex want = build_source_index(image);
  auto mapped = map_source_index(maps, slot, false);
  if (!mapped) return std::unexpected(mapped.error());
  const auto* have_top = static_cast<const uint32_t*>(mapped->top.data());
  const auto* have_chunks = static_cast<const vw_index_chunk*>(mapped->chunks.data());
  size_t top_diff = 0, chunk_diff = 0;
  for (uint32_t i = 0; i < VW_INDEX_TOP_ENTRIES; i++) top_diff += have_top[i] != want.top[i];
  for (size_t i = 0; i < want.chunks.size(); i++)
    chunk_diff += std::memcmp(&have_chunks[i], &want.chunks[i], sizeof(vw_index_chunk)) != 0;
  std::vector<std::string> out;
  if (top_diff)
    out.push_back(std::string(maps.index_name(slot)) + ": " + std::to_string(top_diff) +
                  " of " + std::to_string(VW_INDEX_TOP_ENTRIES) + " entries differ from the rules");
  if (chunk_diff)
    out.push_back(std::string(maps.chunks_name(slot)) + ": " + std::to_string(chunk_diff) + " of " +
                  std::to_string(want.chunks.size()) + " chunks differ from the rules");
  return out;
}

Result<uint32_t> write_idle_slot_and_flip(const PinnedMaps& maps, const SlotImage& image) {
  // Read once: under the pin directory's lock nothing else writes vw_active.
  auto active = read_active(maps);
  if (!active) return std::unexpected(active.error());
  const uint32_t idle = (active->slot & 1u) ^ 1u;

  // A packet that read the active word before the previous flip may still be
  // using the idle slot: wait until it has finished before overwriting it.
  if (auto r = wait_for_readers(maps); !r) return std::unexpected(r.error());

  if (auto r = replace_contents(maps.rules(idle), image.rules); !r) return std::unexpected(r.error());
  if (auto r = replace_contents(maps.trusted(idle), image.trusted); !r)
    return std::unexpected(r.error());
  if (auto r = write_source_index(maps, idle, build_source_index(image)); !r)
    return std::unexpected(r.error());
  if (auto r = replace_contents(maps.segments(idle), image.segments); !r)
    return std::unexpected(r.error());
  if (auto r = replace_contents(maps.endpoints(idle), image.endpoints); !r)
    return std::unexpected(r.error());
  if (auto r = write_document(maps, idle, image.document); !r) return std::unexpected(r.error());
  // vw_active is written whole: the live slot's word and settings go back
  // unchanged, only settings[idle] differs.
  active->settings[idle] = settings_as_written(image);
  if (auto r = maps.active().put(0, *active); !r) return std::unexpected(r.error());
  note_map_write();
  if (auto r = maps.policy_info().put(idle, image.info); !r) return std::unexpected(r.error());
  note_map_write();

  // The flip: one word, read once per packet.
  active->slot = idle;
  if (auto r = maps.active().put(0, *active); !r) return std::unexpected(r.error());
  note_map_write();  // a kill point after the flip, before the caller's clean-up writes
  return idle;
}

Result<std::string> read_slot_document(const PinnedMaps& maps, uint32_t slot) {
  std::string document;
  for (uint32_t i = 0; i < VW_DOC_CHUNKS; i++) {
    auto chunk = maps.policy_doc().get(slot * VW_DOC_CHUNKS + i);
    if (!chunk) return std::unexpected(chunk.error());
    if (!*chunk) break;
    uint32_t len = std::min<uint32_t>((*chunk)->len, VW_DOC_CHUNK_SIZE);
    document.append((*chunk)->data, len);
    if (len < VW_DOC_CHUNK_SIZE) break;
  }
  return document;
}

Result<SlotImage> read_slot(const PinnedMaps& maps, uint32_t slot) {
  SlotImage image;
  auto settings = slot_settings(maps, slot);
  if (!settings) return std::unexpected(settings.error());
  image.settings = *settings;
  auto info = maps.policy_info().get(slot);
  if (!info) return std::unexpected(info.error());
  if (*info) image.info = **info;
  auto rules = maps.rules(slot).entries();
  if (!rules) return std::unexpected(rules.error());
  image.rules = std::move(*rules);
  auto trusted = maps.trusted(slot).entries();
  if (!trusted) return std::unexpected(trusted.error());
  image.trusted = std::move(*trusted);
  auto segments = maps.segments(slot).entries();
  if (!segments) return std::unexpected(segments.error());
  image.segments = std::move(*segments);
  auto endpoints = maps.endpoints(slot).entries();
  if (!endpoints) return std::unexpected(endpoints.error());
  image.endpoints = std::move(*endpoints);
  auto document = read_slot_document(maps, slot);
  if (!document) return std::unexpected(document.error());
  image.document = std::move(*document);
  return image;
}

}  // namespace vaultwall
