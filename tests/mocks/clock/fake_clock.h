// A Clock that moves only when a test says so. Waiters (waitUntil, sleepFor) wake when advance()
// passes their deadline, so code that waits on time can be tested without sleeping.
#pragma once

#include <condition_variable>
#include <mutex>
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
    // The caller's mutex and mu_ are held together from the deadline check until `cv` has
    // released both, and advance() notifies with mu_ held: a wake-up from advance() can neither
    // slip in before this wait starts nor reach a condition variable whose waiter has returned.
    // Lock order: the caller's mutex, then mu_, then cv's internal mutex.
    BothLocks both{lock, mu_};
    mu_.lock();
    if (now_ >= deadline) {
      mu_.unlock();
      return false;
    }
    const auto registered = waiters_.insert(&cv);
    cv.wait(both);  // returns with both held again
    waiters_.erase(registered);
    const bool pending = now_ < deadline;
    mu_.unlock();
    return pending;
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
    std::lock_guard lock(mu_);
    now_ += d;
    for (auto* cv : waiters_) cv->notify_all();
  }

  // Number of threads blocked in waitUntil/sleepFor right now (to sequence tests).
  size_t waiters() const {
    std::lock_guard lock(mu_);
    return waiters_.size();
  }

 private:
  // Locks and unlocks the caller's lock and mu_ as one, for condition_variable_any::wait.
  struct BothLocks {
    std::unique_lock<std::mutex>& caller;
    std::mutex& clock;
    void lock() {
      caller.lock();
      clock.lock();
    }
    void unlock() {
      clock.unlock();
      caller.unlock();
    }
  };

  mutable std::mutex mu_;
  MonotonicTime now_{std::chrono::hours(1)};  // GUARDED_BY(mu_)
  SystemTime wallStart_;
  mutable std::multiset<std::condition_variable_any*> waiters_;  // GUARDED_BY(mu_)
};

}  // namespace sessionstore::clock
