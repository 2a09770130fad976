// The reconciler's decisions (reconcile/decide.h) as tables of inputs and answers: no client,
// no clock, no cluster.
#include "reconcile/decide.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "identity/identity.h"
#include "mocks/kube/fake_client.h"
#include "reconcile/fixtures.h"
#include "support/test_ca.h"
#include "wiring/connection.h"

namespace sessionstore::reconcile {
namespace {

using namespace testing;  // NOLINT: the fixtures

const std::string kManager{identity::kFieldManager};

// A Deployment whose env the operator applied before (it owns a field through Apply).
Json wiredDeployment() {
  Json deployment = deploymentObject();
  deployment["metadata"]["managedFields"] = Json::parse(R"([{
    "manager": "sessionstore-operator", "operation": "Apply",
    "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
      "k:{\"name\":\"app\"}": {".": {}, "f:env": {"k:{\"name\":\"REDIS_URL\"}": {".": {}, "f:name": {}}}}}}}}}}])");
  deployment["metadata"]["managedFields"][0]["manager"] = kManager;
  return deployment;
}

Json passwordSecret(const api::SessionStore& s, const std::string& uid = "store-uid") {
  auto passwords = managedstore::generatePasswords(fixedBytes);
  return ownedBy(managedstore::authSecret(s, *passwords), uid);
}

// --- decideWrite -------------------------------------------------------------------------------

struct WriteRow {
  std::string name;
  std::optional<Json> observed;
  WriteNeed want;
};

TEST(DecideWrite, FromWhatExists) {
  const Json desired = withDesiredHash(
      {{"kind", "ConfigMap"}, {"metadata", {{"name", "c"}}}, {"data", {{"k", "v"}}}});
  Json same = ownedBy(desired);
  same["metadata"]["resourceVersion"] = "7";  // the server's additions do not matter
  Json edited = same;
  edited["data"]["k"] = "changed by hand";
  Json oldHash = same;
  oldHash["metadata"]["annotations"][std::string(identity::kDesiredHashAnnotation)] = "0";
  const std::vector<WriteRow> rows = {
      {"Missing", std::nullopt, WriteNeed::kWrite},
      {"AsDesired", same, WriteNeed::kNone},
      {"EditedByHand", edited, WriteNeed::kWrite},
      {"BuiltFromAnOlderSpec", oldHash, WriteNeed::kWrite},
      {"SomeoneElses", desired, WriteNeed::kNotOurs},
      {"AnotherStoresOwnership", ownedBy(desired, "other-uid"), WriteNeed::kNotOurs},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(decideWrite(desired, row.observed, "store-uid"), row.want) << row.name;
  }
}

TEST(DecideWrite, TheHashFollowsTheBody) {
  const Json a = {{"kind", "ConfigMap"}, {"metadata", {{"name", "c"}}}, {"data", {{"k", "1"}}}};
  Json b = a;
  b["data"]["k"] = "2";
  const auto hashOf = [](const Json& body) {
    return withDesiredHash(
        body)["metadata"]["annotations"][std::string(identity::kDesiredHashAnnotation)];
  };
  EXPECT_EQ(hashOf(a), hashOf(a));
  EXPECT_NE(hashOf(a), hashOf(b));
}

TEST(Conditions, ForObjectsThatCannotBeWritten) {
  const auto taken = notOursCondition("ConfigMap web-redis-config");
  EXPECT_EQ(taken.reason, api::kReasonNameTaken);
  EXPECT_FALSE(taken.ok);
  EXPECT_EQ(taken.message,
            "ConfigMap web-redis-config exists and is not owned by this SessionStore: rename or "
            "remove it");
  const auto refused = refusedCondition(
      "StatefulSet web-redis", {.kind = kube::ErrorKind::kInvalid, .message = "spec: Invalid"});
  EXPECT_EQ(refused.reason, api::kReasonProvisioningFailed);
  EXPECT_EQ(refused.message, "cannot write StatefulSet web-redis: spec: Invalid");
  EXPECT_EQ(describe({.httpStatus = 500}), "the API server answered 500");
}

TEST(RetryFor, HonoursRetryAfter) {
  EXPECT_EQ(retryFor({.kind = kube::ErrorKind::kUnavailable}).kind,
            workqueue::Outcome::Kind::kRetry);
  const auto later =
      retryFor({.kind = kube::ErrorKind::kTooManyRequests, .retryAfter = std::chrono::seconds(5)});
  EXPECT_EQ(later.kind, workqueue::Outcome::Kind::kRetry);
  EXPECT_EQ(later.after, std::chrono::seconds(5));
}

// --- Passwords ---------------------------------------------------------------------------------

TEST(DecidePasswords, GeneratedOnlyWhenTheirSecretDoesNotExist) {
  const auto s = store();
  EXPECT_TRUE(decidePasswords(s, Observed::notRead()).generate) << "a fresh store creates it";
  EXPECT_TRUE(decidePasswords(s, Observed::missing()).generate);

  const auto kept = decidePasswords(s, Observed::found(passwordSecret(s)));
  EXPECT_FALSE(kept.generate);
  ASSERT_TRUE(kept.passwords.has_value());
  EXPECT_EQ(kept.passwords->app, managedstore::generatePasswords(fixedBytes)->app);
  EXPECT_FALSE(kept.problem.has_value());
}

TEST(DecidePasswords, ASecretThatIsNotOursOrUnusableIsAProblemNotNewPasswords) {
  const auto s = store();
  const auto taken = decidePasswords(s, Observed::found(passwordSecret(s, "someone-else")));
  EXPECT_FALSE(taken.generate);
  EXPECT_FALSE(taken.passwords.has_value());
  ASSERT_TRUE(taken.problem.has_value());
  EXPECT_EQ(taken.problem->reason, api::kReasonNameTaken);
  EXPECT_NE(taken.problem->message.find("Secret web-redis-auth exists and is not owned"),
            std::string::npos);

  Json broken = passwordSecret(s);
  broken["data"] = Json::object();
  const auto invalid = decidePasswords(s, Observed::found(broken));
  EXPECT_FALSE(invalid.generate);
  ASSERT_TRUE(invalid.problem.has_value());
  EXPECT_EQ(invalid.problem->reason, api::kReasonPasswordSecretInvalid);
  EXPECT_NE(invalid.problem->message.find("delete the Secret to have new passwords generated"),
            std::string::npos);
}

// --- The managed store's objects ---------------------------------------------------------------

std::vector<std::string> named(const std::vector<Json>& objects) {
  std::vector<std::string> out;
  for (const Json& object : objects) out.push_back(describeObject(object));
  return out;
}

