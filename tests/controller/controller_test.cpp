// The controller without a server: informer events become keys, the reconciler's outcomes
// become requeues, and every reconcile shows in the metrics under controller-runtime's names.
#include "controller/controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "metrics/registry.h"

namespace sessionstore::controller {
namespace {

struct Calls {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> keys;

  void add(const std::string& key) {
    std::lock_guard lock(mu);
    keys.push_back(key);
    cv.notify_all();
  }
  bool waitFor(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return keys.size() >= n; });
  }
};

informer::Json object(const std::string& ns, const std::string& name) {
  return {{"metadata", {{"namespace", ns}, {"name", name}}}};
}

TEST(Controller, InformerEventsEnqueueTheObjectsKey) {
  Calls calls;
  metrics::Registry registry;
  metrics::OperatorMetrics m(registry);
  Controller c(
      {.name = "sessionstore", .workers = 1},
      [&](const std::string& key) {
        calls.add(key);
        return Outcome::success();
      },
      clock::systemClock(), &m);
  const auto handlers = c.enqueueFor(Controller::ownKey);
  handlers.onAdd(object("shop", "web"));
  handlers.onUpdate(object("shop", "web"), object("shop", "web"));  // deduplicated while waiting
  handlers.onDelete(object("shop", "api"));
  c.start();
  ASSERT_TRUE(calls.waitFor(2));
  c.stop();
  EXPECT_EQ(calls.keys, (std::vector<std::string>{"shop/web", "shop/api"}));
  const auto text = registry.render();
  EXPECT_NE(
      text.find(
          R"(controller_runtime_reconcile_total{controller="sessionstore",result="success"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(workqueue_adds_total{name="sessionstore"} 2)"), std::string::npos) << text;
  EXPECT_NE(
      text.find(R"(controller_runtime_reconcile_time_seconds_count{controller="sessionstore"} 2)"),
      std::string::npos)
      << text;
}

TEST(Controller, AnUpdateThatEchoesTheOperatorsOwnWriteIsLeftOut) {
  Calls calls;
  Controller c({.name = "sessionstore", .workers = 1}, [&](const std::string& key) {
    calls.add(key);
    return Outcome::success();
  });
  const auto at = [](const std::string& name, const std::string& version) {
    informer::Json o = object("shop", name);
    o["metadata"]["resourceVersion"] = version;
    return o;
  };
  std::vector<std::string> asked;
  const auto handlers = c.enqueueFor(Controller::ownKey, [&](const informer::Json& o) {
    asked.push_back(o["metadata"]["resourceVersion"]);
    return o["metadata"]["resourceVersion"] == "7";
  });
  handlers.onUpdate(at("web", "6"), at("web", "7"));  // the echo: left out
  handlers.onAdd(at("api", "7"));                     // adds are never echoes
  handlers.onUpdate(at("db", "7"), at("db", "8"));    // someone else's change
  c.start();
  ASSERT_TRUE(calls.waitFor(2));
  c.stop();
  EXPECT_EQ(calls.keys, (std::vector<std::string>{"shop/api", "shop/db"}));
  EXPECT_EQ(asked, (std::vector<std::string>{"7", "8"})) << "asked about updates only";
  EXPECT_EQ(c.stats().addsTotal, 2u);
}

TEST(Controller, AFailingOrThrowingReconcileIsRetriedAndCounted) {
  Calls calls;
  std::atomic<int> attempts{0};
  metrics::Registry registry;
  metrics::OperatorMetrics m(registry);
  Controller c(
      {.name = "sessionstore", .workers = 1, .baseDelay = std::chrono::milliseconds(1)},
      [&](const std::string& key) {
        const int n = ++attempts;
        calls.add(key);
        if (n == 1) return Outcome::retry();
        if (n == 2) throw std::runtime_error("a bug");
        return Outcome::success();
      },
      clock::systemClock(), &m);
  c.enqueue("shop/web");
  c.start();
  ASSERT_TRUE(calls.waitFor(3));
  c.stop();
  const auto text = registry.render();
  EXPECT_NE(text.find(R"(controller_runtime_reconcile_errors_total{controller="sessionstore"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(controller_runtime_reconcile_total{controller="sessionstore",result="error"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(workqueue_retries_total{name="sessionstore"} 2)"), std::string::npos)
      << text;
}

TEST(Controller, ObjectsWithoutANameGiveNoKey) {
  EXPECT_TRUE(Controller::ownKey(informer::Json::object()).empty());
  EXPECT_EQ(Controller::ownKey(object("a", "b")), std::vector<std::string>{"a/b"});
}

}  // namespace
}  // namespace sessionstore::controller
