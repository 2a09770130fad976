#include "events/recorder.h"
#include "clock/time_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mocks/clock/fake_clock.h"
#include "mocks/kube/mock_client.h"

namespace sessionstore::events {
namespace {

using namespace std::chrono_literals;
using testing::_;
using testing::NiceMock;

const ObjectReference kStore{.apiVersion = "sessionstore.io/v1alpha1",
                             .kind = "SessionStore",
                             .ns = "shop",
                             .name = "web",
                             .uid = "6f1c",
                             .resourceVersion = "812"};

ObjectReference store(std::string name) {
  return ObjectReference{.apiVersion = "sessionstore.io/v1alpha1",
                         .kind = "SessionStore",
                         .ns = "shop",
                         .name = name,
                         .uid = "uid-" + name};
}

struct Patch {
  std::string name;
  kube::Json body;
};

class RecorderTest : public testing::Test {
 protected:
  void SetUp() override {
    ON_CALL(client_, create(_, _, _, _))
        .WillByDefault([this](const kube::Resource&, const std::string&, const kube::Json& event,
                              const kube::CreateOptions&) -> kube::Result<kube::Json> {
          std::lock_guard lock(mu_);
          created_.push_back(event);
          changed_.notify_all();
          return event;
        });
    ON_CALL(client_, patch(_, _, _, _, _, _))
        .WillByDefault([this](const kube::Resource& resource, const std::string&,
                              const std::string& name, kube::PatchType type, const kube::Json& body,
                              const kube::PatchOptions&) -> kube::Result<kube::Json> {
          EXPECT_EQ(resource, kube::resources::kEvents);
          EXPECT_EQ(type, kube::PatchType::kMerge);
          std::lock_guard lock(mu_);
          patched_.push_back({name, body});
          changed_.notify_all();
          return body;
        });
  }

  static RecorderConfig config() { return RecorderConfig{.reportingInstance = "operator-0"}; }

  std::vector<kube::Json> created() {
    std::lock_guard lock(mu_);
    return created_;
  }
  std::vector<Patch> patched() {
    std::lock_guard lock(mu_);
    return patched_;
  }
  // Waits (real time, bounded) until the worker thread has made the calls `done` expects.
  bool waitFor(const std::function<bool()>& done) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 10s, done);
  }

  clock::FakeClock clock_;
  NiceMock<kube::MockClient> client_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<kube::Json> created_;  // GUARDED_BY(mu_)
  std::vector<Patch> patched_;       // GUARDED_BY(mu_)
};

uint64_t nanosOf(clock::SystemTime t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

TEST_F(RecorderTest, FirstOccurrenceCreatesAnEvent) {
  EventRecorder recorder(client_, clock_, config());
  EXPECT_CALL(client_, create(kube::resources::kEvents, "shop", _, _));

  EXPECT_EQ(
      recorder.record(kStore, EventType::kWarning, "RedisUnreachable", "Probe", "PING timed out"),
      RecordResult::kQueued);
  EXPECT_TRUE(created().empty());  // record() only queues
  recorder.sendDue();

  ASSERT_EQ(created().size(), 1u);
  const auto event = created()[0];
  EXPECT_EQ(event["metadata"]["name"], eventName("web", nanosOf(clock_.wallNow())));
  EXPECT_EQ(event["metadata"]["namespace"], "shop");
  EXPECT_EQ(event["eventTime"], clock::formatMicroTime(clock_.wallNow()));
  EXPECT_EQ(event["reportingController"], "sessionstore-operator");
  EXPECT_EQ(event["reportingInstance"], "operator-0");
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["reason"], "RedisUnreachable");
  EXPECT_EQ(event["action"], "Probe");
  EXPECT_EQ(event["note"], "PING timed out");
  EXPECT_EQ(event["regarding"]["uid"], "6f1c");
  EXPECT_EQ(event["regarding"]["resourceVersion"], "812");
  EXPECT_FALSE(event.contains("series"));
  EXPECT_EQ(recorder.stats(), (RecorderStats{.created = 1}));
}

