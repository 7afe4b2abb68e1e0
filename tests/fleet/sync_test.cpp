// Fleet sync's decisions (SyncCore) with a recording applier, and its etcd
// conversations (PolicyReader, StatusWriter) against FakeEtcd: coalescing,
// rejections that never reach the kernel, a deleted key that opens
// nothing, retries, drift repair, relists after compaction, the status
// lease granted again when lost. No kernel, no etcd.
#include "vaultwall/fleet/sync.h"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "vaultwall/policy/document.h"
#include "vaultwall/fleet/etcd_io.h"
#include "vaultwall/fleet/fake_etcd.h"
#include "vaultwall/fleet/layout.h"
#include "vaultwall/fleet/metrics.h"
#include "vaultwall/policy/sha256.h"

namespace vaultwall::fleet {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string document(const std::string& rule) {
  return R"({"networkAcls": {"defaultAction": "Deny", "bypass": "None", "ipRules": [{"value": ")" +
         rule + R"("}]}})";
}

std::string record_value(const std::string& rule, const std::string& vault = "kv-1") {
  auto shared = make_shared_policy(document(rule), {});
  EXPECT_TRUE(shared.ok());
  return to_json(make_record(*shared.value, vault, "tester", "", "2026-12-01T00:00:00Z")).dump();
}

KeyValue kv(int64_t revision, std::string value) {
  return KeyValue{.key = policy_key("kv-1"),
                  .value = std::move(value),
                  .create_revision = 2,
                  .mod_revision = revision,
                  .version = revision};
}

class RecordingApplier final : public PolicyApplier {
 public:
  Result<ApplyReport> apply(const ApplyRequest& request) override {
    requests.push_back(request);
    if (!failures.empty()) {
      Error error = failures.front();
      failures.pop_front();
      return std::unexpected(error);
    }
    ApplyReport report;
    report.before = kernel;
    bool same = kernel_policy && *kernel_policy == request.host_policy.policy;
    if (!same || request.force || drift) {
      kernel_policy = request.host_policy.policy;
      kernel = {kernel.generation + 1, sha256_hex(canonical_serialisation(*kernel_policy))};
      report.changed = !same || request.force;
      if (request.force) drift = false;
    }
    report.after = current();
    return report;
  }
  Result<KernelCheck> check() override { return current(); }
  Result<CounterSummary> counters() override { return CounterSummary{5, 1, 0, "t"}; }
  void journal_rejection(const ChangeSource& source, const std::string& reason) override {
    rejections.push_back(std::to_string(source.revision) + ": " + reason);
  }

  KernelCheck current() const { return {kernel, VerifyReport{drift ? "drift" : "ok", {}, "t"}}; }

  std::vector<ApplyRequest> requests;
  std::vector<std::string> rejections;
  std::deque<Error> failures;
  std::optional<Policy> kernel_policy;
  PolicyVersion kernel;
  bool drift = false;
};

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vw-sync-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "host.json")
        << R"({"dataPlane": {"addresses": ["192.0.2.10"]}})";
    core_.emplace(SyncSettings{.vault = "kv-1",
                               .host = "h1",
                               .host_facts_path = (dir_ / "host.json").string(),
                               .state_dir = (dir_ / "state").string(),
                               .agent_version = "test"},
                  applier_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void put_event(int64_t revision, const std::string& value) {
    core_->receive(PolicyEvents{{WatchEvent{WatchEvent::Type::kPut, kv(revision, value), {}}}});
  }

  fs::path dir_;
  RecordingApplier applier_;
  std::optional<SyncCore> core_;
};

TEST_F(SyncTest, NothingIsDecidedBeforeTheFirstRead) {
  put_event(5, record_value("198.51.100.0/24"));
  EXPECT_FALSE(core_->reconcile());
  EXPECT_TRUE(applier_.requests.empty());
  EXPECT_EQ(core_->report().state, SyncState::kStarting);
}

