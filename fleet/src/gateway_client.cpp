// EtcdClient over the v3 JSON gateway. The mapping of each message is in
// gateway_json.cpp; this file is the transport: connections, failover,
// authentication and the watch stream.
#include "vaultwall/fleet/gateway_client.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <random>

#include "vaultwall/fleet/gateway_json.h"

namespace vaultwall::fleet {
namespace {

using gateway::json;
using Clock = std::chrono::steady_clock;

struct Endpoint {
  std::string url;  // as given, for messages
  bool tls = false;
};

Result<Endpoint> parse_endpoint(const std::string& url, size_t index) {
  auto refuse = [&](const std::string& why) {
    return fail(
        EINVAL, "endpoints[" + std::to_string(index) + "] '" + url + "': " + why,
        "give client URLs as http://HOST:PORT or https://HOST:PORT (etcd's --advertise-client-urls)");
  };
  bool tls = url.starts_with("https://");
  if (!tls && !url.starts_with("http://")) return refuse("the scheme must be http:// or https://");
  std::string rest = url.substr(tls ? 8 : 7);
  size_t colon = rest.rfind(':');
  if (rest.empty() || colon == std::string::npos || colon == 0) return refuse("no host:port");
  std::string port = rest.substr(colon + 1);
  if (port.empty() || !std::all_of(port.begin(), port.end(), ::isdigit) || std::stoul(port) == 0 ||
      std::stoul(port) > 65535) {
    return refuse("port '" + port + "' is not 1-65535");
  }
  return Endpoint{url, tls};
}

Result<void> check_tls_files(const TlsFiles& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return fail(EINVAL,
                tls.cert_file.empty() ? "tls.key_file is set without tls.cert_file"
                                      : "tls.cert_file is set without tls.key_file",
                "give the client certificate and its key together (--cert and --key)");
  }
  for (const auto& [field, path] :
       {std::pair{"tls.ca_file", &tls.ca_file}, std::pair{"tls.cert_file", &tls.cert_file},
        std::pair{"tls.key_file", &tls.key_file}}) {
    if (!path->empty() && !std::filesystem::exists(*path)) {
      return fail(ENOENT, std::string(field) + " '" + *path + "'", "check the path");
    }
  }
  return {};
}

// Ignores SIGPIPE unless the program chose its own disposition: OpenSSL
// writes to sockets with write(2), and a peer that closed first would kill
// the process.
void ignore_sigpipe_if_default() {
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL &&
      (current.sa_flags & SA_SIGINFO) == 0) {
    signal(SIGPIPE, SIG_IGN);
  }
}

template <class Duration>
Duration jittered(Duration base) {
  thread_local std::minstd_rand random{std::random_device{}()};
  auto half = base.count() / 2;
  return Duration(half +
                  (half > 0 ? std::uniform_int_distribution<decltype(half)>(0, half)(random) : 0));
}

// Sleeps for duration unless stop is requested first.
void sleep_unless_stopped(std::chrono::milliseconds duration, std::stop_token stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock lock(mutex);
  wake.wait_for(lock, stop, duration, [] { return false; });
}

// One HTTP exchange's outcome. A transport failure says whether the request
// may have reached the server (then a write's outcome is unknown).
struct Reply {
  bool transport_ok = false;
  bool maybe_sent = false;
  Error error;
  int status = 0;
  std::string body;
};

Error transport_error(httplib::Error error, const Endpoint& endpoint, bool timed_out,
                      bool* maybe_sent) {
  *maybe_sent = false;
  std::string where = endpoint.url;
  switch (error) {
    case httplib::Error::Connection:
      return Error{ECONNREFUSED, "connect to " + where,
                   "check that the member runs and --endpoints"};
    case httplib::Error::ConnectionTimeout:
      return Error{ETIMEDOUT, "connect to " + where, "check that the member runs and --endpoints"};
    case httplib::Error::SSLConnection:
      return Error{
          EPROTO, "TLS handshake with " + where,
          "the member requires a client certificate it trusts (--cert, --key), or speaks plain HTTP"};
    case httplib::Error::SSLServerVerification:
      return Error{
          EPROTO, "the certificate of " + where + " is not trusted",
          "--cacert must name the CA that signed the members' certificates, and the certificate must name the host"};
    case httplib::Error::SSLLoadingCerts:
      return Error{EPROTO, "load the TLS certificates for " + where,
                   "check --cacert, --cert and --key (PEM files)"};
    case httplib::Error::Canceled:
      return Error{ECANCELED, "request to " + where + " stopped", ""};
    default:
      *maybe_sent = true;
      if (timed_out) return Error{ETIMEDOUT, "no answer from " + where + " in time", ""};
      return Error{EIO, "connection to " + where + " broke (" + httplib::to_string(error) + ")",
                   ""};
  }
}