TEST_F(RecorderTest, RepeatsWithinTheWindowPatchTheSeriesAtMostOncePerInterval) {
  EventRecorder recorder(client_, clock_, config());
  recorder.record(kStore, EventType::kWarning, "RedisUnreachable", "Probe", "PING timed out");
  recorder.sendDue();
  const auto name = created().at(0)["metadata"]["name"].get<std::string>();

  clock_.advance(10s);
  EXPECT_EQ(
      recorder.record(kStore, EventType::kWarning, "RedisUnreachable", "Probe", "PING timed out"),
      RecordResult::kAggregated);
  EXPECT_EQ(
      recorder.record(kStore, EventType::kWarning, "RedisUnreachable", "Probe", "PING timed out"),
      RecordResult::kAggregated);
  recorder.sendDue();
  ASSERT_EQ(patched().size(), 1u);
  EXPECT_EQ(patched()[0].name, name);
  EXPECT_EQ(patched()[0].body, seriesPatch(3, clock_.wallNow()));

  clock_.advance(10s);
  recorder.record(kStore, EventType::kWarning, "RedisUnreachable", "Probe", "PING timed out");
  const auto fourthAt = clock_.wallNow();
  EXPECT_EQ(recorder.sendDue(), clock_.now() + 20s);  // 30 s after the last patch
  EXPECT_EQ(patched().size(), 1u);

  clock_.advance(20s);
  recorder.sendDue();
  ASSERT_EQ(patched().size(), 2u);
  EXPECT_EQ(patched()[1].body, seriesPatch(4, fourthAt));
  EXPECT_EQ(created().size(), 1u);
  EXPECT_EQ(recorder.stats(), (RecorderStats{.created = 1, .seriesUpdates = 2, .aggregated = 3}));
}

TEST_F(RecorderTest, TheWindowSlidesWithEachRepeatAndARepeatAfterItCreatesANewEvent) {
  EventRecorder recorder(client_, clock_, config());
  const auto record = [&] {
    return recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready");
  };
  EXPECT_EQ(record(), RecordResult::kQueued);
  recorder.sendDue();
  clock_.advance(5min);
  EXPECT_EQ(record(), RecordResult::kAggregated);
  recorder.sendDue();
  clock_.advance(5min);  // 10 min after the first, 5 after the last
  EXPECT_EQ(record(), RecordResult::kAggregated);
  recorder.sendDue();

  clock_.advance(6min);
  EXPECT_EQ(record(), RecordResult::kQueued);
  recorder.sendDue();

  ASSERT_EQ(created().size(), 2u);
  EXPECT_NE(created()[0]["metadata"]["name"], created()[1]["metadata"]["name"]);
}

TEST_F(RecorderTest, ADifferentNoteCreatesANewEvent) {
  EventRecorder recorder(client_, clock_, config());
  EXPECT_EQ(recorder.record(kStore, EventType::kWarning, "RedisUnreachable", "Probe", "timeout"),
            RecordResult::kQueued);
  EXPECT_EQ(recorder.record(kStore, EventType::kWarning, "RedisUnreachable", "Probe", "refused"),
            RecordResult::kQueued);
  EXPECT_EQ(recorder.record(kStore, EventType::kNormal, "RedisUnreachable", "Probe", "refused"),
            RecordResult::kQueued);
  recorder.sendDue();

  ASSERT_EQ(created().size(), 3u);
  std::set<std::string> names;
  for (const auto& event : created()) names.insert(event["metadata"]["name"].get<std::string>());
  EXPECT_EQ(names.size(), 3u);  // unique although the clock did not move
  EXPECT_TRUE(patched().empty());
}

TEST_F(RecorderTest, PerObjectRateLimitDropsAndCounts) {
  EventRecorder recorder(client_, clock_, config());
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile",
                              "attempt " + std::to_string(i)),
              RecordResult::kQueued);
  }
  EXPECT_EQ(recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile", "26"),
            RecordResult::kRateLimited);
  // Another object has its own bucket; a repeat costs no token.
  EXPECT_EQ(recorder.record(store("api"), EventType::kWarning, "ReconcileFailed", "Reconcile", "x"),
            RecordResult::kQueued);
  EXPECT_EQ(
      recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile", "attempt 0"),
      RecordResult::kAggregated);

  clock_.advance(5s);  // one token back
  EXPECT_EQ(recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile", "27"),
            RecordResult::kQueued);
  EXPECT_EQ(recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile", "28"),
            RecordResult::kRateLimited);

  recorder.sendDue();
  EXPECT_EQ(created().size(), 27u);
  EXPECT_EQ(recorder.stats().droppedRateLimited, 2u);
}

