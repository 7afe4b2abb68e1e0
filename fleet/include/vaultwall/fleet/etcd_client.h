// The etcd v3 operations fleet mode needs, as one interface: key-value
// ranges, puts, deletes and transactions, leases, watches and member status.
// Two implementations: the JSON gateway client (gateway_client.h), and an
// in-memory fake with the same semantics for tests (fake_etcd.h).
//
// Conventions, the same for every implementation:
// - Keys and values are raw bytes in std::string (never base64).
// - Revisions, lease ids and TTLs are int64 as in etcd; 0 means "absent"
//   (etcd omits zero values on the wire, so absent and 0 are one thing).
// - Errors are values. The errno says what kind of failure it is:
//     EINVAL        the request is malformed (bad key, bad option)
//     EMSGSIZE      the request is larger than the server accepts
//     ERANGE        the revision asked for is compacted (or in the future)
//     ENOENT        the lease does not exist (expired, revoked, never granted)
//     EACCES        permission denied, or authentication failed
//     EKEYEXPIRED   the auth token is not (or no longer) valid and there are
//                   no credentials to get a new one
//     EAGAIN        the cluster has no leader / the member is unavailable
//     ETIMEDOUT     no answer in time
//     ECONNREFUSED  no endpoint could be reached
//     EPROTO        TLS handshake or certificate failure, or a malformed answer
//     EIO           the outcome of a write is unknown (the connection broke
//                   after the request was sent), or another server error
//   The context carries etcd's own message ("etcdserver: no leader").
//   A write that failed with EIO, ETIMEDOUT or EAGAIN ("request timed out":
//   the leader changed with the proposal in flight) may still be applied;
//   writes that must not apply twice use a txn compare.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "vaultwall/common/error.h"

namespace vaultwall::fleet {

// etcd's --max-request-bytes default (1.5 MiB); larger requests fail EMSGSIZE.
inline constexpr size_t kDefaultMaxRequestBytes = 1536 * 1024;

struct ResponseHeader {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;  // the member that answered
  int64_t revision = 0;    // the store's revision when it answered
  uint64_t raft_term = 0;
  bool operator==(const ResponseHeader&) const = default;
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // 1 on create, +1 per put
  int64_t lease = 0;    // 0: no lease
  bool operator==(const KeyValue&) const = default;
};

// The range_end that makes [prefix, range_end) every key starting with
// prefix: the prefix with its last byte below 0xff incremented (etcd's rule);
// "\0" (every key) for an empty or all-0xff prefix.
std::string prefix_range_end(std::string_view prefix);

struct RangeRequest {
  std::string key;
  std::string range_end;      // empty: key alone; see prefix_range_end
  int64_t limit = 0;          // 0: no limit
  int64_t revision = 0;       // 0: the latest; ERANGE when compacted
  bool serializable = false;  // answered by the member alone (works without quorum)
  bool keys_only = false;
  bool count_only = false;

  static RangeRequest prefix(std::string prefix);
};

struct RangeResponse {
  ResponseHeader header;
  std::vector<KeyValue> kvs;  // sorted by key
  bool more = false;          // the limit cut the answer short
  int64_t count = 0;          // keys in the range (before the limit)
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;  // 0: no lease; ENOENT when the lease does not exist
  bool prev_kv = false;
};

struct PutResponse {
  ResponseHeader header;
  std::optional<KeyValue> prev_kv;  // when asked and the key existed
};

struct DeleteRequest {
  std::string key;
  std::string range_end;  // empty: key alone
  bool prev_kv = false;
};

struct DeleteResponse {
  ResponseHeader header;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
};

// One condition of a transaction, on the current state of `key`.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue, kLease };
  enum class Op { kEqual, kGreater, kLess, kNotEqual };
  Target target = Target::kModRevision;
  Op op = Op::kEqual;
  std::string key;
  int64_t number = 0;  // version, create/mod revision or lease
  std::string value;   // for kValue

  // The CAS conditions fleet mode uses. A missing key has mod and create
  // revision 0, so mod_revision_is(key, 0) and key_missing(key) both hold.
  static Compare mod_revision_is(std::string key, int64_t revision);
  static Compare create_revision_is(std::string key, int64_t revision);
  static Compare key_missing(std::string key);
  static Compare value_is(std::string key, std::string value);
};

using TxnOp = std::variant<RangeRequest, PutRequest, DeleteRequest>;
using TxnOpResponse = std::variant<RangeResponse, PutResponse, DeleteResponse>;

struct TxnRequest {
  std::vector<Compare> compare;  // all must hold
  std::vector<TxnOp> success;    // applied, in order, when they do
  std::vector<TxnOp> failure;    // applied, in order, when one does not
};

struct TxnResponse {
  ResponseHeader header;
  bool succeeded = false;                // false: the failure ops ran
  std::vector<TxnOpResponse> responses;  // one per op that ran, in order
};

struct LeaseGrantResponse {
  ResponseHeader header;
  int64_t id = 0;
  int64_t ttl = 0;  // seconds, as granted
};

struct LeaseKeepAliveResponse {
  ResponseHeader header;
  int64_t id = 0;
  int64_t ttl = 0;  // seconds, renewed; a lost lease is ENOENT, never ttl 0
};

struct LeaseTimeToLiveResponse {
  ResponseHeader header;
  int64_t id = 0;
  int64_t ttl = 0;                // seconds left; -1 when the lease is gone
  int64_t granted_ttl = 0;        // seconds at grant; 0 when the lease is gone
  std::vector<std::string> keys;  // when asked
};

