#include "poller/poller.h"

#include <algorithm>

namespace sessionstore::poller {

Poller::Poller(Poll poll, std::size_t threads, const clock::Clock& clock)
    : poll_(std::move(poll)), threads_(std::max<std::size_t>(threads, 1)), clock_(clock) {}

Poller::~Poller() { stop(); }

void Poller::track(const std::string& key, clock::Duration delay) {
  std::lock_guard lock(mu_);
  dropped_.erase(key);
  if (due_.contains(key) || running_.contains(key)) return;
  due_[key] = clock_.now() + delay;
  changed_.notify_all();
}

void Poller::untrack(const std::string& key) {
  std::lock_guard lock(mu_);
  due_.erase(key);
  if (running_.contains(key)) dropped_.insert(key);
  changed_.notify_all();
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
    // The earliest due key that no other thread is polling.
    auto next = due_.end();
    for (auto it = due_.begin(); it != due_.end(); ++it) {
      if (!running_.contains(it->first) && (next == due_.end() || it->second < next->second)) {
        next = it;
      }
    }
    if (next == due_.end()) {
      changed_.wait(lock);
      continue;
    }
    if (next->second > clock_.now()) {
      clock_.waitUntil(changed_, lock, next->second);
      continue;
    }
    const std::string key = next->first;
    due_.erase(next);
    running_.insert(key);
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
    if (again && !dropped && !stopping_ && !due_.contains(key)) due_[key] = clock_.now() + *again;
    changed_.notify_all();
  }
}

}  // namespace sessionstore::poller
