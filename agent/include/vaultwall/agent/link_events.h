// Link events from rtnetlink, as the agent needs them: which interface,
// under which ifindex, present or gone, and the XDP program the kernel
// reports on it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall/common/fd.h"

namespace vaultwall {

struct LinkEvent {
  enum class Kind { kPresent, kDeleted };  // RTM_NEWLINK (created or changed), RTM_DELLINK
  Kind kind = Kind::kPresent;
  uint32_t ifindex = 0;
  std::string name;          // IFLA_IFNAME; empty when the message carried none
  uint32_t xdp_prog_id = 0;  // IFLA_XDP_PROG_ID; 0 when none is reported
  bool operator==(const LinkEvent&) const = default;
};

struct ParsedLinkMessages {
  std::vector<LinkEvent> events;
  std::vector<int> errors;  // positive errno of each NLMSG_ERROR that is not an ack
  bool truncated = false;   // a message or attribute ran past its container (rest ignored)
};

// Parses one datagram read from an rtnetlink socket: RTM_NEWLINK and
// RTM_DELLINK become events, NLMSG_ERROR with an errno is collected, every
// other message type is skipped. Never reads past the datagram.
ParsedLinkMessages parse_link_messages(std::span<const uint8_t> datagram);

// A NETLINK_ROUTE socket subscribed to link events (RTMGRP_LINK) of the
// caller's network namespace, nonblocking, for an event loop.
class LinkMonitor {
 public:
  // The socket gets a large receive buffer so a burst of events (a bond or
  // a hundred VLANs rebuilt) does not overflow it.
  static Result<LinkMonitor> open();

  int fd() const { return fd_.get(); }

  struct Batch {
    std::vector<LinkEvent> events;
    // The kernel dropped events (ENOBUFS) or a message could not be read
    // whole: every interface must be re-checked.
    bool missed_events = false;
  };
  // Reads every datagram queued on the socket (never blocks).
  Result<Batch> read_pending();

 private:
  explicit LinkMonitor(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace vaultwall
