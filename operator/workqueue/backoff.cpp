#include "workqueue/backoff.h"

namespace sessionstore::workqueue {

clock::Duration ItemExponentialBackoff::when(const std::string& key) {
  const std::uint64_t previous = failures_[key]++;
  // base * 2^previous, stopping at max before the doubling could overflow.
  clock::Duration delay = base_;
  for (std::uint64_t i = 0; i < previous && delay > clock::Duration::zero() && delay < max_; ++i) {
    delay = delay > max_ / 2 ? max_ : delay * 2;
  }
  return delay < max_ ? delay : max_;
}

std::uint64_t ItemExponentialBackoff::numRequeues(const std::string& key) const {
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

}  // namespace sessionstore::workqueue