json parse_body(const std::string& body) {
  json parsed = json::parse(body, nullptr, false);
  if (!parsed.is_discarded()) return parsed;
  // A stream answer has one JSON object per line; plain-text errors stay text.
  size_t newline = body.find('\n');
  if (newline != std::string::npos) {
    parsed = json::parse(body.substr(0, newline), nullptr, false);
    if (!parsed.is_discarded()) return parsed;
  }
  return json(body);
}

// Stream answers wrap each message in {"result": ...}.
const json& unwrap_result(const json& body) {
  auto it = body.is_object() ? body.find("result") : body.end();
  return it != body.end() ? *it : body;
}

std::string describe_key(const std::string& key, const std::string& range_end) {
  return "'" + key + "'" + (range_end.empty() ? "" : " (prefix or range)");
}

// g++ 12's std::expected has no transform_error.
template <class T>
Result<T> in_context(Result<T> result, const std::string& what) {
  if (!result) return std::unexpected(with_context(std::move(result).error(), what));
  return result;
}

enum class Retry { kAny, kOnlyUnsent };  // kOnlyUnsent for writes

class GatewayClient final : public EtcdClient {
 public:
  GatewayClient(GatewayOptions options, std::vector<Endpoint> endpoints)
      : options_(std::move(options)), endpoints_(std::move(endpoints)), pools_(endpoints_.size()) {
    credentials_ = options_.credentials;
  }

  Result<RangeResponse> range(const RangeRequest& request) override {
    auto body = call("/v3/kv/range", gateway::encode(request), Retry::kAny);
    return decode(body, gateway::decode_range,
                  "range " + describe_key(request.key, request.range_end));
  }

  Result<PutResponse> put(const PutRequest& request) override {
    if (auto error = oversized_put(request.key, request.value.size(), options_.max_request_bytes)) {
      return std::unexpected(*error);
    }
    auto body = call("/v3/kv/put", gateway::encode(request), Retry::kOnlyUnsent);
    return decode(body, gateway::decode_put, "put '" + request.key + "'");
  }

  Result<DeleteResponse> delete_range(const DeleteRequest& request) override {
    auto body = call("/v3/kv/deleterange", gateway::encode(request), Retry::kOnlyUnsent);
    return decode(body, gateway::decode_delete,
                  "delete " + describe_key(request.key, request.range_end));
  }

  Result<TxnResponse> txn(const TxnRequest& request) override {
    if (auto error = oversized_txn(request)) return std::unexpected(*error);
    auto body = call("/v3/kv/txn", gateway::encode(request), Retry::kOnlyUnsent);
    return decode(body, gateway::decode_txn, "txn");
  }

  Result<ResponseHeader> compact(int64_t revision) override {
    json request{{"revision", std::to_string(revision)}, {"physical", true}};
    auto body = call("/v3/kv/compaction", request, Retry::kOnlyUnsent);
    return decode(body, gateway::decode_header, "compact at revision " + std::to_string(revision));
  }

  Result<LeaseGrantResponse> lease_grant(int64_t ttl_seconds, int64_t id) override {
    json request{{"TTL", std::to_string(ttl_seconds)}, {"ID", std::to_string(id)}};
    // A retried grant may leave an unused lease behind; it expires by itself.
    auto body = call("/v3/lease/grant", request, Retry::kAny);
    return decode(body, gateway::decode_lease_grant,
                  "grant a lease of " + std::to_string(ttl_seconds) + " s");
  }

  Result<LeaseKeepAliveResponse> lease_keep_alive(int64_t id) override {
    // A stream on the wire; with one request it answers once and closes.
    auto body = call("/v3/lease/keepalive", json{{"ID", std::to_string(id)}}, Retry::kAny);
    const std::string what = "keep lease " + std::to_string(id) + " alive";
    if (!body) return std::unexpected(with_context(body.error(), what));
    return in_context(gateway::decode_lease_keep_alive(unwrap_result(*body)), what);
  }

