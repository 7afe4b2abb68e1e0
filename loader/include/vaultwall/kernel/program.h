// Owns the XDP program's skeleton: load it with its maps pinned (reusing
// existing pins, so rules and counters survive reloads), and pin the program.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "vaultwall/kernel/attach.h"
#include "vaultwall/common/error.h"

struct vaultwall_bpf;

namespace vaultwall {

// Sends libbpf's messages to the log (vaultwall/common/logging.h): warnings
// as warnings, its debug output only with --verbose. Call after setup_logging.
void route_libbpf_messages();

// Checks that the caller can manage vaultwall: root, and bpffs mounted at
// or above pin_dir's parent. EPERM / ENOTSUP with a hint otherwise.
Result<void> check_privileges_and_bpffs(const std::string& pin_dir);

class Program {
 public:
  // Opens and loads the embedded program with maps pinned under pin_dir
  // (created 0700). Existing pins are reused after checking that they match
  // this build (EPROTO with a hint when they do not). A partial pin set
  // (some maps pinned, others not) is refused with EUCLEAN naming the
  // missing pins: loading would create them empty (an empty vw_active is no
  // policy at all). With `repair`, each missing map still held by the
  // running program is pinned again first (from its map ids); a map no
  // program holds cannot be recovered (EUCLEAN, hint: purge).
  // `index_chunks` sizes the source index's chunk arrays (vw_chunks_N) when
  // they are created; pinned ones keep their size, and asking for another
  // is refused (EEXIST, hint: load without it, or purge and load).
  // EINVAL when outside VW_INDEX_CHUNKS_MIN..VW_INDEX_CHUNKS_MAX.
  static Result<Program> load(const std::string& pin_dir, bool repair = false,
                              std::optional<uint32_t> index_chunks = std::nullopt);

  Program(Program&&) noexcept;
  Program& operator=(Program&&) noexcept;
  ~Program();

  int prog_fd() const;     // the Ethernet entry point
  int ip_prog_fd() const;  // the entry point for frames that start at the IP header
  vaultwall_bpf* skeleton() const { return skel_.get(); }

  // Pins both entry points as pin_dir/vaultwall_xdp and vaultwall_xdp_l3
  // (replacing older ones), moves every live link to the entry point of its
  // framing, so an upgrade leaves no gap, and attaches again the expected
  // interfaces whose link was severed or unpinned (see move_links).
  Result<LinkMoves> pin_and_update_links(const std::string& pin_dir) const;

 private:
  struct Destroy {
    void operator()(vaultwall_bpf* skel) const;
  };
  explicit Program(vaultwall_bpf* skel) : skel_(skel) {}
  std::unique_ptr<vaultwall_bpf, Destroy> skel_;
};

}  // namespace vaultwall
