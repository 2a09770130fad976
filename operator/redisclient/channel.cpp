#include "redisclient/channel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "transport/system_trust.h"

namespace sessionstore::redisclient {

namespace {

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct X509StoreDeleter {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};

// The system's CAs, read once for the process and shared by every connection that trusts them
// (an X509_STORE is reference-counted and locks itself): the operator stops OpenSSL's default
// paths from loading for each context (transport/system_trust.h), and a bundle of about 140
// certificates parsed per kept connection would cost each store's link its own copy.
X509_STORE* systemStore() {
  static X509_STORE* const store = [] {
    std::unique_ptr<X509_STORE, X509StoreDeleter> made(X509_STORE_new());
    if (!made) return static_cast<X509_STORE*>(nullptr);
    const auto& paths = transport::systemTrustPaths();
    const bool file =
        !paths.file.empty() && X509_STORE_load_file(made.get(), paths.file.c_str()) == 1;
    const bool dir = !paths.dir.empty() && X509_STORE_load_path(made.get(), paths.dir.c_str()) == 1;
    ERR_clear_error();  // one of the two may be absent
    return file || dir ? made.release() : static_cast<X509_STORE*>(nullptr);
  }();
  return store;
}
struct AddrinfoDeleter {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

// A file descriptor closed when it goes.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// OpenSSL writes to the socket with write(): a peer gone raises SIGPIPE, which would end a
// process that has not ignored it. Blocked for the call, and a SIGPIPE it raised is taken back.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    wasPending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    if (!wasPending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{};
        while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool wasPending_ = false;
};

std::string errnoText(int error) { return std::strerror(error); }

// Milliseconds left until the deadline (0 when past, so poll only looks).
int remainingMs(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  return left.count() > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left.count());
}

// Waits until `fd` is ready for `events` or the deadline passes. false: the deadline passed.
std::expected<bool, std::string> waitFor(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd p{.fd = fd, .events = events, .revents = 0};
    const int n = ::poll(&p, 1, remainingMs(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return std::unexpected("poll: " + errnoText(errno));
  }
}

// The OpenSSL error queue as one line, emptied (it is per thread).
std::string sslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out;
}

std::expected<Fd, std::string> connectTcp(const std::string& host, int port, Deadline deadline) {
  const std::string where = "connect to " + host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return std::unexpected(where + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, AddrinfoDeleter> list(found);
  std::string lastError = "no address";
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.get() < 0) {
      lastError = errnoText(errno);
      continue;
    }
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        lastError = errnoText(errno);
        continue;
      }
      auto ready = waitFor(fd.get(), POLLOUT, deadline);
      if (!ready) return std::unexpected(where + ": " + ready.error());
      if (!*ready) return std::unexpected(where + ": Connection timed out");
      int error = 0;
      socklen_t length = sizeof error;
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      if (error != 0) {
        lastError = errnoText(error);
        continue;
      }
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  return std::unexpected(where + ": " + lastError);
}

// The reading of a failed handshake: what the verification said, in the words a user can act on.
std::string handshakeError(SSL* ssl, const std::string& serverName, const std::string& queue,
                           int sslError) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    const std::string said = X509_verify_cert_error_string(verify);
    switch (verify) {
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
      case X509_V_ERR_EMAIL_MISMATCH:
        return "TLS: certificate does not match host " + serverName + " (OpenSSL: " + said + ")";
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_CERT_UNTRUSTED:
        return "TLS: certificate not trusted (unknown CA) for host " + serverName +
               " (OpenSSL: " + said + ")";
      default:
        return "TLS: certificate verification failed for host " + serverName +
               " (OpenSSL: " + said + ")";
    }
  }
  if (sslError == SSL_ERROR_SYSCALL && queue.empty()) {
    return "TLS handshake with " + serverName + ": the connection closed (is the port a TLS port?)";
  }
  return "TLS handshake with " + serverName + ": " + (queue.empty() ? "failed" : queue);
}

}  // namespace

