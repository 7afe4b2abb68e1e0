#include "vaultwall/fleet/fake_etcd.h"

#include <algorithm>

namespace vaultwall::fleet {
namespace {

bool in_range(const std::string& key, const std::string& start, const std::string& end) {
  if (end.empty()) return key == start;
  if (end == std::string(1, '\0')) return key >= start;  // every key from start on
  return key >= start && key < end;
}

std::unexpected<Error> no_quorum() {
  return fail(EAGAIN, "etcd: etcdserver: no leader (fake)",
              "the cluster may have lost quorum: check etcdctl endpoint status --cluster");
}

std::unexpected<Error> compacted(int64_t revision, int64_t compact_revision) {
  return fail(
      ERANGE,
      "etcd: mvcc: required revision has been compacted (revision " + std::to_string(revision) +
          ", compacted at " + std::to_string(compact_revision) + ")",
      "read the current state without a revision and continue from its header.revision + 1");
}

std::unexpected<Error> lease_not_found(int64_t id) {
  return fail(ENOENT,
              "etcd: etcdserver: requested lease not found (lease " + std::to_string(id) + ")",
              "grant a new lease and write its keys again");
}

template <class Number>
bool compare_numbers(Compare::Op op, Number have, Number want) {
  switch (op) {
    case Compare::Op::kEqual:
      return have == want;
    case Compare::Op::kGreater:
      return have > want;
    case Compare::Op::kLess:
      return have < want;
    case Compare::Op::kNotEqual:
      return have != want;
  }
  return false;
}

WatchEvent without_prev_kv(WatchEvent event) {
  event.prev_kv.reset();
  return event;
}

}  // namespace

// ---- admission: faults, quorum, auth --------------------------------------------

std::optional<Error> FakeEtcd::take_fault(Operation operation) {
  auto it = faults_.find(operation);
  if (it == faults_.end() || it->second.empty()) return std::nullopt;
  Error error = std::move(it->second.front());
  it->second.pop_front();
  return error;
}

Result<void> FakeEtcd::admit(Operation operation, bool needs_quorum) {
  if (auto fault = take_fault(operation)) return std::unexpected(*fault);
  if (required_credentials_) {
    bool matches = credentials_ && credentials_->user == required_credentials_->user &&
                   credentials_->password == required_credentials_->password;
    if (!matches) {
      return fail(EACCES, "etcd: etcdserver: user name is empty (fake: authenticate first)",
                  "check the user's roles and permissions (etcdctl role get ROLE)");
    }
    if (!token_valid_) {  // what the gateway client does on an expired token
      token_valid_ = true;
      ++authentications_;
    }
  }
  if (needs_quorum && !has_quorum_) return no_quorum();
  return {};
}

ResponseHeader FakeEtcd::header() const { return ResponseHeader{0xfa4e, 1, revision_, 1}; }

// ---- key-value ------------------------------------------------------------------

std::map<std::string, KeyValue> FakeEtcd::state_at(int64_t revision) const {
  std::map<std::string, KeyValue> state = compacted_state_;
  for (const Revision& entry : history_) {
    if (entry.revision > revision) break;
    for (const WatchEvent& event : entry.events) {
      if (event.type == WatchEvent::Type::kPut) {
        state[event.kv.key] = event.kv;
      } else {
        state.erase(event.kv.key);
      }
    }
  }
  return state;
}

Result<RangeResponse> FakeEtcd::range_locked(const RangeRequest& request) const {
  if (request.key.empty())
    return fail(EINVAL, "etcd: etcdserver: key is not provided", "give a key");
  if (request.revision > revision_) {
    return fail(ERANGE, "etcd: mvcc: required revision is a future revision", "");
  }
  if (request.revision > 0 && request.revision < compact_revision_) {
    return compacted(request.revision, compact_revision_);
  }
  std::map<std::string, KeyValue> snapshot;
  const auto& state = request.revision > 0 ? (snapshot = state_at(request.revision)) : kvs_;
  RangeResponse out{header(), {}, false, 0};
  for (auto it = state.lower_bound(request.key); it != state.end(); ++it) {
    if (!in_range(it->first, request.key, request.range_end)) {
      if (request.range_end.empty() || it->first >= request.range_end) break;
      continue;
    }
    ++out.count;
    if (request.count_only) continue;
    if (request.limit > 0 && int64_t(out.kvs.size()) >= request.limit) {
      out.more = true;
      continue;
    }
    KeyValue kv = it->second;
    if (request.keys_only) kv.value.clear();
    out.kvs.push_back(std::move(kv));
  }
  return out;
}

void FakeEtcd::detach_from_lease(const KeyValue& kv) {
  if (kv.lease == 0) return;
  if (auto lease = leases_.find(kv.lease); lease != leases_.end()) lease->second.keys.erase(kv.key);
}

Result<PutResponse> FakeEtcd::put_locked(const PutRequest& request, Pending& pending) {
  if (request.key.empty())
    return fail(EINVAL, "etcd: etcdserver: key is not provided", "give a key");
  if (auto error = oversized_put(request.key, request.value.size())) return std::unexpected(*error);
  if (request.lease != 0 && !leases_.contains(request.lease)) return lease_not_found(request.lease);
  PutResponse out{header(), std::nullopt};
  out.header.revision = pending.revision;
  std::optional<KeyValue> previous;
  KeyValue kv{request.key, request.value, pending.revision, pending.revision, 1, request.lease};
  if (auto it = kvs_.find(request.key); it != kvs_.end()) {
    previous = it->second;
    kv.create_revision = previous->create_revision;
    kv.version = previous->version + 1;
    detach_from_lease(*previous);
  }
  if (request.lease != 0) leases_[request.lease].keys.insert(request.key);
  kvs_[request.key] = kv;
  pending.events.push_back(WatchEvent{WatchEvent::Type::kPut, kv, previous});
  if (request.prev_kv) out.prev_kv = previous;
  return out;
}

DeleteResponse FakeEtcd::delete_locked(const DeleteRequest& request, Pending& pending) {
  DeleteResponse out{header(), 0, {}};
  for (auto it = kvs_.lower_bound(request.key); it != kvs_.end();) {
    if (!in_range(it->first, request.key, request.range_end)) {
      if (request.range_end.empty() || it->first >= request.range_end) break;
      ++it;
      continue;
    }
    KeyValue tombstone{it->first, {}, 0, pending.revision, 0, 0};
    pending.events.push_back(WatchEvent{WatchEvent::Type::kDelete, tombstone, it->second});
    if (request.prev_kv) out.prev_kvs.push_back(it->second);
    detach_from_lease(it->second);
    it = kvs_.erase(it);
    ++out.deleted;
  }
  if (out.deleted > 0) out.header.revision = pending.revision;
  return out;
}

void FakeEtcd::commit(Pending& pending) {
  if (pending.events.empty()) return;
  revision_ = pending.revision;
  history_.push_back(Revision{pending.revision, std::move(pending.events)});
  changed_.notify_all();
}

Result<RangeResponse> FakeEtcd::range(const RangeRequest& request) {
  Lock lock(mutex_);
  VW_TRY(admit(Operation::kRange, !request.serializable));
  return range_locked(request);
}

Result<PutResponse> FakeEtcd::put(const PutRequest& request) {
  Lock lock(mutex_);
  VW_TRY(admit(Operation::kPut, true));
  Pending pending{revision_ + 1, {}};
  auto out = VW_TRY(put_locked(request, pending));
  commit(pending);
  return out;
}

Result<DeleteResponse> FakeEtcd::delete_range(const DeleteRequest& request) {
  Lock lock(mutex_);
  VW_TRY(admit(Operation::kDelete, true));
  if (request.key.empty())
    return fail(EINVAL, "etcd: etcdserver: key is not provided", "give a key");
  Pending pending{revision_ + 1, {}};
  DeleteResponse out = delete_locked(request, pending);
  commit(pending);
  return out;
}

bool FakeEtcd::compare_holds(const Compare& compare) const {
  auto it = kvs_.find(compare.key);
  const KeyValue missing{};
  const KeyValue& kv = it == kvs_.end() ? missing : it->second;
  switch (compare.target) {
    case Compare::Target::kVersion:
      return compare_numbers(compare.op, kv.version, compare.number);
    case Compare::Target::kCreateRevision:
      return compare_numbers(compare.op, kv.create_revision, compare.number);
    case Compare::Target::kModRevision:
      return compare_numbers(compare.op, kv.mod_revision, compare.number);
    case Compare::Target::kLease:
      return compare_numbers(compare.op, kv.lease, compare.number);
    case Compare::Target::kValue:
      // etcd: a value comparison on a missing key is false, whatever the op.
      return it != kvs_.end() && compare_numbers(compare.op, kv.value, compare.value);
  }
  return false;
}

Result<TxnResponse> FakeEtcd::txn(const TxnRequest& request) {
  Lock lock(mutex_);
  VW_TRY(admit(Operation::kTxn, true));
  TxnResponse out{header(), true, {}};
  out.succeeded = std::all_of(request.compare.begin(), request.compare.end(),
                              [&](const Compare& compare) { return compare_holds(compare); });
  const auto& ops = out.succeeded ? request.success : request.failure;
  // Check every put first: a txn is applied whole or not at all.
  for (const TxnOp& op : ops) {
    if (const auto* put = std::get_if<PutRequest>(&op)) {
      if (auto error = oversized_put(put->key, put->value.size())) return std::unexpected(*error);
      if (put->lease != 0 && !leases_.contains(put->lease)) return lease_not_found(put->lease);
    }
  }
  Pending pending{revision_ + 1, {}};
  for (const TxnOp& op : ops) {
    if (const auto* range = std::get_if<RangeRequest>(&op)) {
      RangeResponse response = VW_TRY(range_locked(*range));
      out.responses.emplace_back(std::in_place_type<RangeResponse>, std::move(response));
    } else if (const auto* put = std::get_if<PutRequest>(&op)) {
      PutResponse response = VW_TRY(put_locked(*put, pending));
      out.responses.emplace_back(std::in_place_type<PutResponse>, std::move(response));
    } else {
      out.responses.push_back(delete_locked(std::get<DeleteRequest>(op), pending));
    }
  }
  commit(pending);
  out.header = header();
  return out;
}

Result<ResponseHeader> FakeEtcd::compact(int64_t revision) {
  Lock lock(mutex_);
  VW_TRY(admit(Operation::kCompact, true));
  if (revision <= compact_revision_) return compacted(revision, compact_revision_);
  if (revision > revision_) {
    return fail(ERANGE, "etcd: mvcc: required revision is a future revision",
                "compact at or below the current revision");
  }
  // Like etcd, the compaction revision itself stays readable and watchable.
  compacted_state_ = state_at(revision - 1);
  std::erase_if(history_, [&](const Revision& entry) { return entry.revision < revision; });
  compact_revision_ = revision;
  changed_.notify_all();
  return header();
}

// ---- leases ---------------------------------------------------------------------

Result<LeaseGrantResponse> FakeEtcd::lease_grant(int64_t ttl_seconds, int64_t id) {
  Lock lock(mutex_);
  VW_TRY(admit(Operation::kLeaseGrant, true));
  if (ttl_seconds <= 0) return fail(EINVAL, "etcd: lease TTL must be positive (fake)", "");
  if (id == 0) id = ++next_lease_id_;
  if (leases_.contains(id)) return fail(EEXIST, "etcd: etcdserver: lease already exists", "");
  leases_[id] = Lease{ttl_seconds, now_ + ttl_seconds, {}};
  return LeaseGrantResponse{header(), id, ttl_seconds};
}

Result<LeaseKeepAliveResponse> FakeEtcd::lease_keep_alive(int64_t id) {
  Lock lock(mutex_);
  VW_TRY(admit(Operation::kLeaseKeepAlive, true));
  auto it = leases_.find(id);
  if (it == leases_.end()) {
    return fail(ENOENT, "lease " + std::to_string(id) + " is gone (expired or revoked)",
                "grant a new lease and write its keys again");
  }
  it->second.expires_at = now_ + it->second.ttl;
  return LeaseKeepAliveResponse{header(), id, it->second.ttl};
}

Result<ResponseHeader> FakeEtcd::lease_revoke(int64_t id) {
  Lock lock(mutex_);
  VW_TRY(admit(Operation::kLeaseRevoke, true));
  auto it = leases_.find(id);
  if (it == leases_.end()) return lease_not_found(id);
  Pending pending{revision_ + 1, {}};
  for (const std::string& key : std::set<std::string>(it->second.keys)) {
    delete_locked(DeleteRequest{key, {}, false}, pending);
  }
  leases_.erase(id);
  commit(pending);
  return header();
}

Result<LeaseTimeToLiveResponse> FakeEtcd::lease_time_to_live(int64_t id, bool keys) {
  Lock lock(mutex_);
  VW_TRY(admit(Operation::kLeaseTimeToLive, true));
  auto it = leases_.find(id);
  if (it == leases_.end()) return LeaseTimeToLiveResponse{header(), id, -1, 0, {}};
  LeaseTimeToLiveResponse out{header(), id, it->second.expires_at - now_, it->second.ttl, {}};
  if (keys) out.keys.assign(it->second.keys.begin(), it->second.keys.end());
  return out;
}

void FakeEtcd::advance(std::chrono::seconds elapsed) {
  Lock lock(mutex_);
  now_ += elapsed.count();
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.expires_at > now_) {
      ++it;
      continue;
    }
    Pending pending{revision_ + 1, {}};
    for (const std::string& key : std::set<std::string>(it->second.keys)) {
      delete_locked(DeleteRequest{key, {}, false}, pending);
    }
    it = leases_.erase(it);
    commit(pending);
  }
}

