// What the caches keep of an object: whole objects compared before and after slimming.
#include "cache/slim.h"

#include <gtest/gtest.h>

namespace sessionstore::cache {
namespace {

using Json = nlohmann::json;

TEST(SlimObject, KeepsOnlyTheOperatorsApplyEntriesAndTheStatusCountersItReads) {
  Json sts = Json::parse(R"({
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "web-redis", "namespace": "shop", "resourceVersion": "7",
      "labels": {"app.kubernetes.io/managed-by": "sessionstore-operator"},
      "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "a": "b"},
      "managedFields": [
        {"manager": "sessionstore-operator", "operation": "Apply", "fieldsV1": {"f:spec": {}}},
        {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
         "fieldsV1": {"f:status": {}}},
        {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {}}}]},
    "spec": {"replicas": 1},
    "status": {"replicas": 1, "readyReplicas": 1, "observedGeneration": 2,
               "currentRevision": "web-redis-abc", "conditions": [{"type": "x"}]}})");
  slimObject(sts, "sessionstore-operator");
  EXPECT_EQ(sts, Json::parse(R"({
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "web-redis", "namespace": "shop", "resourceVersion": "7",
      "labels": {"app.kubernetes.io/managed-by": "sessionstore-operator"},
      "annotations": {"a": "b"},
      "managedFields": [
        {"manager": "sessionstore-operator", "operation": "Apply", "fieldsV1": {"f:spec": {}}}]},
    "spec": {"replicas": 1},
    "status": {"replicas": 1, "readyReplicas": 1, "observedGeneration": 2}})"));
}

// The objects the operator makes: whether its entries are Apply or Update is all it reads.
TEST(SlimObject, DropsTheOperatorsOwnFieldsWhenAskedAndKeepsTheEntry) {
  Json sts = Json::parse(R"({"metadata": {"name": "web-redis", "managedFields": [
      {"manager": "sessionstore-operator", "operation": "Apply", "fieldsV1": {"f:spec": {}}},
      {"manager": "sessionstore-operator", "operation": "Update", "subresource": "status",
       "fieldsV1": {"f:status": {}}},
      {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}]}})");
  slimObject(sts, "sessionstore-operator", OwnFields::kDrop);
  EXPECT_EQ(sts, Json::parse(R"({"metadata": {"name": "web-redis", "managedFields": [
      {"manager": "sessionstore-operator", "operation": "Apply"},
      {"manager": "sessionstore-operator", "operation": "Update", "subresource": "status"}]}})"));

  const Json created = Json::parse(R"({"metadata": {"name": "c", "managedFields": [
      {"manager": "sessionstore-operator", "operation": "Update", "fieldsV1": {"f:data": {}}}]}})");
  Json slim = created;
  slimObject(slim, "sessionstore-operator", OwnFields::kDrop);
  EXPECT_EQ(slim, created) << "the create entry is taken over whole";
}

TEST(SlimObject, KeepsEveryEntryWhileTheOperatorStillHasItsCreateEntry) {
  // Taking the created fields over to Apply writes the whole list back: nothing may be missing.
  const Json cm = Json::parse(R"({
    "metadata": {"name": "c", "managedFields": [
      {"manager": "sessionstore-operator", "operation": "Update", "fieldsV1": {"f:data": {}}},
      {"manager": "someone", "operation": "Update", "fieldsV1": {"f:data": {"f:x": {}}}}]},
    "data": {"x": "1"}})");
  Json slim = cm;
  slimObject(slim, "sessionstore-operator");
  EXPECT_EQ(slim, cm);
}

TEST(SlimObject, DropsStatusAndManagedFieldsWithNothingToKeep) {
  Json svc = Json::parse(R"({"metadata": {"name": "s", "managedFields": [
      {"manager": "kubectl", "operation": "Apply"}]},
    "spec": {"ports": []}, "status": {"loadBalancer": {}}})");
  slimObject(svc, "sessionstore-operator");
  EXPECT_EQ(svc, Json::parse(R"({"metadata": {"name": "s"}, "spec": {"ports": []}})"));
}

}  // namespace
}  // namespace sessionstore::cache
