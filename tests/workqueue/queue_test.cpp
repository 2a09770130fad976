#include "workqueue/queue.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mocks/clock/fake_clock.h"
#include "workqueue/spin_until.h"

namespace sessionstore::workqueue {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// get() when a key is ready; nullopt instead of blocking when none is (single-threaded tests).
std::optional<std::string> getReady(Queue& queue) {
  if (queue.len() == 0) return std::nullopt;
  return queue.get();
}

class QueueTest : public ::testing::Test {
 protected:
  std::optional<std::string> getReady() { return workqueue::getReady(queue_); }

  // Every key ready now, in the order get() hands them out; each is marked done.
  std::vector<std::string> drainReady() {
    std::vector<std::string> keys;
    while (queue_.len() > 0) {
      keys.push_back(queue_.get().value());
      queue_.done(keys.back());
    }
    return keys;
  }

  clock::FakeClock clock_;
  Queue queue_{clock_};
};

TEST_F(QueueTest, AddDeduplicatesWaitingKeysAndKeepsOrder) {
  queue_.add("ns/a");
  queue_.add("ns/b");
  queue_.add("ns/a");
  queue_.add("ns/a");
  queue_.add("ns/c");
  EXPECT_EQ(queue_.len(), 3u);
  const QueueStats stats = queue_.stats();
  EXPECT_EQ(stats.depth, 3u);
  EXPECT_EQ(stats.addsTotal, 3u);
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"ns/a", "ns/b", "ns/c"}));
}

TEST_F(QueueTest, KeyBeingProcessedIsNotHandedOutAgainUntilDone) {
  queue_.add("a");
  ASSERT_EQ(getReady(), "a");
  queue_.add("a");  // dirty: waits for done("a")
  queue_.add("b");
  EXPECT_EQ(queue_.len(), 1u);
  EXPECT_EQ(queue_.stats().depth, 2u);
  EXPECT_EQ(queue_.stats().processing, 1u);
  EXPECT_EQ(getReady(), "b");  // not "a", although "a" was added first
  EXPECT_EQ(queue_.len(), 0u);
  queue_.done("a");
  EXPECT_EQ(queue_.len(), 1u);
  EXPECT_EQ(getReady(), "a");
  queue_.done("a");
  queue_.done("b");
  EXPECT_EQ(queue_.len(), 0u);
  EXPECT_EQ(queue_.stats().processing, 0u);
}

TEST_F(QueueTest, KeyReAddedWhileProcessedIsQueuedOnceAfterDone) {
  queue_.add("a");
  ASSERT_EQ(getReady(), "a");
  queue_.add("a");
  queue_.add("a");
  queue_.add("a");
  EXPECT_EQ(queue_.stats().addsTotal, 2u);  // the first add, then one dirty re-add
  EXPECT_EQ(queue_.stats().depth, 1u);
  queue_.done("a");
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(queue_.stats().depth, 0u);
}

TEST_F(QueueTest, DoneOfAKeyNotHandedOutIsIgnored) {
  queue_.add("a");
  queue_.done("a");
  queue_.done("never-added");
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"a"}));
}

// A second worker blocked in get() does not receive the key the first worker holds, even though
// the key was added again; it receives it right after done().
TEST_F(QueueTest, SecondWorkerGetsAReAddedKeyOnlyAfterDone) {
  queue_.add("a");
  ASSERT_EQ(getReady(), "a");  // this thread is the first worker
  queue_.add("a");

  std::atomic<bool> doneCalled = false;
  std::atomic<bool> returned = false;
  std::optional<std::string> got;
  bool gotAfterDone = false;
  std::thread second([&] {
    got = queue_.get();
    gotAfterDone = doneCalled.load();
    returned = true;
  });
  JoinOnExit joinSecond(second, [&] { queue_.shutDown(); });
  ASSERT_TRUE(spinUntil([&] { return queue_.stats().idleGets == 1; }));
  EXPECT_FALSE(returned.load());  // blocked: "a" is dirty but not queued
  EXPECT_EQ(queue_.len(), 0u);

  doneCalled = true;
  queue_.done("a");
  ASSERT_TRUE(spinUntil([&] { return returned.load(); }));
  second.join();
  EXPECT_EQ(got, "a");
  EXPECT_TRUE(gotAfterDone);
  EXPECT_EQ(queue_.stats().processing, 1u);
  queue_.done("a");
}