struct Channel::State {
  Fd fd;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx;  // SSL holds its own reference; kept for clarity
  std::unique_ptr<SSL, SslDeleter> ssl;         // null for plain TCP
};

std::string Channel::peerCertificateSha256() const {
  if (!state_->ssl) return {};
  X509* peer = SSL_get1_peer_certificate(state_->ssl.get());
  if (peer == nullptr) return {};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const bool ok = X509_digest(peer, EVP_sha256(), digest, &size) == 1;
  X509_free(peer);
  if (!ok) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

bool isIpLiteral(std::string_view host) {
  const std::string text(host);
  in6_addr v6{};
  in_addr v4{};
  return ::inet_pton(AF_INET, text.c_str(), &v4) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), &v6) == 1;
}

std::expected<int, std::string> countPemCertificates(std::string_view pem) {
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string_view::npos) {
    return std::unexpected("holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return std::unexpected("is too large");
  }
  ERR_clear_error();
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return std::unexpected("cannot be read (out of memory)");
  int count = 0;
  for (;;) {
    std::unique_ptr<X509, X509Deleter> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    ++count;
  }
  // The loop ends with "no start line" at the end of the input; any other error is a bad block.
  const unsigned long last = ERR_peek_last_error();
  const bool cleanEnd = last == 0 || (ERR_GET_LIB(last) == ERR_LIB_PEM &&
                                      ERR_GET_REASON(last) == PEM_R_NO_START_LINE);
  ERR_clear_error();
  if (!cleanEnd || count == 0) {
    return std::unexpected("holds a PEM certificate block that does not parse");
  }
  return count;
}

Channel::Channel(std::unique_ptr<State> state) : state_(std::move(state)) {}

Channel::~Channel() {
  if (state_->ssl) {
    // close_notify, once, without waiting for the peer's: the socket closes next.
    SigpipeBlocked blocked;
    ERR_clear_error();
    SSL_shutdown(state_->ssl.get());
    ERR_clear_error();
  }
}

std::expected<std::unique_ptr<Channel>, std::string> Channel::open(const ChannelOptions& options,
                                                                   Deadline deadline) {
  auto state = std::make_unique<State>();
  auto fd = connectTcp(options.host, options.port, deadline);
  if (!fd) return std::unexpected(fd.error());
  state->fd = std::move(*fd);
  if (!options.tls) return std::unique_ptr<Channel>(new Channel(std::move(state)));

  const std::string serverName = options.serverName.empty() ? options.host : options.serverName;
  ERR_clear_error();
  state->ctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!state->ctx) return std::unexpected("TLS setup: " + sslErrors());
  SSL_CTX* ctx = state->ctx.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (options.insecureSkipVerify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (options.caPem.empty()) {
      X509_STORE* system = systemStore();
      if (system == nullptr) {
        const auto& paths = transport::systemTrustPaths();
        return std::unexpected("TLS setup: the system's CA certificates cannot be read (" +
                               paths.file + ", " + paths.dir +
                               "): name the store's CA in spec.store.external.tls.caSecretRef");
      }
      SSL_CTX_set1_cert_store(ctx, system);
    } else {
      if (auto counted = countPemCertificates(options.caPem); !counted) {
        return std::unexpected("TLS setup: the CA bundle " + counted.error());
      }
      std::unique_ptr<BIO, BioDeleter> bio(
          BIO_new_mem_buf(options.caPem.data(), static_cast<int>(options.caPem.size())));
      X509_STORE* store = SSL_CTX_get_cert_store(ctx);
      while (std::unique_ptr<X509, X509Deleter> cert{
          PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
        X509_STORE_add_cert(store, cert.get());  // takes its own reference
      }
      ERR_clear_error();  // the end of the bundle reads as "no start line"
    }
  }
  state->ssl.reset(SSL_new(ctx));
  if (!state->ssl) return std::unexpected("TLS setup: " + sslErrors());
  SSL* ssl = state->ssl.get();
  if (SSL_set_fd(ssl, state->fd.get()) != 1) return std::unexpected("TLS setup: " + sslErrors());
  const bool ip = isIpLiteral(serverName);
  // SSL_set_tlsext_host_name, spelled out: the macro casts in C style.
  if (!ip && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                      const_cast<char*>(serverName.c_str())) != 1) {
    return std::unexpected("TLS setup: server name " + serverName + ": " + sslErrors());
  }
  if (!options.insecureSkipVerify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, serverName.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, serverName.c_str(), 0);
    if (set != 1) {
      return std::unexpected("TLS setup: cannot verify against server name " + serverName);
    }
  }
  for (;;) {
    int rc = 0;
    int error = 0;
    {
      SigpipeBlocked blocked;
      ERR_clear_error();
      rc = SSL_connect(ssl);
      error = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, rc);
    }
    if (rc == 1) break;
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      auto ready =
          waitFor(state->fd.get(), error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
      if (!ready) return std::unexpected("TLS handshake with " + serverName + ": " + ready.error());
      if (!*ready) {
        return std::unexpected("TLS handshake with " + serverName +
                               ": no answer before the connect timeout");
      }
      continue;
    }
    const std::string queue = sslErrors();
    return std::unexpected(handshakeError(ssl, serverName, queue, error));
  }
  return std::unique_ptr<Channel>(new Channel(std::move(state)));
}

