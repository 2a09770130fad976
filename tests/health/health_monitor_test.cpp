// The health monitor on a fake clock with scripted links: a change of health is told at the next
// probe of its schedule, check() answers from the last probe (or probes when it must), other
// endpoints get another connection, forget closes, stop silences, many stores share few threads.
#include "health/health_monitor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "api/conditions.h"
#include "mocks/clock/fake_clock.h"
#include "support/eventually.h"

namespace sessionstore::health {
namespace {

using namespace std::chrono_literals;
using sessionstore::testing::eventually;

// The world the scripted links see: which hosts answer, and what was done to them.
struct Script {
  std::mutex mu;
  std::set<std::string> down;              // hosts that do not answer
  std::map<std::string, int> pings;        // by host
  std::map<std::string, int> figureReads;  // by host
  std::vector<std::string> linksOpened;    // "host password" of each link made
  int linksClosed = 0;
  std::set<std::thread::id> probingThreads;

  void setDown(const std::string& host, bool isDown) {
    std::lock_guard lock(mu);
    if (isDown) {
      down.insert(host);
    } else {
      down.erase(host);
    }
  }
  int pingsOf(const std::string& host) {
    std::lock_guard lock(mu);
    return pings[host];
  }
  int figuresOf(const std::string& host) {
    std::lock_guard lock(mu);
    return figureReads[host];
  }
  int closed() {
    std::lock_guard lock(mu);
    return linksClosed;
  }
};

class ScriptedLink final : public StoreLink {
 public:
  ScriptedLink(Script& script, wiring::StoreEndpoint app) : script_(script), app_(std::move(app)) {
    std::lock_guard lock(script_.mu);
    script_.linksOpened.push_back(app_.host + " " + app_.password);
  }
  ~ScriptedLink() override {
    std::lock_guard lock(script_.mu);
    ++script_.linksClosed;
  }
  ProbeResult ping() override {
    std::lock_guard lock(script_.mu);
    ++script_.pings[app_.host];
    script_.probingThreads.insert(std::this_thread::get_id());
    if (script_.down.contains(app_.host)) {
      return {.ok = false,
              .reason = std::string(api::kReasonStoreUnreachable),
              .message = app_.host + ": connection refused"};
    }
    return {.ok = true, .reason = std::string(api::kReasonStoreAvailable), .message = "answers"};
  }
  StoreFigures figures() override {
    std::lock_guard lock(script_.mu);
    const int n = ++script_.figureReads[app_.host];
    return {.connectedClients = n, .usedMemoryBytes = 1000 * n, .maxClients = 100};
  }
  bool connected() const override { return true; }

 private:
  Script& script_;
  const wiring::StoreEndpoint app_;
};

class HealthMonitorTest : public ::testing::Test {
 protected:
  std::unique_ptr<HealthMonitor> make(std::size_t threads = 1) {
    HealthMonitorOptions options;
    options.threads = threads;
    return std::make_unique<HealthMonitor>(
        [this](const wiring::StoreEndpoint& app, const std::optional<wiring::StoreEndpoint>&) {
          return std::make_unique<ScriptedLink>(script_, app);
        },
        [this](const std::string& key) {
          std::lock_guard lock(changesMu_);
          changes_.push_back(key);
        },
        clock_, options);
  }
  std::vector<std::string> changes() {
    std::lock_guard lock(changesMu_);
    return changes_;
  }
  // With one probing thread: waits until `host` has been pinged `n` times and the thread waits
  // for the next due time again (so the next probe is scheduled from the time of this one).
  bool probed(const std::string& host, int n) {
    return eventually([&] { return script_.pingsOf(host) == n && clock_.waiters() >= 1; }, 5s, 1ms);
  }
  static wiring::StoreEndpoint endpoint(const std::string& host,
                                        const std::string& password = "pw") {
    return {.host = host, .port = 6379, .username = "app", .password = password};
  }

