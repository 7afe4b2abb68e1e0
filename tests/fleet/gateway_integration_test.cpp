// The gateway client against real etcd 3.4 clusters on 127.0.0.1 (one per
// test, stopped by PID when the test ends). Skipped when etcd is missing.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "contract.h"
#include "etcd_cluster.h"
#include "vaultwall/fleet/gateway_client.h"
#include "vaultwall/fleet/gateway_json.h"
#include "watch_recorder.h"

namespace vaultwall::fleet {
namespace {

using namespace std::chrono_literals;
using testing::BackgroundWatch;
using testing::ClusterOptions;
using testing::EtcdCluster;
using testing::events_at_least;
using testing::has;
using testing::Recorder;

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string missing = EtcdCluster::missing_tools(); !missing.empty()) {
      GTEST_SKIP() << missing;
    }
  }

  // Call through ASSERT_NO_FATAL_FAILURE: a cluster that does not start
  // ends the test.
  void start(ClusterOptions options = {}) {
    auto cluster = EtcdCluster::start(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), options);
    ASSERT_TRUE(cluster) << cluster.error().message();
    cluster_ = std::move(*cluster);
  }

  std::unique_ptr<EtcdClient> client(GatewayOptions options) {
    auto made = make_gateway_client(std::move(options));
    EXPECT_TRUE(made) << made.error().message();
    return made ? std::move(*made) : nullptr;
  }
  std::unique_ptr<EtcdClient> client_for_all() { return client(cluster_->options_for_all()); }

  std::unique_ptr<EtcdCluster> cluster_;
};

// The behaviour the fake is held to (contract.h), against a real cluster.
TEST_F(GatewayTest, SameContractAsTheFake) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto etcd = client_for_all();
  contract::keys_values_and_ranges(*etcd, "/t/kv/");
  contract::txn_compare_and_swap(*etcd, "/t/txn/");
  contract::watch_replays_then_follows(*etcd, "/t/watch/");
  contract::lease_lifecycle(*etcd, "/t/lease/");
  contract::oversized_put_refused(*etcd, "/t/size/");
  contract::history_and_compaction(*etcd, "/t/history/");
}

// What only the server knows: its own request limit, past the client's check.
TEST_F(GatewayTest, ServerRequestLimitIsEmsgsize) {
  ASSERT_NO_FATAL_FAILURE(start(ClusterOptions{.members = 1}));
  GatewayOptions lax = cluster_->options_for_all();
  lax.max_request_bytes = 4 * kDefaultMaxRequestBytes;
  auto refused =
      client(lax)->put({"/t/big", std::string(kDefaultMaxRequestBytes + 100 * 1024, 'x')});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, EMSGSIZE) << refused.error().message();
}

// Nagle + delayed ACK add ~40 ms to each request unless TCP_NODELAY is set.
TEST_F(GatewayTest, RequestsDoNotWaitForDelayedAcks) {
  ASSERT_NO_FATAL_FAILURE(start(ClusterOptions{.members = 1}));
  auto etcd = client_for_all();
  ASSERT_OK(etcd->put({"/t/warm", "x"}));
  std::vector<double> ms;
  for (int i = 0; i < 15; ++i) {
    auto begin = std::chrono::steady_clock::now();
    ASSERT_OK(etcd->put({"/t/latency", std::string(200, 'a' + i % 26)}));
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  EXPECT_LT(ms[ms.size() / 2], 25.0) << "median put latency " << ms[ms.size() / 2] << " ms";
}

TEST_F(GatewayTest, LeaseKeyGoesWhenKeepalivesStop) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto etcd = client_for_all();
  auto lease = etcd->lease_grant(2);
  ASSERT_OK(lease);
  ASSERT_OK(etcd->put({"/t/hosts/h1/status", "in-sync", lease->id}));
  ASSERT_OK(etcd->lease_keep_alive(lease->id));

  auto deadline = std::chrono::steady_clock::now() + 8s;
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    auto read = etcd->range({"/t/hosts/h1/status"});
    ASSERT_OK(read);
    gone = read->kvs.empty();
  }
  EXPECT_TRUE(gone) << "the key outlived its lease";
  // The gateway answers a keepalive for a lost lease without a TTL.
  auto lost = etcd->lease_keep_alive(lease->id);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, ENOENT) << lost.error().message();
}

