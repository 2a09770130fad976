// Polling for integration tests (envtest's Eventually): the world converges, tests wait for it.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace sessionstore::testing {

// Calls condition every `interval` until it returns true or `timeout` has passed; returns the
// last answer.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60),
                       std::chrono::milliseconds interval = std::chrono::milliseconds(250)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace sessionstore::testing
