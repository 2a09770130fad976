// Waiting for other threads in the work queue's tests without sleeping: spin (yielding) until a
// condition holds. The real-time bounds only turn a broken queue into a failed test instead of a
// hung or aborted one; a passing test never comes near them.
#pragma once

#include <chrono>
#include <functional>
#include <thread>
#include <utility>

namespace sessionstore::workqueue {

template <typename Condition>
bool spinUntil(Condition condition) {
  const auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > giveUp) return false;
    std::this_thread::yield();
  }
  return true;
}

// Joins a test's helper thread if the test ends (say, on a failed ASSERT) before joining it,
// after calling `unblock` to release whatever the thread may still be waiting for.
class JoinOnExit {
 public:
  JoinOnExit(std::thread& thread, std::function<void()> unblock)
      : thread_(thread), unblock_(std::move(unblock)) {}
  ~JoinOnExit() {
    if (!thread_.joinable()) return;
    unblock_();
    thread_.join();
  }
  JoinOnExit(const JoinOnExit&) = delete;
  JoinOnExit& operator=(const JoinOnExit&) = delete;

 private:
  std::thread& thread_;
  std::function<void()> unblock_;
};

}  // namespace sessionstore::workqueue
