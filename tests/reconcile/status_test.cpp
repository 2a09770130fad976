// The status a reconcile writes: phase rules, Ready from the other conditions, and
// lastTransitionTime kept while a condition's status stays, so an unchanged world gives an
// identical status (and no write).
#include "reconcile/status.h"

#include <gtest/gtest.h>

#include "clock/time_format.h"

namespace sessionstore::reconcile {
namespace {

using namespace std::chrono_literals;

const clock::SystemTime kT0 = clock::SystemTime{} + 1'800'000'000s;

Observation allGood() {
  return {.generation = 3,
          .storeReady = true,
          .wired = true,
          .conditions = {{"StoreReady", true, "StoreAvailable", "answers"},
                         {"ConnectionWired", true, "Wired", "wired"},
                         {"AffinityApplied", true, "None", "no affinity"}},
          .endpoint = "web-redis.shop.svc:6379",
          .connectedClients = 12,
          .replicas = 2,
          .workers = 5};
}

TEST(BuildStatus, ReadyWhenEveryConditionIsTrue) {
  const Json status = buildStatus(allGood(), Json::object(), kT0);
  EXPECT_EQ(status["phase"], "Ready");
  EXPECT_EQ(status["observedGeneration"], 3);
  ASSERT_EQ(status["conditions"].size(), 4u);
  const Json& ready = status["conditions"][3];
  EXPECT_EQ(ready["type"], "Ready");
  EXPECT_EQ(ready["status"], "True");
  EXPECT_EQ(ready["observedGeneration"], 3);
  EXPECT_EQ(ready["lastTransitionTime"], clock::formatTime(kT0));
  EXPECT_EQ(status["store"], (Json{{"endpoint", "web-redis.shop.svc:6379"}, {"ready", true},
                                   {"connectedClients", 12}}));
  EXPECT_EQ(status["target"], (Json{{"replicas", 2}, {"workers", 5}}));
}

TEST(BuildStatus, KeepsTransitionTimesWhileNothingChangesSoTheStatusIsIdentical) {
  const Json first = buildStatus(allGood(), Json::object(), kT0);
  const Json again = buildStatus(allGood(), first, kT0 + 30s);
  EXPECT_EQ(again, first);

  Observation down = allGood();
  down.storeReady = false;
  down.conditions[0] = {"StoreReady", false, "StoreUnreachable", "connection refused"};
  const Json degraded = buildStatus(down, first, kT0 + 60s);
  EXPECT_EQ(degraded["phase"], "Degraded");
  EXPECT_EQ(degraded["conditions"][0]["lastTransitionTime"], clock::formatTime(kT0 + 60s));
  EXPECT_EQ(degraded["conditions"][1]["lastTransitionTime"], clock::formatTime(kT0));
  EXPECT_EQ(degraded["conditions"][3]["status"], "False");
  EXPECT_EQ(degraded["conditions"][3]["reason"], "NotReady");
  EXPECT_EQ(degraded["conditions"][3]["message"],
            "StoreReady is False (StoreUnreachable): connection refused");
}

TEST(WaitInterval, DoublesFromTheBaseUpToTheCap) {
  using std::chrono::seconds;
  std::vector<long> waits;
  for (int streak = 0; streak < 7; ++streak) {
    waits.push_back(std::chrono::duration_cast<seconds>(waitInterval(seconds(3), seconds(30), streak)).count());
  }
  EXPECT_EQ(waits, (std::vector<long>{3, 6, 12, 24, 30, 30, 30}));
  EXPECT_EQ(waitInterval(seconds(3), seconds(30), 1000000), seconds(30)) << "no overflow";
  EXPECT_EQ(waitInterval(seconds(40), seconds(30), 0), seconds(30)) << "never above the cap";
}

TEST(PhaseOf, FollowsTheRulesInOrder) {
  Observation o = allGood();
  EXPECT_EQ(phaseOf(o, Json::object()), "Ready");
  o.invalidSpec = true;
  EXPECT_EQ(phaseOf(o, Json::object()), "Failed");
  o = allGood();
  o.storeReady = false;
  o.wired = false;
  o.conditions[0].ok = false;
  EXPECT_EQ(phaseOf(o, Json::object()), "Provisioning");
  EXPECT_EQ(phaseOf(o, Json{{"phase", "Ready"}}), "Degraded");
  o.targetMissing = true;
  EXPECT_EQ(phaseOf(o, Json::object()), "Pending");
  // Wired to a store that answers, with another condition false (ReplicasAboveBound): Degraded.
  o = allGood();
  o.conditions[0].ok = false;
  EXPECT_EQ(phaseOf(o, Json::object()), "Degraded");
}

TEST(BuildStatus, AnInvalidSpecIsOneReadyConditionWithTheProblem) {
  const Observation o{.generation = 2,
                      .invalidSpec = true,
                      .conditions = {{"Ready", false, "InvalidSpec",
                                      "spec.workers.perCPU: must be a number"}}};
  const Json status = buildStatus(o, Json::object(), kT0);
  EXPECT_EQ(status["phase"], "Failed");
  ASSERT_EQ(status["conditions"].size(), 1u);
  EXPECT_EQ(status["conditions"][0]["reason"], "InvalidSpec");
  EXPECT_EQ(status["conditions"][0]["message"], "spec.workers.perCPU: must be a number");
  EXPECT_FALSE(status.contains("store"));
}

TEST(BuildStatus, CutsAHugeMessageOnACharacterBoundarySoTheStatusCanBeWritten) {
  Observation down = allGood();
  down.storeReady = false;
  std::string huge = "connect to ";
  for (int i = 0; i < 100000; ++i) huge += "\xc3\xa9";  // é, two bytes each
  down.conditions[0] = {"StoreReady", false, "StoreUnreachable", huge};
  const Json status = buildStatus(down, Json::object(), kT0);
  for (const auto& condition : status["conditions"]) {
    const std::string message = condition["message"];
    EXPECT_LE(message.size(), 4096u + 3u) << condition["type"];
  }
  const std::string message = status["conditions"][0]["message"];
  EXPECT_TRUE(message.starts_with("connect to \xc3\xa9"));
  EXPECT_TRUE(message.ends_with("\xc3\xa9..."));  // no half character before the ellipsis
  EXPECT_NO_THROW((void)status.dump());              // nlohmann throws on broken UTF-8
}

}  // namespace
}  // namespace sessionstore::reconcile
