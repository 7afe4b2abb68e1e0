// rtnetlink link messages as the kernel lays them out, built byte by byte,
// through the agent's parser: what it reports, and that a cut message is
// flagged (so the agent re-checks everything) and never read past.
#include "vaultwall/agent/link_events.h"

#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vaultwall {
namespace {

// Appends netlink messages to a datagram.
class Datagram {
 public:
  // Starts a message of `type`; attributes follow until the next begin().
  Datagram& begin(uint16_t type) {
    close();
    start_ = bytes_.size();
    nlmsghdr header{.nlmsg_len = 0, .nlmsg_type = type};
    append(&header, sizeof(header));
    return *this;
  }
  Datagram& link(int ifindex) {
    ifinfomsg info{.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
    append(&info, sizeof(info));
    return *this;
  }
  Datagram& attribute(uint16_t type, const void* payload, size_t size) {
    rtattr header{.rta_len = static_cast<unsigned short>(RTA_LENGTH(size)), .rta_type = type};
    append(&header, sizeof(header));
    append(payload, size);
    pad();
    return *this;
  }
  Datagram& name(const char* text) { return attribute(IFLA_IFNAME, text, std::strlen(text) + 1); }
  Datagram& xdp_prog(uint32_t id) {
    std::vector<uint8_t> nested(RTA_LENGTH(sizeof(id)));
    rtattr inner{.rta_len = static_cast<unsigned short>(RTA_LENGTH(sizeof(id))),
                 .rta_type = IFLA_XDP_PROG_ID};
    std::memcpy(nested.data(), &inner, sizeof(inner));
    std::memcpy(nested.data() + RTA_LENGTH(0), &id, sizeof(id));
    return attribute(IFLA_XDP | NLA_F_NESTED, nested.data(), nested.size());
  }
  Datagram& error(int code) {
    nlmsgerr err{.error = code};
    append(&err, sizeof(err));
    return *this;
  }
  Datagram& raw(std::vector<uint8_t> more) {
    bytes_.insert(bytes_.end(), more.begin(), more.end());
    return *this;
  }
  // Bytes after the last message, outside any message.
  Datagram& trailing(std::vector<uint8_t> more) {
    close();
    return raw(std::move(more));
  }
  // The datagram, every message's length filled in.
  std::vector<uint8_t> bytes() {
    close();
    return bytes_;
  }
  // Sets the length field of the current message by hand.
  Datagram& claim_length(uint32_t length) {
    forced_length_ = length;
    return *this;
  }

 private:
  void append(const void* data, size_t size) {
    auto p = static_cast<const uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
  }
  void pad() { bytes_.resize(RTA_ALIGN(bytes_.size()), 0); }
  void close() {
    if (start_ == kNone) return;
    uint32_t length =
        forced_length_ ? forced_length_ : static_cast<uint32_t>(bytes_.size() - start_);
    std::memcpy(bytes_.data() + start_, &length, sizeof(length));
    bytes_.resize(start_ + NLMSG_ALIGN(bytes_.size() - start_), 0);
    start_ = kNone;
    forced_length_ = 0;
  }
  static constexpr size_t kNone = static_cast<size_t>(-1);
  std::vector<uint8_t> bytes_;
  size_t start_ = kNone;
  uint32_t forced_length_ = 0;
};

ParsedLinkMessages parse(std::vector<uint8_t> bytes) { return parse_link_messages(bytes); }

TEST(LinkEvents, NewLinkGivesIfindexAndName) {
  auto parsed = parse(Datagram().begin(RTM_NEWLINK).link(7).name("vwe0").bytes());
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_EQ(parsed.events[0], (LinkEvent{LinkEvent::Kind::kPresent, 7, "vwe0", 0}));
  EXPECT_FALSE(parsed.truncated);
  EXPECT_TRUE(parsed.errors.empty());
}

TEST(LinkEvents, DelLinkIsADeletion) {
  auto parsed = parse(Datagram().begin(RTM_DELLINK).link(9).name("eth1").bytes());
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_EQ(parsed.events[0], (LinkEvent{LinkEvent::Kind::kDeleted, 9, "eth1", 0}));
}

TEST(LinkEvents, NestedXdpProgramIdIsRead) {
  auto parsed = parse(Datagram().begin(RTM_NEWLINK).link(3).name("eth0").xdp_prog(4242).bytes());
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_EQ(parsed.events[0].xdp_prog_id, 4242u);
  EXPECT_EQ(parsed.events[0].name, "eth0");
}

TEST(LinkEvents, SeveralMessagesInOneDatagramInOrder) {
  auto parsed = parse(Datagram()
                          .begin(RTM_DELLINK)
                          .link(5)
                          .name("eth0")
                          .begin(RTM_NEWADDR)
                          .raw(std::vector<uint8_t>(8, 0))  // not a link message
                          .begin(RTM_NEWLINK)
                          .link(6)
                          .name("eth0")
                          .bytes());
  ASSERT_EQ(parsed.events.size(), 2u);
  EXPECT_EQ(parsed.events[0], (LinkEvent{LinkEvent::Kind::kDeleted, 5, "eth0", 0}));
  EXPECT_EQ(parsed.events[1], (LinkEvent{LinkEvent::Kind::kPresent, 6, "eth0", 0}));
  EXPECT_FALSE(parsed.truncated);
}

TEST(LinkEvents, MessageWithoutNameStillReportsItsIfindex) {
  auto parsed = parse(Datagram().begin(RTM_NEWLINK).link(11).bytes());
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_EQ(parsed.events[0].ifindex, 11u);
  EXPECT_EQ(parsed.events[0].name, "");
}

TEST(LinkEvents, NameWithoutTerminatingNulEndsAtItsAttribute) {
  auto parsed =
      parse(Datagram().begin(RTM_NEWLINK).link(2).attribute(IFLA_IFNAME, "abcd", 4).bytes());
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_EQ(parsed.events[0].name, "abcd");
}

TEST(LinkEvents, ErrorsAreCollectedAndAcksAreNot) {
  auto parsed =
      parse(Datagram().begin(NLMSG_ERROR).error(-ENOBUFS).begin(NLMSG_ERROR).error(0).bytes());
  EXPECT_EQ(parsed.errors, std::vector<int>{ENOBUFS});
  EXPECT_TRUE(parsed.events.empty());
}

TEST(LinkEvents, MessageLongerThanTheDatagramIsFlaggedAndTheOnesBeforeKept) {
  Datagram d;
  d.begin(RTM_NEWLINK).link(4).name("ok0");
  d.begin(RTM_NEWLINK).link(5).name("cut0").claim_length(4096);
  auto parsed = parse(d.bytes());
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_EQ(parsed.events[0].name, "ok0");
  EXPECT_TRUE(parsed.truncated);
}

TEST(LinkEvents, LengthShorterThanTheHeaderIsFlagged) {
  auto parsed = parse(Datagram().begin(RTM_NEWLINK).link(4).claim_length(8).bytes());
  EXPECT_TRUE(parsed.events.empty());
  EXPECT_TRUE(parsed.truncated);
}

TEST(LinkEvents, BodyShorterThanIfinfomsgIsFlagged) {
  auto parsed = parse(Datagram().begin(RTM_NEWLINK).raw({1, 2, 3, 4}).bytes());
  EXPECT_TRUE(parsed.events.empty());
  EXPECT_TRUE(parsed.truncated);
}

TEST(LinkEvents, AttributeRunningPastItsMessageIsFlaggedButTheEventKept) {
  std::vector<uint8_t> bytes = Datagram().begin(RTM_NEWLINK).link(8).name("eth0").bytes();
  // The name attribute claims 200 bytes; its message holds far fewer.
  size_t attribute_at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg));
  unsigned short claimed = 200;
  std::memcpy(bytes.data() + attribute_at, &claimed, sizeof(claimed));
  auto parsed = parse(bytes);
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_EQ(parsed.events[0].ifindex, 8u);
  EXPECT_EQ(parsed.events[0].name, "");
  EXPECT_TRUE(parsed.truncated);
}

TEST(LinkEvents, TrailingBytesShorterThanAHeaderAreFlagged) {
  auto parsed =
      parse(Datagram().begin(RTM_NEWLINK).link(1).name("lo").trailing({0, 0, 0, 0}).bytes());
  EXPECT_EQ(parsed.events.size(), 1u);
  EXPECT_TRUE(parsed.truncated);
}

TEST(LinkEvents, EmptyDatagramHasNothing) {
  auto parsed = parse({});
  EXPECT_TRUE(parsed.events.empty());
  EXPECT_FALSE(parsed.truncated);
}

}  // namespace
}  // namespace vaultwall
