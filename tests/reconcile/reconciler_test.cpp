// The reconciler's steps in their order, against the in-memory client and a scripted store
// health: what a pass creates, that a converged store costs no write, that someone else's object
// is never overwritten, the wiring once the store answers, deletion, errors as outcomes. The
// same behaviours against a real API server: tests/integration.
#include "reconcile/reconciler.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "events/recorder.h"
#include "identity/identity.h"
#include "mocks/clock/fake_clock.h"
#include "mocks/health/fake_memory_control.h"
#include "mocks/health/fake_password_control.h"
#include "mocks/health/fake_replication_control.h"
#include "mocks/kube/fake_client.h"
#include "reconcile/fixtures.h"

namespace sessionstore::reconcile {
namespace {

using namespace testing;  // NOLINT: the fixtures
using kube::FakeClient;
using Verb = FakeClient::Verb;
using workqueue::Outcome;

std::string hashOfConnection(const Json& deployment) {
  const Json* annotations = &deployment;
  for (const char* key : {"spec", "template", "metadata", "annotations"}) {
    if (!annotations->is_object() || !annotations->contains(key)) return "";
    annotations = &(*annotations)[key];
  }
  return annotations->value(std::string(identity::kConnectionHashAnnotation), "");
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.put(kube::resources::kSessionStores, storeObject());
    api_.put(kube::resources::kDeployments, deploymentObject());
    api_.put(kube::resources::kServices, serviceObject());
  }

  Reconciler make(events::EventRecorder* recorder = nullptr) {
    return Reconciler(api_, api_, health_, fixedBytes, recorder,
                      {.observed = [this](const api::SessionStore&) { ++observed_; },
                       .gone = [this](const std::string& key) { gone_.push_back(key); }},
                      clock_);
  }

  Json stored(const kube::Resource& resource, const std::string& name) {
    return api_.stored(resource, "shop", name).value_or(Json());
  }
  Json status() { return stored(kube::resources::kSessionStores, "web").value("status", Json()); }
  Json condition(const std::string& type) {
    for (const Json& item : status().value("conditions", Json::array())) {
      if (item.value("type", "") == type) return item;
    }
    return Json();
  }
  bool exists(const kube::Resource& resource, const std::string& name) {
    return api_.stored(resource, "shop", name).has_value();
  }

  FakeClient api_;
  ScriptedHealth health_;
  clock::FakeClock clock_;
  int observed_ = 0;
  std::vector<std::string> gone_;
};

TEST_F(ReconcilerTest, AFreshStoreIsProvisionedInOnePassWithoutReadsOfItsObjects) {
  Reconciler reconciler = make();
  const Outcome outcome = reconciler.reconcile("shop/web");
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRequeueAfter);
  EXPECT_EQ(outcome.after, std::chrono::seconds(3)) << "it waits for its Redis: the wait interval";

  for (const auto& [resource, name] : std::vector<std::pair<const kube::Resource*, std::string>>{
           {&kube::resources::kSecrets, "web-redis-auth"},
           {&kube::resources::kConfigMaps, "web-redis-config"},
           {&kube::resources::kServices, "web-redis-headless"},
           {&kube::resources::kServices, "web-redis"},
           {&kube::resources::kStatefulSets, "web-redis"},
           {&kube::resources::kNetworkPolicies, "web-redis"}}) {
    EXPECT_TRUE(exists(*resource, name)) << resource->kind << " " << name;
  }
  EXPECT_FALSE(exists(kube::resources::kSecrets, "web-session-store"))
      << "the app is wired only once the store answers";
  for (const char* resource : {"configmaps", "statefulsets", "networkpolicies", "services"}) {
    EXPECT_EQ(api_.count(Verb::kGet, resource), resource == std::string("services") ? 1u : 0u)
        << resource << " (the target Service is read)";
  }
  EXPECT_EQ(api_.count(Verb::kCreate, "services"), 2u)
      << "the Services made at the start of the pass are not written again";
  EXPECT_EQ(api_.count(Verb::kPatch, "services"), 1u) << "the target's affinity only";
  EXPECT_TRUE(hasFinalizer(stored(kube::resources::kSessionStores, "web")));
  EXPECT_EQ(status()["phase"], "Provisioning");
  EXPECT_EQ(condition("StoreReady")["reason"], "Provisioning");
  EXPECT_EQ(condition("ConnectionWired")["reason"], "WaitingForStore");
  EXPECT_EQ(condition("AffinityApplied")["reason"], "ClientIP") << "sticky while not ready";
  EXPECT_EQ(stored(kube::resources::kServices, "web")["spec"]["sessionAffinity"], "ClientIP");
  EXPECT_EQ(health_.checked, std::vector<std::string>{"shop/web"});
  EXPECT_EQ(observed_, 1);
}

TEST_F(ReconcilerTest, ASecondPassWithNothingChangedWritesNothing) {
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  api_.clearRequests();
  const Outcome outcome = reconciler.reconcile("shop/web");
  EXPECT_EQ(api_.writes(), 0u) << ::testing::PrintToString(api_.count(std::nullopt));
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRequeueAfter);
}

TEST_F(ReconcilerTest, WaitingLooksAgainLaterEachTime) {
  Reconciler reconciler = make();
  const auto first = reconciler.reconcile("shop/web").after;
  const auto second = reconciler.reconcile("shop/web").after;
  const auto third = reconciler.reconcile("shop/web").after;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  health_.answer = answers();
  EXPECT_EQ(reconciler.reconcile("shop/web").after, std::chrono::seconds(30))
      << "converged: the resync interval";
}

TEST_F(ReconcilerTest, WaitingIsCappedAtTheWaitCapNotTheRareResync) {
  // Production's resync is 10 h: a store waiting through many passes in a row (each event of an
  // app's rollout is one) is still looked at again within the wait cap.
  Reconciler reconciler(api_, api_, health_, fixedBytes, nullptr,
                        {.resyncInterval = std::chrono::hours(10)}, clock_);
  clock::Duration last{};
  for (int i = 0; i < 40; ++i) last = reconciler.reconcile("shop/web").after;
  EXPECT_EQ(last, std::chrono::seconds(30));
}

TEST_F(ReconcilerTest, OnceTheStoreAnswersTheAppIsWiredAndTheStoreIsReady) {
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  health_.answer = answers();
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(exists(kube::resources::kSecrets, "web-session-store"));
  const Json deployment = stored(kube::resources::kDeployments, "web");
  const Json env = deployment["spec"]["template"]["spec"]["containers"][0].value("env", Json());
  EXPECT_NE(env.dump().find("REDIS_URL"), std::string::npos) << env.dump();
  EXPECT_EQ(status()["phase"], "Ready");
  EXPECT_EQ(condition("ConnectionWired")["reason"], "Wired");
  EXPECT_EQ(stored(kube::resources::kServices, "web")["spec"]["sessionAffinity"], "None");
  ASSERT_TRUE(health_.lastMonitor.has_value());
  EXPECT_EQ(health_.lastMonitor->username, managedstore::kMonitorUser);

  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(api_.writes(), 0u) << "converged";
}

// Issue 19: a managed TLS store gets the operator's CA and a certificate for its Services; the
// app's URL is rediss:// with the CA beside it; at two thirds of the certificate's lifetime it is
// issued again from the same CA, and the app's connection (its pods) does not change.
TEST_F(ReconcilerTest, AManagedTlsStoreGetsACertificateRenewedFromTheSameCa) {
  Json spec = kManagedSpec;
  spec["store"]["managed"] = {{"tls", {{"enabled", true}}}};
  api_.put(kube::resources::kSessionStores, storeObject(spec));
  Reconciler reconciler(api_, api_, health_, fixedBytes, nullptr,
                        {.resyncInterval = std::chrono::hours(10),
                         .certificateLifetime = std::chrono::seconds(30000)},
                        clock_);
  reconciler.reconcile("shop/web");
  const Json ca = stored(kube::resources::kSecrets, "web-redis-tls-ca");
  const Json tls = stored(kube::resources::kSecrets, "web-redis-tls");
  ASSERT_TRUE(ca.is_object());
  ASSERT_TRUE(tls.is_object());
  EXPECT_EQ(tls["type"], "kubernetes.io/tls");
  EXPECT_EQ(tls["data"]["ca.crt"], ca["data"]["ca.crt"]);
  ASSERT_TRUE(health_.lastApp.has_value());
  EXPECT_TRUE(health_.lastApp->tls);
  EXPECT_EQ(health_.lastApp->tlsCaPem,
            *crypto::base64Decode(ca["data"]["ca.crt"].get<std::string>()));
  const std::string firstServed = health_.lastMonitor->tlsExpectedCertificateSha256;
  EXPECT_EQ(firstServed.size(), 64u);

  health_.answer = answers();
  reconciler.reconcile("shop/web");
  const Json connection = stored(kube::resources::kSecrets, "web-session-store");
  EXPECT_TRUE(crypto::base64Decode(connection["data"]["REDIS_URL"].get<std::string>())
                  ->starts_with("rediss://"));
  EXPECT_EQ(connection["data"]["ca.crt"], ca["data"]["ca.crt"]);
  EXPECT_EQ(status()["phase"], "Ready");
  const std::string hash = hashOfConnection(stored(kube::resources::kDeployments, "web"));

  // Converged: nothing written; the pass comes back by the renewal time (20000 s), not later.
  api_.clearRequests();
  const Outcome outcome = reconciler.reconcile("shop/web");
  EXPECT_EQ(api_.writes(), 0u);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRequeueAfter);
  EXPECT_EQ(outcome.after, std::chrono::seconds(20000)) << "the renewal time, before the resync";

  clock_.advance(std::chrono::seconds(20000));
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  const Json renewed = stored(kube::resources::kSecrets, "web-redis-tls");
  EXPECT_NE(renewed["data"]["tls.crt"], tls["data"]["tls.crt"]);
  EXPECT_NE(renewed["data"]["tls.key"], tls["data"]["tls.key"]);
  EXPECT_EQ(stored(kube::resources::kSecrets, "web-redis-tls-ca")["data"], ca["data"])
      << "the CA is kept";
  EXPECT_NE(health_.lastMonitor->tlsExpectedCertificateSha256, firstServed)
      << "the health link is told which certificate to have Redis load";
  EXPECT_EQ(hashOfConnection(stored(kube::resources::kDeployments, "web")), hash)
      << "a renewal does not roll the app";
}