TEST(DecideStoreObjects, TheStatefulSetApartFromWhatItMountsAndTheRestBeside) {
  const auto s = store();
  const auto passwords = *managedstore::generatePasswords(fixedBytes);
  const auto decision = decideStoreObjects(s, passwords, deploymentObject(), "ops");
  ASSERT_FALSE(decision.problem.has_value());
  EXPECT_EQ(named(decision.mounted), (std::vector<std::string>{"ConfigMap web-redis-config",
                                                               "Service web-redis-headless"}));
  EXPECT_EQ(named(decision.beside),
            (std::vector<std::string>{"Service web-redis", "NetworkPolicy web-redis"}));
  ASSERT_TRUE(decision.statefulSet.has_value());
  EXPECT_EQ(describeObject(*decision.statefulSet), "StatefulSet web-redis");
  std::vector<Json> all = decision.mounted;
  all.insert(all.end(), decision.beside.begin(), decision.beside.end());
  all.push_back(*decision.statefulSet);
  for (const Json& object : all) {
    EXPECT_TRUE(
        object["metadata"]["annotations"].contains(std::string(identity::kDesiredHashAnnotation)))
        << describeObject(object);
  }
}

TEST(DecideFreshObjects, AreTheObjectsTheStoreObjectsHave) {
  const auto s = store();
  const auto passwords = *managedstore::generatePasswords(fixedBytes);
  const auto decision = decideStoreObjects(s, passwords, deploymentObject(), "ops");
  const FreshObjects fresh = decideFreshObjects(s, passwords);
  ASSERT_EQ(fresh.services.size(), 2u);
  EXPECT_EQ(fresh.services[0], decision.mounted[1]) << "the headless Service, hash included";
  EXPECT_EQ(fresh.services[1], decision.beside[0]) << "the client Service, hash included";
  ASSERT_TRUE(fresh.configMap.has_value());
  EXPECT_EQ(*fresh.configMap, decision.mounted[0]) << "the ConfigMap, hash included";
}

TEST(DecideFreshObjects, NoConfigMapWithoutPasswordsOrWhenItDependsOnMore) {
  const auto passwords = *managedstore::generatePasswords(fixedBytes);
  EXPECT_FALSE(decideFreshObjects(store(), std::nullopt).configMap.has_value());
  auto replicated = store();
  replicated.spec.store.managed.replicas = 3;
  EXPECT_FALSE(decideFreshObjects(replicated, passwords).configMap.has_value())
      << "its replication password is made later in the pass";
  auto followsLoad = store();
  followsLoad.spec.store.managed.memory = api::MemoryScaling{};
  EXPECT_FALSE(decideFreshObjects(followsLoad, passwords).configMap.has_value())
      << "its level is decided later in the pass";
  EXPECT_EQ(decideFreshObjects(replicated, passwords).services.size(), 2u);
}

TEST(DecideStoreObjects, NoNetworkPolicyWithoutTheTargetsLabels) {
  const auto passwords = *managedstore::generatePasswords(fixedBytes);
  const auto decision = decideStoreObjects(store(), passwords, std::nullopt, "ops");
  EXPECT_EQ(named(decision.beside), (std::vector<std::string>{"Service web-redis"}));
  EXPECT_TRUE(decision.statefulSet.has_value());
}

TEST(ManagedEndpoints, TheAppAndTheMonitorUser) {
  const auto passwords = *managedstore::generatePasswords(fixedBytes);
  const auto endpoints = managedEndpoints(store(), passwords);
  EXPECT_EQ(endpoints.app.host, "web-redis.shop.svc");
  EXPECT_EQ(endpoints.app.username, managedstore::kAppUser);
  ASSERT_TRUE(endpoints.monitor.has_value());
  EXPECT_EQ(endpoints.monitor->username, managedstore::kMonitorUser);
  EXPECT_EQ(endpoints.monitor->password, passwords.monitor);
}

// --- The external store ------------------------------------------------------------------------

Json urlSecret(const std::optional<std::string>& url, const std::string& key = "url") {
  Json secret = {
      {"kind", "Secret"}, {"metadata", {{"name", "redis-url"}}}, {"data", Json::object()}};
  if (url) secret["data"][key] = crypto::base64Encode(*url);
  return secret;
}

struct ExternalRow {
  std::string name;
  Observed secret;
  std::string reason;  // "" when the endpoint is decided
  std::string inMessage;
};

TEST(DecideExternalStore, FromTheUrlSecret) {
  const auto s = store(kExternalSpec);
  Json notBase64 = urlSecret(std::nullopt);
  notBase64["data"]["url"] = "%%%";
  const std::vector<ExternalRow> rows = {
      {"Good", Observed::found(urlSecret("redis://app:hunter2@redis.example:6380")), "", ""},
      {"Missing", Observed::missing(), std::string(api::kReasonUrlSecretMissing),
       "Secret redis-url does not exist in namespace shop"},
      {"OtherKey", Observed::found(urlSecret("redis://x:1", "other")),
       std::string(api::kReasonUrlSecretMissing), "(its keys: other)"},
      {"NotBase64", Observed::found(notBase64), std::string(api::kReasonInvalidUrl),
       "is not valid base64"},
      {"NotRedis", Observed::found(urlSecret("http://app:hunter2@redis.example")),
       std::string(api::kReasonInvalidUrl), "key \"url\""},
  };
  for (const auto& row : rows) {
    const auto decision = decideExternalStore(s, row.secret);
    if (row.reason.empty()) {
      ASSERT_TRUE(decision.endpoint.has_value()) << row.name;
      EXPECT_EQ(decision.endpoint->host, "redis.example");
      EXPECT_EQ(decision.endpoint->port, 6380);
      EXPECT_FALSE(decision.problem.has_value());
      continue;
    }
    ASSERT_TRUE(decision.problem.has_value()) << row.name;
    EXPECT_EQ(decision.problem->reason, row.reason) << row.name;
    EXPECT_NE(decision.problem->message.find(row.inMessage), std::string::npos)
        << row.name << ": " << decision.problem->message;
    EXPECT_EQ(decision.problem->message.find("hunter2"), std::string::npos) << row.name;
  }
}

Json caSecretObject(const std::optional<std::string>& pem, const std::string& key = "ca.crt") {
  Json secret = {
      {"kind", "Secret"}, {"metadata", {{"name", "store-ca"}}}, {"data", Json::object()}};
  if (pem) secret["data"][key] = crypto::base64Encode(*pem);
  return secret;
}

api::SessionStore externalWithTls(const Json& tls) {
  Json spec = kExternalSpec;
  spec["store"]["external"]["tls"] = tls;
  return store(spec);
}

TEST(DecideExternalStore, TheUrlsDatabaseIndexIsKeptOrRefused) {
  const auto s = store(kExternalSpec);
  auto five = decideExternalStore(s, Observed::found(urlSecret("redis://:hunter2@cache:6379/5")));
  ASSERT_TRUE(five.endpoint.has_value());
  EXPECT_EQ(five.endpoint->database, 5);
  EXPECT_EQ(wiring::redisUrl(*five.endpoint), "redis://:hunter2@cache:6379/5");
  for (const std::string url :
       {"redis://:hunter2@cache:6379/12345678901234567890", "redis://:hunter2@cache:6379/five",
        "redis://:hunter2@cache:6379/5?ssl=true"}) {
    auto refused = decideExternalStore(s, Observed::found(urlSecret(url)));
    ASSERT_TRUE(refused.problem.has_value()) << url;
    EXPECT_EQ(refused.problem->reason, api::kReasonInvalidUrl) << url;
    EXPECT_EQ(refused.problem->message.find("hunter2"), std::string::npos);
  }
}

