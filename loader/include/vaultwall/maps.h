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

#include "vaultwall/error.h"
#include "vaultwall/fd.h"
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

  // Every entry, in key iteration order.
  Result<std::vector<std::pair<Key, Value>>> entries() const {
    auto all_keys = keys();
    if (!all_keys) return std::unexpected(all_keys.error());
    std::vector<std::pair<Key, Value>> out;
    out.reserve(all_keys->size());
    for (const Key& key : *all_keys) {
      auto value = get(key);
      if (!value) return std::unexpected(value.error());
      if (*value) out.emplace_back(key, **value);  // raced with a delete: skip
    }
    return out;
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
    auto all_keys = keys();
    if (!all_keys) return std::unexpected(all_keys.error());
    if (all_keys->empty()) return {};
    __u32 count = static_cast<__u32>(all_keys->size());
    if (bpf_map_delete_batch(fd_, all_keys->data(), &count, nullptr) != 0)
      return fail_errno("batch delete from " + name_);
    return {};
  }

 private:
  int fd_;
  std::string name_;
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

// The fds of every map vaultwall pins, opened from a pin directory.
class PinnedMaps {
 public:
  // Opens every pinned map under pin_dir and checks the pins' ABI version.
  // ENOENT: nothing pinned there (hint: run vaultwall-loader load);
  // EPROTO: pins from another ABI version.
  static Result<PinnedMaps> open(const std::string& pin_dir);

  const std::string& pin_dir() const { return pin_dir_; }

  TypedMap<uint32_t, vw_active> active() const { return {active_.get(), VW_MAP_ACTIVE}; }
  TypedMap<uint32_t, vw_policy_info> policy_info() const {
    return {policy_info_.get(), VW_MAP_POLICY_INFO};
  }
  TypedMap<vw_rule_key, vw_rule_value> rules(uint32_t slot) const {
    return {rules_[slot & 1].get(), slot ? VW_MAP_RULES_1 : VW_MAP_RULES_0};
  }
  TypedMap<vw_trusted_key, vw_trusted_value> trusted(uint32_t slot) const {
    return {trusted_[slot & 1].get(), slot ? VW_MAP_TRUSTED_1 : VW_MAP_TRUSTED_0};
  }
  // The source index arrays (BPF_F_MMAPABLE), written through MappedArray.
  int index_fd(uint32_t slot) const { return index_[slot & 1].get(); }
  int chunks_fd(uint32_t slot) const { return chunks_[slot & 1].get(); }
  const char* index_name(uint32_t slot) const { return slot & 1 ? VW_MAP_INDEX_1 : VW_MAP_INDEX_0; }
  const char* chunks_name(uint32_t slot) const {
    return slot & 1 ? VW_MAP_CHUNKS_1 : VW_MAP_CHUNKS_0;
  }
  TypedMap<vw_segment_key, vw_segment_value> segments(uint32_t slot) const {
    return {segments_[slot & 1].get(), slot ? VW_MAP_SEGMENTS_1 : VW_MAP_SEGMENTS_0};
  }
  TypedMap<vw_endpoint_key, vw_endpoint_value> endpoints(uint32_t slot) const {
    return {endpoints_[slot & 1].get(), slot ? VW_MAP_ENDPOINTS_1 : VW_MAP_ENDPOINTS_0};
  }
  TypedMap<uint32_t, vw_rule_info> rule_info() const { return {rule_info_.get(), VW_MAP_RULE_INFO}; }
  TypedMap<uint32_t, vw_service_info> service_info() const {
    return {svc_info_.get(), VW_MAP_SVC_INFO};
  }
  TypedMap<uint32_t, vw_doc_chunk> policy_doc() const {
    return {policy_doc_.get(), VW_MAP_POLICY_DOC};
  }
  TypedMap<uint32_t, vw_abi_info> abi() const { return {abi_.get(), VW_MAP_ABI}; }

  TypedMap<vw_rate_key, vw_rate_state> event_rate() const {
    return {event_rate_.get(), VW_MAP_EVENT_RATE};
  }

  int sync_fd() const { return sync_.get(); }
  int events_fd() const { return events_.get(); }  // ring buffer of vw_event
  int event_budget_fd() const { return event_budget_.get(); }
  int rule_stats_fd() const { return rule_stats_.get(); }
  int class_stats_fd() const { return class_stats_.get(); }
  int service_stats_fd() const { return svc_stats_.get(); }

  // vw_event_stats summed over CPUs; a failed read is an error.
  Result<EventStats> read_event_stats() const;

  // Name -> fd of every map, for status output.
  std::vector<std::pair<std::string, int>> all() const;

 private:
  // (map name, fd member) for every map; one list for open() and all().
  template <class Self>
  static auto fields(Self& m) {
    using Fd = std::conditional_t<std::is_const_v<Self>, const UniqueFd*, UniqueFd*>;
    return std::to_array<std::pair<const char*, Fd>>({
        {VW_MAP_ABI, &m.abi_},
        {VW_MAP_ACTIVE, &m.active_},
        {VW_MAP_SYNC, &m.sync_},
        {VW_MAP_POLICY_INFO, &m.policy_info_},
        {VW_MAP_RULES_0, &m.rules_[0]},
        {VW_MAP_RULES_1, &m.rules_[1]},
        {VW_MAP_TRUSTED_0, &m.trusted_[0]},
        {VW_MAP_TRUSTED_1, &m.trusted_[1]},
        {VW_MAP_INDEX_0, &m.index_[0]},
        {VW_MAP_INDEX_1, &m.index_[1]},
        {VW_MAP_CHUNKS_0, &m.chunks_[0]},
        {VW_MAP_CHUNKS_1, &m.chunks_[1]},
        {VW_MAP_SEGMENTS_0, &m.segments_[0]},
        {VW_MAP_SEGMENTS_1, &m.segments_[1]},
        {VW_MAP_ENDPOINTS_0, &m.endpoints_[0]},
        {VW_MAP_ENDPOINTS_1, &m.endpoints_[1]},
        {VW_MAP_RULE_STATS, &m.rule_stats_},
        {VW_MAP_CLASS_STATS, &m.class_stats_},
        {VW_MAP_SVC_STATS, &m.svc_stats_},
        {VW_MAP_RULE_INFO, &m.rule_info_},
        {VW_MAP_SVC_INFO, &m.svc_info_},
        {VW_MAP_POLICY_DOC, &m.policy_doc_},
        {VW_MAP_EVENTS, &m.events_},
        {VW_MAP_EVENT_RATE, &m.event_rate_},
        {VW_MAP_EVENT_BUDGET, &m.event_budget_},
        {VW_MAP_EVENT_STATS, &m.event_stats_},
        {VW_MAP_LINKS, &m.links_},
    });
  }

  std::string pin_dir_;
  UniqueFd active_, sync_, policy_info_, rule_info_, svc_info_, policy_doc_, abi_;
  UniqueFd rules_[VW_SLOTS], trusted_[VW_SLOTS], segments_[VW_SLOTS], endpoints_[VW_SLOTS];
  UniqueFd index_[VW_SLOTS], chunks_[VW_SLOTS];
  UniqueFd rule_stats_, class_stats_, svc_stats_;
  UniqueFd events_, event_rate_, event_budget_, event_stats_;
  UniqueFd links_;
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

}  // namespace vaultwall
