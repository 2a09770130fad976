// Autoscaling at run time (PRODUCT.md item 7): every SessionStore with spec.autoscaling.enabled
// is polled every pollIntervalSeconds on the Poller's own threads (never a work-queue worker).
// A poll measures each metric of the spec (sources.h), lets the store's Autoscaler decide
// (autoscale/autoscaler.h), applies spec.replicas only, by server-side apply on the Deployment's
// scale subresource under the field manager sessionstore-operator (so the wiring the reconciler
// applied to the same Deployment stays its own), and reports: an Event for each scale with its
// reason in numbers, status.target (desiredReplicas, lastScaleTime, lastScaleReason),
// status.autoscaling.metrics, and the AutoscalingActive condition.
//
// It does not scale, and says so in the condition, when a HorizontalPodAutoscaler or a KEDA
// ScaledObject already targets the Deployment. One Redis connection per store, reused, with
// connect and command timeouts, opened again (AUTH again) after a failure. A manual
// `kubectl scale` is not fought in a loop: the next poll decides from the new count like any
// other, and a change it makes is an Event.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/session_store.h"
#include "autoscaling/sources.h"
#include "clock/clock.h"
#include "egress/host_policy.h"
#include "events/recorder.h"
#include "health/store_prober.h"
#include "kube/client.h"
#include "logging/log.h"
#include "metrics/operator_metrics.h"
#include "poller/poller.h"
#include "scalepolicy/autoscaler.h"
#include "transport/http_transport.h"

namespace sessionstore::autoscaling {

// KEDA's ScaledObject, looked for beside HorizontalPodAutoscalers.
inline const kube::Resource& kScaledObjects = kube::resources::kScaledObjects;

struct ScalingOptions {
  std::size_t threads = 2;
  std::chrono::milliseconds storeTimeout{2000};  // Redis connect and command timeouts
  std::chrono::seconds prometheusTimeout{5};
  clock::Duration retryAfterError = std::chrono::seconds(5);  // when a poll cannot even start
  // Where Latency queries may go (egress/host_policy.h), checked right before each query: a
  // refused host fails the metric with a message naming the field and why.
  egress::HostPolicy prometheusHosts;
};

// Opens an HTTP transport to a Prometheus base URL (tests inject their own).
using TransportFactory = std::function<transport::Result<std::unique_ptr<transport::Transport>>(
    const std::string& baseUrl, std::chrono::seconds timeout)>;

class ScalingController {
 public:
  // recorder and metrics may be null; addresses may be null (no address map).
  // REQUIRES: every reference outlives the controller.
  ScalingController(kube::Client& client, events::EventRecorder* recorder,
                    std::shared_ptr<health::AddressMap> addresses, TransportFactory prometheus,
                    ScalingOptions options = {}, const clock::Clock& clock = clock::systemClock(),
                    metrics::OperatorMetrics* metrics = nullptr);
  ~ScalingController();

  // After each reconcile of a live SessionStore: polls it while autoscaling is enabled.
  void observe(const api::SessionStore& store);
  // The SessionStore is gone (or being deleted): stop polling it and drop its state.
  void forget(const std::string& key);

  void start();
  void stop();

  // Polls one key now (the Poller calls it; tests may too). Returns when to poll again.
  std::optional<clock::Duration> poll(const std::string& key);

 private:
  struct StoreState;
  StoreState& stateFor(const std::string& key);

  kube::Client& client_;
  events::EventRecorder* recorder_;
  std::shared_ptr<health::AddressMap> addresses_;
  TransportFactory prometheus_;
  const ScalingOptions options_;
  const clock::Clock& clock_;
  metrics::OperatorMetrics* metrics_;
  logging::Logger log_;

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<StoreState>> states_;  // GUARDED_BY(mu_)
  poller::Poller poller_;
};

}  // namespace sessionstore::autoscaling