TEST(DecideExternalStore, TlsSettingsComeFromTheSpecAndTheCaSecret) {
  const sessionstore::testing::TestCa ca("unit test CA");
  const auto url = Observed::found(urlSecret("rediss://:hunter2@cache.example.com:6380/2"));
  const auto s =
      externalWithTls({{"caSecretRef", {{"name", "store-ca"}}}, {"serverName", "redis.internal"}});
  auto good = decideExternalStore(s, url, Observed::found(caSecretObject(ca.certPem())));
  ASSERT_TRUE(good.endpoint.has_value()) << good.problem->message;
  EXPECT_TRUE(good.endpoint->tls);
  EXPECT_EQ(good.endpoint->tlsCaPem, ca.certPem());
  EXPECT_EQ(good.endpoint->tlsServerName, "redis.internal");
  EXPECT_FALSE(good.endpoint->tlsInsecureSkipVerify);
  EXPECT_EQ(good.endpoint->database, 2);

  const std::vector<ExternalRow> rows = {
      {"NoCaSecret", Observed::missing(), std::string(api::kReasonTlsCaSecretInvalid),
       "Secret store-ca does not exist in namespace shop"},
      {"NotRead", Observed::notRead(), std::string(api::kReasonTlsCaSecretInvalid),
       "Secret store-ca does not exist"},
      {"OtherKey", Observed::found(caSecretObject(ca.certPem(), "tls.crt")),
       std::string(api::kReasonTlsCaSecretInvalid), "has no key \"ca.crt\""},
      {"NotPem", Observed::found(caSecretObject("hello")),
       std::string(api::kReasonTlsCaSecretInvalid), "holds no PEM certificate"},
      {"BrokenPem",
       Observed::found(
           caSecretObject("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
       std::string(api::kReasonTlsCaSecretInvalid), "does not parse"},
  };
  for (const auto& row : rows) {
    const auto decision = decideExternalStore(s, url, row.secret);
    ASSERT_TRUE(decision.problem.has_value()) << row.name;
    EXPECT_FALSE(decision.endpoint.has_value()) << row.name;
    EXPECT_EQ(decision.problem->reason, row.reason) << row.name;
    EXPECT_NE(decision.problem->message.find(row.inMessage), std::string::npos)
        << row.name << ": " << decision.problem->message;
    EXPECT_EQ(decision.problem->message.find("hunter2"), std::string::npos) << row.name;
  }

  // TLS settings with a redis:// URL: refused, never sent in the clear.
  const auto plain =
      decideExternalStore(s, Observed::found(urlSecret("redis://:hunter2@cache.example.com:6380")),
                          Observed::found(caSecretObject(ca.certPem())));
  ASSERT_TRUE(plain.problem.has_value());
  EXPECT_EQ(plain.problem->reason, api::kReasonInvalidUrl);
  EXPECT_NE(plain.problem->message.find("use rediss://"), std::string::npos)
      << plain.problem->message;

  // insecureSkipVerify is carried to the probe; no tls block means verified with system CAs.
  const auto insecure = decideExternalStore(externalWithTls({{"insecureSkipVerify", true}}), url);
  ASSERT_TRUE(insecure.endpoint.has_value());
  EXPECT_TRUE(insecure.endpoint->tlsInsecureSkipVerify);
  const auto system = decideExternalStore(store(kExternalSpec), url);
  ASSERT_TRUE(system.endpoint.has_value());
  EXPECT_TRUE(system.endpoint->tls);
  EXPECT_FALSE(system.endpoint->tlsInsecureSkipVerify);
  EXPECT_EQ(system.endpoint->tlsCaPem, "");
}

// --- StoreReady from the probe -----------------------------------------------------------------

Json statefulSetWithReady(int ready) {
  return {{"kind", "StatefulSet"}, {"status", {{"readyReplicas", ready}}}};
}

struct StoreReadyRow {
  std::string name;
  health::ProbeResult probe;
  std::optional<Json> deployment;
  std::optional<Json> statefulSet;
  std::string reason;
};

TEST(DecideStoreReady, ProvisioningUntilThePodIsReadyUnlessTheAppWasWired) {
  const auto s = store();
  const std::vector<StoreReadyRow> rows = {
      {"Answers", answers(), deploymentObject(), statefulSetWithReady(1),
       std::string(api::kReasonStoreAvailable)},
      {"PodNotReadyYet", silent(), deploymentObject(), statefulSetWithReady(0),
       std::string(api::kReasonProvisioning)},
      {"PodNotReadyNoTarget", silent(), std::nullopt, statefulSetWithReady(0),
       std::string(api::kReasonProvisioning)},
      {"PodReadyButSilent", silent(), deploymentObject(), statefulSetWithReady(1),
       std::string(api::kReasonStoreUnreachable)},
      {"WiredBeforeIsUnreachable", silent(), wiredDeployment(), statefulSetWithReady(0),
       std::string(api::kReasonStoreUnreachable)},
      {"NoStatefulSetSeen", silent(), deploymentObject(), std::nullopt,
       std::string(api::kReasonStoreUnreachable)},
  };
  for (const auto& row : rows) {
    const auto condition = decideStoreReady(s, row.probe, row.deployment, row.statefulSet);
    EXPECT_EQ(condition.reason, row.reason) << row.name;
    EXPECT_EQ(condition.ok, row.probe.ok) << row.name;
    EXPECT_EQ(condition.type, api::kConditionStoreReady);
  }
  const auto provisioning =
      decideStoreReady(s, silent(), deploymentObject(), statefulSetWithReady(0));
  EXPECT_EQ(provisioning.message,
            "waiting for the pod of StatefulSet web-redis to be ready; the store does not answer "
            "yet (connection refused)");
}

TEST(DecideStoreReady, AnExternalStoreSaysWhereToLook) {
  const auto s = store(kExternalSpec);
  const auto unreachable = decideStoreReady(s, silent(), deploymentObject(), std::nullopt);
  EXPECT_NE(unreachable.message.find("check the host and port in Secret redis-url key \"url\""),
            std::string::npos)
      << unreachable.message;
  auto refused = silent();
  refused.reason = std::string(api::kReasonAuthenticationFailed);
  const auto auth = decideStoreReady(s, refused, deploymentObject(), std::nullopt);
  EXPECT_NE(auth.message.find("check the user and password"), std::string::npos);
  const std::pair<std::string_view, std::string> hints[] = {
      {api::kReasonTlsCertificateUntrusted, "set spec.store.external.tls.caSecretRef"},
      {api::kReasonTlsHostMismatch, "spec.store.external.tls.serverName"},
      {api::kReasonDatabaseUnavailable, "fewer databases than the index in the URL"},
  };
  for (const auto& [reason, hint] : hints) {
    auto probe = silent();
    probe.reason = std::string(reason);
    const auto condition = decideStoreReady(s, probe, deploymentObject(), std::nullopt);
    EXPECT_FALSE(condition.ok);
    EXPECT_EQ(condition.reason, reason);
    EXPECT_NE(condition.message.find(hint), std::string::npos) << condition.message;
  }
}

// --- The target and the wiring -----------------------------------------------------------------

TEST(TargetMissing, BothConditionsNameTheDeployment) {
  const auto conditions = targetMissing(store());
  EXPECT_EQ(conditions.wired.type, api::kConditionConnectionWired);
  EXPECT_EQ(conditions.workers.type, api::kConditionWorkersSized);
  for (const auto& condition : {conditions.wired, conditions.workers}) {
    EXPECT_FALSE(condition.ok);
    EXPECT_EQ(condition.reason, api::kReasonDeploymentNotFound);
    EXPECT_EQ(condition.message,
              "Deployment web does not exist in namespace shop: create it, or correct "
              "spec.target.deployment");
  }
}

const wiring::StoreEndpoint kEndpoint{
    .host = "web-redis.shop.svc", .port = 6379, .username = "app", .password = "secret"};
// The bound of a spec without autoscaling nor spec.target.maxReplicas, no HPA nor ScaledObject.
const wiring::ReplicasBound kBound{};

TEST(DecideWiring, WaitsForTheStoreAndKeepsWiringThatIsThere) {
  const auto s = store();
  const auto waiting =
      decideWiring(s, kEndpoint, deploymentObject(), silent(), "Provisioning", kBound);
  EXPECT_FALSE(waiting.wiring.has_value()) << "never wired before the store answers";
  EXPECT_FALSE(waiting.isWired);
  EXPECT_EQ(waiting.wired.reason, api::kReasonWaitingForStore);
  EXPECT_EQ(waiting.wired.message,
            "the Deployment is wired once the store answers (StoreReady is Provisioning)");
  EXPECT_EQ(waiting.workers.reason, api::kReasonWaitingForStore);

  const auto noEndpoint =
      decideWiring(s, std::nullopt, deploymentObject(), std::nullopt, "", kBound);
  EXPECT_EQ(noEndpoint.wired.message,
            "the Deployment is wired once the store answers (StoreReady is not known)");

  const auto kept =
      decideWiring(s, kEndpoint, wiredDeployment(), silent(), "StoreUnreachable", kBound);
  EXPECT_FALSE(kept.wiring.has_value());
  EXPECT_TRUE(kept.isWired) << "an outage does not take the app's connection away";
  EXPECT_TRUE(kept.wired.ok);
  EXPECT_EQ(kept.wired.reason, api::kReasonWired);
  EXPECT_EQ(kept.workers.reason, api::kReasonWorkersSized);
}

TEST(DecideWiring, WiresOnceTheStoreAnswers) {
  const auto s = store();
  const auto decision = decideWiring(s, kEndpoint, deploymentObject(), answers(), "", kBound);
  ASSERT_TRUE(decision.wiring.has_value());
  EXPECT_TRUE(decision.applyDeployment);
  EXPECT_TRUE(decision.isWired);
  EXPECT_EQ(decision.wired.reason, api::kReasonWired);
  EXPECT_TRUE(decision.workers.message.starts_with("app: 5 workers, pool "))
      << decision.workers.message;
  EXPECT_EQ(decision.workerCount, 5);
  EXPECT_TRUE(decision.poolSize.has_value());
  EXPECT_EQ(decision.wiredEvent.reason, "Wired");
  EXPECT_NE(decision.wiredEvent.note.find("wired Deployment web: REDIS_URL from Secret"),
            std::string::npos)
      << decision.wiredEvent.note;
  EXPECT_EQ(decision.wiredEvent.note.find("secret"), std::string::npos) << "no password";
  EXPECT_TRUE(decision.wiring->connectionSecret["metadata"]["annotations"].contains(
      std::string(identity::kDesiredHashAnnotation)));
}

TEST(DecideWiring, NoApplyWhenTheDeploymentCarriesExactlyTheWiring) {
  const auto s = store();
  const auto first = decideWiring(s, kEndpoint, deploymentObject(), answers(), "", kBound);
  ASSERT_TRUE(first.wiring.has_value());
  // The Deployment as the fake API server keeps it after that apply.
  kube::FakeClient api;
  api.put(kube::resources::kDeployments, deploymentObject());
  auto applied =
      api.apply(kube::resources::kDeployments, "shop", first.wiring->deploymentApply, kManager);
  ASSERT_TRUE(applied.has_value());
  const auto again = decideWiring(s, kEndpoint, *applied, answers(), "", kBound);
  EXPECT_FALSE(again.applyDeployment);
}

TEST(DecideWiring, AMissingContainerNeedsTheUser) {
  Json spec = kManagedSpec;
  spec["target"]["containers"] = {"worker"};
  const auto decision =
      decideWiring(store(spec), kEndpoint, deploymentObject(), answers(), "", kBound);
  EXPECT_FALSE(decision.wiring.has_value());
  EXPECT_TRUE(decision.needsUser);
  EXPECT_EQ(decision.wired.reason, api::kReasonContainerNotFound);
  EXPECT_EQ(decision.workers.type, api::kConditionWorkersSized);
  EXPECT_NE(decision.wired.message.find("correct spec.target.containers"), std::string::npos);
}

// --- The replica bound: pools never follow the live replicas ------------------------------------

Json hpa(const std::string& name, Json scaleTargetRef, Json maxReplicas) {
  return {{"apiVersion", "autoscaling/v2"},
          {"kind", "HorizontalPodAutoscaler"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec",
           {{"scaleTargetRef", std::move(scaleTargetRef)},
            {"minReplicas", 1},
            {"maxReplicas", std::move(maxReplicas)}}}};
}
const Json kWebRef = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}};

