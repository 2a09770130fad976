#include "health/store_link.h"

#include <charconv>
#include <map>
#include <string>
#include <utility>

#include "api/conditions.h"
#include "redisclient/redis_client.h"

namespace sessionstore::health {
namespace {

std::optional<std::int64_t> infoNumber(const std::map<std::string, std::string>& info,
                                       const std::string& key) {
  const auto it = info.find(key);
  if (it == info.end()) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] =
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  if (ec != std::errc() || end != it->second.data() + it->second.size()) return std::nullopt;
  return value;
}

ProbeResult answered(const std::string& where, const wiring::StoreEndpoint& app) {
  std::string how = " answers AUTH and PING with the app's credentials";
  if (app.database != 0) how += " in database " + std::to_string(app.database);
  if (app.tls) {
    how += app.tlsInsecureSkipVerify
               ? ", over TLS WITHOUT certificate verification "
                 "(spec.store.external.tls.insecureSkipVerify is true: anyone on the path can "
                 "impersonate the store)"
               : ", over TLS with the certificate verified";
  }
  return {.ok = true, .reason = std::string(api::kReasonStoreAvailable), .message = where + how};
}

ProbeResult failed(std::string_view reason, const std::string& where, const std::string& error) {
  return {.ok = false, .reason = std::string(reason), .message = where + ": " + error};
}

// The reason of a failed connect: what the user fixes differs for each.
std::string_view openFailureReason(const std::string& error) {
  if (error.starts_with(redisclient::kErrorAuth)) return api::kReasonAuthenticationFailed;
  if (error.starts_with(redisclient::kErrorSelect)) return api::kReasonDatabaseUnavailable;
  if (error.starts_with(redisclient::kErrorTlsUntrusted)) return api::kReasonTlsCertificateUntrusted;
  if (error.starts_with(redisclient::kErrorTlsHostMismatch)) return api::kReasonTlsHostMismatch;
  if (error.starts_with(redisclient::kErrorTlsVerify)) return api::kReasonTlsVerificationFailed;
  if (error.starts_with(redisclient::kErrorTls)) return api::kReasonTlsHandshakeFailed;
  return api::kReasonStoreUnreachable;
}

class RedisLink final : public StoreLink {
 public:
  RedisLink(wiring::StoreEndpoint app, std::optional<wiring::StoreEndpoint> monitor,
            std::shared_ptr<AddressMap> addresses, std::chrono::milliseconds timeout)
      : app_(std::move(app)),
        monitor_(std::move(monitor)),
        addresses_(std::move(addresses)),
        timeout_(timeout),
        where_(app_.host + ":" + std::to_string(app_.port)) {}

  ProbeResult ping() override {
    if (session_) {
      if (session_->ping()) {
        reloadTlsIfStale();
        return withServed(answered(where_, app_));
      }
      // Unusable after an error (hiredis): a fresh connection tells a lost connection from a
      // store that stopped answering.
      session_.reset();
    }
    auto opened = redisclient::Session::open(endpoint(app_));
    if (!opened) {
      const std::string& error = opened.error();
      return failed(openFailureReason(error), where_, error);
    }
    if (auto pong = (*opened)->ping(); !pong) {
      return failed(api::kReasonStoreUnreachable, where_, pong.error());
    }
    session_ = std::move(*opened);
    reloadTlsIfStale();
    return withServed(answered(where_, app_));
  }

  StoreFigures figures() override {
    StoreFigures figures;
    std::unique_ptr<redisclient::Session> monitorSession;
    redisclient::Session* reader = session_.get();
    if (monitor_) {
      auto opened = redisclient::Session::open(endpoint(*monitor_));
      if (!opened) return figures;  // only the figures are lost; the store answers the app
      monitorSession = std::move(*opened);
      reader = monitorSession.get();
    }
    if (reader == nullptr) return figures;
    if (auto info = reader->info()) {
      figures.connectedClients = infoNumber(*info, "connected_clients");
      figures.usedMemoryBytes = infoNumber(*info, "used_memory");
    }
    if (reader->usable()) {
      if (auto maxClients = reader->maxClients(); maxClients && *maxClients) {
        figures.maxClients = **maxClients;
      }
    }
    // A refusal (NOPERM) keeps the kept connection; after an I/O error it is unusable, and the
    // next ping opens a fresh one.
    if (session_ && !session_->usable()) session_.reset();
    return figures;
  }

