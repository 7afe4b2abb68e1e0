#include "vaultwall/fleet/gateway_json.h"

#include <array>
#include <charconv>

namespace vaultwall::fleet::gateway {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::unexpected<Error> malformed(std::string_view what) {
  return fail(EPROTO, "malformed answer from the etcd gateway: " + std::string(what),
              "check that the endpoint is an etcd 3.4+ client URL");
}

const json* find(const json& object, const char* field) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(field);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

bool get_bool(const json& object, const char* field) {
  const json* value = find(object, field);
  return value != nullptr && value->is_boolean() && value->get<bool>();
}

std::string get_string(const json& object, const char* field) {
  const json* value = find(object, field);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string{};
}

Result<std::string> get_bytes(const json& object, const char* field) {
  const json* value = find(object, field);
  if (value == nullptr) return std::string{};
  if (!value->is_string()) return malformed(std::string(field) + " is not a base64 string");
  return base64_decode(value->get_ref<const std::string&>(), field);
}

template <class Integer>
Result<Integer> parse_integer(const json& object, const char* field) {
  const json* value = find(object, field);
  if (value == nullptr) return Integer{0};
  if (value->is_number_integer()) return value->get<Integer>();
  if (!value->is_string()) return malformed(std::string(field) + " is not an integer");
  const std::string& text = value->get_ref<const std::string&>();
  Integer parsed{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return malformed(std::string(field) + " '" + text + "' is not an integer");
  }
  return parsed;
}

void put_bytes(json& object, const char* field, std::string_view bytes) {
  if (!bytes.empty()) object[field] = base64_encode(bytes);
}

void put_int64(json& object, const char* field, int64_t value) {
  if (value != 0) object[field] = std::to_string(value);
}

void put_flag(json& object, const char* field, bool value) {
  if (value) object[field] = true;
}

// The key a request is about, and the end of the range from it (none: the
// key alone).
json key_range(std::string_view key, std::string_view range_end) {
  json out{{"key", base64_encode(key)}};
  put_bytes(out, "range_end", range_end);
  return out;
}

Result<std::vector<KeyValue>> decode_kvs(const json& body, const char* field) {
  std::vector<KeyValue> kvs;
  const json* list = find(body, field);
  if (list == nullptr) return kvs;
  if (!list->is_array()) return malformed(std::string(field) + " is not a list");
  for (const json& kv : *list) kvs.push_back(VW_TRY(decode_kv(kv)));
  return kvs;
}

// etcd's names for a compare's target and the field its number goes in, by
// Compare::Target (a value compare sends the value, not a number).
struct TargetNames {
  const char* target;
  const char* number_field;
};
constexpr std::array<TargetNames, 5> kTargetNames{{{"VERSION", "version"},
                                                   {"CREATE", "create_revision"},
                                                   {"MOD", "mod_revision"},
                                                   {"VALUE", "mod_revision"},
                                                   {"LEASE", "lease"}}};
// By Compare::Op.
constexpr std::array<const char*, 4> kOpNames{"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};

const TargetNames& names_of(Compare::Target target) {
  return kTargetNames.at(static_cast<size_t>(target));
}

json encode_compare(const Compare& compare) {
  json out{{"target", names_of(compare.target).target},
           {"result", kOpNames.at(static_cast<size_t>(compare.op))},
           {"key", base64_encode(compare.key)}};
  if (compare.target == Compare::Target::kValue) {
    out["value"] = base64_encode(compare.value);
  } else {
    // Sent even when 0: comparing with 0 is the create-only CAS.
    out[names_of(compare.target).number_field] = std::to_string(compare.number);
  }
  return out;
}

json encode_op(const TxnOp& op) {
  return std::visit(
      [](const auto& request) -> json {
        using T = std::decay_t<decltype(request)>;
        if constexpr (std::is_same_v<T, RangeRequest>) return {{"request_range", encode(request)}};
        if constexpr (std::is_same_v<T, PutRequest>) return {{"request_put", encode(request)}};
        if constexpr (std::is_same_v<T, DeleteRequest>) {
          return {{"request_delete_range", encode(request)}};
        }
      },
      op);
}

Result<TxnOpResponse> decode_op_response(const json& response) {
  if (const json* range = find(response, "response_range")) {
    return TxnOpResponse{VW_TRY(decode_range(*range))};
  }
  if (const json* put = find(response, "response_put")) {
    return TxnOpResponse{VW_TRY(decode_put(*put))};
  }
  if (const json* erased = find(response, "response_delete_range")) {
    return TxnOpResponse{VW_TRY(decode_delete(*erased))};
  }
  return malformed("txn response without response_range/put/delete_range");
}

// The next thing to try, by errno.
constexpr std::array<std::pair<int, const char*>, 6> kHints{{
    {EMSGSIZE, "keep values under 1 MiB, or raise etcd's --max-request-bytes"},
    {ERANGE, "read the current state without a revision and continue from its header.revision + 1"},
    {EACCES, "check the user's roles and permissions (etcdctl role get ROLE)"},
    {EAGAIN, "the cluster may have lost quorum: check etcdctl endpoint status --cluster"},
    {EKEYEXPIRED, "authenticate again (user and password)"},
    {ENOENT, "grant a new lease and write its keys again"},
}};

const char* hint_for(int code) {
  for (const auto& [errno_code, hint] : kHints)
    if (errno_code == code) return hint;
  return "";
}

// errno by gRPC status code: 0 OK is never an error; 2 Unknown, 13 Internal
// and 15 DataLoss (and any code past 16) are EIO.
constexpr std::array<int, 17> kErrnoByGrpcCode{
    EIO,   ECANCELED, EIO,    EINVAL, ETIMEDOUT, ENOENT, EEXIST, EACCES,     ENOSPC,
    EPERM, EAGAIN,    ERANGE, ENOSYS, EIO,       EAGAIN, EIO,    EKEYEXPIRED};

int errno_for_grpc(int grpc_code, const std::string& message) {
  if (message.find("request is too large") != std::string::npos) return EMSGSIZE;
  if (message.find("authentication failed") != std::string::npos) return EACCES;
  if (message.find("user name is empty") != std::string::npos) return EACCES;
  if (grpc_code < 0 || size_t(grpc_code) >= kErrnoByGrpcCode.size()) return EIO;
  return kErrnoByGrpcCode[grpc_code];
}

// The gRPC code grpc-gateway would have mapped to an HTTP status (2 Unknown
// for any other).
constexpr std::array<std::pair<int, int>, 9> kGrpcByHttpStatus{
    {{400, 3}, {401, 16}, {403, 7}, {404, 5}, {408, 4}, {504, 4}, {409, 10}, {429, 8}, {503, 14}}};

int grpc_for_http(int http_status) {
  for (const auto& [http, grpc] : kGrpcByHttpStatus)
    if (http == http_status) return grpc;
  return 2;
}

}  // namespace

// ---- base64 -----------------------------------------------------------------

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kBase64Alphabet[(n >> shift) & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    if (rest == 2) n |= uint8_t(bytes[i + 1]) << 8;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text, std::string_view field) {
  static const std::array<int8_t, 256> values = [] {
    std::array<int8_t, 256> table{};
    table.fill(-1);
    for (size_t i = 0; i < kBase64Alphabet.size(); ++i)
      table[uint8_t(kBase64Alphabet[i])] = int8_t(i);
    return table;
  }();
  auto invalid = [&] { return malformed(std::string(field) + " is not valid base64"); };
  if (text.size() % 4 != 0) return invalid();
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = (text[i + 3] == '=') + (text[i + 2] == '=');
    if (pad > 0 && (!last || (pad == 1 && text[i + 2] == '='))) return invalid();
    uint32_t n = 0;
    for (int j = 0; j < 4 - pad; ++j) {
      int8_t v = values[uint8_t(text[i + j])];
      if (v < 0) return invalid();
      n |= uint32_t(v) << (18 - 6 * j);
    }
    out += char(n >> 16);
    if (pad < 2) out += char((n >> 8) & 0xff);
    if (pad < 1) out += char(n & 0xff);
  }
  return out;
}

