// The controller's work queue of reconcile keys ("namespace/name"), with client-go's semantics
// (k8s.io/client-go/util/workqueue: Type, the delaying queue and the rate-limiting queue):
//  - add() deduplicates: a key already waiting is not queued twice.
//  - A key handed out by get() is never handed to a second worker before done(key); adding it
//    meanwhile marks it dirty, and done() queues it again.
//  - addAfter() adds a key once a delay has passed on the injected Clock (a requeue-after); a
//    key already waiting for a delay keeps the earlier of the two times.
//  - addRateLimited() adds after the key's exponential backoff (ItemExponentialBackoff);
//    forget() resets the backoff once the key succeeds.
//  - After shutDown() nothing new is added and delayed keys are dropped, but keys already queued
//    are still handed out; get() returns nullopt once the queue is empty. shutDownWithDrain()
//    also waits until every key handed out is done.
// Keys whose delay has passed are moved into the queue by the next call on it (a blocked get()
// wakes for the earliest one), counted as added at the time they became ready, so order and
// wait times are those of client-go's background loop without a thread of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "clock/clock.h"
#include "workqueue/backoff.h"

namespace sessionstore::workqueue {

// Counters for the metrics component, as client-go's workqueue metrics.
struct QueueStats {
  std::size_t depth = 0;           // keys waiting to be handed out (workqueue_depth)
  std::size_t delayed = 0;         // keys waiting for their addAfter / addRateLimited delay
  std::size_t processing = 0;      // keys handed out and not done yet
  std::size_t idleGets = 0;        // threads blocked in get(), i.e. idle workers
  std::uint64_t addsTotal = 0;     // adds of keys not already waiting (workqueue_adds_total)
  std::uint64_t retriesTotal = 0;  // addAfter and addRateLimited calls (workqueue_retries_total)
};

// Per-key timings as they happen, for histograms (client-go's workqueue_queue_duration_seconds
// and workqueue_work_duration_seconds). Called without the queue's mutex held, on the thread
// that called get() or done(); it may read the queue's stats but should return quickly.
class QueueObserver {
 public:
  virtual ~QueueObserver() = default;
  // `key` was handed out by get() after waiting `waited` since it was added.
  virtual void onWaited(const std::string& key, clock::Duration waited) = 0;
  // done(`key`) came `took` after get() handed it out.
  virtual void onProcessed(const std::string& key, clock::Duration took) = 0;
};

struct QueueOptions {
  clock::Duration baseDelay = kDefaultBaseDelay;  // first backoff of addRateLimited
  clock::Duration maxDelay = kDefaultMaxDelay;    // longest backoff
  QueueObserver* observer = nullptr;              // optional; not owned, outlives the queue
};

class Queue {
 public:
  // REQUIRES: `clock` outlives the queue.
  explicit Queue(const clock::Clock& clock, QueueOptions options = {});
  // REQUIRES: no thread is inside get() or shutDownWithDrain().
  ~Queue() = default;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  void add(const std::string& key);
  // Adds `key` once `delay` has passed (at once if it is not positive). Delays longer than
  // kMaxAddAfter are shortened to it, so time arithmetic cannot overflow.
  void addAfter(const std::string& key, clock::Duration delay);
  // addAfter(key, the key's next backoff), or `atLeast` when that is longer (a server's
  // Retry-After); the backoff advances either way.
  void addRateLimited(const std::string& key, clock::Duration atLeast = clock::Duration::zero());
  // Resets the key's backoff (after a success). Does not remove it from the queue.
  void forget(const std::string& key);
  // Drops the key's pending addAfter / addRateLimited, if any (a key already ready stays). A
  // pass that has just looked at the key supersedes the look an earlier pass asked for.
  void dropDelayed(const std::string& key);
  // Failures recorded by addRateLimited since the key was last forgotten.
  std::uint64_t numRequeues(const std::string& key) const;

  // Blocks until a key is ready and hands it out, or returns nullopt once the queue is shut
  // down and empty. The caller must call done(key) when it has finished with it.
  std::optional<std::string> get();
  // Ends the processing of a key handed out by get(); queues it again if it was re-added
  // meanwhile. A key that is not being processed is ignored.
  void done(const std::string& key);

  void shutDown();
  // shutDown(), then waits until no key handed out is left without done(). Returns early if
  // shutDown() is called meanwhile.
  // REQUIRES: workers keep calling done() (or the wait never ends).
  void shutDownWithDrain();
  bool shuttingDown() const;

  // Keys queued and ready to be handed out (client-go's Len()).
  std::size_t len();
  QueueStats stats();

  static constexpr clock::Duration kMaxAddAfter = std::chrono::hours(24 * 365 * 10);

 private:
  struct Delayed {
    clock::MonotonicTime readyAt;
    std::uint64_t sequence;  // ties keep the order of the addAfter calls
    std::string key;
    bool operator<(const Delayed& other) const {
      return readyAt != other.readyAt ? readyAt < other.readyAt : sequence < other.sequence;
    }
  };

  // REQUIRES: mu_ held.
  void addLocked(const std::string& key, clock::MonotonicTime addedAt);
  void addAfterLocked(const std::string& key, clock::Duration delay);
  void promoteReadyLocked();

  const clock::Clock& clock_;
  const QueueOptions options_;

  mutable std::mutex mu_;
  // get() waits here for a key; notified on every change that can give it one. A
  // condition_variable_any because timed waits go through clock_.waitUntil.
  std::condition_variable_any keysChanged_;
  // shutDownWithDrain() waits here for processing_ to empty.
  std::condition_variable drained_;

  // Keys ready to be handed out, in order; each is also in dirty_. GUARDED_BY(mu_)
  std::deque<std::string> queue_;
  // Keys waiting to be handed out (queued, or re-added while processed) and the time each was
  // added. GUARDED_BY(mu_)
  std::unordered_map<std::string, clock::MonotonicTime> dirty_;
  // Keys handed out and not done, and the time each was handed out. GUARDED_BY(mu_)
  std::unordered_map<std::string, clock::MonotonicTime> processing_;
  // Keys waiting for a delay, earliest first, and each one's entry by key. GUARDED_BY(mu_)
  std::set<Delayed> delayed_;
  std::unordered_map<std::string, std::set<Delayed>::iterator> delayedByKey_;

  ItemExponentialBackoff backoff_;  // GUARDED_BY(mu_)
  std::uint64_t nextSequence_ = 0;  // GUARDED_BY(mu_)
  std::uint64_t addsTotal_ = 0;     // GUARDED_BY(mu_)
  std::uint64_t retriesTotal_ = 0;  // GUARDED_BY(mu_)
  std::size_t idleGets_ = 0;        // GUARDED_BY(mu_)
  bool shuttingDown_ = false;       // GUARDED_BY(mu_)
  bool drain_ = false;              // GUARDED_BY(mu_)
};

}  // namespace sessionstore::workqueue
