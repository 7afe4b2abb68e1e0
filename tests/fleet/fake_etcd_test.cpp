// The in-memory fake: held to the same contract as real etcd (contract.h),
// plus its test controls (clock, faults, quorum, interrupted streams, auth).
#include "vaultwall/fleet/fake_etcd.h"

#include <gtest/gtest.h>

#include "contract.h"
#include "watch_recorder.h"

namespace vaultwall::fleet {
namespace {

using namespace std::chrono_literals;
using testing::at_least;
using testing::BackgroundWatch;
using testing::events_at_least;
using testing::has;
using testing::Recorder;

// Each contract check on a fresh fake.
#define FAKE_ETCD_CONTRACT(Name, check) \
  TEST(FakeEtcdContract, Name) {        \
    FakeEtcd etcd;                      \
    contract::check(etcd, "/t/");       \
  }
FAKE_ETCD_CONTRACT(KeysValuesAndRanges, keys_values_and_ranges)
FAKE_ETCD_CONTRACT(TxnCompareAndSwap, txn_compare_and_swap)
FAKE_ETCD_CONTRACT(WatchReplaysThenFollows, watch_replays_then_follows)
FAKE_ETCD_CONTRACT(LeaseLifecycle, lease_lifecycle)
FAKE_ETCD_CONTRACT(HistoryAndCompaction, history_and_compaction)
FAKE_ETCD_CONTRACT(OversizedPutRefused, oversized_put_refused)

TEST(FakeEtcd, LeaseExpiresOnTheManualClock) {
  FakeEtcd etcd;
  auto lease = etcd.lease_grant(10);
  ASSERT_OK(lease);
  ASSERT_OK(etcd.put({"/h/status", "in-sync", lease->id}));
  etcd.advance(6s);
  ASSERT_OK(etcd.lease_keep_alive(lease->id));  // renewed to 10 s from now
  etcd.advance(6s);
  EXPECT_EQ(etcd.range({"/h/status"})->kvs.size(), 1u);
  const int64_t before = etcd.revision();
  etcd.advance(5s);
  EXPECT_TRUE(etcd.range({"/h/status"})->kvs.empty());
  EXPECT_EQ(etcd.revision(), before + 1);  // the expiry is one revision
  EXPECT_EQ(etcd.lease_keep_alive(lease->id).error().code, ENOENT);
}

TEST(FakeEtcd, InjectedFaultsTouchNothing) {
  FakeEtcd etcd;
  etcd.fail_next(FakeEtcd::Operation::kPut, Error{EIO, "injected", ""}, 2);
  const int64_t before = etcd.revision();
  EXPECT_EQ(etcd.put({"/k", "v"}).error().context, "injected");
  EXPECT_EQ(etcd.put({"/k", "v"}).error().code, EIO);
  EXPECT_EQ(etcd.revision(), before);
  EXPECT_TRUE(etcd.range({"/k"})->kvs.empty());
  EXPECT_TRUE(etcd.put({"/k", "v"}));  // the third one goes through
}

TEST(FakeEtcd, WithoutQuorumOnlySerializableReadsAnswer) {
  FakeEtcd etcd;
  ASSERT_OK(etcd.put({"/k", "v"}));
  etcd.set_quorum(false);
  EXPECT_EQ(etcd.put({"/k", "w"}).error().code, EAGAIN);
  EXPECT_EQ(etcd.range({"/k"}).error().code, EAGAIN);
  auto local = etcd.range(RangeRequest{"/k", {}, 0, 0, true});
  ASSERT_OK(local);
  EXPECT_EQ(local->kvs.at(0).value, "v");
  EXPECT_EQ(etcd.status()->leader, 0u);
  etcd.set_quorum(true);
  EXPECT_TRUE(etcd.put({"/k", "w"}));
  EXPECT_NE(etcd.status()->leader, 0u);
}

// A broken stream resumes where it left off: nothing written meanwhile is
// lost or repeated.
TEST(FakeEtcd, InterruptedWatchResumesWithoutGapsOrRepeats) {
  FakeEtcd etcd;
  Recorder recorder;
  BackgroundWatch watch(etcd, WatchRequest::prefix("/w/"), recorder);
  ASSERT_TRUE(etcd.wait_for_watches(1, 5s));
  std::vector<int64_t> written;
  for (int i = 0; i < 30; ++i) {
    if (i % 10 == 5) etcd.interrupt_watches(Error{ECONNRESET, "member died", ""});
    written.push_back(etcd.put({"/w/k", std::to_string(i)})->header.revision);
  }
  ASSERT_TRUE(recorder.wait(events_at_least(written.size())));
  EXPECT_EQ(recorder.event_revisions(), written);
  // Interruptions close together may fold into one.
  EXPECT_GE(recorder.count<WatchInterrupted>(), 1u);
  EXPECT_EQ(recorder.count<WatchCreated>(), recorder.count<WatchInterrupted>() + 1);
}

TEST(FakeEtcd, LeaderlessWatchIsInterruptedUntilQuorumReturns) {
  FakeEtcd etcd;
  Recorder strict, lenient;
  WatchRequest without_leader{"/k"};
  without_leader.require_leader = false;
  BackgroundWatch a(etcd, WatchRequest{"/k"}, strict);
  BackgroundWatch b(etcd, without_leader, lenient);
  ASSERT_TRUE(etcd.wait_for_watches(2, 5s));
  etcd.set_quorum(false);
  ASSERT_TRUE(strict.wait(has<WatchInterrupted>));
  auto interrupted = std::get<WatchInterrupted>(strict.messages().back());
  EXPECT_EQ(interrupted.error.code, EAGAIN);
  etcd.set_quorum(true);
  ASSERT_TRUE(strict.wait(at_least<WatchCreated>(2)));
  ASSERT_OK(etcd.put({"/k", "v"}));
  ASSERT_TRUE(strict.wait(events_at_least(1)));
  ASSERT_TRUE(lenient.wait(events_at_least(1)));
  EXPECT_EQ(lenient.count<WatchInterrupted>(), 0u);  // stayed open, silent
}

TEST(FakeEtcd, InjectedWatchFaultIsAnInterruption) {
  FakeEtcd etcd;
  etcd.fail_next(FakeEtcd::Operation::kWatch, Error{ECONNREFUSED, "connect", ""});
  Recorder recorder;
  BackgroundWatch watch(etcd, WatchRequest{"/k"}, recorder);
  ASSERT_TRUE(recorder.wait(has<WatchCreated>));
  auto messages = recorder.messages();
  ASSERT_TRUE(std::holds_alternative<WatchInterrupted>(messages[0]));
  EXPECT_EQ(std::get<WatchInterrupted>(messages[0]).error.code, ECONNREFUSED);
}

TEST(FakeEtcd, ProgressGoesOnlyToWatchesThatAskedAndMovesTheResumePoint) {
  FakeEtcd etcd;
  Recorder asked, silent;
  WatchRequest with_progress{"/k"};
  with_progress.progress_notify = true;
  BackgroundWatch a(etcd, with_progress, asked);
  BackgroundWatch b(etcd, WatchRequest{"/k"}, silent);
  ASSERT_TRUE(etcd.wait_for_watches(2, 5s));
  ASSERT_OK(etcd.put({"/other", "x"}));
  etcd.notify_progress();
  ASSERT_TRUE(asked.wait(has<WatchProgress>));
  EXPECT_EQ(std::get<WatchProgress>(asked.messages().back()).header.revision, etcd.revision());
  etcd.interrupt_watches(Error{ECONNRESET, "member died", ""});
  ASSERT_TRUE(asked.wait(has<WatchInterrupted>));
  for (const auto& message : asked.messages()) {
    if (auto* interrupted = std::get_if<WatchInterrupted>(&message)) {
      EXPECT_EQ(interrupted->resume_revision, etcd.revision() + 1);
    }
  }
  EXPECT_EQ(silent.count<WatchProgress>(), 0u);
}

TEST(FakeEtcd, StopTokenEndsABlockedWatch) {
  FakeEtcd etcd;
  Recorder recorder;
  auto watch = std::make_unique<BackgroundWatch>(etcd, WatchRequest{"/k"}, recorder);
  ASSERT_TRUE(etcd.wait_for_watches(1, 5s));
  watch.reset();  // request_stop + join: returns instead of hanging
  EXPECT_EQ(recorder.count<WatchCreated>(), 1u);
}

TEST(FakeEtcd, HandlerStopEndsTheWatch) {
  FakeEtcd etcd;
  ASSERT_OK(etcd.put({"/k", "1"}));
  ASSERT_OK(etcd.put({"/k", "2"}));
  int events = 0;
  auto result = etcd.watch(WatchRequest{"/k", {}, 1}, [&](const WatchMessage& message) {
    if (std::holds_alternative<WatchEvents>(message)) ++events;
    return events == 1 ? WatchControl::kStop : WatchControl::kContinue;
  });
  ASSERT_OK(result);
  EXPECT_EQ(events, 1);
}

TEST(FakeEtcd, BadWatchRequestsAreRefused) {
  FakeEtcd etcd;
  auto handler = [](const WatchMessage&) { return WatchControl::kContinue; };
  EXPECT_EQ(etcd.watch(WatchRequest{}, handler).error().code, EINVAL);
  EXPECT_EQ(etcd.watch(WatchRequest{"/k", {}, -1}, handler).error().code, EINVAL);
}

TEST(FakeEtcd, AuthRequiresCredentialsAndRenewsExpiredTokens) {
  FakeEtcd etcd;
  etcd.enable_auth({"host1", "pw"});
  EXPECT_EQ(etcd.range({"/k"}).error().code, EACCES);
  EXPECT_EQ(etcd.authenticate({"host1", "nope"}).error().code, EACCES);
  ASSERT_OK(etcd.authenticate({"host1", "pw"}));
  EXPECT_TRUE(etcd.range({"/k"}));
  etcd.expire_tokens();
  EXPECT_TRUE(etcd.range({"/k"}));
  EXPECT_EQ(etcd.authentications(), 2u);
}

TEST(FakeEtcd, RangeAtAFutureRevisionIsErange) {
  FakeEtcd etcd;
  EXPECT_EQ(etcd.range(RangeRequest{"/k", {}, 0, etcd.revision() + 1}).error().code, ERANGE);
}

}  // namespace
}  // namespace vaultwall::fleet
