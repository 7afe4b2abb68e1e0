// An in-memory EtcdClient with etcd's semantics, for unit tests of code built
// on the interface: revisions (one per write, one per txn), MVCC reads at a
// revision, compaction, leases on a manual clock, blocking watches with
// replay, progress and compaction, optional authentication, and injectable
// faults (failed calls, lost quorum, broken watch streams).
//
// Thread-safe; watch() blocks its caller like the real client, so tests run
// watches on their own threads. Handlers are never called with the fake's
// lock held: they may call the fake.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "vaultwall/fleet/etcd_client.h"

namespace vaultwall::fleet {

class FakeEtcd final : public EtcdClient {
 public:
  enum class Operation {
    kRange,
    kPut,
    kDelete,
    kTxn,
    kCompact,
    kLeaseGrant,
    kLeaseKeepAlive,
    kLeaseRevoke,
    kLeaseTimeToLive,
    kWatch,
    kStatus,
    kAuthenticate
  };

  FakeEtcd() = default;

  Result<RangeResponse> range(const RangeRequest& request) override;
  Result<PutResponse> put(const PutRequest& request) override;
  Result<DeleteResponse> delete_range(const DeleteRequest& request) override;
  Result<TxnResponse> txn(const TxnRequest& request) override;
  Result<ResponseHeader> compact(int64_t revision) override;
  Result<LeaseGrantResponse> lease_grant(int64_t ttl_seconds, int64_t id = 0) override;
  Result<LeaseKeepAliveResponse> lease_keep_alive(int64_t id) override;
  Result<ResponseHeader> lease_revoke(int64_t id) override;
  Result<LeaseTimeToLiveResponse> lease_time_to_live(int64_t id, bool keys = false) override;
  Result<void> watch(const WatchRequest& request, const WatchHandler& handler,
                     std::stop_token stop = {}) override;
  Result<StatusResponse> status() override;
  Result<std::string> authenticate(const Credentials& credentials) override;

  // ---- test controls ----
  // Moves the lease clock on: leases not kept alive within their TTL expire,
  // deleting their keys (one revision per lease, as etcd does).
  void advance(std::chrono::seconds elapsed);
  // The next `count` calls of `operation` fail with `error`, touching
  // nothing. For kWatch, the next stream set-ups fail: the handler sees
  // WatchInterrupted and the watch retries.
  void fail_next(Operation operation, Error error, int count = 1);
  // Without quorum writes and linearizable reads fail EAGAIN, serializable
  // reads answer, status reports no leader, and watches that require a
  // leader are interrupted until quorum is back (others stay open, silent).
  void set_quorum(bool has_quorum);
  // Every open watch stream breaks with error and resumes, as when the
  // member it was attached to dies.
  void interrupt_watches(Error error);
  // Watches with progress_notify get a WatchProgress at the current revision.
  void notify_progress();
  // From now on every call needs authenticate() with these credentials
  // first (EACCES otherwise).
  void enable_auth(Credentials credentials);
  // Tokens expire; the fake authenticates again with the credentials it was
  // given, like the gateway client (see authentications()).
  void expire_tokens();

  int64_t revision() const;
  size_t authentications() const;
  // Blocks until at least `count` watch streams are established, or timeout.
  bool wait_for_watches(size_t count, std::chrono::milliseconds timeout) const;

 private:
  struct Lease {
    int64_t ttl = 0;
    int64_t expires_at = 0;  // on the manual clock, in seconds
    std::set<std::string> keys;
  };
  struct Revision {
    int64_t revision = 0;
    std::vector<WatchEvent> events;  // with prev_kv always filled in
  };
  // Writes in progress at one revision (a put, a delete or a whole txn).
  struct Pending {
    int64_t revision = 0;
    std::vector<WatchEvent> events;
  };

  using Lock = std::unique_lock<std::mutex>;

  std::optional<Error> take_fault(Operation operation);
  Result<void> admit(Operation operation, bool needs_quorum);
  ResponseHeader header() const;

  Result<RangeResponse> range_locked(const RangeRequest& request) const;
  Result<PutResponse> put_locked(const PutRequest& request, Pending& pending);
  DeleteResponse delete_locked(const DeleteRequest& request, Pending& pending);
  bool compare_holds(const Compare& compare) const;
  void commit(Pending& pending);
  void detach_from_lease(const KeyValue& kv);
  std::map<std::string, KeyValue> state_at(int64_t revision) const;
  // Calls handler without the lock; false when the watch should end.
  bool deliver(Lock& lock, const WatchHandler& handler, const WatchMessage& message,
               const std::stop_token& stop);
  bool leaderless(const WatchRequest& request) const;
  // One stream of a watch: nothing when it ended for good, the error when
  // it broke. next advances past every revision delivered.
  std::optional<Error> serve_stream(Lock& lock, const WatchRequest& request,
                                    const WatchHandler& handler, const std::stop_token& stop,
                                    int64_t& next);

  mutable std::mutex mutex_;
  mutable std::condition_variable_any changed_;
  std::map<std::string, KeyValue> kvs_;
  std::map<std::string, KeyValue> compacted_state_;  // kvs_ just before compact_revision_
  std::vector<Revision> history_;                    // revisions from compact_revision_ on
  int64_t revision_ = 1;                             // etcd starts at 1
  int64_t compact_revision_ = 0;
  std::map<int64_t, Lease> leases_;
  int64_t next_lease_id_ = 0x7e570000;
  int64_t now_ = 0;
  std::map<Operation, std::deque<Error>> faults_;
  bool has_quorum_ = true;
  uint64_t interrupt_epoch_ = 0;
  Error interrupt_error_;
  uint64_t progress_epoch_ = 0;
  size_t open_watches_ = 0;
  std::optional<Credentials> required_credentials_;
  std::optional<Credentials> credentials_;  // what authenticate() was given
  bool token_valid_ = false;
  size_t authentications_ = 0;
};

}  // namespace vaultwall::fleet
