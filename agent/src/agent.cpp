#include "vaultwall/agent/agent.h"

#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <stdio.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "vaultwall/agent/coverage.h"
#include "vaultwall/agent/event_loop.h"
#include "vaultwall/agent/instance_lock.h"
#include "vaultwall/agent/link_events.h"
#include "vaultwall/agent/reapply.h"
#include "vaultwall/agent/systemd_notify.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/kernel/slots.h"
#include "vaultwall/common/lock.h"

namespace vaultwall {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A repair waits this long for the pin directory's lock (an apply may hold
// it); when it is busy the repair is retried shortly instead.
constexpr int kLockWaitMs = 500;
constexpr milliseconds kFirstRetry{100};
// How often an interface that stays unfiltered is reported again.
constexpr auto kReminder = std::chrono::seconds(60);

constexpr const char* kRepairCommand = "agent repair";

const char* mode_text(AttachMode mode) {
  return mode == AttachMode::kNative ? "native" : mode == AttachMode::kGeneric ? "generic" : "auto";
}

long elapsed_ms(Clock::time_point since) {
  return static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - since).count());
}

// Moves the link pin of `name` to the name its device has now, so that
// device (renamed away) stays filtered and `name` is free for the new one.
Result<std::string> move_link_pin(const std::string& pin_dir, const std::string& name,
                                  uint32_t link_ifindex) {
  char current[IF_NAMESIZE] = {};
  if (!if_indextoname(link_ifindex, current))
    return fail_errno("name ifindex " + std::to_string(link_ifindex) +
                      ", where the pinned link of " + name + " runs");
  std::string from = link_pin_path(pin_dir, name), to = link_pin_path(pin_dir, current);
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0)
    return fail_errno(
        "move " + from + " to " + to,
        "detach one of them by hand (vaultwall-loader detach) and the agent attaches " + name);
  return std::string("its link pin moved to ") + to + " (it keeps filtering " + current + ")";
}

// Does what `assessment` proposes for `name`: returns what was done.
Result<std::string> perform_repair(const AgentConfig& config, const std::string& name,
                                   const Observation& seen, const Assessment& assessment) {
  std::string before;
  if (assessment.repair == Repair::kReplace) {
    if (auto r = detach_interface(config.pin_dir, name); !r && r.error().code != ENOENT)
      return std::unexpected(with_context(r.error(), "remove the severed link of " + name));
    before = "severed link removed; ";
  } else if (assessment.repair == Repair::kMovePinAndAttach) {
    before = VW_TRY(move_link_pin(config.pin_dir, name, seen.link_ifindex)) + "; ";
  }
  AttachResult attached = VW_TRY(attach_interface(config.pin_dir, name, config.mode));
  std::string done = before + "attached in " + attached.mode + " mode";
  if (attached.fell_back) done += " (native XDP unavailable: " + attached.native_error + ")";
  return done;
}

JournalEntry repair_entry(const AgentConfig& config, const std::string& name) {
  JournalEntry entry;
  entry.command = kRepairCommand;
  entry.argv = config.argv;
  entry.pin_dir = config.pin_dir;
  entry.interfaces = {name};
  entry.from = active_policy_version(config.pin_dir);
  return entry;
}

// Fills in how the repair ended: the reason says what was found and what
// was done (or why it failed).
void conclude(JournalEntry& entry, const std::string& pin_dir, const std::string& cause,
              const Result<std::string>& outcome) {
  entry.to = active_policy_version(pin_dir);
  if (outcome)
    entry.reason = cause + ": " + *outcome;
  else
    entry.fail(cause + ": " + outcome.error().message());
}

struct InterfaceState {
  std::string name;
  uint32_t last_ifindex = 0;  // to match events by ifindex (deletes, renames)
  bool assessed = false;
  Assessment last;
  Clock::time_point last_reported{};
  std::string failed_cause;    // the cause whose repair failed last (journaled once)
  std::string failed_message;  // ... and how it failed
  int failures = 0;            // consecutive failed repairs, for the retry backoff
  bool needs_retry = false;
};

class Agent {
 public:
  Agent(const AgentConfig& config, Timer& retry) : config_(config), retry_(retry) {
    for (const std::string& name : config.interfaces) interfaces_.push_back({.name = name});
  }

  // Re-checks (and repairs) every interface, and whether a policy is applied.
  void check_all(Clock::time_point since) {
    for (InterfaceState& state : interfaces_) reconcile(state, since);
    if (first_check_) hint_if_all_missing();
    first_check_ = false;
    check_policy();
    after_checks();
  }

