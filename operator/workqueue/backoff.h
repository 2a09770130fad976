// Per-key exponential backoff for retrying failed reconciles, as client-go's
// ItemExponentialFailureRateLimiter (and controller-runtime's default): the n-th failure in a row
// of a key waits base * 2^(n-1), capped at max. With the defaults a failing key is retried after
// 5ms, 10ms, 20ms, ... and from the 19th failure on every 1000s, until forget() resets it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "clock/clock.h"

namespace sessionstore::workqueue {

inline constexpr clock::Duration kDefaultBaseDelay = std::chrono::milliseconds(5);
inline constexpr clock::Duration kDefaultMaxDelay = std::chrono::seconds(1000);

// Not thread-safe: the Queue calls it with its own mutex held.
class ItemExponentialBackoff {
 public:
  // REQUIRES: 0 <= base <= max.
  explicit ItemExponentialBackoff(clock::Duration base = kDefaultBaseDelay,
                                  clock::Duration max = kDefaultMaxDelay)
      : base_(base), max_(max) {}

  // Records one more failure of `key` and returns how long to wait before retrying it.
  clock::Duration when(const std::string& key);
  // Resets `key`: its next failure waits `base` again.
  void forget(const std::string& key) { failures_.erase(key); }
  // Failures recorded for `key` since it was last forgotten.
  std::uint64_t numRequeues(const std::string& key) const;

 private:
  clock::Duration base_;
  clock::Duration max_;
  std::unordered_map<std::string, std::uint64_t> failures_;
};

}  // namespace sessionstore::workqueue