// ---- requests -----------------------------------------------------------------

json encode(const RangeRequest& request) {
  json out = key_range(request.key, request.range_end);
  put_int64(out, "limit", request.limit);
  put_int64(out, "revision", request.revision);
  put_flag(out, "serializable", request.serializable);
  put_flag(out, "keys_only", request.keys_only);
  put_flag(out, "count_only", request.count_only);
  return out;
}

json encode(const PutRequest& request) {
  json out{{"key", base64_encode(request.key)}};
  put_bytes(out, "value", request.value);
  put_int64(out, "lease", request.lease);
  put_flag(out, "prev_kv", request.prev_kv);
  return out;
}

json encode(const DeleteRequest& request) {
  json out = key_range(request.key, request.range_end);
  put_flag(out, "prev_kv", request.prev_kv);
  return out;
}

json encode(const TxnRequest& request) {
  json out = json::object();
  auto list = [](const auto& items, auto encode_one) {
    json array = json::array();
    for (const auto& item : items) array.push_back(encode_one(item));
    return array;
  };
  if (!request.compare.empty()) out["compare"] = list(request.compare, encode_compare);
  if (!request.success.empty()) out["success"] = list(request.success, encode_op);
  if (!request.failure.empty()) out["failure"] = list(request.failure, encode_op);
  return out;
}

