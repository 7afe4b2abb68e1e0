#include "vaultwall/fleet/etcd_io.h"

#include <spdlog/spdlog.h>

#include <random>
#include <thread>

#include "vaultwall/fleet/layout.h"

namespace vaultwall::fleet {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds jittered(milliseconds base) {
  thread_local std::minstd_rand random{std::random_device{}()};
  auto half = base.count() / 2;
  return milliseconds(half + (half > 0 ? std::uniform_int_distribution<long>(0, half)(random) : 0));
}

// Sleeps unless stop is requested first; false when it was.
bool pause(milliseconds duration, std::stop_token stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock lock(mutex);
  return !wake.wait_for(lock, stop, duration, [] { return false; }) && !stop.stop_requested();
}

class Backoff {
 public:
  explicit Backoff(RetryPolicy policy) : policy_(policy), next_(policy.initial) {}
  milliseconds next() {
    milliseconds now = jittered(next_);
    next_ = std::min(next_ * 2, policy_.max);
    return now;
  }
  void reset() { next_ = policy_.initial; }

 private:
  RetryPolicy policy_;
  milliseconds next_;
};

}  // namespace

// ---- PolicyReader -------------------------------------------------------------------

PolicyReader::PolicyReader(EtcdClient& etcd, std::string key, Deliver deliver, RetryPolicy retry)
    : etcd_(etcd), key_(std::move(key)), deliver_(std::move(deliver)), retry_(retry) {}

bool PolicyReader::list(int64_t* revision) {
  // Linearizable: a member cut off from the others must not hand back an
  // older policy than the one applied.
  auto listed = etcd_.range(RangeRequest{.key = key_});
  if (!listed) {
    deliver_(EtcdDown{listed.error()});
    return false;
  }
  std::optional<KeyValue> kv;
  if (!listed->kvs.empty()) kv = listed->kvs.front();
  if (revision) *revision = listed->header.revision;
  deliver_(PolicyListed{kv, listed->header.revision});
  return true;
}

void PolicyReader::read_once() { list(nullptr); }

void PolicyReader::run(std::stop_token stop) {
  Backoff backoff(retry_);
  while (!stop.stop_requested()) {
    int64_t revision = 0;
    if (!list(&revision)) {
      if (!pause(backoff.next(), stop)) return;
      continue;
    }
    backoff.reset();
    if (!watch_from(revision + 1, stop) && !pause(backoff.next(), stop)) return;
  }
}

bool PolicyReader::watch_from(int64_t start, std::stop_token stop) {
  bool compacted = false;
  WatchRequest request{.key = key_, .start_revision = start, .progress_notify = true};
  auto watched = etcd_.watch(
      request,
      [&](const WatchMessage& message) {
        if (const auto* created = std::get_if<WatchCreated>(&message)) {
          deliver_(WatchUp{created->header.member_id});
        } else if (const auto* events = std::get_if<WatchEvents>(&message)) {
          deliver_(PolicyEvents{events->events});
        } else if (const auto* progress = std::get_if<WatchProgress>(&message)) {
          deliver_(WatchSynced{progress->header.revision});
        } else if (const auto* broken = std::get_if<WatchInterrupted>(&message)) {
          deliver_(EtcdDown{broken->error});  // the client resumes by itself
        } else if (const auto* gone = std::get_if<WatchCompacted>(&message)) {
          compacted = true;
          spdlog::info(
              "fleet: the watch of {} fell behind compaction (revision {}); reading it again", key_,
              gone->compact_revision);
        } else if (const auto* canceled = std::get_if<WatchCanceled>(&message)) {
          deliver_(EtcdDown{with_context(canceled->reason, "etcd canceled the watch of " + key_)});
        }
        return WatchControl::kContinue;
      },
      stop);
  if (!watched) {
    deliver_(EtcdDown{watched.error()});
    return false;
  }
  return compacted;
}

// ---- StatusWriter -------------------------------------------------------------------

StatusWriter::StatusWriter(EtcdClient& etcd, HostInfo info, std::chrono::seconds ttl,
                           RetryPolicy retry)
    : etcd_(etcd), info_(std::move(info)), ttl_(ttl), retry_(retry) {}

void StatusWriter::publish(const HostStatus& status) {
  std::lock_guard lock(mutex_);
  if (wanted_ && wanted_->same_report(status)) return;
  wanted_ = status;
  wake_.notify_all();
}

