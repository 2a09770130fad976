// Memory that follows load (spec.store.managed.memory): decideMemory as a table of readings,
// previous statuses and times, and the store's objects built at a raised level. No client, no
// clock, no Redis.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "clock/time_format.h"
#include "reconcile/decide.h"
#include "reconcile/desired.h"
#include "reconcile/fixtures.h"

namespace sessionstore::reconcile {
namespace {

using namespace testing;  // NOLINT: the fixtures
using namespace std::chrono_literals;

constexpr std::int64_t kMi = std::int64_t{1} << 20;
const clock::SystemTime kNow = clock::SystemTime{} + std::chrono::hours(24 * 365 * 56);

api::SessionStore memoryStore(const std::string& maxMemory = "64Mi",
                              const std::string& ceiling = "1Gi") {
  Json spec = kManagedSpec;
  spec["store"]["managed"] = {
      {"maxMemory", maxMemory},
      {"memory", {{"ceiling", ceiling}, {"targetUtilization", 90}, {"windowSeconds", 60}}}};
  return store(spec);
}

Json statusAt(std::int64_t level, std::optional<clock::SystemTime> aboveSince = std::nullopt) {
  Json memory = {{"maxMemoryBytes", level}};
  if (aboveSince) memory["aboveTargetSince"] = clock::formatTime(*aboveSince);
  return {{"store", {{"memory", memory}}}};
}

health::MemoryReading reading(std::int64_t usedMi, std::int64_t maxMi) {
  return {.usedMemory = usedMi * kMi, .maxMemory = maxMi * kMi};
}

TEST(DecideMemory, BelowTheTargetNothingMoves) {
  const auto d =
      decideMemory(memoryStore(), reading(40, 64), statusAt(64 * kMi), Observed::notRead(), kNow);
  EXPECT_EQ(d.level, 64 * kMi);
  EXPECT_FALSE(d.setLive);
  EXPECT_FALSE(d.raised);
  EXPECT_FALSE(d.status.contains("aboveTargetSince")) << d.status.dump();
  EXPECT_EQ(d.status["maxMemory"], "64Mi");
  EXPECT_EQ(d.status["step"], 0);
  EXPECT_EQ(d.status["usedMemoryBytes"], 40 * kMi);
  EXPECT_FALSE(d.atCeiling.ok);
  EXPECT_EQ(d.atCeiling.reason, "BelowCeiling");
  EXPECT_TRUE(d.events.empty());
  EXPECT_EQ(d.lookAgainIn, 60s);
}

TEST(DecideMemory, AboveTheTargetStartsTheWindowWithoutARaise) {
  // 58Mi is above 90% of 64Mi (57.6Mi).
  const auto d =
      decideMemory(memoryStore(), reading(58, 64), statusAt(64 * kMi), Observed::notRead(), kNow);
  EXPECT_FALSE(d.raised);
  EXPECT_FALSE(d.setLive);
  EXPECT_EQ(d.status["aboveTargetSince"], clock::formatTime(kNow));
  EXPECT_EQ(d.lookAgainIn, 60s) << "looked at again when the window ends";
}

TEST(DecideMemory, HalfwayThroughTheWindowItWaitsForTheRest) {
  const auto d = decideMemory(memoryStore(), reading(58, 64), statusAt(64 * kMi, kNow - 20s),
                              Observed::notRead(), kNow);
  EXPECT_FALSE(d.raised);
  EXPECT_EQ(d.status["aboveTargetSince"], clock::formatTime(kNow - 20s));
  EXPECT_EQ(d.lookAgainIn, 40s);
}

TEST(DecideMemory, AboveForTheWholeWindowRaisesOneStep) {
  const auto d = decideMemory(memoryStore(), reading(60, 64), statusAt(64 * kMi, kNow - 60s),
                              Observed::notRead(), kNow);
  EXPECT_TRUE(d.raised);
  EXPECT_EQ(d.from, 64 * kMi);
  EXPECT_EQ(d.level, 128 * kMi) << "one step, not straight to the ceiling";
  EXPECT_EQ(d.setLive, 128 * kMi);
  EXPECT_EQ(d.status["maxMemory"], "128Mi");
  EXPECT_EQ(d.status["step"], 1);
  EXPECT_EQ(d.status["lastRaiseTime"], clock::formatTime(kNow));
  EXPECT_FALSE(d.status.contains("aboveTargetSince")) << "the window starts again at 128Mi";
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].reason, "MemoryRaised");
  EXPECT_NE(d.events[0].note.find("64Mi -> 128Mi"), std::string::npos) << d.events[0].note;
  EXPECT_NE(d.events[0].note.find("160Mi"), std::string::npos) << "the container limit";
  EXPECT_FALSE(d.atCeiling.ok);
}

