#include "health/health_monitor.h"

#include <utility>

namespace sessionstore::health {
namespace {

bool same(const wiring::StoreEndpoint& a, const wiring::StoreEndpoint& b) { return a == b; }

bool same(const std::optional<wiring::StoreEndpoint>& a,
          const std::optional<wiring::StoreEndpoint>& b) {
  return a.has_value() == b.has_value() && (!a || same(*a, *b));
}

}  // namespace

// One watched store: its endpoints (fixed: other endpoints make another Store), its link, and
// what its last probe saw.
struct HealthMonitor::Store {
  Store(wiring::StoreEndpoint appEndpoint, std::optional<wiring::StoreEndpoint> monitorEndpoint)
      : app(std::move(appEndpoint)), monitor(std::move(monitorEndpoint)) {}

  const wiring::StoreEndpoint app;
  const std::optional<wiring::StoreEndpoint> monitor;

  std::mutex probeMu;                             // one probe at a time: a link is not thread-safe
  std::unique_ptr<StoreLink> link;                // GUARDED_BY(probeMu)
  std::optional<clock::MonotonicTime> figuresAt;  // GUARDED_BY(probeMu)
  StoreFigures figures;                           // GUARDED_BY(probeMu)

  std::optional<ProbeResult> last;                // GUARDED_BY(HealthMonitor::mu_)
  clock::MonotonicTime lastAt{};                  // GUARDED_BY(HealthMonitor::mu_)
  std::optional<clock::MonotonicTime> downSince;  // GUARDED_BY(HealthMonitor::mu_)
  // When the figures in `last` were read.
  std::optional<clock::MonotonicTime> lastFiguresAt;  // GUARDED_BY(HealthMonitor::mu_)
};

HealthMonitor::HealthMonitor(StoreLinkFactory links, OnChange onChange, const clock::Clock& clock,
                             HealthMonitorOptions options)
    : links_(std::move(links)),
      onChange_(std::move(onChange)),
      clock_(clock),
      options_(options),
      poller_([this](const std::string& key) { return poll(key); }, options.threads, clock,
              {.early = options.early}) {}

HealthMonitor::~HealthMonitor() { stop(); }

void HealthMonitor::start() {
  stopped_ = false;
  poller_.start();
}

void HealthMonitor::stop() {
  stopped_ = true;
  poller_.stop();
}

std::size_t HealthMonitor::watching() const {
  std::lock_guard lock(mu_);
  return stores_.size();
}

ProbeResult HealthMonitor::check(const std::string& key, const wiring::StoreEndpoint& app,
                                 const std::optional<wiring::StoreEndpoint>& monitor) {
  std::shared_ptr<Store> store, replaced;
  {
    std::lock_guard lock(mu_);
    auto it = stores_.find(key);
    if (it != stores_.end() && same(it->second->app, app) && same(it->second->monitor, monitor)) {
      store = it->second;
      // Answered from the last probe, unless it said "not healthy" a while ago (the caller may
      // have been started by the store's pod becoming ready), or its figures are older than
      // figuresInterval (they are read for a pass, not at rest).
      const auto now = clock_.now();
      if (store->last && store->last->ok && store->lastFiguresAt &&
          now - *store->lastFiguresAt < options_.figuresInterval) {
        return *store->last;
      }
      if (store->last && !store->last->ok && now - store->lastAt < options_.unhealthyInterval) {
        return *store->last;
      }
    } else {
      store = std::make_shared<Store>(app, monitor);
      if (it != stores_.end()) {
        replaced = std::move(it->second);
        it->second = store;
      } else {
        stores_.emplace(key, store);
      }
    }
  }
  // The old endpoints' connection closes here, or as the probe running on it ends.
  replaced.reset();
  const ProbeResult result = probe(key, store, true).first;  // a change here is the caller's to see
  {
    std::lock_guard lock(mu_);
    // Track under mu_, so that a forget() between the probe and here cannot leave a watched
    // store untracked (or an unwatched one tracked: its poll would find nothing and stop).
    const auto it = stores_.find(key);
    if (it != stores_.end() && it->second == store) {
      poller_.track(key, nextDelay(*store, clock_.now()));
    }
  }
  return result;
}

void HealthMonitor::forget(const std::string& key) {
  std::shared_ptr<Store> gone;
  {
    std::lock_guard lock(mu_);
    const auto it = stores_.find(key);
    if (it == stores_.end()) return;
    gone = std::move(it->second);
    stores_.erase(it);
    poller_.untrack(key);
  }
  // Closes the connection now, unless a probe holds the store: then as that probe ends.
}

std::pair<ProbeResult, bool> HealthMonitor::probe(const std::string& key,
                                                  const std::shared_ptr<Store>& store,
                                                  bool figuresWanted) {
  ProbeResult result;
  std::optional<clock::MonotonicTime> figuresAt;
  {
    std::lock_guard probing(store->probeMu);
    if (!store->link) store->link = links_(store->app, store->monitor);
    result = store->link->ping();
    if (result.ok) {
      const auto now = clock_.now();
      if (figuresWanted &&
          (!store->figuresAt || now - *store->figuresAt >= options_.figuresInterval)) {
        store->figures = store->link->figures();
        store->figuresAt = now;
      }
      addFigures(result, store->figures);
    } else {
      // Read again as soon as the store answers.
      store->figuresAt.reset();
      store->figures = {};
    }
    figuresAt = store->figuresAt;
  }
  std::lock_guard lock(mu_);
  const auto it = stores_.find(key);
  if (it == stores_.end() || it->second != store) return {result, false};  // forgotten, replaced
  const auto now = clock_.now();
  const bool changed =
      store->last && (store->last->ok != result.ok || store->last->reason != result.reason);
  if (result.ok) {
    store->downSince.reset();
  } else if (!store->downSince) {
    store->downSince = now;
  }
  store->last = result;
  store->lastAt = now;
  store->lastFiguresAt = figuresAt;
  return {result, changed};
}

std::optional<clock::Duration> HealthMonitor::poll(const std::string& key) {
  std::shared_ptr<Store> store;
  {
    std::lock_guard lock(mu_);
    const auto it = stores_.find(key);
    if (it == stores_.end()) return std::nullopt;
    store = it->second;
  }
  const bool changed = probe(key, store, false).second;
  if (changed && onChange_ && !stopped_) onChange_(key);
  std::lock_guard lock(mu_);
  return nextDelay(*store, clock_.now());
}

clock::Duration HealthMonitor::nextDelay(const Store& store, clock::MonotonicTime now) const {
  if (store.last && store.last->ok) return options_.healthyInterval;
  if (store.downSince && now - *store.downSince >= options_.downFor) return options_.downInterval;
  return options_.unhealthyInterval;
}

std::optional<wiring::StoreEndpoint> HealthMonitor::monitorEndpoint(const std::string& key) const {
  std::lock_guard lock(mu_);
  const auto it = stores_.find(key);
  if (it == stores_.end()) return std::nullopt;
  return it->second->monitor;
}

}  // namespace sessionstore::health