// Progress keeps a quiet watch inside its idle timeout: no reconnects.
TEST_F(GatewayTest, QuietWatchGetsProgress) {
  ASSERT_NO_FATAL_FAILURE(start(ClusterOptions{.members = 1, .progress_notify_interval = 1s}));
  GatewayOptions options = cluster_->options_for_all();
  options.watch_idle_timeout = 2500ms;
  auto etcd = client(options);
  auto put = etcd->put({"/t/quiet/before", "x"});
  ASSERT_OK(put);
  ASSERT_OK(etcd->put({"/t/elsewhere", "y"}));  // moves the revision, not the watch
  Recorder recorder;
  WatchRequest request = WatchRequest::prefix("/t/quiet/");
  request.progress_notify = true;
  BackgroundWatch watch(*etcd, request, recorder);
  ASSERT_TRUE(recorder.wait(testing::at_least<WatchProgress>(3), 6s))
      << "fewer than 3 progress marks in 6 s";
  for (const auto& message : recorder.messages()) {
    if (const auto* progress = std::get_if<WatchProgress>(&message)) {
      EXPECT_EQ(progress->header.revision, put->header.revision + 1);
    }
  }
  EXPECT_TRUE(recorder.events().empty());
  EXPECT_EQ(recorder.count<WatchInterrupted>(), 0u);
}

// Without progress, a silent stream is indistinguishable from a dead one:
// after the idle timeout the watch reconnects and keeps following.
TEST_F(GatewayTest, SilentWatchIsResumedAfterItsIdleTimeout) {
  ASSERT_NO_FATAL_FAILURE(start(ClusterOptions{.members = 1}));
  GatewayOptions options = cluster_->options_for_all();
  options.watch_idle_timeout = 1500ms;
  auto etcd = client(options);
  Recorder recorder;
  BackgroundWatch watch(*etcd, WatchRequest{"/t/silent"}, recorder);
  ASSERT_TRUE(recorder.wait(has<WatchInterrupted>, 5s));
  auto interrupted = recorder.messages();
  const auto& error = std::get<WatchInterrupted>(interrupted.back()).error;
  EXPECT_EQ(error.code, ETIMEDOUT) << error.message();
  ASSERT_TRUE(recorder.wait(testing::at_least<WatchCreated>(2), 5s));
  ASSERT_OK(etcd->put({"/t/silent", "heard"}));
  ASSERT_TRUE(recorder.wait(events_at_least(1)));
  EXPECT_EQ(recorder.events().size(), 1u);
}

// The watched member is SIGKILLed mid-stream: the watch resumes on another
// member from the next revision; every revision is seen exactly once, in
// order. (When member 0 was the leader, a write in flight may fail with
// "request timed out" and still be applied: the writer retries, and the
// truth is the store's own history, replayed.)
TEST_F(GatewayTest, WatchFailsOverWhenItsMemberDies) {
  ASSERT_NO_FATAL_FAILURE(start());
  auto watcher_client = client(cluster_->options_for({0, 1, 2}));
  GatewayOptions writer_options = cluster_->options_for({1, 2, 0});
  writer_options.request_timeout = 3s;
  auto writer = client(writer_options);
  Recorder recorder;
  BackgroundWatch watch(*watcher_client, WatchRequest::prefix("/t/f/"), recorder);
  ASSERT_TRUE(recorder.wait(has<WatchCreated>));
  const int64_t first = std::get<WatchCreated>(recorder.messages()[0]).header.revision + 1;

  std::vector<int64_t> acknowledged;
  for (int i = 0; i < 40; ++i) {
    if (i == 15) cluster_->kill(0);
    Result<PutResponse> put = fail(EAGAIN, "not tried");
    for (int attempt = 0; attempt < 20 && !put; ++attempt) {
      put = writer->put({"/t/f/k", std::to_string(i)});
      if (!put) std::this_thread::sleep_for(100ms);
    }
    ASSERT_OK(put);
    acknowledged.push_back(put->header.revision);
    std::this_thread::sleep_for(10ms);
  }
  Recorder replay;
  auto history =
      writer->watch(WatchRequest::prefix("/t/f/", first), [&](const WatchMessage& message) {
        replay(message);
        return replay.event_revisions().size() > 0 &&
                       replay.event_revisions().back() >= acknowledged.back()
                   ? WatchControl::kStop
                   : WatchControl::kContinue;
      });
  ASSERT_OK(history);
  const std::vector<int64_t> stored = replay.event_revisions();
  ASSERT_TRUE(recorder.wait([&](const auto&, const auto& events) {
    return events.size() >= stored.size();
  })) << recorder.events().size()
      << " of " << stored.size() << " events";
  EXPECT_EQ(recorder.event_revisions(), stored);
  for (int64_t revision : acknowledged) {
    EXPECT_TRUE(std::binary_search(stored.begin(), stored.end(), revision)) << revision;
  }
  EXPECT_GE(recorder.count<WatchInterrupted>(), 1u);
  EXPECT_GE(recorder.count<WatchCreated>(), 2u);

  // Unary calls fail over too: member 0 is first in this client's list.
  auto after = watcher_client->range({"/t/f/k"});
  ASSERT_OK(after);
  EXPECT_EQ(after->kvs.at(0).value, "39");
  auto status = watcher_client->status();
  ASSERT_OK(status);
  EXPECT_NE(status->endpoint, cluster_->client_url(0));
  EXPECT_NE(status->leader, 0u);
}

