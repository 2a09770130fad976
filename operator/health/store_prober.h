// Probes a session store for real (PRODUCT.md item 2): connect, AUTH and PING with the app's
// credentials, then INFO (and CONFIG GET maxclients) with the monitoring credentials when there
// are some. StoreReady means this answered, not that a pod exists.
//
// Running the operator outside the cluster (development, the tests) it cannot resolve a
// Service's cluster DNS name: an AddressMap, given explicitly with `run --store-address-map
// FILE`, says where each in-cluster address is reached from the host (for example the local
// end of a `kubectl port-forward`). The file holds lines "IN-CLUSTER-HOST:PORT LOCAL-HOST:PORT";
// blank lines and lines starting with # are ignored; it is read again whenever it changes, so
// entries can be added while the operator runs. Without the option, addresses are used as they
// are. The connection Secret always holds the in-cluster address.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "redisclient/redis_client.h"
#include "wiring/connection.h"

namespace sessionstore::health {

struct ProbeResult {
  bool ok = false;
  std::string reason;   // a StoreReady reason (api/conditions.h)
  std::string message;  // what was seen, never a password
  std::optional<std::int64_t> connectedClients;
  std::optional<std::int64_t> usedMemoryBytes;
  std::optional<std::int64_t> maxClients;  // CONFIG GET maxclients, when allowed
  // A managed TLS store: the certificate the store should serve (the monitor endpoint's
  // tlsExpectedCertificateSha256) once a fresh handshake has shown it served; "" until then.
  std::string servedCertificateSha256;
};

class StoreProber {
 public:
  virtual ~StoreProber() = default;
  // `monitor`: credentials for INFO and CONFIG GET; without them the app's are tried, and a
  // refusal only leaves the figures out.
  virtual ProbeResult probe(const wiring::StoreEndpoint& app,
                            const std::optional<wiring::StoreEndpoint>& monitor) = 0;
};

class AddressMap {
 public:
  // An empty path maps nothing. A file that cannot be read or parsed is an error naming the line.
  static std::expected<std::shared_ptr<AddressMap>, std::string> open(std::filesystem::path path);

  // Where host:port is reached from here: the mapped address, or host:port itself.
  // Re-reads the file when its modification time changed; keeps the last good map (and says
  // why in `error`) when the new content is malformed.
  std::pair<std::string, int> resolve(const std::string& host, int port);
  std::string lastError() const;

 private:
  explicit AddressMap(std::filesystem::path path) : path_(std::move(path)) {}
  std::expected<void, std::string> reload();

  const std::filesystem::path path_;
  mutable std::mutex mu_;
  std::map<std::string, std::pair<std::string, int>> entries_;  // GUARDED_BY(mu_)
  std::filesystem::file_time_type loadedAt_{};                  // GUARDED_BY(mu_)
  std::string error_;                                           // GUARDED_BY(mu_)
};

// How the operator opens a session to `e`: its address through `addresses` when given (the
// operator outside the cluster), the TLS name and CA the endpoint says (TLS verifies the name in
// the URL, or the one the spec gives, never the address it resolves to), and both timeouts
// `timeout`.
redisclient::Endpoint sessionEndpoint(const wiring::StoreEndpoint& e, AddressMap* addresses,
                                      std::chrono::milliseconds timeout);

// Parses one "HOST:PORT" ([v6]:PORT for IPv6).
std::expected<std::pair<std::string, int>, std::string> parseHostPort(std::string_view text);

// The prober on hiredis (redisclient::Session), with connect and command timeouts.
std::unique_ptr<StoreProber> makeRedisProber(std::shared_ptr<AddressMap> addresses,
                                             std::chrono::milliseconds timeout);

}  // namespace sessionstore::health