// Several workers, keys re-added all the time: no key is ever in two handlers at once, and no
// add is lost (every key's last handling starts after its last add).
TEST_F(QueueTest, ManyWorkersNeverShareAKeyAndLoseNoAdd) {
  constexpr int kKeys = 8;
  constexpr int kWorkers = 4;
  constexpr int kRounds = 300;
  std::array<std::atomic<int>, kKeys> inFlight{};
  std::array<std::atomic<int>, kKeys> version{};
  std::array<std::atomic<int>, kKeys> handledVersion{};
  std::atomic<int> overlaps = 0;
  std::atomic<int> handled = 0;

  std::vector<std::thread> workers;
  struct JoinAll {
    Queue& queue;
    std::vector<std::thread>& threads;
    ~JoinAll() {
      queue.shutDown();
      for (auto& thread : threads) {
        if (thread.joinable()) thread.join();
      }
    }
  } joinAll{queue_, workers};
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (const auto key = queue_.get()) {
        const auto i = static_cast<std::size_t>(std::stoi(*key));
        if (inFlight[i].fetch_add(1) != 0) ++overlaps;
        handledVersion[i] = version[i].load();
        std::this_thread::yield();
        inFlight[i].fetch_sub(1);
        ++handled;
        queue_.done(*key);
      }
    });
  }
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t i = 0; i < kKeys; ++i) {
      ++version[i];
      queue_.add(std::to_string(i));
    }
    // Let the workers make progress, so that adds land while keys are being processed.
    ASSERT_TRUE(spinUntil([&] { return handled.load() > round; }));
  }
  queue_.shutDown();  // workers still empty the queue, then get() returns nullopt
  for (auto& worker : workers) worker.join();

  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GE(handled.load(), kKeys);
  for (std::size_t i = 0; i < kKeys; ++i) EXPECT_EQ(handledVersion[i].load(), kRounds) << i;
  EXPECT_EQ(queue_.stats().processing, 0u);
  EXPECT_EQ(queue_.stats().depth, 0u);
}

TEST_F(QueueTest, AddAfterWaitsForTheClock) {
  queue_.addAfter("a", seconds(10));
  EXPECT_EQ(queue_.len(), 0u);
  EXPECT_EQ(queue_.stats().delayed, 1u);
  clock_.advance(seconds(10) - nanoseconds(1));
  EXPECT_EQ(queue_.len(), 0u);
  clock_.advance(nanoseconds(1));
  EXPECT_EQ(queue_.len(), 1u);
  EXPECT_EQ(queue_.stats().delayed, 0u);
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"a"}));
}

TEST_F(QueueTest, AddAfterHandsOutKeysInReadyTimeOrder) {
  queue_.addAfter("a", seconds(3));
  queue_.addAfter("b", seconds(1));
  queue_.addAfter("c", seconds(2));
  queue_.addAfter("tie-1", seconds(1));
  queue_.addAfter("tie-2", seconds(1));
  queue_.add("now");
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"now"}));
  clock_.advance(seconds(3));
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"b", "tie-1", "tie-2", "c", "a"}));
}

TEST_F(QueueTest, DropDelayedForgetsAPendingLookButNotAReadyKey) {
  queue_.addAfter("waiting", seconds(48));  // an earlier pass's back-off
  queue_.addAfter("due", seconds(1));
  clock_.advance(seconds(1));               // "due" is ready now
  queue_.dropDelayed("waiting");
  queue_.dropDelayed("due");
  queue_.addAfter("waiting", hours(10));    // the pass that just ended asks for later
  EXPECT_EQ(queue_.stats().delayed, 1u);
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"due"}));
  clock_.advance(seconds(48));
  EXPECT_EQ(queue_.len(), 0u) << "the superseded 48 s look still came";
  clock_.advance(hours(10));
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"waiting"}));
}