// ---- watch ------------------------------------------------------------------------

bool FakeEtcd::deliver(Lock& lock, const WatchHandler& handler, const WatchMessage& message,
                       const std::stop_token& stop) {
  lock.unlock();
  WatchControl control = handler(message);
  lock.lock();
  return control == WatchControl::kContinue && !stop.stop_requested();
}

bool FakeEtcd::leaderless(const WatchRequest& request) const {
  return request.require_leader && !has_quorum_;
}

std::optional<Error> FakeEtcd::serve_stream(Lock& lock, const WatchRequest& request,
                                            const WatchHandler& handler,
                                            const std::stop_token& stop, int64_t& next) {
  if (auto fault = take_fault(Operation::kWatch)) return fault;
  if (leaderless(request)) return Error{EAGAIN, "etcd: etcdserver: no leader (fake)", ""};
  const int64_t start = next;
  if (next == 0) next = revision_ + 1;
  ++open_watches_;
  changed_.notify_all();
  struct Close {  // the stream counts as open until this scope ends
    size_t& open;
    ~Close() { --open; }
  } close{open_watches_};

  // Both taken before the handler runs (without the lock): an interrupt or a
  // progress request while it handles the created message still reaches this
  // stream, as it would once the stream counts as open.
  const uint64_t interrupt_epoch = interrupt_epoch_;
  uint64_t progress_epoch = progress_epoch_;
  if (!deliver(lock, handler, WatchCreated{header(), 1, start}, stop)) return std::nullopt;
  while (true) {
    // Checked before reading history: events written after the interrupt
    // (while the handler ran without the lock) belong to the next stream,
    // as they would on a real member that died.
    if (interrupt_epoch != interrupt_epoch_) return interrupt_error_;
    if (next < compact_revision_) {
      deliver(lock, handler, WatchCompacted{header(), compact_revision_}, stop);
      return std::nullopt;
    }
    // Every revision from next on, one message per revision with events.
    auto first = std::lower_bound(
        history_.begin(), history_.end(), next,
        [](const Revision& entry, int64_t revision) { return entry.revision < revision; });
    std::vector<WatchEvents> batches;
    for (auto it = first; it != history_.end(); ++it) {
      WatchEvents batch{header(), {}};
      for (const WatchEvent& event : it->events) {
        if (!in_range(event.kv.key, request.key, request.range_end)) continue;
        batch.events.push_back(request.prev_kv ? event : without_prev_kv(event));
      }
      next = it->revision + 1;
      if (!batch.events.empty()) batches.push_back(std::move(batch));
    }
    for (const WatchEvents& batch : batches) {
      if (!deliver(lock, handler, batch, stop)) return std::nullopt;
    }
    if (progress_epoch != progress_epoch_) {
      progress_epoch = progress_epoch_;
      next = std::max(next, revision_ + 1);
      if (request.progress_notify && !deliver(lock, handler, WatchProgress{header()}, stop)) {
        return std::nullopt;
      }
    }
    changed_.wait(lock, stop, [&] {
      return revision_ >= next || next < compact_revision_ || interrupt_epoch != interrupt_epoch_ ||
             progress_epoch != progress_epoch_ || leaderless(request);
    });
    if (stop.stop_requested()) return std::nullopt;
    if (leaderless(request)) return Error{EAGAIN, "etcd: etcdserver: no leader (fake)", ""};
  }
}

