#include "poller/poller.h"

#include <algorithm>

namespace sessionstore::poller {

Poller::Poller(Poll poll, std::size_t threads, const clock::Clock& clock, Timing timing)
    : poll_(std::move(poll)),
      threads_(std::max<std::size_t>(threads, 1)),
      clock_(clock),
      timing_(timing) {}

Poller::~Poller() { stop(); }

void Poller::schedule(const std::string& key, clock::MonotonicTime at) {
  due_[key] = at;
  queue_.emplace(at, key);
}

void Poller::track(const std::string& key, clock::Duration delay) {
  std::lock_guard lock(mu_);
  dropped_.erase(key);
  if (due_.contains(key) || running_.contains(key)) return;
  const auto at = clock_.now() + delay;
  schedule(key, at);
  // Only a new earliest key changes what a waiting worker waits for; the one woken becomes the
  // primary for it (work()), and wakes the next one if more is due.
  if (queue_.begin()->second == key) changed_.notify_one();
}

void Poller::untrack(const std::string& key) {
  std::lock_guard lock(mu_);
  if (const auto it = due_.find(key); it != due_.end()) {
    queue_.erase({it->second, key});
    due_.erase(it);
  }
  if (running_.contains(key)) dropped_.insert(key);
  // No wake-up: a worker waiting for this key's time finds nothing due then and waits again.
}

bool Poller::tracking(const std::string& key) const {
  std::lock_guard lock(mu_);
  return (due_.contains(key) || running_.contains(key)) && !dropped_.contains(key);
}

std::size_t Poller::size() const {
  std::lock_guard lock(mu_);
  return due_.size() + running_.size() - dropped_.size();
}

void Poller::start() {
  std::lock_guard lock(mu_);
  if (!workers_.empty()) return;
  stopping_ = false;
  for (std::size_t i = 0; i < threads_; ++i) workers_.emplace_back([this] { work(); });
}

void Poller::stop() {
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    workers.swap(workers_);
    changed_.notify_all();
  }
  for (auto& worker : workers) worker.join();
}

void Poller::work() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      changed_.wait(lock);
      continue;
    }
    // The earliest scheduled key (a running key is never scheduled, see track()).
    const auto next = queue_.begin();
    const auto now = clock_.now();
    if (next->first > now + timing_.early) {
      // One worker, the primary, waits for the earliest key's time; the others wait grace_
      // longer and take it only if the primary is still busy then. At rest one thread wakes per
      // poll instead of every idle one. A worker finding an earlier key than the primary waits
      // for becomes the primary (the old one wakes at its time and finds nothing to do).
      if (!primaryDeadline_ || next->first < *primaryDeadline_) {
        const auto deadline = next->first;
        primaryDeadline_ = deadline;
        clock_.waitUntil(changed_, lock, deadline);
        if (primaryDeadline_ == deadline) primaryDeadline_.reset();
      } else {
        clock_.waitUntil(changed_, lock, next->first + timing_.grace);
      }
      continue;
    }
    const std::string key = next->second;
    queue_.erase(next);
    due_.erase(key);
    running_.insert(key);
    // Another key due now too: let a waiting worker take it rather than wait for this poll (one
    // due only early is left to this worker, after its poll).
    if (!queue_.empty() && queue_.begin()->first <= now) changed_.notify_one();
    lock.unlock();
    std::optional<clock::Duration> again;
    try {
      again = poll_(key);
    } catch (...) {
      again = std::chrono::seconds(30);  // a bug in one poll must not end the thread
    }
    lock.lock();
    running_.erase(key);
    const bool dropped = dropped_.erase(key) > 0;
    if (again && !dropped && !stopping_ && !due_.contains(key)) {
      schedule(key, clock_.now() + *again);
    }
  }
}

}  // namespace sessionstore::poller
