#include "wiring/wiring.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace sessionstore::wiring {
namespace {

api::SessionStore parse(const Json& spec) {
  Json object = {{"metadata", {{"name", "web"}, {"namespace", "shop"}}}, {"spec", spec}};
  auto parsed = api::parseSessionStore(object);
  EXPECT_TRUE(parsed.has_value()) << parsed.error();
  return parsed.value_or(api::SessionStore());
}

struct WorkerRow {
  std::string name;
  Json container;
  api::Workers workers;
  int want;
};

Json withCpu(Json limit, Json request) {
  Json container = {{"name", "app"}, {"image", "web:1"}};
  if (!limit.is_null()) container["resources"]["limits"]["cpu"] = limit;
  if (!request.is_null()) container["resources"]["requests"]["cpu"] = request;
  return container;
}

const api::Workers kDefaults;  // perCPU 2, offset 1, min 1, max 32

api::Workers workers(double perCPU, int offset, int min, int max) {
  return {.envVar = "WORKERS", .perCPU = perCPU, .offset = offset, .min = min, .max = max};
}

const std::vector<WorkerRow>& workerRows() {
  static const std::vector<WorkerRow> rows = {
      // PRODUCT.md: a CPU limit of 2 with the defaults gives 5.
      {"LimitTwoDefaults", withCpu("2", nullptr), kDefaults, 5},
      {"LimitWinsOverRequest", withCpu("1", "4"), kDefaults, 3},
      {"RequestWhenNoLimit", withCpu(nullptr, "1500m"), kDefaults, 4},
      {"OneCpuWhenNeither", withCpu(nullptr, nullptr), kDefaults, 3},
      {"NoResourcesAtAll", {{"name", "app"}}, kDefaults, 3},
      {"HalfCpu", withCpu("500m", nullptr), kDefaults, 2},
      {"FractionRoundsUp", withCpu("100m", nullptr), kDefaults, 2},
      {"LimitAsJsonNumber", withCpu(0.5, nullptr), kDefaults, 2},
      {"LimitAsJsonInteger", withCpu(3, nullptr), kDefaults, 7},
      {"NanoCpu", withCpu("1500000000n", nullptr), kDefaults, 4},
      {"ClampedToMax", withCpu("16", nullptr), kDefaults, 32},
      {"AbsurdCpuClampedToMax", withCpu("1e20", nullptr), kDefaults, 32},
      {"ClampedToMin", withCpu("100m", nullptr), workers(2, 1, 4, 8), 4},
      {"ZeroPerCpuGivesOffset", withCpu("8", nullptr), workers(0, 3, 1, 32), 3},
      {"ZeroEverythingGivesMin", withCpu("8", nullptr), workers(0, 0, 1, 32), 1},
      {"DecimalProductIsExact", withCpu("700m", nullptr), workers(10, 0, 1, 32), 7},
      {"FractionalPerCpu", withCpu("3", nullptr), workers(1.5, 0, 1, 32), 5},
  };
  return rows;
}

class WorkerCountTest : public testing::TestWithParam<WorkerRow> {};

TEST_P(WorkerCountTest, FollowsTheFormula) {
  const WorkerRow& row = GetParam();
  auto got = workerCount(row.container, row.workers);
  ASSERT_TRUE(got.has_value()) << got.error();
  EXPECT_EQ(*got, row.want);
}

INSTANTIATE_TEST_SUITE_P(Rows, WorkerCountTest, testing::ValuesIn(workerRows()),
                         [](const auto& row) { return row.param.name; });

TEST(WorkerCountTest, MalformedCpuIsAnError) {
  auto got = workerCount(withCpu("two", nullptr), kDefaults);
  ASSERT_FALSE(got.has_value());
  EXPECT_TRUE(got.error().starts_with("container \"app\": resources.limits.cpu: ")) << got.error();

  got = workerCount(withCpu(nullptr, true), kDefaults);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error(), "container \"app\": resources.requests.cpu: must be a quantity");
}

TEST(WorkerCountTest, ContainerCpuFallsBackToOne) {
  auto cpu = containerCpu(Json::object());
  ASSERT_TRUE(cpu.has_value());
  EXPECT_EQ(cpu->toString(), "1");
  cpu = containerCpu(withCpu("250m", "100m"));
  ASSERT_TRUE(cpu.has_value());
  EXPECT_EQ(cpu->toString(), "250m");
}