TEST(DecideMemory, ADipBelowTheTargetStartsTheWindowAgain) {
  const auto dip = decideMemory(memoryStore(), reading(50, 64), statusAt(64 * kMi, kNow - 59s),
                                Observed::notRead(), kNow);
  EXPECT_FALSE(dip.raised);
  EXPECT_FALSE(dip.status.contains("aboveTargetSince"));
  const auto again =
      decideMemory(memoryStore(), reading(60, 64), Json{{"store", {{"memory", dip.status}}}},
                   Observed::notRead(), kNow + 1s);
  EXPECT_FALSE(again.raised);
  EXPECT_EQ(again.status["aboveTargetSince"], clock::formatTime(kNow + 1s));
}

TEST(DecideMemory, TheLastStepReachesTheCeilingAndSaysSo) {
  const auto d = decideMemory(memoryStore("64Mi", "256Mi"), reading(250, 128),
                              statusAt(128 * kMi, kNow - 61s), Observed::notRead(), kNow);
  EXPECT_TRUE(d.raised);
  EXPECT_EQ(d.level, 256 * kMi);
  EXPECT_TRUE(d.atCeiling.ok);
  EXPECT_EQ(d.atCeiling.reason, "CeilingReached");
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_NE(d.events[0].note.find("now at the ceiling 256Mi"), std::string::npos);
  EXPECT_EQ(d.events[1].reason, "MemoryAtCeiling");
  EXPECT_EQ(d.events[1].type, events::EventType::kWarning);
}

TEST(DecideMemory, AtTheCeilingItStopsWhateverTheLoad) {
  Json previous = statusAt(256 * kMi, kNow - 3600s);
  previous["conditions"] = Json::array({{{"type", "MemoryAtCeiling"}, {"status", "True"}}});
  const auto d = decideMemory(memoryStore("64Mi", "256Mi"), reading(255, 256), previous,
                              Observed::notRead(), kNow);
  EXPECT_FALSE(d.raised);
  EXPECT_FALSE(d.setLive);
  EXPECT_EQ(d.level, 256 * kMi);
  EXPECT_TRUE(d.atCeiling.ok);
  EXPECT_NE(d.atCeiling.message.find("ceiling 256Mi"), std::string::npos) << d.atCeiling.message;
  EXPECT_TRUE(d.events.empty()) << "told once, when the condition turned True";
}