TEST_F(QueueTest, KeysReadyBeforeADirectAddComeFirst) {
  queue_.addAfter("delayed", seconds(1));
  clock_.advance(seconds(2));
  queue_.add("direct");  // "delayed" became ready a second before this add
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"delayed", "direct"}));
}

TEST_F(QueueTest, AddAfterDeduplicatesKeepingTheEarlierTime) {
  queue_.addAfter("a", seconds(5));
  queue_.addAfter("a", seconds(2));   // earlier: replaces
  queue_.addAfter("a", seconds(10));  // later: ignored
  EXPECT_EQ(queue_.stats().delayed, 1u);
  EXPECT_EQ(queue_.stats().retriesTotal, 3u);
  clock_.advance(seconds(2));
  EXPECT_EQ(queue_.len(), 1u);
  EXPECT_EQ(queue_.stats().delayed, 0u);
  clock_.advance(seconds(10));
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(queue_.stats().addsTotal, 1u);
}

TEST_F(QueueTest, DelayedKeyAlreadyQueuedIsNotQueuedTwice) {
  queue_.add("a");
  queue_.addAfter("a", seconds(1));
  clock_.advance(seconds(1));
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(queue_.stats().addsTotal, 1u);
}

TEST_F(QueueTest, AddAfterWithoutPositiveDelayAddsAtOnce) {
  queue_.addAfter("zero", nanoseconds(0));
  queue_.addAfter("negative", seconds(-1));
  EXPECT_EQ(queue_.stats().delayed, 0u);
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"zero", "negative"}));
}

TEST_F(QueueTest, HugeDelaysDoNotOverflow) {
  queue_.addAfter("a", clock::Duration::max());
  EXPECT_EQ(queue_.stats().delayed, 1u);
  clock_.advance(Queue::kMaxAddAfter - nanoseconds(1));
  EXPECT_EQ(queue_.len(), 0u);
  clock_.advance(nanoseconds(1));
  EXPECT_EQ(queue_.len(), 1u);
}

TEST_F(QueueTest, GetBlocksUntilADelayedKeyIsReady) {
  queue_.addAfter("a", seconds(30));
  std::optional<std::string> got;
  std::atomic<bool> returned = false;
  std::thread worker([&] {
    got = queue_.get();
    returned = true;
  });
  JoinOnExit joinWorker(worker, [&] { queue_.shutDown(); });
  ASSERT_TRUE(spinUntil([&] { return clock_.waiters() == 1; }));  // waiting on the clock
  clock_.advance(seconds(29));
  EXPECT_EQ(queue_.stats().delayed, 1u);  // not ready, so not handed out
  EXPECT_EQ(queue_.stats().processing, 0u);
  clock_.advance(seconds(1));
  ASSERT_TRUE(spinUntil([&] { return returned.load(); }));
  worker.join();
  EXPECT_EQ(got, "a");
  queue_.done("a");
}

TEST_F(QueueTest, GetWaitingForNothingWakesForANewDelayedKey) {
  std::optional<std::string> got;
  std::atomic<bool> returned = false;
  std::thread worker([&] {
    got = queue_.get();
    returned = true;
  });
  JoinOnExit joinWorker(worker, [&] { queue_.shutDown(); });
  ASSERT_TRUE(spinUntil([&] { return queue_.stats().idleGets == 1; }));
  EXPECT_EQ(clock_.waiters(), 0u);  // nothing delayed: not waiting on the clock
  queue_.addAfter("a", seconds(5));
  ASSERT_TRUE(spinUntil([&] { return clock_.waiters() == 1; }));  // now it is
  clock_.advance(seconds(5));
  ASSERT_TRUE(spinUntil([&] { return returned.load(); }));
  worker.join();
  EXPECT_EQ(got, "a");
  queue_.done("a");
}