  void on_link_events(LinkMonitor& links) {
    Clock::time_point received = Clock::now();
    auto batch = links.read_pending();
    if (!batch) {
      spdlog::error("reading link events failed: {}; re-checking every interface",
                    batch.error().message());
      check_all(received);
      return;
    }
    if (batch->missed_events) {
      spdlog::warn(
          "link events were missed (netlink socket overflow or an unreadable message); re-checking every interface");
      check_all(received);
      return;
    }
    std::set<InterfaceState*> touched;
    for (const LinkEvent& event : batch->events)
      for (InterfaceState& state : interfaces_)
        if (event.name == state.name || (event.ifindex != 0 && event.ifindex == state.last_ifindex))
          touched.insert(&state);
    for (InterfaceState* state : touched) reconcile(*state, received);
    if (!touched.empty()) after_checks();
  }

  void on_retry() {
    Clock::time_point now = Clock::now();
    for (InterfaceState& state : interfaces_)
      if (state.needs_retry) reconcile(state, now);
    after_checks();
  }

  // STATUS= for systemctl status: how many are covered, and the others by state.
  std::string status_line() const {
    std::string text = coverage_line();
    if (fleet_summary_) text += (text.empty() ? "" : "; ") + fleet_summary_();
    return text;
  }

  // The fleet activity's summary joins the status line.
  void set_fleet_summary(std::function<std::string()> summary) {
    fleet_summary_ = std::move(summary);
  }
  void status_changed() {
    status_changed_ = true;
    after_checks();
  }

 private:
  std::string coverage_line() const {
    if (interfaces_.empty())
      return policy_generation_ == 0 ? "no policy applied (everything passes)" : "";
    size_t covered = 0;
    std::map<std::string, std::vector<std::string>> others;
    for (const InterfaceState& state : interfaces_) {
      if (state.last.coverage == Coverage::kCovered)
        covered++;
      else
        others[std::string(coverage_name(state.last.coverage))].push_back(state.name);
    }
    std::string text = std::to_string(covered) + " of " + std::to_string(interfaces_.size()) +
                       " interfaces covered";
    for (const auto& [what, names] : others) {
      text += "; " + what + ":";
      for (const std::string& name : names) text += " " + name;
    }
    if (policy_generation_ == 0) text += "; no policy applied (everything passes)";
    return text;
  }

  void reconcile(InterfaceState& state, Clock::time_point since) {
    state.needs_retry = false;
    Observation seen = observe_interface(config_.pin_dir, state.name);
    Assessment assessment = assess_coverage(state.name, seen);
    if (assessment.repair != Repair::kNone) {
      auto lock = PinDirLock::acquire(config_.pin_dir, kLockWaitMs);
      if (!lock) {
        spdlog::debug("{}: repair deferred: {}", state.name, lock.error().message());
        schedule_retry(state);
      } else {
        // Looked at again under the lock: a command may have changed it.
        seen = observe_interface(config_.pin_dir, state.name);
        assessment = assess_coverage(state.name, seen);
        if (assessment.repair != Repair::kNone) repair(state, seen, assessment, since);
        seen = observe_interface(config_.pin_dir, state.name);
        assessment = assess_coverage(state.name, seen);
      }
    }
    if (seen.ifindex) state.last_ifindex = *seen.ifindex;
    report(state, assessment);
  }

  void repair(InterfaceState& state, const Observation& seen, const Assessment& assessment,
              Clock::time_point since) {
    const std::string& cause = assessment.detail;
    bool retrying = state.failures > 0 && state.failed_cause == cause;
    Result<std::string> outcome = fail(0, "not attempted");
    if (retrying) {
      outcome = perform_repair(config_, state.name, seen, assessment);
      bool new_failure = !outcome && outcome.error().message() != state.failed_message;
      if (outcome || new_failure) journal_after_the_fact(state.name, cause, outcome);
    } else {
      outcome = journaled_repair(state.name, seen, assessment);
    }
    if (outcome) {
      spdlog::info("{}; repaired in {} ms: {}", cause, elapsed_ms(since), *outcome);
      state.failures = 0;
      state.failed_cause.clear();
      state.failed_message.clear();
      reapply_after_repair(config_.pin_dir, state.name, config_.journal);
      return;
    }
    std::string message = outcome.error().message();
    if (!retrying || message != state.failed_message)
      spdlog::error("{}; repair failed: {}", cause, message);
    else
      spdlog::debug("{}: repair failed again: {}", state.name, message);
    state.failures++;
    state.failed_cause = cause;
    state.failed_message = message;
    schedule_retry(state);
  }

