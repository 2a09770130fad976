// A TLS-terminating proxy in front of kube-apiserver that can make the API server misbehave the
// way a loaded or broken one does, for the fault tests: it terminates the client's TLS with a
// certificate of its own (makeTestCertificate), opens its own TLS connection to the real server
// (verified with the server's CA) and, in forward mode, passes bytes both ways after the first
// request head (a byte pipe per connection, so watches stream). In fault mode it answers every
// request itself with an error status (429 with Retry-After, 500, 503) and a Kubernetes Status
// body, and records when each request came. cut() closes every open connection and refuses new
// ones. Entering fault or cut mode closes the open connections, so a client's watches and
// keep-alive connections meet the fault too.
//
// Authentication must be a bearer token (it passes through in the Authorization header); a
// client certificate ends at the proxy.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sessionstore::testing {

// A CA and a server certificate for IP 127.0.0.1 and DNS localhost, made with the openssl CLI
// in `dir` (which must exist). Throws std::runtime_error with openssl's output on failure.
struct TestCertificate {
  std::string caFile;
  std::string certFile;
  std::string keyFile;
};
TestCertificate makeTestCertificate(const std::string& dir);

class FaultProxy {
 public:
  enum class Mode { kForward, kCut, kFault };

  // One request answered in fault mode.
  struct FaultedRequest {
    std::chrono::steady_clock::time_point at;
    std::string method;
    std::string target;
  };

  // Listens on 127.0.0.1 on a port the OS picks, serving `certificate`; forwards to
  // 127.0.0.1:targetPort over TLS, trusting `upstreamCaFile`. Starts in forward mode.
  FaultProxy(int targetPort, const std::string& upstreamCaFile, const TestCertificate& certificate);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }

  void forward();
  void cut();
  // Every request is answered with `status` (429, 500, 503, ...); a 429 carries
  // Retry-After: retryAfterSeconds (header and Status details).
  void fault(int status, int retryAfterSeconds = 1);

  // The requests answered in fault mode so far, in order.
  std::vector<FaultedRequest> faulted() const;
  // Connections forwarded to the API server so far.
  int forwardedConnections() const { return forwarded_; }

 private:
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void acceptLoop();
  void serve(int clientFd, uint64_t generation);
  void closeOpenConnections();  // REQUIRES: mu_ held
  // Registers an open socket, so that cut() can shut it down; false when the generation
  // changed since the connection was accepted (it must close at once).
  bool track(int fd, uint64_t generation);
  void untrack(int fd);

  const int targetPort_;
  int listenFd_ = -1;
  int port_ = 0;
  void* serverCtx_ = nullptr;  // SSL_CTX*, kept opaque so the header needs no OpenSSL
  void* clientCtx_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::atomic<int> forwarded_{0};

  mutable std::mutex mu_;
  Mode mode_ = Mode::kForward;              // GUARDED_BY(mu_)
  int faultStatus_ = 503;                   // GUARDED_BY(mu_)
  int retryAfter_ = 1;                      // GUARDED_BY(mu_)
  uint64_t generation_ = 0;                 // GUARDED_BY(mu_); bumped on every mode change
  std::set<int> open_;                      // GUARDED_BY(mu_): sockets of live connections
  std::vector<FaultedRequest> faulted_;     // GUARDED_BY(mu_)
  std::list<std::unique_ptr<Connection>> connections_;  // accept thread only (and destructor)
  std::thread acceptThread_;
};

}  // namespace sessionstore::testing
