// Leader election on a Lease, as a pure state machine: given what a candidate has observed of
// the lease, its own monotonic time and its configuration, decide whether to create, acquire or
// renew the lease, wait, or step down. No client, no clock, no threads: the runner
// (leader_elector.h) reads the lease, calls decide() and carries out the decision.
//
// The algorithm is client-go's (tools/leaderelection). Its safety rests on one rule: a
// candidate judges whether the holder's lease has expired only by LOCALLY OBSERVED time, the
// moment on its own monotonic clock when it last saw the lease record change. The renewTime
// written by the holder is never compared with the local clock, so clock skew between machines
// cannot make two leaders (only a difference in clock RATE can, which leaseDuration /
// renewDeadline bounds). Writes carry the Lease's resourceVersion: of two candidates racing for
// the same lease, the second gets a Conflict.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

#include "clock/clock.h"
#include "leaderelection/lease.h"

namespace sessionstore::leaderelection {

// client-go's defaults.
inline constexpr clock::Duration kDefaultLeaseDuration = std::chrono::seconds(15);
inline constexpr clock::Duration kDefaultRenewDeadline = std::chrono::seconds(10);
inline constexpr clock::Duration kDefaultRetryPeriod = std::chrono::seconds(2);
inline constexpr double kDefaultJitterFactor = 1.2;

struct Config {
  std::string leaseNamespace;
  std::string leaseName;
  // Unique among candidates and across restarts (client-go: hostname + "_" + a UUID).
  std::string identity;
  // How long a candidate waits, after it last saw the lease change, before taking it over.
  // Written to the lease in whole seconds.
  clock::Duration leaseDuration = kDefaultLeaseDuration;
  // How long the leader keeps leading without a successful renew.
  clock::Duration renewDeadline = kDefaultRenewDeadline;
  // Interval between attempts to acquire (jittered) and to renew.
  clock::Duration retryPeriod = kDefaultRetryPeriod;
  // An acquire attempt waits retryPeriod * (1 + jitterFactor * r), r uniform in [0, 1).
  double jitterFactor = kDefaultJitterFactor;
  // On stop(), give the lease up (holder "" and a 1 s duration) so another candidate takes over
  // at once instead of after leaseDuration (client-go's ReleaseOnCancel).
  bool releaseOnStop = true;
};

// client-go's checks: names and identity set, leaseDuration > renewDeadline >
// jitterFactor * retryPeriod, every duration at least 1 s (leaseDuration) or positive.
// The error says what to fix.
std::expected<void, std::string> validate(const Config& config);

enum class LeaseView {
  kUnknown,  // this round's read failed
  kAbsent,   // the Lease does not exist
  kPresent,
};

// What a candidate knows about the lease.
struct Observation {
  LeaseView view = LeaseView::kUnknown;
  LeaseRecord record;                // kPresent only
  clock::MonotonicTime changedAt{};  // kPresent only: local time the record was first seen as is
};

// The observation after reading `read` at local time `now`: changedAt moves to `now` only when
// the record differs from the previously observed one.
Observation observe(const Observation& previous, const LeaseRecord& read, clock::MonotonicTime now);

struct Situation {
  Observation lease;
  bool leading = false;
  clock::MonotonicTime renewedAt{};  // leading only: when the last successful write was sent
  clock::MonotonicTime now{};
  clock::SystemTime wallNow{};  // only to stamp acquireTime and renewTime
};

enum class Action {
  kCreate,    // the lease does not exist: create it, held by us
  kAcquire,   // free or expired: take it over (one more transition)
  kRenew,     // ours: write a new renewTime
  kWait,      // held by someone else and not expired (or unreadable): try again later
  kStepDown,  // leading, but no longer safe to: stop leading now
};

const char* toString(Action action);

struct Decision {
  Action action = Action::kWait;
  LeaseRecord record;  // kCreate, kAcquire, kRenew: the record to write
  std::string why;     // one line, for logs

  bool operator==(const Decision&) const = default;
};

// In order: a leader not renewed within renewDeadline steps down; an unreadable lease waits; an
// absent lease is created; our own lease is renewed (keeping acquireTime and transitions); a
// leader that sees another holder steps down; a lease held by another is waited on until
// leaseDuration (the holder's, from the record) has passed since it last changed as observed
// locally; a free or expired lease is acquired.
Decision decide(const Config& config, const Situation& situation);

// The record that gives the lease up: no holder, a 1 s duration, transitions kept.
LeaseRecord releaseRecord(const LeaseRecord& held, clock::SystemTime wallNow);

// retryPeriod * (1 + jitterFactor * random), client-go's wait.Jitter.
// REQUIRES: 0 <= random < 1.
clock::Duration jittered(clock::Duration period, double jitterFactor, double random);

}  // namespace sessionstore::leaderelection