// Issue 18: a scale (spec.replicas 2 -> 4, as kubectl scale writes it) finds nothing to apply;
// past the bound, WorkersSized says so and still nothing is applied; an HPA that targets the
// Deployment is read and its maximum becomes the bound (a change of the bound: one apply).
TEST_F(ReconcilerTest, AScaleWritesNothingToTheDeploymentAndPastTheBoundIsACondition) {
  Reconciler reconciler = make();
  health_.answer = answers();
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/web");
  ASSERT_EQ(status()["phase"], "Ready");
  const Json wired = stored(kube::resources::kDeployments, "web");
  const auto scale = [&](int replicas) {
    Json deployment = stored(kube::resources::kDeployments, "web");
    deployment["spec"]["replicas"] = replicas;
    api_.put(kube::resources::kDeployments, deployment);
    api_.clearRequests();
    reconciler.reconcile("shop/web");
  };
  scale(4);
  EXPECT_EQ(api_.count(Verb::kPatch, "deployments"), 0u) << "a scale within the bound";
  EXPECT_EQ(api_.count(Verb::kPatch, "secrets") + api_.count(Verb::kCreate, "secrets"), 0u);
  EXPECT_EQ(stored(kube::resources::kDeployments, "web")["spec"]["template"],
            wired["spec"]["template"]);
  EXPECT_EQ(condition("WorkersSized")["reason"], "Sized");

  scale(11);
  EXPECT_EQ(api_.count(Verb::kPatch, "deployments"), 0u) << "past the bound: no roll either";
  EXPECT_EQ(condition("WorkersSized")["reason"], "ReplicasAboveBound");
  EXPECT_EQ(condition("WorkersSized")["status"], "False");
  EXPECT_EQ(status()["phase"], "Degraded");

  // An HPA with maxReplicas 12 targets the Deployment: the bound is 12, above the 11 replicas;
  // its pool is floor(900 / (12 * 5)) = 15 (one apply: the bound changed).
  api_.put(
      kube::resources::kHorizontalPodAutoscalers,
      {{"kind", "HorizontalPodAutoscaler"},
       {"metadata", {{"namespace", "shop"}, {"name", "web-hpa"}}},
       {"spec",
        {{"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}}},
         {"maxReplicas", 12}}}});
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(condition("WorkersSized")["reason"], "Sized");
  EXPECT_NE(condition("WorkersSized")["message"].get<std::string>().find(
                "HorizontalPodAutoscaler web-hpa"),
            std::string::npos);
  EXPECT_EQ(api_.count(Verb::kPatch, "deployments"), 1u);
  const Json env = stored(kube::resources::kDeployments,
                          "web")["spec"]["template"]["spec"]["containers"][0]["env"];
  EXPECT_NE(env.dump().find(R"({"name":"REDIS_MAX_CONNECTIONS","value":"15"})"), std::string::npos)
      << env.dump();
}

TEST_F(ReconcilerTest, AStoreThatStopsAnsweringAfterWiringIsUnreachableAndKeepsTheWiring) {
  Reconciler reconciler = make();
  health_.answer = answers();
  reconciler.reconcile("shop/web");
  ASSERT_EQ(status()["phase"], "Ready");
  health_.answer = silent();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(status()["phase"], "Degraded");
  EXPECT_EQ(condition("StoreReady")["reason"], "StoreUnreachable")
      << "not Provisioning, whatever the pod says";
  EXPECT_EQ(condition("ConnectionWired")["reason"], "Wired");
  EXPECT_TRUE(exists(kube::resources::kSecrets, "web-session-store"));
}

TEST_F(ReconcilerTest, SomeoneElsesObjectIsNeverOverwrittenAndTheConditionNamesIt) {
  const Json theirs = api_.put(kube::resources::kConfigMaps,
                               {{"apiVersion", "v1"},
                                {"kind", "ConfigMap"},
                                {"metadata", {{"namespace", "shop"}, {"name", "web-redis-config"}}},
                                {"data", {{"mine", "yes"}}}});
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(stored(kube::resources::kConfigMaps, "web-redis-config"), theirs);
  EXPECT_EQ(condition("StoreReady")["reason"], "NameTaken");
  EXPECT_NE(condition("StoreReady")["message"].get<std::string>().find(
                "ConfigMap web-redis-config exists and is not owned by this SessionStore"),
            std::string::npos);
  EXPECT_FALSE(exists(kube::resources::kStatefulSets, "web-redis"))
      << "no StatefulSet mounts a ConfigMap that is not this store's";
  EXPECT_TRUE(health_.checked.empty()) << "nothing to probe";
  EXPECT_EQ(health_.forgotten, std::vector<std::string>{"shop/web"});
}

TEST_F(ReconcilerTest, PasswordsAreGeneratedOnlyWhenTheirSecretDoesNotExist) {
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  const Json secret = stored(kube::resources::kSecrets, "web-redis-auth");
  reconciler.reconcile("shop/web");
  EXPECT_EQ(stored(kube::resources::kSecrets, "web-redis-auth"), secret);
  EXPECT_EQ(api_.count(Verb::kCreate, "secrets"), 1u);

  // A fresh store whose Secret exists (a pass that did not finish): read, not regenerated.
  Json object = stored(kube::resources::kSessionStores, "web");
  object.erase("status");
  api_.put(kube::resources::kSessionStores, object);
  reconciler.reconcile("shop/web");
  EXPECT_EQ(stored(kube::resources::kSecrets, "web-redis-auth")["data"], secret["data"]);

  // The same with its ConfigMap gone too: the pass makes one from the passwords it generates
  // while it creates the Secret, finds the Secret there, and makes the ConfigMap hold the
  // Secret's passwords before the StatefulSet could start Redis with it.
  // Passwords other than those the pass generates (the test's random bytes are fixed).
  Json earlier = stored(kube::resources::kSecrets, "web-redis-auth");
  earlier["data"][std::string(managedstore::kAppPasswordKey)] =
      crypto::base64Encode(std::string(43, 'b'));
  api_.put(kube::resources::kSecrets, earlier);
  const auto passwords = managedstore::passwordsFromSecret(earlier);
  ASSERT_TRUE(passwords.has_value());
  auto holdsTheSecretsPasswords = [&] {
    const std::string acl =
        stored(kube::resources::kConfigMaps, "web-redis-config")["data"].value("users.acl", "");
    return acl.find("#" + crypto::sha256Hex(passwords->app)) != std::string::npos &&
           acl.find("#" + crypto::sha256Hex(passwords->monitor)) != std::string::npos;
  };
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(holdsTheSecretsPasswords());
  ASSERT_TRUE(api_.remove(kube::resources::kConfigMaps, "shop", "web-redis-config").has_value());
  api_.put(kube::resources::kSessionStores, object);
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(stored(kube::resources::kSecrets, "web-redis-auth")["data"], earlier["data"]);
  EXPECT_TRUE(holdsTheSecretsPasswords());
  EXPECT_EQ(api_.count(Verb::kCreate, "configmaps"), 1u);
  EXPECT_GE(api_.count(Verb::kPatch, "configmaps"), 1u) << "made right in the same pass";
}

TEST_F(ReconcilerTest, AFreshStoresConfigMapIsMadeOnceBesideItsPasswords) {
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(api_.count(Verb::kCreate, "configmaps"), 1u);
  EXPECT_EQ(api_.count(Verb::kPatch, "configmaps"), 0u);
  EXPECT_EQ(api_.count(Verb::kGet, "configmaps"), 0u);
  const auto passwords =
      managedstore::passwordsFromSecret(stored(kube::resources::kSecrets, "web-redis-auth"));
  ASSERT_TRUE(passwords.has_value());
  const std::string acl =
      stored(kube::resources::kConfigMaps, "web-redis-config")["data"].value("users.acl", "");
  EXPECT_NE(acl.find("#" + crypto::sha256Hex(passwords->app)), std::string::npos);
}

TEST_F(ReconcilerTest, AnApiErrorIsRetriedAndToldUnlessItIsAConflict) {
  events::EventRecorder recorder(api_, clock_, {.reportingInstance = "test"});
  Reconciler reconciler = make(&recorder);
  api_.failNext(Verb::kGet, kube::resources::kDeployments,
                {.kind = kube::ErrorKind::kUnavailable, .message = "connection refused"});
  EXPECT_EQ(reconciler.reconcile("shop/web").kind, Outcome::Kind::kRetry);
  api_.failNext(Verb::kUpdate, kube::resources::kSessionStores,
                {.kind = kube::ErrorKind::kConflict, .message = "modified"});
  EXPECT_EQ(reconciler.reconcile("shop/web").kind, Outcome::Kind::kRetry)
      << "a status write lost to a newer version";
  api_.failNext(Verb::kGet, kube::resources::kSessionStores,
                {.kind = kube::ErrorKind::kTooManyRequests, .retryAfter = std::chrono::seconds(7)});
  const Outcome throttled = reconciler.reconcile("shop/web");
  EXPECT_EQ(throttled.kind, Outcome::Kind::kRetry);
  EXPECT_EQ(throttled.after, std::chrono::seconds(7));

  recorder.sendDue();
  auto listed = api_.list(kube::resources::kEvents, "shop");
  ASSERT_TRUE(listed.has_value());
  std::vector<std::string> reasons;
  for (const Json& event : listed->items) reasons.push_back(event.value("reason", ""));
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "ReconcileError"), 1)
      << ::testing::PrintToString(reasons);
}

