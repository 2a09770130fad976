// The operator's own HTTP server, for /metrics, /healthz and /readyz: a narrow interface so the
// transport can be replaced (Boost.Beast today, see beast_http_server.h). Handlers see a method
// and a path and return a whole response; the Router, shared by every implementation, answers
// what is not a handler's business: 404 for an unknown path, 405 for methods other than GET and
// HEAD, 500 when a handler throws. A HEAD response is the GET response without its body.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sessionstore::httpserver {

struct Request {
  std::string method;  // "GET", "HEAD", ...
  std::string path;    // without the query string, as sent (not percent-decoded)
};

struct Response {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Runs on the server's threads, possibly several at once: it must be thread-safe.
using Handler = std::function<Response(const Request&)>;

class HttpServer {
 public:
  virtual ~HttpServer() = default;

  // Serves `path` (exact match) with `handler`, replacing any previous handler for it. May be
  // called before or after start().
  virtual void handle(std::string path, Handler handler) = 0;

  // Listens on host:port (an IPv4 or IPv6 address, or a host name); port 0 picks a free port.
  // Returns the port listened on, or what went wrong (the port is taken, the host does not
  // resolve).
  // REQUIRES: not started.
  virtual std::expected<std::uint16_t, std::string> start(const std::string& host,
                                                          std::uint16_t port) = 0;

  // Stops listening, closes open connections and returns once no handler runs. Does nothing
  // when not started; start() may be called again afterwards.
  // REQUIRES: not called from a handler.
  virtual void stop() = 0;

  // The port listened on; 0 when not started.
  virtual std::uint16_t port() const = 0;
};

// Paths to handlers, with the answers common to every transport. Thread-safe.
class Router {
 public:
  void handle(std::string path, Handler handler);
  // The handler's response for GET and HEAD of a known path; 404, 405 (with Allow) or 500
  // otherwise. The body is kept for HEAD: the transport drops it.
  Response route(const Request& request) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Handler, std::less<>> handlers_;  // GUARDED_BY(mu_)
};

}  // namespace sessionstore::httpserver
