#include "vaultwall/kernel/program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>

#include "vaultwall/kernel/attach.h"
#include "vaultwall/common/fd.h"
#include "vaultwall/common/io.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall_bpf.skel.h"

namespace vaultwall {

namespace fs = std::filesystem;

namespace {

int libbpf_to_log(enum libbpf_print_level level, const char* format, va_list args) {
  spdlog::level::level_enum ours = level == LIBBPF_WARN   ? spdlog::level::warn
                                   : level == LIBBPF_INFO ? spdlog::level::info
                                                          : spdlog::level::debug;
  if (!spdlog::should_log(ours)) return 0;
  char text[1024];
  int n = std::vsnprintf(text, sizeof(text), format, args);
  std::string line(text, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof(text) - 1));
  while (!line.empty() && line.back() == '\n') line.pop_back();
  spdlog::log(ours, "libbpf: {}", line);
  return n;
}

}  // namespace

void route_libbpf_messages() { libbpf_set_print(libbpf_to_log); }

Result<void> check_privileges_and_bpffs(const std::string& pin_dir) {
  if (geteuid() != 0)
    return fail(EPERM, "vaultwall needs root to load and attach BPF programs",
                "run it as root (or with sudo)");
  fs::path probe = fs::path(pin_dir);
  std::error_code ec;
  while (!fs::exists(probe, ec) && probe.has_parent_path() && probe != probe.parent_path())
    probe = probe.parent_path();
  struct statfs st {};
  if (statfs(probe.c_str(), &st) != 0) return fail_errno("statfs " + probe.string());
  if (st.f_type != BPF_FS_MAGIC)
    return fail(ENOTSUP, probe.string() + " is not on a BPF filesystem (bpffs)",
                "mount it with: mount -t bpf bpf /sys/fs/bpf; inside a network namespace, run "
                "vaultwall through nsenter --net=/run/netns/NAME, not ip netns exec (which "
                "remounts /sys and hides bpffs)");
  return {};
}

void Program::Destroy::operator()(vaultwall_bpf* skel) const { vaultwall_bpf__destroy(skel); }

Program::Program(Program&&) noexcept = default;
Program& Program::operator=(Program&&) noexcept = default;
Program::~Program() = default;

int Program::prog_fd() const { return bpf_program__fd(skel_->progs.vaultwall_xdp); }
int Program::ip_prog_fd() const { return bpf_program__fd(skel_->progs.vaultwall_xdp_l3); }

namespace {

// A pinned map left by another build must match this build's definition
// exactly; libbpf would refuse it with a vague EINVAL, so say which differs.
Result<void> check_pinned_map(const std::string& pin_dir, const bpf_map* map) {
  std::string path = pin_dir + "/" + bpf_map__name(map);
  auto fd = open_pinned(path);
  if (!fd) return fd.error().code == ENOENT ? Result<void>{} : std::unexpected(fd.error());
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd->get(), &info, &len) != 0) return fail_errno("inspect " + path);
  auto mismatch = [&](const char* what, unsigned pinned, unsigned ours) -> Result<void> {
    return fail(EPROTO,
                "pinned map " + path + " has " + what + " " + std::to_string(pinned) +
                    ", this build expects " + std::to_string(ours) +
                    ": the pins come from an incompatible vaultwall version",
                "remove them with: vaultwall-loader detach --all --purge --pin-dir " + pin_dir +
                    " (rules and counters are lost; re-apply the policy after load)");
  };
  if (info.type != bpf_map__type(map)) return mismatch("type", info.type, bpf_map__type(map));
  if (info.key_size != bpf_map__key_size(map))
    return mismatch("key size", info.key_size, bpf_map__key_size(map));
  if (info.value_size != bpf_map__value_size(map))
    return mismatch("value size", info.value_size, bpf_map__value_size(map));
  if (info.max_entries != bpf_map__max_entries(map))
    return mismatch("max entries", info.max_entries, bpf_map__max_entries(map));
  return {};
}

