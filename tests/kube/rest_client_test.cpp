// The REST client without a server: the requests it builds, and how it reads every kind of
// answer, including the broken ones.
#include "kube/rest_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "mocks/clock/fake_clock.h"
#include "mocks/transport/mock_transport.h"

namespace sessionstore::kube {
namespace {

using ::testing::_;
using ::testing::Field;
using ::testing::Return;
using ::testing::SaveArg;
using transport::MockTransport;
using transport::Request;
using transport::Response;

struct Fixture : ::testing::Test {
  Fixture() {
    auto t = std::make_unique<MockTransport>();
    transport_ = t.get();
    client_ = std::make_unique<RestClient>(
        std::move(t), ClusterConfig{.server = "https://h:1", .bearerToken = "tok"}, clock_,
        [this](const std::string& verb, int code) { observed_.emplace_back(verb, code); });
  }
  // Answers the next send with `status` and `body`, and keeps the request.
  void answer(int status, std::string body, std::map<std::string, std::string> headers = {}) {
    EXPECT_CALL(*transport_, send(_))
        .WillOnce(
            [this, status, body = std::move(body), headers = std::move(headers)](const Request& r) {
              last_ = r;
              return transport::Result<Response>(Response{status, headers, body});
            });
  }

  clock::FakeClock clock_;
  MockTransport* transport_;
  std::unique_ptr<RestClient> client_;
  Request last_;
  std::vector<std::pair<std::string, int>> observed_;
};

TEST_F(Fixture, GetBuildsThePathAndAuthenticates) {
  answer(200, R"({"kind":"Deployment","metadata":{"name":"web"}})");
  auto got = client_->get(resources::kDeployments, "shop", "web");
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ((*got)["kind"], "Deployment");
  EXPECT_EQ(last_.method, "GET");
  EXPECT_EQ(last_.target, "/apis/apps/v1/namespaces/shop/deployments/web");
  EXPECT_EQ(last_.headers["Authorization"], "Bearer tok");
  EXPECT_EQ(last_.headers["Accept"], "application/json");
  ASSERT_EQ(observed_.size(), 1u);
  EXPECT_EQ(observed_[0], std::make_pair(std::string("GET"), 200));
}

TEST_F(Fixture, ListEscapesSelectorsAndFillsKinds) {
  answer(200, R"({"metadata":{"resourceVersion":"42","continue":"tok2"},
                  "items":[{"metadata":{"name":"a","namespace":"ns"}}]})");
  auto listed = client_->list(
      resources::kConfigMaps, "ns",
      ListOptions{
          .labelSelector = "app in (web,api),tier!=db", .limit = 500, .continueToken = "abc=="});
  ASSERT_TRUE(listed) << listed.error().describe();
  EXPECT_EQ(
      last_.target,
      "/api/v1/namespaces/ns/configmaps?labelSelector=app%20in%20%28web%2Capi%29%2Ctier%21%3Ddb"
      "&limit=500&continue=abc%3D%3D");
  EXPECT_EQ(listed->resourceVersion, "42");
  EXPECT_EQ(listed->continueToken, "tok2");
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0]["apiVersion"], "v1");
  EXPECT_EQ(listed->items[0]["kind"], "ConfigMap");
}

TEST_F(Fixture, ServerSideApplySendsTheFieldManagerAndForce) {
  answer(200, R"({"metadata":{"name":"web"}})");
  auto applied = client_->apply(
      resources::kDeployments, "shop",
      Json{{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "web"}}}},
      "sessionstore-operator");
  ASSERT_TRUE(applied) << applied.error().describe();
  EXPECT_EQ(last_.method, "PATCH");
  EXPECT_EQ(last_.target,
            "/apis/apps/v1/namespaces/shop/deployments/"
            "web?fieldManager=sessionstore-operator&force=true");
  EXPECT_EQ(last_.headers["Content-Type"], "application/apply-patch+yaml");
}

TEST_F(Fixture, PatchTypesHaveTheirContentTypes) {
  const std::pair<PatchType, const char*> cases[] = {
      {PatchType::kMerge, "application/merge-patch+json"},
      {PatchType::kJson, "application/json-patch+json"},
      {PatchType::kStrategic, "application/strategic-merge-patch+json"}};
  for (const auto& [type, contentType] : cases) {
    answer(200, "{}");
    ASSERT_TRUE(client_->patch(resources::kSessionStores, "ns", "web", type, Json::object(),
                               PatchOptions{.subresource = "status"}));
    EXPECT_EQ(last_.headers["Content-Type"], contentType);
    EXPECT_EQ(last_.target,
              "/apis/sessionstore.io/v1alpha1/namespaces/ns/sessionstores/web/status");
  }
}