// The objects a pass creates side by side are each told once in its Created Event.
TEST_F(ReconcilerTest, TheCreatedEventNamesEachObjectOnce) {
  events::EventRecorder recorder(api_, clock_, {.reportingInstance = "test"});
  Reconciler reconciler = make(&recorder);
  reconciler.reconcile("shop/web");
  recorder.sendDue();
  auto listed = api_.list(kube::resources::kEvents, "shop");
  ASSERT_TRUE(listed.has_value());
  std::vector<std::string> notes;
  for (const Json& event : listed->items) notes.push_back(event.value("note", ""));
  const auto created = std::find_if(notes.begin(), notes.end(), [](const std::string& note) {
    return note.starts_with("created ");
  });
  ASSERT_NE(created, notes.end()) << ::testing::PrintToString(notes);
  for (const std::string object :
       {"Secret web-redis-auth", "ConfigMap web-redis-config", "Service web-redis-headless",
        "Service web-redis,", "StatefulSet web-redis", "NetworkPolicy web-redis"}) {
    std::size_t count = 0;
    for (auto at = created->find(object); at != std::string::npos;
         at = created->find(object, at + 1)) {
      ++count;
    }
    EXPECT_EQ(count, 1u) << object << " in: " << *created;
  }
  for (const std::string& note : notes) {
    EXPECT_EQ(note.find(managedstore::generatePasswords(fixedBytes)->app), std::string::npos)
        << "no password in an Event: " << note;
  }
}

TEST_F(ReconcilerTest, ARefusedWriteNeedsTheUser) {
  api_.failNext(Verb::kCreate, kube::resources::kStatefulSets,
                {.kind = kube::ErrorKind::kInvalid, .message = "spec.replicas: Invalid value"});
  Reconciler reconciler = make();
  EXPECT_EQ(reconciler.reconcile("shop/web").kind, Outcome::Kind::kRequeueAfter);
  EXPECT_EQ(condition("StoreReady")["reason"], "ProvisioningFailed");
  EXPECT_EQ(condition("StoreReady")["message"],
            "cannot write StatefulSet web-redis: spec.replicas: Invalid value");
}

TEST_F(ReconcilerTest, AConnectionSecretOfSomeoneElsesIsNeverOverwrittenAndTheAppNotWired) {
  const Json theirs =
      api_.put(kube::resources::kSecrets,
               {{"apiVersion", "v1"},
                {"kind", "Secret"},
                {"metadata", {{"namespace", "shop"}, {"name", "web-session-store"}}},
                {"data", {{"url", "bWluZQ=="}}}});
  health_.answer = answers();
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(stored(kube::resources::kSecrets, "web-session-store"), theirs);
  EXPECT_EQ(condition("ConnectionWired")["reason"], "NameTaken");
  EXPECT_NE(condition("ConnectionWired")["message"].get<std::string>().find(
                "set spec.connection.secretName"),
            std::string::npos);
  EXPECT_EQ(api_.count(Verb::kPatch, "deployments"), 0u) << "the app is not wired to it";
}

TEST_F(ReconcilerTest, ARefusedDeploymentApplyIsTheConditionAndAWarning) {
  events::EventRecorder recorder(api_, clock_, {.reportingInstance = "test"});
  api_.failNext(Verb::kPatch, kube::resources::kDeployments,
                {.kind = kube::ErrorKind::kInvalid, .message = "env[0]: Invalid value"});
  health_.answer = answers();
  Reconciler reconciler = make(&recorder);
  const Outcome outcome = reconciler.reconcile("shop/web");
  EXPECT_EQ(outcome.kind, Outcome::Kind::kRequeueAfter) << "retrying will not help";
  EXPECT_EQ(condition("ConnectionWired")["reason"], "ApplyFailed");
  recorder.sendDue();
  auto listed = api_.list(kube::resources::kEvents, "shop");
  ASSERT_TRUE(listed.has_value());
  const bool warned = std::any_of(listed->items.begin(), listed->items.end(), [](const Json& e) {
    return e.value("reason", "") == "ApplyFailed" && e.value("type", "") == "Warning";
  });
  EXPECT_TRUE(warned);

  api_.failNext(Verb::kPatch, kube::resources::kDeployments,
                {.kind = kube::ErrorKind::kUnavailable, .message = "try later"});
  EXPECT_EQ(reconciler.reconcile("shop/web").kind, Outcome::Kind::kRetry)
      << "a transient error is retried";
}

// The store's own objects are written while the finalizer is added (they go with the store by
// their owner references); the StatefulSet, whose pods keep data, the user's objects and the
// status wait for it.
TEST_F(ReconcilerTest, AFinalizerThatCannotBeAddedStopsThePassBeforeTheStatefulSetAndTheUsers) {
  const Json deploymentBefore = stored(kube::resources::kDeployments, "web");
  const Json serviceBefore = stored(kube::resources::kServices, "web");
  api_.failNext(Verb::kPatch, kube::resources::kSessionStores,
                {.kind = kube::ErrorKind::kConflict, .message = "modified"});
  Reconciler reconciler = make();
  EXPECT_EQ(reconciler.reconcile("shop/web").kind, Outcome::Kind::kRetry);
  EXPECT_FALSE(exists(kube::resources::kStatefulSets, "web-redis"));
  EXPECT_EQ(stored(kube::resources::kDeployments, "web"), deploymentBefore);
  EXPECT_EQ(stored(kube::resources::kServices, "web"), serviceBefore);
  EXPECT_FALSE(exists(kube::resources::kSecrets, "web-session-store"));
  EXPECT_FALSE(stored(kube::resources::kSessionStores, "web").contains("status"));
  EXPECT_FALSE(hasFinalizer(stored(kube::resources::kSessionStores, "web")));

  // The next pass adds it and goes on.
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(hasFinalizer(stored(kube::resources::kSessionStores, "web")));
  EXPECT_TRUE(exists(kube::resources::kStatefulSets, "web-redis"));
  EXPECT_EQ(status()["phase"], "Provisioning");
}

TEST_F(ReconcilerTest, AGoverningServiceOfSomeoneElsesKeepsTheStatefulSetUnmade) {
  const Json theirs = api_.put(
      kube::resources::kServices,
      {{"apiVersion", "v1"},
       {"kind", "Service"},
       {"metadata", {{"namespace", "shop"}, {"name", "web-redis-headless"}}},
       {"spec", {{"clusterIP", "None"}, {"selector", {{"app", "theirs"}}}}}});
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(stored(kube::resources::kServices, "web-redis-headless"), theirs);
  EXPECT_EQ(condition("StoreReady")["reason"], "NameTaken");
  EXPECT_FALSE(exists(kube::resources::kStatefulSets, "web-redis"));
  EXPECT_TRUE(health_.checked.empty()) << "nothing to probe";
}

TEST_F(ReconcilerTest, AClientServiceOfSomeoneElsesIsNamedAndTheStoreNotProbed) {
  const Json theirs =
      api_.put(kube::resources::kServices,
               {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"namespace", "shop"}, {"name", "web-redis"}}},
                {"spec", {{"selector", {{"app", "theirs"}}}}}});
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(stored(kube::resources::kServices, "web-redis"), theirs);
  EXPECT_EQ(condition("StoreReady")["reason"], "NameTaken");
  EXPECT_NE(condition("StoreReady")["message"].get<std::string>().find("Service web-redis "),
            std::string::npos);
  EXPECT_TRUE(health_.checked.empty()) << "the app would reach their Service: not probed";
  EXPECT_FALSE(exists(kube::resources::kSecrets, "web-session-store"));
}

TEST_F(ReconcilerTest, AMissingTargetIsWaitedForWhileTheStoreIsProvisioned) {
  ASSERT_TRUE(api_.remove(kube::resources::kDeployments, "shop", "web").has_value());
  Reconciler reconciler = make();
  EXPECT_EQ(reconciler.reconcile("shop/web").after, std::chrono::seconds(3));
  EXPECT_EQ(status()["phase"], "Pending");
  EXPECT_EQ(condition("ConnectionWired")["reason"], "DeploymentNotFound");
  EXPECT_TRUE(exists(kube::resources::kStatefulSets, "web-redis"));
  EXPECT_FALSE(exists(kube::resources::kNetworkPolicies, "web-redis"))
      << "no policy without the target's labels";
}