TEST_F(RecorderTest, GlobalRateLimitDropsAndCountsWithoutSpendingObjectTokens) {
  auto c = config();
  c.globalBurst = 3;
  c.globalRefill = 1s;
  c.perObjectBurst = 1;
  c.perObjectRefill = 1h;
  EventRecorder recorder(client_, clock_, c);
  for (const char* name : {"a", "b", "c"}) {
    EXPECT_EQ(recorder.record(store(name), EventType::kNormal, "Provisioned", "Reconcile", ""),
              RecordResult::kQueued);
  }
  EXPECT_EQ(recorder.record(store("d"), EventType::kNormal, "Provisioned", "Reconcile", ""),
            RecordResult::kRateLimited);

  clock_.advance(1s);
  // d's own single token was not spent by the global refusal.
  EXPECT_EQ(recorder.record(store("d"), EventType::kNormal, "Provisioned", "Reconcile", ""),
            RecordResult::kQueued);
  EXPECT_EQ(recorder.stats().droppedRateLimited, 1u);
}

TEST_F(RecorderTest, NotesAreCutToOneKibibyte) {
  EventRecorder recorder(client_, clock_, config());
  recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile",
                  std::string(5000, 'x'));
  recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile",
                  std::string(1023, 'y') + "\xC3\xA9 and more");
  recorder.sendDue();

  ASSERT_EQ(created().size(), 2u);
  EXPECT_EQ(created()[0]["note"], std::string(1024, 'x'));
  EXPECT_EQ(created()[1]["note"], std::string(1023, 'y'));
  // Two notes that agree on their first KiB are the same Event.
  EXPECT_EQ(recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile",
                            std::string(6000, 'x')),
            RecordResult::kAggregated);
}

TEST_F(RecorderTest, InvalidRecordsAreDroppedAndCounted) {
  EventRecorder recorder(client_, clock_, config());
  EXPECT_CALL(client_, create(_, _, _, _)).Times(0);
  EXPECT_EQ(recorder.record(kStore, EventType::kNormal, "", "Reconcile", "n"),
            RecordResult::kInvalid);
  EXPECT_EQ(recorder.record(kStore, EventType::kNormal, "Provisioned", "", "n"),
            RecordResult::kInvalid);
  EXPECT_EQ(recorder.record(kStore, EventType::kNormal, std::string(129, 'R'), "Reconcile", "n"),
            RecordResult::kInvalid);
  EXPECT_EQ(recorder.record(ObjectReference{.kind = "SessionStore"}, EventType::kNormal,
                            "Provisioned", "Reconcile", "n"),
            RecordResult::kInvalid);
  recorder.sendDue();
  EXPECT_EQ(recorder.stats(), (RecorderStats{.droppedInvalid = 4}));
}

TEST_F(RecorderTest, AFailedCreateIsCountedAndTheNextOccurrenceCreatesAgain) {
  EventRecorder recorder(client_, clock_, config());
  EXPECT_CALL(client_, create(_, _, _, _))
      .WillOnce(testing::Return(kube::makeError(kube::ErrorKind::kUnavailable, "refused")))
      .WillRepeatedly(testing::DoDefault());
  recorder.record(kStore, EventType::kWarning, "RedisUnreachable", "Probe", "timeout");
  recorder.sendDue();
  EXPECT_EQ(recorder.stats().failed, 1u);

  EXPECT_EQ(recorder.record(kStore, EventType::kWarning, "RedisUnreachable", "Probe", "timeout"),
            RecordResult::kQueued);
  recorder.sendDue();
  EXPECT_EQ(created().size(), 1u);
  EXPECT_TRUE(patched().empty());
  EXPECT_EQ(recorder.stats().created, 1u);
}

TEST_F(RecorderTest, AnEventGoneFromTheServerIsCreatedAgain) {
  EventRecorder recorder(client_, clock_, config());
  recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready");
  recorder.sendDue();
  EXPECT_CALL(client_, patch(_, _, _, _, _, _))
      .WillOnce(testing::Return(kube::makeError(kube::ErrorKind::kNotFound, "gone", 404)));
  clock_.advance(1s);
  recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready");
  recorder.sendDue();

  EXPECT_EQ(recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready"),
            RecordResult::kQueued);
}

