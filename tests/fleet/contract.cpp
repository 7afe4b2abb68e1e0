#include "contract.h"

#include <gtest/gtest.h>

#include "watch_recorder.h"

namespace vaultwall::fleet::contract {
namespace {

using testing::BackgroundWatch;
using testing::events_at_least;
using testing::Recorder;

template <class T>
int error_code(const Result<T>& result) {
  return result ? 0 : result.error().code;
}

std::string describe(const WatchEvent& event) {
  return (event.type == WatchEvent::Type::kPut ? "PUT " : "DELETE ") + event.kv.key + "=" +
         event.kv.value;
}

}  // namespace

void keys_values_and_ranges(EtcdClient& etcd, const std::string& prefix) {
  const std::string binary_key = prefix + std::string("bin\0\xff", 5);
  const std::string binary_value("\0\x01\xfe", 3);
  ASSERT_OK(etcd.put({binary_key, binary_value}));
  auto got = etcd.range({binary_key});
  ASSERT_OK(got);
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].key, binary_key);
  EXPECT_EQ(got->kvs[0].value, binary_value);
  EXPECT_EQ(got->kvs[0].version, 1);
  EXPECT_EQ(got->kvs[0].create_revision, got->kvs[0].mod_revision);

  for (const char* name : {"p/a", "p/b", "p/c", "q"}) ASSERT_OK(etcd.put({prefix + name, name}));
  RangeRequest page = RangeRequest::prefix(prefix + "p/");
  page.limit = 2;
  auto first = etcd.range(page);
  ASSERT_OK(first);
  ASSERT_EQ(first->kvs.size(), 2u);
  EXPECT_EQ(first->kvs[0].key, prefix + "p/a");  // sorted by key
  EXPECT_TRUE(first->more);
  EXPECT_EQ(first->count, 3);
  page.limit = 0;
  page.serializable = true;
  auto all = etcd.range(page);
  ASSERT_OK(all);
  EXPECT_EQ(all->kvs.size(), 3u);
  EXPECT_FALSE(all->more);

  auto missing = etcd.range({prefix + "none"});
  ASSERT_OK(missing);
  EXPECT_TRUE(missing->kvs.empty());
  EXPECT_EQ(missing->count, 0);

  auto erased = etcd.delete_range({prefix + "p/", prefix_range_end(prefix + "p/"), true});
  ASSERT_OK(erased);
  EXPECT_EQ(erased->deleted, 3);
  EXPECT_EQ(erased->prev_kvs.size(), 3u);
  auto none = etcd.delete_range({prefix + "p/a"});
  ASSERT_OK(none);
  EXPECT_EQ(none->deleted, 0);
}

void txn_compare_and_swap(EtcdClient& etcd, const std::string& prefix) {
  const std::string key = prefix + "policy";
  auto first = etcd.put({key, "v1"});
  ASSERT_OK(first);
  const int64_t seen = first->header.revision;
  TxnRequest cas{
      {Compare::mod_revision_is(key, seen)}, {PutRequest{key, "v2"}}, {RangeRequest{key}}};
  auto won = etcd.txn(cas);
  ASSERT_OK(won);
  EXPECT_TRUE(won->succeeded);
  ASSERT_EQ(won->responses.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<PutResponse>(won->responses[0]));
  EXPECT_EQ(won->header.revision, seen + 1);

  auto lost = etcd.txn(cas);  // the same compare: the key moved on
  ASSERT_OK(lost);
  EXPECT_FALSE(lost->succeeded);
  ASSERT_EQ(lost->responses.size(), 1u);
  const auto& current = std::get<RangeResponse>(lost->responses[0]);
  ASSERT_EQ(current.kvs.size(), 1u);
  EXPECT_EQ(current.kvs[0].value, "v2");
  EXPECT_EQ(current.kvs[0].mod_revision, won->header.revision);
  EXPECT_EQ(current.kvs[0].version, 2);
  EXPECT_EQ(lost->header.revision, won->header.revision);  // a failed txn writes nothing

  auto refused = etcd.txn({{Compare::key_missing(key)}, {PutRequest{key, "v3"}}, {}});
  ASSERT_OK(refused);
  EXPECT_FALSE(refused->succeeded);
  auto created =
      etcd.txn({{Compare::key_missing(prefix + "new")}, {PutRequest{prefix + "new", "n"}}, {}});
  ASSERT_OK(created);
  EXPECT_TRUE(created->succeeded);
  auto by_value = etcd.txn({{Compare::value_is(key, "v2")}, {DeleteRequest{prefix + "new"}}, {}});
  ASSERT_OK(by_value);
  EXPECT_TRUE(by_value->succeeded);

  // Two writes, one revision.
  auto both = etcd.txn({{}, {PutRequest{prefix + "a", "1"}, PutRequest{prefix + "b", "2"}}, {}});
  ASSERT_OK(both);
  auto read = etcd.range(RangeRequest{prefix + "a", prefix + "c"});
  ASSERT_OK(read);
  ASSERT_EQ(read->kvs.size(), 2u);
  EXPECT_EQ(read->kvs[0].mod_revision, both->header.revision);
  EXPECT_EQ(read->kvs[1].mod_revision, both->header.revision);
}

