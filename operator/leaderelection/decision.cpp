#include "leaderelection/decision.h"

#include <chrono>

namespace sessionstore::leaderelection {

namespace {

using std::chrono::seconds;

int64_t wholeSeconds(clock::Duration d) { return std::chrono::duration_cast<seconds>(d).count(); }

}  // namespace

std::expected<void, std::string> validate(const Config& config) {
  if (config.leaseNamespace.empty() || config.leaseName.empty()) {
    return std::unexpected("leader election: set the lease's namespace and name");
  }
  if (config.identity.empty()) {
    return std::unexpected("leader election: set a unique identity (pod name and a random suffix)");
  }
  if (config.leaseDuration < seconds(1)) {
    return std::unexpected("leader election: leaseDuration must be at least 1s");
  }
  if (config.renewDeadline <= clock::Duration::zero() ||
      config.retryPeriod <= clock::Duration::zero()) {
    return std::unexpected("leader election: renewDeadline and retryPeriod must be positive");
  }
  if (config.jitterFactor < 0) {
    return std::unexpected("leader election: jitterFactor must not be negative");
  }
  if (config.leaseDuration <= config.renewDeadline) {
    return std::unexpected(
        "leader election: leaseDuration must be greater than renewDeadline, or a leader may "
        "still be acting when another candidate takes over");
  }
  const auto maxRetry =
      std::chrono::duration_cast<clock::Duration>(std::chrono::duration<double, std::nano>(
          static_cast<double>(config.retryPeriod.count()) * config.jitterFactor));
  if (config.renewDeadline <= maxRetry) {
    return std::unexpected(
        "leader election: renewDeadline must be greater than retryPeriod * jitterFactor");
  }
  return {};
}

Observation observe(const Observation& previous, const LeaseRecord& read,
                    clock::MonotonicTime now) {
  if (previous.view == LeaseView::kPresent && previous.record == read) return previous;
  return Observation{.view = LeaseView::kPresent, .record = read, .changedAt = now};
}

const char* toString(Action action) {
  switch (action) {
    case Action::kCreate:
      return "Create";
    case Action::kAcquire:
      return "Acquire";
    case Action::kRenew:
      return "Renew";
    case Action::kWait:
      return "Wait";
    case Action::kStepDown:
      return "StepDown";
  }
  return "Unknown";
}

Decision decide(const Config& config, const Situation& s) {
  if (s.leading && s.now - s.renewedAt >= config.renewDeadline) {
    return {.action = Action::kStepDown, .why = "lease not renewed within the renew deadline"};
  }
  if (s.lease.view == LeaseView::kUnknown) {
    return {.action = Action::kWait, .why = "lease could not be read"};
  }

  const auto stamp = formatMicroTime(s.wallNow);
  LeaseRecord mine{.holderIdentity = config.identity,
                   .leaseDurationSeconds = wholeSeconds(config.leaseDuration),
                   .acquireTime = stamp,
                   .renewTime = stamp,
                   .leaseTransitions = 0};
  if (s.lease.view == LeaseView::kAbsent) {
    return {.action = Action::kCreate, .record = mine, .why = "lease does not exist"};
  }

  const auto& held = s.lease.record;
  if (held.holderIdentity == config.identity) {
    if (!held.acquireTime.empty()) mine.acquireTime = held.acquireTime;
    mine.leaseTransitions = held.leaseTransitions;
    return {.action = Action::kRenew, .record = mine, .why = "lease is ours"};
  }
  if (s.leading) {
    return {.action = Action::kStepDown, .why = "lease taken by '" + held.holderIdentity + "'"};
  }
  if (!held.holderIdentity.empty()) {
    const auto expiresAt = s.lease.changedAt + seconds(held.leaseDurationSeconds);
    if (s.now < expiresAt) {
      return {.action = Action::kWait,
              .why = "lease held by '" + held.holderIdentity + "' and not expired"};
    }
  }
  mine.leaseTransitions = held.leaseTransitions + 1;
  return {.action = Action::kAcquire,
          .record = mine,
          .why = held.holderIdentity.empty() ? "lease is free"
                                             : "lease of '" + held.holderIdentity + "' expired"};
}

LeaseRecord releaseRecord(const LeaseRecord& held, clock::SystemTime wallNow) {
  const auto stamp = formatMicroTime(wallNow);
  return LeaseRecord{.holderIdentity = "",
                     .leaseDurationSeconds = 1,
                     .acquireTime = stamp,
                     .renewTime = stamp,
                     .leaseTransitions = held.leaseTransitions};
}

clock::Duration jittered(clock::Duration period, double jitterFactor, double random) {
  const double extra = static_cast<double>(period.count()) * jitterFactor * random;
  return period + clock::Duration(static_cast<clock::Duration::rep>(extra));
}

}  // namespace sessionstore::leaderelection