StatusWriter::Counters StatusWriter::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

bool StatusWriter::ensure_lease() {
  if (lease_ != 0) return true;
  auto granted = etcd_.lease_grant(ttl_.count());
  std::lock_guard lock(mutex_);
  if (!granted) {
    counters_.write_failures++;
    spdlog::debug("fleet: no lease for the status of {}: {}", info_.host,
                  granted.error().message());
    return false;
  }
  lease_ = granted->id;
  counters_.lease_held = true;
  counters_.leases_granted++;
  written_.reset();  // the status must be written again under this lease
  return true;
}

bool StatusWriter::ensure_info() {
  if (info_written_) return true;
  std::string key = host_info_key(info_.host);
  auto current = etcd_.range(RangeRequest{.key = key});
  if (!current) return false;
  if (!current->kvs.empty()) {
    auto known = parse_host_info(current->kvs.front().value);
    if (known && known->host == info_.host && known->vault == info_.vault) {
      info_.enrolled_at = known->enrolled_at;  // the first enrolment stays
      if (*known == info_) return info_written_ = true;
    }
  }
  auto put = etcd_.put(PutRequest{.key = key, .value = to_json(info_).dump()});
  if (!put) {
    spdlog::warn("fleet: cannot write {}: {}", key, put.error().message());
    return false;
  }
  return info_written_ = true;
}

void StatusWriter::write_status_if_needed() {
  std::optional<HostStatus> wanted;
  int64_t lease = 0;
  {
    std::lock_guard lock(mutex_);
    if (!wanted_ || (written_ && written_->same_report(*wanted_))) return;
    wanted = wanted_;
    lease = lease_;
  }
  auto put = etcd_.put(PutRequest{
      .key = host_status_key(info_.host), .value = to_json(*wanted).dump(), .lease = lease});
  std::lock_guard lock(mutex_);
  reachable_ = put.has_value();
  if (put) {
    written_ = wanted;
    counters_.status_writes++;
    return;
  }
  counters_.write_failures++;
  if (put.error().code == ENOENT) {  // the lease expired: a new one, and write again
    lease_ = 0;
    counters_.lease_held = false;
    counters_.leases_lost++;
    spdlog::warn("fleet: the lease of {}'s status had expired; granting a new one", info_.host);
  } else {
    spdlog::debug("fleet: writing the status of {} failed: {}", info_.host, put.error().message());
  }
}

void StatusWriter::keep_alive() {
  auto kept = etcd_.lease_keep_alive(lease_);
  std::lock_guard lock(mutex_);
  reachable_ = kept.has_value();
  if (kept) return;
  if (kept.error().code == ENOENT) {
    lease_ = 0;
    counters_.lease_held = false;
    counters_.leases_lost++;
    spdlog::warn("fleet: the lease of {}'s status expired; granting a new one and writing it again",
                 info_.host);
  }
}

void StatusWriter::run(std::stop_token stop) {
  Backoff backoff(retry_);
  auto interval = std::chrono::duration_cast<milliseconds>(ttl_) / 3;
  auto next_keep_alive = Clock::now() + interval;
  while (!stop.stop_requested()) {
    if (!ensure_lease() || !ensure_info()) {
      if (!pause(backoff.next(), stop)) break;
      continue;
    }
    uint64_t failures_before = counters().write_failures;
    write_status_if_needed();
    if (Clock::now() >= next_keep_alive && lease_ != 0) {
      keep_alive();
      next_keep_alive = Clock::now() + interval;
    }
    bool failed = counters().write_failures != failures_before;
    milliseconds wait = failed ? backoff.next() : milliseconds(0);
    if (!failed) backoff.reset();
    std::unique_lock lock(mutex_);
    auto until = failed ? Clock::now() + wait : next_keep_alive;
    wake_.wait_until(lock, stop, until, [&] {
      return lease_ == 0 || (!failed && wanted_ && !(written_ && written_->same_report(*wanted_)));
    });
  }
  if (lease_ != 0 && reachable_) {
    if (auto revoked = etcd_.lease_revoke(lease_); !revoked)
      spdlog::debug("fleet: revoking the status lease failed: {}", revoked.error().message());
  }
}

}  // namespace vaultwall::fleet
