#include "vaultwall/apply/metrics_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <list>
#include <memory>
#include <optional>
#include <string_view>

#include "vaultwall/common/text.h"

namespace vaultwall {
namespace {

using Clock = std::chrono::steady_clock;

struct Connection {
  UniqueFd fd;
  Clock::time_point deadline;
  bool replying = false;  // false: still reading the request head
  std::string in;
  std::string out;
  size_t sent = 0;
};

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    default:
      return "Error";
  }
}

// The value of a header in a request head ("" when absent), name lower-case.
std::string header_value(std::string_view head, std::string_view name) {
  const std::string lowered = to_lower(head);
  const std::string key = "\r\n" + std::string(name) + ":";
  size_t at = lowered.find(key);
  if (at == std::string::npos) return "";
  size_t start = at + key.size(), end = lowered.find("\r\n", start);
  return lowered.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// gzip of `body` (Prometheus asks for it; metrics text shrinks ~10x).
std::optional<std::string> gzipped(const std::string& body) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return std::nullopt;
  std::string out(deflateBound(&z, body.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z.avail_in = static_cast<uInt>(body.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int result = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (result != Z_STREAM_END) return std::nullopt;
  return out;
}

std::string response_text(const HttpReply& reply, bool head_only, bool gzip) {
  std::string body = reply.body;
  std::string encoding;
  if (gzip && body.size() > 1024)
    if (auto compressed = gzipped(body)) {
      body = std::move(*compressed);
      encoding = "Content-Encoding: gzip\r\n";
    }
  std::string text = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                     reason_phrase(reply.status) + "\r\nContent-Type: " + reply.content_type +
                     "\r\n" + encoding + "Content-Length: " + std::to_string(body.size()) +
                     "\r\nConnection: close\r\n\r\n";
  if (!head_only) text += body;
  return text;
}

// The reply to one request head (everything up to the blank line).
std::string answer(std::string_view head, const std::function<HttpReply()>& metrics) {
  size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  size_t method_end = line.find(' ');
  size_t target_end =
      method_end == std::string_view::npos ? method_end : line.find(' ', method_end + 1);
  if (target_end == std::string_view::npos || !line.substr(target_end + 1).starts_with("HTTP/1."))
    return response_text({400, "text/plain", "malformed request line\n"}, false, false);
  std::string_view method = line.substr(0, method_end);
  std::string_view target = line.substr(method_end + 1, target_end - method_end - 1);
  target = target.substr(0, target.find('?'));
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only)
    return response_text({405, "text/plain", "only GET and HEAD\n"}, false, false);
  const bool gzip = header_value(head, "accept-encoding").find("gzip") != std::string::npos;
  if (target == "/metrics") return response_text(metrics(), head_only, gzip);
  if (target == "/")
    return response_text({200, "text/plain", "vaultwall metrics: see /metrics\n"}, head_only,
                         false);
  return response_text({404, "text/plain", "not found; vaultwall serves /metrics\n"}, head_only,
                       false);
}

// Reads what a connection sent; true when it is still worth keeping.
bool receive(Connection& c, const MetricsServerLimits& limits,
             const std::function<HttpReply()>& metrics) {
  char buffer[4096];
  for (;;) {
    ssize_t n = ::recv(c.fd.get(), buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    if (n == 0) return false;  // the client went away before its request was whole
    c.in.append(buffer, static_cast<size_t>(n));
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos && c.in.size() <= limits.max_request_bytes) continue;
    c.out = end == std::string::npos || end > limits.max_request_bytes
                ? response_text({431, "text/plain", "request head too large\n"}, false, false)
                : answer(std::string_view(c.in).substr(0, end + 2), metrics);
    c.in.clear();
    c.replying = true;
    c.deadline = Clock::now() + limits.reply_deadline;
    return true;
  }
}

// Sends what it can; true while there is more to send.
bool send_some(Connection& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    c.sent += static_cast<size_t>(n);
  }
  return false;
}

// Makes room: the oldest connection still sending its request goes (a
// scrape sends its request at once, so it is never the oldest). False when
// every connection is sending a reply.
bool drop_slowest(std::list<Connection>& connections) {
  auto slowest = std::find_if(connections.begin(), connections.end(),
                              [](const Connection& c) { return !c.replying; });
  if (slowest == connections.end()) return false;
  connections.erase(slowest);
  return true;
}

}  // namespace