TEST_F(GatewayTest, NoLeaderWithTwoOfThreeDown) {
  ASSERT_NO_FATAL_FAILURE(start());
  GatewayOptions options = cluster_->options_for({2});
  options.request_timeout = 2s;
  options.backoff_max = 200ms;
  options.watch_backoff_max = 500ms;
  auto etcd = client(options);
  ASSERT_OK(etcd->put({"/t/n", "before"}));
  Recorder existing;
  BackgroundWatch watch(*etcd, WatchRequest{"/t/n"}, existing);
  ASSERT_TRUE(existing.wait(has<WatchCreated>));

  cluster_->kill(0);
  cluster_->kill(1);
  // The open watch is closed once the member notices it has no leader.
  ASSERT_TRUE(existing.wait(has<WatchInterrupted>, 8s)) << "a leaderless watch stayed open";

  // A serializable read is answered locally; a linearizable one fails, bounded.
  auto local = etcd->range(RangeRequest{"/t/n", {}, 0, 0, true});
  ASSERT_OK(local);
  EXPECT_EQ(local->kvs.at(0).value, "before");
  auto begin = std::chrono::steady_clock::now();
  auto linear = etcd->range({"/t/n"});
  ASSERT_FALSE(linear);
  EXPECT_TRUE(linear.error().code == EAGAIN || linear.error().code == ETIMEDOUT)
      << linear.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 10s);

  // A new watch requiring a leader is refused at once.
  Recorder fresh;
  auto started = std::chrono::steady_clock::now();
  auto result = etcd->watch(WatchRequest{"/t/n"}, [&](const WatchMessage& message) {
    fresh(message);
    return std::holds_alternative<WatchInterrupted>(message) ? WatchControl::kStop
                                                             : WatchControl::kContinue;
  });
  ASSERT_OK(result);
  auto messages = fresh.messages();
  ASSERT_FALSE(messages.empty());
  ASSERT_TRUE(std::holds_alternative<WatchInterrupted>(messages.back()));
  EXPECT_EQ(std::get<WatchInterrupted>(messages.back()).error.code, EAGAIN)
      << std::get<WatchInterrupted>(messages.back()).error.message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);

  // Quorum back: the first watch resumes by itself and sees the next write.
  ASSERT_OK(cluster_->restart(0));
  ASSERT_OK(cluster_->wait_healthy(20s));
  auto deadline = std::chrono::steady_clock::now() + 15s;
  Result<PutResponse> put = fail(EAGAIN, "not tried");
  while (!put && std::chrono::steady_clock::now() < deadline) put = etcd->put({"/t/n", "after"});
  ASSERT_OK(put);
  ASSERT_TRUE(existing.wait(events_at_least(1), 35s));
  EXPECT_EQ(existing.events().back().kv.value, "after");
}

class GatewayAuthTest : public GatewayTest {
 protected:
  void SetUp() override {
    GatewayTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(start(ClusterOptions{.members = 3, .auth_token_ttl_seconds = 1}));
    std::vector<std::vector<std::string>> setup = {
        {"user", "add", "root:rootpw", "--interactive=false"},
        {"role", "add", "root"},
        {"user", "grant-role", "root", "root"},
        {"user", "add", "host1:host1pw", "--interactive=false"},
        {"role", "add", "host1"},
        {"role", "grant-permission", "host1", "read", "/vaultwall/v1/vaults/", "--prefix=true"},
        {"role", "grant-permission", "host1", "readwrite", "/vaultwall/v1/hosts/host1/",
         "--prefix=true"},
        {"user", "grant-role", "host1", "host1"},
        {"auth", "enable"},
        {"--user=root:rootpw", "put", "/vaultwall/v1/vaults/kv1/policy", "{}"}};
    for (const auto& args : setup) ASSERT_OK(cluster_->etcdctl(args));
  }
};

