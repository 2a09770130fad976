// The decisions of a password rotation (reconcile/rotation.h), one test per decision, without a
// cluster.
#include "reconcile/rotation.h"

#include <gtest/gtest.h>

#include "crypto/crypto.h"
#include "identity/identity.h"
#include "managedstore/managed_store.h"
#include "wiring/connection.h"

namespace sessionstore::reconcile {
namespace {

const managedstore::Passwords kSteady{.app = "app-now", .monitor = "monitor-now"};
const managedstore::Passwords kRotating{
    .app = "app-new", .monitor = "monitor-now", .previousApp = "app-now"};

TEST(RotationStepTest, NothingAskedIsNothingToDo) {
  EXPECT_EQ(decideRotationStep(std::nullopt, {}, kSteady, false), RotationStep::kNone);
}

TEST(RotationStepTest, AValueHandledAlreadyIsNothingToDo) {
  EXPECT_EQ(decideRotationStep("2026-12-05", {.requested = "2026-12-05", .phase = "Completed"},
                               kSteady, false),
            RotationStep::kNone);
}

TEST(RotationStepTest, ANewValueStartsARotation) {
  EXPECT_EQ(decideRotationStep("2", {.requested = "1", .phase = "Completed"}, kSteady, false),
            RotationStep::kStart);
  EXPECT_EQ(decideRotationStep("1", {}, kSteady, false), RotationStep::kStart);
}

TEST(RotationStepTest, PasswordsMadeThisPassAreOnlyRecorded) {
  EXPECT_EQ(decideRotationStep("1", {}, kSteady, true), RotationStep::kRecord);
}

TEST(RotationStepTest, ARotationUnderWayContinuesWhateverTheAnnotationSays) {
  EXPECT_EQ(decideRotationStep("3", {.requested = "2", .phase = "RollingOut"}, kRotating, false),
            RotationStep::kContinue);
  EXPECT_EQ(decideRotationStep(std::nullopt, {}, kRotating, false), RotationStep::kContinue);
}

TEST(RotationRecordTest, RoundTripsThroughStatus) {
  const RotationRecord record{.requested = "r", .phase = "RollingOut", .startedAt = "t0"};
  Json status = {{"store", {{"passwordRotation", rotationStatus(record)}}}};
  EXPECT_EQ(rotationRecord(status), record);
  EXPECT_FALSE(rotationStatus(record).contains("completedAt"));
  EXPECT_EQ(rotationRecord(Json::object()), RotationRecord{});
}

Json connectionSecret(const std::string& password) {
  return {{"data",
           {{"REDIS_PASSWORD", crypto::base64Encode(password)},
            {"REDIS_URL", crypto::base64Encode("redis://app:" + password + "@web-redis:6379/0")}}}};
}

std::string hashOf(const std::string& password) {
  return wiring::connectionHash(connectionSecret(password));
}

Json deployment(const std::string& templateHash, std::int64_t replicas, std::int64_t updated,
                std::int64_t ready, std::int64_t total) {
  return {{"metadata", {{"name", "web"}, {"generation", 4}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", "web"}, {"tier", "front"}}}}},
            {"template",
             {{"metadata",
               {{"annotations",
                 {{std::string(identity::kConnectionHashAnnotation), templateHash}}}}}}}}},
          {"status",
           {{"observedGeneration", 4},
            {"replicas", total},
            {"updatedReplicas", updated},
            {"readyReplicas", ready},
            {"availableReplicas", ready}}}};
}

Json pod(const std::string& name, const std::string& hash, const std::string& phase = "Running") {
  return {{"metadata",
           {{"name", name},
            {"annotations", {{std::string(identity::kConnectionHashAnnotation), hash}}}}},
          {"status", {{"phase", phase}}}};
}

TEST(RolloutCheckTest, DoneWhenEveryPodRunsWithTheNewConnection) {
  const std::string h = hashOf("app-new");
  const auto check = checkAppRolledOut(connectionSecret("app-new"), "app-new",
                                       deployment(h, 2, 2, 2, 2), {pod("a", h), pod("b", h)});
  EXPECT_TRUE(check.done) << check.waitingFor;
}

TEST(RolloutCheckTest, WaitsForTheConnectionSecretToHoldTheNewPassword) {
  const std::string h = hashOf("app-now");
  const auto check = checkAppRolledOut(connectionSecret("app-now"), "app-new",
                                       deployment(h, 1, 1, 1, 1), {pod("a", h)});
  EXPECT_FALSE(check.done);
  EXPECT_EQ(check.waitingFor, "the connection Secret to hold the new password");
  EXPECT_EQ(check.waitingFor.find("app-"), std::string::npos) << "no password in a message";
}

TEST(RolloutCheckTest, WaitsForThePodTemplate) {
  const auto check = checkAppRolledOut(connectionSecret("app-new"), "app-new",
                                       deployment(hashOf("app-now"), 1, 1, 1, 1), {});
  EXPECT_FALSE(check.done);
  EXPECT_EQ(check.waitingFor, "the Deployment's pod template to carry the new connection hash");
}

TEST(RolloutCheckTest, WaitsForTheRolloutToComplete) {
  const std::string h = hashOf("app-new");
  // One old pod still counted among the replicas.
  auto check = checkAppRolledOut(connectionSecret("app-new"), "app-new", deployment(h, 2, 2, 2, 3),
                                 {pod("a", h), pod("b", h)});
  EXPECT_FALSE(check.done);
  EXPECT_EQ(check.waitingFor, "the Deployment's rollout: 2 updated, 2 available, 3 in all, of 2");
  // A new pod not ready yet.
  check = checkAppRolledOut(connectionSecret("app-new"), "app-new", deployment(h, 2, 2, 1, 2),
                            {pod("a", h), pod("b", h)});
  EXPECT_FALSE(check.done);
  // The controller has not seen the last generation.
  Json stale = deployment(h, 1, 1, 1, 1);
  stale["status"]["observedGeneration"] = 3;
  EXPECT_FALSE(
      checkAppRolledOut(connectionSecret("app-new"), "app-new", stale, {pod("a", h)}).done);
}

TEST(RolloutCheckTest, WaitsForEveryPodThatMayStillServeIncludingTerminatingOnes) {
  const std::string h = hashOf("app-new");
  const std::string old = hashOf("app-now");
  Json terminating = pod("old-1", old);
  terminating["metadata"]["deletionTimestamp"] = "2026-12-05T17:00:00Z";
  auto check = checkAppRolledOut(connectionSecret("app-new"), "app-new", deployment(h, 1, 1, 1, 1),
                                 {pod("a", h), terminating});
  EXPECT_FALSE(check.done);
  EXPECT_EQ(check.waitingFor, "1 pod(s) of the app still on the old connection (old-1)");
  // A pod that has ended uses no password.
  check =
      checkAppRolledOut(connectionSecret("app-new"), "app-new", deployment(h, 1, 1, 1, 1),
                        {pod("a", h), pod("old-2", old, "Failed"), pod("old-3", old, "Succeeded")});
  EXPECT_TRUE(check.done) << check.waitingFor;
}

TEST(PodSelectorTest, FromMatchLabels) {
  EXPECT_EQ(podSelector(deployment("h", 1, 1, 1, 1)), "app=web,tier=front");
  EXPECT_EQ(podSelector(Json::object()), "");
}

Json configMapAccepting(const std::string& app, const std::string& monitor) {
  return {{"data",
           {{"users.acl", managedstore::renderUsersAcl("shop:web:", crypto::sha256Hex(app),
                                                       crypto::sha256Hex(monitor))}}}};
}

TEST(RecoverPasswordsTest, TakesBackWhatRedisStillAccepts) {
  const auto got = recoverPasswords(connectionSecret("app-now"), std::string("monitor-now"),
                                    configMapAccepting("app-now", "monitor-now"));
  EXPECT_EQ(got.app, std::optional<std::string>("app-now"));
  EXPECT_EQ(got.monitor, std::optional<std::string>("monitor-now"));
}

TEST(RecoverPasswordsTest, LeavesOutWhatRedisDoesNotAccept) {
  // The connection Secret was edited; the operator's link knows no monitor password.
  auto got = recoverPasswords(connectionSecret("edited"), std::nullopt,
                              configMapAccepting("app-now", "monitor-now"));
  EXPECT_FALSE(got.app);
  EXPECT_FALSE(got.monitor);
  // The app's password is no monitor password, and the other way round.
  got = recoverPasswords(connectionSecret("monitor-now"), std::string("app-now"),
                         configMapAccepting("app-now", "monitor-now"));
  EXPECT_FALSE(got.app);
  EXPECT_FALSE(got.monitor);
}

TEST(RecoverPasswordsTest, NothingWithoutTheConfigMap) {
  const auto got =
      recoverPasswords(connectionSecret("app-now"), std::string("monitor-now"), std::nullopt);
  EXPECT_FALSE(got.app);
  EXPECT_FALSE(got.monitor);
}

}  // namespace
}  // namespace sessionstore::reconcile
