// Fleet convergence with many hosts on one machine: N simulated agents in
// one process, each with the agent's own sync code (PolicyReader,
// SyncCore, StatusWriter, its own gateway client and connections) and a
// modelled kernel apply (a sleep drawn from --apply-ms +- --apply-jitter).
// Each round puts a new policy and records, per host, when its apply
// finished (enforcing) and when its status with the new digest was seen in
// etcd (what fleet put --wait sees). Prints one JSON document. Not a test
// (scripts/bench-fleet.sh).
//
// Every simulated host shares this machine's CPUs with the others and with
// etcd, where a real host has its own: the figures are upper bounds.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "vaultwall/fleet/connection.h"
#include "vaultwall/fleet/etcd_io.h"
#include "vaultwall/fleet/layout.h"
#include "vaultwall/fleet/shared_policy.h"
#include "vaultwall/fleet/sync.h"

namespace vaultwall::bench {
namespace {

using namespace fleet;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// What every simulated host reports back for the current round.
class Round {
 public:
  void start(std::string digest, size_t hosts) {
    std::lock_guard lock(mutex_);
    digest_ = std::move(digest);
    started_ = Clock::now();
    applied_.assign(hosts, -1);
    reported_.assign(hosts, -1);
    applied_count_ = reported_count_ = 0;
  }
  void applied(size_t host, const std::string& digest) {
    mark(host, digest, applied_, applied_count_);
  }
  void reported(size_t host, const std::string& digest) {
    mark(host, digest, reported_, reported_count_);
  }
  bool wait(milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      return applied_count_ == applied_.size() && reported_count_ == reported_.size();
    });
  }
  std::vector<double> applied_ms() {
    std::lock_guard lock(mutex_);
    return applied_;
  }
  std::vector<double> reported_ms() {
    std::lock_guard lock(mutex_);
    return reported_;
  }

 private:
  void mark(size_t host, const std::string& digest, std::vector<double>& times, size_t& count) {
    std::lock_guard lock(mutex_);
    if (digest != digest_ || host >= times.size() || times[host] >= 0) return;
    times[host] = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
    ++count;
    changed_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string digest_;
  Clock::time_point started_;
  std::vector<double> applied_, reported_;
  size_t applied_count_ = 0, reported_count_ = 0;
};

// The kernel side, modelled: the apply takes as long as the real one.
class ModelledKernel final : public PolicyApplier {
 public:
  ModelledKernel(size_t host, Round& round, double apply_ms, double jitter, uint32_t seed)
      : host_(host),
        round_(round),
        random_(seed),
        apply_(apply_ms * (1 - jitter), apply_ms * (1 + jitter)) {}
  Result<ApplyReport> apply(const ApplyRequest& request) override {
    ApplyReport report;
    report.before = version_;
    if (request.source.shared_digest != applied_digest_) {
      std::this_thread::sleep_for(std::chrono::microseconds(int64_t(apply_(random_) * 1000)));
      version_ = {version_.generation + 1, request.source.shared_digest};
      applied_digest_ = request.source.shared_digest;
      report.changed = true;
    }
    round_.applied(host_, applied_digest_);
    report.after = {version_, VerifyReport{"ok", {}, "sim"}};
    return report;
  }
  Result<KernelCheck> check() override {
    return KernelCheck{version_, VerifyReport{"ok", {}, "sim"}};
  }
  Result<CounterSummary> counters() override {
    return CounterSummary{0, 0, 0, std::to_string(++heartbeats_)};  // a new report each time
  }
  void journal_rejection(const ChangeSource&, const std::string&) override {}

 private:
  size_t host_;
  Round& round_;
  std::minstd_rand random_;
  std::uniform_real_distribution<double> apply_;
  PolicyVersion version_;
  std::string applied_digest_;
  uint64_t heartbeats_ = 0;
};

struct SimHost {
  SimHost(size_t index, const std::string& name, std::unique_ptr<EtcdClient> client,
          const std::string& facts, const std::string& state_dir, Round& round, double apply_ms,
          double jitter, std::chrono::seconds ttl)
      : etcd(std::move(client)),
        kernel(index, round, apply_ms, jitter, uint32_t(index * 7919 + 1)),
        core({.vault = "kv-bench",
              .host = name,
              .host_facts_path = facts,
              .state_dir = state_dir,
              .agent_version = "sim"},
             kernel),
        reader(*etcd, policy_key("kv-bench"), [this](ReaderReport r) { on_report(std::move(r)); }),
        writer(*etcd, core.info("sim"), ttl) {}

