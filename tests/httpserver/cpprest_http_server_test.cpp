// The cpprestsdk HttpServer on loopback, seen through a plain socket client so the test controls
// keep-alive and sees what goes over the wire: the endpoints' answers, 404 and 405, port 0,
// stop() releasing the port, threads and connections, and file descriptors over 2000 requests
// per connection style (the CLOSE_WAIT leak reported against http_listener).
#include "httpserver/cpprest_http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "httpserver/endpoints.h"
#include "metrics/registry.h"
#include "support/eventually.h"
#include "support/http_client.h"

// LeakSanitizer (ASan builds): cpprestsdk finishes work on its thread pool after close() has
// returned (the aborted accept, continuations of replies cut short) and never runs what is still
// queued when the process exits, so a test process that exits right after stop() shows those
// allocations as leaks. Ignore allocations made under libcpprest or pplx's task machinery only.
// This also hides leaks in handler code called from cpprestsdk; the handlers used here (Router,
// HealthChecks, Registry) are leak-checked by their unit tests, which run without cpprestsdk.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcpprest.so\n"
         "leak:pplxtasks.h\n";
}

namespace sessionstore::httpserver {
namespace {

using namespace std::chrono_literals;

using sessionstore::testing::closeWaitSockets;
using sessionstore::testing::HttpResponse;
using sessionstore::testing::openFileDescriptors;
using Client = sessionstore::testing::HttpClient;

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

class CpprestHttpServerTest : public ::testing::Test {
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
  std::unique_ptr<HttpServer> server_ = makeCpprestHttpServer();
  std::uint16_t port_ = 0;
};

TEST_F(CpprestHttpServerTest, Port0PicksAFreePortAndReportsIt) {
  EXPECT_NE(port_, 0);
  EXPECT_EQ(server_->port(), port_);
  EXPECT_FALSE(canListenOn(port_));  // it is really ours
  const auto again = server_->start("127.0.0.1", 0);
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().find("already listening"), std::string::npos) << again.error();
}

TEST_F(CpprestHttpServerTest, HealthzIsOk) {
  const auto response = exchange(port_, "GET", "/healthz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
  EXPECT_EQ(response->header("content-type"), "text/plain; charset=utf-8");
}

TEST_F(CpprestHttpServerTest, ReadyzNamesTheFailingCheckUntilItPasses) {
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

TEST_F(CpprestHttpServerTest, MetricsServesTheRegistryWithThePrometheusContentType) {
  const auto response = exchange(port_, "GET", "/metrics?debug=1");  // the query is ignored
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response->body,
            "# HELP requests_total Requests.\n"
            "# TYPE requests_total counter\n"
            "requests_total{path=\"/a\\\"b\"} 2\n");
}

TEST_F(CpprestHttpServerTest, UnknownPathIs404) {
  for (const char* path : {"/", "/nope", "/healthz/", "/metrics/x"}) {
    const auto response = exchange(port_, "GET", path);
    ASSERT_TRUE(response.has_value()) << path;
    EXPECT_EQ(response->status, 404) << path;
  }
}

TEST_F(CpprestHttpServerTest, MethodsOtherThanGetAndHeadAre405) {
  // OPTIONS and TRACE included: http_listener answers them itself unless told otherwise, and its
  // TRACE echoes the request back.
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"}) {
    const auto response = exchange(port_, method, "/healthz", "x=1");
    ASSERT_TRUE(response.has_value()) << method;
    EXPECT_EQ(response->status, 405) << method;
    EXPECT_EQ(response->header("allow"), "GET, HEAD") << method;
    EXPECT_EQ(response->body.find("Host"), std::string::npos) << method << ": " << response->body;
  }
}

TEST_F(CpprestHttpServerTest, HeadHasNoBodyAndKeepsTheConnectionUsable) {
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(request("HEAD", "/healthz", true)));
  const auto head = client.receive(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "text/plain; charset=utf-8");
  // Stray body bytes after the HEAD response would corrupt the next response on the connection.
  ASSERT_TRUE(client.send(request("GET", "/healthz", true)));
  const auto get = client.receive();
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "ok");
}

TEST_F(CpprestHttpServerTest, ConnectionCloseIsHonoured) {
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(request("GET", "/healthz", false)));
  ASSERT_TRUE(client.receive().has_value());
  EXPECT_TRUE(client.closedByServer());
}

TEST_F(CpprestHttpServerTest, ConcurrentClients) {
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

TEST_F(CpprestHttpServerTest, StartOnATakenPortFails) {
  const auto other = makeCpprestHttpServer();
  const auto result = other->start("127.0.0.1", port_);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find(std::to_string(port_)), std::string::npos) << result.error();
  EXPECT_EQ(other->port(), 0);
}

