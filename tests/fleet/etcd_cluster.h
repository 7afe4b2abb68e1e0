// A throwaway etcd cluster on 127.0.0.1 for integration tests: N members
// with free ports picked per cluster (below the ephemeral range; a start
// that fails is retried on fresh ports), data dirs in the build tree, every
// process started, killed and reaped by its PID (and killed with the test
// process, through PR_SET_PDEATHSIG). Optional TLS with a test CA made by
// openssl, progress notify and a short auth token TTL.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall/fleet/gateway_client.h"

namespace vaultwall::fleet::testing {

struct ClusterOptions {
  int members = 3;
  bool tls = false;                                  // https client URLs, client certs required
  std::chrono::seconds progress_notify_interval{0};  // 0: etcd's default (10 min)
  int auth_token_ttl_seconds = 0;                    // 0: etcd's default (300 s)
};

class EtcdCluster {
 public:
  // Why the tests cannot run (etcd or etcdctl or openssl missing), or empty.
  static std::string missing_tools();

  // Starts every member and waits until the cluster has a leader.
  static Result<std::unique_ptr<EtcdCluster>> start(const std::string& name,
                                                    ClusterOptions options);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  std::string client_url(int member) const;
  std::vector<std::string> client_urls() const;
  // Gateway options for these members (TLS files included), in this order.
  GatewayOptions options_for(const std::vector<int>& members) const;
  GatewayOptions options_for_all() const;
  // The CA, and a client certificate without CN (the gateway refuses CNs).
  TlsFiles client_tls() const;
  std::string dir() const { return dir_; }

  // SIGKILL and reap one member.
  void kill(int member);
  // Starts a killed member again on its data dir and ports.
  Result<void> restart(int member);
  // Until every running member reports healthy (has a leader), or timeout.
  Result<void> wait_healthy(std::chrono::milliseconds timeout) const;
  // Index of the member that is leader now, or -1.
  int leader() const;

  // Runs etcdctl against the running members; its stdout, or its stderr as
  // the error.
  Result<std::string> etcdctl(const std::vector<std::string>& args) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    pid_t pid = -1;
  };

  EtcdCluster(std::string dir, ClusterOptions options) : dir_(std::move(dir)), options_(options) {}
  Result<void> make_certificates();
  Result<void> spawn(int member, bool initial);
  // One try at a fresh cluster: new ports, members spawned, healthy.
  Result<void> start_members(int attempt);
  void stop_members(int attempt);
  std::string peer_url(int member) const;

  std::string dir_;
  std::string token_;  // --initial-cluster-token of the current attempt
  ClusterOptions options_;
  std::vector<Member> members_;
};

// Runs argv (argv[0] looked up in PATH), waits for it; its stdout, or an
// error with its exit status and stderr.
Result<std::string> run_command(const std::vector<std::string>& argv);

}  // namespace vaultwall::fleet::testing
