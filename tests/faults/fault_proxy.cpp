#include "fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "process.h"

namespace sessionstore::testing {

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

SSL_CTX* ctx(void* p) { return static_cast<SSL_CTX*>(p); }

std::string opensslError() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

void setTimeouts(int fd, int seconds) {
  timeval tv{.tv_sec = seconds, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void setNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Writes all of `data` to a non-blocking TLS connection; false when it broke or stalled 10 s.
bool writeAll(SSL* ssl, int fd, const char* data, int size) {
  while (size > 0) {
    const int n = SSL_write(ssl, data, size);
    if (n > 0) {
      data += n;
      size -= n;
      continue;
    }
    const int error = SSL_get_error(ssl, n);
    pollfd p{.fd = fd, .events = 0, .revents = 0};
    if (error == SSL_ERROR_WANT_WRITE) {
      p.events = POLLOUT;
    } else if (error == SSL_ERROR_WANT_READ) {
      p.events = POLLIN;
    } else {
      return false;
    }
    if (::poll(&p, 1, 10'000) <= 0) return false;
  }
  return true;
}

// Reads a request head (through the blank line) from a blocking TLS connection; the bytes read
// past it stay in `rest`. Empty when the connection ended first.
std::string readHead(SSL* ssl, std::string& rest) {
  std::string data;
  char buffer[16384];
  while (data.size() < 1'000'000) {
    if (const auto end = data.find("\r\n\r\n"); end != std::string::npos) {
      rest = data.substr(end + 4);
      return data.substr(0, end + 4);
    }
    const int n = SSL_read(ssl, buffer, sizeof buffer);
    if (n <= 0) return "";
    data.append(buffer, static_cast<size_t>(n));
  }
  return "";
}

std::string reasonFor(int status) {
  switch (status) {
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    default:
      return "InternalError";
  }
}

std::string statusText(int status) {
  switch (status) {
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

}  // namespace

TestCertificate makeTestCertificate(const std::string& dir) {
  const std::string script = R"(set -e
cd ")" + dir + R"("
openssl ecparam -name prime256v1 -genkey -noout -out proxy-ca.key
openssl req -x509 -new -key proxy-ca.key -subj "/CN=fault-proxy-test-ca" -days 1 -out proxy-ca.crt
openssl ecparam -name prime256v1 -genkey -noout -out proxy.key
openssl req -new -key proxy.key -subj "/CN=fault-proxy" -out proxy.csr
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > proxy.ext
openssl x509 -req -in proxy.csr -CA proxy-ca.crt -CAkey proxy-ca.key -CAcreateserial -days 1 \
  -extfile proxy.ext -out proxy.crt
chmod 600 proxy-ca.key proxy.key
)";
  const auto result = runProcess({"bash", "-c", script});
  if (!result.ok()) throw std::runtime_error("making the proxy's certificate: " + result.describe());
  return {.caFile = dir + "/proxy-ca.crt",
          .certFile = dir + "/proxy.crt",
          .keyFile = dir + "/proxy.key"};
}

FaultProxy::FaultProxy(int targetPort, const std::string& upstreamCaFile,
                       const TestCertificate& certificate)
    : targetPort_(targetPort) {
  // A peer that closes while the proxy writes must not kill the test process.
  ::signal(SIGPIPE, SIG_IGN);
  SSL_CTX* server = SSL_CTX_new(TLS_server_method());
  serverCtx_ = server;
  if (server == nullptr ||
      SSL_CTX_use_certificate_chain_file(server, certificate.certFile.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(server, certificate.keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("fault proxy: server TLS: " + opensslError());
  }
  SSL_CTX* client = SSL_CTX_new(TLS_client_method());
  clientCtx_ = client;
  if (client == nullptr ||
      SSL_CTX_load_verify_locations(client, upstreamCaFile.c_str(), nullptr) != 1) {
    throw std::runtime_error("fault proxy: client TLS: " + opensslError());
  }
  SSL_CTX_set_verify(client, SSL_VERIFY_PEER, nullptr);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(client), "127.0.0.1");

  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto addr = loopback(0);
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listenFd_, 128) != 0) {
    throw std::runtime_error(std::string("fault proxy listen: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptThread_ = std::thread([this] { acceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  {
    std::lock_guard lock(mu_);
    ++generation_;
    closeOpenConnections();
  }
  if (acceptThread_.joinable()) acceptThread_.join();
  for (auto& c : connections_) c->thread.join();
  ::close(listenFd_);
  SSL_CTX_free(ctx(serverCtx_));
  SSL_CTX_free(ctx(clientCtx_));
}

void FaultProxy::forward() {
  std::lock_guard lock(mu_);
  mode_ = Mode::kForward;
  ++generation_;
}

void FaultProxy::cut() {
  std::lock_guard lock(mu_);
  mode_ = Mode::kCut;
  ++generation_;
  closeOpenConnections();
}

void FaultProxy::fault(int status, int retryAfterSeconds) {
  std::lock_guard lock(mu_);
  mode_ = Mode::kFault;
  faultStatus_ = status;
  retryAfter_ = retryAfterSeconds;
  ++generation_;
  closeOpenConnections();
}

std::vector<FaultProxy::FaultedRequest> FaultProxy::faulted() const {
  std::lock_guard lock(mu_);
  return faulted_;
}

void FaultProxy::closeOpenConnections() {
  // shutdown() wakes the connection's thread (its poll or read returns), which closes the socket.
  for (const int fd : open_) ::shutdown(fd, SHUT_RDWR);
}

bool FaultProxy::track(int fd, uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation != generation_ && mode_ != Mode::kForward) return false;
  open_.insert(fd);
  return true;
}

void FaultProxy::untrack(int fd) {
  std::lock_guard lock(mu_);
  open_.erase(fd);
}

void FaultProxy::acceptLoop() {
  while (!stopping_) {
    pollfd p{.fd = listenFd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    uint64_t generation = 0;
    bool refuse = false;
    {
      std::lock_guard lock(mu_);
      generation = generation_;
      refuse = mode_ == Mode::kCut;
    }
    if (refuse) {
      ::close(fd);
      continue;
    }
    // Reap the threads of connections that ended.
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->done) {
        (*it)->thread.join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    auto connection = std::make_unique<Connection>();
    auto* raw = connection.get();
    connection->thread = std::thread([this, fd, generation, raw] {
      serve(fd, generation);
      raw->done = true;
    });
    connections_.push_back(std::move(connection));
  }
}

void FaultProxy::serve(int clientFd, uint64_t generation) {
  SSL* client = nullptr;
  SSL* upstream = nullptr;
  int upstreamFd = -1;
  const bool tracked = track(clientFd, generation);
  auto finish = [&] {
    if (upstream != nullptr) SSL_free(upstream);
    if (upstreamFd >= 0) {
      untrack(upstreamFd);
      ::close(upstreamFd);
    }
    if (client != nullptr) SSL_free(client);
    if (tracked) untrack(clientFd);
    ::close(clientFd);
  };
  if (!tracked) return finish();
  setTimeouts(clientFd, 10);
  client = SSL_new(ctx(serverCtx_));
  SSL_set_fd(client, clientFd);
  if (SSL_accept(client) != 1) return finish();
  std::string rest;
  const std::string head = readHead(client, rest);
  if (head.empty()) return finish();

  Mode mode = Mode::kForward;
  int status = 0;
  int retryAfter = 0;
  {
    std::lock_guard lock(mu_);
    mode = mode_;
    status = faultStatus_;
    retryAfter = retryAfter_;
    if (mode == Mode::kFault) {
      const auto firstSpace = head.find(' ');
      const auto secondSpace = head.find(' ', firstSpace + 1);
      faulted_.push_back({.at = std::chrono::steady_clock::now(),
                          .method = head.substr(0, firstSpace),
                          .target = head.substr(firstSpace + 1, secondSpace - firstSpace - 1)});
    }
  }
  if (mode == Mode::kCut) return finish();
  if (mode == Mode::kFault) {
    nlohmann::json body = {{"kind", "Status"},
                           {"apiVersion", "v1"},
                           {"metadata", nlohmann::json::object()},
                           {"status", "Failure"},
                           {"message", "injected by the fault proxy"},
                           {"reason", reasonFor(status)},
                           {"code", status}};
    std::string extra;
    if (status == 429) {
      body["details"] = {{"retryAfterSeconds", retryAfter}};
      extra = "Retry-After: " + std::to_string(retryAfter) + "\r\n";
    }
    const std::string text = body.dump();
    const std::string response = "HTTP/1.1 " + std::to_string(status) + " " + statusText(status) +
                                 "\r\nContent-Type: application/json\r\n" + extra +
                                 "Content-Length: " + std::to_string(text.size()) +
                                 "\r\nConnection: close\r\n\r\n" + text;
    SSL_write(client, response.data(), static_cast<int>(response.size()));
    SSL_shutdown(client);
    return finish();
  }

  // Forward: our own TLS connection to the API server, the head, then a byte pipe.
  upstreamFd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!track(upstreamFd, generation)) {
    ::close(upstreamFd);
    upstreamFd = -1;
    return finish();
  }
  setTimeouts(upstreamFd, 10);
  auto addr = loopback(targetPort_);
  if (::connect(upstreamFd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return finish();
  upstream = SSL_new(ctx(clientCtx_));
  SSL_set_fd(upstream, upstreamFd);
  if (SSL_connect(upstream) != 1) return finish();
  ++forwarded_;
  setNonBlocking(clientFd);
  setNonBlocking(upstreamFd);
  const std::string first = head + rest;
  if (!writeAll(upstream, upstreamFd, first.data(), static_cast<int>(first.size()))) {
    return finish();
  }
  char buffer[16384];
  struct Side {
    SSL* from;
    SSL* to;
    int toFd;
  };
  const Side sides[2] = {{client, upstream, upstreamFd}, {upstream, client, clientFd}};
  while (!stopping_) {
    for (const auto& side : sides) {
      while (true) {
        const int n = SSL_read(side.from, buffer, sizeof buffer);
        if (n > 0) {
          if (!writeAll(side.to, side.toFd, buffer, n)) return finish();
          continue;
        }
        const int error = SSL_get_error(side.from, n);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) break;
        return finish();  // closed, reset, or shut down by cut()
      }
    }
    pollfd p[2] = {{.fd = clientFd, .events = POLLIN, .revents = 0},
                   {.fd = upstreamFd, .events = POLLIN, .revents = 0}};
    ::poll(p, 2, 500);
  }
  finish();
}

}  // namespace sessionstore::testing