  Result<ResponseHeader> lease_revoke(int64_t id) override {
    auto body = call("/v3/lease/revoke", json{{"ID", std::to_string(id)}}, Retry::kOnlyUnsent);
    return decode(body, gateway::decode_header, "revoke lease " + std::to_string(id));
  }

  Result<LeaseTimeToLiveResponse> lease_time_to_live(int64_t id, bool keys) override {
    json request{{"ID", std::to_string(id)}};
    if (keys) request["keys"] = true;
    auto body = call("/v3/lease/timetolive", request, Retry::kAny);
    return decode(body, gateway::decode_lease_time_to_live,
                  "time to live of lease " + std::to_string(id));
  }

  Result<StatusResponse> status() override {
    size_t answered = 0;
    auto body = call("/v3/maintenance/status", json::object(), Retry::kAny, &answered);
    auto status = decode(body, gateway::decode_status, "member status");
    if (status) status->endpoint = endpoints_[answered].url;
    return status;
  }

  Result<std::string> authenticate(const Credentials& credentials) override {
    {
      std::lock_guard lock(auth_mutex_);
      credentials_ = credentials;
      token_.clear();
    }
    // Through call(): it authenticates first because there is no token yet.
    auto checked = call("/v3/maintenance/status", json::object(), Retry::kAny);
    std::lock_guard lock(auth_mutex_);
    if (!checked) {
      // Refused credentials are not retried on every call; unreachable
      // members are no reason to forget them.
      if (checked.error().code == EACCES || checked.error().code == EPERM) credentials_.reset();
      return std::unexpected(checked.error());
    }
    return token_;
  }

  Result<void> watch(const WatchRequest& request, const WatchHandler& handler,
                     std::stop_token stop) override;

 private:
  struct Pool {
    std::mutex mutex;
    std::vector<std::unique_ptr<httplib::Client>> idle;
  };

  // What one watch stream ended with.
  struct StreamEnd {
    enum Kind { kDone, kBroken, kTokenRejected } kind = kBroken;
    Error error;
    bool created = false;
  };

  template <class Decoder>
  auto decode(const Result<json>& body, Decoder decoder, const std::string& what)
      -> decltype(decoder(json{})) {
    if (!body) return std::unexpected(with_context(body.error(), what));
    return in_context(decoder(*body), what);
  }

  std::optional<Error> oversized_txn(const TxnRequest& request) const {
    size_t total = 0;
    std::string first_key;
    for (const auto* ops : {&request.success, &request.failure}) {
      for (const TxnOp& op : *ops) {
        if (const auto* put = std::get_if<PutRequest>(&op)) {
          total += put->key.size() + put->value.size();
          if (first_key.empty()) first_key = put->key;
        }
      }
    }
    return oversized_put(first_key, total - std::min(total, first_key.size()),
                         options_.max_request_bytes);
  }

