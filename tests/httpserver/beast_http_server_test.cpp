// The Boost.Beast HttpServer on loopback, seen through a plain socket client so the test controls
// keep-alive and sees what goes over the wire: the endpoints' answers, 404 and 405, HEAD, port 0,
// IPv6 and host names, keep-alive, HTTP/1.0 and pipelining, malformed and oversize requests, the
// idle and read-header timeouts, stop() closing every connection promptly (the hang that
// cpprestsdk's listener showed in CI), threads, and file descriptors over 2000 requests per
// connection style (no CLOSE_WAIT left behind).
#include "httpserver/beast_http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "httpserver/endpoints.h"
#include "metrics/registry.h"
#include "support/eventually.h"
#include "support/http_client.h"

namespace sessionstore::httpserver {
namespace {

using namespace std::chrono_literals;

using sessionstore::testing::closeWaitSockets;
using sessionstore::testing::HttpResponse;
using sessionstore::testing::openFileDescriptors;
using Client = sessionstore::testing::HttpClient;
using Clock = std::chrono::steady_clock;

std::string request(std::string_view method, std::string_view path, bool keepAlive,
                    std::string_view body = {}) {
  return sessionstore::testing::httpRequest(method, path, keepAlive, body);
}
std::optional<HttpResponse> exchange(std::uint16_t port, std::string_view method,
                                     std::string_view path, std::string_view body = {}) {
  return sessionstore::testing::httpExchange(port, method, path, body);
}
int threads() { return sessionstore::testing::threadCount(); }

// Binds and listens on 127.0.0.1:port as another server would (SO_REUSEADDR, so connections
// in TIME_WAIT do not count); returns whether it could.
bool canListenOn(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
                  listen(fd, 1) == 0;
  close(fd);
  return ok;
}

// Sends `text` to the loopback address of `family` (AF_INET or AF_INET6) and returns everything
// received until the server closes (10 s at most); nullopt when the connection fails.
std::optional<std::string> rawExchange(int family, std::uint16_t port, std::string_view text) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  const timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  bool connected;
  if (family == AF_INET6) {
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(port);
    address.sin6_addr = in6addr_loopback;
    connected = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  } else {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }
  std::optional<std::string> received;
  if (connected &&
      send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size())) {
    received.emplace();
    char chunk[4096];
    for (ssize_t n; (n = recv(fd, chunk, sizeof chunk, 0)) > 0;) {
      received->append(chunk, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  return received;
}

// A server with `options` and GET /healthz answering "ok", listening on host:0.
struct TestServer {
  explicit TestServer(BeastServerOptions options = {}, const std::string& host = "127.0.0.1")
      : server(makeBeastHttpServer(options)) {
    server->handle("/healthz", [](const Request&) { return Response{.body = "ok"}; });
    const auto started = server->start(host, 0);
    if (!started) throw std::runtime_error("start: " + started.error());
    port = *started;
  }
  std::unique_ptr<HttpServer> server;
  std::uint16_t port = 0;
};

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

class BeastHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.counter("requests_total", "Requests.", {"path"}).withLabels({"/a\"b"})->inc(2);
    serveMetrics(*server_, registry_);
    serveChecks(*server_, "/healthz", live_);
    serveChecks(*server_, "/readyz", ready_);
    const auto port = server_->start("127.0.0.1", 0);
    ASSERT_TRUE(port.has_value()) << port.error();
    port_ = *port;
  }
  void TearDown() override { server_->stop(); }

  metrics::Registry registry_;
  HealthChecks live_;
  HealthChecks ready_;
  // Two threads, so that connections are served in parallel as they may be in production.
  std::unique_ptr<HttpServer> server_ = makeBeastHttpServer({.threads = 2});
  std::uint16_t port_ = 0;
};

TEST_F(BeastHttpServerTest, Port0PicksAFreePortAndReportsIt) {
  EXPECT_NE(port_, 0);
  EXPECT_EQ(server_->port(), port_);
  EXPECT_FALSE(canListenOn(port_));  // it is really ours
  const auto again = server_->start("127.0.0.1", 0);
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().find("already listening"), std::string::npos) << again.error();
}