TEST_F(ReconcilerTest, AnInvalidSpecFailsUntilItChanges) {
  Json object = storeObject({{"target", {{"deployment", 42}}}});
  api_.put(kube::resources::kSessionStores, object);
  Reconciler reconciler = make();
  EXPECT_EQ(reconciler.reconcile("shop/web").kind, Outcome::Kind::kSuccess);
  EXPECT_EQ(status()["phase"], "Failed");
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(api_.writes(), 0u);
}

TEST_F(ReconcilerTest, ADeletedStoreIsForgotten) {
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  ASSERT_TRUE(api_.remove(kube::resources::kSessionStores, "shop", "web").has_value());
  EXPECT_EQ(reconciler.reconcile("shop/web").kind, Outcome::Kind::kSuccess);
  EXPECT_EQ(gone_, std::vector<std::string>{"shop/web"});
  EXPECT_EQ(health_.forgotten, std::vector<std::string>{"shop/web"});
}

TEST_F(ReconcilerTest, TheFinalizerUnwiresAndDeletesTheDataByPolicy) {
  Json spec = kManagedSpec;
  spec["store"]["managed"] = {{"deletionPolicy", "Delete"}};
  api_.put(kube::resources::kSessionStores, storeObject(spec));
  health_.answer = answers();
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  ASSERT_TRUE(exists(kube::resources::kSecrets, "web-session-store"));
  api_.put(kube::resources::kPersistentVolumeClaims,
           {{"kind", "PersistentVolumeClaim"},
            {"metadata",
             {{"namespace", "shop"},
              {"name", "data-web-redis-0"},
              {"labels",
               {{"sessionstore.io/name", "web"},
                {"app.kubernetes.io/managed-by", "sessionstore-operator"}}}}}});

  Json deleting = stored(kube::resources::kSessionStores, "web");
  deleting["metadata"]["deletionTimestamp"] = "2026-12-05T08:00:00Z";
  api_.put(kube::resources::kSessionStores, deleting);
  api_.clearRequests();
  const Outcome first = reconciler.reconcile("shop/web");
  EXPECT_EQ(first.kind, Outcome::Kind::kRequeueAfter) << "the StatefulSet goes before the data";
  EXPECT_FALSE(exists(kube::resources::kSecrets, "web-session-store"));
  EXPECT_FALSE(exists(kube::resources::kStatefulSets, "web-redis"));
  EXPECT_TRUE(exists(kube::resources::kPersistentVolumeClaims, "data-web-redis-0"));
  EXPECT_GE(api_.count(Verb::kPatch, "deployments"), 1u) << "the wiring released";

  EXPECT_EQ(reconciler.reconcile("shop/web").kind, Outcome::Kind::kSuccess);
  EXPECT_FALSE(exists(kube::resources::kPersistentVolumeClaims, "data-web-redis-0"));
  EXPECT_FALSE(hasFinalizer(stored(kube::resources::kSessionStores, "web")));
  EXPECT_EQ(gone_, std::vector<std::string>{"shop/web"});
  EXPECT_EQ(health_.forgotten, std::vector<std::string>{"shop/web"});
}

// --- One SessionStore per target
// ------------------------------------------------------------------

// Another SessionStore "shop/<name>" naming the same Deployment and Service as storeObject().
Json rivalObject(const std::string& name, const std::string& created) {
  Json object = storeObject();
  object["metadata"]["name"] = name;
  object["metadata"]["uid"] = name + "-uid";
  object["metadata"]["creationTimestamp"] = created;
  return object;
}

class OneStorePerTarget : public ReconcilerTest {
 protected:
  void SetUp() override {
    ReconcilerTest::SetUp();
    Json first = storeObject();
    first["metadata"]["creationTimestamp"] = "2026-12-05T08:00:00Z";
    api_.put(kube::resources::kSessionStores, first);
    api_.put(kube::resources::kSessionStores, rivalObject("second", "2026-12-05T09:00:00Z"));
    health_.answer = answers();
  }
  Reconciler makeWaiting() {
    return Reconciler(
        api_, api_, health_, fixedBytes, nullptr,
        {.observed = [this](const api::SessionStore&) { ++observed_; },
         .gone = [this](const std::string& key) { gone_.push_back(key); },
         .waitsFor = [this](const std::string& key,
                            const std::vector<std::string>& targets) { waits_[key] = targets; },
         .released = [this](const std::vector<std::string>& targets) { released_ = targets; }},
        clock_);
  }
  Json conditionOf(const std::string& store, const std::string& type) {
    const Json object = stored(kube::resources::kSessionStores, store);
    for (const Json& item :
         object.value("status", Json::object()).value("conditions", Json::array())) {
      if (item.value("type", "") == type) return item;
    }
    return Json();
  }
  std::string wiredBy(const std::string& kindPlural) {
    const Json object = stored(
        kindPlural == "deployments" ? kube::resources::kDeployments : kube::resources::kServices,
        "web");
    return object.value("metadata", Json::object())
        .value("labels", Json::object())
        .value(std::string(identity::kWiredByLabel), "");
  }
  std::map<std::string, std::vector<std::string>> waits_;
  std::vector<std::string> released_;
};

TEST_F(OneStorePerTarget, TheSecondGetsAConditionNamingTheFirstAndTouchesNothing) {
  Reconciler reconciler = makeWaiting();
  reconciler.reconcile("shop/web");
  ASSERT_EQ(wiredBy("deployments"), "web");
  ASSERT_EQ(wiredBy("services"), "web");
  const Json deploymentBefore = stored(kube::resources::kDeployments, "web");
  const Json serviceBefore = stored(kube::resources::kServices, "web");
  api_.clearRequests();

  reconciler.reconcile("shop/second");
  EXPECT_EQ(stored(kube::resources::kDeployments, "web"), deploymentBefore);
  EXPECT_EQ(stored(kube::resources::kServices, "web"), serviceBefore);
  for (const char* resource : {"deployments", "services"}) {
    EXPECT_EQ(api_.count(Verb::kPatch, resource), 0u) << resource;
  }
  const Json wired = conditionOf("second", "ConnectionWired");
  EXPECT_EQ(wired.value("status", ""), "False");
  EXPECT_EQ(wired.value("reason", ""), api::kReasonTargetClaimed);
  EXPECT_EQ(wired.value("message", ""),
            "Deployment web is already wired by SessionStore web (one SessionStore per "
            "Deployment; the first keeps it): nothing of it is changed; point "
            "spec.target.deployment elsewhere, or delete SessionStore web and this one takes over");
  EXPECT_EQ(conditionOf("second", "WorkersSized").value("reason", ""), api::kReasonTargetClaimed);
  const Json affinity = conditionOf("second", "AffinityApplied");
  EXPECT_EQ(affinity.value("reason", ""), api::kReasonTargetClaimed);
  EXPECT_NE(affinity.value("message", "").find("Service web is already wired by SessionStore web"),
            std::string::npos);
  EXPECT_EQ(waits_["shop/second"],
            (std::vector<std::string>{"Deployment shop/web", "Service shop/web"}));
  EXPECT_EQ(waits_["shop/web"], std::vector<std::string>{});
  EXPECT_EQ(gone_, std::vector<std::string>{"shop/second"}) << "the autoscaler leaves it alone";

  // The first keeps it pass after pass: no fight over the Deployment.
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/second");
  EXPECT_EQ(api_.writes(), 0u) << ::testing::PrintToString(api_.count(std::nullopt));
  EXPECT_EQ(stored(kube::resources::kDeployments, "web"), deploymentBefore);
}

TEST_F(OneStorePerTarget, DeletingTheSecondNeverTouchesTheFirstsWiring) {
  Reconciler reconciler = makeWaiting();
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/second");
  const Json deploymentBefore = stored(kube::resources::kDeployments, "web");
  const Json serviceBefore = stored(kube::resources::kServices, "web");
  Json deleting = stored(kube::resources::kSessionStores, "second");
  deleting["metadata"]["deletionTimestamp"] = "2026-12-05T10:00:00Z";
  api_.put(kube::resources::kSessionStores, deleting);
  api_.clearRequests();
  EXPECT_EQ(reconciler.reconcile("shop/second").kind, Outcome::Kind::kSuccess);
  EXPECT_FALSE(hasFinalizer(stored(kube::resources::kSessionStores, "second")));
  EXPECT_EQ(stored(kube::resources::kDeployments, "web"), deploymentBefore);
  EXPECT_EQ(stored(kube::resources::kServices, "web"), serviceBefore);
  EXPECT_EQ(api_.count(Verb::kPatch, "deployments"), 0u);
  EXPECT_EQ(api_.count(Verb::kPatch, "services"), 0u);
  EXPECT_EQ(waits_["shop/second"], std::vector<std::string>{});
}