TEST_F(QueueTest, AddRateLimitedBacksOffPerKeyUntilForgotten) {
  const auto readyAfter = [&](clock::Duration delay) {
    clock_.advance(delay - nanoseconds(1));
    EXPECT_EQ(queue_.len(), 0u) << "ready before " << delay.count() << "ns";
    clock_.advance(nanoseconds(1));
    EXPECT_EQ(drainReady(), (std::vector<std::string>{"a"}));
  };
  queue_.addRateLimited("a");
  readyAfter(milliseconds(5));
  queue_.addRateLimited("a");
  readyAfter(milliseconds(10));
  queue_.addRateLimited("a");
  readyAfter(milliseconds(20));
  EXPECT_EQ(queue_.numRequeues("a"), 3u);
  EXPECT_EQ(queue_.numRequeues("b"), 0u);
  queue_.forget("a");
  EXPECT_EQ(queue_.numRequeues("a"), 0u);
  queue_.addRateLimited("a");
  readyAfter(milliseconds(5));
  EXPECT_EQ(queue_.stats().retriesTotal, 4u);
}

TEST_F(QueueTest, AddRateLimitedWaitsAtLeastTheGivenTime) {
  queue_.addRateLimited("a", seconds(1));  // backoff 5 ms, Retry-After 1 s
  clock_.advance(seconds(1) - nanoseconds(1));
  EXPECT_EQ(queue_.len(), 0u);
  clock_.advance(nanoseconds(1));
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"a"}));
  for (int i = 0; i < 10; ++i) queue_.addRateLimited("b");  // backoff now 5 ms * 2^9
  clock_.advance(milliseconds(5 << 9));
  ASSERT_EQ(drainReady(), (std::vector<std::string>{"b"}));
  queue_.addRateLimited("b", milliseconds(1));  // the longer backoff wins: 5 ms * 2^10
  clock_.advance(milliseconds(5 << 10) - nanoseconds(1));
  EXPECT_EQ(queue_.len(), 0u);
  clock_.advance(nanoseconds(1));
  EXPECT_EQ(drainReady(), (std::vector<std::string>{"b"}));
}

TEST_F(QueueTest, AddRateLimitedIsCappedAt1000s) {
  for (int i = 0; i < 25; ++i) {
    queue_.addRateLimited("a");
    clock_.advance(seconds(1000));
    ASSERT_EQ(drainReady(), (std::vector<std::string>{"a"}));
  }
  queue_.addRateLimited("a");
  clock_.advance(seconds(1000) - nanoseconds(1));
  EXPECT_EQ(queue_.len(), 0u);
  clock_.advance(nanoseconds(1));
  EXPECT_EQ(queue_.len(), 1u);
}

TEST_F(QueueTest, ShutDownStopsAddsButStillHandsOutQueuedKeys) {
  queue_.add("a");
  queue_.add("b");
  queue_.addAfter("later", seconds(1));
  ASSERT_EQ(getReady(), "a");
  queue_.shutDown();
  EXPECT_TRUE(queue_.shuttingDown());
  queue_.add("c");
  queue_.add("a");
  queue_.addAfter("d", seconds(1));
  queue_.addRateLimited("e");
  const QueueStats stats = queue_.stats();
  EXPECT_EQ(stats.addsTotal, 2u);
  EXPECT_EQ(stats.retriesTotal, 1u);
  EXPECT_EQ(stats.delayed, 0u);  // delayed keys are dropped
  EXPECT_EQ(getReady(), "b");
  queue_.done("a");  // "a" was not re-added: nothing queued again
  queue_.done("b");
  clock_.advance(seconds(1));
  EXPECT_EQ(queue_.get(), std::nullopt);  // at once: shut down and empty
  EXPECT_EQ(queue_.get(), std::nullopt);
}

TEST_F(QueueTest, ShutDownWakesBlockedGetters) {
  queue_.addAfter("far", hours(1));
  std::optional<std::string> onClock = "unset";
  std::optional<std::string> untimed = "unset";
  std::thread first([&] { onClock = queue_.get(); });
  JoinOnExit joinFirst(first, [&] { queue_.shutDown(); });
  ASSERT_TRUE(spinUntil([&] { return clock_.waiters() == 1; }));
  std::thread second([&] { untimed = queue_.get(); });
  JoinOnExit joinSecond(second, [&] { queue_.shutDown(); });
  ASSERT_TRUE(spinUntil([&] { return queue_.stats().idleGets == 2; }));
  queue_.shutDown();
  first.join();
  second.join();
  EXPECT_EQ(onClock, std::nullopt);
  EXPECT_EQ(untimed, std::nullopt);
}