Result<void> FakeEtcd::watch(const WatchRequest& request, const WatchHandler& handler,
                             std::stop_token stop) {
  VW_TRY(check_watch_request(request));
  int64_t next = request.start_revision;
  Lock lock(mutex_);
  while (!stop.stop_requested()) {
    std::optional<Error> broken = serve_stream(lock, request, handler, stop, next);
    if (!broken) return {};
    if (!deliver(lock, handler, WatchInterrupted{*broken, next}, stop)) return {};
    // The real client backs off and tries the next member; here: wait for quorum.
    changed_.wait(lock, stop, [&] { return !leaderless(request); });
  }
  return {};
}

void FakeEtcd::interrupt_watches(Error error) {
  Lock lock(mutex_);
  interrupt_error_ = std::move(error);
  ++interrupt_epoch_;
  changed_.notify_all();
}

void FakeEtcd::notify_progress() {
  Lock lock(mutex_);
  ++progress_epoch_;
  changed_.notify_all();
}

// ---- status, auth, controls ---------------------------------------------------------

Result<StatusResponse> FakeEtcd::status() {
  Lock lock(mutex_);
  VW_TRY(admit(Operation::kStatus, false));
  StatusResponse out;
  out.header = header();
  out.endpoint = "fake";
  out.version = "fake";
  out.leader = has_quorum_ ? out.header.member_id : 0;
  out.raft_index = uint64_t(revision_);
  out.raft_term = out.header.raft_term;
  return out;
}