  clock::FakeClock clock_;
  Script script_;
  std::mutex changesMu_;
  std::vector<std::string> changes_;  // GUARDED_BY(changesMu_)
};

TEST_F(HealthMonitorTest, TheFirstCheckProbesAndLaterChecksAnswerFromTheLastProbe) {
  auto monitor = make();
  const auto first = monitor->check("shop/web", endpoint("web"), std::nullopt);
  EXPECT_TRUE(first.ok);
  EXPECT_EQ(first.connectedClients, 1);
  EXPECT_EQ(script_.pingsOf("web"), 1);
  const auto second = monitor->check("shop/web", endpoint("web"), std::nullopt);
  EXPECT_TRUE(second.ok);
  EXPECT_EQ(script_.pingsOf("web"), 1);
  EXPECT_EQ(monitor->watching(), 1u);
}

TEST_F(HealthMonitorTest, AHealthyStoreThatStopsAnsweringIsToldAtItsNextProbe) {
  auto monitor = make();
  monitor->start();
  ASSERT_TRUE(monitor->check("shop/web", endpoint("web"), std::nullopt).ok);
  script_.setDown("web", true);
  clock_.advance(2s);  // the healthy interval
  ASSERT_TRUE(eventually([&] { return !changes().empty(); }, 5s, 1ms));
  EXPECT_EQ(changes(), std::vector<std::string>{"shop/web"});
  EXPECT_EQ(script_.pingsOf("web"), 2);
  const auto now = monitor->check("shop/web", endpoint("web"), std::nullopt);
  EXPECT_FALSE(now.ok);
  EXPECT_EQ(now.reason, api::kReasonStoreUnreachable);
  EXPECT_FALSE(now.connectedClients);
  EXPECT_EQ(script_.pingsOf("web"), 2);  // answered from the probe that saw it
}

TEST_F(HealthMonitorTest, AStoreAnsweringAgainIsToldAtTheFasterInterval) {
  auto monitor = make();
  script_.setDown("web", true);
  monitor->start();
  ASSERT_FALSE(monitor->check("shop/web", endpoint("web"), std::nullopt).ok);
  // Still down: probed every 500 ms, nothing told.
  clock_.advance(500ms);
  ASSERT_TRUE(probed("web", 2));
  script_.setDown("web", false);
  clock_.advance(500ms);
  ASSERT_TRUE(eventually([&] { return !changes().empty(); }, 5s, 1ms));
  EXPECT_EQ(changes(), std::vector<std::string>{"shop/web"});
  EXPECT_EQ(script_.pingsOf("web"), 3);
  EXPECT_TRUE(monitor->check("shop/web", endpoint("web"), std::nullopt).ok);
}

TEST_F(HealthMonitorTest, AStoreDownLongIsProbedLessOftenButAtLeastEverySecond) {
  auto monitor = make(1);
  script_.setDown("web", true);
  ASSERT_FALSE(monitor->check("shop/web", endpoint("web"), std::nullopt).ok);
  monitor->start();
  int pings = 1;
  // Five minutes down at 500 ms, one probe per step.
  for (int i = 0; i < 600; ++i) {
    clock_.advance(500ms);
    ASSERT_TRUE(probed("web", pings + 1)) << i;
    ++pings;
  }
  // Now every second. The marker that half a second is not enough: "shop/zz", down and so due
  // in half a second, and after "shop/web" in the only thread's order at equal times, is probed
  // while "shop/web" is not.
  script_.setDown("zz", true);
  ASSERT_FALSE(monitor->check("shop/zz", endpoint("zz"), std::nullopt).ok);
  clock_.advance(500ms);
  ASSERT_TRUE(eventually([&] { return script_.pingsOf("zz") == 2; }, 5s, 1ms));
  EXPECT_EQ(script_.pingsOf("web"), pings);
  clock_.advance(500ms);
  ASSERT_TRUE(eventually([&] { return script_.pingsOf("web") == pings + 1; }, 5s, 1ms));
  EXPECT_TRUE(changes().empty());
}

TEST_F(HealthMonitorTest, ACheckFindingAnOldUnhealthyAnswerProbesNow) {
  auto monitor = make();  // not started: only check() probes
  script_.setDown("web", true);
  ASSERT_FALSE(monitor->check("shop/web", endpoint("web"), std::nullopt).ok);
  script_.setDown("web", false);
  // Fresh: answered from the last probe.
  EXPECT_FALSE(monitor->check("shop/web", endpoint("web"), std::nullopt).ok);
  EXPECT_EQ(script_.pingsOf("web"), 1);
  clock_.advance(500ms);
  const auto now = monitor->check("shop/web", endpoint("web"), std::nullopt);
  EXPECT_TRUE(now.ok);
  EXPECT_EQ(now.connectedClients, 1);
  EXPECT_EQ(script_.pingsOf("web"), 2);
  EXPECT_TRUE(changes().empty());  // the caller has the change
}

TEST_F(HealthMonitorTest, OtherEndpointsProbeAtOnceOnANewConnectionAndCloseTheOld) {
  auto monitor = make();
  ASSERT_TRUE(monitor->check("shop/web", endpoint("web", "old"), std::nullopt).ok);
  ASSERT_TRUE(monitor->check("shop/web", endpoint("web", "new"), std::nullopt).ok);
  EXPECT_EQ(script_.pingsOf("web"), 2);
  EXPECT_EQ(script_.closed(), 1);
  {
    std::lock_guard lock(script_.mu);
    EXPECT_EQ(script_.linksOpened, (std::vector<std::string>{"web old", "web new"}));
  }
  script_.setDown("other", true);
  EXPECT_FALSE(monitor->check("shop/web", endpoint("other", "new"), std::nullopt).ok);
  EXPECT_EQ(script_.closed(), 2);
  EXPECT_EQ(monitor->watching(), 1u);
}

TEST_F(HealthMonitorTest, TheFiguresAreReadForAPassOnceTheyAreOldNotAtRest) {
  auto monitor = make(1);
  ASSERT_EQ(monitor->check("shop/web", endpoint("web"), std::nullopt).connectedClients, 1);
  monitor->start();
  for (int i = 1; i <= 15; ++i) {  // 30 s at the healthy interval, no pass
    clock_.advance(2s);
    ASSERT_TRUE(probed("web", 1 + i)) << i;
  }
  EXPECT_EQ(script_.figuresOf("web"), 1);
  // A pass now: the figures are 30 s old, so read again (with a PING), and not again after.
  EXPECT_EQ(monitor->check("shop/web", endpoint("web"), std::nullopt).connectedClients, 2);
  EXPECT_EQ(monitor->check("shop/web", endpoint("web"), std::nullopt).connectedClients, 2);
  EXPECT_EQ(script_.figuresOf("web"), 2);
  EXPECT_EQ(script_.pingsOf("web"), 17);
  EXPECT_TRUE(changes().empty());
}

TEST_F(HealthMonitorTest, ForgetStopsProbingAndClosesTheConnection) {
  auto monitor = make(1);
  ASSERT_TRUE(monitor->check("shop/a", endpoint("a"), std::nullopt).ok);
  ASSERT_TRUE(monitor->check("shop/b", endpoint("b"), std::nullopt).ok);
  monitor->forget("shop/a");
  EXPECT_EQ(script_.closed(), 1);
  EXPECT_EQ(monitor->watching(), 1u);
  monitor->start();
  clock_.advance(2s);
  // The marker: "shop/b", due with "shop/a" and after it in the only thread's order, is probed.
  ASSERT_TRUE(eventually([&] { return script_.pingsOf("b") == 2; }, 5s, 1ms));
  EXPECT_EQ(script_.pingsOf("a"), 1);
}

TEST_F(HealthMonitorTest, NothingIsProbedOrToldAfterStop) {
  auto monitor = make(1);
  ASSERT_TRUE(monitor->check("shop/web", endpoint("web"), std::nullopt).ok);
  monitor->start();
  script_.setDown("web", true);
  clock_.advance(2s);
  ASSERT_TRUE(eventually([&] { return changes().size() == 1; }, 5s, 1ms));
  monitor->stop();  // its threads are joined when it returns: nothing can run after
  const int pings = script_.pingsOf("web");
  script_.setDown("web", false);
  clock_.advance(10s);
  EXPECT_EQ(script_.pingsOf("web"), pings);
  EXPECT_EQ(changes().size(), 1u);
}

TEST_F(HealthMonitorTest, OnChangeMayCallBackIntoTheMonitor) {
  std::unique_ptr<HealthMonitor> monitor;
  std::atomic<bool> reentered{false};
  HealthMonitorOptions options;
  options.threads = 1;
  monitor = std::make_unique<HealthMonitor>(
      [this](const wiring::StoreEndpoint& app, const std::optional<wiring::StoreEndpoint>&) {
        return std::make_unique<ScriptedLink>(script_, app);
      },
      [&](const std::string& key) {
        monitor->check(key, endpoint("web"), std::nullopt);  // as a pass would, at once
        reentered = true;
      },
      clock_, options);
  ASSERT_TRUE(monitor->check("shop/web", endpoint("web"), std::nullopt).ok);
  monitor->start();
  script_.setDown("web", true);
  clock_.advance(2s);
  ASSERT_TRUE(eventually([&] { return reentered.load(); }, 5s, 1ms));
  monitor->stop();
}

TEST_F(HealthMonitorTest, ManyStoresShareAFewThreads) {
  constexpr int kStores = 300;
  auto monitor = make(2);
  for (int i = 0; i < kStores; ++i) {
    const std::string host = "s" + std::to_string(i);
    ASSERT_TRUE(monitor->check("shop/" + host, endpoint(host), std::nullopt).ok);
  }
  {
    std::lock_guard lock(script_.mu);
    script_.probingThreads.clear();  // the checks ran on this thread
  }
  monitor->start();
  for (int i = 0; i < kStores; ++i) script_.setDown("s" + std::to_string(i), true);
  clock_.advance(2s);
  ASSERT_TRUE(eventually([&] { return changes().size() == kStores; }, 10s, 1ms))
      << changes().size();
  auto told = changes();
  std::sort(told.begin(), told.end());
  EXPECT_EQ(std::unique(told.begin(), told.end()), told.end());
  std::lock_guard lock(script_.mu);
  EXPECT_LE(script_.probingThreads.size(), 2u);
}

}  // namespace
}  // namespace sessionstore::health