TEST_F(QueueTest, ShutDownWithDrainWaitsForEveryKeyHandedOut) {
  queue_.add("a");
  queue_.add("b");
  ASSERT_EQ(getReady(), "a");
  ASSERT_EQ(getReady(), "b");
  std::atomic<bool> returned = false;
  std::thread drainer([&] {
    queue_.shutDownWithDrain();
    returned = true;
  });
  JoinOnExit joinDrainer(drainer, [&] { queue_.shutDown(); });
  // shuttingDown() turns true under the queue's mutex, which the drainer holds until it waits.
  ASSERT_TRUE(spinUntil([&] { return queue_.shuttingDown(); }));
  EXPECT_FALSE(returned.load());
  queue_.done("a");
  EXPECT_FALSE(returned.load());
  queue_.done("b");
  ASSERT_TRUE(spinUntil([&] { return returned.load(); }));
  drainer.join();
}

TEST_F(QueueTest, ShutDownReleasesADrainThatWouldWaitForever) {
  queue_.add("a");
  ASSERT_EQ(getReady(), "a");
  std::atomic<bool> returned = false;
  std::thread drainer([&] {
    queue_.shutDownWithDrain();
    returned = true;
  });
  JoinOnExit joinDrainer(drainer, [&] { queue_.done("a"); });
  ASSERT_TRUE(spinUntil([&] { return queue_.shuttingDown(); }));
  queue_.shutDown();
  ASSERT_TRUE(spinUntil([&] { return returned.load(); }));  // although "a" is not done
  drainer.join();
  EXPECT_EQ(queue_.stats().processing, 1u);
}

TEST_F(QueueTest, ShutDownWithDrainReturnsAtOnceWhenNothingIsHandedOut) {
  queue_.add("a");
  queue_.shutDownWithDrain();
  EXPECT_EQ(getReady(), "a");  // queued keys are still handed out
  queue_.done("a");
}

class RecordingObserver : public QueueObserver {
 public:
  void onWaited(const std::string& key, clock::Duration waited) override {
    std::lock_guard lock(mu_);
    waited_.emplace_back(key, waited);
  }
  void onProcessed(const std::string& key, clock::Duration took) override {
    std::lock_guard lock(mu_);
    processed_.emplace_back(key, took);
  }
  using Timings = std::vector<std::pair<std::string, clock::Duration>>;
  Timings waited() {
    std::lock_guard lock(mu_);
    return waited_;
  }
  Timings processed() {
    std::lock_guard lock(mu_);
    return processed_;
  }

 private:
  std::mutex mu_;
  Timings waited_;     // GUARDED_BY(mu_)
  Timings processed_;  // GUARDED_BY(mu_)
};

TEST(QueueObserverTest, ReportsHowLongEachKeyWaitedAndWasProcessed) {
  clock::FakeClock clock;
  RecordingObserver observer;
  Queue queue(clock, {.observer = &observer});
  using Timings = RecordingObserver::Timings;

  queue.add("a");
  clock.advance(seconds(2));
  ASSERT_EQ(getReady(queue), "a");
  queue.add("a");  // re-added while processed: its wait starts now
  clock.advance(seconds(3));
  queue.done("a");
  clock.advance(seconds(1));
  ASSERT_EQ(getReady(queue), "a");
  queue.done("a");
  // A delayed key waits from the time it became ready.
  queue.addAfter("b", seconds(10));
  clock.advance(seconds(15));
  ASSERT_EQ(getReady(queue), "b");
  clock.advance(milliseconds(250));
  queue.done("b");

  EXPECT_EQ(observer.waited(), (Timings{{"a", seconds(2)}, {"a", seconds(4)}, {"b", seconds(5)}}));
  EXPECT_EQ(observer.processed(),
            (Timings{{"a", seconds(3)}, {"a", seconds(0)}, {"b", milliseconds(250)}}));
}

}  // namespace
}  // namespace sessionstore::workqueue