Json scaledObject(const std::string& name, Json scaleTargetRef, std::optional<int> max) {
  Json object = {{"apiVersion", "keda.sh/v1alpha1"},
                 {"kind", "ScaledObject"},
                 {"metadata", {{"name", name}, {"namespace", "shop"}}},
                 {"spec", {{"scaleTargetRef", std::move(scaleTargetRef)}}}};
  if (max) object["spec"]["maxReplicaCount"] = *max;
  return object;
}

Json autoscaledSpec(int maxReplicas) {
  Json spec = kManagedSpec;
  spec["autoscaling"] = {{"enabled", true},
                         {"maxReplicas", maxReplicas},
                         {"metrics", {{{"type", "CPU"}, {"targetAverageUtilization", 80}}}}};
  return spec;
}

struct BoundRow {
  std::string name;
  Json spec;
  std::vector<Json> hpas;
  std::vector<Json> scaledObjects;
  wiring::ReplicasBound want;
};

TEST(DecideReplicasBound, FromTheStableSourcesInOrder) {
  using wiring::BoundSource;
  Json withField = kManagedSpec;
  withField["target"]["maxReplicas"] = 4;
  const Json statefulSetRef = {{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"name", "web"}};
  const std::vector<BoundRow> rows = {
      {"DefaultWithNothingElse", kManagedSpec, {}, {}, {.replicas = 10}},
      {"TargetMaxReplicas", withField, {}, {}, {.replicas = 4}},
      {"Autoscaling",
       autoscaledSpec(12),
       {hpa("web-hpa", kWebRef, 7)},
       {},
       {.replicas = 12, .source = BoundSource::kAutoscaling}},
      {"HorizontalPodAutoscaler",
       withField,
       {hpa("web-hpa", kWebRef, 7)},
       {},
       {.replicas = 7, .source = BoundSource::kHorizontalPodAutoscaler, .scaler = "web-hpa"}},
      {"AnotherDeploymentsHpa",
       kManagedSpec,
       {hpa("api-hpa", {{"kind", "Deployment"}, {"name", "api"}}, 30)},
       {},
       {.replicas = 10}},
      {"AStatefulSetOfTheSameName",
       kManagedSpec,
       {hpa("sts", statefulSetRef, 30)},
       {},
       {.replicas = 10}},
      {"TheLargestOfTwoHpas",
       kManagedSpec,
       {hpa("a", kWebRef, 6), hpa("b", kWebRef, 9), hpa("c", kWebRef, 8)},
       {},
       {.replicas = 9, .source = BoundSource::kHorizontalPodAutoscaler, .scaler = "b"}},
      {"ScaledObject",
       kManagedSpec,
       {},
       {scaledObject("web-keda", kWebRef, 20)},
       {.replicas = 20, .source = BoundSource::kScaledObject, .scaler = "web-keda"}},
      {"ScaledObjectKedaDefaults",
       kManagedSpec,
       {},
       {scaledObject("web-keda", {{"name", "web"}}, std::nullopt)},
       {.replicas = 100, .source = BoundSource::kScaledObject, .scaler = "web-keda"}},
      {"HpaBeforeScaledObject",
       kManagedSpec,
       {hpa("web-hpa", kWebRef, 5)},
       {scaledObject("web-keda", kWebRef, 20)},
       {.replicas = 5, .source = BoundSource::kHorizontalPodAutoscaler, .scaler = "web-hpa"}},
      {"MalformedHpaIsPassedOver",
       kManagedSpec,
       {hpa("x", kWebRef, "7"), hpa("y", kWebRef, -1), hpa("z", kWebRef, nullptr), hpa("w", 3, 7),
        Json::array(), Json("text")},
       {},
       {.replicas = 10}},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(decideReplicasBound(store(row.spec), row.hpas, row.scaledObjects), row.want)
        << row.name;
  }
}

