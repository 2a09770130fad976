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

}  // namespace
}  // namespace sessionstore::controller