TEST_F(BeastHttpServerTest, HealthzIsOk) {
  const auto response = exchange(port_, "GET", "/healthz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
  EXPECT_EQ(response->header("content-type"), "text/plain; charset=utf-8");
}

TEST_F(BeastHttpServerTest, ReadyzNamesTheFailingCheckUntilItPasses) {
  std::atomic<bool> synced{false};
  ready_.add("informers synced", [&] { return synced.load(); });
  ready_.add("leader elected", [] { return true; });

  auto response = exchange(port_, "GET", "/readyz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "check failed: informers synced\n");

  synced = true;
  response = exchange(port_, "GET", "/readyz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
}

TEST_F(BeastHttpServerTest, MetricsServesTheRegistryWithThePrometheusContentType) {
  const auto response = exchange(port_, "GET", "/metrics?debug=1");  // the query is ignored
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response->body,
            "# HELP requests_total Requests.\n"
            "# TYPE requests_total counter\n"
            "requests_total{path=\"/a\\\"b\"} 2\n");
}

TEST_F(BeastHttpServerTest, HandlersSeeTheMethodAndThePathAsSent) {
  for (const char* path : {"/echo", "/a%20b"}) {
    server_->handle(path,
                    [](const Request& in) { return Response{.body = in.method + " " + in.path}; });
  }
  auto response = exchange(port_, "GET", "/echo?x=1&y=/z");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "GET /echo");
  response = exchange(port_, "GET", "/a%20b");  // not percent-decoded
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "GET /a%20b");
}

TEST_F(BeastHttpServerTest, UnknownPathIs404) {
  for (const char* path : {"/", "/nope", "/healthz/", "/metrics/x"}) {
    const auto response = exchange(port_, "GET", path);
    ASSERT_TRUE(response.has_value()) << path;
    EXPECT_EQ(response->status, 404) << path;
  }
}

TEST_F(BeastHttpServerTest, MethodsOtherThanGetAndHeadAre405) {
  // OPTIONS and TRACE included: nothing answers them before the Router, and TRACE echoes nothing.
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"}) {
    const auto response = exchange(port_, method, "/healthz", "x=1");
    ASSERT_TRUE(response.has_value()) << method;
    EXPECT_EQ(response->status, 405) << method;
    EXPECT_EQ(response->header("allow"), "GET, HEAD") << method;
    EXPECT_EQ(response->body.find("Host"), std::string::npos) << method << ": " << response->body;
  }
}

TEST_F(BeastHttpServerTest, AHandlerThatThrowsIs500) {
  server_->handle("/boom", [](const Request&) -> Response { throw std::runtime_error("secret"); });
  const auto response = exchange(port_, "GET", "/boom");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body.find("secret"), std::string::npos);
}

TEST_F(BeastHttpServerTest, HeadHasNoBodyAndKeepsTheConnectionUsable) {
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(request("HEAD", "/healthz", true)));
  const auto head = client.receive(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(head->header("content-length"), "2");  // as GET says
  // Stray body bytes after the HEAD response would corrupt the next response on the connection.
  ASSERT_TRUE(client.send(request("GET", "/healthz", true)));
  const auto get = client.receive();
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "ok");
}

TEST_F(BeastHttpServerTest, ConnectionCloseIsHonoured) {
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(request("GET", "/healthz", false)));
  ASSERT_TRUE(client.receive().has_value());
  EXPECT_TRUE(client.closedByServer());
}

TEST_F(BeastHttpServerTest, Http10ClosesUnlessAskedToKeepAlive) {
  {
    Client client(port_);
    ASSERT_TRUE(client.send("GET /healthz HTTP/1.0\r\n\r\n"));
    const auto response = client.receive();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "ok");
    EXPECT_TRUE(client.closedByServer());
  }
  Client client(port_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    const auto response = client.receive();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->body, "ok");
    EXPECT_EQ(response->header("connection"), "keep-alive");
  }
}