TEST_F(RecorderTest, AnExpiringSeriesSendsItsLastCount) {
  EventRecorder recorder(client_, clock_, config());
  const auto record = [&] {
    return recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready");
  };
  record();
  recorder.sendDue();
  clock_.advance(10s);
  record();
  recorder.sendDue();  // count 2 at once
  clock_.advance(10s);
  record();  // count 3, due 30 s after the last patch
  const auto lastAt = clock_.wallNow();
  EXPECT_EQ(recorder.sendDue(), clock_.now() + 20s);

  clock_.advance(7min);
  EXPECT_EQ(recorder.sendDue(), std::nullopt);  // sent, then forgotten: nothing left to do

  ASSERT_EQ(patched().size(), 2u);
  EXPECT_EQ(patched()[1].body, seriesPatch(3, lastAt));
  EXPECT_EQ(record(), RecordResult::kQueued);
}

TEST_F(RecorderTest, AnExpiredSeriesOutlivingTheNextOneOfItsKeyLeavesTheKeyUsable) {
  // A's last count is still to be sent when a repeat past its window starts B; B's create
  // fails and B goes first, then A once its count is sent; the key then starts a new Event.
  EventRecorder recorder(client_, clock_, config());
  EXPECT_CALL(client_, create(_, _, _, _))
      .WillOnce(testing::DoDefault())
      .WillOnce(testing::Return(kube::makeError(kube::ErrorKind::kUnavailable, "refused")))
      .WillRepeatedly(testing::DoDefault());
  const auto record = [&] {
    return recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready");
  };
  EXPECT_EQ(record(), RecordResult::kQueued);  // A
  recorder.sendDue();
  clock_.advance(10s);
  EXPECT_EQ(record(), RecordResult::kAggregated);
  recorder.sendDue();  // A's count 2, sent at once
  clock_.advance(10s);
  EXPECT_EQ(record(), RecordResult::kAggregated);  // A's count 3, due 30 s after the last patch
  clock_.advance(7min);
  EXPECT_EQ(record(), RecordResult::kQueued);  // B: A's window has passed
  recorder.sendDue();  // B's create fails (B forgotten); A sends its count 3 and goes
  EXPECT_EQ(recorder.stats().failed, 1u);
  ASSERT_EQ(patched().size(), 2u);
  EXPECT_EQ(patched()[1].body["series"]["count"], 3);
  EXPECT_EQ(recorder.sendDue(), std::nullopt);  // nothing left of A or B

  EXPECT_EQ(record(), RecordResult::kQueued);  // C
  recorder.sendDue();
  ASSERT_EQ(created().size(), 2u);  // A and C
  EXPECT_NE(created()[0]["metadata"]["name"], created()[1]["metadata"]["name"]);
  clock_.advance(1s);
  EXPECT_EQ(record(), RecordResult::kAggregated);  // into C
}

TEST_F(RecorderTest, AFullQueueDropsTheOldest) {
  auto c = config();
  c.queueCapacity = 2;
  EventRecorder recorder(client_, clock_, c);
  recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "first");
  recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "second");
  recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "third");
  recorder.sendDue();

  ASSERT_EQ(created().size(), 2u);
  EXPECT_EQ(created()[0]["note"], "second");
  EXPECT_EQ(created()[1]["note"], "third");
  EXPECT_EQ(recorder.stats().droppedQueueFull, 1u);
  // The dropped one was never created, so its next occurrence is new, not a repeat.
  EXPECT_EQ(recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "first"),
            RecordResult::kQueued);
}

TEST_F(RecorderTest, StopFlushesQueuedEventsAndPendingCounts) {
  EventRecorder recorder(client_, clock_, config());
  recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready");
  recorder.sendDue();
  recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready");
  recorder.sendDue();                                                                // count 2
  recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready");  // not due
  recorder.record(store("api"), EventType::kNormal, "Provisioned", "Reconcile", "ready");

  recorder.stop();

  EXPECT_EQ(created().size(), 2u);
  ASSERT_EQ(patched().size(), 2u);
  EXPECT_EQ(patched()[1].body["series"]["count"], 3);
  EXPECT_EQ(recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready"),
            RecordResult::kStopped);
  EXPECT_EQ(recorder.stats().droppedStopped, 1u);
}