TEST(DecideMemory, TheLevelIsNeverLoweredWhateverIsForgotten) {
  // The status is lost: the ConfigMap's redis.conf still has the raise.
  const Json configMap = {{"data", {{"redis.conf", "port 6379\nmaxmemory 268435456\n"}}}};
  const auto fromConfig = decideMemory(memoryStore(), reading(10, 256), Json::object(),
                                       Observed::found(configMap), kNow);
  EXPECT_EQ(fromConfig.level, 256 * kMi);
  EXPECT_FALSE(fromConfig.setLive);
  // Redis restarted before its mounted redis.conf had the raise: it gets the level back.
  const auto restarted =
      decideMemory(memoryStore(), reading(10, 64), statusAt(128 * kMi), Observed::notRead(), kNow);
  EXPECT_EQ(restarted.level, 128 * kMi);
  EXPECT_EQ(restarted.setLive, 128 * kMi);
  EXPECT_FALSE(restarted.raised);
  ASSERT_EQ(restarted.events.size(), 1u);
  EXPECT_EQ(restarted.events[0].reason, "MemoryRestored");
  // Unreadable: the level the status holds.
  const auto unread =
      decideMemory(memoryStore(), std::nullopt, statusAt(512 * kMi), Observed::notRead(), kNow);
  EXPECT_EQ(unread.level, 512 * kMi);
  EXPECT_FALSE(unread.setLive);
  // Set higher by hand, off the ladder: followed down to its step, and Redis is not lowered.
  const auto byHand =
      decideMemory(memoryStore(), reading(10, 300), statusAt(128 * kMi), Observed::notRead(), kNow);
  EXPECT_EQ(byHand.level, 256 * kMi);
  EXPECT_FALSE(byHand.setLive);
}

TEST(DecideMemory, AWindowSeenAtAnotherLevelStartsAgain) {
  // The status says above since long ago at 64Mi, but Redis has 128Mi (raised, status not yet
  // written): the window at 128Mi starts now.
  const auto d = decideMemory(memoryStore(), reading(120, 128), statusAt(64 * kMi, kNow - 600s),
                              Observed::notRead(), kNow);
  EXPECT_FALSE(d.raised);
  EXPECT_EQ(d.level, 128 * kMi);
  EXPECT_EQ(d.status["aboveTargetSince"], clock::formatTime(kNow));
}

TEST(ManagedStoreAtALevel, RaisesRedisConfAndTheLimitButNotTheConfigHash) {
  const auto s = memoryStore();
  const auto passwords = managedstore::generatePasswords(fixedBytes);
  ASSERT_TRUE(passwords);
  const auto atFloor = managedStoreObjects(s, *passwords, std::nullopt, {}, std::nullopt);
  const auto raised = managedStoreObjects(s, *passwords, std::nullopt, {}, 128 * kMi);
  ASSERT_TRUE(atFloor && raised);
  const auto find = [](const std::vector<Json>& objects, const std::string& kind) {
    for (const auto& o : objects) {
      if (o["kind"] == kind) return o;
    }
    return Json();
  };
  const Json cm = find(*raised, "ConfigMap");
  EXPECT_EQ(configMapMaxMemory(cm), 128 * kMi);
  EXPECT_EQ(configMapMaxMemory(find(*atFloor, "ConfigMap")), 64 * kMi);
  EXPECT_NE(cm["data"]["users.acl"].get<std::string>().find("+config|set"), std::string::npos)
      << "the monitor user may CONFIG SET maxmemory";
  const Json sts = find(*raised, "StatefulSet");
  const Json stsFloor = find(*atFloor, "StatefulSet");
  EXPECT_EQ(sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "160Mi");
  EXPECT_EQ(sts["spec"]["updateStrategy"]["type"], "OnDelete") << "a raise must not roll Redis";
  EXPECT_EQ(sts["spec"]["template"]["metadata"]["annotations"],
            stsFloor["spec"]["template"]["metadata"]["annotations"])
      << "the config hash is the spec's: a raise is no reason to restart";
}

TEST(ManagedStoreAtALevel, WithoutMemoryNothingChanges) {
  const auto s = store();
  const auto passwords = managedstore::generatePasswords(fixedBytes);
  const auto objects = managedStoreObjects(s, *passwords, std::nullopt, {});
  ASSERT_TRUE(objects);
  for (const auto& o : *objects) {
    if (o["kind"] == "StatefulSet") {
      EXPECT_FALSE(o["spec"].contains("updateStrategy"));
    }
    if (o["kind"] == "ConfigMap") {
      EXPECT_EQ(o["data"]["users.acl"].get<std::string>().find("+config|set"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace sessionstore::reconcile
