#include "leaderelection/decision.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace sessionstore::leaderelection {
namespace {

using namespace std::chrono_literals;

const clock::MonotonicTime kT0{std::chrono::hours(1)};
const clock::SystemTime kWall = std::chrono::sys_days{std::chrono::year(2026) / 11 / 22};
const std::string kStamp = "2026-11-22T00:00:00.000000Z";
const std::string kOld = "2026-11-21T23:00:00.000000Z";

Config config() { return Config{.leaseNamespace = "ops", .leaseName = "lease", .identity = "a"}; }

LeaseRecord heldBy(std::string holder, std::string renewTime = kOld) {
  return LeaseRecord{.holderIdentity = std::move(holder),
                     .leaseDurationSeconds = 15,
                     .acquireTime = kOld,
                     .renewTime = std::move(renewTime),
                     .leaseTransitions = 4};
}

Observation seen(LeaseRecord record, clock::MonotonicTime changedAt) {
  return Observation{
      .view = LeaseView::kPresent, .record = std::move(record), .changedAt = changedAt};
}

struct Case {
  std::string name;
  Situation situation;
  Action action;
  LeaseRecord record;  // compared for kCreate, kAcquire, kRenew
};

LeaseRecord mine(std::string acquireTime, int64_t transitions) {
  return LeaseRecord{.holderIdentity = "a",
                     .leaseDurationSeconds = 15,
                     .acquireTime = std::move(acquireTime),
                     .renewTime = kStamp,
                     .leaseTransitions = transitions};
}

std::vector<Case> cases() {
  auto at = [](clock::Duration sinceT0) { return kT0 + sinceT0; };
  auto withHolderDuration = [](LeaseRecord r, int64_t seconds) {
    r.leaseDurationSeconds = seconds;
    return r;
  };
  return {
      {"AbsentLeaseIsCreated",
       {.lease = {.view = LeaseView::kAbsent}, .now = kT0, .wallNow = kWall},
       Action::kCreate,
       mine(kStamp, 0)},
      {"UnreadableLeaseWaits",
       {.lease = {.view = LeaseView::kUnknown}, .now = kT0, .wallNow = kWall},
       Action::kWait,
       {}},
      {"LeaderWithUnreadableLeaseKeepsLeadingBeforeTheDeadline",
       {.lease = {.view = LeaseView::kUnknown},
        .leading = true,
        .renewedAt = kT0,
        .now = at(9999ms),
        .wallNow = kWall},
       Action::kWait,
       {}},
      {"LeaderNotRenewedForTheRenewDeadlineStepsDown",
       {.lease = seen(heldBy("a"), kT0),
        .leading = true,
        .renewedAt = kT0,
        .now = at(10s),
        .wallNow = kWall},
       Action::kStepDown,
       {}},
      {"LeaderRenewsItsLeaseKeepingAcquireTimeAndTransitions",
       {.lease = seen(heldBy("a"), kT0),
        .leading = true,
        .renewedAt = kT0,
        .now = at(9999ms),
        .wallNow = kWall},
       Action::kRenew,
       mine(kOld, 4)},
      {"RestartedHolderRenewsItsOwnLease",
       {.lease = seen(heldBy("a"), kT0), .now = at(60s), .wallNow = kWall},
       Action::kRenew,
       mine(kOld, 4)},
      {"OwnLeaseWithoutAcquireTimeGetsOne",
       {.lease = seen(LeaseRecord{.holderIdentity = "a"}, kT0), .now = kT0, .wallNow = kWall},
       Action::kRenew,
       mine(kStamp, 0)},
      {"LeaderThatSeesAnotherHolderStepsDown",
       {.lease = seen(heldBy("b"), kT0),
        .leading = true,
        .renewedAt = kT0,
        .now = at(2s),
        .wallNow = kWall},
       Action::kStepDown,
       {}},
      {"HeldByAnotherJustBeforeLocalExpiryWaits",
       {.lease = seen(heldBy("b"), kT0), .now = at(14999ms), .wallNow = kWall},
       Action::kWait,
       {}},
      {"HeldByAnotherAtLocalExpiryIsAcquired",
       {.lease = seen(heldBy("b"), kT0), .now = at(15s), .wallNow = kWall},
       Action::kAcquire,
       mine(kStamp, 5)},
      {"HoldersLeaseDurationCountsNotOurs",
       {.lease = seen(withHolderDuration(heldBy("b"), 60), kT0), .now = at(20s), .wallNow = kWall},
       Action::kWait,
       {}},
      {"RenewTimeInTheFutureIsIgnoredOnceExpiredLocally",
       {.lease = seen(heldBy("b", "2099-01-01T00:00:00.000000Z"), kT0),
        .now = at(15s),
        .wallNow = kWall},
       Action::kAcquire,
       mine(kStamp, 5)},
      {"RenewTimeLongPastIsIgnoredWhileFreshLocally",
       {.lease = seen(heldBy("b", "2001-01-01T00:00:00.000000Z"), kT0),
        .now = at(1s),
        .wallNow = kWall},
       Action::kWait,
       {}},
      {"ReleasedLeaseIsAcquiredAtOnce",
       {.lease = seen(LeaseRecord{.leaseDurationSeconds = 1, .leaseTransitions = 4}, kT0),
        .now = kT0,
        .wallNow = kWall},
       Action::kAcquire,
       mine(kStamp, 5)},
  };
}

class DecideTest : public testing::TestWithParam<Case> {};

TEST_P(DecideTest, Decides) {
  const auto& c = GetParam();
  const auto decision = decide(config(), c.situation);
  EXPECT_EQ(decision.action, c.action) << toString(decision.action) << ": " << decision.why;
  if (c.action == Action::kCreate || c.action == Action::kAcquire || c.action == Action::kRenew) {
    EXPECT_EQ(decision.record, c.record);
  }
  EXPECT_FALSE(decision.why.empty());
}

std::string caseName(const testing::TestParamInfo<Case>& c) { return c.param.name; }

INSTANTIATE_TEST_SUITE_P(Table, DecideTest, testing::ValuesIn(cases()), caseName);

TEST(ObserveTest, ChangedAtMovesOnlyWhenTheRecordChanges) {
  const auto first = observe(Observation{}, heldBy("b"), kT0);
  EXPECT_EQ(first.view, LeaseView::kPresent);
  EXPECT_EQ(first.changedAt, kT0);

  const auto same = observe(first, heldBy("b"), kT0 + 5s);
  EXPECT_EQ(same.changedAt, kT0);

  const auto renewed = observe(same, heldBy("b", kStamp), kT0 + 7s);
  EXPECT_EQ(renewed.changedAt, kT0 + 7s);
  EXPECT_EQ(renewed.record.renewTime, kStamp);

  const auto afterAbsent = observe(Observation{.view = LeaseView::kAbsent}, heldBy("b"), kT0 + 9s);
  EXPECT_EQ(afterAbsent.changedAt, kT0 + 9s);
}

TEST(ValidateTest, DefaultsAreValid) { EXPECT_TRUE(validate(config()).has_value()); }

TEST(ValidateTest, RejectsConfigurationsThatCouldMakeTwoLeaders) {
  auto c = config();
  c.identity.clear();
  EXPECT_FALSE(validate(c).has_value());

  c = config();
  c.leaseName.clear();
  EXPECT_FALSE(validate(c).has_value());

  c = config();
  c.renewDeadline = c.leaseDuration;
  EXPECT_FALSE(validate(c).has_value());

  c = config();
  c.renewDeadline = 2400ms;  // == retryPeriod * jitterFactor
  EXPECT_FALSE(validate(c).has_value());

  c = config();
  c.leaseDuration = 900ms;
  c.renewDeadline = 500ms;
  c.retryPeriod = 100ms;
  EXPECT_FALSE(validate(c).has_value());

  c = config();
  c.retryPeriod = 0s;
  EXPECT_FALSE(validate(c).has_value());
}

TEST(JitterTest, AcquireRetryIsBetweenOneAndTwoPointTwoPeriods) {
  EXPECT_EQ(jittered(2s, 1.2, 0.0), 2s);
  EXPECT_EQ(jittered(2s, 1.2, 0.5), 3200ms);
  EXPECT_LT(jittered(2s, 1.2, 0.999999), 4400ms);
  EXPECT_GT(jittered(2s, 1.2, 0.999999), 4399ms);
}

TEST(ReleaseRecordTest, GivesUpTheLeaseKeepingTransitions) {
  EXPECT_EQ(releaseRecord(heldBy("a"), kWall), (LeaseRecord{.holderIdentity = "",
                                                            .leaseDurationSeconds = 1,
                                                            .acquireTime = kStamp,
                                                            .renewTime = kStamp,
                                                            .leaseTransitions = 4}));
}

}  // namespace
}  // namespace sessionstore::leaderelection
