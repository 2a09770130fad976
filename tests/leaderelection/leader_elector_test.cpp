#include "leaderelection/leader_elector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mocks/clock/fake_clock.h"
#include "mocks/kube/mock_client.h"

namespace sessionstore::leaderelection {
namespace {

using namespace std::chrono_literals;
using testing::_;
using testing::NiceMock;

// One Lease on an API server: get, create and update with resourceVersion checks, as the real
// one does. Thread-safe, so an elector's thread and the test can share it.
class LeaseServer {
 public:
  // Makes `client` talk to this server.
  void serve(kube::MockClient& client) {
    ON_CALL(client, get(_, _, _, _)).WillByDefault([this](auto&&...) { return get(); });
    ON_CALL(client, create(_, _, _, _))
        .WillByDefault([this](const kube::Resource&, const std::string&, const kube::Json& lease,
                              const kube::CreateOptions&) { return create(lease); });
    ON_CALL(client, update(_, _, _, _))
        .WillByDefault([this](const kube::Resource&, const std::string&, const kube::Json& lease,
                              const std::string&) { return update(lease); });
  }

  kube::Result<kube::Json> get() const {
    std::lock_guard lock(mu_);
    if (failing_) return kube::makeError(kube::ErrorKind::kUnavailable, "connection refused");
    if (!lease_) return kube::makeError(kube::ErrorKind::kNotFound, "not found", 404);
    return *lease_;
  }

  kube::Result<kube::Json> create(const kube::Json& lease) {
    std::lock_guard lock(mu_);
    if (failing_) return kube::makeError(kube::ErrorKind::kUnavailable, "connection refused");
    if (lease_) return kube::makeError(kube::ErrorKind::kAlreadyExists, "exists", 409);
    store(lease);
    return *lease_;
  }

  kube::Result<kube::Json> update(const kube::Json& lease) {
    std::lock_guard lock(mu_);
    if (failing_) return kube::makeError(kube::ErrorKind::kUnavailable, "connection refused");
    if (!lease_) return kube::makeError(kube::ErrorKind::kNotFound, "not found", 404);
    if (resourceVersionOf(lease) != resourceVersionOf(*lease_)) {
      return kube::makeError(kube::ErrorKind::kConflict, "the object has been modified", 409);
    }
    store(lease);
    return *lease_;
  }

  // Another process writes the record (bumping the resourceVersion).
  void put(const LeaseRecord& record) {
    std::lock_guard lock(mu_);
    store(lease_ ? withRecord(*lease_, record) : newLease("ops", "lease", record));
  }

  std::optional<LeaseRecord> record() const {
    std::lock_guard lock(mu_);
    if (!lease_) return std::nullopt;
    return recordOf(*lease_);
  }

  void setFailing(bool failing) {
    std::lock_guard lock(mu_);
    failing_ = failing;
  }

 private:
  void store(kube::Json lease) {
    lease["metadata"]["resourceVersion"] = std::to_string(++version_);
    lease_ = std::move(lease);
  }

  mutable std::mutex mu_;
  std::optional<kube::Json> lease_;  // GUARDED_BY(mu_)
  int version_ = 0;                  // GUARDED_BY(mu_)
  bool failing_ = false;             // GUARDED_BY(mu_)
};

// What the callbacks saw. Thread-safe.
struct Seen {
  std::mutex mu;
  int started = 0;
  int stopped = 0;
  std::vector<std::string> leaders;

