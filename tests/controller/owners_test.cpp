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
