#include "vaultwall/agent/fleet_activity.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "vaultwall/common/fd.h"
#include "vaultwall/fleet/etcd_io.h"
#include "vaultwall/fleet/kernel_applier.h"
#include "vaultwall/fleet/layout.h"
#include "vaultwall/fleet/metrics.h"
#include "vaultwall/fleet/state_dir.h"
#include "vaultwall/fleet/sync.h"

namespace vaultwall {

using fleet::ReaderReport;
using fleet::SyncState;

struct FleetActivity::State {
  State(const FleetConfig& config, FleetHost host, std::unique_ptr<fleet::EtcdClient> client,
        UniqueFd wake_fd, Timer retry_timer, Timer anti_entropy_timer, Timer heartbeat_timer)
      : config(config),
        host(std::move(host)),
        etcd(std::move(client)),
        applier({.pin_dir = this->host.pin_dir,
                 .journal = this->host.journal,
                 .argv = this->host.argv,
                 .state_dir = config.state_dir}),
        core({.vault = config.vault,
              .host = config.host,
              .host_facts_path = config.host_facts,
              .state_dir = config.state_dir,
              .agent_version = VAULTWALL_VERSION},
             applier),
        reader(*etcd, fleet::policy_key(config.vault),
               [this](ReaderReport r) { deliver(std::move(r)); }),
        writer(*etcd, core.info(this->host.pin_dir), config.status_ttl),
        wake(std::move(wake_fd)),
        retry(std::move(retry_timer)),
        anti_entropy(std::move(anti_entropy_timer)),
        heartbeat(std::move(heartbeat_timer)) {}

  // On the reader's thread: queue, and wake the loop.
  void deliver(ReaderReport report) {
    {
      std::lock_guard lock(inbox_mutex);
      inbox.push_back(std::move(report));
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake.get(), &one, sizeof(one));
  }

  // On the loop: everything the reader said since last time, then decide.
  void on_wake() {
    uint64_t count = 0;
    [[maybe_unused]] ssize_t n = ::read(wake.get(), &count, sizeof(count));
    std::vector<ReaderReport> reports;
    {
      std::lock_guard lock(inbox_mutex);
      reports.swap(inbox);
    }
    for (const ReaderReport& report : reports) {
      log_connection(report);
      core.receive(report);
    }
    reconcile();
  }

  void log_connection(const ReaderReport& report) {
    bool was = core.metrics().connected;
    if (const auto* down = std::get_if<fleet::EtcdDown>(&report)) {
      if (was || !said_unreachable)
        spdlog::warn(
            "fleet: etcd unreachable ({}); the kernel keeps enforcing its policy, retrying",
            down->error.message());
      said_unreachable = true;
    } else if (const auto* up = std::get_if<fleet::WatchUp>(&report); up && !was) {
      spdlog::info("fleet: watching {} on etcd member {:016x}", fleet::policy_key(config.vault),
                   up->member_id);
      said_unreachable = false;
    }
  }

  // Anti-entropy and SIGHUP: the kernel is verified and the current value
  // decided again now (even without etcd); a fresh read of the key runs
  // beside the watch and is decided when it arrives.
  void recheck() {
    core.recheck();
    reconcile();
    if (rereading) return;  // the last read still waits for etcd
    if (reread_thread.joinable()) reread_thread.join();
    rereading = true;
    reread_thread = std::jthread([this] {
      reader.read_once();
      rereading = false;
    });
  }

  void reconcile() {
    uint64_t applies = core.metrics().applies;
    auto started = std::chrono::steady_clock::now();
    if (auto again = core.reconcile()) {
      if (auto r = retry.arm_within(*again); !r) spdlog::error("{}", r.error().message());
    }
    std::string took;
    if (core.metrics().applies != applies)
      took = fmt::format("; applied in {:.1f} ms", std::chrono::duration<double, std::milli>(
                                                       std::chrono::steady_clock::now() - started)
                                                       .count());
    publish(took);
  }

  // took: how long the apply that led here took, for the log line.
  void publish(const std::string& took = "") {
    writer.publish(core.report());
    write_metrics();
    std::string now = core.summary();
    if (now == last_summary) return;
    log_state_change(now + took);
    last_summary = now;
    if (host.status_changed) host.status_changed();
  }