  Callbacks callbacks() {
    return Callbacks{
        .onStartedLeading =
            [this] {
              std::lock_guard lock(mu);
              ++started;
            },
        .onStoppedLeading =
            [this] {
              std::lock_guard lock(mu);
              ++stopped;
            },
        .onNewLeader =
            [this](const std::string& identity) {
              std::lock_guard lock(mu);
              leaders.push_back(identity);
            },
    };
  }
};

Config config(std::string identity) {
  return Config{.leaseNamespace = "ops", .leaseName = "lease", .identity = std::move(identity)};
}

LeaseRecord heldBy(std::string holder, std::string renewTime) {
  return LeaseRecord{.holderIdentity = std::move(holder),
                     .leaseDurationSeconds = 15,
                     .acquireTime = "2026-11-22T00:00:00.000000Z",
                     .renewTime = std::move(renewTime),
                     .leaseTransitions = 2};
}

double noJitter() { return 0.0; }

class LeaderElectorTest : public testing::Test {
 protected:
  clock::FakeClock clock_;
  LeaseServer server_;
  NiceMock<kube::MockClient> client_;

  void SetUp() override { server_.serve(client_); }
};

TEST_F(LeaderElectorTest, CreatesAndLeadsWhenTheLeaseDoesNotExist) {
  Seen seen;
  LeaderElector a(client_, clock_, config("a"), seen.callbacks(), noJitter);

  EXPECT_CALL(client_, create(kube::resources::kLeases, "ops", _, _));
  const auto next = a.step();

  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, clock_.now() + 2s);  // the leader renews every retry period
  EXPECT_TRUE(a.isLeader());
  EXPECT_EQ(a.leader(), "a");
  const auto stamp = formatMicroTime(clock_.wallNow());
  EXPECT_EQ(server_.record(), (LeaseRecord{.holderIdentity = "a",
                                           .leaseDurationSeconds = 15,
                                           .acquireTime = stamp,
                                           .renewTime = stamp,
                                           .leaseTransitions = 0}));
  EXPECT_EQ(seen.started, 1);
  EXPECT_EQ(seen.leaders, std::vector<std::string>{"a"});
}

TEST_F(LeaderElectorTest, AcquiresAReleasedLeaseAtOnce) {
  server_.put(LeaseRecord{.leaseDurationSeconds = 1, .leaseTransitions = 3});
  Seen seen;
  LeaderElector a(client_, clock_, config("a"), seen.callbacks(), noJitter);

  a.step();

  EXPECT_TRUE(a.isLeader());
  EXPECT_EQ(server_.record()->holderIdentity, "a");
  EXPECT_EQ(server_.record()->leaseTransitions, 4);
}

TEST_F(LeaderElectorTest, LeaderRenewsWithTheResourceVersionItLastWroteWithoutReading) {
  LeaderElector a(client_, clock_, config("a"), {}, noJitter);
  a.step();

  clock_.advance(2s);
  EXPECT_CALL(client_, get(_, _, _, _)).Times(0);
  EXPECT_CALL(client_, update(_, _, _, _));
  a.step();
  testing::Mock::VerifyAndClearExpectations(&client_);

  EXPECT_EQ(server_.record()->renewTime, formatMicroTime(clock_.wallNow()));
  EXPECT_EQ(server_.record()->acquireTime, formatMicroTime(clock_.wallNow() - 2s));
}

TEST_F(LeaderElectorTest, CannotAcquireALeaseHeldAndRenewedByAnother) {
  Seen seen;
  LeaderElector a(client_, clock_, config("a"), seen.callbacks(), [] { return 0.5; });
  EXPECT_CALL(client_, create(_, _, _, _)).Times(0);
  EXPECT_CALL(client_, update(_, _, _, _)).Times(0);

  // b renews every 2 s for a minute; a retries every 3.2 s (2 s jittered by 1.2 * 0.5).
  auto nextRenew = clock_.now();
  auto nextTry = clock_.now();
  const auto end = clock_.now() + 60s;
  while (clock_.now() < end) {
    if (clock_.now() >= nextRenew) {
      server_.put(heldBy("b", formatMicroTime(clock_.wallNow())));
      nextRenew += 2s;
    }
    if (clock_.now() >= nextTry) {
      const auto next = a.step();
      ASSERT_TRUE(next.has_value());
      EXPECT_EQ(*next, clock_.now() + 3200ms);
      nextTry = *next;
    }
    clock_.advance(100ms);
  }

  EXPECT_FALSE(a.isLeader());
  EXPECT_EQ(a.leader(), "b");
  EXPECT_EQ(seen.started, 0);
  EXPECT_EQ(seen.leaders, std::vector<std::string>{"b"});
}

TEST_F(LeaderElectorTest, TakesOverWhenTheLeaseExpiresAsObservedLocallyDespiteAFutureRenewTime) {
  // b's clock runs years ahead: its renewTime is in the future for everyone else. Only the
  // local observation counts: 15 s after a last saw the record change, the lease is expired.
  server_.put(heldBy("b", "2099-01-01T00:00:00.000000Z"));
  Seen seen;
  LeaderElector a(client_, clock_, config("a"), seen.callbacks(), noJitter);

  a.step();  // first sight of b's record
  EXPECT_FALSE(a.isLeader());
  clock_.advance(14s);
  a.step();
  EXPECT_FALSE(a.isLeader());
  EXPECT_EQ(server_.record()->holderIdentity, "b");

  clock_.advance(1s);
  a.step();

  EXPECT_TRUE(a.isLeader());
  EXPECT_EQ(server_.record()->holderIdentity, "a");
  EXPECT_EQ(server_.record()->leaseTransitions, 3);
  EXPECT_EQ(seen.leaders, (std::vector<std::string>{"b", "a"}));
}

TEST_F(LeaderElectorTest, WaitsAFullLeaseDurationEvenWhenTheRenewTimeIsLongPast) {
  // The other way round: b's clock is behind. A renewTime hours old proves nothing; a waits
  // 15 s from its own first sight of the record.
  server_.put(heldBy("b", "2001-01-01T00:00:00.000000Z"));
  LeaderElector a(client_, clock_, config("a"), {}, noJitter);

  a.step();
  clock_.advance(14900ms);
  a.step();
  EXPECT_FALSE(a.isLeader());

  clock_.advance(100ms);
  a.step();
  EXPECT_TRUE(a.isLeader());
}

TEST_F(LeaderElectorTest, AConflictOnUpdateDoesNotMakeTwoLeaders) {
  server_.put(LeaseRecord{.leaseDurationSeconds = 1, .leaseTransitions = 0});  // free
  const auto stale = server_.get();
  ASSERT_TRUE(stale.has_value());

  Seen seenA;
  Seen seenB;
  LeaderElector a(client_, clock_, config("a"), seenA.callbacks(), noJitter);
  NiceMock<kube::MockClient> clientB;
  server_.serve(clientB);
  LeaderElector b(clientB, clock_, config("b"), seenB.callbacks(), noJitter);

  // b reads the free lease, then a acquires it before b writes: b's update carries the stale
  // resourceVersion.
  EXPECT_CALL(clientB, get(_, _, _, _))
      .WillOnce([&](auto&&...) {
        a.step();
        return stale;
      })
      .WillRepeatedly([&](auto&&...) { return server_.get(); });
  b.step();

  EXPECT_TRUE(a.isLeader());
  EXPECT_FALSE(b.isLeader());
  EXPECT_EQ(seenA.started, 1);
  EXPECT_EQ(seenB.started, 0);
  EXPECT_EQ(server_.record()->holderIdentity, "a");
  EXPECT_EQ(server_.record()->leaseTransitions, 1);

  // Next round b sees a's lease and waits.
  clock_.advance(2s);
  a.step();
  b.step();
  EXPECT_TRUE(a.isLeader());
  EXPECT_FALSE(b.isLeader());
  EXPECT_EQ(b.leader(), "a");
}

TEST_F(LeaderElectorTest, StopsLeadingWhenItCannotRenewForTheRenewDeadline) {
  Seen seen;
  LeaderElector a(client_, clock_, config("a"), seen.callbacks(), noJitter);
  a.step();
  ASSERT_TRUE(a.isLeader());
  const auto renewedAt = clock_.now();

  server_.setFailing(true);
  for (auto elapsed = 2s; elapsed < 10s; elapsed += 2s) {
    clock_.advance(2s);
    ASSERT_TRUE(a.step().has_value());
    EXPECT_TRUE(a.isLeader()) << "after " << elapsed.count() << " s";
  }
  clock_.advance(1999ms);  // 9.999 s since the last renew
  ASSERT_TRUE(a.step().has_value());
  EXPECT_TRUE(a.isLeader());
  EXPECT_EQ(seen.stopped, 0);

  clock_.advance(1ms);
  EXPECT_EQ(clock_.now() - renewedAt, 10s);
  EXPECT_FALSE(a.step().has_value());
  EXPECT_FALSE(a.isLeader());
  EXPECT_EQ(seen.stopped, 1);

  // Done for good: no more rounds, no release attempt (it may not hold the lease).
  server_.setFailing(false);
  EXPECT_CALL(client_, update(_, _, _, _)).Times(0);
  EXPECT_FALSE(a.step().has_value());
  a.stop();
  EXPECT_EQ(seen.stopped, 1);
}

TEST_F(LeaderElectorTest, ASuccessfulRenewMovesTheDeadline) {
  Seen seen;
  LeaderElector a(client_, clock_, config("a"), seen.callbacks(), noJitter);
  a.step();
  clock_.advance(8s);
  a.step();  // renewed at +8 s
  server_.setFailing(true);
  clock_.advance(9s);
  EXPECT_TRUE(a.step().has_value());
  EXPECT_TRUE(a.isLeader());
  clock_.advance(1s);
  EXPECT_FALSE(a.step().has_value());
  EXPECT_EQ(seen.stopped, 1);
}

TEST_F(LeaderElectorTest, StepsDownAtOnceWhenAnotherHolderTookTheLease) {
  Seen seen;
  LeaderElector a(client_, clock_, config("a"), seen.callbacks(), noJitter);
  a.step();
  server_.put(heldBy("b", formatMicroTime(clock_.wallNow())));  // e.g. an admin's edit

  clock_.advance(2s);
  EXPECT_FALSE(a.step().has_value());

  EXPECT_FALSE(a.isLeader());
  EXPECT_EQ(seen.stopped, 1);
  EXPECT_EQ(server_.record()->holderIdentity, "b");
}

TEST_F(LeaderElectorTest, StopReleasesTheLeaseAfterStoppingTheLeadersWork) {
  Seen seen;
  std::optional<LeaseRecord> whenStopped;
  auto callbacks = seen.callbacks();
  callbacks.onStoppedLeading = [&] { whenStopped = server_.record(); };
  LeaderElector a(client_, clock_, config("a"), callbacks, noJitter);
  a.step();

  a.stop();

  ASSERT_TRUE(whenStopped.has_value());
  EXPECT_EQ(whenStopped->holderIdentity, "a");  // released only after the callback returned
  const auto released = server_.record();
  EXPECT_EQ(released->holderIdentity, "");
  EXPECT_EQ(released->leaseDurationSeconds, 1);
  EXPECT_EQ(released->leaseTransitions, 0);
  EXPECT_FALSE(a.isLeader());
  EXPECT_EQ(a.leader(), "");

  a.stop();  // idempotent
  EXPECT_EQ(server_.record(), released);
}

TEST_F(LeaderElectorTest, StopWithoutReleaseLeavesTheLease) {
  auto c = config("a");
  c.releaseOnStop = false;
  LeaderElector a(client_, clock_, c, {}, noJitter);
  a.step();
  const auto held = server_.record();

  a.stop();

  EXPECT_EQ(server_.record(), held);
}

TEST_F(LeaderElectorTest, TransitionsAreCountedAcrossHolders) {
  LeaderElector a(client_, clock_, config("a"), {}, noJitter);
  a.step();
  EXPECT_EQ(server_.record()->leaseTransitions, 0);
  a.stop();

  LeaderElector b(client_, clock_, config("b"), {}, noJitter);
  b.step();
  EXPECT_TRUE(b.isLeader());
  EXPECT_EQ(server_.record()->leaseTransitions, 1);
  clock_.advance(2s);
  b.step();  // a renew is not a transition
  EXPECT_EQ(server_.record()->leaseTransitions, 1);
  b.stop();

  LeaderElector c(client_, clock_, config("c"), {}, noJitter);
  c.step();
  EXPECT_EQ(server_.record()->holderIdentity, "c");
  EXPECT_EQ(server_.record()->leaseTransitions, 2);
}

TEST_F(LeaderElectorTest, StartRejectsAnInvalidConfiguration) {
  auto c = config("a");
  c.renewDeadline = 20s;
  LeaderElector a(client_, clock_, c, {});
  EXPECT_FALSE(a.start().has_value());
}

// Spins (without sleeping) until the elector's thread waits on the fake clock or `done`.
void waitForWaiter(const clock::FakeClock& clock, const std::function<bool()>& done = {}) {
  const auto giveUp = std::chrono::steady_clock::now() + 10s;
  while (clock.waiters() == 0 && !(done && done())) {
    ASSERT_LT(std::chrono::steady_clock::now(), giveUp) << "the elector never waited";
    std::this_thread::yield();
  }
}

TEST_F(LeaderElectorTest, ThreadLeadsAndStopReleases) {
  std::promise<void> started;
  auto callbacks = Callbacks{.onStartedLeading = [&] { started.set_value(); }};
  LeaderElector a(client_, clock_, config("a"), callbacks);
  ASSERT_TRUE(a.start().has_value());
  ASSERT_EQ(started.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(a.start().has_value());  // only once

  a.stop();

  EXPECT_FALSE(a.isLeader());
  EXPECT_EQ(server_.record()->holderIdentity, "");
}

TEST_F(LeaderElectorTest, ThreadStopsPromptlyWhileWaitingForAHeldLease) {
  server_.put(heldBy("b", "2026-11-22T00:00:00.000000Z"));
  Seen seen;
  LeaderElector a(client_, clock_, config("a"), seen.callbacks());
  ASSERT_TRUE(a.start().has_value());
  waitForWaiter(clock_);

  a.stop();  // the fake clock never moves: only stop() can end the wait

  EXPECT_EQ(seen.started, 0);
  EXPECT_EQ(seen.stopped, 0);
  EXPECT_EQ(server_.record()->holderIdentity, "b");
}

TEST_F(LeaderElectorTest, ThreadStopsLeadingOnTheClockWhenRenewsFail) {
  std::promise<void> started;
  std::promise<clock::MonotonicTime> stopped;
  LeaderElector a(client_, clock_, config("a"),
                  Callbacks{.onStartedLeading = [&] { started.set_value(); },
                            .onStoppedLeading = [&] { stopped.set_value(clock_.now()); }});
  ASSERT_TRUE(a.start().has_value());
  ASSERT_EQ(started.get_future().wait_for(10s), std::future_status::ready);
  const auto acquiredAt = clock_.now();
  server_.setFailing(true);

  auto whenStopped = stopped.get_future();
  const auto isStopped = [&] { return whenStopped.wait_for(0s) == std::future_status::ready; };
  for (int i = 0; i < 20 && !isStopped(); ++i) {
    waitForWaiter(clock_, isStopped);
    clock_.advance(1s);
  }
  ASSERT_EQ(whenStopped.wait_for(10s), std::future_status::ready);
  EXPECT_GE(whenStopped.get() - acquiredAt, 10s);
  EXPECT_FALSE(a.isLeader());
  a.stop();
}

}  // namespace
}  // namespace sessionstore::leaderelection
