// A controller: a work queue of keys fed by informer events, a pool of workers calling a
// reconciler, and the metrics operators expect (reconcile totals, errors and durations; queue
// depth, adds, retries, wait and work durations), as controller-runtime's controller does.
// The reconciler decides the outcome per key: done, retry with per-key backoff, or look again
// after a while.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clock/clock.h"
#include "informer/informer.h"
#include "metrics/operator_metrics.h"
#include "workqueue/queue.h"
#include "workqueue/runner.h"

namespace sessionstore::controller {

using workqueue::Outcome;

// Reconciles one key ("namespace/name"). Called by one worker at a time per key.
using Reconcile = std::function<Outcome(const std::string& key)>;

// Maps an object an informer saw to the keys it concerns (the object's own key, or its owner's).
using KeysFor = std::function<std::vector<std::string>(const informer::Json& object)>;

// Whether an object an informer saw is only the echo of the operator's own write of it.
using OwnWrite = std::function<bool(const informer::Json& object)>;

struct ControllerOptions {
  std::string name;    // the "controller" label of its metrics
  size_t workers = 2;  // reconciles at once
  clock::Duration baseDelay = workqueue::kDefaultBaseDelay;
  clock::Duration maxDelay = workqueue::kDefaultMaxDelay;
};

class Controller {
 public:
  // REQUIRES: clock and metrics (when given) outlive the controller.
  Controller(ControllerOptions options, Reconcile reconcile,
             const clock::Clock& clock = clock::systemClock(),
             metrics::OperatorMetrics* metrics = nullptr);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Handlers for an informer that enqueue keysFor(object) on every add, update and delete;
  // an update for which `ownWrite(after)` is true (the echo of the operator's own write) is
  // left out.
  informer::Handlers enqueueFor(KeysFor keysFor, OwnWrite ownWrite = nullptr);
  // The object's own key ("namespace/name").
  static std::vector<std::string> ownKey(const informer::Json& object);

  void enqueue(const std::string& key);
  // Starts the workers (the queue collects keys before that).
  void start();
  // Workers finish the keys they hold and those queued, then stop.
  void stop();

  const std::string& name() const { return options_.name; }
  workqueue::QueueStats stats() { return queue_.stats(); }

 private:
  class Observer;
  Outcome reconcileAndMeasure(const std::string& key);
  // Brings the workqueue metrics up to the queue's stats (retries show after the next reconcile
  // or enqueue: the runner requeues after the reconciler returns).
  void publishQueueMetrics();

  const ControllerOptions options_;
  const Reconcile reconcile_;
  const clock::Clock& clock_;
  metrics::OperatorMetrics* metrics_;
  std::unique_ptr<Observer> observer_;
  workqueue::Queue queue_;
  workqueue::Runner runner_;
  std::mutex publishMu_;
  uint64_t publishedAdds_ = 0;     // GUARDED_BY(publishMu_)
  uint64_t publishedRetries_ = 0;  // GUARDED_BY(publishMu_)
};

}  // namespace sessionstore::controller
