// What every transport answers the same way (Router) and the health checks' responses, without
// a socket.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "httpserver/endpoints.h"
#include "httpserver/http_server.h"

namespace sessionstore::httpserver {
namespace {

Response ok(const Request& request) {
  return Response{.body = request.method + " " + request.path};
}

TEST(Router, CallsTheHandlerOfTheExactPathForGetAndHead) {
  Router router;
  router.handle("/healthz", ok);
  EXPECT_EQ(router.route({"GET", "/healthz"}).body, "GET /healthz");
  const auto head = router.route({"HEAD", "/healthz"});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "HEAD /healthz");  // the transport drops it
}

TEST(Router, UnknownPathIs404) {
  Router router;
  router.handle("/healthz", ok);
  for (const char* path : {"/", "/healthz/", "/healthzz", "/HEALTHZ", ""}) {
    EXPECT_EQ(router.route({"GET", path}).status, 404) << path;
  }
}

TEST(Router, OtherMethodsAre405WithAllow) {
  Router router;
  router.handle("/metrics", ok);
  for (const char* method :
       {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get"}) {
    const auto response = router.route({method, "/metrics"});
    EXPECT_EQ(response.status, 405) << method;
    EXPECT_EQ(response.headers,
              (std::vector<std::pair<std::string, std::string>>{{"Allow", "GET, HEAD"}}));
  }
}

TEST(Router, AThrowingHandlerIs500WithoutTheExceptionText) {
  Router router;
  router.handle("/boom",
                [](const Request&) -> Response { throw std::runtime_error("secret internals"); });
  const auto response = router.route({"GET", "/boom"});
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body.find("secret"), std::string::npos);
}

TEST(Router, ALaterHandlerReplacesAnEarlierOne) {
  Router router;
  router.handle("/x", ok);
  router.handle("/x", [](const Request&) { return Response{.status = 204}; });
  EXPECT_EQ(router.route({"GET", "/x"}).status, 204);
}

TEST(HealthChecks, OkWithoutChecks) {
  HealthChecks checks;
  const auto response = checks.evaluate();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok");
}

TEST(HealthChecks, NamesEveryFailingCheckInOrder) {
  HealthChecks checks;
  std::atomic<bool> synced{false};
  checks.add("informers synced", [&] { return synced.load(); });
  checks.add("leader", [] { return true; });
  checks.add("store probe", []() -> bool { throw std::runtime_error("unreachable"); });

  auto response = checks.evaluate();
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, "check failed: informers synced\ncheck failed: store probe\n");

  synced = true;
  checks.add("store probe", [] { return true; });  // replaces the throwing one
  response = checks.evaluate();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok");
}

}  // namespace
}  // namespace sessionstore::httpserver