TEST_F(RecorderTest, StopGivesUpAtItsTimeout) {
  EventRecorder recorder(client_, clock_, config());
  EXPECT_CALL(client_, create(_, _, _, _))
      .Times(3)
      .WillRepeatedly([this](const kube::Resource&, const std::string&, const kube::Json& event,
                             const kube::CreateOptions&) -> kube::Result<kube::Json> {
        clock_.advance(2s);  // a slow API server
        return event;
      });
  for (int i = 0; i < 5; ++i) {
    recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", std::to_string(i));
  }

  recorder.stop(5s);  // sends at +0, +2 and +4 s, then gives up

  EXPECT_EQ(recorder.stats().created, 3u);
  EXPECT_EQ(recorder.stats().droppedOnStop, 2u);
}

TEST_F(RecorderTest, StartRejectsAnInvalidConfiguration) {
  EventRecorder recorder(client_, clock_, RecorderConfig{});  // no reportingInstance
  EXPECT_FALSE(recorder.start().has_value());
  auto c = config();
  c.seriesUpdateInterval = c.aggregationWindow;
  EventRecorder other(client_, clock_, c);
  EXPECT_FALSE(other.start().has_value());
}

TEST_F(RecorderTest, RecordNeverWaitsForTheNetwork) {
  auto c = config();
  c.perObjectBurst = 1000;
  c.globalBurst = 1000;
  EventRecorder recorder(client_, clock_, c);
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  EXPECT_CALL(client_, create(_, _, _, _))
      .WillOnce([&](const kube::Resource&, const std::string&, const kube::Json& event,
                    const kube::CreateOptions&) -> kube::Result<kube::Json> {
        entered.set_value();
        released.wait();  // the API server hangs
        return event;
      })
      .WillRepeatedly(testing::DoDefault());
  ASSERT_TRUE(recorder.start().has_value());

  recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile", "first");
  ASSERT_EQ(entered.get_future().wait_for(10s), std::future_status::ready);
  // The worker is stuck in create(); each of these returns at once (or the test hangs).
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile",
                              std::to_string(i)),
              RecordResult::kQueued);
  }
  release.set_value();
  recorder.stop();

  EXPECT_EQ(recorder.stats().created, 101u);
}

TEST_F(RecorderTest, WorkerSendsADueSeriesCountWhenTheIntervalPasses) {
  EventRecorder recorder(client_, clock_, config());
  ASSERT_TRUE(recorder.start().has_value());
  const auto record = [&] {
    return recorder.record(kStore, EventType::kNormal, "Provisioned", "Reconcile", "ready");
  };
  record();
  ASSERT_TRUE(waitFor([&] { return created_.size() == 1; }));
  record();
  ASSERT_TRUE(waitFor([&] { return patched_.size() == 1; }));
  // Once the worker waits on the clock it has noted when it patched.
  const auto giveUp = std::chrono::steady_clock::now() + 10s;
  while (clock_.waiters() == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), giveUp) << "the worker never waited";
    std::this_thread::yield();
  }
  record();  // due 30 s after the first patch

  clock_.advance(30s);  // no record(): only the clock wakes the worker

  ASSERT_TRUE(waitFor([&] { return patched_.size() == 2; }));
  EXPECT_EQ(patched()[1].body["series"]["count"], 3);
  recorder.stop();
}

TEST_F(RecorderTest, AFailingCreateDoesNotStopTheWorker) {
  EventRecorder recorder(client_, clock_, config());
  EXPECT_CALL(client_, create(_, _, _, _))
      .WillOnce(testing::Return(kube::makeError(kube::ErrorKind::kInternal, "boom", 500)))
      .WillRepeatedly(testing::DoDefault());
  ASSERT_TRUE(recorder.start().has_value());
  recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile", "one");
  recorder.record(kStore, EventType::kWarning, "ReconcileFailed", "Reconcile", "two");
  ASSERT_TRUE(waitFor([&] { return created_.size() == 1; }));
  recorder.stop();

  EXPECT_EQ(created().at(0)["note"], "two");
  EXPECT_EQ(recorder.stats().failed, 1u);
  EXPECT_EQ(recorder.stats().created, 1u);
}

}  // namespace
}  // namespace sessionstore::events