Result<std::pair<std::string, std::string>> split_listen_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size())
    return fail(EINVAL, "--listen " + address + " is not ADDR:PORT",
                "e.g. --listen 127.0.0.1:9465");
  std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const auto number = parse_decimal<uint16_t>(port);
  if (!number || *number == 0)
    return fail(EINVAL, "--listen " + address + ": bad port",
                "give 1-65535, e.g. --listen 127.0.0.1:9465");
  return std::pair{host.empty() ? std::string("127.0.0.1") : host, port};
}

Result<MetricsServer> MetricsServer::listen(const std::string& address,
                                            MetricsServerLimits limits) {
  auto [host, port] = VW_TRY(split_listen_address(address));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return fail(EINVAL, "--listen " + address + ": " + gai_strerror(rc),
                "give a local address, e.g. 127.0.0.1");
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, ::freeaddrinfo);
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail_errno("socket for --listen " + address);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one,
               sizeof(one));  // not SO_REUSEPORT: one server per port
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0)
    return fail_errno("listen on " + address,
                      errno == EADDRINUSE
                          ? "another server has the port; stop it or pick another port"
                          : "is the address local?");
  if (::listen(fd.get(), 128) != 0) return fail_errno("listen on " + address);
  return MetricsServer(std::move(fd), limits);
}

Result<void> MetricsServer::serve(const std::function<HttpReply()>& metrics,
                                  const std::function<bool()>& stop) {
  std::list<Connection> connections;  // oldest first
  std::vector<pollfd> polled;
  std::vector<Connection*> polled_connections;
  while (!stop()) {
    const auto now = Clock::now();
    auto wait = std::chrono::milliseconds(250);
    polled.assign(1, pollfd{fd_.get(), POLLIN, 0});
    polled_connections.assign(1, nullptr);
    for (Connection& c : connections) {
      polled.push_back({c.fd.get(), static_cast<short>(c.replying ? POLLOUT : POLLIN), 0});
      polled_connections.push_back(&c);
      wait = std::min(
          wait, std::max(std::chrono::milliseconds(0),
                         std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now)));
    }
    if (::poll(polled.data(), polled.size(), static_cast<int>(wait.count()) + 1) < 0 &&
        errno != EINTR)
      return fail_errno("poll the metrics connections");

    for (size_t i = 1; i < polled.size(); i++) {
      Connection& c = *polled_connections[i];
      if (polled[i].revents == 0) continue;
      bool keep = c.replying ? send_some(c) : receive(c, limits_, metrics);
      if (keep && c.replying && !(polled[i].events & POLLOUT))
        keep = send_some(c);  // reply at once
      if (!keep) {
        if (c.replying) counts_.replied++;
        c.fd.reset();
      }
    }
    const auto later = Clock::now();
    for (Connection& c : connections)
      if (c.fd.valid() && later > c.deadline) {
        counts_.timed_out++;
        c.fd.reset();
      }
    connections.remove_if([](const Connection& c) { return !c.fd.valid(); });

    if (!(polled[0].revents & POLLIN)) continue;
    for (int accepted = 0; accepted < 64; accepted++) {
      UniqueFd client(::accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!client.valid()) {
        // Out of fds (a low RLIMIT_NOFILE): free one for the next round, as when full.
        if ((errno == EMFILE || errno == ENFILE) && drop_slowest(connections))
          counts_.dropped_for_room++;
        break;  // EAGAIN: none left
      }
      counts_.accepted++;
      if (connections.size() >= limits_.max_connections) {
        if (!drop_slowest(connections)) {
          counts_.refused++;
          continue;  // every slot is sending a reply: refuse this one (closed)
        }
        counts_.dropped_for_room++;
      }
      connections.push_back({std::move(client), Clock::now() + limits_.request_deadline});
    }
  }
  return {};
}

}  // namespace vaultwall
