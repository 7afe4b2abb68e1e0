// The gateway's wire mapping, on answers shaped like etcd 3.4.23's (keys and
// values in base64, int64 as strings, defaults omitted, two error shapes).
#include "vaultwall/fleet/gateway_json.h"

#include <gtest/gtest.h>

#include "watch_recorder.h"

namespace vaultwall::fleet::gateway {
namespace {

json parse(const char* text) { return json::parse(text); }

TEST(Base64, KnownVectorsAndEveryByte) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("/vaultwall/v1/"), "L3ZhdWx0d2FsbC92MS8=");
  std::string every;
  for (int i = 0; i < 256; ++i) every += char(i);
  for (size_t n = 0; n <= every.size(); n += 37) {
    auto back = base64_decode(base64_encode(every.substr(0, n)), "key");
    ASSERT_OK(back);
    EXPECT_EQ(*back, every.substr(0, n));
  }
}

TEST(Base64, MalformedIsEprotoNamingTheField) {
  for (const char* bad : {"Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zg=", "Zm9"}) {
    auto decoded = base64_decode(bad, "value");
    ASSERT_FALSE(decoded) << bad;
    EXPECT_EQ(decoded.error().code, EPROTO);
    EXPECT_NE(decoded.error().context.find("value"), std::string::npos);
  }
}

TEST(PrefixRangeEnd, IncrementsTheLastByteBelow0xff) {
  EXPECT_EQ(prefix_range_end("/a/"), "/a0");
  EXPECT_EQ(prefix_range_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_range_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
  EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
}

TEST(Encode, DefaultsAreOmittedAndInt64sAreStrings) {
  EXPECT_EQ(encode(RangeRequest::prefix("/a/")), parse(R"({"key":"L2Ev","range_end":"L2Ew"})"));
  RangeRequest at{"/a", {}, 10, 42, true};
  EXPECT_EQ(encode(at),
            parse(R"({"key":"L2E=","limit":"10","revision":"42","serializable":true})"));
  EXPECT_EQ(encode(PutRequest{"/a", "b", 7587869000000000123, true}),
            parse(R"({"key":"L2E=","value":"Yg==","lease":"7587869000000000123","prev_kv":true})"));
  EXPECT_EQ(encode(PutRequest{"/a", ""}), parse(R"({"key":"L2E="})"));
  EXPECT_EQ(encode(DeleteRequest{"/a"}), parse(R"({"key":"L2E="})"));
}

TEST(Encode, TxnComparesKeepZeroForCreateOnly) {
  TxnRequest cas{{Compare::mod_revision_is("/p", 5), Compare::key_missing("/n")},
                 {PutRequest{"/p", "v"}, DeleteRequest{"/d"}},
                 {RangeRequest{"/p"}}};
  EXPECT_EQ(encode(cas), parse(R"({
    "compare":[{"target":"MOD","result":"EQUAL","key":"L3A=","mod_revision":"5"},
               {"target":"CREATE","result":"EQUAL","key":"L24=","create_revision":"0"}],
    "success":[{"request_put":{"key":"L3A=","value":"dg=="}},{"request_delete_range":{"key":"L2Q="}}],
    "failure":[{"request_range":{"key":"L3A="}}]})"));
  EXPECT_EQ(
      encode(TxnRequest{{Compare::value_is("/p", "v")}, {}, {}}),
      parse(R"({"compare":[{"target":"VALUE","result":"EQUAL","key":"L3A=","value":"dg=="}]})"));
}

TEST(Encode, WatchCreateRequest) {
  WatchRequest request = WatchRequest::prefix("/a/", 3);
  request.progress_notify = true;
  request.prev_kv = true;
  EXPECT_EQ(encode_watch_create(request, 9), parse(R"({"create_request":{
    "key":"L2Ev","range_end":"L2Ew","start_revision":"9","progress_notify":true,"prev_kv":true}})"));
  EXPECT_EQ(encode_watch_create(WatchRequest{"/a"}, 0),
            parse(R"({"create_request":{"key":"L2E="}})"));
}