Result<void> check_pinned_abi(const std::string& pin_dir) {
  auto fd = open_pinned(pin_dir + "/" VW_NAME(VW_MAP_ABI));
  if (!fd) return fd.error().code == ENOENT ? Result<void>{} : std::unexpected(fd.error());
  const TypedArray<vw_abi_info> abi(fd->get(), VW_NAME(VW_MAP_ABI));
  const uint32_t version = VW_TRY(abi.at(0)).abi_version;
  if (version != 0 && version != VW_ABI_VERSION)
    return fail(EPROTO,
                "pins at " + pin_dir + " are from vaultwall ABI version " +
                    std::to_string(version) + ", this build is version " +
                    std::to_string(VW_ABI_VERSION),
                "remove them with: vaultwall-loader detach --all --purge --pin-dir " + pin_dir);
  return {};
}

bool pin_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// A program that holds the maps: a pinned entry point, else the program
// of any link pin (the links keep it alive when its pin is gone).
Result<UniqueFd> running_program(const std::string& pin_dir) {
  for (const char* name : {VW_PROG_NAME, VW_PROG_L3_NAME})
    if (auto prog = open_pinned(pin_dir + "/" + name)) return std::move(*prog);
  auto interfaces = VW_TRY(attached_interfaces(pin_dir));
  for (const std::string& ifname : interfaces) {
    auto link = open_pinned(link_pin_path(pin_dir, ifname));
    if (!link) continue;
    bpf_link_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(link->get(), &info, &len) != 0) continue;
    int fd = bpf_prog_get_fd_by_id(info.prog_id);
    if (fd >= 0) return UniqueFd(fd);
  }
  return fail(ENOENT, "no running vaultwall program at " + pin_dir);
}

// Pins again, from the running program's map ids, every map in `missing`
// that it holds; returns the names it could not recover.
Result<std::vector<std::string>> repin_from_running_program(
    const std::string& pin_dir, const std::vector<std::string>& missing) {
  auto prog = running_program(pin_dir);
  if (!prog) return missing;
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog->get(), &info, &len) != 0)
    return fail_errno("inspect the running program");
  std::vector<__u32> map_ids(info.nr_map_ids);
  info = bpf_prog_info{};
  info.nr_map_ids = static_cast<__u32>(map_ids.size());
  info.map_ids = reinterpret_cast<__u64>(map_ids.data());
  len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog->get(), &info, &len) != 0)
    return fail_errno("read the running program's map ids");
  std::vector<std::string> lost = missing;
  for (__u32 id : map_ids) {
    UniqueFd map(bpf_map_get_fd_by_id(id));
    if (!map.valid()) continue;
    bpf_map_info map_info{};
    __u32 map_len = sizeof(map_info);
    if (bpf_obj_get_info_by_fd(map.get(), &map_info, &map_len) != 0) continue;
    auto it = std::find(lost.begin(), lost.end(), std::string(map_info.name));
    if (it == lost.end()) continue;
    std::string path = pin_dir + "/" + *it;
    if (bpf_obj_pin(map.get(), path.c_str()) != 0) return fail_errno("pin " + path + " again");
    VW_TRY(restrict_mode(path, 0600));
    lost.erase(it);
  }
  return lost;
}