  // A repair with its pending marker on disk while it runs (a kill -9 in
  // the middle is recorded as interrupted by the next journal writer).
  Result<std::string> journaled_repair(const std::string& name, const Observation& seen,
                                       const Assessment& assessment) {
    auto pending = PendingChange::begin(config_.journal, repair_entry(config_, name));
    if (!pending)
      spdlog::warn("{}: this repair is not journaled: {}", name, pending.error().message());
    Result<std::string> outcome = perform_repair(config_, name, seen, assessment);
    if (pending) {
      conclude(pending->entry(), config_.pin_dir, assessment.detail, outcome);
      if (auto r = pending->finish(); !r)
        spdlog::warn("{}: cannot journal this repair: {}", name, r.error().message());
      for (const std::string& w : pending->take_warnings()) spdlog::warn("{}: journal: {}", name, w);
    }
    return outcome;
  }

  // Retries of a failure already journaled: only their end is recorded.
  void journal_after_the_fact(const std::string& name, const std::string& cause,
                              const Result<std::string>& outcome) {
    JournalEntry entry = repair_entry(config_, name);
    entry.started_ns = now_unix_ns();
    conclude(entry, config_.pin_dir, cause, outcome);
    if (auto r = append_journal(config_.journal, std::move(entry)); !r)
      spdlog::warn("{}: cannot journal this repair: {}", name, r.error().message());
  }

  void schedule_retry(InterfaceState& state) {
    state.needs_retry = true;
    int doublings = std::min(state.failures, 10);
    milliseconds delay =
        std::min(milliseconds(kFirstRetry.count() << doublings), config_.check_interval);
    if (auto r = retry_.arm_within(delay); !r) spdlog::error("{}", r.error().message());
  }

  // Logs a change of coverage; an interface left unfiltered for a reason
  // the operator must fix is reported again every kReminder.
  void report(InterfaceState& state, const Assessment& assessment) {
    Clock::time_point now = Clock::now();
    bool changed = !state.assessed || state.last.coverage != assessment.coverage ||
                   state.last.detail != assessment.detail;
    bool must_fix = assessment.coverage == Coverage::kForeign ||
                    assessment.coverage == Coverage::kNotLoaded ||
                    assessment.coverage == Coverage::kUnknown;
    bool remind = must_fix && now - state.last_reported >= kReminder;
    if (changed || remind) {
      if (assessment.coverage == Coverage::kCovered)
        spdlog::info("{}", assessment.detail);
      else if (assessment.coverage == Coverage::kMissing)
        spdlog::warn("{}", assessment.detail);
      else if (assessment.repair == Repair::kNone)
        spdlog::error("{}", assessment.detail);
      state.last_reported = now;
    }
    if (changed && assessment.coverage == Coverage::kForeign)
      journal_report(state.name, assessment);
    status_changed_ |= changed;
    state.assessed = true;
    state.last = assessment;
  }

  // Something the agent cannot repair is journaled once, as a failed repair.
  void journal_report(const std::string& name, const Assessment& assessment) {
    journal_after_the_fact(name, assessment.detail,
                           fail(0, "vaultwall cannot attach while it runs"));
  }

  // Every interface missing at the start usually means the wrong network
  // namespace: names are resolved in the agent's own.
  void hint_if_all_missing() const {
    if (interfaces_.empty()) return;
    for (const InterfaceState& state : interfaces_)
      if (state.last.coverage != Coverage::kMissing) return;
    spdlog::warn(
        "none of the interfaces exists in this network namespace: run the agent in theirs (nsenter --net=/run/netns/NAME vaultwall-agent ..., or NetworkNamespacePath= in vaultwall-agent.service)");
  }

  // An attached program without an applied policy passes everything, so
  // "covered" alone would be a green signal too many: say so. Unknown
  // (nothing readable in the pin dir) is left to the per-interface reports.
  void check_policy() {
    std::optional<PolicyVersion> version = active_policy_version(config_.pin_dir);
    std::optional<uint64_t> generation;
    if (version) generation = version->generation;
    if (generation == policy_generation_) return;
    if (generation == 0)
      spdlog::warn(
          "no policy is applied in {}: the attached program passes everything until one is (vaultwallctl --pin-dir {} apply -f FILE, or start vaultwall.service)",
          config_.pin_dir, config_.pin_dir);
    else if (generation && policy_generation_ == 0)
      spdlog::info("policy generation {} is applied in {}", *generation, config_.pin_dir);
    policy_generation_ = generation;
    status_changed_ = true;
  }

