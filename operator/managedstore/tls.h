// TLS for the managed store (spec.store.managed.tls): the objects that hold its certificate and
// the decisions about them, as pure functions (the time is an argument; keys and certificates
// come from crypto/certificates.h, called by the reconciler).
//
// Two sources of the server certificate, one Secret <name>-redis-tls (type kubernetes.io/tls:
// tls.crt, tls.key, ca.crt) that the StatefulSet mounts at kTlsDir:
//   - no issuerRef: the operator keeps a CA in the Secret <name>-redis-tls-ca (ca.crt, ca.key),
//     made once and never replaced while it is valid, and writes <name>-redis-tls itself, issued
//     from that CA for the Services' DNS names, again at two thirds of its lifetime;
//   - issuerRef: a cert-manager Certificate <name>-redis-tls (cert-manager.io/v1) asks the issuer
//     for it, and cert-manager writes (and renews) the Secret.
// Redis reads the files at start; a renewed certificate reaches the running Redis by CONFIG SET
// tls-cert-file/tls-key-file (health/store_link.h), which reloads them for new connections while
// the open ones go on. The CA stays, so clients verify old and new certificates alike.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/session_store.h"
#include "crypto/certificates.h"

namespace sessionstore::managedstore {

using Json = nlohmann::json;

// Where the Redis container finds the server certificate Secret's keys.
inline constexpr std::string_view kTlsDir = "/etc/redis-tls";
inline constexpr std::string_view kTlsCertKey = "tls.crt";
inline constexpr std::string_view kTlsKeyKey = "tls.key";
inline constexpr std::string_view kCaCertKey = "ca.crt";
inline constexpr std::string_view kCaKeyKey = "ca.key";
// In the CA Secret while a replaced CA is still trusted (its certificate only; never its key).
inline constexpr std::string_view kPreviousCaCertKey = "previous-ca.crt";
// How long the operator's own CA and server certificates are valid, by default.
inline constexpr std::chrono::hours kCaLifetime{24 * 365 * 10};
inline constexpr std::chrono::hours kDefaultCertificateLifetime{24 * 90};

std::string tlsSecretName(const api::SessionStore& store);    // <name>-redis-tls
std::string tlsCaSecretName(const api::SessionStore& store);  // <name>-redis-tls-ca
std::string certificateName(const api::SessionStore& store);  // <name>-redis-tls

// The names the server certificate holds: the client Service's (short, with the namespace,
// .svc and .svc.cluster.local), then the headless Service's and its pods' (*.<headless>...svc).
// The first is what the operator and the app verify (the client Service's .svc name).
std::vector<std::string> serverDnsNames(const api::SessionStore& store);

// The Secret <name>-redis-tls-ca: the operator's CA (Opaque; ca.crt, ca.key) and, while a CA it
// replaced is still trusted, that CA's certificate (previous-ca.crt).
Json caSecret(const api::SessionStore& store, const crypto::KeyAndCertificate& ca,
              std::string_view previousCaPem = {});
// The CA read back from that Secret; errors name the key, never a value.
std::expected<crypto::KeyAndCertificate, std::string> caFromSecret(const Json& secret);
// Its previous-ca.crt: "" when absent, unreadable, or no longer valid at `now`.
std::string previousCaFromSecret(const Json& secret, crypto::TimePoint now);

// The first PEM certificate of `pem`, its END line included ("" when there is none).
std::string firstCertificate(std::string_view pem);

// What the app and the operator verify the store with: the CA, then the previous one if any.
std::string trustBundle(std::string_view caPem, std::string_view previousCaPem);

// The Secret <name>-redis-tls the operator writes (kubernetes.io/tls; tls.crt, tls.key, ca.crt).
Json tlsSecret(const api::SessionStore& store, const crypto::KeyAndCertificate& server,
               std::string_view caPem);

// What a server certificate Secret (the operator's or cert-manager's) holds, decoded.
struct ServerTls {
  std::string certificatePem;
  std::string privateKeyPem;
  std::string caPem;  // "" when the Secret has no ca.crt
};
std::expected<ServerTls, std::string> serverTlsFromSecret(const Json& secret);

// Whether `server` is a certificate a client trusting `caPem` accepts at `now` for `dnsNames`:
// signed by it, its own key, these names, and within its validity (its renewal time passed is
// fine; expiry is not).
bool servesUnder(const ServerTls& server, std::string_view caPem,
                 const std::vector<std::string>& dnsNames, crypto::TimePoint now);

// The cert-manager Certificate <name>-redis-tls for `store` (REQUIRES: tls.issuerRef set): the
// Secret <name>-redis-tls, serverDnsNames(), an ECDSA P-256 key rotated at each renewal, usage
// server auth; cert-manager's default lifetime (90 days, renewed at two thirds).
Json certificate(const api::SessionStore& store);

// When a certificate valid from notBefore to notAfter is renewed: at two thirds of its lifetime.
crypto::TimePoint renewalTime(const crypto::CertificateInfo& certificate);

// Why the operator's server certificate must be issued again, or nullopt when it is fine at
// `now`: it is missing or does not parse, it was not signed by `caPem`, its key is not its own,
// it does not hold `dnsNames`, or its renewal time has come.
std::optional<std::string> reissueReason(const std::optional<ServerTls>& current,
                                         std::string_view caPem,
                                         const std::vector<std::string>& dnsNames,
                                         crypto::TimePoint now);

// Why the operator's CA must be made again (missing, does not parse, not a CA, key not its own,
// expired or expiring within a server certificate's lifetime), or nullopt. A CA is replaced
// without a failed request (decideManagedTls): the one replaced, or the CA the served
// certificate chains to when the CA Secret was lost, stays trusted beside the new one, and the
// served certificate stays until the app's pods all trust the new CA.
std::optional<std::string> caReplaceReason(const std::optional<crypto::KeyAndCertificate>& ca,
                                           crypto::TimePoint now,
                                           std::chrono::seconds certificateLifetime);

}  // namespace sessionstore::managedstore
