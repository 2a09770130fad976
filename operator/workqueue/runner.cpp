#include "workqueue/runner.h"

#include <utility>

namespace sessionstore::workqueue {

Runner::Runner(Queue& queue, Handler handler, std::size_t workers)
    : queue_(queue), handler_(std::move(handler)), workers_(workers) {}

Runner::~Runner() { stop(); }

void Runner::start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  threads_.reserve(workers_);
  for (std::size_t i = 0; i < workers_; ++i) threads_.emplace_back([this] { work(); });
}

void Runner::stop() {
  std::lock_guard lock(mu_);
  if (!started_) return;
  queue_.shutDown();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

void Runner::work() {
  while (const auto key = queue_.get()) {
    Outcome outcome = Outcome::retry();
    try {
      outcome = handler_(*key);
    } catch (...) {
      outcome = Outcome::retry();
    }
    switch (outcome.kind) {
      // A pass that ended supersedes the looks earlier passes asked for (a waiting store's
      // back-off, set before it became Ready, would otherwise come back for nothing).
      case Outcome::Kind::kSuccess:
        queue_.forget(*key);
        queue_.dropDelayed(*key);
        break;
      case Outcome::Kind::kRetry:
        queue_.addRateLimited(*key, outcome.after);
        break;
      case Outcome::Kind::kRequeueAfter:
        queue_.forget(*key);
        queue_.dropDelayed(*key);
        queue_.addAfter(*key, outcome.after);
        break;
    }
    queue_.done(*key);
  }
}

}  // namespace sessionstore::workqueue