// Every part of an HPA and a ScaledObject replaced by a value of every JSON type: a bound, never a
// throw (the caches hold whatever the API server served).
TEST(DecideReplicasBound, AnyScalerShapeIsABound) {
  const auto s = store();
  const Json replacements[] = {
      nullptr, true, -1, 0, 2.5, "x", Json::array(), Json::object(), Json::array({1}), 1e300};
  for (const Json& full : {hpa("web-hpa", kWebRef, 7), scaledObject("web-keda", kWebRef, 20)}) {
    std::vector<std::string> pointers;
    const Json flat = full.flatten();
    for (const auto& [leaf, value] : flat.items()) {
      for (std::string pointer = leaf; !pointer.empty();
           pointer = pointer.substr(0, pointer.rfind('/'))) {
        pointers.push_back(pointer);
      }
    }
    for (const std::string& pointer : pointers) {
      for (const Json& replacement : replacements) {
        Json scaler = full;
        scaler[Json::json_pointer(pointer)] = replacement;
        ASSERT_NO_THROW({
          const auto bound = decideReplicasBound(s, {scaler}, {scaler});
          EXPECT_GE(bound.replicas, 1) << pointer << " = " << replacement;
        }) << pointer
           << " = " << replacement;
      }
    }
  }
}

Json withReplicas(Json deployment, Json replicas) {
  deployment["spec"]["replicas"] = std::move(replicas);
  return deployment;
}

TEST(DecideWiring, AScaleWithinTheBoundChangesNothing) {
  const auto s = store();
  const auto two =
      decideWiring(s, kEndpoint, withReplicas(deploymentObject(), 2), answers(), "", kBound);
  const auto four =
      decideWiring(s, kEndpoint, withReplicas(deploymentObject(), 4), answers(), "", kBound);
  const auto ten =
      decideWiring(s, kEndpoint, withReplicas(deploymentObject(), 10), answers(), "", kBound);
  ASSERT_TRUE(two.wiring && four.wiring && ten.wiring);
  // app: 5 workers; floor(900 / (10 * 5)) = 18, whatever the replicas.
  EXPECT_EQ(two.poolSize, 18);
  for (const auto* other : {&four, &ten}) {
    EXPECT_EQ(other->wiring->deploymentApply, two.wiring->deploymentApply);
    EXPECT_EQ(other->wiring->connectionHash, two.wiring->connectionHash);
    EXPECT_EQ(other->wiring->connectionSecret, two.wiring->connectionSecret);
    EXPECT_TRUE(other->workers.ok);
    EXPECT_EQ(other->workers.reason, api::kReasonWorkersSized);
  }
  EXPECT_EQ(two.workers.message,
            "app: 5 workers, pool 18 (pools sized for 10 replicas, spec.target.maxReplicas)");
  // A different bound is a different pool (and a roll): only a change of the bound does it.
  const auto hpaBound = decideWiring(
      s, kEndpoint, deploymentObject(), answers(), "",
      {.replicas = 5, .source = wiring::BoundSource::kHorizontalPodAutoscaler, .scaler = "h"});
  ASSERT_TRUE(hpaBound.wiring);
  EXPECT_EQ(hpaBound.poolSize, 36);
  EXPECT_NE(hpaBound.wiring->connectionHash, two.wiring->connectionHash);
}

TEST(DecideWiring, AScalePastTheBoundIsAConditionNotARoll) {
  const auto s = store();
  const auto within = decideWiring(s, kEndpoint, deploymentObject(), answers(), "", kBound);
  const auto above =
      decideWiring(s, kEndpoint, withReplicas(deploymentObject(), 12), answers(), "", kBound);
  ASSERT_TRUE(within.wiring && above.wiring);
  EXPECT_EQ(above.wiring->deploymentApply, within.wiring->deploymentApply) << "no roll";
  EXPECT_EQ(above.wiring->connectionHash, within.wiring->connectionHash);
  EXPECT_TRUE(above.wired.ok) << "the app stays wired";
  EXPECT_FALSE(above.workers.ok);
  EXPECT_EQ(above.workers.reason, api::kReasonReplicasAboveBound);
  EXPECT_EQ(above.workers.message,
            "Deployment web asks 12 replicas, more than the 10 its connection pools are sized "
            "for (spec.target.maxReplicas): up to 12 x 90 = 1080 connections against the "
            "store's maxclients 1000; the pods are not rolled for a scale: set "
            "spec.target.maxReplicas of the SessionStore to at least 12 (the pods then roll "
            "once, with smaller pools), or scale back to at most 10 (app: 5 workers, pool 18 "
            "(pools sized for 10 replicas, spec.target.maxReplicas))");

  const auto pastHpa =
      decideWiring(s, kEndpoint, withReplicas(deploymentObject(), 6), answers(), "",
                   {.replicas = 5,
                    .source = wiring::BoundSource::kHorizontalPodAutoscaler,
                    .scaler = "web-hpa"});
  EXPECT_EQ(pastHpa.workers.reason, api::kReasonReplicasAboveBound);
  EXPECT_NE(pastHpa.workers.message.find(
                "raise spec.maxReplicas of HorizontalPodAutoscaler web-hpa to at least 6"),
            std::string::npos)
      << pastHpa.workers.message;

  // The Deployment's default is one replica; a replicas field that is not a number is no scale.
  for (const Json& replicas : {Json(nullptr), Json("12"), Json::array()}) {
    const auto decision = decideWiring(s, kEndpoint, withReplicas(deploymentObject(), replicas),
                                       answers(), "", {.replicas = 1});
    EXPECT_TRUE(decision.workers.ok) << replicas;
  }
  // A fixed pool size does not depend on the bound: nothing to say.
  Json fixedPool = kManagedSpec;
  fixedPool["connection"] = {{"poolSize", 5}};
  const auto fixed = decideWiring(store(fixedPool), kEndpoint, withReplicas(deploymentObject(), 50),
                                  answers(), "", kBound);
  EXPECT_TRUE(fixed.workers.ok) << fixed.workers.message;
}