  void after_checks() {
    if (!status_changed_) return;
    status_changed_ = false;
    if (auto r = notify_systemd("STATUS=" + status_line()); !r)
      spdlog::warn("{}", r.error().message());
  }

  const AgentConfig& config_;
  Timer& retry_;
  std::vector<InterfaceState> interfaces_;
  bool status_changed_ = false;
  bool first_check_ = true;
  std::optional<uint64_t> policy_generation_;  // of the active slot; nullopt: unreadable
  std::function<std::string()> fleet_summary_;
};

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace

Result<void> run_agent(const AgentConfig& config) {
  InstanceLock instance = VW_TRY(InstanceLock::acquire(config.run_dir, config.pin_dir));
  ::signal(SIGPIPE, SIG_IGN);
  SignalSource signals = VW_TRY(SignalSource::create({SIGTERM, SIGINT, SIGHUP}));
  // Subscribed before the first check, so no change between the two is missed.
  LinkMonitor links = VW_TRY(LinkMonitor::open());
  EventLoop loop = VW_TRY(EventLoop::create());
  Timer check = VW_TRY(Timer::create());
  Timer retry = VW_TRY(Timer::create());
  Timer watchdog = VW_TRY(Timer::create());

  Agent agent(config, retry);
  std::unique_ptr<FleetActivity> fleet;
  VW_TRY(loop.watch(links.fd(), [&] { agent.on_link_events(links); }));
  VW_TRY(loop.watch(check.fd(), [&] {
    check.acknowledge();
    agent.check_all(Clock::now());
  }));
  VW_TRY(loop.watch(retry.fd(), [&] {
    retry.acknowledge();
    agent.on_retry();
  }));
  VW_TRY(loop.watch(signals.fd(), [&] {
    while (std::optional<int> signal = signals.next()) {
      if (*signal == SIGHUP) {
        spdlog::info("SIGHUP: re-checking every interface{}",
                     fleet ? ", the fleet policy and the host facts" : "");
        agent.check_all(Clock::now());
        if (fleet) fleet->recheck();
        continue;
      }
      spdlog::info("{}: stopping; nothing is detached (the links are pinned and keep filtering)",
                   strsignal(*signal));
      loop.stop();
    }
  }));
  if (std::optional<std::chrono::microseconds> interval = watchdog_interval()) {
    VW_TRY(watchdog.arm_every(std::chrono::duration_cast<milliseconds>(*interval / 2)));
    VW_TRY(loop.watch(watchdog.fd(), [&] {
      watchdog.acknowledge();
      if (auto r = notify_systemd("WATCHDOG=1"); !r) spdlog::warn("{}", r.error().message());
    }));
  }

  if (config.fleet) {
    FleetHost host{.pin_dir = config.pin_dir,
                   .journal = config.journal,
                   .argv = config.argv,
                   .status_changed = [&agent] { agent.status_changed(); }};
    fleet = VW_TRY(FleetActivity::start(*config.fleet, std::move(host), loop));
    agent.set_fleet_summary([&fleet] { return fleet->summary(); });
  }
  if (config.interfaces.empty())
    spdlog::info("vaultwall-agent {}: no interfaces to keep covered (pin dir {}; lock {})",
                 VAULTWALL_VERSION, config.pin_dir, instance.path());
  else
    spdlog::info(
        "vaultwall-agent {}: keeping {} covered (pin dir {}, mode {}, checked every {} ms; lock {})",
        VAULTWALL_VERSION, joined(config.interfaces), config.pin_dir, mode_text(config.mode),
        config.check_interval.count(), instance.path());
  agent.check_all(Clock::now());
  VW_TRY(check.arm_every(config.check_interval));
  // Every interface is now covered or its problem reported.
  if (auto r = notify_systemd("READY=1\nSTATUS=" + agent.status_line()); !r)
    spdlog::warn("{}", r.error().message());
  Result<void> ran = loop.run();
  if (auto r = notify_systemd("STOPPING=1"); !r) spdlog::warn("{}", r.error().message());
  return ran;
}

}  // namespace vaultwall
