// Runs leader election for one candidate: a thread that reads the Lease, asks decide()
// (decision.h) what to do, writes the Lease, and tells the operator when it starts and stops
// leading. Only the leader runs the controllers; the others wait, ready to take over when the
// leader's lease expires or is released.
//
// Every wait is on the injected Clock, so tests drive it with a FakeClock. Tests may also call
// step() directly, without start(), to run one round at a time.
//
// The renew deadline is checked around each API call, not during one: a call that hangs delays
// the step-down by as long as it hangs. The client's request timeout must therefore be well
// under renewDeadline (client-go cancels the call instead; kube::Client has no cancellation).
// The deadline counts from when the last successful renew was sent, a retry period earlier
// than client-go, which counts from the start of the failing renew round.
#pragma once

#include <condition_variable>
#include <expected>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "clock/clock.h"
#include "kube/client.h"
#include "leaderelection/decision.h"
#include "leaderelection/lease.h"

namespace sessionstore::leaderelection {

// Called on the elector's thread (or step()'s caller), never with an internal lock held. They
// must return promptly and must not call stop().
struct Callbacks {
  // This candidate now holds the lease: start the leader-only work.
  std::function<void()> onStartedLeading;
  // This candidate lost the lease or is stopping: stop the leader-only work before returning.
  // On stop() the lease is released only after this returns, so the next leader never overlaps
  // with this one.
  std::function<void()> onStoppedLeading;
  // The lease has a holder other than the last one reported (including this candidate).
  // A lease with no holder (released) is not reported.
  std::function<void(const std::string& identity)> onNewLeader;
};

class LeaderElector {
 public:
  // `random` returns numbers uniform in [0, 1) for the acquire jitter; by default a PRNG seeded
  // from std::random_device.
  // REQUIRES: client and clock outlive the elector.
  LeaderElector(kube::Client& client, const clock::Clock& clock, Config config, Callbacks callbacks,
                std::function<double()> random = {});
  // Stops (and releases) as stop() does.
  ~LeaderElector();

  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Checks the configuration and starts the election thread. Once this candidate stops leading
  // because it could not renew, or lost the lease, the thread ends: like client-go's Run, an
  // elector leads at most once (the operator exits and restarts).
  // REQUIRES: not started before.
  std::expected<void, std::string> start();

  // Ends the election promptly (an API call in flight is waited for). A leader calls
  // onStoppedLeading and then, with releaseOnStop, releases the lease. Idempotent.
  // REQUIRES: not called from a callback.
  void stop();

  // Thread-safe.
  bool isLeader() const;
  // The holder last observed ("" before any or when released). Thread-safe.
  std::string leader() const;

  // One round of client-go's tryAcquireOrRenew: the leader first renews with the lease it last
  // wrote (one request); otherwise it reads the lease, decides, and writes. Fires the
  // callbacks. Returns when the next round is due (retryPeriod for the leader, jittered for a
  // candidate), or nullopt once this elector has stopped leading and is done.
  // REQUIRES: the thread is not running (start() not called); the thread calls it itself.
  std::optional<clock::MonotonicTime> step();

 private:
  // Carries out a create/acquire/renew decision. True when the write succeeded.
  bool write(const Decision& decision, clock::MonotonicTime sentAt);
  void stepDown();
  void release();
  void shutdown();
  void reportLeader();
  void run();

  kube::Client& client_;
  const clock::Clock& clock_;
  const Config config_;
  const Callbacks callbacks_;
  std::function<double()> random_;

  // Owned by the election thread (or step()'s caller before start()).
  Observation observation_;
  kube::Json lease_;  // the Lease as last read or written, for its resourceVersion
  clock::MonotonicTime renewedAt_{};
  std::string reportedLeader_;
  bool done_ = false;

  mutable std::mutex mu_;
  std::condition_variable_any wake_;  // signalled by stop()
  bool leading_ = false;              // GUARDED_BY(mu_); written only by the election thread
  std::string holder_;                // GUARDED_BY(mu_)
  bool stopping_ = false;             // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace sessionstore::leaderelection
