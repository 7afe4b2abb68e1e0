#include "vaultwall/program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <filesystem>

#include "vaultwall/attach.h"
#include "vaultwall/fd.h"
#include "vaultwall/maps.h"
#include "vaultwall_bpf.skel.h"

namespace vaultwall {

namespace fs = std::filesystem;

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
                "mount it with: mount -t bpf bpf /sys/fs/bpf");
  return {};
}

void Program::Destroy::operator()(vaultwall_bpf* skel) const { vaultwall_bpf__destroy(skel); }

Program::Program(Program&&) noexcept = default;
Program& Program::operator=(Program&&) noexcept = default;
Program::~Program() = default;

int Program::prog_fd() const { return bpf_program__fd(skel_->progs.vaultwall_xdp); }

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
  auto fd = open_pinned(pin_dir + "/" VW_MAP_ABI);
  if (!fd) return fd.error().code == ENOENT ? Result<void>{} : std::unexpected(fd.error());
  TypedMap<uint32_t, vw_abi_info> abi(fd->get(), VW_MAP_ABI);
  auto info = abi.get(0);
  if (!info) return std::unexpected(info.error());
  uint32_t version = *info ? (*info)->abi_version : 0;
  if (version != 0 && version != VW_ABI_VERSION)
    return fail(EPROTO,
                "pins at " + pin_dir + " are from vaultwall ABI version " +
                    std::to_string(version) + ", this build is version " +
                    std::to_string(VW_ABI_VERSION),
                "remove them with: vaultwall-loader detach --all --purge --pin-dir " + pin_dir);
  return {};
}

Result<void> record_abi_version(const vaultwall_bpf* skel) {
  TypedMap<uint32_t, vw_abi_info> abi(bpf_map__fd(skel->maps.vw_abi), VW_MAP_ABI);
  return abi.put(0, vw_abi_info{VW_ABI_VERSION, 0});
}

}  // namespace

Result<Program> Program::load(const std::string& pin_dir) {
  std::error_code ec;
  fs::create_directories(pin_dir, ec);
  if (ec) return fail(ec.value(), "create pin directory " + pin_dir);
  ::chmod(pin_dir.c_str(), 0700);

  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir.c_str());
  vaultwall_bpf* raw = vaultwall_bpf__open_opts(&opts);
  if (!raw) return fail_errno("open the embedded BPF object");
  Program program(raw);

  if (auto r = check_pinned_abi(pin_dir); !r) return std::unexpected(r.error());
  bpf_map* map;
  bpf_object__for_each_map(map, raw->obj) {
    if (auto r = check_pinned_map(pin_dir, map); !r) return std::unexpected(r.error());
  }
  if (int err = vaultwall_bpf__load(raw); err != 0)
    return fail(-err, "load the XDP program (see libbpf's messages above)");
  if (auto r = record_abi_version(raw); !r) return std::unexpected(r.error());
  // Pins hold policy and the journal of what passed: root only.
  for (const auto& entry : fs::directory_iterator(pin_dir, ec)) ::chmod(entry.path().c_str(), 0600);
  return program;
}

Result<int> Program::pin_and_update_links(const std::string& pin_dir) const {
  std::string path = program_pin_path(pin_dir);
  std::string staged = path + "_staged";  // bpffs refuses names with dots
  ::unlink(staged.c_str());
  if (bpf_obj_pin(prog_fd(), staged.c_str()) != 0) return fail_errno("pin program at " + staged);
  auto interfaces = attached_interfaces(pin_dir);
  if (!interfaces) return std::unexpected(interfaces.error());
  int updated = 0;
  for (const std::string& ifname : *interfaces) {
    auto link = open_pinned(link_pin_path(pin_dir, ifname));
    if (!link) return std::unexpected(link.error());
    if (bpf_link_update(link->get(), prog_fd(), nullptr) != 0)
      return fail_errno("move the XDP link on " + ifname + " to the new program");
    updated++;
  }
  // rename() on bpffs replaces the old pin atomically.
  if (::rename(staged.c_str(), path.c_str()) != 0) return fail_errno("rename " + staged);
  ::chmod(path.c_str(), 0600);
  return updated;
}

}  // namespace vaultwall
