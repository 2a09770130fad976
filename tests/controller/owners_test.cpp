// From an object a cache saw to the SessionStore it belongs to.
#include "controller/owners.h"

#include <gtest/gtest.h>

namespace sessionstore::controller {
namespace {

using informer::Json;

TEST(OwningStoreKeys, TheControllerOwnerReferenceNamesTheStore) {
  const auto object = Json::parse(R"({"metadata": {"name": "web-redis", "namespace": "shop",
    "labels": {"sessionstore.io/name": "other"},
    "ownerReferences": [
      {"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": false},
      {"apiVersion": "sessionstore.io/v1alpha1", "kind": "SessionStore", "name": "web",
       "uid": "u", "controller": true}]}})");
  EXPECT_EQ(owningStoreKeys(object), std::vector<std::string>{"shop/web"});
}

TEST(OwningStoreKeys, WithoutAnOwnerReferenceTheLabelNamesTheStore) {
  const auto object = Json::parse(
      R"({"metadata": {"name": "x", "namespace": "shop", "labels": {"sessionstore.io/name": "web"}}})");
  EXPECT_EQ(owningStoreKeys(object), std::vector<std::string>{"shop/web"});
}

TEST(OwningStoreKeys, ANonControllerOwnerOrNothingNamesNoStore) {
  EXPECT_TRUE(owningStoreKeys(Json::parse(R"({"metadata": {"name": "x", "namespace": "shop",
    "ownerReferences": [{"apiVersion": "sessionstore.io/v1alpha1", "kind": "SessionStore",
                         "name": "web"}]}})"))
                  .empty());
  EXPECT_TRUE(owningStoreKeys(Json::parse(R"({"metadata": {"name": "x"}})")).empty());
  EXPECT_TRUE(owningStoreKeys(Json::array()).empty());
}

TEST(WiringStoreKeys, TheWiredByLabelNamesTheStore) {
  EXPECT_EQ(wiringStoreKeys(Json::parse(R"({"metadata": {"name": "app", "namespace": "shop",
    "labels": {"sessionstore.io/wired-by": "web"}}})")),
            std::vector<std::string>{"shop/web"});
  EXPECT_TRUE(wiringStoreKeys(Json::parse(R"({"metadata": {"name": "app", "namespace": "shop",
    "labels": {"sessionstore.io/name": "web"}}})"))
                  .empty());
}

// --- HPAs and ScaledObjects: the stores whose Deployment they target ------------------------

Json sessionStore(const std::string& name, const std::string& deployment) {
  return {{"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec", {{"target", {{"deployment", deployment}}}}}};
}

std::vector<Json> storesOfShop(const std::string& ns) {
  if (ns != "shop") return {};
  return {sessionStore("web", "web"), sessionStore("api", "api"), sessionStore("bad", "")};
}

Json scaler(const std::string& target, int max, const std::string& kind = "Deployment",
            const std::string& rv = "1") {
  return {{"metadata", {{"name", "s"}, {"namespace", "shop"}, {"resourceVersion", rv}}},
          {"spec", {{"scaleTargetRef", {{"kind", kind}, {"name", target}}}, {"maxReplicas", max}}}};
}

TEST(ScalerTargetStoreKeys, TheStoresWhoseDeploymentItTargets) {
  EXPECT_EQ(scalerTargetStoreKeys(scaler("web", 5), storesOfShop),
            std::vector<std::string>{"shop/web"});
  EXPECT_TRUE(scalerTargetStoreKeys(scaler("web", 5, "StatefulSet"), storesOfShop).empty());
  EXPECT_TRUE(scalerTargetStoreKeys(scaler("nothing", 5), storesOfShop).empty());
  // Malformed objects name no store and never throw.
  for (const char* text : {R"(null)", R"([])", R"({"metadata": 3})",
                           R"({"metadata": {"namespace": "shop"}, "spec": {"scaleTargetRef": 1}})",
                           R"({"metadata": {"namespace": "shop"}, "spec": []})",
                           R"({"metadata": {"namespace": "shop"},
                               "spec": {"scaleTargetRef": {"name": 7}}})"}) {
    EXPECT_TRUE(scalerTargetStoreKeys(Json::parse(text), storesOfShop).empty()) << text;
  }
}

