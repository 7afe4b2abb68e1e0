// Owns the XDP program's skeleton: load it with its maps pinned (reusing
// existing pins, so rules and counters survive reloads), and pin the program.
#pragma once

#include <memory>
#include <string>

#include "vaultwall/error.h"

struct vaultwall_bpf;

namespace vaultwall {

// Checks that the caller can manage vaultwall: root, and bpffs mounted at
// or above pin_dir's parent. EPERM / ENOTSUP with a hint otherwise.
Result<void> check_privileges_and_bpffs(const std::string& pin_dir);

class Program {
 public:
  // Opens and loads the embedded program with maps pinned under pin_dir
  // (created 0700). Existing pins are reused after checking that they match
  // this build (EPROTO with a hint when they do not).
  static Result<Program> load(const std::string& pin_dir);

  Program(Program&&) noexcept;
  Program& operator=(Program&&) noexcept;
  ~Program();

  int prog_fd() const;
  vaultwall_bpf* skeleton() const { return skel_.get(); }

  // Pins the program as pin_dir/vaultwall_xdp (replacing an older one) and
  // moves every pinned XDP link to it, so an upgrade leaves no gap.
  // Returns the number of links updated.
  Result<int> pin_and_update_links(const std::string& pin_dir) const;

 private:
  struct Destroy {
    void operator()(vaultwall_bpf* skel) const;
  };
  explicit Program(vaultwall_bpf* skel) : skel_(skel) {}
  std::unique_ptr<vaultwall_bpf, Destroy> skel_;
};

}  // namespace vaultwall