TEST_F(OneStorePerTarget, WhenTheFirstIsDeletedTheSecondTakesOver) {
  Reconciler reconciler = makeWaiting();
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/second");
  Json deleting = stored(kube::resources::kSessionStores, "web");
  deleting["metadata"]["deletionTimestamp"] = "2026-12-05T10:00:00Z";
  api_.put(kube::resources::kSessionStores, deleting);
  // While the first is being deleted its wiring is there: the second still waits.
  reconciler.reconcile("shop/second");
  EXPECT_EQ(conditionOf("second", "ConnectionWired").value("reason", ""),
            api::kReasonTargetClaimed);

  bool finalized = false;
  for (int pass = 0; pass < 5 && !finalized; ++pass) {
    finalized = reconciler.reconcile("shop/web").kind == Outcome::Kind::kSuccess;
  }
  ASSERT_TRUE(finalized);
  EXPECT_GE(api_.count(Verb::kPatch, "deployments"), 1u) << "the first's wiring released";
  EXPECT_EQ(released_, (std::vector<std::string>{"Deployment shop/web", "Service shop/web"}))
      << "the stores waiting for them are woken";
  // The in-memory client merges applies but does not drop the fields a manager stops applying;
  // the API server does: the Deployment and Service as it leaves them, without the wiring.
  api_.put(kube::resources::kDeployments, deploymentObject());
  api_.put(kube::resources::kServices, serviceObject());
  api_.remove(kube::resources::kSessionStores, "shop", "web");

  reconciler.reconcile("shop/second");
  EXPECT_EQ(conditionOf("second", "ConnectionWired").value("reason", ""), api::kReasonWired);
  EXPECT_EQ(wiredBy("deployments"), "second");
  EXPECT_EQ(wiredBy("services"), "second");
  EXPECT_EQ(waits_["shop/second"], std::vector<std::string>{});
}

TEST_F(OneStorePerTarget, WithNoWiringYetTheOldestKeepsIt) {
  // "second" is older than "web" here; neither has wired anything.
  api_.put(kube::resources::kSessionStores, rivalObject("second", "2026-12-05T07:00:00Z"));
  Reconciler reconciler = makeWaiting();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(conditionOf("web", "ConnectionWired").value("reason", ""), api::kReasonTargetClaimed);
  EXPECT_NE(conditionOf("web", "ConnectionWired").value("message", "").find("SessionStore second"),
            std::string::npos);
  EXPECT_EQ(wiredBy("deployments"), "");
  reconciler.reconcile("shop/second");
  EXPECT_EQ(wiredBy("deployments"), "second");
  // Same creationTimestamp: the name decides.
  EXPECT_EQ(
      targetHolder(
          parsed(rivalObject("b", "2026-12-05T07:00:00Z")), "deployment", deploymentObject(),
          {rivalObject("b", "2026-12-05T07:00:00Z"), rivalObject("a", "2026-12-05T07:00:00Z")}),
      "a");
}

TEST_F(ReconcilerTest, AnExternalStoreIsProbedAtItsUrlAndWired) {
  api_.put(kube::resources::kSessionStores, storeObject(kExternalSpec));
  api_.put(kube::resources::kSecrets,
           {{"kind", "Secret"},
            {"metadata", {{"namespace", "shop"}, {"name", "redis-url"}}},
            {"data", {{"url", "cmVkaXM6Ly9hcHA6czNjcjN0QHJlZGlzLmV4YW1wbGU6NjM3OQ=="}}}});
  health_.answer = answers();
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  ASSERT_TRUE(health_.lastApp.has_value());
  EXPECT_EQ(health_.lastApp->host, "redis.example");
  EXPECT_FALSE(health_.lastMonitor.has_value());
  EXPECT_TRUE(exists(kube::resources::kSecrets, "web-session-store"));
  EXPECT_FALSE(exists(kube::resources::kStatefulSets, "web-redis"));
  EXPECT_EQ(status()["phase"], "Ready");
  EXPECT_EQ(status().dump().find("s3cr3t"), std::string::npos) << "no password in the status";
}

}  // namespace
}  // namespace sessionstore::reconcile

namespace sessionstore::reconcile {
namespace {

// Issue 18, memory that follows load, through the reconciler's steps: the reading, the window on
// the injected clock, CONFIG SET as the monitor user, and the objects at the raised level with
// the config hash (and so the pod) untouched.
class MemoryReconcilerTest : public ReconcilerTest {
 protected:
  void SetUp() override {
    Json spec = kManagedSpec;
    spec["store"]["managed"] = {{"memory", {{"ceiling", "128Mi"}, {"windowSeconds", 60}}}};
    api_.put(kube::resources::kSessionStores, storeObject(spec));
    api_.put(kube::resources::kDeployments, deploymentObject());
    api_.put(kube::resources::kServices, serviceObject());
    health_.answer = answers();
  }
  Reconciler makeWithMemory() {
    return Reconciler(api_, api_, health_, fixedBytes, nullptr, {.memory = &memory_}, clock_);
  }
  Json memoryStatus() { return status()["store"].value("memory", Json()); }
  std::string configHash() {
    return stored(kube::resources::kStatefulSets,
                  "web-redis")["spec"]["template"]["metadata"]["annotations"]
        .value(std::string(identity::kConfigHashAnnotation), "");
  }

  static constexpr std::int64_t kMi = std::int64_t{1} << 20;
  health::FakeMemoryControl memory_;
};

TEST_F(MemoryReconcilerTest, LoadAboveTheTargetForTheWindowRaisesOneStepAndStopsAtTheCeiling) {
  Reconciler reconciler = makeWithMemory();
  memory_.reading = health::MemoryReading{.usedMemory = 10 * kMi, .maxMemory = 64 * kMi};
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/web");
  EXPECT_EQ(memoryStatus()["maxMemory"], "64Mi") << status().dump(1);
  EXPECT_EQ(condition("MemoryAtCeiling")["status"], "False");
  EXPECT_EQ(status()["phase"], "Ready") << "the memory condition is not one Ready waits for";
  const std::string hash = configHash();
  ASSERT_FALSE(hash.empty());

  // Converged: used_memory moving below the target writes nothing.
  memory_.reading->usedMemory = 11 * kMi;
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(api_.writes(), 0u) << ::testing::PrintToString(api_.count(std::nullopt));

  // Above 90% of 64Mi: the window starts; nothing is raised before it ends.
  memory_.reading->usedMemory = 60 * kMi;
  const Outcome started = reconciler.reconcile("shop/web");
  EXPECT_FALSE(memoryStatus().value("aboveTargetSince", "").empty()) << status().dump(1);
  EXPECT_LE(started.after, std::chrono::seconds(60)) << "looked at again when the window ends";
  clock_.advance(std::chrono::seconds(59));
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(memory_.sets.empty());

  clock_.advance(std::chrono::seconds(1));
  reconciler.reconcile("shop/web");
  EXPECT_EQ(memory_.sets, std::vector<std::int64_t>{128 * kMi}) << "one step, live";
  EXPECT_EQ(memory_.users.back(), managedstore::kMonitorUser);
  EXPECT_EQ(memoryStatus()["maxMemory"], "128Mi");
  const Json config = stored(kube::resources::kConfigMaps, "web-redis-config");
  EXPECT_EQ(configMapMaxMemory(config), 128 * kMi) << "a restart keeps it";
  const Json sts = stored(kube::resources::kStatefulSets, "web-redis");
  EXPECT_EQ(sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "160Mi");
  EXPECT_EQ(configHash(), hash) << "the pod template's config hash did not move: no roll";
  EXPECT_EQ(api_.count(Verb::kPatch, "pods"), 1u) << "the running pod resized in place";
  EXPECT_EQ(condition("MemoryAtCeiling")["status"], "True");
  EXPECT_EQ(condition("MemoryAtCeiling")["reason"], "CeilingReached");

  // At the ceiling: however long it stays full, nothing more is set.
  memory_.reading->usedMemory = 127 * kMi;
  reconciler.reconcile("shop/web");
  clock_.advance(std::chrono::seconds(600));
  reconciler.reconcile("shop/web");
  EXPECT_EQ(memory_.sets.size(), 1u);
  EXPECT_EQ(memoryStatus()["maxMemory"], "128Mi");
}

// A TLS-only store answers its monitor over TLS only: the memory is read there over TLS.
TEST_F(MemoryReconcilerTest, ATlsStoresMemoryIsReadOverTls) {
  Json store = stored(kube::resources::kSessionStores, "web");
  store["spec"]["store"]["managed"]["tls"] = {{"enabled", true}};
  api_.put(kube::resources::kSessionStores, store);
  Reconciler reconciler = makeWithMemory();
  memory_.reading = health::MemoryReading{.usedMemory = 10 * kMi, .maxMemory = 64 * kMi};
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/web");
  ASSERT_FALSE(memory_.overTls.empty()) << status().dump(1);
  for (const bool tls : memory_.overTls) EXPECT_TRUE(tls);
  EXPECT_EQ(memoryStatus()["maxMemory"], "64Mi") << status().dump(1);
}

TEST_F(MemoryReconcilerTest, ARefusedConfigSetRaisesNothingAnywhere) {
  Reconciler reconciler = makeWithMemory();
  memory_.reading = health::MemoryReading{.usedMemory = 60 * kMi, .maxMemory = 64 * kMi};
  memory_.refuseSet = true;
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/web");
  clock_.advance(std::chrono::seconds(61));
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(memory_.sets.empty());
  EXPECT_EQ(memoryStatus()["maxMemory"], "64Mi");
  EXPECT_EQ(configMapMaxMemory(stored(kube::resources::kConfigMaps, "web-redis-config")), 64 * kMi)
      << "redis.conf says what Redis has";
}

}  // namespace
}  // namespace sessionstore::reconcile