TEST(ScalerUpdateMatters, OnlyTheTargetTheMaximumOrAResync) {
  const Json before = scaler("web", 5);
  Json statusOnly = before;
  statusOnly["metadata"]["resourceVersion"] = "2";
  statusOnly["status"] = {{"currentReplicas", 3}};
  EXPECT_FALSE(scalerUpdateMatters(before, statusOnly)) << "an HPA's status moves at each sync";
  EXPECT_TRUE(scalerUpdateMatters(before, scaler("web", 6, "Deployment", "2")));
  EXPECT_TRUE(scalerUpdateMatters(before, scaler("api", 5, "Deployment", "2")));
  Json keda = before;
  keda["spec"].erase("maxReplicas");
  keda["spec"]["maxReplicaCount"] = 20;
  keda["metadata"]["resourceVersion"] = "2";
  EXPECT_TRUE(scalerUpdateMatters(before, keda));
  EXPECT_TRUE(scalerUpdateMatters(before, before)) << "a resync";
}

TEST(EnqueueScalerTargets, AMovedTargetEnqueuesBothStores) {
  std::vector<std::string> enqueued;
  const auto handlers = enqueueScalerTargets(
      [](const Json& object) { return scalerTargetStoreKeys(object, storesOfShop); },
      [&](const std::string& key) { enqueued.push_back(key); });
  handlers.onAdd(scaler("web", 5));
  EXPECT_EQ(enqueued, std::vector<std::string>{"shop/web"});
  enqueued.clear();
  Json statusOnly = scaler("web", 5, "Deployment", "2");
  statusOnly["status"] = {{"currentReplicas", 3}};
  handlers.onUpdate(scaler("web", 5), statusOnly);
  EXPECT_TRUE(enqueued.empty());
  handlers.onUpdate(scaler("web", 5), scaler("api", 5, "Deployment", "3"));
  EXPECT_EQ(enqueued, (std::vector<std::string>{"shop/web", "shop/api"}));
  enqueued.clear();
  handlers.onDelete(scaler("api", 5));
  EXPECT_EQ(enqueued, std::vector<std::string>{"shop/api"});
}

TEST(TargetWaiters, AReleasedTargetWakesTheStoresWaitingForIt) {
  TargetWaiters waiters;
  waiters.waitFor("shop/second", {"Deployment shop/app", "Service shop/app"});
  waiters.waitFor("shop/third", {"Deployment shop/app"});
  // The label-scoped watch shows the release as a deletion of the object as the cache held it:
  // labelled with the first store.
  const auto released = Json::parse(R"({"metadata": {"name": "app", "namespace": "shop",
    "labels": {"sessionstore.io/wired-by": "first"}}})");
  EXPECT_EQ(waiters.keysFor("Deployment", released),
            (std::vector<std::string>{"shop/first", "shop/second", "shop/third"}));
  EXPECT_EQ(waiters.keysFor("Service", released),
            (std::vector<std::string>{"shop/first", "shop/second"}));
  EXPECT_EQ(waiters.waitersOf("Service shop/app"), std::vector<std::string>{"shop/second"});
  const auto elsewhere = Json::parse(R"({"metadata": {"name": "app", "namespace": "other"}})");
  EXPECT_TRUE(waiters.keysFor("Deployment", elsewhere).empty());

  // A store that no longer waits (it took the target, or it is gone) is not woken again.
  waiters.waitFor("shop/second", {});
  waiters.waitFor("shop/third", {"Service shop/app"});
  EXPECT_EQ(waiters.keysFor("Deployment", released), std::vector<std::string>{"shop/first"});
  EXPECT_EQ(waiters.waitersOf("Service shop/app"), std::vector<std::string>{"shop/third"});
  EXPECT_TRUE(waiters.keysFor("Deployment", Json::array()).empty());
}

}  // namespace
}  // namespace sessionstore::controller