struct PoolRow {
  std::string name;
  Json spec;
  int replicasBound;
  int workers;
  std::optional<int> serverMaxClients;
  int want;
};

const Json kTarget = {{"deployment", "web"}};

const std::vector<PoolRow>& poolRows() {
  static const std::vector<PoolRow> rows = {
      // floor(0.9 * 1000 / (10 * 5)) = 18
      {"Defaults", {{"target", kTarget}}, 10, 5, std::nullopt, 18},
      {"OneProcess", {{"target", kTarget}}, 1, 1, std::nullopt, 900},
      // 900 / 21 = 42.86
      {"RoundsDown", {{"target", kTarget}}, 3, 7, std::nullopt, 42},
      // 900 / 3200 = 0.28: at least 2
      {"AtLeastTwo", {{"target", kTarget}}, 100, 32, std::nullopt, 2},
      {"ManagedMaxClients",
       {{"target", kTarget}, {"store", {{"managed", {{"maxClients", 20000}}}}}},
       10,
       5,
       std::nullopt,
       360},
      {"ServerMaxClients", {{"target", kTarget}}, 10, 5, 10000, 180},
      {"ExplicitPoolSize",
       {{"target", kTarget}, {"connection", {{"poolSize", 7}}}},
       100,
       32,
       std::nullopt,
       7},
      {"ZeroBoundCountsAsOne", {{"target", kTarget}}, 0, 0, std::nullopt, 900},
  };
  return rows;
}

class PoolSizeTest : public testing::TestWithParam<PoolRow> {};

TEST_P(PoolSizeTest, FollowsTheFormula) {
  const PoolRow& row = GetParam();
  api::SessionStore store = parse(row.spec);
  EXPECT_EQ(poolSize(store.spec, row.replicasBound, row.workers, row.serverMaxClients), row.want);
}

INSTANTIATE_TEST_SUITE_P(Rows, PoolSizeTest, testing::ValuesIn(poolRows()),
                         [](const auto& row) { return row.param.name; });

TEST(ReplicasBoundTest, NeverTheLiveReplicas) {
  // No field: the default, whatever the Deployment's replicas.
  api::SessionStore plain = parse({{"target", kTarget}});
  EXPECT_EQ(specReplicasBound(plain.spec),
            (ReplicasBound{.replicas = api::kDefaultTargetMaxReplicas,
                           .source = BoundSource::kTargetMaxReplicas}));
  EXPECT_EQ(describeBound(specReplicasBound(plain.spec)), "spec.target.maxReplicas");
  api::SessionStore fixed = parse({{"target", {{"deployment", "web"}, {"maxReplicas", 4}}}});
  EXPECT_EQ(specReplicasBound(fixed.spec).replicas, 4);
  api::SessionStore scaled =
      parse({{"target", kTarget},
             {"autoscaling",
              {{"enabled", true},
               {"maxReplicas", 12},
               {"metrics", {{{"type", "CPU"}, {"targetAverageUtilization", 80}}}}}}});
  EXPECT_EQ(specReplicasBound(scaled.spec),
            (ReplicasBound{.replicas = 12, .source = BoundSource::kAutoscaling}));
  EXPECT_EQ(howToRaiseBound(specReplicasBound(scaled.spec)), "raise spec.autoscaling.maxReplicas");
  EXPECT_EQ(describeBound({.replicas = 7,
                           .source = BoundSource::kHorizontalPodAutoscaler,
                           .scaler = "web-hpa"}),
            "HorizontalPodAutoscaler web-hpa's maxReplicas");
}

// The target as the API server returns it: fields the operator must never put in its body.
Json targetDeployment() {
  return Json::parse(R"json({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "resourceVersion": "9",
                 "labels": {"app": "web"}, "annotations": {"team": "checkout"}},
    "spec": {
      "replicas": 3,
      "selector": {"matchLabels": {"app": "web"}},
      "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [
          {"name": "app", "image": "web:1", "resources": {"limits": {"cpu": "2"}},
           "env": [{"name": "LOG_LEVEL", "value": "info"}]},
          {"name": "sidecar", "image": "proxy:1", "resources": {"requests": {"cpu": "250m"}}}
        ]}
      }
    },
    "status": {"replicas": 3}
  })json");
}

