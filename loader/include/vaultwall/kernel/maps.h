// Typed access to vaultwall's pinned BPF maps. Every key and value type is
// the shared ABI struct from bpf/vaultwall_abi.h; nothing is redeclared here.
#pragma once

#include <bpf/bpf.h>

#include <cstdint>
#include <array>
#include <optional>
#include <type_traits>
#include <utility>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall/common/fd.h"
#include "vaultwall_abi.h"

namespace vaultwall {

// One map, by fd (not owned), with its name for error messages.
template <class Key, class Value>
class TypedMap {
 public:
  TypedMap(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

  Result<void> put(const Key& key, const Value& value) const {
    if (bpf_map_update_elem(fd_, &key, &value, BPF_ANY) != 0) return fail_errno("update " + name_);
    return {};
  }

  // The value, or nullopt when the key is absent.
  Result<std::optional<Value>> get(const Key& key) const {
    Value value{};
    if (bpf_map_lookup_elem(fd_, &key, &value) == 0) return value;
    if (errno == ENOENT) return std::nullopt;
    return fail_errno("lookup " + name_);
  }

  // Removes a key; an absent key is not an error.
  Result<void> erase(const Key& key) const {
    if (bpf_map_delete_elem(fd_, &key) == 0 || errno == ENOENT) return {};
    return fail_errno("delete from " + name_);
  }

  // Every key currently in the map (hash and LPM maps).
  Result<std::vector<Key>> keys() const {
    std::vector<Key> out;
    Key key{};
    const Key* prev = nullptr;
    while (bpf_map_get_next_key(fd_, prev, &key) == 0) {
      out.push_back(key);
      prev = &out.back();
    }
    if (errno != ENOENT) return fail_errno("iterate " + name_);
    return out;
  }

  // Every entry, in key iteration order: BPF_MAP_LOOKUP_BATCH, a few
  // syscalls for the whole map (hash and LPM maps alike), falling back to
  // a lookup per key where the kernel has no batch for the map type.
  Result<std::vector<std::pair<Key, Value>>> entries() const {
    std::vector<std::pair<Key, Value>> out;
    constexpr __u32 kChunk = 4096;
    std::vector<Key> batch_keys(kChunk);
    std::vector<Value> batch_values(kChunk);
    Key next{};
    bool first = true;
    for (;;) {
      __u32 n = kChunk;
      int rc = bpf_map_lookup_batch(fd_, first ? nullptr : &next, &next, batch_keys.data(),
                                    batch_values.data(), &n, nullptr);
      if (rc != 0 && errno != ENOENT) {
        if (first && (errno == EINVAL || errno == EOPNOTSUPP || errno == 524 /* ENOTSUPP */))
          return entries_one_by_one();
        return fail_errno("batch read " + name_);
      }
      for (__u32 i = 0; i < n; i++) out.emplace_back(batch_keys[i], batch_values[i]);
      if (rc != 0) return out;  // ENOENT: that was the last batch
      first = false;
    }
  }

  // Every value of an array map (index = key), read with one
  // BPF_MAP_LOOKUP_BATCH call instead of one syscall per index.
  Result<std::vector<Value>> array_values(uint32_t count) const {
    static_assert(std::is_same_v<Key, uint32_t>, "array maps have u32 keys");
    std::vector<Key> batch_keys(count);
    std::vector<Value> values(count);
    __u32 n = count, out_batch = 0;
    if (bpf_map_lookup_batch(fd_, nullptr, &out_batch, batch_keys.data(), values.data(), &n,
                             nullptr) != 0 &&
        errno != ENOENT)
      return fail_errno("batch read " + name_);
    if (n != count) return fail(EIO, "batch read " + name_ + " returned " + std::to_string(n) +
                                         " of " + std::to_string(count) + " entries");
    return values;
  }

  // Writes many entries with one syscall per chunk (BPF_MAP_UPDATE_BATCH).
  Result<void> put_all(const std::vector<std::pair<Key, Value>>& entries) const {
    constexpr size_t kChunk = 8192;
    std::vector<Key> batch_keys;
    std::vector<Value> batch_values;
    for (size_t start = 0; start < entries.size(); start += kChunk) {
      size_t end = std::min(entries.size(), start + kChunk);
      batch_keys.clear();
      batch_values.clear();
      for (size_t i = start; i < end; i++) {
        batch_keys.push_back(entries[i].first);
        batch_values.push_back(entries[i].second);
      }
      __u32 count = static_cast<__u32>(batch_keys.size());
      if (bpf_map_update_batch(fd_, batch_keys.data(), batch_values.data(), &count, nullptr) != 0)
        return fail_errno("batch update " + name_ + " (" + std::to_string(entries.size()) +
                          " entries)");
    }
    return {};
  }

  // Removes every entry.
  Result<void> clear() const {
    const std::vector<Key> all_keys = VW_TRY(keys());
    if (all_keys.empty()) return {};
    __u32 count = static_cast<__u32>(all_keys.size());
    if (bpf_map_delete_batch(fd_, all_keys.data(), &count, nullptr) != 0)
      return fail_errno("batch delete from " + name_);
    return {};
  }

 private:
  Result<std::vector<std::pair<Key, Value>>> entries_one_by_one() const {
    const std::vector<Key> all_keys = VW_TRY(keys());
    std::vector<std::pair<Key, Value>> out;
    out.reserve(all_keys.size());
    for (const Key& key : all_keys)
      if (auto value = VW_TRY(get(key))) out.emplace_back(key, *value);  // else raced with a delete
    return out;
  }

  int fd_;
  std::string name_;
};

// An array map: every index below max_entries holds a value (zeros until
// written), so a read is the value or an error, never "absent".
template <class Value>
class TypedArray : public TypedMap<uint32_t, Value> {
 public:
  using TypedMap<uint32_t, Value>::TypedMap;

