// Attaching the pinned program to interfaces through pinned XDP links, and
// reporting what is attached where.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vaultwall/error.h"

namespace vaultwall {

enum class AttachMode { kAuto, kNative, kGeneric };

struct AttachResult {
  std::string interface;
  std::string mode;       // "native" or "generic"
  bool fell_back = false; // auto mode: native failed, generic used
  std::string native_error;
};

// Path of the pinned program and of the link pin for an interface.
std::string program_pin_path(const std::string& pin_dir);
std::string link_pin_path(const std::string& pin_dir, const std::string& interface);

// Attaches pin_dir's program to `interface` with a pinned bpf_link.
// ENODEV: unknown interface; EEXIST: already attached (by vaultwall or
// another XDP program); ENOENT: nothing loaded (hint: vaultwall-loader load).
Result<AttachResult> attach_interface(const std::string& pin_dir, const std::string& interface,
                                      AttachMode mode);

// Detaches vaultwall from `interface` (ENOENT when it is not attached there).
Result<void> detach_interface(const std::string& pin_dir, const std::string& interface);

// Interfaces with a pinned vaultwall link under pin_dir.
Result<std::vector<std::string>> attached_interfaces(const std::string& pin_dir);

// Removes every pin and the pin directory (after detaching everything).
Result<void> purge_pins(const std::string& pin_dir);

struct LinkStatus {
  std::string interface;
  uint32_t ifindex = 0;
  uint32_t link_id = 0;
  uint32_t prog_id = 0;
  std::string mode;  // native, generic, or "detached" when the link is defunct
};

struct MapStatus {
  std::string name;
  uint32_t id = 0;
};

struct Status {
  std::string pin_dir;
  bool loaded = false;
  uint32_t prog_id = 0;
  std::string prog_tag;
  uint32_t abi_version = 0;
  uint32_t active_slot = 0;
  uint64_t generation = 0;
  std::vector<LinkStatus> links;
  std::vector<MapStatus> maps;
};

// What is loaded, attached and active under pin_dir. loaded=false (not an
// error) when nothing is pinned there.
Result<Status> read_status(const std::string& pin_dir);

}  // namespace vaultwall