  // The agent's loop, inline on the reader's thread.
  void on_report(ReaderReport report) {
    std::lock_guard lock(mutex);
    core.receive(report);
    core.reconcile();
    writer.publish(core.report());
  }
  void heartbeat() {
    std::lock_guard lock(mutex);
    core.refresh_counters();
    writer.publish(core.report());
  }
  void start() {
    reader_thread = std::jthread([this](std::stop_token stop) { reader.run(stop); });
    writer_thread = std::jthread([this](std::stop_token stop) { writer.run(stop); });
  }

  std::unique_ptr<EtcdClient> etcd;
  ModelledKernel kernel;
  std::mutex mutex;
  SyncCore core;
  PolicyReader reader;
  StatusWriter writer;
  std::jthread reader_thread, writer_thread;
};

// RSS (KiB) and CPU seconds of etcd's members, from /proc.
nlohmann::json etcd_usage(const std::vector<int>& pids) {
  uint64_t rss_kib = 0;
  double cpu_s = 0;
  long ticks = sysconf(_SC_CLK_TCK);
  for (int pid : pids) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
      if (line.starts_with("VmRSS:")) rss_kib += std::stoull(line.substr(6));
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    std::istringstream rest(text.substr(text.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 15 && rest >> field; ++i)
      if (i == 14 || i == 15) cpu_s += double(std::stoull(field)) / double(ticks);
  }
  return {{"rss_kib", rss_kib}, {"cpu_s", cpu_s}};
}

std::string policy_value(int round, std::string* digest) {
  std::string text = R"({"networkAcls": {"defaultAction": "Deny", "bypass": "None", "ipRules": [)"
                     R"({"value": "198.51.100.0/24"}, {"value": "203.0.113.)" +
                     std::to_string(1 + round % 250) + R"("}]}})";
  auto shared = make_shared_policy(text, {});
  *digest = shared.value->digest;
  return to_json(make_record(*shared.value, "kv-bench", "bench", "round " + std::to_string(round),
                             "2026-01-01T00:00:00Z"))
      .dump();
}