TEST_F(Fixture, DeleteSendsPropagationAndPreconditions) {
  answer(200, R"({"kind":"Status","status":"Success"})");
  ASSERT_TRUE(
      client_->remove(resources::kPods, "ns", "p",
                      DeleteOptions{.propagationPolicy = "Foreground", .preconditionUid = "u1"}));
  EXPECT_EQ(last_.method, "DELETE");
  const auto body = Json::parse(last_.body);
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["preconditions"]["uid"], "u1");
}

struct ErrorCase {
  int status;
  const char* body;
  std::map<std::string, std::string> headers;
  ErrorKind kind;
};

TEST_F(Fixture, MapsEveryErrorStatus) {
  const ErrorCase cases[] = {
      {400,
       R"({"kind":"Status","reason":"BadRequest","message":"bad"})",
       {},
       ErrorKind::kBadRequest},
      {401, "Unauthorized", {}, ErrorKind::kUnauthorized},
      {403, R"({"kind":"Status","reason":"Forbidden","message":"no"})", {}, ErrorKind::kForbidden},
      {404, R"({"kind":"Status","reason":"NotFound","message":"gone"})", {}, ErrorKind::kNotFound},
      {409,
       R"({"kind":"Status","reason":"AlreadyExists","message":"x"})",
       {},
       ErrorKind::kAlreadyExists},
      {409,
       R"({"kind":"Status","reason":"Conflict","message":"modified"})",
       {},
       ErrorKind::kConflict},
      {410, R"({"kind":"Status","reason":"Expired","message":"too old"})", {}, ErrorKind::kGone},
      {422, R"({"kind":"Status","reason":"Invalid","message":"x"})", {}, ErrorKind::kInvalid},
      {429, "slow down", {{"retry-after", "7"}}, ErrorKind::kTooManyRequests},
      {500, "boom", {}, ErrorKind::kInternal},
      {503, "unavailable", {}, ErrorKind::kUnavailable},
      {504, "timeout", {}, ErrorKind::kTimeout},
  };
  for (const auto& c : cases) {
    answer(c.status, c.body, c.headers);
    auto got = client_->get(resources::kPods, "ns", "p");
    ASSERT_FALSE(got) << c.status;
    EXPECT_EQ(got.error().kind, c.kind) << c.status << " " << c.body;
    EXPECT_EQ(got.error().httpStatus, c.status);
  }
}

TEST_F(Fixture, InvalidCarriesTheCausesAndRetryAfterIsHonoured) {
  answer(422, R"({"kind":"Status","reason":"Invalid","message":"SessionStore \"x\" is invalid",
                  "details":{"causes":[{"reason":"FieldValueNotSupported","field":"spec.store.type",
                  "message":"Unsupported value: \"Memcached\""}]}})");
  auto got = client_->create(resources::kSessionStores, "ns", Json::object());
  ASSERT_FALSE(got);
  ASSERT_EQ(got.error().causes.size(), 1u);
  EXPECT_EQ(got.error().causes[0].field, "spec.store.type");
  EXPECT_NE(got.error().describe().find("spec.store.type: Unsupported value"), std::string::npos);

  answer(429, R"({"kind":"Status","reason":"TooManyRequests","details":{"retryAfterSeconds":3}})");
  got = client_->get(resources::kPods, "ns", "p");
  ASSERT_FALSE(got);
  ASSERT_TRUE(got.error().retryAfter);
  EXPECT_EQ(*got.error().retryAfter, std::chrono::seconds(3));
  EXPECT_TRUE(got.error().transient());
}

// Found by the api_error fuzz target: a negative retryAfterSeconds was taken as it came.
TEST(ErrorFromResponse, ANegativeRetryAfterIsIgnored) {
  const auto error = errorFromResponse(
      429, R"({"kind":"Status","details":{"retryAfterSeconds":-5}})", std::string("-2"));
  EXPECT_FALSE(error.retryAfter.has_value());
  EXPECT_EQ(error.kind, ErrorKind::kTooManyRequests);
}

TEST_F(Fixture, ANonJsonSuccessIsMalformedNotACrash) {
  answer(200, "<html>proxy error</html>");
  auto got = client_->get(resources::kPods, "ns", "p");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::kMalformed);

  answer(200, R"({"items": "not a list"})");
  auto listed = client_->list(resources::kPods, "ns");
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().kind, ErrorKind::kMalformed);
}