constexpr const char* kHeader =
    R"("header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"7","raft_term":"2"})";

TEST(Decode, RangeWithUint64HeaderAndOmittedFields) {
  auto range = decode_range(json::parse(std::string("{") + kHeader + R"(,"kvs":[{"key":"L2E=",
      "create_revision":"2","mod_revision":"7","version":"3","value":"Yg==","lease":"42"}],"count":"1"})"));
  ASSERT_OK(range);
  EXPECT_EQ(range->header.member_id, 10276657743932975437ull);  // above int64's range
  EXPECT_EQ(range->header.revision, 7);
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0], (KeyValue{"/a", "b", 2, 7, 3, 42}));
  EXPECT_FALSE(range->more);
  auto empty = decode_range(json::parse(std::string("{") + kHeader + "}"));
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->kvs.empty());
  EXPECT_EQ(empty->count, 0);
  // An empty value is omitted too.
  auto no_value =
      decode_kv(parse(R"({"key":"L2E=","create_revision":"2","mod_revision":"2","version":"1"})"));
  ASSERT_OK(no_value);
  EXPECT_EQ(no_value->value, "");
}

TEST(Decode, FailedTxnHasNoSucceededField) {
  auto failed =
      decode_txn(json::parse(std::string("{") + kHeader + R"(,"responses":[{"response_range":{
      "header":{"revision":"7"},"kvs":[{"key":"L3A=","mod_revision":"6","value":"djI="}],"count":"1"}}]})"));
  ASSERT_OK(failed);
  EXPECT_FALSE(failed->succeeded);
  ASSERT_EQ(failed->responses.size(), 1u);
  EXPECT_EQ(std::get<RangeResponse>(failed->responses[0]).kvs.at(0).value, "v2");
  auto won = decode_txn(json::parse(
      std::string("{") + kHeader +
      R"(,"succeeded":true,"responses":[{"response_put":{"header":{"revision":"7"}}}]})"));
  ASSERT_OK(won);
  EXPECT_TRUE(won->succeeded);
  EXPECT_TRUE(std::holds_alternative<PutResponse>(won->responses.at(0)));
}

TEST(Decode, KeepaliveForAnUnknownLeaseHasNoTtl) {
  auto lost =
      decode_lease_keep_alive(json::parse(std::string("{") + kHeader + R"(,"ID":"7587869"})"));
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, ENOENT);
  auto alive = decode_lease_keep_alive(
      json::parse(std::string("{") + kHeader + R"(,"ID":"7587869","TTL":"30"})"));
  ASSERT_OK(alive);
  EXPECT_EQ(alive->ttl, 30);
  EXPECT_EQ(alive->id, 7587869);
}

TEST(Decode, StatusAndToken) {
  auto status = decode_status(
      json::parse(std::string("{") + kHeader + R"(,"version":"3.4.23","dbSize":"20480",
      "leader":"10276657743932975437","raftIndex":"9","raftTerm":"2","raftAppliedIndex":"9","dbSizeInUse":"16384"})"));
  ASSERT_OK(status);
  EXPECT_EQ(status->version, "3.4.23");
  EXPECT_EQ(status->leader, status->header.member_id);
  EXPECT_EQ(status->raft_term, 2u);
  EXPECT_EQ(*decode_token(parse(R"({"token":"abc.12"})")), "abc.12");
  EXPECT_EQ(decode_token(parse("{}")).error().code, EPROTO);
}

TEST(Decode, IntegersThatAreNotIntegersAreEproto) {
  EXPECT_EQ(get_int64(parse(R"({"revision":"12x"})"), "revision").error().code, EPROTO);
  EXPECT_EQ(get_int64(parse(R"({"revision":true})"), "revision").error().code, EPROTO);
  EXPECT_EQ(*get_int64(parse(R"({"revision":12})"), "revision"), 12);
  EXPECT_EQ(*get_int64(parse(R"({})"), "revision"), 0);
  auto bad_key = decode_kv(parse(R"({"key":"not base64!"})"));
  ASSERT_FALSE(bad_key);
  EXPECT_NE(bad_key.error().context.find("key"), std::string::npos);
}

