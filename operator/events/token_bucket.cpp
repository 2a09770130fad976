#include "events/token_bucket.h"

namespace sessionstore::events {

TokenBucket::TokenBucket(int64_t burst, clock::Duration refillEvery, clock::MonotonicTime now)
    : burst_(burst), refillEvery_(refillEvery), tokens_(burst), refilledAt_(now) {}

void TokenBucket::refill(clock::MonotonicTime now) {
  if (now <= refilledAt_) return;
  if (tokens_ >= burst_) {
    refilledAt_ = now;
    return;
  }
  const int64_t gained = (now - refilledAt_) / refillEvery_;
  if (gained >= burst_ - tokens_) {
    tokens_ = burst_;
    refilledAt_ = now;
  } else {
    tokens_ += gained;
    refilledAt_ += gained * refillEvery_;
  }
}

int64_t TokenBucket::available(clock::MonotonicTime now) {
  refill(now);
  return tokens_;
}

bool TokenBucket::tryTake(clock::MonotonicTime now) {
  refill(now);
  if (tokens_ == 0) return false;
  --tokens_;
  return true;
}

}  // namespace sessionstore::events
