// The agent's second activity: fleet sync. Its vault's policy is read and
// watched in etcd and applied to the pin directory; its status is kept in
// etcd under a lease (docs/DESIGN.md "Fleet: the agent's sync").
//
// Threads: EtcdClient calls block, so the two etcd conversations run on
// threads of their own (PolicyReader, StatusWriter: they only talk to
// etcd). What the reader learns reaches the event loop through an eventfd;
// every decision and every apply is made on the loop's thread, one at a
// time with the interface repairs.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vaultwall/agent/event_loop.h"
#include "vaultwall/common/error.h"
#include "vaultwall/fleet/gateway_client.h"

namespace vaultwall {

struct FleetConfig {
  fleet::GatewayOptions etcd;
  std::string vault;
  std::string host;         // this host's name in etcd (hosts/<host>/)
  std::string host_facts;   // the host facts file
  std::string state_dir;    // applied.json, service tag files
  std::string metrics_dir;  // DIR/vaultwall_fleet.prom; empty: none
  std::chrono::seconds status_ttl{30};
  std::chrono::milliseconds anti_entropy_interval{300000};
  std::chrono::milliseconds heartbeat_interval{60000};  // counters and reportedAt
};

// What the activity needs from the agent around it.
struct FleetHost {
  std::string pin_dir;
  std::string journal;
  std::vector<std::string> argv;
  std::function<void()> status_changed;  // the summary changed: tell systemd
};

class FleetActivity {
 public:
  // Starts the etcd threads and registers its handlers on loop. Call after
  // the agent's signals are blocked (the threads inherit the mask).
  static Result<std::unique_ptr<FleetActivity>> start(const FleetConfig& config, FleetHost host,
                                                      EventLoop& loop);
  ~FleetActivity();  // stops the threads (the status lease is revoked)

  // "fleet kv-1: in-sync at revision 42 (ab12cd34ef56)" for STATUS= and logs.
  std::string summary() const;
  // SIGHUP: read the policy and the host facts again, apply if needed, verify.
  void recheck();

  struct State;

 private:
  explicit FleetActivity(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace vaultwall
