// Runs N workers over a Queue, as controller-runtime's controller does: each worker takes a key,
// calls the handler (the reconciler), and acts on its Outcome: success forgets the key's
// backoff; retry re-adds it after its backoff; requeue-after forgets the backoff and re-adds it
// after the given duration. Then it marks the key done. A key is never handled by two workers
// at once (the Queue guarantees it), so the handler needs no per-key locking.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clock/clock.h"
#include "workqueue/queue.h"

namespace sessionstore::workqueue {

// What the handler wants done with the key it was given.
struct Outcome {
  enum class Kind {
    kSuccess,       // done; reset the key's backoff
    kRetry,         // failed; try again after the key's backoff, and not before `after`
    kRequeueAfter,  // done for now; look again after `after` (at once if not positive)
  };
  Kind kind = Kind::kSuccess;
  clock::Duration after{};

  static Outcome success() { return {}; }
  static Outcome retry() { return {.kind = Kind::kRetry}; }
  // Failed, and the server said when to come back (Retry-After): the key's backoff, or
  // `atLeast` when that is longer.
  static Outcome retryNoSoonerThan(clock::Duration atLeast) {
    return {.kind = Kind::kRetry, .after = atLeast};
  }
  static Outcome requeueAfter(clock::Duration after) {
    return {.kind = Kind::kRequeueAfter, .after = after};
  }
};

class Runner {
 public:
  using Handler = std::function<Outcome(const std::string& key)>;

  // REQUIRES: workers >= 1; `queue` outlives the runner. An exception escaping `handler` counts
  // as Outcome::retry() (as controller-runtime recovers a reconciler's panic), so one bad key
  // cannot end a worker.
  Runner(Queue& queue, Handler handler, std::size_t workers);
  // stop().
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Starts the workers. A second call does nothing.
  void start();
  // Shuts the queue down and returns once every worker has exited. Workers finish the key they
  // hold, and the keys still queued (the queue keeps handing them out after shutDown()); delayed
  // keys are dropped. Does nothing if the runner was never started, or the second time.
  // REQUIRES: not called from the handler.
  void stop();

 private:
  void work();

  Queue& queue_;
  const Handler handler_;
  const std::size_t workers_;
  std::mutex mu_;                     // serializes start() and stop()
  std::vector<std::thread> threads_;  // GUARDED_BY(mu_)
  bool started_ = false;              // GUARDED_BY(mu_)
};

}  // namespace sessionstore::workqueue
