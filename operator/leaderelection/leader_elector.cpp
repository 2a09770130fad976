#include "leaderelection/leader_elector.h"

#include <random>
#include <utility>

namespace sessionstore::leaderelection {

namespace {

const kube::Resource& leases() { return kube::resources::kLeases; }

std::function<double()> defaultRandom() {
  return [engine = std::mt19937_64(std::random_device{}()),
          uniform = std::uniform_real_distribution<double>(0.0, 1.0)]() mutable {
    return uniform(engine);
  };
}

}  // namespace

LeaderElector::LeaderElector(kube::Client& client, const clock::Clock& clock, Config config,
                             Callbacks callbacks, std::function<double()> random)
    : client_(client),
      clock_(clock),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)),
      random_(random ? std::move(random) : defaultRandom()) {}

LeaderElector::~LeaderElector() { stop(); }

std::expected<void, std::string> LeaderElector::start() {
  if (auto valid = validate(config_); !valid) return valid;
  if (thread_.joinable()) return std::unexpected("leader election: already started");
  thread_ = std::thread([this] { run(); });
  return {};
}

void LeaderElector::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    shutdown();
  }
}

bool LeaderElector::isLeader() const {
  std::lock_guard lock(mu_);
  return leading_;
}

std::string LeaderElector::leader() const {
  std::lock_guard lock(mu_);
  return holder_;
}

std::optional<clock::MonotonicTime> LeaderElector::step() {
  if (done_) return std::nullopt;

  // Fast path: the leader renews the lease it last wrote, with that write's resourceVersion,
  // without reading it first. Any failure falls through to a read.
  if (isLeader() && !resourceVersionOf(lease_).empty()) {
    const auto now = clock_.now();
    const auto decision = decide(config_, Situation{.lease = observation_,
                                                    .leading = true,
                                                    .renewedAt = renewedAt_,
                                                    .now = now,
                                                    .wallNow = clock_.wallNow()});
    if (decision.action == Action::kStepDown) {
      stepDown();
      return std::nullopt;
    }
    if (decision.action == Action::kRenew && write(decision, now)) {
      return clock_.now() + config_.retryPeriod;
    }
  }

  auto read = client_.get(leases(), config_.leaseNamespace, config_.leaseName, "");
  const auto now = clock_.now();
  Observation current;  // kUnknown unless the read answered
  if (read) {
    observation_ = observe(observation_, recordOf(*read), now);
    lease_ = std::move(*read);
    current = observation_;
  } else if (read.error().kind == kube::ErrorKind::kNotFound) {
    observation_ = Observation{.view = LeaseView::kAbsent};
    lease_ = kube::Json();
    current = observation_;
  }
  reportLeader();

  const auto decision = decide(config_, Situation{.lease = current,
                                                  .leading = isLeader(),
                                                  .renewedAt = renewedAt_,
                                                  .now = now,
                                                  .wallNow = clock_.wallNow()});
  switch (decision.action) {
    case Action::kStepDown:
      stepDown();
      return std::nullopt;
    case Action::kCreate:
    case Action::kAcquire:
    case Action::kRenew:
      if (write(decision, now)) reportLeader();
      break;
    case Action::kWait:
      break;
  }
  const auto period = isLeader() ? config_.retryPeriod
                                 : jittered(config_.retryPeriod, config_.jitterFactor, random_());
  return clock_.now() + period;
}

bool LeaderElector::write(const Decision& decision, clock::MonotonicTime sentAt) {
  kube::Result<kube::Json> written;
  if (decision.action == Action::kCreate) {
    written =
        client_.create(leases(), config_.leaseNamespace,
                       newLease(config_.leaseNamespace, config_.leaseName, decision.record));
  } else if (resourceVersionOf(lease_).empty()) {
    // An update without a resourceVersion would overwrite whatever is there: never send one.
    return false;
  } else {
    written =
        client_.update(leases(), config_.leaseNamespace, withRecord(lease_, decision.record), "");
  }
  // On failure (Conflict: another candidate wrote first) the next read shows who holds it.
  if (!written) return false;

  lease_ = std::move(*written);
  observation_ = Observation{
      .view = LeaseView::kPresent, .record = decision.record, .changedAt = clock_.now()};
  renewedAt_ = sentAt;
  bool started = false;
  {
    std::lock_guard lock(mu_);
    holder_ = decision.record.holderIdentity;
    started = !leading_;
    leading_ = true;
  }
  if (started && callbacks_.onStartedLeading) callbacks_.onStartedLeading();
  return true;
}

void LeaderElector::stepDown() {
  done_ = true;
  {
    std::lock_guard lock(mu_);
    leading_ = false;
  }
  if (callbacks_.onStoppedLeading) callbacks_.onStoppedLeading();
}

void LeaderElector::shutdown() {
  if (done_) return;
  done_ = true;
  if (!isLeader()) return;
  {
    std::lock_guard lock(mu_);
    leading_ = false;
  }
  // Stop the leader's work first, then let the next leader in.
  if (callbacks_.onStoppedLeading) callbacks_.onStoppedLeading();
  if (config_.releaseOnStop) release();
}

void LeaderElector::release() {
  if (observation_.view != LeaseView::kPresent ||
      observation_.record.holderIdentity != config_.identity || resourceVersionOf(lease_).empty()) {
    return;
  }
  const auto record = releaseRecord(observation_.record, clock_.wallNow());
  // A Conflict means someone else already wrote the lease: nothing left to give up.
  auto written = client_.update(leases(), config_.leaseNamespace, withRecord(lease_, record), "");
  if (!written) return;
  lease_ = std::move(*written);
  observation_ =
      Observation{.view = LeaseView::kPresent, .record = record, .changedAt = clock_.now()};
  std::lock_guard lock(mu_);
  holder_.clear();
}

void LeaderElector::reportLeader() {
  const std::string holder =
      observation_.view == LeaseView::kPresent ? observation_.record.holderIdentity : "";
  {
    std::lock_guard lock(mu_);
    holder_ = holder;
  }
  if (holder.empty() || holder == reportedLeader_) return;
  reportedLeader_ = holder;
  if (callbacks_.onNewLeader) callbacks_.onNewLeader(holder);
}

void LeaderElector::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const auto next = step();
    lock.lock();
    if (!next) break;
    while (!stopping_ && clock_.now() < *next) clock_.waitUntil(wake_, lock, *next);
  }
  lock.unlock();
  shutdown();
}

}  // namespace sessionstore::leaderelection
