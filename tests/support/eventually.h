// Polling for integration tests (envtest's Eventually): the world converges, tests wait for it.
// And envtest's Consistently bounded by a fact instead of a duration: a test that sleeps and then
// asserts that nothing happened passes when the thing happens late, so it waits for a marker
// that proves the operator has looked since the change (a later resourceVersion, a counter on
// /metrics, an Event) and holds the condition until then.
#pragma once

#include <chrono>
#include <functional>
#include <ostream>
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

// What consistentlyUntil saw.
enum class Held {
  kUntilTheMarker,  // the condition held at every look, the last one after the marker came
  kBroke,           // the condition failed at some look
  kNoMarker,        // the condition held, but the marker did not come within the timeout
};

inline std::ostream& operator<<(std::ostream& out, Held held) {
  switch (held) {
    case Held::kUntilTheMarker:
      return out << "held until the marker";
    case Held::kBroke:
      return out << "the condition broke";
    case Held::kNoMarker:
      return out << "the marker never came";
  }
  return out;
}

// Checks `condition` every `interval` until `marker` holds, the condition once more after it.
// The marker is read before the condition at each look, so the last look at the condition comes
// after the marker: the operator had looked (marker) and still nothing happened (condition).
inline Held consistentlyUntil(const std::function<bool()>& condition,
                              const std::function<bool()>& marker,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60),
                              std::chrono::milliseconds interval = std::chrono::milliseconds(250)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const bool marked = marker();
    if (!condition()) return Held::kBroke;
    if (marked) return Held::kUntilTheMarker;
    if (std::chrono::steady_clock::now() >= deadline) return Held::kNoMarker;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace sessionstore::testing
