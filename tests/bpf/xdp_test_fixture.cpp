#include "xdp_test_fixture.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>

namespace vaultwall::testing {

Result<XdpRun> run_xdp(int prog_fd, const std::vector<uint8_t>& frame, uint32_t ingress_ifindex) {
  // Room to spare: an output buffer smaller than the frame is ENOSPC.
  std::vector<uint8_t> output(frame.size() + 256);
  // The kernel wants data_end to be the frame length and the rest zero.
  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(frame.size());
  ctx.ingress_ifindex = ingress_ifindex;

  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.data_out = output.data();
  opts.data_size_out = static_cast<uint32_t>(output.size());
  opts.ctx_in = &ctx;
  opts.ctx_size_in = sizeof(ctx);
  opts.repeat = 1;
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0)
    return fail_errno("BPF_PROG_TEST_RUN of a " + std::to_string(frame.size()) + "-byte frame");
  output.resize(opts.data_size_out);
  return XdpRun{opts.retval, std::move(output)};
}

Result<CounterSnapshot> snapshot_counters(const PinnedMaps& maps) {
  CounterSnapshot s;
  s.classes = VW_TRY(
      read_all_counters(maps.class_stats_fd(), VW_NAME(VW_MAP_CLASS_STATS), VW_CLASS_COUNT));
  s.rules = VW_TRY(read_all_counters(maps.rule_stats_fd(), VW_NAME(VW_MAP_RULE_STATS), VW_MAX_RULES));
  s.services =
      VW_TRY(read_all_counters(maps.service_stats_fd(), VW_NAME(VW_MAP_SVC_STATS), VW_MAX_SERVICES));
  return s;
}

std::string class_name(uint32_t verdict_class) {
  switch (verdict_class) {
#define VW_CLASS_NAME_CASE_(token, value, name, drops, logs) \
  case value:                                                \
    return "VW_CLASS_" #token " (" #value ")";
    VW_CLASSES(VW_CLASS_NAME_CASE_)
#undef VW_CLASS_NAME_CASE_
    default:
      return "VW_CLASS_? (" + std::to_string(verdict_class) + ")";
  }
}


namespace {

// Compares one counter array entry by entry against before + the expected
// one-packet increment at `credited` (none when credited is 0 and
// zero_means_none, as for rule and service ids).
void expect_array_moved(const char* map_name, const std::vector<vw_counters>& before,
                        const std::vector<vw_counters>& after, std::optional<uint32_t> credited,
                        size_t frame_bytes, bool stamps_last_hit) {
  ASSERT_EQ(before.size(), after.size());
  for (uint32_t i = 0; i < after.size(); i++) {
    const bool is_credited = credited && *credited == i;
    const uint64_t packets = after[i].packets - before[i].packets;
    const uint64_t bytes = after[i].bytes - before[i].bytes;
    EXPECT_EQ(packets, is_credited ? 1u : 0u) << map_name << "[" << i << "] packets";
    EXPECT_EQ(bytes, is_credited ? frame_bytes : 0u) << map_name << "[" << i << "] bytes";
    if (is_credited && stamps_last_hit) {
      // Jiffy resolution: a hit within the same tick keeps the value.
      EXPECT_GE(after[i].last_hit_jiffies, before[i].last_hit_jiffies)
          << map_name << "[" << i << "] last hit";
      EXPECT_NE(after[i].last_hit_jiffies, 0u) << map_name << "[" << i << "] last hit";
    }
  }
}

std::optional<uint32_t> credited_id(uint32_t id) {
  return id == 0 ? std::nullopt : std::optional<uint32_t>(id);  // id 0 means "none"
}

}  // namespace

void expect_only_counted(const CounterSnapshot& before, const CounterSnapshot& after,
                         const Expected& expected, size_t frame_bytes) {
  {
    SCOPED_TRACE("class counters, expected " + class_name(expected.verdict_class));
    expect_array_moved(VW_NAME(VW_MAP_CLASS_STATS), before.classes, after.classes, expected.verdict_class,
                       frame_bytes, false);
  }
  {
    SCOPED_TRACE("rule counters, expected rule " + std::to_string(expected.rule_id));
    expect_array_moved(VW_NAME(VW_MAP_RULE_STATS), before.rules, after.rules, credited_id(expected.rule_id),
                       frame_bytes, true);
  }
  {
    SCOPED_TRACE("service counters, expected service " + std::to_string(expected.service_id));
    expect_array_moved(VW_NAME(VW_MAP_SVC_STATS), before.services, after.services,
                       credited_id(expected.service_id), frame_bytes, true);
  }
}

void XdpProgramTest::SetUp() {
  if (geteuid() != 0)
    GTEST_SKIP() << "BPF tests need root (they load XDP programs, pin maps under /sys/fs/bpf "
                    "and use BPF_PROG_TEST_RUN); run ctest as root";
  must(check_privileges_and_bpffs("/sys/fs/bpf"));
  // Unique per process and per test: ctest may run test cases in parallel.
  static std::atomic<int> sequence{0};
  pin_dir_ =
      "/sys/fs/bpf/vwtest-bpf-" + std::to_string(getpid()) + "-" + std::to_string(sequence++);
  program_.emplace(must(Program::load(pin_dir_, false, index_chunks())));
  maps_.emplace(must(PinnedMaps::open(pin_dir_)));
}

void XdpProgramTest::TearDown() {
  maps_.reset();
  program_.reset();
  if (!pin_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(pin_dir_, ec);
    EXPECT_FALSE(ec) << "remove " << pin_dir_ << ": " << ec.message();
  }
}

void XdpProgramTest::expect_verdict(const std::vector<uint8_t>& frame, const Expected& expected,
                                    uint32_t ifindex) {
  CounterSnapshot before = counters();
  XdpRun result = run(frame, ifindex);
  CounterSnapshot after = counters();
  EXPECT_EQ(action_name(result.action), action_name(expected.action));
  EXPECT_EQ(result.output, frame) << "the program must never rewrite a packet";
  expect_only_counted(before, after, expected, frame.size());
}

}  // namespace vaultwall::testing