// Either no map is pinned (a fresh start) or all are: loading onto a
// partial set would create the missing maps empty and move the links to a
// program that enforces nothing (an empty vw_active is no policy).
Result<void> check_pin_set(const std::string& pin_dir, bpf_object* obj, bool repair) {
  std::vector<std::string> missing, present;
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    if (bpf_map__pin_path(map) == nullptr) continue;  // not pinned (.rodata and the like)
    (pin_exists(pin_dir + "/" + bpf_map__name(map)) ? present : missing)
        .push_back(bpf_map__name(map));
  }
  // Program or link pins without maps are a partial set too (the maps' pins
  // went, the running program still enforces them).
  auto links = VW_TRY(attached_interfaces(pin_dir));
  if (pin_exists(program_pin_path(pin_dir)) || !links.empty()) present.push_back(VW_PROG_NAME);
  if (missing.empty() || present.empty()) return {};
  std::string purge = "vaultwall-loader detach --all --purge --pin-dir " + pin_dir +
                      ", then load, apply and attach (interfaces are unfiltered in between)";
  if (!repair)
    return fail(
        EUCLEAN,
        "the pins at " + pin_dir + " are incomplete: missing " + joined(missing) +
            "; loading would create them empty, so nothing was loaded and the links stay on the running program",
        "re-pin them from the running program with: vaultwall-loader load --repair --pin-dir " +
            pin_dir + "; or start over: " + purge);
  auto lost = VW_TRY(repin_from_running_program(pin_dir, missing));
  if (!lost.empty())
    return fail(EUCLEAN,
                "cannot repair the pins at " + pin_dir + ": no running vaultwall program holds " +
                    joined(lost),
                "start over: " + purge);
  return {};
}

// A fresh vw_abi is pinned only once it holds the version: pinned empty, a
// reader opening the pins in between would see ABI 0 and refuse them.
// Returns whether the pin is left to this function (it did not exist yet).
Result<bool> defer_fresh_abi_pin(const std::string& pin_dir, vaultwall_bpf* skel) {
  if (pin_exists(pin_dir + "/" VW_NAME(VW_MAP_ABI))) return false;  // reused: it has its version
  if (int err = bpf_map__set_pin_path(skel->maps.VW_MAP_ABI, nullptr); err != 0)
    return fail(-err, "prepare the " VW_NAME(VW_MAP_ABI) " map");
  return true;
}

Result<void> record_abi_version(const std::string& pin_dir, const vaultwall_bpf* skel,
                                bool pin_after) {
  const TypedArray<vw_abi_info> abi(bpf_map__fd(skel->maps.VW_MAP_ABI), VW_NAME(VW_MAP_ABI));
  VW_TRY(abi.put(0, vw_abi_info{VW_ABI_VERSION, VW_TUNNELS_ALL}));
  if (!pin_after) return {};
  const std::string path = pin_dir + "/" VW_NAME(VW_MAP_ABI);
  if (bpf_obj_pin(bpf_map__fd(skel->maps.VW_MAP_ABI), path.c_str()) != 0)
    return fail_errno("pin " + path);
  return {};
}

Result<void> check_index_chunks_range(std::optional<uint32_t> asked) {
  if (asked && (*asked < VW_INDEX_CHUNKS_MIN || *asked > VW_INDEX_CHUNKS_MAX))
    return fail(EINVAL,
                "--index-chunks " + std::to_string(*asked) + " is out of range",
                "give " + std::to_string(VW_INDEX_CHUNKS_MIN) + " to " +
                    std::to_string(VW_INDEX_CHUNKS_MAX) + " chunks of 64 bytes per slot (default " +
                    std::to_string(VW_INDEX_CHUNKS) + "; docs/operations.md, \"Sizing the source index\")");
  return {};
}

// The chunks of the source index: the pinned size when the maps exist (a
// map's size is fixed at creation), else the one asked for, else the
// compiled default. Asking for another size than the pinned one is refused.
Result<uint32_t> index_chunks_to_use(const std::string& pin_dir, std::optional<uint32_t> asked) {
  const std::string path = pin_dir + "/" VW_NAME(VW_MAP_CHUNKS_0);
  auto pinned = open_pinned(path);
  if (!pinned) {
    if (pinned.error().code != ENOENT) return std::unexpected(pinned.error());
    return asked.value_or(VW_INDEX_CHUNKS);
  }
  const uint32_t have = VW_TRY(map_max_entries(pinned->get(), path));
  if (asked && *asked != have)
    return fail(EEXIST,
                "the pinned source index at " + pin_dir + " has " + std::to_string(have) +
                    " chunks, --index-chunks asks for " + std::to_string(*asked) +
                    ": its size is fixed when the maps are created, so nothing was loaded",
                "keep it: load with --index-chunks " + std::to_string(have) +
                    " (or without the option); resize it: vaultwall-loader detach --all --purge --pin-dir " +
                    pin_dir + ", then load --index-chunks " + std::to_string(*asked) +
                    ", apply and attach (interfaces are unfiltered in between)");
  return have;
}

