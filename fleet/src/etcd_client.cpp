#include "vaultwall/fleet/etcd_client.h"

namespace vaultwall::fleet {

std::string prefix_range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

RangeRequest RangeRequest::prefix(std::string prefix) {
  RangeRequest request;
  request.range_end = prefix_range_end(prefix);
  request.key = std::move(prefix);
  return request;
}

WatchRequest WatchRequest::prefix(std::string prefix, int64_t start_revision) {
  WatchRequest request;
  request.range_end = prefix_range_end(prefix);
  request.key = std::move(prefix);
  request.start_revision = start_revision;
  return request;
}

Compare Compare::mod_revision_is(std::string key, int64_t revision) {
  return Compare{Target::kModRevision, Op::kEqual, std::move(key), revision, {}};
}

Compare Compare::create_revision_is(std::string key, int64_t revision) {
  return Compare{Target::kCreateRevision, Op::kEqual, std::move(key), revision, {}};
}

Compare Compare::key_missing(std::string key) { return create_revision_is(std::move(key), 0); }

Compare Compare::value_is(std::string key, std::string value) {
  return Compare{Target::kValue, Op::kEqual, std::move(key), 0, std::move(value)};
}

Result<void> check_watch_request(const WatchRequest& request) {
  if (request.key.empty()) {
    return fail(EINVAL, "watch: the key is empty",
                "watch a key or a prefix (WatchRequest::prefix)");
  }
  if (request.start_revision < 0) {
    return fail(EINVAL,
                "watch: start_revision " + std::to_string(request.start_revision) + " is negative",
                "use 0 for changes from now on");
  }
  return {};
}

std::optional<Error> oversized_put(std::string_view key, size_t value_size,
                                   size_t max_request_bytes) {
  // etcd counts the encoded raft request (key + value + a few dozen bytes of
  // framing), so a request just under the limit may still be refused by the
  // server; that answer maps to EMSGSIZE too.
  size_t size = key.size() + value_size;
  if (size <= max_request_bytes) return std::nullopt;
  return Error{EMSGSIZE,
               "put '" + std::string(key) + "': " + std::to_string(size) +
                   " bytes of key and value exceed etcd's request limit of " +
                   std::to_string(max_request_bytes) + " bytes",
               "keep values under 1 MiB, or raise etcd's --max-request-bytes"};
}

}  // namespace vaultwall::fleet