struct StatusResponse {
  ResponseHeader header;  // header.member_id is the member that answered
  std::string endpoint;   // which endpoint answered (the gateway client's)
  std::string version;    // etcd's version, e.g. "3.4.23"
  int64_t db_size = 0;
  uint64_t leader = 0;  // member id of the leader; 0: no leader
  uint64_t raft_index = 0;
  uint64_t raft_term = 0;
};

struct Credentials {
  std::string user;
  std::string password;
};

// ---- Watches -------------------------------------------------------------------

struct WatchRequest {
  std::string key;
  std::string range_end;         // empty: key alone; see prefix_range_end
  int64_t start_revision = 0;    // 0: from the next change on
  bool progress_notify = false;  // ask for WatchProgress on a quiet watch
  bool prev_kv = false;          // events carry the key's previous value
  // Refuse to watch a member without a leader: a partitioned member would
  // otherwise keep the stream open and silent. The gateway client closes and
  // resumes elsewhere; on with every default.
  bool require_leader = true;

  static WatchRequest prefix(std::string prefix, int64_t start_revision = 0);
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;                      // for kDelete: the key and mod_revision of the delete
  std::optional<KeyValue> prev_kv;  // when asked and the key existed
  bool operator==(const WatchEvent&) const = default;
};

// The watch is (re)established. header.revision is the store's revision now,
// NOT a progress mark: events from start_revision up to it may still follow.
struct WatchCreated {
  ResponseHeader header;
  int64_t watch_id = 0;
  int64_t start_revision = 0;  // the revision this stream starts at (0: now)
};

// Changes, in revision order; all events of one revision are in one message.
struct WatchEvents {
  ResponseHeader header;
  std::vector<WatchEvent> events;
};

// Every event up to header.revision has been delivered.
struct WatchProgress {
  ResponseHeader header;
};

// The stream broke (member died, idle timeout, no leader, ...). The watch
// resumes by itself from resume_revision, on the next endpoint, after a
// backoff, unless the handler answers kStop.
struct WatchInterrupted {
  Error error;
  int64_t resume_revision = 0;
};

// Terminal: the revisions the watch still needed are compacted. Never retry
// the same start revision: read the current state (range without revision)
// and watch from its header.revision + 1.
struct WatchCompacted {
  ResponseHeader header;
  int64_t compact_revision = 0;
};

// Terminal: the server canceled the watch (permission denied, ...).
struct WatchCanceled {
  ResponseHeader header;
  Error reason;
};

using WatchMessage = std::variant<WatchCreated, WatchEvents, WatchProgress, WatchInterrupted,
                                  WatchCompacted, WatchCanceled>;

enum class WatchControl { kContinue, kStop };
using WatchHandler = std::function<WatchControl(const WatchMessage&)>;

// ---- The interface ---------------------------------------------------------------

class EtcdClient {
 public:
  virtual ~EtcdClient() = default;

  virtual Result<RangeResponse> range(const RangeRequest& request) = 0;
  virtual Result<PutResponse> put(const PutRequest& request) = 0;
  virtual Result<DeleteResponse> delete_range(const DeleteRequest& request) = 0;
  // ok with succeeded=false when a comparison failed (a CAS conflict is not
  // an error); errors only when the transaction could not be evaluated.
  virtual Result<TxnResponse> txn(const TxnRequest& request) = 0;
  // Drops history at or below revision: later reads and watches of it ERANGE.
  virtual Result<ResponseHeader> compact(int64_t revision) = 0;

  // id 0: the server picks one.
  virtual Result<LeaseGrantResponse> lease_grant(int64_t ttl_seconds, int64_t id = 0) = 0;
  // ENOENT when the lease is gone (its keys are deleted): grant a new one.
  virtual Result<LeaseKeepAliveResponse> lease_keep_alive(int64_t id) = 0;
  // ENOENT when the lease is gone.
  virtual Result<ResponseHeader> lease_revoke(int64_t id) = 0;
  virtual Result<LeaseTimeToLiveResponse> lease_time_to_live(int64_t id, bool keys = false) = 0;

  // Blocks, calling handler with every message in order, until the handler
  // answers kStop, a terminal message (WatchCompacted, WatchCanceled) was
  // delivered, or stop is requested; all of these return ok. Across broken
  // streams it resumes from one past the last revision delivered (events or
  // progress), so no event is lost or repeated. Errors only for a request
  // that cannot be sent (EINVAL).
  virtual Result<void> watch(const WatchRequest& request, const WatchHandler& handler,
                             std::stop_token stop = {}) = 0;

  // The answering member's status.
  virtual Result<StatusResponse> status() = 0;

  // Exchanges user and password for a token used by every later request. The
  // client keeps the credentials and authenticates again by itself when the
  // token expires or another member (which does not know it) answers.
  // EACCES for a wrong user or password.
  virtual Result<std::string> authenticate(const Credentials& credentials) = 0;
};

// EINVAL for a watch that cannot be sent (no key, negative start revision).
Result<void> check_watch_request(const WatchRequest& request);

// EMSGSIZE, naming key and size, when a put of this key and value would pass
// max_request_bytes; else nothing. Shared by both implementations.
std::optional<Error> oversized_put(std::string_view key, size_t value_size,
                                   size_t max_request_bytes = kDefaultMaxRequestBytes);

}  // namespace vaultwall::fleet
