// "Nothing to change" is decided by contains() for the operator's own objects and by
// ownsExactly() for the fields it applied to the user's Deployment and Service: checked against
// objects shaped as the API server returns them (defaults added, managedFields recorded).
#include "reconcile/matches.h"

#include <gtest/gtest.h>

namespace sessionstore::reconcile {
namespace {

TEST(Contains, IgnoresWhatTheServerAddsAndMatchesZeroValuesWithAbsentFields) {
  const Json desired = R"({"spec": {"ports": [{"name": "redis", "port": 6379}],
                           "publishNotReadyAddresses": false, "selector": {"a": "b"},
                           "extra": {}}})"_json;
  const Json observed = R"({"spec": {"ports": [{"name": "redis", "port": 6379, "protocol": "TCP",
                            "targetPort": 6379}], "selector": {"a": "b"}, "clusterIP": "None",
                            "type": "ClusterIP"}, "status": {}})"_json;
  EXPECT_TRUE(contains(observed, desired));
}

TEST(Contains, SeesAChangedValueAMissingFieldAndAnotherListLength) {
  const Json observed = R"({"a": {"b": 1, "c": ["x", "y"]}})"_json;
  EXPECT_FALSE(contains(observed, R"({"a": {"b": 2}})"_json));
  EXPECT_FALSE(contains(observed, R"({"a": {"d": "e"}})"_json));
  EXPECT_FALSE(contains(observed, R"({"a": {"c": ["x"]}})"_json));
  EXPECT_FALSE(contains(observed, R"({"a": {"d": true}})"_json));
  EXPECT_TRUE(contains(observed, R"({"a": {"c": ["x", "y"]}})"_json));
}

TEST(Contains, MatchesNamedListElementsByNameWhateverTheirPosition) {
  const Json observed = R"({"containers": [{"name": "sidecar", "image": "s"},
                            {"name": "app", "image": "a", "env": [{"name": "X", "value": "1"},
                            {"name": "WORKERS", "value": "5"}]}]})"_json;
  EXPECT_TRUE(contains(observed, R"({"containers": [{"name": "app", "env": [
                                     {"name": "WORKERS", "value": "5"}]}]})"_json));
  EXPECT_FALSE(contains(observed, R"({"containers": [{"name": "app", "env": [
                                      {"name": "WORKERS", "value": "7"}]}]})"_json));
  EXPECT_FALSE(contains(observed, R"({"containers": [{"name": "web"}]})"_json));
}

TEST(Contains, ComparesNumbersByValue) {
  EXPECT_TRUE(contains(R"({"a": 600})"_json, R"({"a": 600.0})"_json));
  EXPECT_FALSE(contains(R"({"a": "600"})"_json, R"({"a": 600})"_json));
}

// The Deployment as the API server returns it after the operator's apply and another manager's.
const Json kDeployment = R"({"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "shop", "managedFields": [
    {"manager": "argocd", "operation": "Apply", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
    {"manager": "sessionstore-operator", "operation": "Apply", "fieldsV1": {"f:spec": {
      "f:template": {"f:metadata": {"f:annotations": {"f:sessionstore.io/connection-hash": {}}},
      "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {
        "k:{\"name\":\"WORKERS\"}": {".": {}, "f:name": {}, "f:value": {}},
        "k:{\"name\":\"REDIS_URL\"}": {".": {}, "f:name": {}, "f:valueFrom": {
          "f:secretKeyRef": {}}}}, "f:name": {}}}}}}}},
    {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
     "fieldsV1": {"f:status": {"f:replicas": {}}}}]},
  "spec": {"replicas": 2, "template": {"metadata": {"annotations": {
    "sessionstore.io/connection-hash": "h1"}}, "spec": {"containers": [{"name": "app",
    "image": "web:1", "env": [{"name": "REDIS_URL", "valueFrom": {"secretKeyRef": {
    "name": "web-session-store", "key": "REDIS_URL"}}}, {"name": "WORKERS", "value": "5"}]}]}}}
})"_json;

Json body(const std::string& hash, const std::string& workers, bool withUrl = true) {
  Json env = Json::array();
  if (withUrl) {
    env.push_back(R"({"name": "REDIS_URL", "valueFrom": {"secretKeyRef": {
                      "name": "web-session-store", "key": "REDIS_URL"}}})"_json);
  }
  env.push_back({{"name", "WORKERS"}, {"value", workers}});
  Json container = {{"name", "app"}, {"env", env}};
  Json out = {{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata", {{"name", "web"}, {"namespace", "shop"}}}};
  out["spec"]["template"]["metadata"]["annotations"]["sessionstore.io/connection-hash"] = hash;
  out["spec"]["template"]["spec"]["containers"] = Json::array({container});
  return out;
}

TEST(OwnsExactly, ReadsTheOperatorsLeavesFromManagedFields) {
  const auto owned = ownedLeafFields(kDeployment, "sessionstore-operator");
  // secretKeyRef is atomic: the server records it as one leaf (as a real apiserver does).
  EXPECT_TRUE(owned.contains(
      "f:spec/f:template/f:spec/f:containers/k:{\"name\":\"app\"}/f:env/"
      "k:{\"name\":\"REDIS_URL\"}/f:valueFrom/f:secretKeyRef"));
  EXPECT_TRUE(owned.contains(
      "f:spec/f:template/f:spec/f:containers/k:{\"name\":\"app\"}/f:env/"
      "k:{\"name\":\"WORKERS\"}/f:value"));
  EXPECT_EQ(ownedLeafFields(kDeployment, "argocd"), std::set<std::string>{"f:spec/f:replicas"});
  EXPECT_TRUE(ownedLeafFields(kDeployment, "nobody").empty());
}

TEST(OwnsExactly, TrueOnlyWhenTheSameFieldsHoldTheSameValues) {
  EXPECT_TRUE(ownsExactly(kDeployment, body("h1", "5"), "sessionstore-operator"));
  EXPECT_FALSE(ownsExactly(kDeployment, body("h2", "5"), "sessionstore-operator"));
  EXPECT_FALSE(ownsExactly(kDeployment, body("h1", "7"), "sessionstore-operator"));
  // A field the operator owns and no longer wants: contains() alone would say "nothing to do".
  EXPECT_TRUE(contains(kDeployment, body("h1", "5", false)));
  EXPECT_FALSE(ownsExactly(kDeployment, body("h1", "5", false), "sessionstore-operator"));
}

}  // namespace
}  // namespace sessionstore::reconcile