TEST(DecodeWatch, CreatedProgressEventsCompactedCanceled) {
  // watch_id 0 is omitted; "created" header.revision is "now".
  auto created =
      decode_watch_result(json::parse(std::string("{") + kHeader + R"(,"created":true})"));
  ASSERT_OK(created);
  ASSERT_TRUE(std::holds_alternative<WatchCreated>(*created));
  EXPECT_EQ(std::get<WatchCreated>(*created).watch_id, 0);

  auto progress = decode_watch_result(json::parse(std::string("{") + kHeader + "}"));
  ASSERT_OK(progress);
  ASSERT_TRUE(std::holds_alternative<WatchProgress>(*progress));
  EXPECT_EQ(std::get<WatchProgress>(*progress).header.revision, 7);

  // PUT is the default event type: omitted.
  auto events = decode_watch_result(json::parse(std::string("{") + kHeader + R"(,"events":[
      {"kv":{"key":"L2E=","create_revision":"6","mod_revision":"6","version":"1","value":"MQ=="}},
      {"type":"DELETE","kv":{"key":"L2E=","mod_revision":"7"},"prev_kv":{"key":"L2E=","mod_revision":"6","value":"MQ=="}}]})"));
  ASSERT_OK(events);
  const auto& list = std::get<WatchEvents>(*events).events;
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(list[0].kv.value, "1");
  EXPECT_EQ(list[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(list[1].prev_kv->value, "1");

  auto compacted = decode_watch_result(
      json::parse(std::string("{") + kHeader + R"(,"canceled":true,"compact_revision":"5"})"));
  ASSERT_OK(compacted);
  EXPECT_EQ(std::get<WatchCompacted>(*compacted).compact_revision, 5);

  auto forbidden = decode_watch_result(parse(
      R"({"header":{},"watch_id":"-1","created":true,"canceled":true,"cancel_reason":"etcdserver: permission denied"})"));
  ASSERT_OK(forbidden);
  EXPECT_EQ(std::get<WatchCanceled>(*forbidden).reason.code, EACCES);
  auto expired =
      decode_watch_result(parse(R"({"header":{},"watch_id":"-1","created":true,"canceled":true,
      "cancel_reason":"rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"})"));
  ASSERT_OK(expired);
  EXPECT_EQ(std::get<WatchCanceled>(*expired).reason.code, EKEYEXPIRED);

  EXPECT_EQ(decode_watch_result(parse(R"({"events":[{"type":"PATCH"}]})")).error().code, EPROTO);
}

TEST(DecodeError, BothShapesAndTheErrnoOfEachKind) {
  auto unary =
      decode_error(parse(R"({"error":"etcdserver: mvcc: required revision has been compacted",
      "message":"etcdserver: mvcc: required revision has been compacted","code":11})"),
                   400);
  ASSERT_TRUE(unary);
  EXPECT_EQ(unary->code, ERANGE);
  EXPECT_NE(unary->context.find("required revision has been compacted"), std::string::npos);
  EXPECT_FALSE(unary->hint.empty());

  auto stream = decode_error(parse(R"({"error":{"grpc_code":14,"http_code":503,
      "message":"etcdserver: no leader","http_status":"Service Unavailable"}})"),
                             200);
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->code, EAGAIN);

  struct Case {
    int grpc_code;
    const char* message;
    int expected;
  };
  for (const Case& c :
       {Case{3, "etcdserver: request is too large", EMSGSIZE},
        Case{3, "etcdserver: authentication failed, invalid user ID or password", EACCES},
        Case{3, "etcdserver: user name is empty", EACCES},
        Case{3, "illegal base64 data at input byte 9", EINVAL},
        Case{5, "etcdserver: requested lease not found", ENOENT},
        Case{7, "etcdserver: permission denied", EACCES},
        Case{16, "etcdserver: invalid auth token", EKEYEXPIRED},
        Case{2, "context deadline exceeded", EIO}}) {
    json body{{"error", c.message}, {"message", c.message}, {"code", c.grpc_code}};
    auto error = decode_error(body, 400);
    ASSERT_TRUE(error) << c.message;
    EXPECT_EQ(error->code, c.expected) << c.message;
  }

  // Refusals whose cause the message names say what to give.
  for (const auto& [message, wanted] :
       {std::pair{"etcdserver: user name is empty", "--user, --password-file"},
        std::pair{"etcdserver: authentication failed, invalid user ID or password",
                  "check the user name and the password in its file"}}) {
    json body{{"error", message}, {"message", message}, {"code", 3}};
    auto error = decode_error(body, 400);
    ASSERT_TRUE(error);
    EXPECT_NE(error->hint.find(wanted), std::string::npos) << error->message();
  }

  EXPECT_FALSE(decode_error(parse(R"({"header":{}})"), 200));
  auto text = decode_error(json("Method Not Allowed"), 405);
  ASSERT_TRUE(text);
  EXPECT_NE(text->context.find("405"), std::string::npos);
  auto unavailable = decode_error(json("upstream gone"), 503);
  ASSERT_TRUE(unavailable);
  EXPECT_EQ(unavailable->code, EAGAIN);
}