TEST_F(GatewayAuthTest, RoleLimitsWritesToItsPrefix) {
  GatewayOptions options = cluster_->options_for_all();
  options.credentials = Credentials{"host1", "host1pw"};
  auto etcd = client(options);
  auto policy = etcd->range({"/vaultwall/v1/vaults/kv1/policy"});
  ASSERT_OK(policy);
  EXPECT_EQ(policy->kvs.at(0).value, "{}");
  ASSERT_OK(etcd->put({"/vaultwall/v1/hosts/host1/status", "in-sync"}));

  for (const char* forbidden :
       {"/vaultwall/v1/hosts/host2/status", "/vaultwall/v1/vaults/kv1/policy"}) {
    auto refused = etcd->put({forbidden, "forged"});
    ASSERT_FALSE(refused) << forbidden;
    EXPECT_EQ(refused.error().code, EACCES) << refused.error().message();
  }
  Recorder recorder;
  ASSERT_OK(etcd->watch(WatchRequest::prefix("/vaultwall/v1/hosts/"), std::ref(recorder)));
  ASSERT_EQ(recorder.count<WatchCanceled>(), 1u);
  EXPECT_EQ(std::get<WatchCanceled>(recorder.messages().back()).reason.code, EACCES);

  options.credentials = Credentials{"host1", "wrong"};
  auto wrong = client(options)->range({"/vaultwall/v1/vaults/kv1/policy"});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, EACCES) << wrong.error().message();
  options.credentials.reset();
  auto anonymous = client(options)->range({"/vaultwall/v1/vaults/kv1/policy"});
  ASSERT_FALSE(anonymous);
  EXPECT_EQ(anonymous.error().code, EACCES) << anonymous.error().message();
}

TEST_F(GatewayAuthTest, ExpiredTokenIsRenewed) {
  auto etcd = client(cluster_->options_for_all());
  auto token = etcd->authenticate({"host1", "host1pw"});
  ASSERT_OK(token);
  ASSERT_OK(etcd->range({"/vaultwall/v1/vaults/kv1/policy"}));
  std::this_thread::sleep_for(2500ms);  // --auth-token-ttl=1

  // The old token is refused now (curl: cpp-httplib cannot read the
  // gateway's error answers, see gateway_client.cpp)...
  auto stale = testing::run_command(
      {"curl", "-s", "-X", "POST", cluster_->client_url(0) + "/v3/kv/range", "-H",
       "Authorization: " + *token, "-d",
       gateway::encode(RangeRequest{"/vaultwall/v1/vaults/kv1/policy"}).dump()});
  ASSERT_OK(stale);
  EXPECT_NE(stale->find("invalid auth token"), std::string::npos) << *stale;
  // ...and the client renews it by itself, for calls and for watches.
  auto read = etcd->range({"/vaultwall/v1/vaults/kv1/policy"});
  ASSERT_OK(read);
  std::this_thread::sleep_for(2500ms);
  Recorder recorder;
  BackgroundWatch watch(*etcd, WatchRequest::prefix("/vaultwall/v1/hosts/host1/"), recorder);
  ASSERT_TRUE(recorder.wait(has<WatchCreated>));
  std::this_thread::sleep_for(100ms);
  ASSERT_OK(etcd->put({"/vaultwall/v1/hosts/host1/status", "applying"}));
  ASSERT_TRUE(recorder.wait(events_at_least(1)));
  EXPECT_EQ(recorder.count<WatchCanceled>(), 0u);
}

TEST_F(GatewayTest, TlsWithClientCertificates) {
  ASSERT_NO_FATAL_FAILURE(start(ClusterOptions{.members = 1, .tls = true}));
  auto etcd = client_for_all();
  ASSERT_OK(etcd->put({"/t/tls", "ok"}));
  Recorder recorder;
  BackgroundWatch watch(*etcd, WatchRequest{"/t/tls"}, recorder);
  ASSERT_TRUE(recorder.wait(has<WatchCreated>));
  ASSERT_OK(etcd->put({"/t/tls", "again"}));
  ASSERT_TRUE(recorder.wait(events_at_least(1)));

  // Without a client certificate the member refuses the handshake; the
  // process survives it (SIGPIPE) and the error says what to give.
  GatewayOptions no_cert = cluster_->options_for_all();
  no_cert.tls.cert_file.clear();
  no_cert.tls.key_file.clear();
  no_cert.attempts = 1;
  for (int i = 0; i < 5; ++i) {
    auto refused = client(no_cert)->range({"/t/tls"});
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().code == EPROTO || refused.error().code == EIO)
        << refused.error().message();
  }
  // A CA that did not sign the member's certificate.
  GatewayOptions wrong_ca = cluster_->options_for_all();
  wrong_ca.tls.ca_file = cluster_->dir() + "/client.pem";
  wrong_ca.attempts = 1;
  auto untrusted = client(wrong_ca)->range({"/t/tls"});
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().code, EPROTO) << untrusted.error().message();
  EXPECT_NE(untrusted.error().message().find("not trusted"), std::string::npos)
      << untrusted.error().message();
}

}  // namespace
}  // namespace vaultwall::fleet