  std::unique_ptr<httplib::Client> connect(const Endpoint& endpoint,
                                           std::chrono::milliseconds read_timeout) const {
    auto client = std::make_unique<httplib::Client>(endpoint.url, options_.tls.cert_file,
                                                    options_.tls.key_file);
    client->set_connection_timeout(options_.connect_timeout);
    client->set_read_timeout(read_timeout);
    client->set_write_timeout(options_.request_timeout);
    client->set_keep_alive(true);
    // Nagle + delayed ACK cost 44 ms per request on the gateway.
    client->set_tcp_nodelay(true);
    client->set_socket_options([](socket_t sock) {
      int on = 1, idle = 10, interval = 5, count = 3;
      setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
      setsockopt(sock, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
      setsockopt(sock, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
      setsockopt(sock, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
    });
    if (endpoint.tls) {
      if (!options_.tls.ca_file.empty()) client->set_ca_cert_path(options_.tls.ca_file);
      client->enable_server_certificate_verification(true);
    }
    return client;
  }

  httplib::Headers headers(const std::string& token, bool require_leader) const {
    httplib::Headers out;
    if (!token.empty()) out.emplace("Authorization", token);
    // grpc-gateway passes Grpc-Metadata-* headers on as gRPC metadata; etcd
    // refuses (and later closes) a watch on a member without a leader.
    if (require_leader) out.emplace("Grpc-Metadata-hasleader", "true");
    return out;
  }

  Reply post_once(size_t index, const std::string& path, const std::string& payload,
                  const std::string& token) {
    const Endpoint& endpoint = endpoints_[index];
    std::unique_ptr<httplib::Client> client;
    {
      std::lock_guard lock(pools_[index].mutex);
      if (!pools_[index].idle.empty()) {
        client = std::move(pools_[index].idle.back());
        pools_[index].idle.pop_back();
      }
    }
    if (!client) client = connect(endpoint, options_.request_timeout);
    // The gateway ends error answers with an HTTP trailer
    // (Grpc-Trailer-Content-Type), which cpp-httplib 0.11 cannot parse: it
    // reports a read error after the whole body has arrived. So the body is
    // collected as it comes, and a complete JSON answer counts as the answer.
    httplib::Request http;
    http.method = "POST";
    http.path = path;
    http.headers = headers(token, false);
    http.set_header("Content-Type", "application/json");
    http.body = payload;
    Reply reply;
    http.response_handler = [&reply](const httplib::Response& response) {
      reply.status = response.status;
      return true;
    };
    http.content_receiver = [&reply](const char* data, size_t size, uint64_t, uint64_t) {
      reply.body.append(data, size);
      return true;
    };
    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    auto started = Clock::now();
    bool complete = client->send(http, response, error);
    if (!complete && !(reply.status != 0 && json::accept(reply.body))) {
      bool timed_out = Clock::now() - started >= options_.request_timeout;
      reply.error = transport_error(error, endpoint, timed_out, &reply.maybe_sent);
      reply.status = 0;
      return reply;  // the connection is dropped with client
    }
    reply.transport_ok = true;
    if (!complete) return reply;  // answered, but the connection is unusable
    std::lock_guard lock(pools_[index].mutex);
    pools_[index].idle.push_back(std::move(client));
    return reply;
  }

  // Moves to the next endpoint unless another thread already moved on.
  void advance_from(size_t index) {
    size_t expected = index;
    current_.compare_exchange_strong(expected, (index + 1) % endpoints_.size());
  }

  // Exchanges the credentials for a token at endpoint index. ok with an
  // empty token when there are no credentials. *unreachable tells a
  // transport failure (try another endpoint) from a refusal.
  Result<std::string> ensure_token(size_t index, bool renew, bool* unreachable = nullptr) {
    std::optional<Credentials> credentials;
    {
      std::lock_guard lock(auth_mutex_);
      if (!credentials_) return std::string{};
      if (!token_.empty() && !renew) return token_;
      credentials = credentials_;
    }
    json request{{"name", credentials->user}, {"password", credentials->password}};
    Reply reply = post_once(index, "/v3/auth/authenticate", request.dump(), {});
    if (unreachable != nullptr) *unreachable = !reply.transport_ok;
    if (!reply.transport_ok) return std::unexpected(reply.error);
    json body = parse_body(reply.body);
    if (auto error = gateway::decode_error(body, reply.status)) {
      return std::unexpected(with_context(*error, "authenticate as '" + credentials->user + "'"));
    }
    std::string fresh = VW_TRY(gateway::decode_token(body));
    std::lock_guard lock(auth_mutex_);
    token_ = fresh;
    return fresh;
  }

  int attempts() const {
    return options_.attempts > 0 ? options_.attempts : int(2 * endpoints_.size());
  }

  // POSTs body to path on the current endpoint, failing over to the next
  // ones with a jittered backoff. Reads retry after any transport failure or
  // an unavailable member; writes only when the request surely was not sent.
  Result<json> call(const char* path, const json& body, Retry retry, size_t* answered = nullptr) {
    const std::string payload = body.dump();
    auto backoff = options_.backoff_initial;
    bool renewed_token = false;
    Error last{ECONNREFUSED, "no endpoint tried", ""};
    for (int attempt = 0; attempt < attempts(); ++attempt) {
      if (attempt > 0) {
        std::this_thread::sleep_for(jittered(backoff));
        backoff = std::min(backoff * 2, options_.backoff_max);
      }
      size_t index = current_.load();
      bool unreachable = false;
      auto token = ensure_token(index, false, &unreachable);
      if (!token && !unreachable) return std::unexpected(token.error());
      if (!token) {
        last = token.error();
        advance_from(index);
        continue;
      }
      Reply reply = post_once(index, path, payload, *token);
      if (!reply.transport_ok) {
        if (reply.maybe_sent && retry == Retry::kOnlyUnsent) {
          return fail(EIO, reply.error.context + ": the write may or may not have been applied",
                      "read the key to see whether it was");
        }
        last = reply.error;
        advance_from(index);
        continue;
      }
      json answer = parse_body(reply.body);
      if (auto error = gateway::decode_error(answer, reply.status)) {
        if (error->code == EKEYEXPIRED && !renewed_token && has_credentials()) {
          renewed_token = true;  // the token expired: once more with a fresh one
          bool unreachable = false;
          auto fresh = ensure_token(index, true, &unreachable);
          if (!fresh && !unreachable) return std::unexpected(fresh.error());
          --attempt;
          continue;
        }
        if (error->code == EAGAIN && retry == Retry::kAny && attempt + 1 < int(endpoints_.size())) {
          last = *error;  // this member has no leader; another may
          advance_from(index);
          continue;
        }
        return std::unexpected(*error);
      }
      if (answered != nullptr) *answered = index;
      return answer;
    }
    return std::unexpected(
        with_context(last, "no etcd endpoint answered (" + endpoint_list() + ")"));
  }

  bool has_credentials() {
    std::lock_guard lock(auth_mutex_);
    return credentials_.has_value();
  }

  std::string endpoint_list() const {
    std::string out;
    for (const Endpoint& endpoint : endpoints_) out += (out.empty() ? "" : ", ") + endpoint.url;
    return out;
  }

  StreamEnd run_watch_stream(size_t index, const WatchRequest& request, int64_t& next_revision,
                             const WatchHandler& handler, std::stop_token stop, bool token_renewed);

  GatewayOptions options_;
  std::vector<Endpoint> endpoints_;
  std::vector<Pool> pools_;
  std::atomic<size_t> current_{0};
  std::mutex auth_mutex_;
  std::optional<Credentials> credentials_;
  std::string token_;
};

// One watch stream on endpoint index, from next_revision, until it ends.
// next_revision advances past every revision delivered to the handler.
GatewayClient::StreamEnd GatewayClient::run_watch_stream(size_t index, const WatchRequest& request,
                                                         int64_t& next_revision,
                                                         const WatchHandler& handler,
                                                         std::stop_token stop, bool token_renewed) {
  const Endpoint& endpoint = endpoints_[index];
  StreamEnd end;
  auto token = ensure_token(index, false);
  if (!token) {
    end.error = token.error();
    return end;
  }
  auto client = connect(endpoint, options_.watch_idle_timeout);
  std::stop_callback stop_stream(stop, [&client] { client->stop(); });

  const int64_t start_revision = next_revision;
  bool finished = false;  // the handler stopped, or a terminal message came
  auto deliver = [&](const WatchMessage& message) {
    if (handler(message) == WatchControl::kStop) finished = true;
  };
  // Returns false to close the stream.
  auto on_line = [&](const std::string& line) -> bool {
    if (line.find_first_not_of(" \r\t") == std::string::npos) return true;
    json body = json::parse(line, nullptr, false);
    if (body.is_discarded()) {
      end.error = Error{
          EPROTO, "watch stream from " + endpoint.url + " sent '" + line.substr(0, 200) + "'", ""};
      return false;
    }
    if (auto error = gateway::decode_error(body, 200)) {
      end.error = with_context(*error, "watch stream from " + endpoint.url);
      if (end.error.code == EKEYEXPIRED && !token_renewed) end.kind = StreamEnd::kTokenRejected;
      return false;
    }
    auto message = gateway::decode_watch_result(unwrap_result(body));
    if (!message) {
      end.error = message.error();
      return false;
    }
    if (auto* created = std::get_if<WatchCreated>(&*message)) {
      created->start_revision = start_revision;
      // From "now": the first revision after the one the member is at.
      if (next_revision == 0) next_revision = created->header.revision + 1;
      end.created = true;
    } else if (auto* events = std::get_if<WatchEvents>(&*message)) {
      std::erase_if(events->events,
                    [&](const WatchEvent& event) { return event.kv.mod_revision < next_revision; });
      if (events->events.empty()) return true;
      next_revision = events->events.back().kv.mod_revision + 1;
    } else if (auto* progress = std::get_if<WatchProgress>(&*message)) {
      next_revision = std::max(next_revision, progress->header.revision + 1);
    } else if (auto* canceled = std::get_if<WatchCanceled>(&*message)) {
      // An expired token cancels the watch: renew it once, then resume.
      if (canceled->reason.code == EKEYEXPIRED && !token_renewed && has_credentials()) {
        end.kind = StreamEnd::kTokenRejected;
        end.error = canceled->reason;
        return false;
      }
      finished = true;
    } else if (std::holds_alternative<WatchCompacted>(*message)) {
      finished = true;
    }
    deliver(*message);
    return !finished;
  };

  std::string buffer;
  httplib::Request http;
  http.method = "POST";
  http.path = "/v3/watch";
  http.headers = headers(*token, request.require_leader);
  http.set_header("Content-Type", "application/json");
  http.body = gateway::encode_watch_create(request, start_revision).dump();
  int status = 0;
  http.response_handler = [&](const httplib::Response& response) {
    status = response.status;
    return true;
  };
  auto last_byte = Clock::now();
  http.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    last_byte = Clock::now();
    buffer.append(data, size);
    for (size_t newline; (newline = buffer.find('\n')) != std::string::npos;) {
      std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      if (!on_line(line)) return false;
    }
    return true;
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  client->send(http, response, error);

  if (finished || stop.stop_requested()) {
    end.kind = StreamEnd::kDone;
    return end;
  }
  if (end.kind == StreamEnd::kTokenRejected || end.error.code != 0) return end;
  // What is left: an answer without a newline (an error), or the transport.
  std::string rest = buffer + response.body;
  if (!rest.empty()) {
    json body = parse_body(rest);
    if (auto server_error = gateway::decode_error(body, status == 0 ? 200 : status)) {
      end.error = with_context(*server_error, "watch on " + endpoint.url);
      if (end.error.code == EKEYEXPIRED && !token_renewed) end.kind = StreamEnd::kTokenRejected;
      return end;
    }
  }
  if (error == httplib::Error::Success) {
    end.error =
        Error{ECONNRESET, "watch stream from " + endpoint.url + " closed by the server", ""};
  } else if (error == httplib::Error::Read &&
             Clock::now() - last_byte >=
                 options_.watch_idle_timeout - std::chrono::milliseconds(100)) {
    end.error = Error{
        ETIMEDOUT,
        "watch stream from " + endpoint.url + " silent for " +
            std::to_string(options_.watch_idle_timeout.count()) + " ms",
        "etcd sends progress on quiet watches only with --experimental-watch-progress-notify-interval"};
  } else {
    bool maybe_sent = false;
    end.error = transport_error(error, endpoint, false, &maybe_sent);
  }
  return end;
}

Result<void> GatewayClient::watch(const WatchRequest& request, const WatchHandler& handler,
                                  std::stop_token stop) {
  VW_TRY(check_watch_request(request));
  int64_t next_revision = request.start_revision;
  auto backoff = options_.backoff_initial;
  bool token_renewed = false;
  while (!stop.stop_requested()) {
    size_t index = current_.load();
    StreamEnd end = run_watch_stream(index, request, next_revision, handler, stop, token_renewed);
    if (end.kind == StreamEnd::kDone) return {};
    if (end.kind == StreamEnd::kTokenRejected) {
      token_renewed = true;
      if (auto renewed = ensure_token(index, true); !renewed) {
        handler(WatchCanceled{{}, renewed.error()});
        return {};
      }
      continue;
    }
    if (end.created) {
      backoff = options_.backoff_initial;
      token_renewed = false;
    }
    if (handler(WatchInterrupted{end.error, next_revision}) == WatchControl::kStop) return {};
    advance_from(index);
    sleep_unless_stopped(jittered(backoff), stop);
    backoff = std::min(backoff * 2, options_.watch_backoff_max);
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<EtcdClient>> make_gateway_client(GatewayOptions options) {
  if (options.endpoints.empty()) {
    return fail(EINVAL, "endpoints: none given",
                "give at least one client URL, e.g. http://127.0.0.1:2379");
  }
  std::vector<Endpoint> endpoints;
  for (size_t i = 0; i < options.endpoints.size(); ++i) {
    endpoints.push_back(VW_TRY(parse_endpoint(options.endpoints[i], i)));
  }
  VW_TRY(check_tls_files(options.tls));
  if (options.watch_idle_timeout <= options.connect_timeout) {
    return fail(EINVAL, "watch_idle_timeout must be longer than connect_timeout",
                "use about 3x etcd's --experimental-watch-progress-notify-interval");
  }
  ignore_sigpipe_if_default();
  return std::make_unique<GatewayClient>(std::move(options), std::move(endpoints));
}

}  // namespace vaultwall::fleet
