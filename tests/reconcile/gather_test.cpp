// gather() against the in-memory client: what it reads for a fresh store and for a known one,
// missing objects as answers, and other errors as the gather's error.
#include "reconcile/gather.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "mocks/kube/fake_client.h"
#include "reconcile/fixtures.h"

namespace sessionstore::reconcile {
namespace {

using namespace testing;  // NOLINT: the fixtures
using kube::FakeClient;
using Verb = FakeClient::Verb;

TEST(Gather, AFreshStoreReadsOnlyItsTarget) {
  FakeClient api;
  api.put(kube::resources::kDeployments, deploymentObject());
  auto gathered = gather(api, store(), /*fresh=*/true);
  ASSERT_TRUE(gathered.has_value()) << gathered.error().message;
  EXPECT_TRUE(gathered->deployment.has_value());
  EXPECT_FALSE(gathered->service.has_value()) << "named, but it does not exist";
  EXPECT_FALSE(gathered->passwordSecret.read) << "created without a read first";
  EXPECT_TRUE(gathered->owned.empty());
  EXPECT_EQ(api.count(Verb::kGet), 2u) << "the Deployment and the Service";
  EXPECT_EQ(api.writes(), 0u);
}

// A target that no store has wired yet: the other stores naming it are found by a field
// selector on spec.target.<field> (never a list of the whole namespace, whose cost grew with
// every store in it); a store naming another target is not among them.
TEST(Gather, AnUnwiredTargetsClaimantsAreListedByAFieldSelector) {
  FakeClient api;
  api.put(kube::resources::kDeployments, deploymentObject());
  api.put(kube::resources::kServices, serviceObject());
  auto other = [](const std::string& name, const std::string& deployment) {
    Json object = storeObject({{"target", {{"deployment", deployment}}},
                               {"store", {{"type", "Managed"}}}});
    object["metadata"]["name"] = name;
    object["metadata"]["uid"] = name + "-uid";
    return object;
  };
  api.put(kube::resources::kSessionStores, storeObject());
  api.put(kube::resources::kSessionStores, other("rival", "web"));
  api.put(kube::resources::kSessionStores, other("elsewhere", "cart"));
  auto gathered = gather(api, store(), /*fresh=*/true);
  ASSERT_TRUE(gathered.has_value()) << gathered.error().message;
  std::vector<std::string> names;
  for (const auto& claimant : gathered->deploymentClaimants) {
    names.push_back(claimant["metadata"]["name"]);
  }
  std::ranges::sort(names);
  EXPECT_EQ(names, (std::vector<std::string>{"rival", "web"}));
  ASSERT_EQ(gathered->serviceClaimants.size(), 1u) << "only web names the Service";
  EXPECT_EQ(gathered->serviceClaimants[0]["metadata"]["name"], "web");
  std::vector<std::string> selectors;
  for (const auto& request : api.requests()) {
    if (request.verb == Verb::kList && request.resource == "sessionstores") {
      selectors.push_back(request.detail);
    }
  }
  EXPECT_EQ(selectors, (std::vector<std::string>{"|spec.target.deployment=web",
                                                 "|spec.target.service=web"}));
}

TEST(Gather, AKnownStoreReadsItsSecretsAndEveryObjectItControls) {
  FakeClient api;
  api.put(kube::resources::kDeployments, deploymentObject());
  api.put(kube::resources::kServices, serviceObject());
  api.put(kube::resources::kConfigMaps,
          ownedBy({{"kind", "ConfigMap"},
                   {"metadata", {{"namespace", "shop"}, {"name", "web-redis-config"}}}}));
  auto gathered = gather(api, store(), /*fresh=*/false);
  ASSERT_TRUE(gathered.has_value());
  EXPECT_TRUE(gathered->service.has_value());
  EXPECT_TRUE(gathered->passwordSecret.read);
  EXPECT_FALSE(gathered->passwordSecret.object.has_value());
  const auto& config = gathered->ownedObject("ConfigMap web-redis-config");
  EXPECT_TRUE(config.read);
  EXPECT_TRUE(config.object.has_value());
  for (const char* what :
       {"Service web-redis-headless", "Service web-redis", "StatefulSet web-redis",
        "NetworkPolicy web-redis", "Secret web-session-store"}) {
    EXPECT_TRUE(gathered->ownedObject(what).read) << what;
    EXPECT_FALSE(gathered->ownedObject(what).object.has_value()) << what;
  }
  EXPECT_FALSE(gathered->ownedObject("ConfigMap unrelated").read);
  EXPECT_EQ(api.writes(), 0u) << "gather only reads";
}

TEST(Gather, AnExternalStoreReadsItsUrlSecret) {
  FakeClient api;
  api.put(kube::resources::kSecrets,
          {{"kind", "Secret"}, {"metadata", {{"namespace", "shop"}, {"name", "redis-url"}}}});
  auto gathered = gather(api, store(kExternalSpec), /*fresh=*/true);
  ASSERT_TRUE(gathered.has_value());
  EXPECT_FALSE(gathered->deployment.has_value());
  EXPECT_TRUE(gathered->urlSecret.object.has_value());
  EXPECT_FALSE(gathered->passwordSecret.read) << "an external store has no passwords of ours";
}

TEST(Gather, AFailedReadIsTheGathersError) {
  FakeClient api;
  api.failNext(Verb::kGet, kube::resources::kStatefulSets,
               {.kind = kube::ErrorKind::kUnavailable, .message = "connection refused"});
  auto gathered = gather(api, store(), /*fresh=*/false);
  ASSERT_FALSE(gathered.has_value());
  EXPECT_EQ(gathered.error().kind, kube::ErrorKind::kUnavailable);
}

TEST(Gather, ListsTheNamespacesAutoscalersAndNoKedaIsNone) {
  FakeClient api;
  api.put(kube::resources::kDeployments, deploymentObject());
  const auto hpa = [](const std::string& ns) {
    return Json{{"kind", "HorizontalPodAutoscaler"},
                {"metadata", {{"namespace", ns}, {"name", "web"}}},
                {"spec", {{"maxReplicas", 5}}}};
  };
  api.put(kube::resources::kHorizontalPodAutoscalers, hpa("shop"));
  api.put(kube::resources::kHorizontalPodAutoscalers, hpa("elsewhere"));
  // KEDA is not installed: its resource is not served.
  api.failNext(Verb::kList, kube::resources::kScaledObjects,
               {.kind = kube::ErrorKind::kNotFound, .httpStatus = 404});
  auto gathered = gather(api, store(), /*fresh=*/false);
  ASSERT_TRUE(gathered.has_value()) << gathered.error().message;
  ASSERT_EQ(gathered->horizontalPodAutoscalers.size(), 1u);
  EXPECT_EQ(gathered->horizontalPodAutoscalers[0]["metadata"]["namespace"], "shop");
  EXPECT_TRUE(gathered->scaledObjects.empty());
  EXPECT_EQ(api.count(Verb::kList, "horizontalpodautoscalers"), 1u);
  EXPECT_EQ(api.count(Verb::kList, "scaledobjects"), 1u);

  // Any other failed list is the gather's error (retried with backoff).
  api.failNext(Verb::kList, kube::resources::kHorizontalPodAutoscalers,
               {.kind = kube::ErrorKind::kForbidden, .httpStatus = 403});
  auto refused = gather(api, store(), /*fresh=*/false);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, kube::ErrorKind::kForbidden);
}

TEST(Gather, HealthComesFromTheStoreHealth) {
  ScriptedHealth health;
  health.answer = answers();
  const wiring::StoreEndpoint app{.host = "h", .port = 1, .username = "app", .password = "p"};
  EXPECT_TRUE(gatherHealth(health, "shop/web", app, std::nullopt).ok);
  EXPECT_EQ(health.checked, std::vector<std::string>{"shop/web"});
}

}  // namespace
}  // namespace sessionstore::reconcile
