// What the app's pods are given to reach their store (PRODUCT.md, items 3 and 5): the connection
// Secret (REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, SESSION_KEY_PREFIX,
// REDIS_MAX_CONNECTIONS), the hash of it that the pod-template annotation carries (so pods roll
// when the connection changes, and only then), and the session affinity of the target Service.
// Pure functions; the password is an input and never leaves the Secret.
#pragma once

#include <string>

#include "api/session_store.h"

namespace sessionstore::wiring {

using Json = api::Json;

struct StoreEndpoint {
  std::string host;  // "web-redis.shop.svc"
  int port = 6379;
  std::string username;  // "" for the default user
  std::string password;  // "" when the store needs none
  bool tls = false;      // rediss://
  int database = 0;      // the URL's /N: the app's keys live there
  // How the operator verifies a rediss:// store (spec.store.external.tls); not given to the app.
  std::string tlsServerName;  // "": host
  std::string tlsCaPem;       // "": the system's CAs
  bool tlsInsecureSkipVerify = false;
  // A managed TLS store: the CA given to the app in the connection Secret (key ca.crt).
  std::string caPemForApp;
  // A managed TLS store, on the monitor's endpoint: the SHA-256 (hex) of the certificate the store
  // should serve. While a fresh handshake shows another, the operator has Redis reload its
  // certificate files (health/store_link.h).
  std::string tlsExpectedCertificateSha256;
  bool operator==(const StoreEndpoint&) const = default;
};

// redis[s]://[user:password@]host:port/db, user and password percent-encoded.
std::string redisUrl(const StoreEndpoint& endpoint);

// The connection Secret, named store.spec.connection's secretName(), owned by the SessionStore,
// with the CA under ca.crt when the endpoint gives one to the app (a managed TLS store),
// its values base64 in `data` (as the API server returns them, so desired and observed compare).
Json connectionSecret(const api::SessionStore& store, const StoreEndpoint& endpoint, int poolSize);

// A SHA-256 hex digest of the Secret's data: the value of the connection-hash annotation.
std::string connectionHash(const Json& secret);

// The server-side-apply body for the target Service's affinity: ClientIP with the timeout when
// the mode is ClientIP, or UntilStoreReady while the store is not ready; None otherwise; with
// the identity::kWiredByLabel label naming the store.
// REQUIRES: store.spec.target.service is not empty.
Json serviceAffinityConfiguration(const api::SessionStore& store, bool storeReady);

}  // namespace sessionstore::wiring
