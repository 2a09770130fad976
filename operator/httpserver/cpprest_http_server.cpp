#include "httpserver/cpprest_http_server.h"

#include <cpprest/http_listener.h>
#include <cpprest/uri_builder.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <vector>

namespace sessionstore::httpserver {
namespace {

using web::http::experimental::listener::http_listener;

// How many free ports start(host, 0) tries before giving up.
constexpr int kPickAttempts = 20;

struct OpenFailure {
  bool addressInUse = false;
  std::string message;
};

// A port that is free on `host` right now: bound to port 0, read back, released.
std::expected<std::uint16_t, std::string> pickFreePort(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), "0", &hints, &found); rc != 0) {
    return std::unexpected("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
  const int fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
  std::string error;
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    error = "bind " + host + ":0: " + std::strerror(errno);
  } else if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    error = std::string("getsockname: ") + std::strerror(errno);
  }
  close(fd);
  if (!error.empty()) return std::unexpected(error);
  const std::uint16_t port = bound.ss_family == AF_INET6
                                 ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                 : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port;
  return ntohs(port);
}

class CpprestHttpServer final : public HttpServer {
 public:
  ~CpprestHttpServer() override { stop(); }

  void handle(std::string path, Handler handler) override {
    router_.handle(std::move(path), std::move(handler));
  }

  std::expected<std::uint16_t, std::string> start(const std::string& host,
                                                  std::uint16_t port) override {
    std::lock_guard lock(mu_);
    if (listener_) return std::unexpected("already listening on port " + std::to_string(port_));
    if (port != 0) {
      auto opened = open(host, port);
      if (!opened) return std::unexpected(opened.error().message);
      return started(std::move(*opened), port);
    }
    std::string lastError;
    for (int attempt = 0; attempt < kPickAttempts; ++attempt) {
      const auto candidate = pickFreePort(host);
      if (!candidate) return std::unexpected(candidate.error());
      auto opened = open(host, *candidate);
      if (opened) return started(std::move(*opened), *candidate);
      if (!opened.error().addressInUse) return std::unexpected(opened.error().message);
      lastError = opened.error().message;  // taken since we picked it: pick another
    }
    return std::unexpected("no free port on " + host + " after " + std::to_string(kPickAttempts) +
                           " attempts: " + lastError);
  }

  void stop() override {
    std::lock_guard lock(mu_);
    if (!listener_) return;
    try {
      // Closes the acceptor and every connection, and waits for running handlers.
      listener_->close().wait();
    } catch (const std::exception&) {
      // Closing a listener that failed underneath: nothing left to release.
    }
    listener_.reset();
    port_ = 0;
  }

  std::uint16_t port() const override { return port_; }

 private:
  std::uint16_t started(std::unique_ptr<http_listener> listener, std::uint16_t port) {
    listener_ = std::move(listener);
    port_ = port;
    return port;
  }

  std::expected<std::unique_ptr<http_listener>, OpenFailure> open(const std::string& host,
                                                                  std::uint16_t port) {
    try {
      web::uri_builder uri;
      uri.set_scheme("http").set_host(host).set_port(port).set_path("/");
      auto listener = std::make_unique<http_listener>(uri.to_uri());
      const auto serveRequest = [this](const web::http::http_request& request) { serve(request); };
      // OPTIONS and TRACE have built-in answers (TRACE echoes the request) unless a handler is
      // registered for them specifically: route them too, so they get 405 like other methods.
      listener->support(serveRequest);
      listener->support(web::http::methods::OPTIONS, serveRequest);
      listener->support(web::http::methods::TRCE, serveRequest);
      listener->open().wait();
      return listener;
    } catch (const boost::system::system_error& e) {
      return std::unexpected(
          OpenFailure{.addressInUse = e.code() == boost::asio::error::address_in_use,
                      .message = host + ":" + std::to_string(port) + ": " + e.what()});
    } catch (const std::exception& e) {
      return std::unexpected(
          OpenFailure{.message = host + ":" + std::to_string(port) + ": " + e.what()});
    }
  }

  void serve(const web::http::http_request& request) const {
    const Request in{.method = request.method(), .path = request.request_uri().path()};
    Response out = router_.route(in);
    web::http::http_response response(static_cast<web::http::status_code>(out.status));
    for (const auto& [name, value] : out.headers) response.headers().add(name, value);
    response.headers().set_content_type(out.contentType);  // set_body keeps it
    if (in.method != "HEAD") {
      // From bytes, not from a std::string: cpprestsdk reads a string body through a
      // streambuf<char> reinterpreted as streambuf<unsigned char>, which UBSan reports.
      response.set_body(std::vector<unsigned char>(out.body.begin(), out.body.end()));
    }
    // The reply completes asynchronously; its failure (the client went away) must be observed
    // here, or pplx terminates the process when the task is destroyed.
    request.reply(response).then([](const pplx::task<void>& sent) {
      try {
        sent.get();
      } catch (...) {
        // Nothing to do: the client is gone, or the server is stopping.
      }
    });
  }

  Router router_;
  std::mutex mu_;                            // serializes start() and stop()
  std::unique_ptr<http_listener> listener_;  // GUARDED_BY(mu_)
  std::atomic<std::uint16_t> port_{0};  // written under mu_; read without it (from handlers too)
};

}  // namespace

std::unique_ptr<HttpServer> makeCpprestHttpServer() {
  return std::make_unique<CpprestHttpServer>();
}

}  // namespace sessionstore::httpserver