Result<std::string> FakeEtcd::authenticate(const Credentials& credentials) {
  Lock lock(mutex_);
  if (auto fault = take_fault(Operation::kAuthenticate)) return std::unexpected(*fault);
  if (!required_credentials_)
    return fail(EPERM, "etcd: etcdserver: authentication is not enabled", "");
  if (credentials.user != required_credentials_->user ||
      credentials.password != required_credentials_->password) {
    return fail(EACCES, "etcd: etcdserver: authentication failed, invalid user ID or password",
                "check the user's roles and permissions (etcdctl role get ROLE)");
  }
  credentials_ = credentials;
  token_valid_ = true;
  ++authentications_;
  return "fake-token." + std::to_string(authentications_);
}

void FakeEtcd::fail_next(Operation operation, Error error, int count) {
  Lock lock(mutex_);
  for (int i = 0; i < count; ++i) faults_[operation].push_back(error);
}

void FakeEtcd::set_quorum(bool has_quorum) {
  Lock lock(mutex_);
  has_quorum_ = has_quorum;
  changed_.notify_all();
}

void FakeEtcd::enable_auth(Credentials credentials) {
  Lock lock(mutex_);
  required_credentials_ = std::move(credentials);
}

void FakeEtcd::expire_tokens() {
  Lock lock(mutex_);
  token_valid_ = false;
}

int64_t FakeEtcd::revision() const {
  Lock lock(mutex_);
  return revision_;
}

size_t FakeEtcd::authentications() const {
  Lock lock(mutex_);
  return authentications_;
}

bool FakeEtcd::wait_for_watches(size_t count, std::chrono::milliseconds timeout) const {
  Lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return open_watches_ >= count; });
}

}  // namespace vaultwall::fleet