TEST_F(Fixture, NoAnswerIsUnavailableOrTimeout) {
  EXPECT_CALL(*transport_, send(_))
      .WillOnce(
          Return(std::unexpected(transport::Failure{transport::FailureKind::kConnect, "refused"})))
      .WillOnce(Return(
          std::unexpected(transport::Failure{transport::FailureKind::kTimeout, "timed out"})))
      .WillOnce(
          Return(std::unexpected(transport::Failure{transport::FailureKind::kTls, "unknown ca"})));
  EXPECT_EQ(client_->get(resources::kPods, "ns", "p").error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(client_->get(resources::kPods, "ns", "p").error().kind, ErrorKind::kTimeout);
  EXPECT_EQ(client_->get(resources::kPods, "ns", "p").error().kind, ErrorKind::kConfig);
  EXPECT_EQ(observed_.back().second, 0);
}

TEST_F(Fixture, WatchAsksForBookmarksAndReadsEvents) {
  Request seen;
  EXPECT_CALL(*transport_, stream(_)).WillOnce([&](const Request& r) {
    seen = r;
    return transport::Result<std::unique_ptr<transport::Stream>>(
        std::make_unique<transport::ScriptedStream>(
            200, std::vector<std::string>{
                     R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"}}})",
                     "", R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})"}));
  });
  auto stream = client_->watch(
      resources::kConfigMaps, "ns",
      WatchOptions{
          .labelSelector = "a=b", .resourceVersion = "4", .timeout = std::chrono::seconds(420)});
  ASSERT_TRUE(stream) << stream.error().describe();
  EXPECT_EQ(seen.target,
            "/api/v1/namespaces/ns/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=420"
            "&resourceVersion=4&labelSelector=a%3Db");
  auto first = (*stream)->next();
  ASSERT_TRUE(first && first->has_value());
  EXPECT_EQ((*first)->type, WatchEventType::kAdded);
  auto second = (*stream)->next();  // the empty line is skipped
  ASSERT_TRUE(second && second->has_value());
  EXPECT_EQ((*second)->type, WatchEventType::kBookmark);
  auto end = (*stream)->next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->has_value());
}

TEST_F(Fixture, AWatchAnswered410IsGone) {
  EXPECT_CALL(*transport_, stream(_)).WillOnce([](const Request&) {
    return transport::Result<std::unique_ptr<transport::Stream>>(
        std::make_unique<transport::ScriptedStream>(
            410, std::vector<std::string>{R"({"kind":"Status","reason":"Expired","code":410})"}));
  });
  auto stream = client_->watch(resources::kConfigMaps, "ns", WatchOptions{.resourceVersion = "1"});
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().kind, ErrorKind::kGone);
}

TEST(WatchLine, ParsesEveryEventTypeAndRejectsTheRest) {
  EXPECT_EQ(
      parseWatchLine(R"({"type":"MODIFIED","object":{"metadata":{"resourceVersion":"2"}}})")->type,
      WatchEventType::kModified);
  EXPECT_EQ(
      parseWatchLine(R"({"type":"DELETED","object":{"metadata":{"resourceVersion":"3"}}})")->type,
      WatchEventType::kDeleted);
  // 410 as an ERROR event.
  auto gone = parseWatchLine(
      R"json({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 1 (5)"}})json");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::kGone);
  EXPECT_NE(gone.error().message.find("too old"), std::string::npos);
  auto other = parseWatchLine(R"({"type":"ERROR","object":{"kind":"Status","code":500}})");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::kInternal);

  for (const char* bad :
       {R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVe)",  // truncated
        "not json", "[]", R"({"type":"ADDED"})", R"({"object":{}})", R"({"type":7,"object":{}})",
        R"({"type":"SURPRISE","object":{}})",
        R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})",
        R"({"type":"ADDED","object":"x"})", "\xff\xfe"}) {
    auto event = parseWatchLine(bad);
    ASSERT_FALSE(event) << bad;
    EXPECT_EQ(event.error().kind, ErrorKind::kMalformed) << bad;
  }
}

TEST(TokenSource, ReReadsARotatedTokenAfterAMinute) {
  clock::FakeClock clock;
  const auto file = std::filesystem::path(::testing::TempDir()) / "rotating-token";
  std::ofstream(file) << "first\n";
  TokenSource tokens("", file.string(), clock);
  EXPECT_EQ(tokens.token(), "first");
  std::ofstream(file, std::ios::trunc) << "second";
  clock.advance(std::chrono::seconds(30));
  EXPECT_EQ(tokens.token(), "first");  // cached
  clock.advance(std::chrono::seconds(31));
  EXPECT_EQ(tokens.token(), "second");
  std::filesystem::remove(file);
  clock.advance(std::chrono::minutes(2));
  EXPECT_EQ(tokens.token(), "second");  // a missing file keeps the last good token
}

TEST(QueryValue, EscapesEverythingButUnreservedCharacters) {
  EXPECT_EQ(escapeQueryValue("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(escapeQueryValue("k=v,x!=y"), "k%3Dv%2Cx%21%3Dy");
  EXPECT_EQ(escapeQueryValue("sp ace/+&#"), "sp%20ace%2F%2B%26%23");
}

}  // namespace
}  // namespace sessionstore::kube
