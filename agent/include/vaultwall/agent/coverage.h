// Whether vaultwall covers one named interface, and what would repair it.
// observe_interface() reads the kernel; assess_coverage() is the pure
// decision, so every case is unit-tested without a kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vaultwall {

// What the kernel says about one named interface and its pins.
struct Observation {
  std::optional<uint32_t> ifindex;  // the interface by name, here; nullopt: no such interface
  uint32_t program_id = 0;          // pin_dir's program (vaultwall_xdp); 0: nothing loaded
  bool link_pinned = false;         // pin_dir/link_<name> exists
  uint32_t link_ifindex = 0;        // the pinned link's device; 0: severed (device gone)
  uint32_t link_prog_id = 0;
  uint32_t xdp_prog_id = 0;  // the XDP program the kernel runs on *ifindex; 0: none
  std::string error;         // set when something could not be read (nothing is decided then)
};

enum class Coverage {
  kCovered,     // the pinned link runs on this interface
  kMissing,     // no interface by that name (yet): attached when it appears
  kNotLoaded,   // nothing loaded in the pin dir: nothing to attach
  kUnattached,  // present, no vaultwall link, no XDP program: attach
  kSevered,     // the pinned link lost its device (interface re-created): replace it
  kMoved,    // the pinned link runs on another device (this one renamed away): move its pin, attach
  kForeign,  // another XDP program runs here: vaultwall cannot attach, and says so
  kUnknown,  // the observation failed
};

enum class Repair { kNone, kAttach, kReplace, kMovePinAndAttach };

struct Assessment {
  Coverage coverage = Coverage::kUnknown;
  Repair repair = Repair::kNone;
  std::string detail;  // one sentence for the log, naming what was found

  bool operator==(const Assessment&) const = default;
};

// The decision for `name` given what was seen. A repair is proposed only
// when it cannot remove anyone else's program: a foreign XDP program is
// reported, never replaced.
Assessment assess_coverage(const std::string& name, const Observation& seen);

// "covered", "missing", ... (for logs and systemd's STATUS).
std::string_view coverage_name(Coverage coverage);

// Reads the observation for `name` under pin_dir from the kernel (in the
// caller's network namespace).
Observation observe_interface(const std::string& pin_dir, const std::string& name);

}  // namespace vaultwall