void watch_replays_then_follows(EtcdClient& etcd, const std::string& prefix) {
  int64_t from = 0;
  for (int i = 0; i < 5; ++i) {
    auto put = etcd.put({prefix + "k" + std::to_string(i % 2), "v" + std::to_string(i)});
    ASSERT_OK(put);
    if (i == 1) from = put->header.revision;
  }
  ASSERT_OK(etcd.delete_range({prefix + "k0"}));
  ASSERT_OK(etcd.put({prefix + "-not-watched", "x"}));  // outside the prefix below

  Recorder recorder;
  WatchRequest request = WatchRequest::prefix(prefix + "k", from);
  request.prev_kv = true;
  BackgroundWatch watch(etcd, request, recorder);
  ASSERT_TRUE(recorder.wait(events_at_least(5)));
  ASSERT_OK(etcd.put({prefix + "k2", "live"}));
  ASSERT_TRUE(recorder.wait(events_at_least(6)));

  auto messages = recorder.messages();
  ASSERT_TRUE(std::holds_alternative<WatchCreated>(messages[0]));
  const auto& created = std::get<WatchCreated>(messages[0]);
  EXPECT_EQ(created.start_revision, from);
  EXPECT_GT(created.header.revision, from);  // "now", not a progress mark

  auto events = recorder.events();
  std::vector<std::string> seen;
  for (const WatchEvent& event : events) seen.push_back(describe(event));
  const std::string k0 = prefix + "k0", k1 = prefix + "k1", k2 = prefix + "k2";
  EXPECT_EQ(seen, (std::vector<std::string>{"PUT " + k1 + "=v1", "PUT " + k0 + "=v2",
                                            "PUT " + k1 + "=v3", "PUT " + k0 + "=v4",
                                            "DELETE " + k0 + "=", "PUT " + k2 + "=live"}));
  ASSERT_EQ(events.size(), 6u);
  // Every revision once, in order; from + 5 is the key outside the prefix.
  EXPECT_EQ(recorder.event_revisions(),
            (std::vector<int64_t>{from, from + 1, from + 2, from + 3, from + 4, from + 6}));
  ASSERT_TRUE(events[1].prev_kv.has_value());
  EXPECT_EQ(events[1].prev_kv->value, "v0");
  ASSERT_TRUE(events[4].prev_kv.has_value());  // a delete carries what it deleted
  EXPECT_EQ(events[4].prev_kv->value, "v4");
  EXPECT_FALSE(events[5].prev_kv.has_value());  // a new key has none
  EXPECT_EQ(recorder.count<WatchInterrupted>(), 0u);
}