std::expected<void, std::string> Channel::writeAll(std::string_view data, Deadline deadline) {
  const int fd = state_->fd.get();
  while (!data.empty()) {
    short waitEvent = POLLOUT;
    if (!state_->ssl) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return std::unexpected(errnoText(errno));
    } else {
      std::size_t written = 0;
      int error = 0;
      {
        SigpipeBlocked blocked;
        ERR_clear_error();
        const int rc = SSL_write_ex(state_->ssl.get(), data.data(), data.size(), &written);
        error = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(state_->ssl.get(), rc);
      }
      if (error == SSL_ERROR_NONE) {
        data.remove_prefix(written);
        continue;
      }
      if (error == SSL_ERROR_WANT_READ) {
        waitEvent = POLLIN;
      } else if (error != SSL_ERROR_WANT_WRITE) {
        const std::string queue = sslErrors();
        return std::unexpected(queue.empty() ? std::string("the connection was lost")
                                             : "TLS: " + queue);
      }
    }
    auto ready = waitFor(fd, waitEvent, deadline);
    if (!ready) return std::unexpected(ready.error());
    if (!*ready) return std::unexpected("timed out");
  }
  return {};
}

std::expected<std::size_t, std::string> Channel::readSome(char* buffer, std::size_t size,
                                                          Deadline deadline) {
  const int fd = state_->fd.get();
  for (;;) {
    short waitEvent = POLLIN;
    if (!state_->ssl) {
      const ssize_t n = ::recv(fd, buffer, size, 0);
      if (n > 0) return static_cast<std::size_t>(n);
      if (n == 0) return std::unexpected("the server closed the connection");
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return std::unexpected(errnoText(errno));
    } else {
      std::size_t read = 0;
      int error = 0;
      {
        SigpipeBlocked blocked;  // a read may write (a renegotiation, a key update)
        ERR_clear_error();
        const int rc = SSL_read_ex(state_->ssl.get(), buffer, size, &read);
        error = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(state_->ssl.get(), rc);
      }
      if (error == SSL_ERROR_NONE) return read;
      if (error == SSL_ERROR_ZERO_RETURN)
        return std::unexpected("the server closed the connection");
      if (error == SSL_ERROR_WANT_WRITE) {
        waitEvent = POLLOUT;
      } else if (error != SSL_ERROR_WANT_READ) {
        const std::string queue = sslErrors();
        return std::unexpected(queue.empty() ? std::string("the server closed the connection")
                                             : "TLS: " + queue);
      }
    }
    auto ready = waitFor(fd, waitEvent, deadline);
    if (!ready) return std::unexpected(ready.error());
    if (!*ready) return std::unexpected("timed out");
  }
}

}  // namespace sessionstore::redisclient