  void log_state_change(const std::string& summary) const {
    switch (core.metrics().state) {
      case SyncState::kRejected:
      case SyncState::kError:
        spdlog::error("{}", summary);
        break;
      case SyncState::kNoPolicy:
        spdlog::warn("{}", summary);
        break;
      default:
        spdlog::info("{}", summary);
    }
  }

  void write_metrics() {
    if (config.metrics_dir.empty()) return;
    std::string text =
        fleet::render_fleet_metrics(config.vault, config.host, core.metrics(), writer.counters());
    if (text == last_metrics) return;
    auto path = std::filesystem::path(config.metrics_dir) / fleet::kMetricsFileName;
    if (auto r = fleet::write_file_atomically(path, text); !r) {
      if (!said_metrics_failed) spdlog::warn("fleet: metrics not written: {}", r.error().message());
      said_metrics_failed = true;
      return;
    }
    said_metrics_failed = false;
    last_metrics = std::move(text);
  }

  FleetConfig config;
  FleetHost host;
  std::unique_ptr<fleet::EtcdClient> etcd;
  fleet::KernelApplier applier;
  fleet::SyncCore core;
  fleet::PolicyReader reader;
  fleet::StatusWriter writer;
  UniqueFd wake;
  Timer retry, anti_entropy, heartbeat;
  std::mutex inbox_mutex;
  std::vector<ReaderReport> inbox;
  std::string last_summary, last_metrics;
  bool said_unreachable = false;
  bool said_metrics_failed = false;
  std::atomic<bool> rereading{false};
  // Last: stopped and joined first, while everything they use still exists.
  std::jthread reader_thread, writer_thread, reread_thread;
};

Result<std::unique_ptr<FleetActivity>> FleetActivity::start(const FleetConfig& config,
                                                            FleetHost host, EventLoop& loop) {
  VW_TRY(fleet::ensure_state_dir(config.state_dir));
  auto client = VW_TRY(fleet::make_gateway_client(config.etcd));
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return fail_errno("create the fleet wake-up eventfd");
  auto state = std::make_unique<State>(config, std::move(host), std::move(client), UniqueFd(fd),
                                       VW_TRY(Timer::create()), VW_TRY(Timer::create()),
                                       VW_TRY(Timer::create()));
  State& s = *state;
  VW_TRY(loop.watch(s.wake.get(), [&s] { s.on_wake(); }));
  VW_TRY(loop.watch(s.retry.fd(), [&s] {
    s.retry.acknowledge();
    s.reconcile();
  }));
  VW_TRY(loop.watch(s.anti_entropy.fd(), [&s] {
    s.anti_entropy.acknowledge();
    s.recheck();
  }));
  VW_TRY(loop.watch(s.heartbeat.fd(), [&s] {
    s.heartbeat.acknowledge();
    s.core.refresh_counters();
    s.publish();
  }));
  VW_TRY(s.anti_entropy.arm_every(config.anti_entropy_interval));
  VW_TRY(s.heartbeat.arm_every(config.heartbeat_interval));

  // What the kernel holds before etcd says anything: reported as it is.
  s.core.check_kernel();
  s.core.refresh_counters();
  s.publish();
  spdlog::info(
      "fleet: host {} of vault {}: syncing {} from {} (host facts {}, status lease {} s, "
      "re-check every {} s)",
      config.host, config.vault, fleet::policy_key(config.vault),
      [&] {
        std::string list;
        for (const std::string& e : config.etcd.endpoints) list += (list.empty() ? "" : ",") + e;
        return list;
      }(),
      config.host_facts, config.status_ttl.count(), config.anti_entropy_interval.count() / 1000);
  s.reader_thread = std::jthread([&s](std::stop_token stop) { s.reader.run(stop); });
  s.writer_thread = std::jthread([&s](std::stop_token stop) { s.writer.run(stop); });
  return std::unique_ptr<FleetActivity>(new FleetActivity(std::move(state)));
}

FleetActivity::FleetActivity(std::unique_ptr<State> state) : state_(std::move(state)) {}
FleetActivity::~FleetActivity() = default;

std::string FleetActivity::summary() const { return state_->core.summary(); }

void FleetActivity::recheck() { state_->recheck(); }

}  // namespace vaultwall
