// Time, injected. Everything that waits, times out, backs off or compares times takes a Clock so
// tests of leader election, backoff and stabilization windows run with a fake clock, without
// sleeping (kubebuilder's Clock, Envoy's TimeSource).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace sessionstore::clock {

using Duration = std::chrono::nanoseconds;
// Monotonic time: durations, deadlines, timeouts. Never compared with another machine's clock.
using MonotonicTime = std::chrono::steady_clock::time_point;
// Wall-clock time: only for timestamps written to the API (Lease renewTime, Events, status).
using SystemTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonotonicTime now() const = 0;
  virtual SystemTime wallNow() const = 0;
  // Blocks on `cv` (with `lock` held, as std::condition_variable::wait_until) until it is
  // notified or `deadline` on this clock has passed. Returns false when the deadline has
  // passed. Like any condition-variable wait it may return early: callers loop on their
  // predicate. A fake clock wakes such waiters when it is advanced.
  // REQUIRES: lock owns the mutex the notifier uses.
  virtual bool waitUntil(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock,
                         MonotonicTime deadline) const = 0;
  // Sleeps for `d` on this clock.
  virtual void sleepFor(Duration d) const = 0;
};

// The machine's clocks.
class SystemClock final : public Clock {
 public:
  MonotonicTime now() const override { return std::chrono::steady_clock::now(); }
  SystemTime wallNow() const override { return std::chrono::system_clock::now(); }
  bool waitUntil(std::condition_variable_any& cv, std::unique_lock<std::mutex>& lock,
                 MonotonicTime deadline) const override {
    return cv.wait_until(lock, deadline) == std::cv_status::no_timeout;
  }
  void sleepFor(Duration d) const override;
};

// The process-wide SystemClock.
const Clock& systemClock();

}  // namespace sessionstore::clock