json encode_watch_create(const WatchRequest& request, int64_t start_revision) {
  json create = key_range(request.key, request.range_end);
  put_int64(create, "start_revision", start_revision);
  put_flag(create, "progress_notify", request.progress_notify);
  put_flag(create, "prev_kv", request.prev_kv);
  return {{"create_request", create}};
}

// ---- responses ------------------------------------------------------------------

// The next thing to try, for the refusals whose cause etcd's message names.
std::string refusal_hint(int code, const std::string& message) {
  if (message.find("user name is empty") != std::string::npos)
    return "this cluster has auth enabled: give an etcd user and its password file (--user, "
           "--password-file)";
  if (message.find("authentication failed") != std::string::npos)
    return "check the user name and the password in its file";
  if (message.find("CommonName") != std::string::npos)
    return "use a client certificate without a CN (subject alternative names only), plus --user "
           "and --password-file";
  return hint_for(code);
}

Error error_from_grpc(int grpc_code, const std::string& message) {
  int code = errno_for_grpc(grpc_code, message);
  return Error{code, "etcd: " + message + " (gRPC code " + std::to_string(grpc_code) + ")",
               refusal_hint(code, message)};
}

std::optional<Error> decode_error(const json& body, int http_status) {
  const json* error = find(body, "error");
  if (error == nullptr) {
    if (http_status >= 200 && http_status < 300) return std::nullopt;
    return error_from_grpc(grpc_for_http(http_status),
                           "HTTP " + std::to_string(http_status) + " " +
                               (body.is_string() ? body.get<std::string>() : body.dump()));
  }
  // Stream shape: {"error":{"grpc_code","http_code","message","http_status"}}.
  if (error->is_object()) {
    int grpc_code =
        error->value("grpc_code", grpc_for_http(error->value("http_code", http_status)));
    return error_from_grpc(grpc_code, get_string(*error, "message"));
  }
  // Unary shape: {"error","message","code"}.
  std::string message = get_string(body, "message");
  if (message.empty()) message = error->is_string() ? error->get<std::string>() : error->dump();
  const json* code = find(body, "code");
  int grpc_code =
      code != nullptr && code->is_number_integer() ? code->get<int>() : grpc_for_http(http_status);
  return error_from_grpc(grpc_code, message);
}

Result<int64_t> get_int64(const json& object, const char* field) {
  return parse_integer<int64_t>(object, field);
}

Result<uint64_t> get_uint64(const json& object, const char* field) {
  return parse_integer<uint64_t>(object, field);
}

Result<ResponseHeader> decode_header(const json& body) {
  ResponseHeader header;
  const json* object = find(body, "header");
  if (object == nullptr) return header;
  header.cluster_id = VW_TRY(get_uint64(*object, "cluster_id"));
  header.member_id = VW_TRY(get_uint64(*object, "member_id"));
  header.revision = VW_TRY(get_int64(*object, "revision"));
  header.raft_term = VW_TRY(get_uint64(*object, "raft_term"));
  return header;
}

namespace {

// An answer with its header read: every answer of etcd's has one.
template <class Response>
Result<Response> with_header(const json& body) {
  Response out;
  out.header = VW_TRY(decode_header(body));
  return out;
}

// The header, ID and TTL every lease answer starts with.
template <class LeaseResponse>
Result<LeaseResponse> decode_lease(const json& body) {
  auto out = VW_TRY(with_header<LeaseResponse>(body));
  out.id = VW_TRY(get_int64(body, "ID"));
  out.ttl = VW_TRY(get_int64(body, "TTL"));
  return out;
}

}  // namespace

Result<KeyValue> decode_kv(const json& kv) {
  if (!kv.is_object()) return malformed("a key-value is not an object");
  KeyValue out;
  out.key = VW_TRY(get_bytes(kv, "key"));
  out.value = VW_TRY(get_bytes(kv, "value"));
  out.create_revision = VW_TRY(get_int64(kv, "create_revision"));
  out.mod_revision = VW_TRY(get_int64(kv, "mod_revision"));
  out.version = VW_TRY(get_int64(kv, "version"));
  out.lease = VW_TRY(get_int64(kv, "lease"));
  return out;
}

Result<RangeResponse> decode_range(const json& body) {
  auto out = VW_TRY(with_header<RangeResponse>(body));
  out.kvs = VW_TRY(decode_kvs(body, "kvs"));
  out.more = get_bool(body, "more");
  out.count = VW_TRY(get_int64(body, "count"));
  return out;
}

Result<PutResponse> decode_put(const json& body) {
  auto out = VW_TRY(with_header<PutResponse>(body));
  if (const json* prev = find(body, "prev_kv")) out.prev_kv = VW_TRY(decode_kv(*prev));
  return out;
}

