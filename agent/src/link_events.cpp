#include "vaultwall/agent/link_events.h"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace vaultwall {

namespace {

// One rtattr inside [begin, end): its type and payload, or nothing when the
// attribute's length does not fit.
struct Attribute {
  uint16_t type = 0;
  std::span<const uint8_t> payload;
};

// Walks the attributes of `area` (a run of rtattr), calling visit for each;
// returns false when one runs past the area.
template <class Visit>
bool for_each_attribute(std::span<const uint8_t> area, Visit&& visit) {
  size_t offset = 0;
  while (offset + sizeof(rtattr) <= area.size()) {
    rtattr header;
    std::memcpy(&header, area.data() + offset, sizeof(header));
    if (header.rta_len < sizeof(rtattr) || offset + header.rta_len > area.size()) return false;
    visit(Attribute{static_cast<uint16_t>(header.rta_type & NLA_TYPE_MASK),
                    area.subspan(offset + RTA_LENGTH(0), header.rta_len - RTA_LENGTH(0))});
    offset += RTA_ALIGN(header.rta_len);
  }
  return true;
}

uint32_t read_u32(std::span<const uint8_t> payload) {
  uint32_t value = 0;
  if (payload.size() >= sizeof(value)) std::memcpy(&value, payload.data(), sizeof(value));
  return value;
}

// IFLA_IFNAME: a NUL-terminated string of at most IFNAMSIZ bytes; a name
// without its NUL is taken up to the payload's end.
std::string read_name(std::span<const uint8_t> payload) {
  size_t length = 0;
  while (length < payload.size() && payload[length] != 0) length++;
  return std::string(reinterpret_cast<const char*>(payload.data()), length);
}

// Fills `event` from an ifinfomsg's attributes; false when they are cut.
bool read_link_attributes(std::span<const uint8_t> area, LinkEvent& event) {
  bool whole = true;
  whole &= for_each_attribute(area, [&](const Attribute& attr) {
    if (attr.type == IFLA_IFNAME) event.name = read_name(attr.payload);
    if (attr.type == IFLA_XDP)
      whole &= for_each_attribute(attr.payload, [&](const Attribute& xdp) {
        if (xdp.type == IFLA_XDP_PROG_ID) event.xdp_prog_id = read_u32(xdp.payload);
      });
  });
  return whole;
}

}  // namespace

ParsedLinkMessages parse_link_messages(std::span<const uint8_t> datagram) {
  ParsedLinkMessages out;
  size_t offset = 0;
  while (offset + sizeof(nlmsghdr) <= datagram.size()) {
    nlmsghdr header;
    std::memcpy(&header, datagram.data() + offset, sizeof(header));
    if (header.nlmsg_len < sizeof(nlmsghdr) || offset + header.nlmsg_len > datagram.size()) {
      out.truncated = true;
      break;
    }
    std::span<const uint8_t> body =
        datagram.subspan(offset + NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN);
    offset += NLMSG_ALIGN(header.nlmsg_len);

    if (header.nlmsg_type == NLMSG_ERROR) {
      nlmsgerr error;
      if (body.size() < sizeof(error.error)) {
        out.truncated = true;
        continue;
      }
      std::memcpy(&error.error, body.data(), sizeof(error.error));
      if (error.error != 0) out.errors.push_back(error.error < 0 ? -error.error : error.error);
      continue;
    }
    if (header.nlmsg_type != RTM_NEWLINK && header.nlmsg_type != RTM_DELLINK) continue;
    if (body.size() < sizeof(ifinfomsg)) {
      out.truncated = true;
      continue;
    }
    ifinfomsg info;
    std::memcpy(&info, body.data(), sizeof(info));
    LinkEvent event{.kind = header.nlmsg_type == RTM_DELLINK ? LinkEvent::Kind::kDeleted
                                                             : LinkEvent::Kind::kPresent,
                    .ifindex = static_cast<uint32_t>(info.ifi_index)};
    size_t attributes_at = NLMSG_ALIGN(sizeof(ifinfomsg));
    if (attributes_at < body.size() && !read_link_attributes(body.subspan(attributes_at), event))
      out.truncated = true;
    out.events.push_back(std::move(event));
  }
  if (offset < datagram.size() && offset + sizeof(nlmsghdr) > datagram.size()) out.truncated = true;
  return out;
}

Result<LinkMonitor> LinkMonitor::open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) return fail_errno("open a NETLINK_ROUTE socket");
  UniqueFd owned(fd);
  // 4 MiB: beyond rmem_max, hence the FORCE variant (root); a smaller
  // buffer only makes an overflow, which is detected and handled, likelier.
  int buffer = 4 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer)) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  sockaddr_nl address{.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
    return fail_errno("subscribe to link events (bind NETLINK_ROUTE, RTMGRP_LINK)");
  return LinkMonitor(std::move(owned));
}

Result<LinkMonitor::Batch> LinkMonitor::read_pending() {
  Batch batch;
  // Large enough for any one datagram the kernel sends for a link (it sizes
  // them to the page size, at most 32 KiB).
  static std::array<uint8_t, 64 * 1024> buffer;
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return batch;
      if (errno == ENOBUFS) {  // the socket overflowed: events were lost
        batch.missed_events = true;
        continue;
      }
      return fail_errno("read link events");
    }
    ParsedLinkMessages parsed =
        parse_link_messages(std::span<const uint8_t>(buffer.data(), static_cast<size_t>(n)));
    // A message cut short may have been about one of ours: re-check all.
    if (parsed.truncated || !parsed.errors.empty()) batch.missed_events = true;
    for (LinkEvent& event : parsed.events) batch.events.push_back(std::move(event));
  }
}

}  // namespace vaultwall
