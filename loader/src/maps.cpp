#include "vaultwall/kernel/maps.h"

#include <bpf/libbpf.h>

#include <sys/mman.h>

#include <algorithm>
#include <filesystem>

namespace vaultwall {

// PinnedMaps::of_slot: each per-slot pair is listed _0 then _1 in VW_MAPS.
#define VW_SLOT_PAIR_(map_0, map_1)                                                      \
  static_assert(static_cast<size_t>(MapId::map_1) == static_cast<size_t>(MapId::map_0) + 1, \
                #map_1 " must follow " #map_0 " in VW_MAPS")
VW_SLOT_PAIR_(VW_MAP_RULES_0, VW_MAP_RULES_1);
VW_SLOT_PAIR_(VW_MAP_TRUSTED_0, VW_MAP_TRUSTED_1);
VW_SLOT_PAIR_(VW_MAP_RULES6_0, VW_MAP_RULES6_1);
VW_SLOT_PAIR_(VW_MAP_PUBLIC6_0, VW_MAP_PUBLIC6_1);
VW_SLOT_PAIR_(VW_MAP_INDEX_0, VW_MAP_INDEX_1);
VW_SLOT_PAIR_(VW_MAP_CHUNKS_0, VW_MAP_CHUNKS_1);
VW_SLOT_PAIR_(VW_MAP_INDEX6_0, VW_MAP_INDEX6_1);
VW_SLOT_PAIR_(VW_MAP_SEGMENTS_0, VW_MAP_SEGMENTS_1);
VW_SLOT_PAIR_(VW_MAP_VLANS_0, VW_MAP_VLANS_1);
VW_SLOT_PAIR_(VW_MAP_ENDPOINTS_0, VW_MAP_ENDPOINTS_1);
VW_SLOT_PAIR_(VW_MAP_ENDPOINTS6_0, VW_MAP_ENDPOINTS6_1);
#undef VW_SLOT_PAIR_

int possible_cpus() {
  static const int cpus = libbpf_num_possible_cpus();
  return cpus;
}

Result<vw_counters> read_counters(int map_fd, const std::string& map_name, uint32_t index) {
  std::vector<vw_counters> per_cpu(possible_cpus());
  if (bpf_map_lookup_elem(map_fd, &index, per_cpu.data()) != 0)
    return fail_errno("read " + map_name + "[" + std::to_string(index) + "]");
  vw_counters sum{};
  for (const vw_counters& c : per_cpu) {
    sum.packets += c.packets;
    sum.bytes += c.bytes;
    sum.last_hit_jiffies = std::max(sum.last_hit_jiffies, c.last_hit_jiffies);
  }
  return sum;
}

Result<std::vector<vw_counters>> read_all_counters(int map_fd, const std::string& map_name,
                                                   uint32_t count) {
  std::vector<vw_counters> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; i++) out.push_back(VW_TRY(read_counters(map_fd, map_name, i)));
  return out;
}

Result<void> zero_counters(int map_fd, const std::string& map_name, uint32_t index) {
  std::vector<vw_counters> zeros(possible_cpus());
  if (bpf_map_update_elem(map_fd, &index, zeros.data(), BPF_ANY) != 0)
    return fail_errno("zero " + map_name + "[" + std::to_string(index) + "]");
  return {};
}

Result<MappedArray> MappedArray::map(int fd, const std::string& name, size_t bytes,
                                     bool writable) {
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* data = ::mmap(nullptr, bytes, prot, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return fail_errno("mmap " + name);
  return MappedArray(data, bytes);
}

MappedArray::~MappedArray() {
  if (data_) ::munmap(data_, bytes_);
}

Result<UniqueFd> open_pinned(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return fail_errno("open pinned " + path);
  return UniqueFd(fd);
}

namespace {

// Whether pin_dir holds vaultwall's ABI map pin (it was loaded there).
bool loaded_at(const std::string& pin_dir) {
  std::error_code ec;
  return std::filesystem::exists(pin_dir + "/" VW_NAME(VW_MAP_ABI), ec);
}

Result<UniqueFd> open_map_pin(const std::string& pin_dir, const char* name) {
  auto fd = open_pinned(pin_dir + "/" + name);
  if (fd) return fd;
  Error e = fd.error();
  // A pin deleted from a loaded set: load refuses the partial set (it
  // would create that map empty); the running program still holds it.
  if (e.code == ENOENT && loaded_at(pin_dir) && std::string_view(name) != VW_NAME(VW_MAP_ABI))
    e.hint = "the pins at " + pin_dir + " are incomplete; pin it again from the running "
             "program: vaultwall-loader load --repair";
  else if (e.code == ENOENT)
    e.hint = "no pinned maps at " + pin_dir + "; run vaultwall-loader load first";
  else if (e.code == EPERM || e.code == EACCES)
    e.hint = "run as root (vaultwall pins are readable by root only)";
  return std::unexpected(e);
}

}  // namespace

Result<PinnedMaps> PinnedMaps::open(const std::string& pin_dir) {
  PinnedMaps m;
  m.pin_dir_ = pin_dir;
  // The ABI map first: a version mismatch explains any other failure.
  auto& abi_fd = m.fds_[static_cast<size_t>(MapId::VW_MAP_ABI)];
  abi_fd = VW_TRY(open_map_pin(pin_dir, name(MapId::VW_MAP_ABI)));
  const uint32_t version = VW_TRY(m.abi().at(0)).abi_version;
  if (version != VW_ABI_VERSION)
    return fail(EPROTO,
                "pins at " + pin_dir + " have ABI version " + std::to_string(version) +
                    ", this build uses " + std::to_string(VW_ABI_VERSION),
                "run vaultwall-loader load with this build to upgrade them (or detach --all --purge)");
  for (size_t i = 0; i < kMapCount; i++)
    if (!m.fds_[i].valid()) m.fds_[i] = VW_TRY(open_map_pin(pin_dir, kMapNames[i]));
  return m;
}

namespace {

// One u64 slot of a per-CPU array, summed over CPUs.
Result<uint64_t> sum_per_cpu(int map_fd, const char* map_name, uint32_t index) {
  std::vector<uint64_t> per_cpu(possible_cpus());
  if (bpf_map_lookup_elem(map_fd, &index, per_cpu.data()) != 0)
    return fail_errno(std::string("read ") + map_name + "[" + std::to_string(index) + "]");
  uint64_t total = 0;
  for (uint64_t n : per_cpu) total += n;
  return total;
}

}  // namespace

Result<EventStats> PinnedMaps::read_event_stats() const {
  auto sum = [&](uint32_t index) {
    return sum_per_cpu(fd(MapId::VW_MAP_EVENT_STATS), name(MapId::VW_MAP_EVENT_STATS), index);
  };
  return EventStats{.emitted = VW_TRY(sum(VW_EVENT_STAT_EMITTED)),
                    .suppressed = VW_TRY(sum(VW_EVENT_STAT_SUPPRESSED)),
                    .lost = VW_TRY(sum(VW_EVENT_STAT_LOST))};
}

Result<RejectStats> PinnedMaps::read_reject_stats() const {
  auto sum = [&](uint32_t index) {
    return sum_per_cpu(fd(MapId::VW_MAP_REJECT_STATS), name(MapId::VW_MAP_REJECT_STATS), index);
  };
  return RejectStats{.sent = VW_TRY(sum(VW_REJECT_STAT_SENT)),
                     .suppressed = VW_TRY(sum(VW_REJECT_STAT_SUPPRESSED))};
}

Result<uint32_t> map_max_entries(int fd, const std::string& name) {
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return fail_errno("inspect " + name);
  return info.max_entries;
}

Result<uint32_t> PinnedMaps::max_entries(MapId id) const { return map_max_entries(fd(id), name(id)); }

std::vector<std::pair<std::string, int>> PinnedMaps::all() const {
  std::vector<std::pair<std::string, int>> out;
  for (size_t i = 0; i < kMapCount; i++) out.emplace_back(kMapNames[i], fds_[i].get());
  return out;
}

}  // namespace vaultwall
