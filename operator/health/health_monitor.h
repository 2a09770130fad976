// The store health the reconciler reads (StoreHealth), probed apart from reconciling (issue 17):
// each watched store keeps one connection as its app user (a StoreLink) and is probed on its own
// timer on a small fixed pool of threads (poller::Poller), never a thread per store. A change of
// health (ok flips, or the reason changes) is told to onChange, which enqueues the store, so a
// store that stops answering is Degraded, and one that answers again Ready, within a few seconds
// rather than at the next resync.
//
// The schedule (HealthMonitorOptions): a healthy store is PINGed every healthyInterval; a store
// that is not healthy (or never was: a fresh store whose pod starts) every unhealthyInterval, and
// after downFor of not answering every downInterval, which still meets "Ready within 2 s of
// answering again". The figures (connected clients, used memory, maxclients) are read for the
// passes that report them, not on the timer: by a check() that finds them older than
// figuresInterval (a PING and the figures, on the caller's thread: a pass at most once per
// interval waits about a millisecond on a healthy store). At rest, with no pass, they cost
// nothing, and a change of figures alone is no change of health. With a 1 s link timeout
// and the defaults: a store killed is seen at its next PING (its connection closes, so the PING
// fails at once), at most 2 s later; a store that hangs after at most 2 s + 2 timeouts (the PING,
// then the AUTH of a fresh connection); a store answering again at most 1 s later.
//
// check() answers from the last probe, except: the first call for a key, and a call with other
// endpoints (a new password, a new host), probe before they return (with a new connection, the
// old one closed); a call finding the last answer "not healthy" and older than
// unhealthyInterval probes again, so a pass started by the Redis pod becoming ready sees it
// answering; and a call finding the figures older than figuresInterval reads them. A change
// seen by check() itself is not told to onChange: the caller has it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "clock/clock.h"
#include "health/store_health.h"
#include "health/store_link.h"
#include "poller/poller.h"

namespace sessionstore::health {

struct HealthMonitorOptions {
  clock::Duration healthyInterval = std::chrono::seconds(2);
  clock::Duration unhealthyInterval = std::chrono::milliseconds(500);
  clock::Duration downFor = std::chrono::minutes(5);
  clock::Duration downInterval = std::chrono::seconds(1);
  clock::Duration figuresInterval = std::chrono::seconds(30);
  // A probe may run this much before its time, with others on the same wake-up of a thread
  // (poller::Poller::Timing::early): at 1,200 stores a thread wakes for several probes at once.
  clock::Duration early = std::chrono::milliseconds(20);
  // Probing threads. A probe holds one for at most about two link timeouts (a store that hangs);
  // a healthy store's PING for a round trip.
  std::size_t threads = 4;
};

class HealthMonitor final : public StoreHealth {
 public:
  // Called with the key of a store whose health changed, on a probing thread, with no lock of
  // the monitor held (it may call check() or forget()).
  using OnChange = std::function<void(const std::string& key)>;

  // REQUIRES: `clock` outlives the monitor; every interval > 0.
  HealthMonitor(StoreLinkFactory links, OnChange onChange, const clock::Clock& clock,
                HealthMonitorOptions options = {});
  // Stops, then closes every connection.
  ~HealthMonitor() override;
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Starts the probing threads. check() works before start() (it probes synchronously) but
  // nothing is probed on the timers until then.
  void start();
  // Waits for running probes; no probe runs and onChange is not called after it returns.
  void stop();

  ProbeResult check(const std::string& key, const wiring::StoreEndpoint& app,
                    const std::optional<wiring::StoreEndpoint>& monitor) override;
  // Stops probing `key` and closes its connection (when a probe of it is running, as that probe
  // ends).
  void forget(const std::string& key) override;

  std::optional<wiring::StoreEndpoint> monitorEndpoint(const std::string& key) const override;
  // How many stores are watched.
  std::size_t watching() const;

 private:
  struct Store;

  // Probes `store` once (PING, and the figures when wanted and due) and records the result if
  // `store` is still the one watched for `key`. Returns the result and whether health changed.
  std::pair<ProbeResult, bool> probe(const std::string& key, const std::shared_ptr<Store>& store,
                                     bool figuresWanted);
  // The poller's poll: probe, tell a change, say when to probe again.
  std::optional<clock::Duration> poll(const std::string& key);
  // REQUIRES: mu_ held.
  clock::Duration nextDelay(const Store& store, clock::MonotonicTime now) const;

  const StoreLinkFactory links_;
  const OnChange onChange_;
  const clock::Clock& clock_;
  const HealthMonitorOptions options_;
  std::atomic<bool> stopped_{false};

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Store>> stores_;  // GUARDED_BY(mu_)
  // Declared last: destroyed (its threads joined) first, while the rest is still there.
  poller::Poller poller_;
};

}  // namespace sessionstore::health
