// EtcdClient over etcd's v3 JSON gateway (POST /v3/... on the client URL),
// with cpp-httplib and nlohmann-json. Why the gateway and what it handles:
// docs/DESIGN.md "Fleet: transport".
//
// Thread-safe: unary calls share a pool of keep-alive connections per
// endpoint; every watch has its own connection (the gateway serves one
// watch per HTTP stream).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vaultwall/fleet/etcd_client.h"

namespace vaultwall::fleet {

struct TlsFiles {
  std::string ca_file;    // PEM CA bundle that signed the members' certificates
  std::string cert_file;  // client certificate (PEM), with key_file; both or neither
  std::string key_file;
};

struct GatewayOptions {
  // Client URLs, tried in order: "http://127.0.0.1:2379", "https://etcd1:2379".
  std::vector<std::string> endpoints;
  TlsFiles tls;                            // for https:// endpoints
  std::optional<Credentials> credentials;  // authenticate before the first request

  std::chrono::milliseconds connect_timeout{1000};
  // Longer than etcd's own 7 s proposal timeout, so etcd's error comes back
  // ("no leader", "request timed out") rather than ours.
  std::chrono::milliseconds request_timeout{10000};
  // A watch stream silent this long is taken for dead and resumed elsewhere.
  // Keep it above 2x etcd's --experimental-watch-progress-notify-interval.
  std::chrono::milliseconds watch_idle_timeout{30000};
  // Backoff between attempts: doubling from initial, capped, with jitter.
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{1000};         // unary calls
  std::chrono::milliseconds watch_backoff_max{30000};  // watch resumes
  // Attempts per unary call across all endpoints (0: two rounds).
  int attempts = 0;
  size_t max_request_bytes = kDefaultMaxRequestBytes;
};

// EINVAL naming the option (endpoints[i], tls.cert_file, ...) when the
// options cannot work; ENOENT when a TLS file is missing. Sets SIGPIPE to
// ignored when it is at its default: a peer closing a TLS connection must
// not kill the process.
Result<std::unique_ptr<EtcdClient>> make_gateway_client(GatewayOptions options);

}  // namespace vaultwall::fleet
