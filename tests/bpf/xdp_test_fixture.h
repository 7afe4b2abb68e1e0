// Shared machinery of the BPF tests: load the production program into a
// private pin directory, apply policies through the real apply path, run
// frames through BPF_PROG_TEST_RUN and read the counters it moved.
#pragma once

#include "xdp_action.h"

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/kernel/slots.h"
#include "vaultwall_abi.h"

namespace vaultwall::testing {

// The loopback device exists in every network namespace with index 1.
constexpr uint32_t kLoopbackIfindex = 1;

// The value of a Result, or an exception with the error's message; gtest
// turns the exception into a failure of the running test.
template <class T>
T must(Result<T> result) {
  if (!result) throw std::runtime_error(result.error().message());
  return std::move(*result);
}
inline void must(Result<void> result) {
  if (!result) throw std::runtime_error(result.error().message());
}

struct XdpRun {
  uint32_t action;              // XDP_PASS, XDP_DROP, ...
  std::vector<uint8_t> output;  // the frame as the program left it
};

// One BPF_PROG_TEST_RUN (repeat 1) of `frame`, arriving on ingress_ifindex
// (the kernel checks that the device exists: ENODEV otherwise). EINVAL for
// frames shorter than an Ethernet header.
Result<XdpRun> run_xdp(int prog_fd, const std::vector<uint8_t>& frame, uint32_t ingress_ifindex);

// Sums of every per-CPU counter the program writes, taken at one moment.
struct CounterSnapshot {
  std::vector<vw_counters> classes;   // vw_class_stats[class]
  std::vector<vw_counters> rules;     // vw_rule_stats[rule id]
  std::vector<vw_counters> services;  // vw_svc_stats[service id]
};

Result<CounterSnapshot> snapshot_counters(const PinnedMaps& maps);

// What one packet must do: the action and the counters it credits.
struct Expected {
  uint32_t action;
  uint32_t verdict_class;
  uint32_t rule_id = VW_RULE_NONE;
  uint32_t service_id = VW_SERVICE_NONE;

  constexpr Expected crediting_rule(uint32_t id) const {
    Expected e = *this;
    e.rule_id = id;
    return e;
  }
  constexpr Expected crediting_service(uint32_t id) const {
    Expected e = *this;
    e.service_id = id;
    return e;
  }
};
constexpr Expected passes(uint32_t verdict_class) { return {XDP_PASS, verdict_class}; }
constexpr Expected drops(uint32_t verdict_class) { return {XDP_DROP, verdict_class}; }

// "VW_CLASS_DEFAULT_DENY (7)", for failure messages.
std::string class_name(uint32_t verdict_class);

// Adds a failure for every counter that moved other than by exactly one
// packet of frame_bytes in the expected class, rule and service. Also
// checks that credited rules and services got a last-hit time stamp.
void expect_only_counted(const CounterSnapshot& before, const CounterSnapshot& after,
                         const Expected& expected, size_t frame_bytes);

// Loads vaultwall_xdp with its maps pinned in a directory of its own, and
// removes every pin afterwards. Skips (does not fail) when not root.
class XdpProgramTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // The --index-chunks the maps are created with (nullopt: the default).
  virtual std::optional<uint32_t> index_chunks() const { return std::nullopt; }

  const PinnedMaps& maps() const { return *maps_; }
  const std::string& pin_dir() const { return pin_dir_; }
  int prog_fd() const { return program_->prog_fd(); }

  // Applies a whole policy the way vaultwallctl does; returns the new slot.
  uint32_t apply(const SlotImage& image) { return must(write_idle_slot_and_flip(maps(), image)); }
  XdpRun run(const std::vector<uint8_t>& frame, uint32_t ifindex = kLoopbackIfindex) {
    return must(run_xdp(prog_fd(), frame, ifindex));
  }
  CounterSnapshot counters() const { return must(snapshot_counters(maps())); }

  // Runs one frame and checks its action, that it passed through unmodified,
  // and that it moved exactly the expected counters.
  void expect_verdict(const std::vector<uint8_t>& frame, const Expected& expected,
                      uint32_t ifindex = kLoopbackIfindex);

 private:
  std::string pin_dir_;
  std::optional<Program> program_;
  std::optional<PinnedMaps> maps_;
};

}  // namespace vaultwall::testing