TEST(DecideWiring, RefusalsAndTakenNames) {
  const auto s = store();
  EXPECT_EQ(connectionSecretTaken(s).reason, api::kReasonNameTaken);
  EXPECT_EQ(connectionSecretTaken(s).type, api::kConditionConnectionWired);
  const auto [condition, warning] =
      deploymentRefused(s, {.kind = kube::ErrorKind::kInvalid, .message = "env: Invalid"});
  EXPECT_EQ(condition.reason, api::kReasonApplyFailed);
  EXPECT_EQ(warning.type, events::EventType::kWarning);
  EXPECT_EQ(warning.note, condition.message);
  EXPECT_NE(condition.message.find("cannot apply to Deployment web: env: Invalid"),
            std::string::npos);
}

// The app's Deployment with env entries of its own (written by someone else than the operator).
Json deploymentWithEnv(const Json& env, const std::string& container = "app") {
  Json deployment = deploymentObject();
  auto& containers = deployment["spec"]["template"]["spec"]["containers"];
  if (container != "app") containers.push_back({{"name", container}, {"image", "side:1"}});
  for (auto& c : containers) {
    if (c["name"] == container) c["env"] = env;
  }
  return deployment;
}

TEST(ForeignEnvEntry, AnEntryTheUserSetIsNeverReplaced) {
  const auto s = store();
  const Json userUrl = {{{"name", "REDIS_URL"}, {"value", "redis://mine:6379/0"}}};
  const auto decision =
      decideWiring(s, kEndpoint, deploymentWithEnv(userUrl), answers(), "", kBound);
  EXPECT_FALSE(decision.wiring.has_value()) << "the user's REDIS_URL would be replaced";
  EXPECT_FALSE(decision.applyDeployment);
  EXPECT_TRUE(decision.needsUser);
  EXPECT_FALSE(decision.wired.ok);
  EXPECT_EQ(decision.wired.reason, api::kReasonEnvVarInUse);
  EXPECT_EQ(decision.workers.type, api::kConditionWorkersSized);
  EXPECT_EQ(decision.wired.message,
            "container \"app\" of Deployment web already sets REDIS_URL and the operator did not "
            "write it: the operator never replaces an env entry of the app's own; set "
            "spec.connection.urlEnvVar to another name, or remove the entry from the Deployment");
}

TEST(ForeignEnvEntry, EachNameNamesTheFieldThatChoseIt) {
  struct Row {
    std::string env;
    std::string wanted;
  };
  const std::vector<Row> rows = {
      {"WORKERS", "set spec.workers.envVar to another name"},
      {"REDIS_MAX_CONNECTIONS", "set spec.connection.poolSizeEnvVar to another name"},
      {"SESSION_KEY_PREFIX", "remove it from the Deployment: the operator gives the key prefix"},
  };
  const auto s = store();
  for (const auto& row : rows) {
    const Json env = {{{"name", "LOG_LEVEL"}, {"value", "debug"}},
                      {{"name", row.env}, {"value", "3"}}};
    auto wiring = desiredWiring(s, kEndpoint, deploymentWithEnv(env), kBound.replicas);
    ASSERT_TRUE(wiring.has_value()) << wiring.error();
    const auto problem = foreignEnvEntry(s, wiring->deployment, deploymentWithEnv(env));
    ASSERT_TRUE(problem.has_value()) << row.env;
    EXPECT_NE(problem->find("already sets " + row.env), std::string::npos) << *problem;
    EXPECT_NE(problem->find(row.wanted), std::string::npos) << *problem;
  }
}

TEST(ForeignEnvEntry, TheOperatorsOwnEntriesAndOtherNamesAreFine) {
  const auto s = store();
  // Entries of other names, and the operator's names in a container it does not wire.
  Json spec = kManagedSpec;
  spec["target"]["containers"] = {"app"};
  const Json other = {{{"name", "LOG_LEVEL"}, {"value", "debug"}}};
  const auto otherNames =
      decideWiring(s, kEndpoint, deploymentWithEnv(other), answers(), "", kBound);
  EXPECT_TRUE(otherNames.wiring.has_value()) << otherNames.wired.message;
  const Json sidecarUrl = {{{"name", "REDIS_URL"}, {"value", "redis://sidecar:6379/0"}}};
  const auto onlyApp = decideWiring(
      store(spec), kEndpoint, deploymentWithEnv(sidecarUrl, "sidecar"), answers(), "", kBound);
  EXPECT_TRUE(onlyApp.wiring.has_value()) << onlyApp.wired.message;

  // What the operator applied itself (its field manager owns the entries) is its own to change.
  const auto first = decideWiring(s, kEndpoint, deploymentObject(), answers(), "", kBound);
  ASSERT_TRUE(first.wiring.has_value());
  kube::FakeClient api;
  api.put(kube::resources::kDeployments, deploymentObject());
  auto applied =
      api.apply(kube::resources::kDeployments, "shop", first.wiring->deploymentApply, kManager);
  ASSERT_TRUE(applied.has_value());
  EXPECT_EQ(foreignEnvEntry(s, first.wiring->deployment, *applied), std::nullopt);
  // The same entry owned by another manager only (the user took it over with kubectl edit).
  Json takenOver = *applied;
  for (auto& entry : takenOver["metadata"]["managedFields"]) entry["manager"] = "kubectl-edit";
  EXPECT_NE(foreignEnvEntry(s, first.wiring->deployment, takenOver), std::nullopt);
}

// A managed TLS store's endpoint: the app is given the operator's CA.
wiring::StoreEndpoint tlsEndpoint() {
  wiring::StoreEndpoint endpoint = kEndpoint;
  endpoint.tls = true;
  endpoint.caPemForApp = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
  return endpoint;
}