TEST_F(BeastHttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Client client(port_);
  ASSERT_TRUE(client.connected());
  // All in one write, before reading any response.
  ASSERT_TRUE(client.send(request("GET", "/healthz", true) + request("GET", "/nope", true) +
                          request("HEAD", "/metrics", true) + request("GET", "/metrics", true) +
                          request("POST", "/healthz", true, "x=1") +
                          request("GET", "/readyz", true)));
  auto response = client.receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "ok");
  response = client.receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 404);
  response = client.receive(/*head=*/true);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  const auto headLength = response->header("content-length");
  response = client.receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(std::to_string(response->body.size()), headLength);
  EXPECT_NE(response->body.find("requests_total"), std::string::npos);
  response = client.receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 405);
  response = client.receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
}

TEST_F(BeastHttpServerTest, RequestBodiesAreReadAndIgnored) {
  Client client(port_);
  ASSERT_TRUE(client.send(request("PUT", "/healthz", true, std::string(100 * 1024, 'x'))));
  auto response = client.receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 405);
  ASSERT_TRUE(client.send(request("GET", "/healthz", true)));
  response = client.receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "ok");
}

TEST_F(BeastHttpServerTest, AnOversizeBodyIs413AndTheConnectionClosed) {
  Client client(port_);
  ASSERT_TRUE(client.send("POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                          std::to_string(2 * 1024 * 1024) + "\r\n\r\n"));
  const auto response = client.receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(client.closedByServer());
}

TEST_F(BeastHttpServerTest, GarbageIs400AndTheConnectionClosed) {
  for (const char* garbage :
       {"this is not http\r\n\r\n", "GET /healthz HTTP/1.1\r\nno colon\r\n\r\n",
        "GET /healthz HTTP/7.5\r\n\r\n", "GET /he lthz HTTP/1.1\r\n\r\n"}) {
    Client client(port_);
    ASSERT_TRUE(client.send(garbage));
    const auto response = client.receive();
    ASSERT_TRUE(response.has_value()) << garbage;
    EXPECT_EQ(response->status, 400) << garbage;
    EXPECT_TRUE(client.closedByServer()) << garbage;
  }
}

TEST_F(BeastHttpServerTest, AnOversizeHeaderIs431AndTheConnectionClosed) {
  const auto withField = [](std::size_t size) {
    return "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(size, 'a') +
           "\r\n\r\n";
  };
  {
    Client client(port_);
    ASSERT_TRUE(client.send(withField(12 * 1024)));  // under the 16 KiB default: served
    const auto response = client.receive();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
  }
  Client client(port_);
  ASSERT_TRUE(client.send(withField(20 * 1024)));
  const auto response = client.receive();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
  EXPECT_TRUE(client.closedByServer());
}

TEST_F(BeastHttpServerTest, ConcurrentClients) {
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      Client client(port_);
      for (int i = 0; i < 100 && client.connected(); ++i) {
        if (!client.send(request("GET", "/metrics", true))) return;
        const auto response = client.receive();
        if (response && response->status == 200) ++ok;
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(ok.load(), 400);
}

TEST_F(BeastHttpServerTest, StartOnATakenPortFails) {
  const auto other = makeBeastHttpServer();
  const auto result = other->start("127.0.0.1", port_);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find("127.0.0.1:" + std::to_string(port_)), std::string::npos)
      << result.error();
  EXPECT_NE(result.error().find("in use"), std::string::npos) << result.error();
  EXPECT_EQ(other->port(), 0);
}

TEST(BeastHttpServer, StartOnAPortHeldByAnotherSocketFails) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const auto port = ntohs(address.sin_port);

  const auto server = makeBeastHttpServer();
  const auto result = server->start("127.0.0.1", port);
  close(fd);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << result.error();
  EXPECT_NE(result.error().find("in use"), std::string::npos) << result.error();
}

TEST(BeastHttpServer, StartOnAnUnknownHostFails) {
  const auto server = makeBeastHttpServer();
  const auto result = server->start("no-such-host.invalid", 0);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find("no-such-host.invalid"), std::string::npos) << result.error();
  EXPECT_EQ(server->port(), 0);
}