  Result<Value> at(uint32_t index) const {
    auto value = VW_TRY(this->get(index));
    if (!value)
      return fail(ERANGE, "read " + this->name() + "[" + std::to_string(index) + "]",
                  "the index is past the array's end");
    return *value;
  }
};

// Number of possible CPUs: the stride of every per-CPU value.
int possible_cpus();

// Sum of one per-CPU counter slot over all CPUs (last_hit_jiffies: the latest).
// A failed read is an error, never zeros.
Result<vw_counters> read_counters(int map_fd, const std::string& map_name, uint32_t index);

// Sums of slots [0, count) of a per-CPU counter array.
Result<std::vector<vw_counters>> read_all_counters(int map_fd, const std::string& map_name,
                                                   uint32_t count);

// Sets one per-CPU counter slot to zero on every CPU.
Result<void> zero_counters(int map_fd, const std::string& map_name, uint32_t index);

// What the event rate limits did, summed over CPUs (vw_event_stats).
struct EventStats {
  uint64_t emitted = 0;
  uint64_t suppressed = 0;
  uint64_t lost = 0;
};

// What the replies to denied packets did, summed over CPUs (vw_reject_stats).
struct RejectStats {
  uint64_t sent = 0;        // RSTs sent back
  uint64_t suppressed = 0;  // denied under reject, dropped instead
};

// Every map of VW_MAPS, named by its map name: MapId::VW_MAP_RULES_0 is
// MapId::vw_rules_0.
enum class MapId : size_t {
#define VW_MAP_ID_(token, key_size, value_size, max_entries) token,
  VW_MAPS(VW_MAP_ID_)
#undef VW_MAP_ID_
};
inline constexpr size_t kMapCount = 0
#define VW_MAP_ONE_(token, key_size, value_size, max_entries) +1
    VW_MAPS(VW_MAP_ONE_)
#undef VW_MAP_ONE_
    ;
// Map names in MapId order.
inline constexpr std::array<const char*, kMapCount> kMapNames = {
#define VW_MAP_NAME_(token, key_size, value_size, max_entries) VW_NAME(token),
    VW_MAPS(VW_MAP_NAME_)
#undef VW_MAP_NAME_
};

// The fds of every map vaultwall pins, opened from a pin directory.
class PinnedMaps {
 public:
  // Opens every pinned map under pin_dir and checks the pins' ABI version.
  // ENOENT: nothing pinned there (hint: run vaultwall-loader load);
  // EPROTO: pins from another ABI version.
  static Result<PinnedMaps> open(const std::string& pin_dir);

  const std::string& pin_dir() const { return pin_dir_; }

  int fd(MapId id) const { return fds_[static_cast<size_t>(id)].get(); }
  static const char* name(MapId id) { return kMapNames[static_cast<size_t>(id)]; }

