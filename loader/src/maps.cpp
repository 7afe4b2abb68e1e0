#include "vaultwall/maps.h"

#include <bpf/libbpf.h>

#include <sys/mman.h>

#include <algorithm>

namespace vaultwall {

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
  for (uint32_t i = 0; i < count; i++) {
    auto c = read_counters(map_fd, map_name, i);
    if (!c) return std::unexpected(c.error());
    out.push_back(*c);
  }
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

Result<void> open_into(const std::string& pin_dir, const char* name, UniqueFd& out) {
  auto fd = open_pinned(pin_dir + "/" + name);
  if (!fd) {
    Error e = fd.error();
    if (e.code == ENOENT)
      e.hint = "no pinned maps at " + pin_dir + "; run vaultwall-loader load first";
    else if (e.code == EPERM || e.code == EACCES)
      e.hint = "run as root (vaultwall pins are readable by root only)";
    return std::unexpected(e);
  }
  out = std::move(*fd);
  return {};
}

}  // namespace

Result<PinnedMaps> PinnedMaps::open(const std::string& pin_dir) {
  PinnedMaps m;
  m.pin_dir_ = pin_dir;
  // The ABI map first: a version mismatch explains any other failure.
  if (auto r = open_into(pin_dir, VW_MAP_ABI, m.abi_); !r) return std::unexpected(r.error());
  auto abi = m.abi().get(0);
  if (!abi) return std::unexpected(abi.error());
  uint32_t version = *abi ? (*abi)->abi_version : 0;
  if (version != VW_ABI_VERSION)
    return fail(EPROTO,
                "pins at " + pin_dir + " have ABI version " + std::to_string(version) +
                    ", this build uses " + std::to_string(VW_ABI_VERSION),
                "run vaultwall-loader load with this build to upgrade them (or detach --all --purge)");
  for (const auto& [name, fd] : fields(m)) {
    if (fd->valid()) continue;
    if (auto r = open_into(pin_dir, name, *fd); !r) return std::unexpected(r.error());
  }
  return m;
}

Result<EventStats> PinnedMaps::read_event_stats() const {
  auto sum = [&](uint32_t index) -> Result<uint64_t> {
    std::vector<uint64_t> per_cpu(possible_cpus());
    if (bpf_map_lookup_elem(event_stats_.get(), &index, per_cpu.data()) != 0)
      return fail_errno(std::string("read ") + VW_MAP_EVENT_STATS + "[" + std::to_string(index) + "]");
    uint64_t total = 0;
    for (uint64_t n : per_cpu) total += n;
    return total;
  };
  EventStats stats;
  auto emitted = sum(VW_EVENT_STAT_EMITTED);
  if (!emitted) return std::unexpected(emitted.error());
  auto suppressed = sum(VW_EVENT_STAT_SUPPRESSED);
  if (!suppressed) return std::unexpected(suppressed.error());
  auto lost = sum(VW_EVENT_STAT_LOST);
  if (!lost) return std::unexpected(lost.error());
  stats.emitted = *emitted;
  stats.suppressed = *suppressed;
  stats.lost = *lost;
  return stats;
}

std::vector<std::pair<std::string, int>> PinnedMaps::all() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& [name, fd] : fields(*this)) out.emplace_back(name, fd->get());
  return out;
}

}  // namespace vaultwall
