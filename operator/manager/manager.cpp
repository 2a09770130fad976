#include "manager/manager.h"

#include <charconv>

#include "httpserver/beast_http_server.h"
#include "leaderelection/leader_elector.h"

namespace sessionstore::manager {

std::expected<std::pair<std::string, uint16_t>, std::string> parseAddress(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return std::unexpected("address \"" + text + "\" has no port; write host:port or :port");
  }
  std::string host = text.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  uint16_t port = 0;
  const auto portText = text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || portText.empty()) {
    return std::unexpected("address \"" + text + "\" has no valid port (0 to 65535)");
  }
  return std::make_pair(host, port);
}

Manager::Manager(kube::Client& client, ManagerOptions options, metrics::Registry& registry,
                 metrics::OperatorMetrics& metrics, kube::Client& electionClient,
                 const clock::Clock& clock)
    : client_(client),
      electionClient_(electionClient),
      options_(std::move(options)),
      registry_(registry),
      metrics_(metrics),
      clock_(clock),
      log_(logging::defaultLogger().withFields({{"component", "manager"}})) {
  healthz_.add("ping", [] { return true; });
  readyz_.add("informers synced", [this] {
    for (const auto& informer : informers_) {
      if (!informer->hasSynced()) return false;
    }
    return true;
  });
}

Manager::~Manager() {
  requestStop();
  for (auto& c : controllers_) c->stop();
  for (auto& i : informers_) i->stop();
  if (metricsServer_) metricsServer_->stop();
  if (healthServer_) healthServer_->stop();
}

informer::Informer& Manager::addInformer(informer::InformerOptions options,
                                         informer::Handlers handlers) {
  informers_.push_back(std::make_unique<informer::Informer>(client_, std::move(options),
                                                            std::move(handlers), clock_));
  return *informers_.back();
}

void Manager::addController(std::unique_ptr<controller::Controller> controller) {
  controllers_.push_back(std::move(controller));
}

void Manager::requestStop() {
  {
    std::lock_guard lock(mu_);
    stopRequested_ = true;
  }
  cv_.notify_all();
}

bool Manager::leading() const {
  std::lock_guard lock(mu_);
  return leading_;
}

uint16_t Manager::metricsPort() const { return metricsServer_ ? metricsServer_->port() : 0; }
uint16_t Manager::healthPort() const { return healthServer_ ? healthServer_->port() : 0; }

bool Manager::startServers() {
  auto metricsAddress = parseAddress(options_.metricsAddress);
  auto healthAddress = parseAddress(options_.healthAddress);
  if (!metricsAddress || !healthAddress) {
    log_.error("bad bind address",
               {{"error", !metricsAddress ? metricsAddress.error() : healthAddress.error()}});
    return false;
  }
  metricsServer_ = httpserver::makeBeastHttpServer();
  httpserver::serveMetrics(*metricsServer_, registry_);
  healthServer_ = httpserver::makeBeastHttpServer();
  httpserver::serveChecks(*healthServer_, "/healthz", healthz_);
  httpserver::serveChecks(*healthServer_, "/readyz", readyz_);
  auto m = metricsServer_->start(metricsAddress->first, metricsAddress->second);
  if (!m) {
    log_.error("cannot serve metrics",
               {{"address", options_.metricsAddress}, {"error", m.error()}});
    return false;
  }
  auto h = healthServer_->start(healthAddress->first, healthAddress->second);
  if (!h) {
    log_.error("cannot serve health probes",
               {{"address", options_.healthAddress}, {"error", h.error()}});
    return false;
  }
  log_.info("serving", {{"metrics", metricsAddress->first + ":" + std::to_string(*m)},
                        {"health", healthAddress->first + ":" + std::to_string(*h)}});
  return true;
}

void Manager::startLeading() {
  {
    std::lock_guard lock(mu_);
    leading_ = true;
    if (controllersRunning_) return;
    controllersRunning_ = true;
  }
  metrics_.leaderElectionMasterStatus.withLabels({options_.election.leaseName})->set(1);
  log_.info("started leading", {{"identity", options_.election.identity}});
  for (auto& c : controllers_) c->start();
}

void Manager::stopLeading() {
  bool wasRunning;
  {
    std::lock_guard lock(mu_);
    leading_ = false;
    wasRunning = controllersRunning_;
    controllersRunning_ = false;
    if (!stopRequested_) lostLease_ = true;
  }
  metrics_.leaderElectionMasterStatus.withLabels({options_.election.leaseName})->set(0);
  if (wasRunning) {
    for (auto& c : controllers_) c->stop();
  }
  log_.info("stopped leading", {{"identity", options_.election.identity}});
  cv_.notify_all();
}

int Manager::run() {
  if (!startServers()) return 1;
  for (auto& i : informers_) i->start();
  for (auto& i : informers_) {
    if (!i->waitForSync(options_.cacheSyncTimeout)) {
      std::lock_guard lock(mu_);
      if (!stopRequested_) {
        log_.error("cache did not sync", {{"resource", i->resource().resource}});
      }
    }
  }

  std::unique_ptr<leaderelection::LeaderElector> elector;
  if (options_.leaderElect) {
    elector = std::make_unique<leaderelection::LeaderElector>(
        electionClient_, clock_, options_.election,
        leaderelection::Callbacks{.onStartedLeading = [this] { startLeading(); },
                                  .onStoppedLeading = [this] { stopLeading(); },
                                  .onNewLeader =
                                      [this](const std::string& identity) {
                                        log_.info("new leader",
                                                  {{"leader", identity},
                                                   {"lease", options_.election.leaseName}});
                                      }});
    if (auto started = elector->start(); !started) {
      log_.error("leader election cannot start", {{"error", started.error()}});
      return 1;
    }
  } else {
    startLeading();
  }

  bool lost;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stopRequested_ || lostLease_; });
    lost = lostLease_ && !stopRequested_;
    stopRequested_ = true;
  }
  log_.info(lost ? "leadership lost, shutting down" : "shutting down");
  // The elector stops the controllers (onStoppedLeading) before it releases the lease.
  if (elector) {
    elector->stop();
  } else {
    stopLeading();
  }
  for (auto& i : informers_) i->stop();
  metricsServer_->stop();
  healthServer_->stop();
  log_.info("stopped");
  return lost ? 1 : 0;
}

}  // namespace sessionstore::manager
