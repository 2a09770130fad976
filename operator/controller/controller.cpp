#include "controller/controller.h"

namespace sessionstore::controller {

namespace {

double seconds(clock::Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

// Feeds the queue's timings into the workqueue histograms and keeps the gauges current.
class Controller::Observer final : public workqueue::QueueObserver {
 public:
  Observer(metrics::OperatorMetrics* metrics, const std::string& name)
      : waited_(metrics ? metrics->workqueueQueueDurationSeconds.withLabels({name}) : nullptr),
        worked_(metrics ? metrics->workqueueWorkDurationSeconds.withLabels({name}) : nullptr) {}
  void onWaited(const std::string&, clock::Duration waited) override {
    if (waited_) waited_->observe(seconds(waited));
  }
  void onProcessed(const std::string&, clock::Duration took) override {
    if (worked_) worked_->observe(seconds(took));
  }

 private:
  std::shared_ptr<metrics::Histogram> waited_;
  std::shared_ptr<metrics::Histogram> worked_;
};

Controller::Controller(ControllerOptions options, Reconcile reconcile, const clock::Clock& clock,
                       metrics::OperatorMetrics* metrics)
    : options_(std::move(options)),
      reconcile_(std::move(reconcile)),
      clock_(clock),
      metrics_(metrics),
      observer_(std::make_unique<Observer>(metrics, options_.name)),
      queue_(clock, workqueue::QueueOptions{.baseDelay = options_.baseDelay,
                                            .maxDelay = options_.maxDelay,
                                            .observer = observer_.get()}),
      runner_(
          queue_, [this](const std::string& key) { return reconcileAndMeasure(key); },
          options_.workers) {}

Controller::~Controller() { stop(); }

std::vector<std::string> Controller::ownKey(const informer::Json& object) {
  auto key = informer::Informer::keyOf(object);
  if (key.empty()) return {};
  return {std::move(key)};
}

informer::Handlers Controller::enqueueFor(KeysFor keysFor, OwnWrite ownWrite) {
  auto enqueueAll = [this, keysFor](const informer::Json& object) {
    for (const auto& key : keysFor(object)) enqueue(key);
  };
  return informer::Handlers{
      .onAdd = enqueueAll,
      .onUpdate =
          [enqueueAll, ownWrite](const informer::Json&, const informer::Json& after) {
            if (ownWrite && ownWrite(after)) return;
            enqueueAll(after);
          },
      .onDelete = enqueueAll};
}

void Controller::enqueue(const std::string& key) {
  queue_.add(key);
  publishQueueMetrics();
}

void Controller::publishQueueMetrics() {
  if (!metrics_) return;
  const auto stats = queue_.stats();
  const auto& name = options_.name;
  metrics_->workqueueDepth.withLabels({name})->set(static_cast<double>(stats.depth));
  // The counters follow the queue's own totals, which only grow.
  std::lock_guard lock(publishMu_);
  metrics_->workqueueAddsTotal.withLabels({name})->inc(
      static_cast<double>(stats.addsTotal - publishedAdds_));
  metrics_->workqueueRetriesTotal.withLabels({name})->inc(
      static_cast<double>(stats.retriesTotal - publishedRetries_));
  publishedAdds_ = stats.addsTotal;
  publishedRetries_ = stats.retriesTotal;
}

void Controller::start() { runner_.start(); }

void Controller::stop() {
  runner_.stop();
  publishQueueMetrics();
}

Outcome Controller::reconcileAndMeasure(const std::string& key) {
  const auto started = clock_.now();
  Outcome outcome = Outcome::retry();
  try {
    outcome = reconcile_(key);
  } catch (...) {
    outcome = Outcome::retry();  // a throwing reconciler is a failed one, not a dead worker
  }
  if (metrics_) {
    const auto& name = options_.name;
    metrics_->reconcileTimeSeconds.withLabels({name})->observe(seconds(clock_.now() - started));
    std::string_view result = metrics::kResultSuccess;
    if (outcome.kind == Outcome::Kind::kRetry) {
      result = metrics::kResultError;
      metrics_->reconcileErrorsTotal.withLabels({name})->inc();
    } else if (outcome.kind == Outcome::Kind::kRequeueAfter) {
      result = metrics::kResultRequeueAfter;
    }
    metrics_->reconcileTotal.withLabels({name, std::string(result)})->inc();
  }
  publishQueueMetrics();
  return outcome;
}

}  // namespace sessionstore::controller