  TypedArray<vw_active> active() const { return array<vw_active>(MapId::VW_MAP_ACTIVE); }
  TypedArray<vw_policy_info> policy_info() const {
    return array<vw_policy_info>(MapId::VW_MAP_POLICY_INFO);
  }
  TypedMap<vw_rule_key, vw_rule_value> rules(uint32_t slot) const {
    return map<vw_rule_key, vw_rule_value>(of_slot(MapId::VW_MAP_RULES_0, slot));
  }
  TypedMap<vw_trusted_key, vw_trusted_value> trusted(uint32_t slot) const {
    return map<vw_trusted_key, vw_trusted_value>(of_slot(MapId::VW_MAP_TRUSTED_0, slot));
  }
  TypedMap<vw_rule6_key, vw_rule_value> rules6(uint32_t slot) const {
    return map<vw_rule6_key, vw_rule_value>(of_slot(MapId::VW_MAP_RULES6_0, slot));
  }
  TypedMap<vw_public6_key, vw_public6_value> public6(uint32_t slot) const {
    return map<vw_public6_key, vw_public6_value>(of_slot(MapId::VW_MAP_PUBLIC6_0, slot));
  }
  // The source index arrays (BPF_F_MMAPABLE), written through MappedArray.
  MapId index(uint32_t slot) const { return of_slot(MapId::VW_MAP_INDEX_0, slot); }
  MapId chunks(uint32_t slot) const { return of_slot(MapId::VW_MAP_CHUNKS_0, slot); }
  MapId index6(uint32_t slot) const { return of_slot(MapId::VW_MAP_INDEX6_0, slot); }
  TypedMap<vw_segment_key, vw_segment_value> segments(uint32_t slot) const {
    return map<vw_segment_key, vw_segment_value>(of_slot(MapId::VW_MAP_SEGMENTS_0, slot));
  }
  // VLAN segments on any interface, indexed by VID (vnet_id 0: no segment).
  TypedArray<vw_segment_value> vlans(uint32_t slot) const {
    return array<vw_segment_value>(of_slot(MapId::VW_MAP_VLANS_0, slot));
  }
  TypedMap<vw_endpoint_key, vw_endpoint_value> endpoints(uint32_t slot) const {
    return map<vw_endpoint_key, vw_endpoint_value>(of_slot(MapId::VW_MAP_ENDPOINTS_0, slot));
  }
  TypedMap<vw_endpoint6_key, vw_endpoint_value> endpoints6(uint32_t slot) const {
    return map<vw_endpoint6_key, vw_endpoint_value>(of_slot(MapId::VW_MAP_ENDPOINTS6_0, slot));
  }
  TypedArray<vw_rule_info> rule_info() const { return array<vw_rule_info>(MapId::VW_MAP_RULE_INFO); }
  TypedArray<vw_service_info> service_info() const {
    return array<vw_service_info>(MapId::VW_MAP_SVC_INFO);
  }
  TypedArray<vw_doc_chunk> policy_doc() const { return array<vw_doc_chunk>(MapId::VW_MAP_POLICY_DOC); }
  TypedArray<vw_abi_info> abi() const { return array<vw_abi_info>(MapId::VW_MAP_ABI); }
  TypedMap<vw_link_key, vw_link_info> links() const {
    return map<vw_link_key, vw_link_info>(MapId::VW_MAP_LINKS);
  }

  int sync_fd() const { return fd(MapId::VW_MAP_SYNC); }
  int events_fd() const { return fd(MapId::VW_MAP_EVENTS); }  // ring buffer of vw_event
  int rule_stats_fd() const { return fd(MapId::VW_MAP_RULE_STATS); }
  int class_stats_fd() const { return fd(MapId::VW_MAP_CLASS_STATS); }
  int service_stats_fd() const { return fd(MapId::VW_MAP_SVC_STATS); }

  // vw_event_stats summed over CPUs; a failed read is an error.
  Result<EventStats> read_event_stats() const;
  // vw_reject_stats summed over CPUs; a failed read is an error.
  Result<RejectStats> read_reject_stats() const;

  // The pinned map's max_entries, as the kernel created it.
  Result<uint32_t> max_entries(MapId id) const;
  // Chunks per slot of the source index (vw_chunks_N's max_entries, fixed
  // when the maps were created: vaultwall-loader load --index-chunks).
  Result<uint32_t> index_capacity() const { return max_entries(chunks(0)); }

  // Name -> fd of every map, for status output.
  std::vector<std::pair<std::string, int>> all() const;

 private:
  // The slot's map of a pair declared _0 then _1 in VW_MAPS.
  static MapId of_slot(MapId slot_0, uint32_t slot) {
    return static_cast<MapId>(static_cast<size_t>(slot_0) + (slot & 1));
  }
  template <class Key, class Value>
  TypedMap<Key, Value> map(MapId id) const {
    return {fd(id), name(id)};
  }
  template <class Value>
  TypedArray<Value> array(MapId id) const {
    return {fd(id), name(id)};
  }

  std::string pin_dir_;
  std::array<UniqueFd, kMapCount> fds_;
};

// A shared mapping of a whole BPF_F_MMAPABLE array map: bulk writes of
// large arrays without a syscall per element.
class MappedArray {
 public:
  static Result<MappedArray> map(int fd, const std::string& name, size_t bytes, bool writable);
  MappedArray(MappedArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(other.bytes_) {}
  MappedArray& operator=(MappedArray&&) = delete;
  MappedArray(const MappedArray&) = delete;
  ~MappedArray();

  void* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  MappedArray(void* data, size_t bytes) : data_(data), bytes_(bytes) {}
  void* data_;
  size_t bytes_;
};

// Opens one pinned object (map, program or link). ENOENT when absent.
Result<UniqueFd> open_pinned(const std::string& path);

// The max_entries of the map behind fd (`name` for the error message).
Result<uint32_t> map_max_entries(int fd, const std::string& name);

}  // namespace vaultwall
