// The store's health as the reconciler reads it (PRODUCT.md item 2), kept apart from reconciling:
// a StoreHealth watches each store it has been asked about on its own timer and answers from what
// it last saw, so a reconcile pass never waits on Redis once a store is known, and a change of
// health (the store stops answering, or answers again) is told to whoever enqueues the store.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "health/store_prober.h"
#include "wiring/connection.h"

namespace sessionstore::health {

class StoreHealth {
 public:
  virtual ~StoreHealth() = default;
  // The health of the store of SessionStore `key` ("namespace/name") reached at `app` (and read
  // with `monitor`'s credentials when given). From this call on the store is watched with these
  // endpoints until forget(key). The first call for a key, and a call with other endpoints,
  // probe before they return; later calls answer from the last probe.
  virtual ProbeResult check(const std::string& key, const wiring::StoreEndpoint& app,
                            const std::optional<wiring::StoreEndpoint>& monitor) = 0;
  // Stops watching `key` (the SessionStore is gone, or its store is not usable any more).
  virtual void forget(const std::string& key) = 0;
  // The monitoring endpoint `key` is watched with (its password included), nullopt when it is not
  // watched: what lets the operator recover a password Secret deleted by mistake
  // (reconcile/rotation.h). Never to be logged.
  virtual std::optional<wiring::StoreEndpoint> monitorEndpoint(const std::string& key) const {
    (void)key;
    return std::nullopt;
  }
};

// A StoreHealth that probes on every check and watches nothing: for `plan`-like one-shot uses
// and for tests that script the prober's answers.
class ProbeOnEveryCheck : public StoreHealth {
 public:
  // REQUIRES: `prober` outlives this.
  explicit ProbeOnEveryCheck(StoreProber& prober) : prober_(prober) {}
  ProbeResult check(const std::string&, const wiring::StoreEndpoint& app,
                    const std::optional<wiring::StoreEndpoint>& monitor) override {
    return prober_.probe(app, monitor);
  }
  void forget(const std::string&) override {}

 private:
  StoreProber& prober_;
};

}  // namespace sessionstore::health
