// The poller on a fake clock: each key on its own schedule, never two polls of one key at once,
// untrack and stop.
#include "poller/poller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

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
  std::this_thread::sleep_for(20ms);
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
  clock.advance(60s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(polls, 1);
}

}  // namespace
}  // namespace sessionstore::poller