Result<void> size_source_index(vaultwall_bpf* skel, uint32_t chunks) {
  for (bpf_map* map : {skel->maps.VW_MAP_CHUNKS_0, skel->maps.VW_MAP_CHUNKS_1})
    if (int err = bpf_map__set_max_entries(map, chunks); err != 0)
      return fail(-err, std::string("size ") + bpf_map__name(map));
  return {};
}

}  // namespace

Result<Program> Program::load(const std::string& pin_dir, bool repair,
                              std::optional<uint32_t> index_chunks) {
  VW_TRY(check_index_chunks_range(index_chunks));
  std::error_code ec;
  fs::create_directories(pin_dir, ec);
  if (ec) return fail(ec.value(), "create pin directory " + pin_dir);
  VW_TRY(restrict_mode(pin_dir, 0700));

  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir.c_str());
  vaultwall_bpf* raw = vaultwall_bpf__open_opts(&opts);
  if (!raw) return fail_errno("open the embedded BPF object");
  Program program(raw);

  VW_TRY(check_pin_set(pin_dir, raw->obj, repair));
  VW_TRY(check_pinned_abi(pin_dir));
  VW_TRY(size_source_index(raw, VW_TRY(index_chunks_to_use(pin_dir, index_chunks))));
  bpf_map* map;
  bpf_object__for_each_map(map, raw->obj) { VW_TRY(check_pinned_map(pin_dir, map)); }
  const bool pin_abi_after = VW_TRY(defer_fresh_abi_pin(pin_dir, raw));
  if (int err = vaultwall_bpf__load(raw); err != 0)
    return fail(-err, "load the XDP program (see libbpf's messages above)");
  VW_TRY(record_abi_version(pin_dir, raw, pin_abi_after));
  // Pins hold policy and the journal of what passed: root only.
  for (const auto& entry : fs::directory_iterator(pin_dir, ec))
    VW_TRY(restrict_mode(entry.path().string(), 0600));
  if (ec) return fail(ec.value(), "list " + pin_dir);
  return program;
}

Result<LinkMoves> Program::pin_and_update_links(const std::string& pin_dir) const {
  // Stage both entry points, move the links, then rename: rename() on bpffs
  // replaces the old pins atomically. bpffs refuses names with dots.
  struct Pin {
    int fd;
    std::string path, staged;
  };
  std::vector<Pin> pins;
  for (auto [fd, framing] :
       {std::pair{prog_fd(), VW_FRAMING_ETHERNET}, {ip_prog_fd(), VW_FRAMING_IP}}) {
    std::string path = program_pin_path_for(pin_dir, static_cast<uint8_t>(framing));
    pins.push_back({fd, path, path + "_staged"});
  }
  for (const Pin& pin : pins) {
    ::unlink(pin.staged.c_str());
    if (bpf_obj_pin(pin.fd, pin.staged.c_str()) != 0)
      return fail_errno("pin program at " + pin.staged);
  }
  auto moves = VW_TRY(move_links(pin_dir, prog_fd(), ip_prog_fd()));
  for (const Pin& pin : pins) {
    if (::rename(pin.staged.c_str(), pin.path.c_str()) != 0)
      return fail_errno("rename " + pin.staged);
    VW_TRY(restrict_mode(pin.path, 0600));
  }
  return moves;
}

}  // namespace vaultwall