namespace sessionstore::reconcile {
namespace {

// Issue 18, replicas and failover, through the reconciler's steps: the replication password
// added to the password Secret, the pods' role label moved by merge patches (the old one removed
// before the new one is set), REPLICAOF as the monitor user, and the status and its duration on
// the injected clock.
class ReplicasReconcilerTest : public ReconcilerTest {
 protected:
  void SetUp() override {
    Json spec = kManagedSpec;
    spec["store"]["managed"] = {{"replicas", 3}};
    api_.put(kube::resources::kSessionStores, storeObject(spec));
    api_.put(kube::resources::kDeployments, deploymentObject());
    api_.put(kube::resources::kServices, serviceObject());
    health_.answer = answers();
    for (int i = 0; i < 3; ++i) {
      api_.put(kube::resources::kPods,
               {{"kind", "Pod"},
                {"metadata",
                 {{"namespace", "shop"},
                  {"name", pod(i)},
                  {"labels",
                   {{"app.kubernetes.io/name", "redis"},
                    {"app.kubernetes.io/instance", "web"},
                    {"app.kubernetes.io/managed-by", "sessionstore-operator"},
                    {"sessionstore.io/name", "web"}}}}},
                {"status", {{"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}});
      // As the start script starts them: replicas of the client Service, nothing synced yet.
      redis_.redis[host(i)] = {.master = false, .masterHost = "web-redis", .masterPort = 6379};
    }
  }
  Reconciler makeWithReplication() {
    return Reconciler(api_, api_, health_, fixedBytes, nullptr, {.replication = &redis_}, clock_);
  }
  static std::string pod(int i) { return "web-redis-" + std::to_string(i); }
  static std::string host(int i) { return pod(i) + ".web-redis-headless.shop.svc"; }
  bool labelled(int i) {
    return stored(kube::resources::kPods, pod(i))["metadata"]["labels"].value(
               "sessionstore.io/role", "") == "primary";
  }
  // The pods patched, in order.
  std::vector<std::string> podPatches() {
    std::vector<std::string> out;
    for (const auto& request : api_.requests()) {
      if (request.resource == "pods" && request.verb == FakeClient::Verb::kPatch) {
        out.push_back(request.name);
      }
    }
    return out;
  }

  health::FakeReplicationControl redis_;
};

TEST_F(ReplicasReconcilerTest, TheFirstPassLabelsPodZeroAndPointsTheOthersAtIt) {
  Reconciler reconciler = makeWithReplication();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(redis_.commands,
            (std::vector<std::string>{"promote " + host(0), "replicaof " + host(1) + " " +
                                                                host(0) + ":6379",
                                      "replicaof " + host(2) + " " + host(0) + ":6379"}));
  EXPECT_TRUE(labelled(0));
  EXPECT_FALSE(labelled(1));
  EXPECT_FALSE(labelled(2));
  EXPECT_EQ(status()["store"].value("primary", ""), "web-redis-0") << status().dump(1);
  for (const auto& user : redis_.users) EXPECT_EQ(user, "monitor");
  // The objects of a replicated store.
  EXPECT_TRUE(stored(kube::resources::kSecrets, "web-redis-auth")["data"].contains(
      "replication-password"));
  EXPECT_NE(stored(kube::resources::kConfigMaps, "web-redis-config")["data"]["users.acl"]
                .get<std::string>()
                .find("user replication on #"),
            std::string::npos);
  EXPECT_TRUE(exists(kube::resources::kPodDisruptionBudgets, "web-redis"));
  EXPECT_EQ(stored(kube::resources::kStatefulSets, "web-redis")["spec"]["replicas"], 3);

  // Converged: nothing is moved again.
  redis_.commands.clear();
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(redis_.commands.empty()) << ::testing::PrintToString(redis_.commands);
  EXPECT_TRUE(podPatches().empty());
}

TEST_F(ReplicasReconcilerTest, ALostPrimaryIsFencedAndTheReplicaWithMostDataPromoted) {
  Reconciler reconciler = makeWithReplication();
  reconciler.reconcile("shop/web");
  ASSERT_TRUE(labelled(0));
  redis_.redis[host(0)].up = false;
  redis_.redis[host(1)].offset = 400;
  redis_.redis[host(2)].offset = 500;
  redis_.commands.clear();
  api_.clearRequests();
  clock_.advance(std::chrono::seconds(3));
  const Outcome outcome = reconciler.reconcile("shop/web");

  EXPECT_EQ(podPatches(), (std::vector<std::string>{pod(0), pod(2)}))
      << "the old primary's label goes before the new one is set";
  EXPECT_FALSE(labelled(0));
  EXPECT_FALSE(labelled(1));
  EXPECT_TRUE(labelled(2));
  EXPECT_EQ(redis_.commands,
            (std::vector<std::string>{"promote " + host(2),
                                      "replicaof " + host(1) + " " + host(2) + ":6379"}));
  const Json store = status()["store"];
  EXPECT_EQ(store.value("primary", ""), "web-redis-2");
  EXPECT_EQ(store["lastFailover"]["from"], "web-redis-0") << store.dump(1);
  EXPECT_EQ(store["lastFailover"]["to"], "web-redis-2");
  EXPECT_EQ(store["lastFailover"]["durationMs"], 0) << "seen and done in one pass";
  EXPECT_LE(outcome.after, std::chrono::seconds(1)) << "looked at again soon after a failover";

  // The old primary comes back as a master with nothing: made a replica, never labelled.
  redis_.redis[host(0)] = {.up = true, .master = true, .offset = 0};
  redis_.commands.clear();
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(redis_.commands,
            (std::vector<std::string>{"replicaof " + host(0) + " " + host(2) + ":6379"}));
  EXPECT_TRUE(podPatches().empty());
  EXPECT_TRUE(labelled(2));
  EXPECT_EQ(status()["store"]["lastFailover"]["to"], "web-redis-2") << "kept in status";
}

TEST_F(ReplicasReconcilerTest, APrimaryLostWithNoReplicaToPromoteKeepsItsLabel) {
  Reconciler reconciler = makeWithReplication();
  reconciler.reconcile("shop/web");
  for (int i = 0; i < 3; ++i) redis_.redis[host(i)].up = false;
  redis_.commands.clear();
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(labelled(0));
  EXPECT_TRUE(podPatches().empty());
  // Then a replica answers again, 5 s later: the failover's duration counts from the loss.
  redis_.redis[host(1)].up = true;
  clock_.advance(std::chrono::seconds(5));
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(labelled(1));
  EXPECT_FALSE(labelled(0));
  EXPECT_EQ(status()["store"]["lastFailover"]["durationMs"], 5000) << status().dump(1);
}

TEST_F(ReplicasReconcilerTest, WithoutReplicationControlReplicasAreRefused) {
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(status()["phase"], "Failed") << status().dump(1);
  EXPECT_NE(condition("Ready").value("message", "").find("spec.store.managed.replicas"),
            std::string::npos);
  EXPECT_FALSE(exists(kube::resources::kStatefulSets, "web-redis"));
}

// Issue 18, password rotation through the reconciler's steps: the new password in the Secret
// first, in Redis (the fake) before the app is given it, and the old one removed only once the
// app's pods all run with the new connection hash.
class RotationReconcilerTest : public ReconcilerTest {
 protected:
  void SetUp() override {
    ReconcilerTest::SetUp();
    health_.answer = answers();
  }
  // Each password different (fixedBytes would make the new one the old one).
  Reconciler makeWithPasswords() {
    auto counting = [n = std::make_shared<unsigned char>(0)](std::span<unsigned char> out) {
      ++*n;
      for (auto& byte : out) byte = *n;
      return true;
    };
    return Reconciler(api_, api_, health_, counting, nullptr, {.passwords = &passwords_}, clock_);
  }
  std::string secretValue(const std::string& name, const std::string& key) {
    const Json secret = stored(kube::resources::kSecrets, name);
    if (!secret.contains("data") || !secret["data"].contains(key) ||
        !secret["data"][key].is_string()) {
      return "";
    }
    return crypto::base64Decode(secret["data"][key].get<std::string>()).value_or("");
  }
  void annotate(const std::string& value) {
    Json store = stored(kube::resources::kSessionStores, "web");
    store["metadata"]["annotations"][std::string(identity::kRotatePasswordAnnotation)] = value;
    api_.put(kube::resources::kSessionStores, store);
  }
  Json rotation() { return status()["store"].value("passwordRotation", Json()); }
  // The Deployment's controller and the kubelet: the rollout done, every pod on the template.
  void rollOut() {
    Json deployment = stored(kube::resources::kDeployments, "web");
    deployment["metadata"]["generation"] = 7;
    deployment["status"] = {
        {"observedGeneration", 7}, {"replicas", 2},          {"updatedReplicas", 2},
        {"readyReplicas", 2},      {"availableReplicas", 2}};
    api_.put(kube::resources::kDeployments, deployment);
    for (const char* name : {"web-new-1", "web-new-2"}) {
      api_.put(
          kube::resources::kPods,
          {{"apiVersion", "v1"},
           {"kind", "Pod"},
           {"metadata",
            {{"namespace", "shop"},
             {"name", name},
             {"labels", {{"app", "web"}}},
             {"annotations",
              {{std::string(identity::kConnectionHashAnnotation), hashOfConnection(deployment)}}}}},
           {"status", {{"phase", "Running"}}}});
    }
  }
  health::FakePasswordControl passwords_;
};

TEST_F(RotationReconcilerTest, AddsTheNewPasswordBeforeTheAppAndRemovesTheOldOneAfterTheRollout) {
  Reconciler reconciler = makeWithPasswords();
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/web");
  const std::string old = secretValue("web-redis-auth", "app-password");
  ASSERT_FALSE(old.empty());
  ASSERT_EQ(secretValue("web-session-store", "REDIS_PASSWORD"), old);

  annotate("1");
  reconciler.reconcile("shop/web");
  const std::string fresh = secretValue("web-redis-auth", "app-password");
  EXPECT_NE(fresh, old);
  EXPECT_EQ(secretValue("web-redis-auth", "previous-app-password"), old);
  EXPECT_EQ(passwords_.accepted["app"], std::set<std::string>{crypto::sha256Hex(fresh)});
  EXPECT_EQ(passwords_.callers.back(), managedstore::kMonitorUser);
  EXPECT_EQ(secretValue("web-session-store", "REDIS_PASSWORD"), fresh);
  const std::string acl =
      stored(kube::resources::kConfigMaps, "web-redis-config")["data"].value("users.acl", "");
  EXPECT_NE(acl.find("#" + crypto::sha256Hex(old)), std::string::npos) << acl;
  EXPECT_NE(acl.find("#" + crypto::sha256Hex(fresh)), std::string::npos) << acl;
  EXPECT_EQ(rotation()["phase"], "RollingOut") << status().dump(1);
  EXPECT_EQ(rotation()["requested"], "1");

  // The pods still run with the old connection: nothing is removed.
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(passwords_.removed.empty());
  EXPECT_EQ(rotation()["phase"], "RollingOut");

  rollOut();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(passwords_.removed, std::vector<std::string>{crypto::sha256Hex(old)});
  EXPECT_EQ(rotation()["phase"], "Completed") << status().dump(1);
  EXPECT_EQ(secretValue("web-redis-auth", "previous-app-password"), "");
  EXPECT_EQ(secretValue("web-redis-auth", "app-password"), fresh);
  const std::string after =
      stored(kube::resources::kConfigMaps, "web-redis-config")["data"].value("users.acl", "");
  EXPECT_EQ(after.find("#" + crypto::sha256Hex(old)), std::string::npos) << after;

  // The same value again is handled already.
  reconciler.reconcile("shop/web");
  EXPECT_EQ(secretValue("web-redis-auth", "app-password"), fresh);
  EXPECT_EQ(passwords_.removed.size(), 1u);
}

TEST_F(RotationReconcilerTest, TheAppKeepsTheOldPasswordUntilRedisAcceptsTheNewOne) {
  Reconciler reconciler = makeWithPasswords();
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/web");
  const std::string old = secretValue("web-redis-auth", "app-password");
  passwords_.refuse = true;
  annotate("1");
  reconciler.reconcile("shop/web");
  EXPECT_EQ(secretValue("web-redis-auth", "previous-app-password"), old);
  EXPECT_EQ(secretValue("web-session-store", "REDIS_PASSWORD"), old);
  EXPECT_EQ(rotation()["phase"], "Started") << status().dump(1);

  passwords_.refuse = false;
  reconciler.reconcile("shop/web");
  EXPECT_EQ(secretValue("web-session-store", "REDIS_PASSWORD"),
            secretValue("web-redis-auth", "app-password"));
  EXPECT_EQ(rotation()["phase"], "RollingOut") << status().dump(1);
}

}  // namespace
}  // namespace sessionstore::reconcile

namespace sessionstore::reconcile {
namespace {

// Rotation in a replicated store: ACL SETUSER is not replicated, so the new password is added to
// (and the old one removed from) every Redis pod by its stable name, not only the primary: a
// replica promoted later accepts the app's new password.
TEST_F(ReplicasReconcilerTest, ARotationChangesThePasswordOnEveryPod) {
  health::FakePasswordControl passwords;
  auto counting = [n = std::make_shared<unsigned char>(0)](std::span<unsigned char> out) {
    ++*n;
    for (auto& byte : out) byte = *n;
    return true;
  };
  Reconciler reconciler(api_, api_, health_, counting, nullptr,
                        {.replication = &redis_, .passwords = &passwords}, clock_);
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/web");
  Json store = stored(kube::resources::kSessionStores, "web");
  store["metadata"]["annotations"][std::string(identity::kRotatePasswordAnnotation)] = "1";
  api_.put(kube::resources::kSessionStores, store);
  reconciler.reconcile("shop/web");
  EXPECT_EQ(passwords.hosts, (std::vector<std::string>{host(0), host(1), host(2)}))
      << "the new password must reach every pod";
  EXPECT_EQ(status()["store"]["passwordRotation"].value("phase", ""), "RollingOut")
      << status().dump(1);
}

TEST_F(ReplicasReconcilerTest, RaisedMemoryReachesEveryPodAndEveryPodsLimit) {
  constexpr std::int64_t kMi = std::int64_t{1} << 20;
  Json store = stored(kube::resources::kSessionStores, "web");
  store["spec"]["store"]["managed"]["memory"] = {{"ceiling", "256Mi"}, {"windowSeconds", 60}};
  api_.put(kube::resources::kSessionStores, store);
  health::FakeMemoryControl memory;
  memory.reading = health::MemoryReading{.usedMemory = 60 * kMi, .maxMemory = 64 * kMi};
  events::EventRecorder recorder(api_, clock_, {.reportingInstance = "test"});
  Reconciler reconciler(api_, api_, health_, fixedBytes, &recorder,
                        {.memory = &memory, .replication = &redis_}, clock_);
  reconciler.reconcile("shop/web");
  reconciler.reconcile("shop/web");
  ASSERT_TRUE(memory.sets.empty());
  clock_.advance(std::chrono::seconds(61));
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  // The primary through the Service first (what the app uses), then every pod by its name: a
  // replica promoted later serves as much as the primary did.
  ASSERT_EQ(memory.setHosts.size(), 4u) << ::testing::PrintToString(memory.setHosts);
  EXPECT_EQ(std::vector<std::string>(memory.setHosts.begin() + 1, memory.setHosts.end()),
            (std::vector<std::string>{host(0), host(1), host(2)}));
  EXPECT_EQ(memory.sets, std::vector<std::int64_t>(4, 128 * kMi));
  EXPECT_EQ(podPatches(), (std::vector<std::string>{pod(0), pod(1), pod(2)}))
      << "every pod's memory limit resized in place";
  EXPECT_EQ(status()["store"]["memory"]["maxMemory"], "128Mi") << status().dump(1);

  // A pod that does not answer the next raise: told as a Warning, the raise stands (the primary
  // has it, redis.conf has it for that pod's next start).
  memory.reading->usedMemory = 120 * kMi;
  memory.refuseHosts = {host(2)};
  reconciler.reconcile("shop/web");
  clock_.advance(std::chrono::seconds(61));
  reconciler.reconcile("shop/web");
  EXPECT_EQ(memory.sets.back(), 256 * kMi);
  EXPECT_EQ(status()["store"]["memory"]["maxMemory"], "256Mi") << status().dump(1);
  recorder.sendDue();
  const auto listed = api_.list(kube::resources::kEvents, "shop");
  ASSERT_TRUE(listed.has_value());
  bool warned = false;
  for (const auto& e : listed->items) {
    warned = warned || (e.value("reason", "") == "MemoryRaisePartial" &&
                        e.value("note", "").find(pod(2)) != std::string::npos);
  }
  EXPECT_TRUE(warned) << "no MemoryRaisePartial Event naming " << pod(2);
}

// At rest the pods of a settled store are listed with resourceVersion "0" (from the pod
// informer's cache in the operator, no request) and looked at again only as a backstop; once a
// failover is under way they are listed from the server, so it decides on the labels as they are.
TEST_F(ReplicasReconcilerTest, ASettledStoresPodsComeFromTheCacheAndAFailoversFromTheServer) {
  Reconciler reconciler = makeWithReplication();
  const auto podLists = [&] {
    std::vector<std::string> out;
    for (const auto& request : api_.requests()) {
      if (request.resource == "pods" && request.verb == FakeClient::Verb::kList) {
        out.push_back(request.resourceVersion);
      }
    }
    return out;
  };
  reconciler.reconcile("shop/web");  // elects pod 0: not settled yet
  EXPECT_EQ(podLists(), std::vector<std::string>{""});
  api_.clearRequests();
  const Outcome settled = reconciler.reconcile("shop/web");
  EXPECT_EQ(podLists(), std::vector<std::string>{""}) << "the first settled look is the server's";
  EXPECT_GT(settled.after, std::chrono::seconds(5)) << "at rest, a backstop only";
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(podLists(), std::vector<std::string>{"0"}) << "settled: from the cache";
  EXPECT_EQ(redis_.commands.size(), 3u) << "nothing moved at rest";

  // The primary is lost: the pass that sees it (from the cache) fails over, and the next looks
  // are the server's until it is settled again.
  redis_.redis[host(0)].up = false;
  api_.clearRequests();
  const Outcome lost = reconciler.reconcile("shop/web");
  EXPECT_LE(lost.after, std::chrono::seconds(1));
  EXPECT_TRUE(labelled(1)) << "the replica with the lowest ordinal among equals promoted";
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(podLists(), std::vector<std::string>{""}) << "during a failover: the server's";
}

}  // namespace
}  // namespace sessionstore::reconcile

namespace sessionstore::reconcile {
namespace {

// Scaling a replicated store down: the StatefulSet deletes the highest ordinals, so a primary on
// one of them first hands over, as planned, to a pod that stays and has caught up; only then is
// the StatefulSet lowered. Down to one pod, the end is a store as if made with one pod: no
// budget, a client Service without the role, no pod labelled, pod 0 a master.
class ScaleDownReconcilerTest : public ReplicasReconcilerTest {
 protected:
  void scaleTo(int replicas) {
    Json store = stored(kube::resources::kSessionStores, "web");
    store["spec"]["store"]["managed"]["replicas"] = replicas;
    api_.put(kube::resources::kSessionStores, store);
  }
  int statefulSetReplicas() {
    return stored(kube::resources::kStatefulSets, "web-redis")["spec"]["replicas"].get<int>();
  }
  // The first pass elects pod 0; pod 0's Redis then crashes and pod 2, with the most data, is
  // promoted; pod 0 returns and follows it, behind.
  void primaryOnPodTwo(Reconciler& reconciler) {
    reconciler.reconcile("shop/web");
    ASSERT_TRUE(labelled(0));
    redis_.redis[host(0)].up = false;
    redis_.redis[host(1)].offset = 400;
    redis_.redis[host(2)].offset = 500;
    reconciler.reconcile("shop/web");
    ASSERT_TRUE(labelled(2));
    redis_.redis[host(0)] = {.up = true, .master = true, .offset = 0};
    reconciler.reconcile("shop/web");
    ASSERT_FALSE(redis_.redis[host(0)].master);
    redis_.redis[host(0)].offset = 480;
    redis_.commands.clear();
    api_.clearRequests();
  }
};

TEST_F(ScaleDownReconcilerTest, ThreeToOneMovesThePrimaryToACaughtUpPodZeroBeforeTheStatefulSet) {
  Reconciler reconciler = makeWithReplication();
  primaryOnPodTwo(reconciler);
  scaleTo(1);

  // Pod 0 is behind the primary: nothing moves, and the StatefulSet keeps its three pods.
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(redis_.commands.empty()) << ::testing::PrintToString(redis_.commands);
  EXPECT_TRUE(podPatches().empty());
  EXPECT_EQ(statefulSetReplicas(), 3);
  EXPECT_TRUE(labelled(2));
  EXPECT_EQ(status()["store"].value("primary", ""), "web-redis-2");
  EXPECT_TRUE(exists(kube::resources::kPodDisruptionBudgets, "web-redis"));

  // Caught up: the primary is fenced (unlabelled, then a replica of pod 0) before pod 0 is
  // promoted and labelled; pod 1 follows pod 0. The StatefulSet still has three pods.
  redis_.redis[host(0)].offset = 500;
  reconciler.reconcile("shop/web");
  EXPECT_EQ(redis_.commands,
            (std::vector<std::string>{"replicaof " + host(2) + " " + host(0) + ":6379",
                                      "promote " + host(0),
                                      "replicaof " + host(1) + " " + host(0) + ":6379"}));
  EXPECT_EQ(podPatches(), (std::vector<std::string>{pod(2), pod(0)}));
  EXPECT_TRUE(labelled(0));
  EXPECT_FALSE(labelled(2));
  EXPECT_EQ(status()["store"].value("primary", ""), "web-redis-0");
  EXPECT_EQ(statefulSetReplicas(), 3);

  // Then the store of one pod.
  redis_.commands.clear();
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(statefulSetReplicas(), 1);
  EXPECT_FALSE(exists(kube::resources::kPodDisruptionBudgets, "web-redis"));
  // The client Service is applied (without the role in its selector, as a one-pod store's:
  // the fake merges, so the key's removal by the API server's apply is the integration test's)
  // before the label leaves pod 0, so it never selects nothing.
  std::optional<std::size_t> serviceAt;
  std::optional<std::size_t> unlabelAt;
  const auto requests = api_.requests();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].resource == "services" && requests[i].name == "web-redis" &&
        requests[i].verb == FakeClient::Verb::kPatch && !serviceAt) {
      serviceAt = i;
    }
    if (requests[i].resource == "pods" && requests[i].verb == FakeClient::Verb::kPatch) {
      unlabelAt = i;
    }
  }
  ASSERT_TRUE(serviceAt && unlabelAt);
  EXPECT_LT(*serviceAt, *unlabelAt);
  EXPECT_FALSE(labelled(0)) << "a one-pod store's Service selects no role";
  EXPECT_TRUE(redis_.commands.empty()) << "pod 0 is a master already";
  EXPECT_EQ(stored(kube::resources::kConfigMaps, "web-redis-config")["data"]["users.acl"]
                .get<std::string>()
                .find("user replication"),
            std::string::npos);
  // Converged.
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(podPatches().empty());
  EXPECT_TRUE(redis_.commands.empty());
}

TEST_F(ScaleDownReconcilerTest, ThreeToTwoKeepsAPrimaryThatStays) {
  Reconciler reconciler = makeWithReplication();
  reconciler.reconcile("shop/web");
  ASSERT_TRUE(labelled(0));
  redis_.commands.clear();
  api_.clearRequests();
  scaleTo(2);
  reconciler.reconcile("shop/web");
  EXPECT_EQ(statefulSetReplicas(), 2);
  EXPECT_TRUE(redis_.commands.empty());
  EXPECT_TRUE(podPatches().empty());
  EXPECT_TRUE(labelled(0));
  EXPECT_TRUE(exists(kube::resources::kPodDisruptionBudgets, "web-redis")) << "two pods still";
  EXPECT_EQ(status()["store"].value("primary", ""), "web-redis-0");
}

TEST_F(ScaleDownReconcilerTest, AFailoverUnderWayIsSettledFirstThenTheSwitchoverWaitsForData) {
  Reconciler reconciler = makeWithReplication();
  primaryOnPodTwo(reconciler);
  scaleTo(1);
  // The primary (pod 2) is lost while the scale down waits: the failover promotes the pod with
  // the most data (pod 1, though it goes too), and the StatefulSet keeps its pods.
  redis_.redis[host(2)].up = false;
  redis_.redis[host(1)].offset = 520;
  redis_.redis[host(0)].offset = 510;
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(labelled(1));
  EXPECT_EQ(statefulSetReplicas(), 3);
  // Pod 0 behind pod 1: held.
  redis_.redis[host(0)].masterHost = host(1);
  redis_.redis[host(1)].offset = 520;
  redis_.commands.clear();
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(redis_.commands.empty()) << ::testing::PrintToString(redis_.commands);
  EXPECT_EQ(statefulSetReplicas(), 3);
  // Caught up: moved to pod 0, then the StatefulSet goes down.
  redis_.redis[host(0)].offset = 520;
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(labelled(0));
  EXPECT_FALSE(labelled(1));
  ASSERT_FALSE(redis_.commands.empty());
  EXPECT_EQ(redis_.commands.front(), "replicaof " + host(1) + " " + host(0) + ":6379")
      << "the old primary is fenced first";
  reconciler.reconcile("shop/web");
  EXPECT_EQ(statefulSetReplicas(), 1);
}

TEST_F(ScaleDownReconcilerTest, AfterTheStatefulSetWentDownALeavingPodIsNeverPromoted) {
  Reconciler reconciler = makeWithReplication();
  reconciler.reconcile("shop/web");
  ASSERT_TRUE(labelled(0));
  scaleTo(2);
  reconciler.reconcile("shop/web");
  ASSERT_EQ(statefulSetReplicas(), 2);
  // Pod 2 is still there (being deleted) with the most data when the primary is lost.
  redis_.redis[host(0)].up = false;
  redis_.redis[host(1)].offset = 400;
  redis_.redis[host(2)].offset = 500;
  redis_.commands.clear();
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(labelled(1));
  EXPECT_FALSE(labelled(2));
  ASSERT_FALSE(redis_.commands.empty());
  EXPECT_EQ(redis_.commands.front(), "promote " + host(1));
}

TEST_F(ScaleDownReconcilerTest, AnOnlyPodLeftAReplicaIsMadeAMasterAndUnlabelled) {
  Reconciler reconciler = makeWithReplication();
  reconciler.reconcile("shop/web");
  ASSERT_TRUE(labelled(0));
  // As an operator without the switchover left it: pod 2 was primary and is gone; pod 0 is a
  // replica of the client Service, which now selects pod 0 itself; pod 2's label... gone with
  // it, pod 0's label left by hand.
  scaleTo(1);
  api_.remove(kube::resources::kPods, "shop", pod(1));
  api_.remove(kube::resources::kPods, "shop", pod(2));
  Json sts = stored(kube::resources::kStatefulSets, "web-redis");
  sts["spec"]["replicas"] = 1;
  api_.put(kube::resources::kStatefulSets, sts);
  redis_.redis[host(0)] = {.master = false, .masterHost = "web-redis", .masterPort = 6379};
  redis_.commands.clear();
  api_.clearRequests();
  reconciler.reconcile("shop/web");
  EXPECT_EQ(redis_.commands, (std::vector<std::string>{"promote " + host(0)}));
  EXPECT_FALSE(labelled(0));
  EXPECT_FALSE(exists(kube::resources::kPodDisruptionBudgets, "web-redis"));
  // Converged: pod 0 is a master, nothing to do.
  redis_.commands.clear();
  reconciler.reconcile("shop/web");
  EXPECT_TRUE(redis_.commands.empty());
}

}  // namespace
}  // namespace sessionstore::reconcile
