// The narrow HTTP interface the Kubernetes client speaks through: one request and its whole
// response, or a streamed response read line by line (watches). It hides the HTTP library
// (cpprestsdk today, whose upstream is archived) so it can be replaced without touching the
// client; soak benchmarks under bench/ judge it.
#pragma once

#include <chrono>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace sessionstore::transport {

struct TlsConfig {
  std::string caPem;          // trust only this CA; empty: the system's trust store
  std::string clientCertPem;  // client certificate chain, with clientKeyPem
  std::string clientKeyPem;
  bool insecureSkipVerify = false;  // only when the user said so in so many words
  std::string serverName;           // SNI and verification name, when not the URL's host
};

struct TransportConfig {
  std::string baseUrl;  // https://host:port (the path of every request is appended)
  TlsConfig tls;
  // Idle timeout of ordinary requests: the longest wait for the next bytes of an answer.
  std::chrono::seconds requestTimeout{30};
  // Idle timeout of streams; must exceed the longest quiet period of a watch.
  std::chrono::seconds streamTimeout{660};
};

struct Request {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string target;  // path and query, already escaped: /api/v1/pods?limit=500
  std::map<std::string, std::string> headers;
  std::string body;
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::optional<std::string> header(const std::string& lowerCaseName) const;
};

enum class FailureKind {
  kConnect,    // refused, reset, DNS, no route
  kTls,        // handshake or verification failed
  kTimeout,    // no bytes within the idle timeout
  kCancelled,  // cancel() was called
  kOther,
};

struct Failure {
  FailureKind kind = FailureKind::kOther;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Failure>;

// A response whose body arrives over time (a watch). status and headers are known at once.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual int status() const = 0;
  virtual std::optional<std::string> header(const std::string& lowerCaseName) const = 0;
  // The next line without its newline; std::nullopt at the end of the body.
  virtual Result<std::optional<std::string>> readLine() = 0;
  // Reads the rest of the body (for an error status).
  virtual Result<std::string> readAll() = 0;
  // Aborts the stream from any thread; a blocked readLine() returns kCancelled.
  virtual void cancel() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<Response> send(const Request& request) = 0;
  virtual Result<std::unique_ptr<Stream>> stream(const Request& request) = 0;
};

// What every request says it comes from, as client-go does ("kubectl/v1.34.4 (linux/amd64)"):
// "sessionstore-operator/VERSION (OS/ARCH)", VERSION being the project's (what `version` prints).
// The API server's audit log and its `apiserver_request_total` can then tell the operator's
// requests from everyone else's.
std::string userAgent();

// cpprestsdk's http_client. Every request and stream it sends carries the User-Agent above (a
// Request's own User-Agent header wins). Fails with a message when the TLS material cannot be
// loaded.
Result<std::unique_ptr<Transport>> makeCppRestTransport(const TransportConfig& config);

}  // namespace sessionstore::transport