// The machine's loopback has ::1 (checked with `ip -6 addr show lo`): this fails, rather than
// skips, where it does not.
TEST(BeastHttpServer, ListensOnIpv6Loopback) {
  for (const char* host : {"::1", "[::1]"}) {
    TestServer served({}, host);
    const auto received = rawExchange(
        AF_INET6, served.port, "GET /healthz HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(received.has_value()) << host << ": cannot connect to [::1]:" << served.port;
    EXPECT_EQ(received->substr(0, 15), "HTTP/1.1 200 OK") << host << ": " << *received;
    EXPECT_EQ(received->substr(received->size() - 2), "ok") << host << ": " << *received;
  }
}

TEST(BeastHttpServer, ResolvesAHostName) {
  TestServer served({}, "localhost");  // 127.0.0.1 or ::1, whichever the resolver gives first
  const auto text = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  auto received = rawExchange(AF_INET, served.port, text);
  if (!received) received = rawExchange(AF_INET6, served.port, text);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->substr(0, 15), "HTTP/1.1 200 OK") << *received;
}

TEST(BeastHttpServer, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
  TestServer served({.idleTimeout = 300ms, .readHeaderTimeout = 30s});
  {
    Client client(served.port);  // sends nothing
    ASSERT_TRUE(client.connected());
    const auto connected = Clock::now();
    EXPECT_TRUE(client.closedByServer());
    EXPECT_GE(since(connected), 250ms);
    EXPECT_LT(since(connected), 5s);
  }
  Client client(served.port);  // idle on keep-alive after a response
  ASSERT_TRUE(client.send(request("GET", "/healthz", true)));
  ASSERT_TRUE(client.receive().has_value());
  const auto answered = Clock::now();
  EXPECT_TRUE(client.closedByServer());
  EXPECT_GE(since(answered), 250ms);
  EXPECT_LT(since(answered), 5s);
}

TEST(BeastHttpServer, AHalfSentRequestIsClosedAfterTheReadHeaderTimeout) {
  TestServer served({.idleTimeout = 30s, .readHeaderTimeout = 300ms});
  {
    Client client(served.port);
    const auto sent = Clock::now();
    ASSERT_TRUE(client.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    EXPECT_TRUE(client.closedByServer());
    EXPECT_GE(since(sent), 250ms);
    EXPECT_LT(since(sent), 5s);
  }
  // A byte every 50 ms does not extend the deadline.
  Client client(served.port);
  const auto started = Clock::now();
  const std::string text = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  for (std::size_t i = 0; since(started) < 5s; ++i) {
    if (!client.send(std::string(1, i < text.size() ? text[i] : 'a'))) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_LT(since(started), 5s);
  EXPECT_TRUE(client.closedByServer());
}

TEST(BeastHttpServer, StopWaitsForARunningHandler) {
  std::mutex mu;
  std::condition_variable changed;
  bool entered = false, release = false, returned = false;  // GUARDED_BY(mu)
  const auto server = makeBeastHttpServer();
  server->handle("/slow", [&](const Request&) {
    std::unique_lock lock(mu);
    entered = true;
    changed.notify_all();
    changed.wait(lock, [&] { return release; });
    returned = true;
    return Response{.body = "done"};
  });
  const auto port = server->start("127.0.0.1", 0);
  ASSERT_TRUE(port.has_value()) << port.error();
  Client client(*port);
  ASSERT_TRUE(client.send(request("GET", "/slow", true)));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return entered; }));
  }
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server->stop();
    stopped = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(stopped.load());
  {
    std::lock_guard lock(mu);
    release = true;
  }
  changed.notify_all();
  stopper.join();
  std::lock_guard lock(mu);
  EXPECT_TRUE(returned);
  // The response may or may not have gone out before the connection was closed.
  const auto response = client.receive();
  if (response) {
    EXPECT_EQ(response->body, "done");
  }
  EXPECT_TRUE(client.closedByServer());
}

