// The operator process's runtime, as controller-runtime's manager: it serves /metrics, /healthz
// and /readyz (ready once every informer has synced), runs the informers, and runs the
// controllers only while this replica leads (leader election on a Lease), so two replicas never
// both write. It stops gracefully when asked (SIGTERM): controllers finish their keys, the lease
// is released so another replica takes over at once, caches and servers close. Losing the lease
// ends run() with an error, so the process exits and restarts as a follower.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clock/clock.h"
#include "controller/controller.h"
#include "httpserver/endpoints.h"
#include "httpserver/http_server.h"
#include "informer/informer.h"
#include "kube/client.h"
#include "leaderelection/decision.h"
#include "logging/log.h"
#include "metrics/operator_metrics.h"
#include "metrics/registry.h"

namespace sessionstore::manager {

struct ManagerOptions {
  std::string metricsAddress = ":8080";  // host:port; an empty host is every address
  std::string healthAddress = ":8081";
  bool leaderElect = true;
  leaderelection::Config election;  // namespace, name, identity and durations of the Lease
  clock::Duration cacheSyncTimeout = std::chrono::minutes(2);
};

// "host:port" to its parts; ":8080" is 0.0.0.0:8080. The error says what is wrong.
std::expected<std::pair<std::string, uint16_t>, std::string> parseAddress(const std::string& text);

class Manager {
 public:
  // electionClient: the client leader election uses (with a short request timeout).
  // REQUIRES: the clients, registry, metrics and clock outlive the manager.
  Manager(kube::Client& client, ManagerOptions options, metrics::Registry& registry,
          metrics::OperatorMetrics& metrics, kube::Client& electionClient,
          const clock::Clock& clock = clock::systemClock());
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Before run(): an informer the controllers read from (owned by the manager).
  informer::Informer& addInformer(informer::InformerOptions options, informer::Handlers handlers);
  // Before run(): a controller started only while leading.
  void addController(std::unique_ptr<controller::Controller> controller);

  // Runs until requestStop() (returns 0) or until leadership is lost or cannot start (returns
  // 1, after saying why in the log).
  int run();
  // Thread-safe; may be called before or during run().
  void requestStop();

  bool leading() const;
  // The ports served, once run() has started them (0 before).
  uint16_t metricsPort() const;
  uint16_t healthPort() const;

 private:
  void startLeading();
  void stopLeading();
  bool startServers();

  kube::Client& client_;
  kube::Client& electionClient_;
  const ManagerOptions options_;
  metrics::Registry& registry_;
  metrics::OperatorMetrics& metrics_;
  const clock::Clock& clock_;
  logging::Logger log_;

  std::vector<std::unique_ptr<informer::Informer>> informers_;
  std::vector<std::unique_ptr<controller::Controller>> controllers_;
  httpserver::HealthChecks healthz_;
  httpserver::HealthChecks readyz_;
  std::unique_ptr<httpserver::HttpServer> metricsServer_;
  std::unique_ptr<httpserver::HttpServer> healthServer_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopRequested_ = false;       // GUARDED_BY(mu_)
  bool lostLease_ = false;           // GUARDED_BY(mu_)
  bool leading_ = false;             // GUARDED_BY(mu_)
  bool controllersRunning_ = false;  // GUARDED_BY(mu_)
};

}  // namespace sessionstore::manager