// A socket that is not cpprestsdk's holds the port: bind fails with EADDRINUSE.
TEST(CpprestHttpServer, StartOnAPortHeldByAnotherSocketFails) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const auto port = ntohs(address.sin_port);

  const auto server = makeCpprestHttpServer();
  const auto result = server->start("127.0.0.1", port);
  close(fd);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find("in use"), std::string::npos) << result.error();
}

TEST(CpprestHttpServer, StartOnAnUnknownHostFails) {
  const auto server = makeCpprestHttpServer();
  const auto result = server->start("no-such-host.invalid", 0);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find("no-such-host.invalid"), std::string::npos) << result.error();
}

TEST(CpprestHttpServer, StopReleasesThePortAndLeavesNoThreadRunning) {
  const int threadsAtStart = threads();
  {
    // cpprestsdk creates its process-wide thread pool on first use and keeps it: start and stop
    // once so that the pool exists before counting.
    const auto warmUp = makeCpprestHttpServer();
    ASSERT_TRUE(warmUp->start("127.0.0.1", 0).has_value());
    warmUp->stop();
  }
  const int threadsBefore = threads();

  const auto server = makeCpprestHttpServer();
  server->handle("/healthz", [](const Request&) { return Response{.body = "ok"}; });
  const auto port = server->start("127.0.0.1", 0);
  ASSERT_TRUE(port.has_value()) << port.error();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(exchange(*port, "GET", "/healthz").has_value());

  // A client idle on a keep-alive connection, and one half-way through a request: stop() closes
  // both instead of waiting for them.
  Client idle(*port);
  ASSERT_TRUE(idle.send(request("GET", "/healthz", true)));
  ASSERT_TRUE(idle.receive().has_value());
  Client halfway(*port);
  ASSERT_TRUE(halfway.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));

  const auto stopStarted = std::chrono::steady_clock::now();
  server->stop();
  const auto stopTook = std::chrono::steady_clock::now() - stopStarted;
  EXPECT_LT(stopTook, 5s);
  EXPECT_EQ(server->port(), 0);
  EXPECT_TRUE(idle.closedByServer());
  EXPECT_TRUE(halfway.closedByServer());

  EXPECT_EQ(threads(), threadsBefore);
  std::cout << "[ threads ] created by the first server (cpprestsdk's pool, kept until exit; 0 "
               "when an earlier test in this process created it): "
            << threadsBefore - threadsAtStart
            << "; left by start, 20 requests and stop: " << threads() - threadsBefore << "\n";
  RecordProperty("cpprest_pool_threads", threadsBefore - threadsAtStart);

  EXPECT_FALSE(Client(*port).connected());
  EXPECT_TRUE(canListenOn(*port));
  const auto again = server->start("127.0.0.1", *port);
  ASSERT_TRUE(again.has_value()) << again.error();
  const auto response = exchange(*port, "GET", "/healthz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "ok");
  server->stop();
}

// Pins a limitation documented in cpprest_http_server.h (delete with the implementation): all
// listeners of a process share one Asio server, which closes a listening socket only when the
// last listener closes. A server stopped while another is open keeps its port, answering 404.
TEST(CpprestHttpServer, KnownLimitationAStoppedPortStaysBoundWhileAnotherListenerIsOpen) {
  const auto first = makeCpprestHttpServer();
  const auto second = makeCpprestHttpServer();
  first->handle("/healthz", [](const Request&) { return Response{.body = "ok"}; });
  const auto firstPort = first->start("127.0.0.1", 0);
  ASSERT_TRUE(firstPort.has_value()) << firstPort.error();
  ASSERT_TRUE(second->start("127.0.0.1", 0).has_value());

  first->stop();
  EXPECT_FALSE(canListenOn(*firstPort));
  const auto response = exchange(*firstPort, "GET", "/healthz");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 404);

  second->stop();
  EXPECT_TRUE(canListenOn(*firstPort));
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

TEST_F(CpprestHttpServerTest, NoDescriptorGrowthWithConnectionClose) {
  expectNoDescriptorGrowth(port_, Style::kClose, "Connection: close");
}

TEST_F(CpprestHttpServerTest, NoDescriptorGrowthWhenKeepAliveClientsHangUp) {
  expectNoDescriptorGrowth(port_, Style::kKeepAliveDrop,
                           "keep-alive, client closes after each response");
}

TEST_F(CpprestHttpServerTest, NoDescriptorGrowthOnOneKeepAliveConnection) {
  expectNoDescriptorGrowth(port_, Style::kKeepAliveReuse, "keep-alive, one connection");
}

TEST_F(CpprestHttpServerTest, NoDescriptorGrowthWhenClientsAbandonRequests) {
  expectNoDescriptorGrowth(port_, Style::kAbandon, "client closes before reading the response");
}

}  // namespace
}  // namespace sessionstore::httpserver
