// Transport on cpprestsdk's http_client (Boost.Asio and OpenSSL underneath on Linux).
#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <cctype>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "identity/identity.h"
#include "transport/http_transport.h"
#include "transport/system_trust.h"

namespace sessionstore::transport {

std::optional<std::string> Response::header(const std::string& lowerCaseName) const {
  const auto it = headers.find(lowerCaseName);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

namespace {

namespace http = web::http;

std::string lower(std::string s) {
  std::ranges::transform(s, s.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Checks that `pem` holds at least one certificate (or a key) OpenSSL can read, so a bad
// kubeconfig fails at start with a message instead of at the first TLS handshake.
bool readablePem(const std::string& pem, bool key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return false;
  if (key) {
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    EVP_PKEY_free(k);
    return k != nullptr;
  }
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  X509_free(cert);
  return cert != nullptr;
}

Failure failureFrom(const std::exception& e) {
  const std::string what = e.what();
  const std::string text = lower(what);
  FailureKind kind = FailureKind::kOther;
  if (dynamic_cast<const pplx::task_canceled*>(&e) != nullptr) {
    kind = FailureKind::kCancelled;
  } else if (text.find("timed out") != std::string::npos ||
             text.find("timeout") != std::string::npos) {
    kind = FailureKind::kTimeout;
  } else if (text.find("ssl") != std::string::npos ||
             text.find("certificate") != std::string::npos ||
             text.find("handshake") != std::string::npos) {
    kind = FailureKind::kTls;
  } else if (dynamic_cast<const http::http_exception*>(&e) != nullptr) {
    kind = FailureKind::kConnect;
  }
  return Failure{kind, what};
}

http::http_request makeRequest(const Request& request) {
  http::http_request req(request.method);
  req.set_request_uri(web::uri(request.target));
  std::string contentType;
  for (const auto& [name, value] : request.headers) {
    if (lower(name) == "content-type") {
      contentType = value;
    } else {
      req.headers().add(name, value);
    }
  }
  // cpprestsdk sends "cpprestsdk/2.10.x" unless the request has one.
  if (!req.headers().has(http::header_names::user_agent)) {
    req.headers().add(http::header_names::user_agent, userAgent());
  }
  if (!request.body.empty() || !contentType.empty()) {
    // From bytes, not from a std::string: cpprestsdk reads a string body through a
    // streambuf<char> reinterpreted as streambuf<unsigned char>, which UBSan reports.
    req.set_body(std::vector<unsigned char>(request.body.begin(), request.body.end()));
    req.headers().set_content_type(contentType.empty() ? "application/json" : contentType);
  }
  return req;
}

std::map<std::string, std::string> headersOf(const http::http_response& response) {
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : response.headers()) headers[lower(name)] = value;
  return headers;
}

class CppRestStream final : public Stream {
 public:
  CppRestStream(http::http_response response, std::shared_ptr<pplx::cancellation_token_source> cts)
      : response_(std::move(response)),
        headers_(headersOf(response_)),
        body_(response_.body()),
        cts_(std::move(cts)) {}
  ~CppRestStream() override { cancel(); }

  int status() const override { return response_.status_code(); }
  std::optional<std::string> header(const std::string& name) const override {
    const auto it = headers_.find(name);
    if (it == headers_.end()) return std::nullopt;
    return it->second;
  }

  Result<std::optional<std::string>> readLine() override {
    if (cancelled_) return std::unexpected(Failure{FailureKind::kCancelled, "stream cancelled"});
    try {
      // In blocks, not by cpprestsdk's read_line: that moves the body a byte at a time, two
      // locks a byte, which was a good part of the operator's CPU while a watch brings events.
      // Whatever has arrived is taken at once; only an empty buffer waits, for one byte.
      auto buffer = body_.streambuf();  // a handle to the body's buffer
      std::size_t scanned = 0;
      while (true) {
        if (const auto end = pending_.find('\n', scanned); end != std::string::npos) {
          std::string line = pending_.substr(0, end);
          pending_.erase(0, end + 1);
          if (!line.empty() && line.back() == '\r') line.pop_back();
          return std::optional<std::string>(std::move(line));
        }
        scanned = pending_.size();
        const std::size_t available = static_cast<std::size_t>(std::max<std::streamsize>(
            0, static_cast<std::streamsize>(buffer.in_avail())));
        if (available > 0) {
          const std::size_t start = pending_.size();
          pending_.resize(start + std::min(available, kBlock));
          const std::size_t got =
              buffer.getn(reinterpret_cast<uint8_t*>(pending_.data() + start), pending_.size() - start)
                  .get();
          pending_.resize(start + got);
          continue;
        }
        const auto next = buffer.bumpc().get();  // waits for one byte, or the end
        if (next == concurrency::streams::streambuf<uint8_t>::traits::eof()) {
          if (cancelled_) {
            return std::unexpected(Failure{FailureKind::kCancelled, "stream cancelled"});
          }
          if (pending_.empty()) return std::optional<std::string>();
          std::string last = std::move(pending_);  // a last line without its newline
          pending_.clear();
          return std::optional<std::string>(std::move(last));
        }
        pending_.push_back(static_cast<char>(next));
      }
    } catch (const std::exception& e) {
      if (cancelled_) return std::unexpected(Failure{FailureKind::kCancelled, "stream cancelled"});
      return std::unexpected(failureFrom(e));
    }
  }

  Result<std::string> readAll() override {
    try {
      concurrency::streams::container_buffer<std::vector<uint8_t>> all;
      body_.read_to_end(all).get();
      const auto& bytes = all.collection();
      return std::string(bytes.begin(), bytes.end());
    } catch (const std::exception& e) {
      return std::unexpected(failureFrom(e));
    }
  }

  void cancel() override {
    if (!cancelled_.exchange(true)) {
      cts_->cancel();
      // Closing the body unblocks a read_line waiting for bytes that will not come.
      try {
        body_.close().wait();
      } catch (const std::exception&) {
      }
    }
  }

 private:
  http::http_response response_;
  std::map<std::string, std::string> headers_;
  concurrency::streams::istream body_;
  std::shared_ptr<pplx::cancellation_token_source> cts_;
  std::atomic<bool> cancelled_{false};
  static constexpr std::size_t kBlock = 64 * 1024;
  std::string pending_;  // bytes read past the last line returned
};

class CppRestTransport final : public Transport {
 public:
  explicit CppRestTransport(const TransportConfig& config)
      : client_(config.baseUrl, clientConfig(config, config.requestTimeout)),
        streamClient_(config.baseUrl, clientConfig(config, config.streamTimeout)) {}

  Result<Response> send(const Request& request) override {
    try {
      auto response = client_.request(makeRequest(request)).get();
      Response out;
      out.status = response.status_code();
      out.headers = headersOf(response);
      out.body = response.extract_utf8string(true).get();
      return out;
    } catch (const std::exception& e) {
      return std::unexpected(failureFrom(e));
    }
  }

  Result<std::unique_ptr<Stream>> stream(const Request& request) override {
    auto cts = std::make_shared<pplx::cancellation_token_source>();
    try {
      auto response = streamClient_.request(makeRequest(request), cts->get_token()).get();
      return std::unique_ptr<Stream>(new CppRestStream(std::move(response), std::move(cts)));
    } catch (const std::exception& e) {
      return std::unexpected(failureFrom(e));
    }
  }

 private:
  static http::client::http_client_config clientConfig(const TransportConfig& config,
                                                       std::chrono::seconds timeout) {
    http::client::http_client_config c;
    c.set_timeout(timeout);
    c.set_validate_certificates(!config.tls.insecureSkipVerify);
    const TlsConfig tls = config.tls;
    c.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) {
      if (tls.caPem.empty() && !tls.insecureSkipVerify && defaultTrustStopped()) {
        // No CA of its own: the system's, which the default paths no longer load
        // (system_trust.h).
        loadSystemTrust(ctx.native_handle());
      }
      if (!tls.caPem.empty()) {
        // Trust only this CA. cpprestsdk loads the system's trust store into each connection's
        // context before this callback (about 140 certificates, near 1 MiB parsed, held as long
        // as the connection: every watch holds one); a fresh store frees it.
        SSL_CTX_set_cert_store(ctx.native_handle(), X509_STORE_new());
        ctx.add_certificate_authority(boost::asio::buffer(tls.caPem));
      }
      if (!tls.clientCertPem.empty()) {
        ctx.use_certificate_chain(boost::asio::buffer(tls.clientCertPem));
        ctx.use_private_key(boost::asio::buffer(tls.clientKeyPem), boost::asio::ssl::context::pem);
      }
    });
    return c;
  }

  http::client::http_client client_;
  http::client::http_client streamClient_;
};

}  // namespace

std::string userAgent() {
#if defined(__linux__)
  constexpr std::string_view os = "linux";
#elif defined(__APPLE__)
  constexpr std::string_view os = "darwin";
#else
  constexpr std::string_view os = "unknown";
#endif
#if defined(__x86_64__)
  constexpr std::string_view arch = "amd64";
#elif defined(__aarch64__)
  constexpr std::string_view arch = "arm64";
#else
  constexpr std::string_view arch = "unknown";
#endif
  return std::string(identity::kName) + "/" SESSIONSTORE_VERSION " (" + std::string(os) + "/" +
         std::string(arch) + ")";
}

Result<std::unique_ptr<Transport>> makeCppRestTransport(const TransportConfig& config) {
  const auto& tls = config.tls;
  if (!tls.caPem.empty() && !readablePem(tls.caPem, false)) {
    return std::unexpected(
        Failure{FailureKind::kTls, "the certificate authority is not a PEM certificate"});
  }
  if (tls.clientCertPem.empty() != tls.clientKeyPem.empty()) {
    return std::unexpected(Failure{
        FailureKind::kTls, "a client certificate needs its key, and a key its certificate"});
  }
  if (!tls.clientCertPem.empty() && !readablePem(tls.clientCertPem, false)) {
    return std::unexpected(
        Failure{FailureKind::kTls, "the client certificate is not a PEM certificate"});
  }
  if (!tls.clientKeyPem.empty() && !readablePem(tls.clientKeyPem, true)) {
    return std::unexpected(Failure{FailureKind::kTls, "the client key is not a PEM private key"});
  }
  if (!tls.serverName.empty()) {
    return std::unexpected(Failure{FailureKind::kTls,
                                   "tls-server-name is not supported; use a server URL whose host "
                                   "is in the certificate"});
  }
  try {
    return std::unique_ptr<Transport>(new CppRestTransport(config));
  } catch (const std::exception& e) {
    return std::unexpected(Failure{
        FailureKind::kOther, std::string("bad server URL ") + config.baseUrl + ": " + e.what()});
  }
}

}  // namespace sessionstore::transport