Result<DeleteResponse> decode_delete(const json& body) {
  auto out = VW_TRY(with_header<DeleteResponse>(body));
  out.deleted = VW_TRY(get_int64(body, "deleted"));
  out.prev_kvs = VW_TRY(decode_kvs(body, "prev_kvs"));
  return out;
}

Result<TxnResponse> decode_txn(const json& body) {
  auto out = VW_TRY(with_header<TxnResponse>(body));
  out.succeeded = get_bool(body, "succeeded");  // absent when false
  if (const json* responses = find(body, "responses")) {
    if (!responses->is_array()) return malformed("txn responses is not a list");
    for (const json& response : *responses) {
      out.responses.push_back(VW_TRY(decode_op_response(response)));
    }
  }
  return out;
}

Result<LeaseGrantResponse> decode_lease_grant(const json& body) {
  auto out = VW_TRY(decode_lease<LeaseGrantResponse>(body));
  if (std::string error = get_string(body, "error"); !error.empty()) {
    return std::unexpected(error_from_grpc(2, error));
  }
  return out;
}

Result<LeaseKeepAliveResponse> decode_lease_keep_alive(const json& body) {
  auto out = VW_TRY(decode_lease<LeaseKeepAliveResponse>(body));
  if (out.ttl <= 0) {
    return fail(ENOENT, "lease " + std::to_string(out.id) + " is gone (expired or revoked)",
                hint_for(ENOENT));
  }
  return out;
}

Result<LeaseTimeToLiveResponse> decode_lease_time_to_live(const json& body) {
  auto out = VW_TRY(decode_lease<LeaseTimeToLiveResponse>(body));
  out.granted_ttl = VW_TRY(get_int64(body, "grantedTTL"));
  if (const json* keys = find(body, "keys"); keys != nullptr && keys->is_array()) {
    for (const json& key : *keys) {
      if (!key.is_string()) return malformed("lease keys is not a list of base64 strings");
      out.keys.push_back(VW_TRY(base64_decode(key.get_ref<const std::string&>(), "keys")));
    }
  }
  return out;
}

Result<StatusResponse> decode_status(const json& body) {
  auto out = VW_TRY(with_header<StatusResponse>(body));
  out.version = get_string(body, "version");
  out.db_size = VW_TRY(get_int64(body, "dbSize"));
  out.leader = VW_TRY(get_uint64(body, "leader"));
  out.raft_index = VW_TRY(get_uint64(body, "raftIndex"));
  out.raft_term = VW_TRY(get_uint64(body, "raftTerm"));
  return out;
}

Result<std::string> decode_token(const json& body) {
  std::string token = get_string(body, "token");
  if (token.empty()) return malformed("authenticate answered without a token");
  return token;
}

Result<WatchMessage> decode_watch_result(const json& result) {
  ResponseHeader header = VW_TRY(decode_header(result));
  int64_t compact_revision = VW_TRY(get_int64(result, "compact_revision"));
  if (get_bool(result, "canceled")) {
    if (compact_revision > 0) return WatchMessage{WatchCompacted{header, compact_revision}};
    std::string reason = get_string(result, "cancel_reason");
    // An invalid or expired token cancels the watch at once ("created" and
    // "canceled" in one message), with the gRPC error as the reason.
    int code = reason.find("invalid auth token") != std::string::npos  ? EKEYEXPIRED
               : reason.find("permission denied") != std::string::npos ? EACCES
                                                                       : ECANCELED;
    return WatchMessage{WatchCanceled{
        header,
        Error{code, "etcd canceled the watch: " + (reason.empty() ? "no reason given" : reason),
              hint_for(code)}}};
  }
  if (get_bool(result, "created")) {
    return WatchMessage{WatchCreated{header, VW_TRY(get_int64(result, "watch_id")), 0}};
  }
  const json* events = find(result, "events");
  if (events == nullptr) return WatchMessage{WatchProgress{header}};
  if (!events->is_array()) return malformed("watch events is not a list");
  WatchEvents out{header, {}};
  for (const json& event : *events) {
    WatchEvent decoded;
    std::string type = get_string(event, "type");  // PUT is the default, omitted
    if (type == "DELETE") {
      decoded.type = WatchEvent::Type::kDelete;
    } else if (!type.empty() && type != "PUT") {
      return malformed("watch event type '" + type + "'");
    }
    if (const json* kv = find(event, "kv")) decoded.kv = VW_TRY(decode_kv(*kv));
    if (const json* prev = find(event, "prev_kv")) decoded.prev_kv = VW_TRY(decode_kv(*prev));
    out.events.push_back(std::move(decoded));
  }
  return WatchMessage{std::move(out)};
}

}  // namespace vaultwall::fleet::gateway
