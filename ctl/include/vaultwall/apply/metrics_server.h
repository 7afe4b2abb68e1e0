// The HTTP side of `vaultwallctl metrics --listen`: GET /metrics for
// Prometheus, from one thread that never waits on a client.
//
// Why not cpp-httplib (Debian's 0.11): its server hands each connection to
// one of 8 worker threads, which then block reading the request with only
// a per-read timeout, so 8 local clients that send one header line every
// few seconds hold every worker and no scrape is answered (any local user
// can do this). It has no deadline for a whole request and no way to
// refuse or drop a connection beyond its pool. This server polls every
// connection from one loop: a request head must arrive whole within a short
// deadline, a reply must be taken within another, and when the connection
// table is full the oldest connection still sending its request is dropped
// for the new one, so a scrape (which sends its request at once) always
// gets in.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "vaultwall/common/error.h"
#include "vaultwall/common/fd.h"

namespace vaultwall {

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct MetricsServerLimits {
  size_t max_connections = 256;
  std::chrono::milliseconds request_deadline{2000};  // from accept to the end of the request head
  std::chrono::milliseconds reply_deadline{10000};   // to send the whole reply
  size_t max_request_bytes = 8192;                   // request line and headers
};

class MetricsServer {
 public:
  // Binds ADDR:PORT: "127.0.0.1:9465", "[::1]:9465", "0.0.0.0:9465"; an
  // empty address (":9465") means loopback. EADDRINUSE: the port is taken.
  static Result<MetricsServer> listen(const std::string& address, MetricsServerLimits limits = {});

  // Serves until stop() returns true (asked at least every 250 ms). GET
  // /metrics calls `metrics` for each scrape; its body is gzipped when the
  // client accepts it. Other paths get 404, other methods 405.
  Result<void> serve(const std::function<HttpReply()>& metrics, const std::function<bool()>& stop);

  // What serve() did so far, for tests and the exit message.
  struct Counts {
    size_t accepted = 0, replied = 0, timed_out = 0, dropped_for_room = 0, refused = 0;
  };
  const Counts& counts() const { return counts_; }

 private:
  MetricsServer(UniqueFd fd, MetricsServerLimits limits) : fd_(std::move(fd)), limits_(limits) {}
  UniqueFd fd_;
  MetricsServerLimits limits_;
  Counts counts_;
};

// "host" and port of ADDR:PORT ("[v6]:port" too); empty host -> 127.0.0.1.
Result<std::pair<std::string, std::string>> split_listen_address(const std::string& address);

}  // namespace vaultwall
