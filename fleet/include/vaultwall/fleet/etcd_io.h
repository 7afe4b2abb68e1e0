// The agent's two conversations with etcd, each run on a thread of its own
// (EtcdClient calls block; the agent's event loop must not):
// - PolicyReader: list -> watch from revision + 1 (progress notify, a
//   leader required) -> on compaction, list again. It only reads and
//   reports (ReaderReport, sync.h); every decision is the event loop's.
//   The anti-entropy re-read (read_once) runs beside the watch, which it
//   never interrupts: no change is ever skipped unless etcd compacted it.
// - StatusWriter: a lease (granted again when lost), the host's info key
//   once, and its status key under the lease whenever the loop hands it a
//   new one; keep-alives every TTL/3 (they make no revisions).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

#include "vaultwall/fleet/etcd_client.h"
#include "vaultwall/fleet/records.h"
#include "vaultwall/fleet/sync.h"

namespace vaultwall::fleet {

struct RetryPolicy {
  std::chrono::milliseconds initial{50};
  std::chrono::milliseconds max{30000};
};

class PolicyReader {
 public:
  using Deliver = std::function<void(ReaderReport)>;
  PolicyReader(EtcdClient& etcd, std::string key, Deliver deliver, RetryPolicy retry = {});

  // Lists and watches until stop is requested. Call on its own thread.
  void run(std::stop_token stop);
  // One linearizable read of the key, reported as PolicyListed (or
  // EtcdDown); callable from any thread while run() watches.
  void read_once();

 private:
  // Lists; false (after reporting EtcdDown) when the read failed.
  bool list(int64_t* revision);
  // Watches from start; true when it should list again at once
  // (compacted), false after a cancel (permission denied: back off).
  bool watch_from(int64_t start, std::stop_token stop);

  EtcdClient& etcd_;
  std::string key_;
  Deliver deliver_;
  RetryPolicy retry_;
};

class StatusWriter {
 public:
  StatusWriter(EtcdClient& etcd, HostInfo info, std::chrono::seconds ttl, RetryPolicy retry = {});

  // The status to have in etcd (latest wins; an unchanged report, apart
  // from reported_at, is not written again).
  void publish(const HostStatus& status);
  // Writes until stop is requested; then revokes the lease when etcd is
  // reachable, so a stopped agent shows as absent at once.
  void run(std::stop_token stop);

  struct Counters {
    bool lease_held = false;
    uint64_t leases_granted = 0;
    uint64_t leases_lost = 0;  // expired while the agent ran (keep-alive found it gone)
    uint64_t status_writes = 0;
    uint64_t write_failures = 0;
  };
  Counters counters() const;

 private:
  bool ensure_lease();
  bool ensure_info();
  void write_status_if_needed();
  void keep_alive();

  EtcdClient& etcd_;
  HostInfo info_;
  std::chrono::seconds ttl_;
  RetryPolicy retry_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::optional<HostStatus> wanted_;
  std::optional<HostStatus> written_;
  bool info_written_ = false;
  int64_t lease_ = 0;
  bool reachable_ = false;  // the last write or keep-alive was answered
  Counters counters_;
};

}  // namespace vaultwall::fleet
