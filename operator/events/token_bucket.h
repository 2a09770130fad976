// A token bucket on a monotonic clock: holds at most `burst` tokens, gains one every
// `refillEvery`, and each allowed action takes one. The event recorder uses one per regarding
// object and one overall, so a failing reconcile cannot flood the API server with Events.
// Not thread-safe: the owner guards it.
#pragma once

#include <cstdint>

#include "clock/clock.h"

namespace sessionstore::events {

class TokenBucket {
 public:
  // Starts full at `now`.
  // REQUIRES: burst >= 1, refillEvery > 0.
  TokenBucket(int64_t burst, clock::Duration refillEvery, clock::MonotonicTime now);

  // Tokens available at `now` (time never runs backwards for a bucket: earlier `now`s count as
  // the last one seen).
  int64_t available(clock::MonotonicTime now);
  // Takes a token if one is available at `now`.
  bool tryTake(clock::MonotonicTime now);
  // Full again: as if it had never been used (the owner may forget it).
  bool full(clock::MonotonicTime now) { return available(now) == burst_; }

 private:
  void refill(clock::MonotonicTime now);

  int64_t burst_;
  clock::Duration refillEvery_;
  int64_t tokens_;
  clock::MonotonicTime refilledAt_;  // tokens_ is exact as of this time
};

}  // namespace sessionstore::events
