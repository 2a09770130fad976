// A plain-socket HTTP/1.1 client for tests and benchmarks that judge the operator's own HTTP
// server from outside: it controls keep-alive and connection closing exactly, and counts file
// descriptors and CLOSE_WAIT sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sessionstore::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// The text of one request; keepAlive false adds "Connection: close".
std::string httpRequest(std::string_view method, std::string_view path, bool keepAlive,
                        std::string_view body = {}, std::string_view host = "127.0.0.1");

// An HTTP/1.1 client on a plain blocking socket to 127.0.0.1, with a 10 s timeout on every read
// and write (and on connecting).
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port);
  // To another IPv4 address, in dotted form (a pod's or a Service's ClusterIP); not connected
  // when the text is not one.
  HttpClient(const std::string& ipv4, std::uint16_t port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool connected() const { return connected_; }
  bool send(std::string_view data);
  // One whole response (no body for HEAD); nullopt if the connection ended or timed out first.
  std::optional<HttpResponse> receive(bool head = false);
  // Whether the server closed the connection (a read sees the end, or a reset) within 10 s.
  bool closedByServer();

 private:
  bool fill();

  int fd_;
  bool connected_ = false;
  std::string buffer_;
};

// One request on its own connection, closed after the response.
std::optional<HttpResponse> httpExchange(std::uint16_t port, std::string_view method,
                                         std::string_view path, std::string_view body = {});
// The same to an IPv4 address other than loopback (its Host header names that address).
std::optional<HttpResponse> httpExchange(const std::string& ipv4, std::uint16_t port,
                                         std::string_view method, std::string_view path,
                                         std::string_view body = {});

int openFileDescriptors();
int threadCount();
// The thread count once it equals `expected`, or whatever it is after `within`. pthread_join returns
// when the kernel clears the thread's id, a moment before its /proc/self/task entry goes, so a
// count taken right after a join can still see the joined thread.
int threadCountSettledAt(int expected, std::chrono::milliseconds within = std::chrono::seconds(1));
// Resident memory of this process in KiB (VmRSS).
long residentKiB();
// TCP sockets in CLOSE_WAIT whose local port is `port`, from /proc/net/tcp.
int closeWaitSockets(std::uint16_t port);

}  // namespace sessionstore::testing
