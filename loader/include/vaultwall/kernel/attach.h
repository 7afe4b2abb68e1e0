// Attaching the pinned program to interfaces through pinned XDP links, and
// reporting what is attached where.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall/kernel/links.h"

namespace vaultwall {

enum class AttachMode { kAuto, kNative, kGeneric };

struct AttachResult {
  std::string interface;
  std::string mode;       // "native" or "generic"
  std::string framing;    // "ethernet" or "ip" (the entry point it runs)
  bool fell_back = false; // auto mode: native failed, generic used
  std::string native_error;
  bool replaced = false;  // a severed or unpinned link of this name was replaced
};

// Path of the pinned program (Ethernet entry point; program_pin_path_for
// names either) and of the link pin for an interface.
std::string program_pin_path(const std::string& pin_dir);
std::string program_pin_path_for(const std::string& pin_dir, uint8_t framing);
std::string link_pin_path(const std::string& pin_dir, const std::string& interface);

// Attaches pin_dir's program to `interface` (named in the caller's network
// namespace) with a pinned bpf_link, and records it in vw_links. Devices
// without an Ethernet header (TUN, WireGuard) get the IP entry point in
// generic mode. A severed link of that name, or an expected interface whose
// pin was deleted, is replaced. ENODEV: unknown interface; EEXIST: attached
// and live, another XDP program on it, or expected in another namespace;
// EOPNOTSUPP: a device whose frames vaultwall cannot parse; ENOENT: nothing
// loaded (hint: vaultwall-loader load).
Result<AttachResult> attach_interface(const std::string& pin_dir, const std::string& interface,
                                      AttachMode mode);

// Detaches vaultwall from `interface` and stops expecting it (ENOENT when it
// is neither attached nor expected).
Result<void> detach_interface(const std::string& pin_dir, const std::string& interface);

// Interfaces with a pinned vaultwall link under pin_dir.
Result<std::vector<std::string>> attached_interfaces(const std::string& pin_dir);

// Interfaces vaultwall is expected to filter: with a link pin or recorded
// in vw_links (a deleted pin leaves the record), in name order.
Result<std::vector<std::string>> expected_interfaces(const std::string& pin_dir);

// What load did to the expected interfaces.
struct LinkMoves {
  int moved = 0;                         // live links moved to the new program
  std::vector<std::string> reattached;   // severed or unpinned, attached again
  std::vector<std::string> unfiltered;   // "IF: why" for those it could not attach
};

// Moves every live link to the program of its framing (bpf_link_update: no
// gap), and attaches again each expected interface whose link is severed or
// whose pin is gone when an interface of that name exists in the caller's
// namespace. An interface it cannot attach is reported, not an error.
Result<LinkMoves> move_links(const std::string& pin_dir, int ethernet_prog_fd, int ip_prog_fd);

// Removes every pin and the pin directory (after detaching everything).
Result<void> purge_pins(const std::string& pin_dir);


struct MapStatus {
  std::string name;
  uint32_t id = 0;
};

// The source index: its size (chunks per slot) and what the live slot uses.
struct SourceIndexUse {
  uint32_t capacity = 0;
  uint32_t used = 0;
  uint32_t needed = 0;        // chunks the live policy needs to be indexed whole
  uint32_t trie_regions = 0;  // /16s the live slot leaves to the tries
  uint32_t ipv6_capacity = 0;  // nodes per slot in vw_index6_N (VW_INDEX6_NODES once loaded)
  uint32_t ipv6_nodes = 0;     // of those, used by the live slot
  uint32_t ipv6_trie_regions = 0;  // the IPv6 /16s of trie_regions
};

// "65536 chunks per slot (4 MiB each)".
std::string index_size_text(uint32_t chunks);

struct Status {
  std::string pin_dir;
  bool loaded = false;
  uint32_t prog_id = 0;
  std::string prog_tag;
  uint32_t ip_prog_id = 0;  // the IP-framing entry point (0: not pinned)
  uint32_t abi_version = 0;
  uint32_t active_slot = 0;
  uint64_t generation = 0;
  uint64_t other_slot_generation = 0;
  SourceIndexUse source_index;
  std::vector<InterfaceHealth> links;
  std::vector<MapStatus> maps;
  // Decapsulating devices (vxlan, geneve, tun, wireguard, ...) of the
  // caller's namespace that are up and not filtered by vaultwall (with a
  // policy applied, also in `links` as kTunnelUnfiltered: unhealthy).
  std::vector<NetDevice> unfiltered_tunnels;
  // Under denyAction reject: filtered veth links in native mode, where the
  // veth driver does not deliver XDP_TX replies (DESIGN §1.10).
  std::vector<std::string> replies_lost;
  // The idle slot holds a later policy than the active one: vw_active.slot
  // was flipped back to an older policy (or an apply died between writing
  // the idle slot and its flip; vaultwallctl verify tells which from the
  // journal). Either way the newest policy applied is not the one enforced.
  bool older_policy_active() const { return other_slot_generation > generation; }
  // Nothing unfiltered that vaultwall is expected to filter, the newest
  // policy applied enforced, and, with a policy applied, at least one
  // interface attached (else it filters nothing).
  bool healthy() const;
};

// What is loaded, attached and active under pin_dir. loaded=false (not an
// error) when nothing is pinned there.
Result<Status> read_status(const std::string& pin_dir);

}  // namespace vaultwall
