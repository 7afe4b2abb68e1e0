// Behaviour every EtcdClient must show, written once and run against both
// the in-memory fake (unit tests) and real etcd through the gateway client
// (integration tests): what tests of later code learn from the fake holds
// against etcd. Each check works under its own key prefix.
#pragma once

#include <string>

#include "vaultwall/fleet/etcd_client.h"

namespace vaultwall::fleet::contract {

// Bytes that are not text survive as keys and values; prefix ranges, limit
// and count; serializable reads.
void keys_values_and_ranges(EtcdClient& etcd, const std::string& prefix);
// CAS on mod_revision: first writer wins, the stale retry sees the current
// value; create-only; a txn's writes share one revision.
void txn_compare_and_swap(EtcdClient& etcd, const std::string& prefix);
// A watch from a past revision replays every change (with prev_kv) in
// order, then follows live ones; its created header is "now".
void watch_replays_then_follows(EtcdClient& etcd, const std::string& prefix);
// Grant, attach, keep alive, time to live with keys, revoke; a gone lease
// is ENOENT everywhere.
void lease_lifecycle(EtcdClient& etcd, const std::string& prefix);
// Reads at a revision, compaction: ERANGE below it, the compaction revision
// itself still readable and watchable, a watch from below it canceled with
// compact_revision. Compacts the whole store: run it last.
void history_and_compaction(EtcdClient& etcd, const std::string& prefix);
// A put over the request limit is EMSGSIZE, naming the key.
void oversized_put_refused(EtcdClient& etcd, const std::string& prefix);

}  // namespace vaultwall::fleet::contract
