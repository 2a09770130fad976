// A Clock that moves only when a test says so. Waiters (waitUntil, sleepFor) wake when advance()
// passes their deadline, so code that waits on time can be tested without sleeping.
#pragma once

#include <algorithm>
#include <set>

#include "clock/clock.h"

namespace sessionstore::clock {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(SystemTime wallStart = SystemTime(std::chrono::seconds(1'700'000'000)))
      : wallStart_(wallStart) {}

  MonotonicTime now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  SystemTime wallNow() const override {
    std::lock_guard lock(mu_);
    return wallStart_ + (now_ - MonotonicTime{});
  }

  bool waitUntil(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock,
                 MonotonicTime deadline) const override {
    {
      std::lock_guard guard(mu_);
      if (now_ >= deadline) return false;
      waiters_.insert(&cv);
    }
    // Woken by the notifier or by advance(). advance() cannot take the caller's mutex, so a
    // wake-up can slip in before this wait starts; the short real-time bound makes that cost a
    // few milliseconds instead of a hang. Returning early is allowed (callers loop, as with any
    // condition variable).
    cv.wait_for(lock, std::chrono::milliseconds(5));
    std::lock_guard guard(mu_);
    waiters_.erase(waiters_.find(&cv));
    return now_ < deadline;
  }

  void sleepFor(Duration d) const override {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    const auto deadline = now() + d;
    while (now() < deadline) waitUntil(cv, lock, deadline);
  }

  // Moves time forward and wakes every waiter so it can check its deadline.
  void advance(Duration d) {
    std::multiset<std::condition_variable_any*> toWake;
    {
      std::lock_guard lock(mu_);
      now_ += d;
      toWake = waiters_;
    }
    for (auto* cv : toWake) cv->notify_all();
  }

  // Number of threads blocked in waitUntil/sleepFor right now (to sequence tests).
  size_t waiters() const {
    std::lock_guard lock(mu_);
    return waiters_.size();
  }

 private:
  mutable std::mutex mu_;
  MonotonicTime now_{std::chrono::hours(1)};  // GUARDED_BY(mu_)
  SystemTime wallStart_;
  mutable std::multiset<std::condition_variable_any*> waiters_;  // GUARDED_BY(mu_)
};

}  // namespace sessionstore::clock