TEST(BeastHttpServer, StopReleasesThePortAndLeavesNoThreadRunning) {
  const int threadsBefore = threads();
  const auto server = makeBeastHttpServer({.threads = 2});
  server->handle("/healthz", [](const Request&) { return Response{.body = "ok"}; });
  const auto port = server->start("127.0.0.1", 0);
  ASSERT_TRUE(port.has_value()) << port.error();
  EXPECT_EQ(threads(), threadsBefore + 2);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(exchange(*port, "GET", "/healthz").has_value());

  // A client idle on a keep-alive connection, and one half-way through a request: stop() closes
  // both instead of waiting for them.
  Client idle(*port);
  ASSERT_TRUE(idle.send(request("GET", "/healthz", true)));
  ASSERT_TRUE(idle.receive().has_value());
  Client halfway(*port);
  ASSERT_TRUE(halfway.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));

  const auto stopStarted = Clock::now();
  server->stop();
  EXPECT_LT(since(stopStarted), 1s);
  EXPECT_EQ(server->port(), 0);
  EXPECT_TRUE(idle.closedByServer());
  EXPECT_TRUE(halfway.closedByServer());
  EXPECT_EQ(sessionstore::testing::threadCountSettledAt(threadsBefore), threadsBefore);
  server->stop();  // twice: nothing to do

  EXPECT_FALSE(Client(*port).connected());
  EXPECT_TRUE(canListenOn(*port));
  const auto again = server->start("127.0.0.1", *port);
  ASSERT_TRUE(again.has_value()) << again.error();
  const auto response = exchange(*port, "GET", "/healthz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "ok");
  server->stop();
  EXPECT_EQ(sessionstore::testing::threadCountSettledAt(threadsBefore), threadsBefore);
}

