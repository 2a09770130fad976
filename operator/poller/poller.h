// Runs a periodic poll per key, each on its own schedule, on a small fixed pool of threads of its
// own, so that polling never holds a work-queue worker and a slow poll (a Prometheus that times
// out, a store that does not answer) delays only its own key. The autoscaler polls each
// autoscaled SessionStore's load with it; the health monitor probes each store with it. A key is
// never polled twice at once; a poll returns when to poll that key again, or nothing to stop.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "clock/clock.h"

namespace sessionstore::poller {

class Poller {
 public:
  // Polls `key`; returns the delay before the next poll, or nullopt to stop polling it.
  using Poll = std::function<std::optional<clock::Duration>(const std::string& key)>;

  struct Timing {
    // How late a key may be polled when the thread waiting for it is busy with another key's
    // slow poll (see work()).
    clock::Duration grace = std::chrono::milliseconds(50);
    // How early a key may be polled: a thread that finds the next key due within `early` polls
    // it at once rather than sleep until then, so many keys on short intervals cost one wake-up
    // per few polls instead of one each. 0: never early.
    clock::Duration early{};
  };

  // REQUIRES: threads >= 1; `clock` outlives the poller.
  Poller(Poll poll, std::size_t threads, const clock::Clock& clock, Timing timing);
  Poller(Poll poll, std::size_t threads, const clock::Clock& clock)
      : Poller(std::move(poll), threads, clock, Timing{}) {}
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Polls `key` after `delay` unless it is already scheduled (its schedule is kept) or running.
  void track(const std::string& key, clock::Duration delay = {});
  // Stops polling `key` (a poll running now finishes).
  void untrack(const std::string& key);
  bool tracking(const std::string& key) const;
  std::size_t size() const;

  void start();
  // Waits for running polls; nothing runs after it returns.
  void stop();

 private:
  void work();
  // REQUIRES: mu_ held; `key` is neither scheduled nor running.
  void schedule(const std::string& key, clock::MonotonicTime at);

  const Poll poll_;
  const std::size_t threads_;
  const clock::Clock& clock_;
  const Timing timing_;
  mutable std::mutex mu_;
  std::condition_variable_any changed_;
  // The scheduled keys, by key and by time (the same entries; never a running key), so that the
  // next poll is found without looking at every key.
  std::map<std::string, clock::MonotonicTime> due_;               // GUARDED_BY(mu_)
  std::set<std::pair<clock::MonotonicTime, std::string>> queue_;  // GUARDED_BY(mu_)
  std::set<std::string> running_;                                 // GUARDED_BY(mu_)
  std::set<std::string> dropped_;  // GUARDED_BY(mu_): untracked while running
  // The time the one worker waiting for the earliest key waits for; the other idle workers wait
  // grace_ longer, and so wake only when it is busy elsewhere, not once per poll each.
  std::optional<clock::MonotonicTime> primaryDeadline_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                                // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

}  // namespace sessionstore::poller
