#include "workqueue/runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mocks/clock/fake_clock.h"
#include "workqueue/spin_until.h"

namespace sessionstore::workqueue {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// A handler's script: what it returns on each call for a key, and what it saw.
class ScriptedHandler {
 public:
  explicit ScriptedHandler(std::vector<Outcome> script) : script_(std::move(script)) {}

  Outcome operator()(const std::string& key) {
    std::lock_guard lock(mu_);
    const std::size_t call = calls_[key]++;
    if (call < script_.size()) return script_[call];
    return Outcome::success();
  }
  int calls(const std::string& key) {
    std::lock_guard lock(mu_);
    return static_cast<int>(calls_[key]);
  }

 private:
  std::vector<Outcome> script_;
  std::mutex mu_;
  std::map<std::string, std::size_t> calls_;  // GUARDED_BY(mu_)
};

class RunnerTest : public ::testing::Test {
 protected:
  // The worker has finished with the key: it is neither queued nor being processed.
  bool idle() {
    const QueueStats stats = queue_.stats();
    return stats.processing == 0 && stats.depth == 0;
  }

  clock::FakeClock clock_;
  Queue queue_{clock_};
};

TEST_F(RunnerTest, RetryBacksOffAndSuccessForgets) {
  ScriptedHandler handler({Outcome::retry(), Outcome::retry(), Outcome::success()});
  Runner runner(
      queue_, [&](const std::string& key) { return handler(key); }, 2);
  queue_.add("ns/web");
  runner.start();

  ASSERT_TRUE(spinUntil([&] { return handler.calls("ns/web") == 1 && idle(); }));
  EXPECT_EQ(queue_.numRequeues("ns/web"), 1u);
  EXPECT_EQ(queue_.stats().delayed, 1u);
  clock_.advance(milliseconds(5) - nanoseconds(1));
  EXPECT_EQ(queue_.stats().delayed, 1u);  // not due yet
  clock_.advance(nanoseconds(1));

  ASSERT_TRUE(spinUntil([&] { return handler.calls("ns/web") == 2 && idle(); }));
  EXPECT_EQ(queue_.numRequeues("ns/web"), 2u);
  clock_.advance(milliseconds(10) - nanoseconds(1));
  EXPECT_EQ(queue_.stats().delayed, 1u);
  clock_.advance(nanoseconds(1));

  ASSERT_TRUE(spinUntil([&] { return handler.calls("ns/web") == 3 && idle(); }));
  EXPECT_EQ(queue_.numRequeues("ns/web"), 0u);  // success forgot the failures
  EXPECT_EQ(queue_.stats().delayed, 0u);
  runner.stop();
  EXPECT_EQ(handler.calls("ns/web"), 3);
}

// A server's Retry-After (429) holds the retry back past a shorter backoff, and the backoff
// still grows underneath, as client-go's workqueue does for a controller honouring it.
TEST_F(RunnerTest, RetryNoSoonerThanWaitsForRetryAfterAndKeepsTheBackoff) {
  ScriptedHandler handler({Outcome::retryNoSoonerThan(seconds(1)), Outcome::retry()});
  Runner runner(
      queue_, [&](const std::string& key) { return handler(key); }, 1);
  queue_.add("k");
  runner.start();

  ASSERT_TRUE(spinUntil([&] { return handler.calls("k") == 1 && idle(); }));
  clock_.advance(milliseconds(5));  // the backoff alone would be due now
  EXPECT_EQ(queue_.stats().delayed, 1u);
  clock_.advance(seconds(1) - milliseconds(5) - nanoseconds(1));
  EXPECT_EQ(queue_.stats().delayed, 1u);
  clock_.advance(nanoseconds(1));
  ASSERT_TRUE(spinUntil([&] { return handler.calls("k") == 2 && idle(); }));
  EXPECT_EQ(queue_.numRequeues("k"), 2u);
  clock_.advance(milliseconds(10) - nanoseconds(1));  // second failure: 10 ms
  EXPECT_EQ(queue_.stats().delayed, 1u);
  clock_.advance(nanoseconds(1));
  ASSERT_TRUE(spinUntil([&] { return handler.calls("k") == 3 && idle(); }));
}

TEST_F(RunnerTest, RequeueAfterForgetsBackoffAndWaitsTheDuration) {
  ScriptedHandler handler({Outcome::retry(), Outcome::requeueAfter(seconds(30))});
  Runner runner(
      queue_, [&](const std::string& key) { return handler(key); }, 1);
  queue_.add("k");
  runner.start();

  ASSERT_TRUE(spinUntil([&] { return handler.calls("k") == 1 && idle(); }));
  EXPECT_EQ(queue_.numRequeues("k"), 1u);
  clock_.advance(milliseconds(5));
  ASSERT_TRUE(spinUntil([&] { return handler.calls("k") == 2 && idle(); }));
  EXPECT_EQ(queue_.numRequeues("k"), 0u);
  clock_.advance(seconds(30) - nanoseconds(1));
  EXPECT_EQ(queue_.stats().delayed, 1u);
  clock_.advance(nanoseconds(1));
  ASSERT_TRUE(spinUntil([&] { return handler.calls("k") == 3 && idle(); }));
  EXPECT_EQ(queue_.stats().delayed, 0u);
}

TEST_F(RunnerTest, HandlerExceptionCountsAsRetry) {
  std::atomic<int> calls = 0;
  Runner runner(
      queue_,
      [&](const std::string&) -> Outcome {
        if (++calls == 1) throw std::runtime_error("bug in a reconciler");
        return Outcome::success();
      },
      1);
  queue_.add("k");
  runner.start();
  ASSERT_TRUE(spinUntil([&] { return calls == 1 && idle(); }));
  EXPECT_EQ(queue_.numRequeues("k"), 1u);
  clock_.advance(milliseconds(5));
  ASSERT_TRUE(spinUntil([&] { return calls == 2 && idle(); }));
  EXPECT_EQ(queue_.numRequeues("k"), 0u);
}

// Three workers, three keys: each handler waits until all three are inside a handler at once,
// which only happens if the runner really runs three workers in parallel.
TEST_F(RunnerTest, RunsItsWorkersInParallel) {
  constexpr int kWorkers = 3;
  std::mutex mu;
  std::condition_variable allIn;
  int inside = 0;
  int sawAll = 0;
  Runner runner(
      queue_,
      [&](const std::string&) {
        std::unique_lock lock(mu);
        if (++inside == kWorkers) allIn.notify_all();
        // The real-time bound only keeps a broken runner from hanging the test.
        if (allIn.wait_for(lock, seconds(20), [&] { return inside >= kWorkers; })) ++sawAll;
        return Outcome::success();
      },
      kWorkers);
  for (int i = 0; i < kWorkers; ++i) queue_.add("key-" + std::to_string(i));
  runner.start();
  runner.stop();  // waits for the handlers
  EXPECT_EQ(sawAll, kWorkers);
}

TEST_F(RunnerTest, ManyKeysAreEachHandledOnceAndNeverConcurrently) {
  std::mutex mu;
  std::set<std::string> active;     // GUARDED_BY(mu)
  std::map<std::string, int> seen;  // GUARDED_BY(mu)
  int overlaps = 0;                 // GUARDED_BY(mu)
  Runner runner(
      queue_,
      [&](const std::string& key) {
        {
          std::lock_guard lock(mu);
          if (!active.insert(key).second) ++overlaps;
          ++seen[key];
        }
        std::this_thread::yield();
        std::lock_guard lock(mu);
        active.erase(key);
        return Outcome::success();
      },
      4);
  runner.start();
  for (int i = 0; i < 200; ++i) queue_.add("ns/key-" + std::to_string(i % 50));
  ASSERT_TRUE(spinUntil([&] { return idle(); }));
  runner.stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(overlaps, 0);
  EXPECT_EQ(seen.size(), 50u);
  for (const auto& [key, count] : seen) EXPECT_GE(count, 1) << key;
}

TEST_F(RunnerTest, StopLetsTheKeyInHandFinishThenExits) {
  std::mutex mu;
  std::condition_variable changed;
  bool entered = false;              // GUARDED_BY(mu)
  bool release = false;              // GUARDED_BY(mu)
  bool finished = false;             // GUARDED_BY(mu)
  std::vector<std::string> handled;  // GUARDED_BY(mu)
  Runner runner(
      queue_,
      [&](const std::string& key) {
        std::unique_lock lock(mu);
        handled.push_back(key);
        if (key == "slow") {
          entered = true;
          changed.notify_all();
          changed.wait(lock, [&] { return release; });
          finished = true;
        }
        return Outcome::success();
      },
      1);
  queue_.add("slow");
  queue_.add("queued");
  queue_.addAfter("delayed", seconds(1));
  runner.start();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(changed.wait_for(lock, seconds(20), [&] { return entered; }));
  }
  std::atomic<bool> stopped = false;
  std::thread stopper([&] {
    runner.stop();
    stopped = true;
  });
  JoinOnExit joinStopper(stopper, [&] {
    std::lock_guard lock(mu);
    release = true;
    changed.notify_all();
  });
  ASSERT_TRUE(spinUntil([&] { return queue_.shuttingDown(); }));
  EXPECT_FALSE(stopped.load());  // the handler still holds "slow"
  {
    std::lock_guard lock(mu);
    release = true;
  }
  changed.notify_all();
  ASSERT_TRUE(spinUntil([&] { return stopped.load(); }));
  stopper.join();
  std::lock_guard lock(mu);
  EXPECT_TRUE(finished);
  // The key still queued at shutdown is handed out too; the delayed one is dropped.
  EXPECT_EQ(handled, (std::vector<std::string>{"slow", "queued"}));
  EXPECT_EQ(queue_.get(), std::nullopt);
}

TEST_F(RunnerTest, DestructorStopsTheWorkers) {
  std::atomic<int> calls = 0;
  {
    Runner runner(
        queue_,
        [&](const std::string&) {
          ++calls;
          return Outcome::success();
        },
        2);
    runner.start();
    runner.start();  // no second set of workers
    queue_.add("k");
    ASSERT_TRUE(spinUntil([&] { return calls == 1 && idle(); }));
  }
  EXPECT_TRUE(queue_.shuttingDown());
  EXPECT_EQ(queue_.get(), std::nullopt);
}

TEST_F(RunnerTest, StopWithoutStartLeavesTheQueueAlone) {
  Runner runner(
      queue_, [](const std::string&) { return Outcome::success(); }, 1);
  runner.stop();
  EXPECT_FALSE(queue_.shuttingDown());
}

}  // namespace
}  // namespace sessionstore::workqueue