// The regression test for the CI hang: cpprestsdk's http_listener::close() sometimes never
// returned with a client connected (microsoft/cpprestsdk#13, #1485).
TEST(BeastHttpServer, StopWithAnIdleAndAHalfSentClientReturnsPromptlyEveryTime) {
  const int threadsBefore = threads();
  for (int i = 0; i < 50; ++i) {
    TestServer served;
    Client idle(served.port);
    ASSERT_TRUE(idle.send(request("GET", "/healthz", true))) << i;
    ASSERT_TRUE(idle.receive().has_value()) << i;
    Client halfway(served.port);
    ASSERT_TRUE(halfway.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")) << i;
    Client silent(served.port);
    ASSERT_TRUE(silent.connected()) << i;

    const auto stopStarted = Clock::now();
    served.server->stop();
    const auto took = since(stopStarted);
    ASSERT_LT(took, 1s) << "iteration " << i;
    EXPECT_TRUE(idle.closedByServer()) << i;
    EXPECT_TRUE(halfway.closedByServer()) << i;
    EXPECT_TRUE(silent.closedByServer()) << i;
  }
  EXPECT_EQ(sessionstore::testing::threadCountSettledAt(threadsBefore), threadsBefore);
}

TEST(BeastHttpServer, DestroyingARunningServerStopsIt) {
  const int threadsBefore = threads();
  std::uint16_t port;
  std::optional<Client> idle;
  {
    TestServer served;
    port = served.port;
    idle.emplace(port);
    ASSERT_TRUE(idle->send(request("GET", "/healthz", true)));
    ASSERT_TRUE(idle->receive().has_value());
  }
  EXPECT_TRUE(idle->closedByServer());
  EXPECT_EQ(sessionstore::testing::threadCountSettledAt(threadsBefore), threadsBefore);
  EXPECT_TRUE(canListenOn(port));
}

// Each server owns its listening socket (cpprestsdk's listeners shared one Asio server, which kept
// a stopped server's port bound while another listener of the process was open).
TEST(BeastHttpServer, AStoppedServerReleasesItsPortWhileAnotherIsOpen) {
  TestServer first;
  TestServer second;
  first.server->stop();
  EXPECT_TRUE(canListenOn(first.port));
  const auto response = exchange(second.port, "GET", "/healthz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "ok");
}

enum class Style {
  kClose,           // "Connection: close": one request per connection, the server closes
  kKeepAliveDrop,   // keep-alive, but the client closes after one response (CLOSE_WAIT risk)
  kKeepAliveReuse,  // every request on one keep-alive connection
  kAbandon,         // the client sends a request and closes without reading the response
};

// 2000 sequential requests in one style; reports and bounds how many file descriptors the
// process has afterwards compared with before.
void expectNoDescriptorGrowth(std::uint16_t port, Style style, const char* name) {
  constexpr int kRequests = 2000;
  constexpr int kAllowedGrowth = 4;
  {
    // One request first, so anything created lazily on the first request exists before
    // counting; the server's end of it is closed once its FIN arrives.
    Client first(port);
    ASSERT_TRUE(first.send(request("GET", "/metrics", false)));
    ASSERT_TRUE(first.receive().has_value());
    ASSERT_TRUE(first.closedByServer());
  }
  const int before = openFileDescriptors();

  std::optional<Client> reused;
  if (style == Style::kKeepAliveReuse) reused.emplace(port);
  int ok = 0;
  for (int i = 0; i < kRequests; ++i) {
    std::optional<HttpResponse> response;
    if (style == Style::kKeepAliveReuse) {
      if (reused->send(request("GET", "/metrics", true))) response = reused->receive();
    } else if (style == Style::kAbandon) {
      Client client(port);
      if (client.send(request("GET", "/metrics", true))) response = HttpResponse{.status = 200};
    } else {
      Client client(port);
      if (client.send(request("GET", "/metrics", style == Style::kKeepAliveDrop))) {
        response = client.receive();
      }
    }
    if (response && response->status == 200) ++ok;
  }
  reused.reset();
  EXPECT_EQ(ok, kRequests);

  // The server closes its side asynchronously after the client has gone: give it time.
  sessionstore::testing::eventually(
      [&] {
        return openFileDescriptors() <= before + kAllowedGrowth && closeWaitSockets(port) == 0;
      },
      10s, 50ms);
  const int growth = openFileDescriptors() - before;
  const int closeWait = closeWaitSockets(port);
  std::cout << "[ fds ] " << name << ": " << kRequests << " requests, open descriptors " << before
            << " -> " << before + growth << " (" << (growth >= 0 ? "+" : "") << growth
            << "), server sockets in CLOSE_WAIT: " << closeWait << "\n";
  ::testing::Test::RecordProperty("fd_growth", growth);
  ::testing::Test::RecordProperty("close_wait", closeWait);
  EXPECT_LE(growth, kAllowedGrowth);
  EXPECT_EQ(closeWait, 0);
}

TEST_F(BeastHttpServerTest, NoDescriptorGrowthWithConnectionClose) {
  expectNoDescriptorGrowth(port_, Style::kClose, "Connection: close");
}

TEST_F(BeastHttpServerTest, NoDescriptorGrowthWhenKeepAliveClientsHangUp) {
  expectNoDescriptorGrowth(port_, Style::kKeepAliveDrop,
                           "keep-alive, client closes after each response");
}

TEST_F(BeastHttpServerTest, NoDescriptorGrowthOnOneKeepAliveConnection) {
  expectNoDescriptorGrowth(port_, Style::kKeepAliveReuse, "keep-alive, one connection");
}

TEST_F(BeastHttpServerTest, NoDescriptorGrowthWhenClientsAbandonRequests) {
  expectNoDescriptorGrowth(port_, Style::kAbandon, "client closes before reading the response");
}

}  // namespace
}  // namespace sessionstore::httpserver
