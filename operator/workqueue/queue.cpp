#include "workqueue/queue.h"

#include <algorithm>
#include <utility>

namespace sessionstore::workqueue {

Queue::Queue(const clock::Clock& clock, QueueOptions options)
    : clock_(clock), options_(options), backoff_(options.baseDelay, options.maxDelay) {}

void Queue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  promoteReadyLocked();
  addLocked(key, clock_.now());
}

void Queue::addLocked(const std::string& key, clock::MonotonicTime addedAt) {
  if (shuttingDown_ || dirty_.contains(key)) return;
  ++addsTotal_;
  dirty_.emplace(key, addedAt);
  // A key being processed is queued again by done().
  if (processing_.contains(key)) return;
  queue_.push_back(key);
  keysChanged_.notify_all();
}

void Queue::promoteReadyLocked() {
  if (delayed_.empty()) return;
  const auto now = clock_.now();
  while (!delayed_.empty() && delayed_.begin()->readyAt <= now) {
    auto node = delayed_.extract(delayed_.begin());
    delayedByKey_.erase(node.value().key);
    // Added as of the time it became ready, as client-go's waiting loop would have added it.
    addLocked(node.value().key, node.value().readyAt);
  }
}

void Queue::addAfter(const std::string& key, clock::Duration delay) {
  std::lock_guard lock(mu_);
  addAfterLocked(key, delay);
}

void Queue::addRateLimited(const std::string& key, clock::Duration atLeast) {
  std::lock_guard lock(mu_);
  addAfterLocked(key, std::max(backoff_.when(key), atLeast));
}

void Queue::addAfterLocked(const std::string& key, clock::Duration delay) {
  if (shuttingDown_) return;
  ++retriesTotal_;
  promoteReadyLocked();
  if (delay <= clock::Duration::zero()) {
    addLocked(key, clock_.now());
    return;
  }
  const auto readyAt = clock_.now() + std::min(delay, kMaxAddAfter);
  if (const auto it = delayedByKey_.find(key); it != delayedByKey_.end()) {
    if (it->second->readyAt <= readyAt) return;  // the earlier time wins
    delayed_.erase(it->second);
    delayedByKey_.erase(it);
  }
  delayedByKey_.emplace(key, delayed_.insert(Delayed{readyAt, nextSequence_++, key}).first);
  // A get() waiting for a later time, or for no time at all, must wait for this one instead.
  keysChanged_.notify_all();
}

void Queue::dropDelayed(const std::string& key) {
  std::lock_guard lock(mu_);
  promoteReadyLocked();  // one whose time has come is ready, not pending: it stays
  if (const auto it = delayedByKey_.find(key); it != delayedByKey_.end()) {
    delayed_.erase(it->second);
    delayedByKey_.erase(it);
  }
}

void Queue::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  backoff_.forget(key);
}

std::uint64_t Queue::numRequeues(const std::string& key) const {
  std::lock_guard lock(mu_);
  return backoff_.numRequeues(key);
}

std::optional<std::string> Queue::get() {
  std::unique_lock lock(mu_);
  ++idleGets_;
  while (true) {
    promoteReadyLocked();
    if (!queue_.empty() || shuttingDown_) break;
    if (delayed_.empty()) {
      keysChanged_.wait(lock);
    } else {
      clock_.waitUntil(keysChanged_, lock, delayed_.begin()->readyAt);
    }
  }
  --idleGets_;
  if (queue_.empty()) return std::nullopt;  // shut down and nothing left

  std::string key = std::move(queue_.front());
  queue_.pop_front();
  const auto now = clock_.now();
  const auto added = dirty_.find(key);
  const clock::Duration waited = now - added->second;
  dirty_.erase(added);
  processing_.emplace(key, now);
  lock.unlock();
  if (options_.observer != nullptr) options_.observer->onWaited(key, waited);
  return key;
}

void Queue::done(const std::string& key) {
  std::unique_lock lock(mu_);
  const auto it = processing_.find(key);
  if (it == processing_.end()) return;
  const clock::Duration took = clock_.now() - it->second;
  processing_.erase(it);
  promoteReadyLocked();
  if (dirty_.contains(key)) {
    queue_.push_back(key);
    keysChanged_.notify_all();
  }
  if (processing_.empty()) drained_.notify_all();
  lock.unlock();
  if (options_.observer != nullptr) options_.observer->onProcessed(key, took);
}

void Queue::shutDown() {
  std::lock_guard lock(mu_);
  shuttingDown_ = true;
  drain_ = false;
  delayed_.clear();
  delayedByKey_.clear();
  keysChanged_.notify_all();
  drained_.notify_all();
}

void Queue::shutDownWithDrain() {
  std::unique_lock lock(mu_);
  shuttingDown_ = true;
  drain_ = true;
  delayed_.clear();
  delayedByKey_.clear();
  keysChanged_.notify_all();
  drained_.wait(lock, [this] { return processing_.empty() || !drain_; });
}

bool Queue::shuttingDown() const {
  std::lock_guard lock(mu_);
  return shuttingDown_;
}

std::size_t Queue::len() {
  std::lock_guard lock(mu_);
  promoteReadyLocked();
  return queue_.size();
}

QueueStats Queue::stats() {
  std::lock_guard lock(mu_);
  promoteReadyLocked();
  return QueueStats{
      .depth = dirty_.size(),
      .delayed = delayed_.size(),
      .processing = processing_.size(),
      .idleGets = idleGets_,
      .addsTotal = addsTotal_,
      .retriesTotal = retriesTotal_,
  };
}

}  // namespace sessionstore::workqueue