TEST_F(SyncTest, AppliesTheNewestValueOnceAndNamesTheOnesItReplaced) {
  core_->receive(PolicyListed{kv(3, record_value("198.51.100.0/24")), 3});
  put_event(4, record_value("198.51.100.0/25"));
  put_event(5, record_value("203.0.113.0/24"));
  EXPECT_FALSE(core_->reconcile());
  ASSERT_EQ(applier_.requests.size(), 1u);
  const ApplyRequest& applied = applier_.requests[0];
  EXPECT_EQ(applied.source.revision, 5);
  EXPECT_EQ(applied.source.superseded, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(applied.source.author, "tester");
  EXPECT_EQ(applied.host_policy.policy.ip_rules[0].canonical(), "203.0.113.0/24");
  // The host's facts are merged in.
  EXPECT_EQ(applied.host_policy.policy.host.addresses.size(), 1u);
  HostStatus status = core_->report();
  EXPECT_EQ(status.state, SyncState::kInSync);
  EXPECT_EQ(status.policy_revision, 5);
  EXPECT_EQ(status.verify.result, "ok");
  // The same revision again decides nothing.
  EXPECT_FALSE(core_->reconcile());
  EXPECT_EQ(applier_.requests.size(), 1u);
  EXPECT_EQ(core_->metrics().applies, 1u);
}

TEST_F(SyncTest, InvalidValuesAreRejectedWithTheirPathAndNeverApplied) {
  core_->receive(PolicyListed{kv(3, record_value("198.51.100.0/24")), 3});
  core_->reconcile();
  std::string bad = record_value("198.51.100.0/24");
  bad.replace(bad.find("198.51.100.0/24"), 15, "10.0.0.0/8");  // edited by hand
  put_event(4, bad);
  core_->reconcile();
  put_event(5, "not json");
  core_->reconcile();
  put_event(6, record_value("198.51.100.0/24", "kv-other"));
  core_->reconcile();
  EXPECT_EQ(applier_.requests.size(), 1u);  // only revision 3
  HostStatus status = core_->report();
  EXPECT_EQ(status.state, SyncState::kRejected);
  EXPECT_EQ(status.policy_revision, 3);  // the kernel keeps the last good one
  ASSERT_TRUE(status.error);
  EXPECT_EQ(status.error->revision, 6);
  EXPECT_EQ(status.error->path, "vault");
  ASSERT_EQ(applier_.rejections.size(), 3u);
  EXPECT_NE(applier_.rejections[0].find("policy.properties.networkAcls.ipRules[0].value"),
            std::string::npos)
      << applier_.rejections[0];
  // A re-check decides again, but journals a rejection once.
  core_->recheck();
  core_->reconcile();
  EXPECT_EQ(applier_.rejections.size(), 3u);
  EXPECT_EQ(core_->metrics().rejections, 3u);
}

TEST_F(SyncTest, HostFactsThatDoNotFitAreTheHostsRejection) {
  std::ofstream(dir_ / "host.json") << R"({"dataPlane": {"ports": ["tcp/0"]}})";
  core_->receive(PolicyListed{kv(3, record_value("198.51.100.0/24")), 3});
  core_->reconcile();
  HostStatus status = core_->report();
  EXPECT_EQ(status.state, SyncState::kRejected);
  EXPECT_EQ(status.error->source, "host-facts");
  EXPECT_EQ(status.error->path, (dir_ / "host.json").string() + ":dataPlane.ports[0]");
  EXPECT_TRUE(applier_.requests.empty());
  // Fixed, and picked up by the next re-check (anti-entropy or SIGHUP).
  std::ofstream(dir_ / "host.json") << "{}";
  core_->recheck();
  core_->reconcile();
  EXPECT_EQ(core_->report().state, SyncState::kInSync);
}

TEST_F(SyncTest, ADeletedKeyChangesNothing) {
  core_->receive(PolicyListed{kv(3, record_value("198.51.100.0/24")), 3});
  core_->reconcile();
  core_->receive(PolicyEvents{{WatchEvent{
      WatchEvent::Type::kDelete, KeyValue{.key = policy_key("kv-1"), .mod_revision = 9}, {}}}});
  core_->reconcile();
  EXPECT_EQ(applier_.requests.size(), 1u);
  HostStatus status = core_->report();
  EXPECT_EQ(status.state, SyncState::kNoPolicy);
  EXPECT_EQ(status.policy_revision, 3);
  EXPECT_NE(status.error->message.find("deleted at revision 9"), std::string::npos);
}

TEST_F(SyncTest, BusyLockAndFailuresAreRetriedWithoutLosingTheSupersededList) {
  core_->receive(PolicyListed{kv(3, record_value("198.51.100.0/24")), 3});
  put_event(4, record_value("203.0.113.0/24"));
  applier_.failures = {Error{EWOULDBLOCK, "lock busy", ""}, Error{EIO, "map write failed", ""},
                       Error{EIO, "map write failed", ""}};
  auto retry = core_->reconcile();
  ASSERT_TRUE(retry);
  EXPECT_EQ(core_->report().state, SyncState::kApplying);
  auto first = core_->reconcile();
  ASSERT_TRUE(first);
  EXPECT_EQ(core_->report().state, SyncState::kError);
  EXPECT_EQ(core_->report().error->source, "kernel");
  auto second = core_->reconcile();
  ASSERT_TRUE(second);
  EXPECT_GT(*second, *first);  // backing off
  EXPECT_FALSE(core_->reconcile());
  EXPECT_EQ(core_->report().state, SyncState::kInSync);
  EXPECT_EQ(applier_.requests.back().source.superseded, (std::vector<int64_t>{3}));
  EXPECT_EQ(core_->metrics().failures, 2u);
}

TEST_F(SyncTest, ARecheckRepairsDriftWithAForcedApply) {
  core_->receive(PolicyListed{kv(3, record_value("198.51.100.0/24")), 3});
  core_->reconcile();
  applier_.drift = true;
  core_->recheck();
  core_->reconcile();
  ASSERT_EQ(applier_.requests.size(), 3u);
  EXPECT_FALSE(applier_.requests[1].force);
  EXPECT_TRUE(applier_.requests[2].force);
  EXPECT_EQ(core_->report().state, SyncState::kInSync);
}

// The first summary comes after the first read, before the watch is up:
// etcd answered, so it is not "not connected".
TEST_F(SyncTest, TheSummarySaysEtcdIsDownOnlyWhenItIs) {
  core_->receive(PolicyListed{kv(3, record_value("198.51.100.0/24")), 3});
  core_->reconcile();
  EXPECT_EQ(core_->summary().find("not connected"), std::string::npos) << core_->summary();
  core_->receive(WatchUp{1});
  EXPECT_EQ(core_->summary().find("not connected"), std::string::npos) << core_->summary();
  core_->receive(EtcdDown{Error{ECONNREFUSED, "connect", ""}});
  EXPECT_NE(core_->summary().find("etcd not connected"), std::string::npos) << core_->summary();
}

TEST_F(SyncTest, ConnectionStateAndMetrics) {
  core_->receive(WatchUp{0x8e9e05c52164694dull});
  EXPECT_TRUE(core_->metrics().connected);
  EXPECT_EQ(core_->report().watch_member, "8e9e05c52164694d");
  core_->receive(EtcdDown{Error{ECONNREFUSED, "connect", ""}});
  core_->receive(EtcdDown{Error{ECONNREFUSED, "connect", ""}});
  EXPECT_FALSE(core_->report().connected);
  EXPECT_EQ(core_->metrics().disconnects, 1u);  // one outage, however many retries
  core_->refresh_counters();
  EXPECT_EQ(core_->report().counters->dropped, 1u);
  std::string text = render_fleet_metrics("kv-1", "h1", core_->metrics(), StatusWriter::Counters{});
  EXPECT_NE(text.find("vaultwall_fleet_connected{vault=\"kv-1\",host=\"h1\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("vaultwall_fleet_state{vault=\"kv-1\",host=\"h1\",state=\"starting\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE vaultwall_fleet_disconnects_total counter"), std::string::npos);
}

// ---- the etcd side, against FakeEtcd ----------------------------------------------

struct Inbox {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<ReaderReport> reports;
  void operator()(ReaderReport report) {
    std::lock_guard lock(mutex);
    reports.push_back(std::move(report));
    changed.notify_all();
  }
  template <class T>
  size_t count() {
    std::lock_guard lock(mutex);
    return std::count_if(reports.begin(), reports.end(),
                         [](const ReaderReport& r) { return std::holds_alternative<T>(r); });
  }
  template <class T>
  bool wait_for(size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 5s, [&] {
      return size_t(std::count_if(reports.begin(), reports.end(), [](const ReaderReport& r) {
               return std::holds_alternative<T>(r);
             })) >= n;
    });
  }
};

TEST(PolicyReader, ListsThenWatchesAndReadsAgainBesideTheWatch) {
  FakeEtcd etcd;
  std::string key = policy_key("kv-1");
  ASSERT_TRUE(etcd.put({key, "v1"}));
  Inbox inbox;
  PolicyReader reader(etcd, key, std::ref(inbox), RetryPolicy{10ms, 50ms});
  std::jthread thread([&](std::stop_token stop) { reader.run(stop); });
  ASSERT_TRUE(inbox.wait_for<PolicyListed>(1));
  ASSERT_TRUE(etcd.wait_for_watches(1, 5s));
  ASSERT_TRUE(etcd.put({key, "v2"}));
  ASSERT_TRUE(inbox.wait_for<PolicyEvents>(1));
  reader.read_once();
  ASSERT_TRUE(inbox.wait_for<PolicyListed>(2));
  {
    std::lock_guard lock(inbox.mutex);
    const auto* second = std::get_if<PolicyListed>(&inbox.reports.back());
    if (second == nullptr)
      second = std::get_if<PolicyListed>(&inbox.reports[inbox.reports.size() - 2]);
    ASSERT_NE(second, nullptr);
    ASSERT_TRUE(second->kv);
    EXPECT_EQ(second->kv->value, "v2");
  }
  EXPECT_EQ(inbox.count<WatchUp>(), 1u);  // the read did not disturb the watch
  etcd.interrupt_watches(Error{ECONNRESET, "member died", ""});
  ASSERT_TRUE(inbox.wait_for<EtcdDown>(1));
  ASSERT_TRUE(inbox.wait_for<WatchUp>(2));  // resumed by the client itself
  ASSERT_TRUE(etcd.put({key, "v3"}));
  ASSERT_TRUE(inbox.wait_for<PolicyEvents>(2));
  EXPECT_EQ(inbox.count<PolicyListed>(), 2u);
}

TEST(PolicyReader, ListsAgainAfterCompaction) {
  FakeEtcd etcd;
  std::string key = policy_key("kv-1");
  ASSERT_TRUE(etcd.put({key, "v1"}));
  Inbox inbox;
  // The reader is held inside its first change while etcd moves on and
  // compacts past it, as a stopped agent would be.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> held{false};
  auto deliver = [&](ReaderReport report) {
    bool first_change = std::holds_alternative<PolicyEvents>(report) && !held.exchange(true);
    inbox(std::move(report));
    if (first_change) released.wait();
  };
  PolicyReader reader(etcd, key, deliver, RetryPolicy{10ms, 20ms});
  std::jthread thread([&](std::stop_token stop) { reader.run(stop); });
  ASSERT_TRUE(inbox.wait_for<WatchUp>(1));
  ASSERT_TRUE(etcd.put({key, "v2"}));
  ASSERT_TRUE(inbox.wait_for<PolicyEvents>(1));
  for (int i = 3; i <= 5; ++i) ASSERT_TRUE(etcd.put({key, "v" + std::to_string(i)}));
  ASSERT_TRUE(etcd.compact(etcd.revision()));
  release.set_value();
  ASSERT_TRUE(inbox.wait_for<PolicyListed>(2));
  std::lock_guard lock(inbox.mutex);
  const PolicyListed* last = nullptr;
  for (const ReaderReport& r : inbox.reports)
    if (const auto* listed = std::get_if<PolicyListed>(&r)) last = listed;
  ASSERT_TRUE(last && last->kv);
  EXPECT_EQ(last->kv->value, "v5");
}

TEST(StatusWriter, WritesUnderALeaseAndWritesAgainWhenTheLeaseIsLost) {
  FakeEtcd etcd;
  HostInfo info{"h1", "kv-1", "test", "2026-12-01T00:00:00Z", "/pins", "/host.json"};
  // Enrolled before: the first enrolment time stays.
  HostInfo earlier = info;
  earlier.enrolled_at = "2026-01-01T00:00:00Z";
  ASSERT_TRUE(etcd.put({host_info_key("h1"), to_json(earlier).dump()}));
  StatusWriter writer(etcd, info, 6s, RetryPolicy{10ms, 50ms});
  HostStatus status{
      .host = "h1", .vault = "kv-1", .state = SyncState::kInSync, .policy_revision = 3};
  writer.publish(status);
  std::jthread thread([&](std::stop_token stop) { writer.run(stop); });
  auto wait_status = [&](auto predicate) {
    for (int i = 0; i < 600; ++i) {
      auto got = etcd.range({host_status_key("h1")});
      if (got && !got->kvs.empty() && predicate(got->kvs.front())) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  ASSERT_TRUE(wait_status([](const KeyValue& kv) { return kv.lease != 0; }));
  auto info_now = etcd.range({host_info_key("h1")});
  EXPECT_EQ(parse_host_info(info_now->kvs.front().value)->enrolled_at, "2026-01-01T00:00:00Z");
  EXPECT_EQ(info_now->kvs.front().version, 1);  // not rewritten: nothing changed

  // The lease expires (an agent stopped past its TTL): the status vanishes,
  // then comes back under a new lease.
  etcd.advance(10s);
  ASSERT_TRUE(wait_status([](const KeyValue&) { return true; }));
  EXPECT_EQ(writer.counters().leases_lost, 1u);
  EXPECT_EQ(writer.counters().leases_granted, 2u);

  // A heartbeat that changes nothing but reportedAt is not written.
  auto before = etcd.revision();
  status.reported_at = "later";
  writer.publish(status);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(etcd.revision(), before);
  status.state = SyncState::kApplying;
  writer.publish(status);
  ASSERT_TRUE(wait_status([](const KeyValue& kv) {
    return parse_host_status(kv.value)->state == SyncState::kApplying;
  }));
  thread.request_stop();
  thread.join();
  // Stopped: the lease is revoked, the status gone at once.
  EXPECT_TRUE(etcd.range({host_status_key("h1")})->kvs.empty());
}

}  // namespace
}  // namespace vaultwall::fleet