Json envFor(int poolSize, int workers) {
  return {
      {{"name", "REDIS_URL"},
       {"valueFrom", {{"secretKeyRef", {{"name", "web-session-store"}, {"key", "REDIS_URL"}}}}}},
      {{"name", "SESSION_KEY_PREFIX"},
       {"valueFrom",
        {{"secretKeyRef", {{"name", "web-session-store"}, {"key", "SESSION_KEY_PREFIX"}}}}}},
      {{"name", "REDIS_MAX_CONNECTIONS"}, {"value", std::to_string(poolSize)}},
      {{"name", "WORKERS"}, {"value", std::to_string(workers)}},
  };
}

Json wantBody(Json containers) {
  return {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata",
       {{"name", "web"}, {"namespace", "shop"}, {"labels", {{"sessionstore.io/wired-by", "web"}}}}},
      {"spec",
       {{"template",
         {{"metadata", {{"annotations", {{"sessionstore.io/connection-hash", "abc123"}}}}},
          {"spec", {{"containers", containers}}}}}}}};
}

TEST(DeploymentApplyConfigurationTest, WiresEveryContainerByDefault) {
  api::SessionStore store = parse({{"target", kTarget}});
  auto wiring = computeDeploymentWiring(store, targetDeployment(), "abc123", 3);
  ASSERT_TRUE(wiring.has_value()) << wiring.error();
  // A bound of 3 replicas.
  // app: CPU limit 2 gives 5 workers; 900 / (3 replicas * 5) = 60 connections per worker.
  // sidecar: 250m requested gives 2 workers; 900 / (3 * 2) = 150.
  EXPECT_EQ(wiring->containers,
            (std::vector<ContainerWiring>{{.name = "app", .workers = 5, .poolSize = 60},
                                          {.name = "sidecar", .workers = 2, .poolSize = 150}}));
  Json want = wantBody(
      {{{"name", "app"}, {"env", envFor(60, 5)}}, {{"name", "sidecar"}, {"env", envFor(150, 2)}}});
  EXPECT_EQ(deploymentApplyConfiguration(*wiring), want)
      << deploymentApplyConfiguration(*wiring).dump(2);
}

TEST(DeploymentApplyConfigurationTest, WiresOnlyNamedContainersWithCustomNames) {
  api::SessionStore store =
      parse({{"target", {{"deployment", "web"}, {"containers", {"app"}}}},
             {"connection",
              {{"secretName", "conn"}, {"urlEnvVar", "SESSION_URL"}, {"poolSizeEnvVar", "POOL"}}},
             {"workers", {{"envVar", "WEB_CONCURRENCY"}}},
             {"autoscaling",
              {{"enabled", true},
               {"maxReplicas", 6},
               {"metrics", {{{"type", "CPU"}, {"targetAverageUtilization", 80}}}}}}});
  auto wiring = computeDeploymentWiring(store, targetDeployment(), "abc123",
                                        specReplicasBound(store.spec).replicas);
  ASSERT_TRUE(wiring.has_value()) << wiring.error();
  // replicasBound is maxReplicas (6): 900 / (6 * 5) = 30.
  Json env = {
      {{"name", "SESSION_URL"},
       {"valueFrom", {{"secretKeyRef", {{"name", "conn"}, {"key", "REDIS_URL"}}}}}},
      {{"name", "SESSION_KEY_PREFIX"},
       {"valueFrom", {{"secretKeyRef", {{"name", "conn"}, {"key", "SESSION_KEY_PREFIX"}}}}}},
      {{"name", "POOL"}, {"value", "30"}},
      {{"name", "WEB_CONCURRENCY"}, {"value", "5"}},
  };
  Json want = wantBody({{{"name", "app"}, {"env", env}}});
  EXPECT_EQ(deploymentApplyConfiguration(*wiring), want)
      << deploymentApplyConfiguration(*wiring).dump(2);
}

TEST(DeploymentApplyConfigurationTest, NoContainersStillCarriesTheAnnotation) {
  DeploymentWiring wiring{
      .ns = "shop", .store = "web", .deployment = "web", .connectionHash = "abc123"};
  EXPECT_EQ(deploymentApplyConfiguration(wiring), wantBody(Json::array()));
}

TEST(DeploymentUnwireConfigurationTest, HoldsOnlyTheIdentity) {
  EXPECT_EQ(deploymentUnwireConfiguration("shop", "web"),
            Json::parse(R"json({"apiVersion": "apps/v1", "kind": "Deployment",
                                "metadata": {"name": "web", "namespace": "shop"}})json"));
}

