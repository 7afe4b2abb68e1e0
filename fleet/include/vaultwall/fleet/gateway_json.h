// The wire mapping of etcd's v3 JSON gateway (grpc-gateway over rpc.proto),
// pure functions so it is tested without a server. What the mapping handles:
// - keys and values are base64; int64 and uint64 are JSON strings;
// - fields at their default are omitted: a failed txn has no "succeeded", a
//   watch_id 0 is absent, a PUT event has no "type", a keepalive for an
//   unknown lease has no "TTL";
// - errors come in two shapes: unary {"error","message","code"} and, inside
//   streams, {"error":{"grpc_code","http_code","message","http_status"}}.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "vaultwall/fleet/etcd_client.h"

namespace vaultwall::fleet::gateway {

using nlohmann::json;

std::string base64_encode(std::string_view bytes);
// EPROTO naming `field` when text is not canonical base64.
Result<std::string> base64_decode(std::string_view text, std::string_view field);

// ---- requests (the JSON body to POST) ----
json encode(const RangeRequest& request);
json encode(const PutRequest& request);
json encode(const DeleteRequest& request);
json encode(const TxnRequest& request);
json encode_watch_create(const WatchRequest& request, int64_t start_revision);

// ---- responses ----
// The gateway's answer for an error, in either shape, or nothing when body is
// not an error. http_status is used when the body carries no gRPC code.
std::optional<Error> decode_error(const json& body, int http_status);
// An Error for a gRPC status code and etcd's message (see etcd_client.h for
// the errno of each kind).
Error error_from_grpc(int grpc_code, const std::string& message);

Result<ResponseHeader> decode_header(const json& body);
Result<KeyValue> decode_kv(const json& kv);
Result<RangeResponse> decode_range(const json& body);
Result<PutResponse> decode_put(const json& body);
Result<DeleteResponse> decode_delete(const json& body);
Result<TxnResponse> decode_txn(const json& body);
Result<LeaseGrantResponse> decode_lease_grant(const json& body);
// ENOENT when the lease is unknown (the answer has no TTL).
Result<LeaseKeepAliveResponse> decode_lease_keep_alive(const json& body);
Result<LeaseTimeToLiveResponse> decode_lease_time_to_live(const json& body);
Result<StatusResponse> decode_status(const json& body);
Result<std::string> decode_token(const json& body);

// One {"result":...} of a watch stream, as the message the handler gets:
// WatchCreated, WatchEvents, WatchProgress, WatchCompacted or WatchCanceled.
Result<WatchMessage> decode_watch_result(const json& result);

// int64 fields: a JSON string of digits (or a number); absent is 0.
Result<int64_t> get_int64(const json& object, const char* field);
Result<uint64_t> get_uint64(const json& object, const char* field);

}  // namespace vaultwall::fleet::gateway