int run(int argc, char** argv) {
  CLI::App app{"N simulated fleet agents against real etcd: time from put to every host applied"};
  std::string endpoints, pids_text, work = "/tmp";
  size_t hosts = 100;
  int rounds = 10;
  double apply_ms = 50, jitter = 0.3, ttl = 30, idle_s = 10, heartbeat_s = 60;
  app.add_option("--endpoints", endpoints, "etcd client URLs")->required();
  app.add_option("--hosts", hosts, "simulated agents");
  app.add_option("--rounds", rounds, "policy changes timed");
  app.add_option("--apply-ms", apply_ms, "modelled kernel apply, mean ms");
  app.add_option("--apply-jitter", jitter, "+- fraction of --apply-ms (uniform)");
  app.add_option("--status-ttl", ttl, "status lease TTL, s");
  app.add_option("--heartbeat", heartbeat_s,
                 "seconds between each host's status rewrites (the agent's --heartbeat-interval)");
  app.add_option("--idle", idle_s, "seconds of idle fleet to count heartbeats and keep-alives");
  app.add_option("--etcd-pids", pids_text,
                 "PIDs of etcd's members (resource use), comma-separated");
  app.add_option("--work-dir", work, "where the host facts file goes");
  CLI11_PARSE(app, argc, argv);

  // One watch connection and a few unary ones per host.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);

  std::vector<int> pids;
  for (const std::string& p : split_list(pids_text)) pids.push_back(std::stoi(p));
  std::string facts = work + "/sim-host.json";
  std::ofstream(facts) << "{}";
  EtcdSettings settings{.endpoints = endpoints};
  auto admin_options = gateway_options(settings);
  auto admin = make_gateway_client(*admin_options);
  if (!admin) {
    std::cerr << admin.error().message() << "\n";
    return 1;
  }
  nlohmann::json out{{"hosts", hosts},         {"rounds", rounds},    {"apply_ms", apply_ms},
                     {"apply_jitter", jitter}, {"status_ttl_s", ttl}, {"heartbeat_s", heartbeat_s}};
  out["etcd_before"] = etcd_usage(pids);

  Round round;
  std::string digest;
  if (auto put = (*admin)->put({policy_key("kv-bench"), policy_value(0, &digest)}); !put) {
    std::cerr << "bench-fleet-sim: put the first policy: " << put.error().message() << "\n";
    return 1;
  }
  round.start(digest, hosts);
  std::vector<std::unique_ptr<SimHost>> fleet;
  auto started = Clock::now();
  for (size_t i = 0; i < hosts; ++i) {
    std::string name = "sim" + std::to_string(i);
    GatewayOptions options = *admin_options;
    options.endpoints = spread_endpoints(options.endpoints, name);
    auto client = make_gateway_client(options);
    fleet.push_back(std::make_unique<SimHost>(i, name, std::move(*client), facts,
                                              work + "/sim-state", round, apply_ms, jitter,
                                              std::chrono::seconds(int64_t(ttl))));
  }
  // Status reports as fleet put --wait sees them.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < hosts; ++i) index["sim" + std::to_string(i)] = i;
  std::jthread observer([&](std::stop_token stop) {
    // Ends when stopped; a broken watch only leaves the round short, which it reports.
    (void)(*admin)->watch(
        WatchRequest::prefix(hosts_prefix()),
        [&](const WatchMessage& m) {
          if (const auto* events = std::get_if<WatchEvents>(&m))
            for (const WatchEvent& e : events->events) {
              auto key = parse_host_key(e.kv.key);
              if (!key || key->leaf != "status" || e.type != WatchEvent::Type::kPut) continue;
              auto status = parse_host_status(e.kv.value);
              if (status && status->state == SyncState::kInSync)
                round.reported(index[key->host], status->shared_digest);
            }
          return WatchControl::kContinue;
        },
        stop);
  });
  for (auto& host : fleet) host->start();
  // Heartbeats as the agents write them, spread over the interval.
  std::jthread heartbeats([&](std::stop_token stop) {
    auto step = std::chrono::duration<double>(heartbeat_s / double(hosts));
    for (size_t i = 0; !stop.stop_requested(); i = (i + 1) % hosts) {
      fleet[i]->heartbeat();
      std::this_thread::sleep_for(step);
    }
  });
  bool up = round.wait(std::chrono::seconds(120));
  out["startup_ms"] = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  out["startup_complete"] = up;
  std::this_thread::sleep_for(std::chrono::seconds(2));
  out["etcd_connected"] = etcd_usage(pids);

  nlohmann::json results = nlohmann::json::array();
  for (int r = 1; r <= rounds; ++r) {
    std::string value = policy_value(r, &digest);
    round.start(digest, hosts);
    auto put = (*admin)->put({policy_key("kv-bench"), value});
    bool complete = put && round.wait(std::chrono::seconds(60));
    results.push_back({{"round", r},
                       {"complete", complete},
                       {"applied_ms", round.applied_ms()},
                       {"reported_ms", round.reported_ms()}});
    std::this_thread::sleep_for(milliseconds(500));
  }
  out["rounds_detail"] = results;
  out["etcd_after_rounds"] = etcd_usage(pids);
  // An idle fleet: heartbeats and keep-alives only.
  auto rev_before = (*admin)->status();
  auto idle_start = etcd_usage(pids);
  std::this_thread::sleep_for(std::chrono::milliseconds(int64_t(idle_s * 1000)));
  auto rev_after = (*admin)->status();
  auto idle_end = etcd_usage(pids);
  out["idle"] = {
      {"seconds", idle_s},
      {"revisions",
       rev_before && rev_after ? rev_after->header.revision - rev_before->header.revision : -1},
      {"cpu_s", idle_end["cpu_s"].get<double>() - idle_start["cpu_s"].get<double>()},
      {"rss_kib", idle_end["rss_kib"]}};
  observer.request_stop();
  heartbeats.request_stop();
  heartbeats.join();
  fleet.clear();  // stops every host (leases revoked)
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace
}  // namespace vaultwall::bench

int main(int argc, char** argv) { return vaultwall::bench::run(argc, argv); }
