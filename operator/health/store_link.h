// One store's kept connection, as the health monitor probes it (PRODUCT.md item 2): PING as the
// app user on a connection kept open between probes, so that watching a healthy store costs one
// round trip per probe and no connect; and the store's figures (INFO, CONFIG GET maxclients) with
// the monitoring credentials, read on a slower cadence. A killed Redis closes the kept connection,
// so the next PING fails at once; a Redis that hangs fails it after the timeout.
//
// A StoreLink is not thread-safe: the monitor runs one probe of a store at a time. It never logs
// and never puts a password in a message.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "health/store_prober.h"
#include "wiring/connection.h"

namespace sessionstore::health {

struct StoreFigures {
  std::optional<std::int64_t> connectedClients;
  std::optional<std::int64_t> usedMemoryBytes;
  std::optional<std::int64_t> maxClients;
};

class StoreLink {
 public:
  virtual ~StoreLink() = default;
  // Liveness: PING on the kept connection as the app user. Without one (the first probe, or the
  // last failed) it connects and AUTHs first. When the kept connection fails, a fresh one is
  // tried once before the answer is "not ok", so a connection lost on its own (a proxy's reset)
  // is not taken for a store that stopped answering. The result has no figures.
  virtual ProbeResult ping() = 0;
  // The figures, read on a connection opened for the purpose with the monitoring credentials
  // when there are some (and closed after), else on the kept app connection. A refusal (an ACL,
  // a managed service denying CONFIG) or an error only leaves figures out.
  virtual StoreFigures figures() = 0;
  // Whether a connection is kept open now.
  virtual bool connected() const = 0;
};

// Makes the link of one store; it does no I/O until its first ping().
using StoreLinkFactory = std::function<std::unique_ptr<StoreLink>(
    const wiring::StoreEndpoint& app, const std::optional<wiring::StoreEndpoint>& monitor)>;

// Links on hiredis (redisclient::Session): connect and command timeouts of `timeout`, addresses
// through `addresses` (resolved again at each connect) when given.
StoreLinkFactory redisLinks(std::shared_ptr<AddressMap> addresses,
                            std::chrono::milliseconds timeout);

// Copies the figures into a probe's result.
void addFigures(ProbeResult& result, const StoreFigures& figures);

}  // namespace sessionstore::health