void lease_lifecycle(EtcdClient& etcd, const std::string& prefix) {
  auto lease = etcd.lease_grant(30);
  ASSERT_OK(lease);
  EXPECT_EQ(lease->ttl, 30);
  const std::string key = prefix + "status";
  ASSERT_OK(etcd.put({key, "in-sync", lease->id}));
  auto alive = etcd.lease_keep_alive(lease->id);
  ASSERT_OK(alive);
  EXPECT_EQ(alive->id, lease->id);
  EXPECT_EQ(alive->ttl, 30);
  auto ttl = etcd.lease_time_to_live(lease->id, true);
  ASSERT_OK(ttl);
  EXPECT_EQ(ttl->granted_ttl, 30);
  EXPECT_GT(ttl->ttl, 0);
  EXPECT_EQ(ttl->keys, std::vector<std::string>{key});
  auto read = etcd.range({key});
  ASSERT_OK(read);
  ASSERT_EQ(read->kvs.size(), 1u);
  EXPECT_EQ(read->kvs[0].lease, lease->id);

  ASSERT_OK(etcd.lease_revoke(lease->id));
  auto after = etcd.range({key});
  ASSERT_OK(after);
  EXPECT_TRUE(after->kvs.empty());  // revoke deletes the lease's keys
  auto gone = etcd.lease_time_to_live(lease->id);
  ASSERT_OK(gone);
  EXPECT_EQ(gone->ttl, -1);
  for (int code :
       {error_code(etcd.lease_keep_alive(lease->id)), error_code(etcd.lease_revoke(lease->id)),
        error_code(etcd.put({key, "x", lease->id}))}) {
    EXPECT_EQ(code, ENOENT);
  }
}

void history_and_compaction(EtcdClient& etcd, const std::string& prefix) {
  const std::string key = prefix + "c";
  std::vector<int64_t> revisions;
  for (int i = 0; i < 6; ++i) {
    auto put = etcd.put({key, std::to_string(i)});
    ASSERT_OK(put);
    revisions.push_back(put->header.revision);
  }
  auto old = etcd.range(RangeRequest{key, {}, 0, revisions[1]});
  ASSERT_OK(old);
  ASSERT_EQ(old->kvs.size(), 1u);
  EXPECT_EQ(old->kvs[0].value, "1");

  const int64_t compacted = revisions[4];
  ASSERT_OK(etcd.compact(compacted));
  auto below = etcd.range(RangeRequest{key, {}, 0, revisions[1]});
  ASSERT_FALSE(below);
  EXPECT_EQ(below.error().code, ERANGE) << below.error().message();
  auto at = etcd.range(RangeRequest{key, {}, 0, compacted});
  ASSERT_OK(at);
  EXPECT_EQ(at->kvs.at(0).value, "4");
  auto again = etcd.compact(compacted);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ERANGE);

  Recorder behind;
  ASSERT_OK(
      etcd.watch(WatchRequest{key, {}, revisions[2]}, std::ref(behind)));  // terminal: returns
  auto messages = behind.messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<WatchCreated>(messages[0]));
  ASSERT_TRUE(std::holds_alternative<WatchCompacted>(messages[1]));
  EXPECT_EQ(std::get<WatchCompacted>(messages[1]).compact_revision, compacted);

  Recorder from_compaction;
  BackgroundWatch watch(etcd, WatchRequest{key, {}, compacted}, from_compaction);
  ASSERT_TRUE(from_compaction.wait(events_at_least(2)));
  EXPECT_EQ(from_compaction.event_revisions(), (std::vector<int64_t>{revisions[4], revisions[5]}));
  EXPECT_EQ(from_compaction.count<WatchCompacted>(), 0u);
}

void oversized_put_refused(EtcdClient& etcd, const std::string& prefix) {
  std::string big(kDefaultMaxRequestBytes + 1, 'x');
  auto refused = etcd.put({prefix + "big", big});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, EMSGSIZE);
  EXPECT_NE(refused.error().message().find(prefix + "big"), std::string::npos)
      << refused.error().message();
  auto in_txn = etcd.txn({{}, {PutRequest{prefix + "big", big}}, {}});
  ASSERT_FALSE(in_txn);
  EXPECT_EQ(in_txn.error().code, EMSGSIZE);
  auto one_mib = etcd.put({prefix + "big", std::string(1024 * 1024, 'y')});
  EXPECT_TRUE(one_mib) << one_mib.error().message();
}

}  // namespace vaultwall::fleet::contract