// Every gRPC code has its errno (0 and codes past 16 too: EIO), so does
// every HTTP status grpc-gateway maps to a code; the refusals with a next
// step to take say it.
TEST(DecodeError, EveryGrpcCodeAndHttpStatusHasItsErrnoAndHint) {
  const std::vector<int> errno_by_grpc_code = {
      EIO,   ECANCELED, EIO,    EINVAL, ETIMEDOUT, ENOENT, EEXIST, EACCES,      ENOSPC,
      EPERM, EAGAIN,    ERANGE, ENOSYS, EIO,       EAGAIN, EIO,    EKEYEXPIRED, EIO};
  for (int grpc_code = 0; grpc_code < int(errno_by_grpc_code.size()); grpc_code++) {
    json body{
        {"error", "etcdserver: refused"}, {"message", "etcdserver: refused"}, {"code", grpc_code}};
    auto error = decode_error(body, 400);
    ASSERT_TRUE(error) << grpc_code;
    EXPECT_EQ(error->code, errno_by_grpc_code[grpc_code]) << "gRPC code " << grpc_code;
  }
  for (const auto& [http_status, expected] :
       {std::pair{400, EINVAL}, std::pair{401, EKEYEXPIRED}, std::pair{403, EACCES},
        std::pair{404, ENOENT}, std::pair{408, ETIMEDOUT}, std::pair{504, ETIMEDOUT},
        std::pair{409, EAGAIN}, std::pair{429, ENOSPC}, std::pair{503, EAGAIN}, std::pair{500, EIO},
        std::pair{418, EIO}}) {
    auto error = decode_error(json("refused"), http_status);
    ASSERT_TRUE(error) << http_status;
    EXPECT_EQ(error->code, expected) << "HTTP " << http_status;
  }
  for (const auto& [grpc_code, hint] :
       {std::pair{11, "continue from its header.revision + 1"},
        std::pair{7, "etcdctl role get ROLE"}, std::pair{14, "lost quorum"},
        std::pair{16, "authenticate again"}, std::pair{5, "grant a new lease"}, std::pair{3, ""}}) {
    json body{
        {"error", "etcdserver: refused"}, {"message", "etcdserver: refused"}, {"code", grpc_code}};
    auto error = decode_error(body, 400);
    ASSERT_TRUE(error);
    if (*hint == 0) {
      EXPECT_EQ(error->hint, "") << grpc_code;
    } else {
      EXPECT_NE(error->hint.find(hint), std::string::npos) << error->hint;
    }
  }
  json too_large{{"error", "etcdserver: request is too large"},
                 {"message", "etcdserver: request is too large"},
                 {"code", 3}};
  EXPECT_NE(decode_error(too_large, 400)->hint.find("--max-request-bytes"), std::string::npos);
}

}  // namespace
}  // namespace vaultwall::fleet::gateway