TEST(CaFile, AStoreWhoseCaTheAppNeedsGivesItAsAFileAndOwnsExactlyWhatItApplied) {
  const auto s = store();
  const auto decision = decideWiring(s, tlsEndpoint(), deploymentObject(), answers(), "", kBound);
  ASSERT_TRUE(decision.wiring.has_value()) << decision.wired.message;
  EXPECT_TRUE(decision.wiring->deployment.caFile);
  const Json& podSpec = decision.wiring->deploymentApply["spec"]["template"]["spec"];
  ASSERT_EQ(podSpec["volumes"].size(), 1U);
  EXPECT_EQ(podSpec["volumes"][0]["secret"]["secretName"], api::secretName(s));
  EXPECT_EQ(podSpec["volumes"][0]["secret"]["items"],
            Json::parse(R"([{"key": "ca.crt", "path": "ca.crt"}])"))
      << "only the CA is projected, never the password beside it";
  const Json& app = podSpec["containers"][0];
  EXPECT_EQ(app["volumeMounts"][0]["mountPath"], "/var/run/sessionstore");
  EXPECT_EQ(app["volumeMounts"][0]["readOnly"], true);
  EXPECT_EQ(app["env"].back(), Json::parse(R"({"name": "REDIS_CA_FILE",
                                                "value": "/var/run/sessionstore/ca.crt"})"));

  // Applied, the server keys the mount by its path (not its volume's name): what the operator
  // owns then is exactly what it applies, so the next pass writes nothing.
  kube::FakeClient api;
  api.put(kube::resources::kDeployments, deploymentObject());
  auto applied =
      api.apply(kube::resources::kDeployments, "shop", decision.wiring->deploymentApply, kManager);
  ASSERT_TRUE(applied.has_value());
  EXPECT_NE((*applied)["metadata"]["managedFields"][0]["fieldsV1"].dump().find(
                R"(k:{\"mountPath\":\"/var/run/sessionstore\"})"),
            std::string::npos);
  const auto again = decideWiring(s, tlsEndpoint(), *applied, answers(), "", kBound);
  ASSERT_TRUE(again.wiring.has_value()) << again.wired.message;
  EXPECT_FALSE(again.applyDeployment) << "a wired Deployment would be written on every pass";
  EXPECT_EQ(foreignCaVolume(s, again.wiring->deployment, *applied), std::nullopt);

  // A store without TLS gives no file: no volume, no mount, no env entry.
  const auto plain = decideWiring(s, kEndpoint, deploymentObject(), answers(), "", kBound);
  ASSERT_TRUE(plain.wiring.has_value());
  EXPECT_FALSE(plain.wiring->deploymentApply["spec"]["template"]["spec"].contains("volumes"));
  EXPECT_EQ(plain.wiring->deploymentApply.dump().find("REDIS_CA_FILE"), std::string::npos);
}

