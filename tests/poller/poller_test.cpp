// The poller on a fake clock: each key on its own schedule, never two polls of one key at once,
// untrack and stop.
#include "poller/poller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "mocks/clock/fake_clock.h"
#include "support/eventually.h"

namespace sessionstore::poller {
namespace {

using namespace std::chrono_literals;
using sessionstore::testing::eventually;

TEST(Poller, PollsEachKeyOnItsOwnSchedule) {
  clock::FakeClock clock;
  std::mutex mu;
  std::map<std::string, int> polls;
  Poller poller(
      [&](const std::string& key) -> std::optional<clock::Duration> {
        std::lock_guard lock(mu);
        ++polls[key];
        return key == "fast" ? clock::Duration(5s) : clock::Duration(15s);
      },
      2, clock);
  poller.start();
  poller.track("fast");
  poller.track("slow");
  const auto count = [&](const std::string& key) {
    std::lock_guard lock(mu);
    return polls[key];
  };
  ASSERT_TRUE(eventually([&] { return count("fast") == 1 && count("slow") == 1; }, 5s, 1ms));
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(eventually([&] { return clock.waiters() >= 2; }, 5s, 1ms));
    clock.advance(5s);
    ASSERT_TRUE(eventually([&] { return count("fast") == 2 + i; }, 5s, 1ms)) << i;
  }
  // 30 s passed: fast polled 1 + 6 times, slow 1 + 2 times.
  ASSERT_TRUE(eventually([&] { return count("slow") == 3; }, 5s, 1ms)) << count("slow");
  poller.track("fast", 0s);  // already scheduled: the schedule is kept
  poller.stop();
  EXPECT_EQ(count("fast"), 7);
}

TEST(Poller, NeverPollsAKeyTwiceAtOnceAndStopsOnRequest) {
  clock::FakeClock clock;
  std::atomic<int> running{0}, most{0}, polls{0};
  std::atomic<bool> release{false};
  Poller poller(
      [&](const std::string&) -> std::optional<clock::Duration> {
        const int now = ++running;
        most = std::max(most.load(), now);
        ++polls;
        while (!release) std::this_thread::sleep_for(1ms);
        --running;
        return polls < 3 ? std::optional<clock::Duration>(0s) : std::nullopt;
      },
      4, clock);
  poller.start();
  poller.track("a");
  ASSERT_TRUE(eventually([&] { return polls == 1; }, 5s, 1ms));
  poller.track("a");  // running: not scheduled a second time
  EXPECT_EQ(poller.size(), 1u);
  EXPECT_EQ(polls, 1);
  release = true;
  ASSERT_TRUE(eventually([&] { return polls == 3 && !poller.tracking("a"); }, 5s, 1ms));
  EXPECT_EQ(most, 1);
  poller.stop();
}

TEST(Poller, UntrackStopsFurtherPolls) {
  clock::FakeClock clock;
  std::atomic<int> polls{0};
  Poller poller(
      [&](const std::string&) -> std::optional<clock::Duration> {
        ++polls;
        return clock::Duration(10s);
      },
      1, clock);
  poller.start();
  poller.track("a");
  ASSERT_TRUE(eventually([&] { return polls == 1; }, 5s, 1ms));
  poller.untrack("a");
  EXPECT_FALSE(poller.tracking("a"));
  EXPECT_EQ(poller.size(), 0u);
  // The marker: "b", due after the time "a" was due, is polled by the only thread; had "a" still
  // been scheduled, it would have been polled before "b".
  poller.track("b", 30s);
  ASSERT_TRUE(eventually([&] { return clock.waiters() >= 1; }, 5s, 1ms));
  clock.advance(60s);
  ASSERT_TRUE(eventually([&] { return polls == 2; }, 5s, 1ms));
  poller.stop();
  EXPECT_EQ(polls, 2);
}

TEST(Poller, ManyKeysOnFewThreadsEachInItsTurn) {
  clock::FakeClock clock;
  std::mutex mu;
  std::vector<std::string> order;
  Poller poller(
      [&](const std::string& key) -> std::optional<clock::Duration> {
        std::lock_guard lock(mu);
        order.push_back(key);
        return std::nullopt;
      },
      1, clock);
  // Scheduled out of order, due in order of their delay.
  for (int i : {5, 1, 4, 2, 3}) poller.track("k" + std::to_string(i), std::chrono::seconds(i));
  EXPECT_EQ(poller.size(), 5u);
  poller.start();
  ASSERT_TRUE(eventually([&] { return clock.waiters() >= 1; }, 5s, 1ms));
  clock.advance(10s);
  ASSERT_TRUE(eventually([&] { return poller.size() == 0; }, 5s, 1ms));
  poller.stop();
  EXPECT_EQ(order, (std::vector<std::string>{"k1", "k2", "k3", "k4", "k5"}));
}

TEST(Poller, KeysDueWithinTheEarlyWindowArePolledOnOneWakeUp) {
  clock::FakeClock clock;
  std::mutex mu;
  std::vector<std::string> order;
  Poller poller(
      [&](const std::string& key) -> std::optional<clock::Duration> {
        std::lock_guard lock(mu);
        order.push_back(key);
        return std::nullopt;
      },
      1, clock, {.early = 10ms});
  poller.track("a", 1s);
  poller.track("b", 1s + 5ms);   // within 10 ms of "a": polled with it
  poller.track("c", 1s + 50ms);  // not
  poller.start();
  ASSERT_TRUE(eventually([&] { return clock.waiters() >= 1; }, 5s, 1ms));
  clock.advance(1s);
  ASSERT_TRUE(eventually([&] { return poller.size() == 1; }, 5s, 1ms));
  EXPECT_TRUE(poller.tracking("c"));
  poller.stop();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b"}));
}

TEST(Poller, AKeyDueNowDoesNotWaitForAnotherKeysSlowPoll) {
  clock::FakeClock clock;
  std::atomic<bool> release{false};
  std::atomic<int> fastPolls{0};
  Poller poller(
      [&](const std::string& key) -> std::optional<clock::Duration> {
        if (key == "slow") {
          while (!release) std::this_thread::sleep_for(1ms);
        } else {
          ++fastPolls;
        }
        return std::nullopt;
      },
      2, clock);
  poller.start();
  poller.track("slow");
  poller.track("fast");
  ASSERT_TRUE(eventually([&] { return fastPolls == 1; }, 5s, 1ms));
  release = true;
  poller.stop();
}

}  // namespace
}  // namespace sessionstore::poller