TEST(DeploymentApplyConfigurationTest, MissingContainerIsAnError) {
  api::SessionStore store = parse({{"target", {{"deployment", "web"}, {"containers", {"api"}}}}});
  auto wiring = computeDeploymentWiring(store, targetDeployment(), "abc123", 3);
  ASSERT_FALSE(wiring.has_value());
  EXPECT_EQ(wiring.error(),
            "Deployment web has no container \"api\" (named in spec.target.containers)");
}

TEST(DeploymentApplyConfigurationTest, MalformedDeploymentIsAnError) {
  api::SessionStore store = parse({{"target", kTarget}});
  EXPECT_FALSE(computeDeploymentWiring(store, Json::object(), "h", 3).has_value());
  EXPECT_FALSE(computeDeploymentWiring(store, Json::array(), "h", 3).has_value());
  Json deployment = targetDeployment();
  deployment["spec"]["template"]["spec"]["containers"][1]["resources"]["requests"]["cpu"] = "x";
  auto wiring = computeDeploymentWiring(store, deployment, "h", 3);
  ASSERT_FALSE(wiring.has_value());
  EXPECT_TRUE(
      wiring.error().starts_with("Deployment web: container \"sidecar\": resources.requests.cpu: "))
      << wiring.error();
}

// Every part of the target Deployment replaced by a value of every JSON type: never a throw.
TEST(DeploymentApplyConfigurationTest, AnyDeploymentShapeIsAValueOrAnError) {
  api::SessionStore store = parse({{"target", kTarget}});
  const Json full = targetDeployment();
  const Json flat = full.flatten();
  std::vector<std::string> pointers;
  for (const auto& [leaf, value] : flat.items()) {
    std::string pointer = leaf;
    while (!pointer.empty()) {
      pointers.push_back(pointer);
      pointer = pointer.substr(0, pointer.rfind('/'));
    }
  }
  const Json replacements[] = {
      nullptr,           true, -1, 2.5, "x", Json::array(), Json::object(), Json::array({1}),
      Json{{"cpu", "1"}}};
  for (const std::string& pointer : pointers) {
    for (const Json& replacement : replacements) {
      Json deployment = full;
      deployment[Json::json_pointer(pointer)] = replacement;
      ASSERT_NO_THROW({
        auto wiring = computeDeploymentWiring(store, deployment, "h", 3);
        if (wiring) (void)deploymentApplyConfiguration(*wiring);
      }) << pointer
         << " = " << replacement;
    }
  }
}


TEST(RolledOutWith, OnlyACompleteRolloutToThatConnection) {
  const Json done = Json::parse(R"({
    "metadata": {"generation": 4},
    "spec": {"replicas": 2,
             "template": {"metadata": {"annotations": {"sessionstore.io/connection-hash": "h2"}}}},
    "status": {"observedGeneration": 4, "replicas": 2, "updatedReplicas": 2,
               "availableReplicas": 2}})");
  EXPECT_TRUE(rolledOutWith(done, "h2"));
  EXPECT_FALSE(rolledOutWith(done, "h1")) << "another connection";
  const auto with = [&](const char* path, const Json& value) {
    Json changed = done;
    changed[Json::json_pointer(path)] = value;
    return changed;
  };
  EXPECT_FALSE(rolledOutWith(with("/status/observedGeneration", 3), "h2"))
      << "the controller has not seen the change yet";
  EXPECT_FALSE(rolledOutWith(with("/status/replicas", 3), "h2")) << "an old pod is left";
  EXPECT_FALSE(rolledOutWith(with("/status/updatedReplicas", 1), "h2"));
  EXPECT_FALSE(rolledOutWith(with("/status/availableReplicas", 1), "h2"));
  Json noStatus = done;
  noStatus.erase("status");
  EXPECT_FALSE(rolledOutWith(noStatus, "h2"));
  // Scaled to zero: nothing runs, nothing is left to roll.
  Json zero = with("/spec/replicas", 0);
  zero["status"] = {{"observedGeneration", 4}};
  EXPECT_TRUE(rolledOutWith(zero, "h2"));
  EXPECT_FALSE(rolledOutWith(Json::parse(R"({"spec": "x"})"), "h2")) << "malformed: false";
  EXPECT_FALSE(rolledOutWith(Json::array(), "h2"));
}

}  // namespace
}  // namespace sessionstore::wiring