TEST(CaFile, AVolumeMountOrEnvEntryOfTheUsersByItsNameIsNeverReplaced) {
  const auto s = store();
  struct Row {
    std::string what;
    Json deployment;
    std::string reason;
    std::string said;
  };
  Json volume = deploymentObject();
  volume["spec"]["template"]["spec"]["volumes"] =
      Json::parse(R"([{"name": "sessionstore-ca", "emptyDir": {}}])");
  Json mount = deploymentObject();
  mount["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
      Json::parse(R"([{"name": "certs", "mountPath": "/var/run/sessionstore"}])");
  const Json env = {{{"name", "REDIS_CA_FILE"}, {"value", "/etc/ssl/mine.pem"}}};
  const std::vector<Row> rows = {
      {"volume", volume, std::string(api::kReasonVolumeInUse),
       "Deployment web already has a volume named sessionstore-ca"},
      {"mount", mount, std::string(api::kReasonVolumeInUse),
       "container \"app\" of Deployment web already mounts a volume at /var/run/sessionstore"},
      {"env", deploymentWithEnv(env), std::string(api::kReasonEnvVarInUse),
       "already sets REDIS_CA_FILE and the operator did not write it"},
  };
  for (const auto& row : rows) {
    const auto decision = decideWiring(s, tlsEndpoint(), row.deployment, answers(), "", kBound);
    EXPECT_FALSE(decision.wiring.has_value()) << row.what;
    EXPECT_FALSE(decision.applyDeployment) << row.what;
    EXPECT_TRUE(decision.needsUser) << row.what;
    EXPECT_EQ(decision.wired.reason, row.reason) << row.what;
    EXPECT_NE(decision.wired.message.find(row.said), std::string::npos) << decision.wired.message;
    // Without TLS the same names are the user's business.
    const auto plain = decideWiring(s, kEndpoint, row.deployment, answers(), "", kBound);
    EXPECT_TRUE(plain.wiring.has_value()) << row.what << ": " << plain.wired.message;
  }
}

// --- Affinity ----------------------------------------------------------------------------------

TEST(DecideAffinity, ClientIPWhileTheStoreIsNotReady) {
  const auto s = store();
  const auto sticky = decideAffinity(s, serviceObject(), /*storeReady=*/false);
  ASSERT_TRUE(sticky.apply.has_value());
  EXPECT_EQ((*sticky.apply)["spec"]["sessionAffinity"], "ClientIP");
  EXPECT_EQ(sticky.condition.reason, api::kReasonAffinityClientIP);
  EXPECT_TRUE(sticky.condition.ok);
  EXPECT_EQ(sticky.appliedEvent.reason, "AffinitySet");
  EXPECT_NE(sticky.appliedEvent.note.find("(until the store is ready)"), std::string::npos);

  const auto shared = decideAffinity(s, serviceObject(), /*storeReady=*/true);
  ASSERT_TRUE(shared.apply.has_value());
  EXPECT_EQ((*shared.apply)["spec"]["sessionAffinity"], "None");
  EXPECT_EQ(shared.condition.reason, api::kReasonAffinityNone);
}

TEST(DecideAffinity, NoServiceOrAMissingOne) {
  Json spec = kManagedSpec;
  spec["target"].erase("service");
  const auto none = decideAffinity(store(spec), std::nullopt, false);
  EXPECT_EQ(none.condition.reason, api::kReasonNoService);
  EXPECT_TRUE(none.condition.ok);
  EXPECT_FALSE(none.apply.has_value());
  EXPECT_FALSE(none.waiting);

  const auto missing = decideAffinity(store(), std::nullopt, false);
  EXPECT_EQ(missing.condition.reason, api::kReasonServiceNotFound);
  EXPECT_TRUE(missing.waiting) << "looked at again: a Service created later is picked up";
  EXPECT_FALSE(missing.apply.has_value());
}

TEST(DecideAffinity, NoApplyWhenTheServiceCarriesIt) {
  const auto s = store();
  const auto first = decideAffinity(s, serviceObject(), false);
  kube::FakeClient api;
  api.put(kube::resources::kServices, serviceObject());
  auto applied = api.apply(kube::resources::kServices, "shop", *first.apply, kManager);
  ASSERT_TRUE(applied.has_value());
  EXPECT_FALSE(decideAffinity(s, *applied, false).apply.has_value());
  EXPECT_TRUE(decideAffinity(s, *applied, true).apply.has_value()) << "the store became ready";
}

// --- Status ------------------------------------------------------------------------------------

const clock::SystemTime kNow{std::chrono::seconds(1'700'000'000)};

Observation readyObservation() {
  return {.generation = 1,
          .storeReady = true,
          .wired = true,
          .conditions =
              {{.type = "StoreReady", .ok = true, .reason = "StoreAvailable", .message = "ok"},
               {.type = "ConnectionWired", .ok = true, .reason = "Wired", .message = "ok"},
               {.type = "WorkersSized", .ok = true, .reason = "Sized", .message = "ok"},
               {.type = "AffinityApplied", .ok = true, .reason = "None", .message = "ok"}},
          .endpoint = "web-redis.shop.svc:6379",
          .connectedClients = 3,
          .usedMemoryBytes = 1024};
}

TEST(DecideStatus, WrittenOnlyWhenItChanged) {
  const auto s = store();
  const auto first = decideStatus(s, readyObservation(), Json::object(), kNow);
  ASSERT_TRUE(first.status.has_value());
  EXPECT_EQ((*first.status)["phase"], "Ready");
  ASSERT_EQ(first.events.size(), 1u);
  EXPECT_EQ(first.events[0].reason, "Ready");

  EXPECT_FALSE(decideStatus(s, readyObservation(), *first.status, kNow).status.has_value())
      << "the same world: no write";
  auto busier = readyObservation();
  busier.connectedClients = 40;
  busier.usedMemoryBytes = 99999;
  EXPECT_FALSE(decideStatus(s, busier, *first.status, kNow).status.has_value())
      << "the figures alone are no change";
}

TEST(DecideStatus, StepsThatDidNotRunWaitForTheStore) {
  Observation observation{.generation = 1,
                          .conditions = {{.type = "StoreReady"},
                                         {.type = "ConnectionWired"},
                                         {.type = "WorkersSized"},
                                         {.type = "AffinityApplied"}}};
  const auto decision = decideStatus(store(), observation, Json::object(), kNow);
  ASSERT_TRUE(decision.status.has_value());
  const Json& conditions = (*decision.status)["conditions"];
  EXPECT_EQ(conditions[0]["reason"], "Provisioning");
  EXPECT_EQ(conditions[0]["message"], "the store is being set up");
  EXPECT_EQ(conditions[1]["reason"], "WaitingForStore");
  EXPECT_TRUE(decision.events.empty()) << "waiting is not a problem for the user";
}

TEST(DecideStatus, AProblemThatNeedsTheUserIsToldOncePerChange) {
  auto observation = readyObservation();
  observation.storeReady = false;
  observation.conditions[0] = {.type = "StoreReady",
                               .ok = false,
                               .reason = "NameTaken",
                               .message = "ConfigMap web-redis-config exists"};
  const auto first = decideStatus(store(), observation, Json::object(), kNow);
  ASSERT_TRUE(first.status.has_value());
  const auto warnings = std::count_if(first.events.begin(), first.events.end(), [](const Event& e) {
    return e.type == events::EventType::kWarning && e.reason == "NameTaken";
  });
  EXPECT_EQ(warnings, 1);
  const auto again = decideStatus(store(), observation, *first.status, kNow);
  EXPECT_FALSE(again.status.has_value());
}

TEST(DecideStatus, TheAutoscalersPartIsKeptWhileAutoscalingIsOn) {
  Json previous = *decideStatus(store(), readyObservation(), Json::object(), kNow).status;
  Json& conditions = previous["conditions"];
  conditions.insert(conditions.end() - 1,
                    Json::parse(R"({"type": "AutoscalingActive", "status": "True"})"));
  previous["target"]["desiredReplicas"] = 4;
  previous["autoscaling"] = {{"currentUtilization", 70}};

  auto autoscaled = store();
  autoscaled.spec.autoscaling.enabled = true;
  const auto kept = decideStatus(autoscaled, readyObservation(), previous, kNow);
  EXPECT_FALSE(kept.status.has_value())
      << "nothing of the reconciler's part changed: " << previous.dump() << "\n"
      << (kept.status ? kept.status->dump() : "");

  const auto dropped = decideStatus(store(), readyObservation(), previous, kNow);
  ASSERT_TRUE(dropped.status.has_value()) << "autoscaling off: its part goes";
  EXPECT_FALSE(dropped.status->contains("autoscaling"));
}

TEST(DecideInvalidSpecStatus, FailedWithOneWarning) {
  const auto decision =
      decideInvalidSpecStatus(3, "spec.target.deployment: must be a string", Json::object(), kNow);
  ASSERT_TRUE(decision.status.has_value());
  EXPECT_EQ((*decision.status)["phase"], "Failed");
  EXPECT_EQ((*decision.status)["observedGeneration"], 3);
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].reason, "InvalidSpec");
  EXPECT_FALSE(
      decideInvalidSpecStatus(3, "spec.target.deployment: must be a string", *decision.status, kNow)
          .status.has_value());
}

// --- Events for writes -------------------------------------------------------------------------

TEST(WritesEvents, OneCreatedAndOneUpdatedEachNamingEveryObjectOnce) {
  const auto told = writesEvents({"Secret a", "ConfigMap b", "Secret a"}, {"Service c"});
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[0], (Event{.type = events::EventType::kNormal,
                            .reason = "Created",
                            .action = "Create",
                            .note = "created Secret a, ConfigMap b"}));
  EXPECT_EQ(told[1].note, "updated Service c");
  EXPECT_TRUE(writesEvents({}, {}).empty());
}

// --- Deletion ----------------------------------------------------------------------------------

TEST(Finalizer, AddedAndRemovedOnTheVersionRead) {
  Json object = storeObject();
  object["metadata"]["resourceVersion"] = "12";
  object["metadata"]["finalizers"] = {"other.io/keep"};
  EXPECT_FALSE(hasFinalizer(object));
  const Json add = finalizerPatch(object, true);
  EXPECT_EQ(add["metadata"]["resourceVersion"], "12");
  EXPECT_EQ(add["metadata"]["finalizers"],
            (Json{"other.io/keep", std::string(identity::kFinalizer)}));
  object["metadata"]["finalizers"] = add["metadata"]["finalizers"];
  EXPECT_TRUE(hasFinalizer(object));
  EXPECT_EQ(finalizerPatch(object, false)["metadata"]["finalizers"], (Json{"other.io/keep"}));
}

TEST(Releases, TheDeploymentAndTheServiceWhenNamed) {
  const auto both = releases(store());
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].resource, &kube::resources::kDeployments);
  EXPECT_EQ(both[1].body["kind"], "Service");
  EXPECT_FALSE(both[1].body.contains("spec")) << "applying nothing releases the affinity";
  Json spec = kManagedSpec;
  spec["target"].erase("service");
  EXPECT_EQ(releases(store(spec)).size(), 1u);
}

TEST(DeletesData, OnlyAManagedStoreWithDeletePolicy) {
  Json spec = kManagedSpec;
  EXPECT_FALSE(deletesData(store(spec))) << "Retain by default";
  spec["store"]["managed"] = {{"deletionPolicy", "Delete"}};
  EXPECT_TRUE(deletesData(store(spec)));
  EXPECT_FALSE(deletesData(store(kExternalSpec)));
  EXPECT_EQ(claimSelector(store()),
            "sessionstore.io/name=web,app.kubernetes.io/managed-by=sessionstore-operator");
}

}  // namespace
}  // namespace sessionstore::reconcile