  bool connected() const override { return session_ != nullptr; }

 private:
  // A managed TLS store whose certificate was renewed: until a fresh handshake shows the
  // certificate the Secret holds, Redis is told to load its certificate files again. Redis 7
  // reloads them on CONFIG SET tls-cert-file/tls-key-file, for new connections only (open ones
  // go on). Debian's 7.0 reloads on a CONFIG SET of the same value too (checked by hand); the
  // path is given in its other spelling each time (".../tls.crt" and "..././tls.crt", the same
  // file) so that a Redis that applies only a changed value reloads as well, and the files the
  // kubelet updated in the mounted Secret are read. Before the kubelet has updated them, this
  // reloads the old ones,
  // which are still valid: no client sees a failure either way. Failures are left for the next
  // probe: they do not make the store unhealthy.
  void reloadTlsIfStale() {
    if (tlsCurrent_ || !monitor_ || monitor_->tlsExpectedCertificateSha256.empty()) return;
    auto opened = redisclient::Session::open(endpoint(*monitor_));
    if (!opened) return;
    redisclient::Session& session = **opened;
    if (session.peerCertificateSha256() == monitor_->tlsExpectedCertificateSha256) {
      tlsCurrent_ = true;
      return;
    }
    auto cert = session.command({"CONFIG", "GET", "tls-cert-file"});
    auto key = session.command({"CONFIG", "GET", "tls-key-file"});
    if (!cert || !key) return;
    // CONFIG GET answers the name then the value, one per line as rendered.
    const auto value = [](const std::string& reply) {
      const auto newline = reply.find('\n');
      return newline == std::string::npos ? std::string() : reply.substr(newline + 1);
    };
    const std::string certPath = value(*cert);
    const std::string keyPath = value(*key);
    if (certPath.empty() || keyPath.empty()) return;
    (void)session.command({"CONFIG", "SET", "tls-cert-file", otherSpelling(certPath),
                           "tls-key-file", otherSpelling(keyPath)});
  }

  ProbeResult withServed(ProbeResult result) const {
    if (tlsCurrent_ && monitor_) {
      result.servedCertificateSha256 = monitor_->tlsExpectedCertificateSha256;
    }
    return result;
  }

  // "/d/f" and "/d/./f" name the same file.
  static std::string otherSpelling(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return "./" + path;
    if (slash >= 2 && path.compare(slash - 2, 3, "/./") == 0) {
      return path.substr(0, slash - 1) + path.substr(slash + 1);
    }
    return path.substr(0, slash + 1) + "./" + path.substr(slash + 1);
  }


  redisclient::Endpoint endpoint(const wiring::StoreEndpoint& e) const {
    return sessionEndpoint(e, addresses_.get(), timeout_);
  }

  const wiring::StoreEndpoint app_;
  const std::optional<wiring::StoreEndpoint> monitor_;
  const std::shared_ptr<AddressMap> addresses_;
  const std::chrono::milliseconds timeout_;
  const std::string where_;
  std::unique_ptr<redisclient::Session> session_;  // the kept connection, as the app user
  bool tlsCurrent_ = false;  // a handshake showed the certificate the store should serve
};

}  // namespace

StoreLinkFactory redisLinks(std::shared_ptr<AddressMap> addresses,
                            std::chrono::milliseconds timeout) {
  return [addresses = std::move(addresses), timeout](
             const wiring::StoreEndpoint& app,
             const std::optional<wiring::StoreEndpoint>& monitor) -> std::unique_ptr<StoreLink> {
    return std::make_unique<RedisLink>(app, monitor, addresses, timeout);
  };
}

void addFigures(ProbeResult& result, const StoreFigures& figures) {
  result.connectedClients = figures.connectedClients;
  result.usedMemoryBytes = figures.usedMemoryBytes;
  result.maxClients = figures.maxClients;
}

}  // namespace sessionstore::health
