#include "api/session_store.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sessionstore::api {
namespace {

using quantity::Quantity;

Quantity q(std::string_view text) {
  auto parsed = Quantity::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(Quantity());
}

// Every default of crds/sessionstore.io_sessionstores.yaml, written out here rather than taken
// from the structs' initializers, so that a changed initializer fails a test.
SessionStoreSpec crdDefaults() {
  SessionStoreSpec spec;
  spec.target = {.deployment = "web", .service = "", .containers = {}};
  spec.store.type = StoreType::kManaged;
  spec.store.managed.image = "redis:7.2-alpine";
  spec.store.managed.resources = {};
  spec.store.managed.maxMemory = q("64Mi");
  spec.store.managed.evictionPolicy = "volatile-lru";
  spec.store.managed.maxClients = 1000;
  spec.store.managed.persistence = {.enabled = true, .size = q("1Gi"), .storageClassName = ""};
  spec.store.managed.deletionPolicy = DeletionPolicy::kRetain;
  spec.store.external = std::nullopt;
  spec.connection = {.secretName = "",
                     .urlEnvVar = "REDIS_URL",
                     .keyPrefix = "",
                     .poolSizeEnvVar = "REDIS_MAX_CONNECTIONS",
                     .poolSize = 0};
  spec.affinity = {.mode = AffinityMode::kUntilStoreReady, .timeoutSeconds = 3600};
  spec.workers = {.envVar = "WORKERS", .perCPU = 2, .offset = 1, .min = 1, .max = 32};
  spec.autoscaling = {
      .enabled = false,
      .minReplicas = 2,
      .maxReplicas = 10,
      .pollIntervalSeconds = 15,
      .metrics = {},
      .behavior = {.scaleUp = {.stabilizationWindowSeconds = 0, .maxReplicasPerStep = 4},
                   .scaleDown = {.stabilizationWindowSeconds = 300, .maxReplicasPerStep = 1}}};
  return spec;
}

struct MinimalRow {
  std::string name;
  Json spec;
};

// Specs that say nothing beyond the target, in the ways a user or the server can say nothing.
const std::vector<MinimalRow>& minimalRows() {
  static const std::vector<MinimalRow> rows = {
      {"OnlyTarget", {{"target", {{"deployment", "web"}}}}},
      {"EmptyObjects",
       {{"target", {{"deployment", "web"}}},
        {"store", {{"managed", {{"persistence", Json::object()}}}}},
        {"connection", Json::object()},
        {"affinity", Json::object()},
        {"workers", Json::object()},
        {"autoscaling",
         {{"behavior", {{"scaleUp", Json::object()}}}, {"metrics", Json::array()}}}}},
      {"NullsMeanAbsent",
       {{"target", {{"deployment", "web"}, {"service", nullptr}, {"containers", nullptr}}},
        {"store", {{"type", nullptr}, {"managed", {{"maxMemory", nullptr}}}}},
        {"connection", nullptr},
        {"affinity", {{"mode", nullptr}}},
        {"workers", {{"perCPU", nullptr}}},
        {"autoscaling", nullptr}}},
  };
  return rows;
}

class MinimalSpecTest : public testing::TestWithParam<MinimalRow> {};

TEST_P(MinimalSpecTest, GetsEveryCrdDefault) {
  Json object = {{"apiVersion", "sessionstore.io/v1alpha1"},
                 {"kind", "SessionStore"},
                 {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
                 {"spec", GetParam().spec}};
  auto parsed = parseSessionStore(object);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->spec, crdDefaults());
  EXPECT_EQ(parsed->spec.store.managed.maxMemory.toString(), "64Mi");
  EXPECT_EQ(parsed->spec.store.managed.persistence.size.toString(), "1Gi");
  EXPECT_EQ(parsed->metadata.ns, "shop");
  EXPECT_EQ(parsed->metadata.name, "web");
  EXPECT_EQ(parsed->metadata.generation, 0);
  EXPECT_FALSE(parsed->metadata.deletionTimestamp.has_value());
  EXPECT_EQ(secretName(*parsed), "web-session-store");
  EXPECT_EQ(keyPrefix(*parsed), "shop:web:");
}

INSTANTIATE_TEST_SUITE_P(Rows, MinimalSpecTest, testing::ValuesIn(minimalRows()),
                         [](const auto& row) { return row.param.name; });

// A spec where every field differs from its default.
Json fullObject() {
  return Json::parse(R"json({
    "apiVersion": "sessionstore.io/v1alpha1",
    "kind": "SessionStore",
    "metadata": {
      "name": "web", "namespace": "shop", "uid": "0b1c", "generation": 7,
      "resourceVersion": "12345", "deletionTimestamp": "2026-11-22T01:00:00Z",
      "finalizers": ["sessionstore.io/finalizer", "other/finalizer"]
    },
    "spec": {
      "target": {"deployment": "shop-web", "service": "shop-svc", "containers": ["app", "worker"]},
      "store": {
        "type": "Managed",
        "managed": {
          "image": "redis:7.4",
          "resources": {"limits": {"cpu": "500m", "memory": 268435456},
                        "requests": {"cpu": 1, "memory": "128Mi"}},
          "maxMemory": "200Mi",
          "evictionPolicy": "allkeys-lfu",
          "maxClients": 5000,
          "persistence": {"enabled": false, "size": "5Gi", "storageClassName": "fast"},
          "deletionPolicy": "Delete"
        }
      },
      "connection": {"secretName": "redis-conn", "urlEnvVar": "SESSION_URL", "keyPrefix": "app:",
                     "poolSizeEnvVar": "POOL", "poolSize": 12},
      "affinity": {"mode": "ClientIP", "timeoutSeconds": 600},
      "workers": {"envVar": "WEB_CONCURRENCY", "perCPU": 1.5, "offset": 0, "min": 2, "max": 16},
      "autoscaling": {
        "enabled": true, "minReplicas": 3, "maxReplicas": 20, "pollIntervalSeconds": 30,
        "metrics": [
          {"type": "CPU", "targetAverageUtilization": 80},
          {"type": "Memory", "targetAverageUtilization": 90},
          {"type": "ActiveSessions", "targetPerReplica": 500},
          {"type": "StoreClients", "targetPerReplica": 40},
          {"type": "Latency", "targetValue": "2s",
           "prometheus": {"url": "http://prometheus:9090", "query": "histogram_quantile(0.9, x)"}}
        ],
        "behavior": {"scaleUp": {"stabilizationWindowSeconds": 60, "maxReplicasPerStep": 2},
                     "scaleDown": {"stabilizationWindowSeconds": 600, "maxReplicasPerStep": 3}}
      }
    }
  })json");
}

TEST(FullSpecTest, KeepsEveryValue) {
  auto parsed = parseSessionStore(fullObject());
  ASSERT_TRUE(parsed.has_value()) << parsed.error();

  SessionStore want;
  want.metadata = {.ns = "shop",
                   .name = "web",
                   .uid = "0b1c",
                   .generation = 7,
                   .resourceVersion = "12345",
                   .deletionTimestamp = "2026-11-22T01:00:00Z",
                   .finalizers = {"sessionstore.io/finalizer", "other/finalizer"}};
  SessionStoreSpec& spec = want.spec;
  spec.target = {.deployment = "shop-web", .service = "shop-svc", .containers = {"app", "worker"}};
  spec.store.type = StoreType::kManaged;
  spec.store.managed = {
      .image = "redis:7.4",
      .resources = {.limits = {{"cpu", q("500m")}, {"memory", q("256Mi")}},
                    .requests = {{"cpu", q("1")}, {"memory", q("128Mi")}}},
      .maxMemory = q("200Mi"),
      .evictionPolicy = "allkeys-lfu",
      .maxClients = 5000,
      .persistence = {.enabled = false, .size = q("5Gi"), .storageClassName = "fast"},
      .deletionPolicy = DeletionPolicy::kDelete};
  spec.connection = {.secretName = "redis-conn",
                     .urlEnvVar = "SESSION_URL",
                     .keyPrefix = "app:",
                     .poolSizeEnvVar = "POOL",
                     .poolSize = 12};
  spec.affinity = {.mode = AffinityMode::kClientIP, .timeoutSeconds = 600};
  spec.workers = {.envVar = "WEB_CONCURRENCY", .perCPU = 1.5, .offset = 0, .min = 2, .max = 16};
  spec.autoscaling = {
      .enabled = true,
      .minReplicas = 3,
      .maxReplicas = 20,
      .pollIntervalSeconds = 30,
      .metrics = {{.type = MetricType::kCPU, .targetAverageUtilization = 80},
                  {.type = MetricType::kMemory, .targetAverageUtilization = 90},
                  {.type = MetricType::kActiveSessions, .targetPerReplica = 500},
                  {.type = MetricType::kStoreClients, .targetPerReplica = 40},
                  {.type = MetricType::kLatency,
                   .targetValue = "2s",
                   .prometheus = PrometheusQuery{.url = "http://prometheus:9090",
                                                 .query = "histogram_quantile(0.9, x)"}}},
      .behavior = {.scaleUp = {.stabilizationWindowSeconds = 60, .maxReplicasPerStep = 2},
                   .scaleDown = {.stabilizationWindowSeconds = 600, .maxReplicasPerStep = 3}}};

  EXPECT_EQ(parsed->metadata, want.metadata);
  EXPECT_EQ(parsed->spec.target, want.spec.target);
  EXPECT_EQ(parsed->spec.store, want.spec.store);
  EXPECT_EQ(parsed->spec.connection, want.spec.connection);
  EXPECT_EQ(parsed->spec.affinity, want.spec.affinity);
  EXPECT_EQ(parsed->spec.workers, want.spec.workers);
  EXPECT_EQ(parsed->spec.autoscaling, want.spec.autoscaling);
  EXPECT_EQ(*parsed, want);
  // Quantities keep the form they were written in.
  EXPECT_EQ(parsed->spec.store.managed.maxMemory.toString(), "200Mi");
  EXPECT_EQ(parsed->spec.store.managed.resources.limits.at("cpu").toString(), "500m");
  EXPECT_EQ(secretName(*parsed), "redis-conn");
  EXPECT_EQ(keyPrefix(*parsed), "app:");
}

// toJson spells out the effective spec: the full spec comes back as written (its integer
// quantities as canonical strings), and parsing the output gives the same spec.
TEST(FullSpecTest, RoundTripsThroughToJson) {
  Json object = fullObject();
  auto parsed = parseSessionStore(object);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  Json want = object["spec"];
  want["store"]["managed"]["resources"]["limits"]["memory"] = "268435456";  // decimal, as k8s
  want["store"]["managed"]["resources"]["requests"]["cpu"] = "1";
  EXPECT_EQ(toJson(parsed->spec), want) << toJson(parsed->spec).dump(2);

  Json again = object;
  again["spec"] = toJson(parsed->spec);
  auto reparsed = parseSessionStore(again);
  ASSERT_TRUE(reparsed.has_value()) << reparsed.error();
  EXPECT_EQ(*reparsed, *parsed);
}

TEST(MinimalSpecDefaultsTest, ToJsonSpellsOutEveryDefault) {
  auto parsed = parseSessionStore(
      {{"metadata", {{"name", "web"}}}, {"spec", {{"target", {{"deployment", "web"}}}}}});
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  Json want = Json::parse(R"json({
    "target": {"deployment": "web"},
    "store": {"type": "Managed", "managed": {
      "image": "redis:7.2-alpine", "resources": {}, "maxMemory": "64Mi",
      "evictionPolicy": "volatile-lru", "maxClients": 1000,
      "persistence": {"enabled": true, "size": "1Gi"}, "deletionPolicy": "Retain"}},
    "connection": {"urlEnvVar": "REDIS_URL", "poolSizeEnvVar": "REDIS_MAX_CONNECTIONS",
                   "poolSize": 0},
    "affinity": {"mode": "UntilStoreReady", "timeoutSeconds": 3600},
    "workers": {"envVar": "WORKERS", "perCPU": 2.0, "offset": 1, "min": 1, "max": 32},
    "autoscaling": {"enabled": false, "minReplicas": 2, "maxReplicas": 10,
                    "pollIntervalSeconds": 15, "metrics": [],
                    "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0,
                                             "maxReplicasPerStep": 4},
                                 "scaleDown": {"stabilizationWindowSeconds": 300,
                                               "maxReplicasPerStep": 1}}}
  })json");
  EXPECT_EQ(toJson(parsed->spec), want) << toJson(parsed->spec).dump(2);
  EXPECT_EQ(secretName(*parsed), "web-session-store");
  EXPECT_EQ(keyPrefix(*parsed), ":web:");  // no namespace in the object
}

TEST(FullSpecTest, ExternalStore) {
  Json object = fullObject();
  object["spec"]["store"] = {{"type", "External"},
                             {"external", {{"urlSecretRef", {{"name", "elasticache"}}}}}};
  auto parsed = parseSessionStore(object);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->spec.store.type, StoreType::kExternal);
  ASSERT_TRUE(parsed->spec.store.external.has_value());
  EXPECT_EQ(parsed->spec.store.external->urlSecretRef.name, "elasticache");
  EXPECT_EQ(parsed->spec.store.external->urlSecretRef.key, "url");  // the default key

  object["spec"]["store"]["external"]["urlSecretRef"]["key"] = "primary";
  parsed = parseSessionStore(object);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->spec.store.external->urlSecretRef.key, "primary");
  EXPECT_EQ(toJson(parsed->spec)["store"], Json::parse(R"json({"type": "External",
                                "external": {"urlSecretRef": {"name": "elasticache",
                                                              "key": "primary"}}})json"));
}

TEST(FullSpecTest, ManagedTls) {
  Json object = fullObject();
  object["spec"]["store"] = Json::parse(R"json({"type": "Managed", "managed": {
      "tls": {"enabled": true, "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}}}})json");
  auto parsed = parseSessionStore(object);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  const auto& tls = parsed->spec.store.managed.tls;
  EXPECT_TRUE(tls.enabled);
  ASSERT_TRUE(tls.issuerRef.has_value());
  EXPECT_EQ(tls.issuerRef->name, "corp-ca");
  EXPECT_EQ(tls.issuerRef->kind, "ClusterIssuer");
  EXPECT_EQ(tls.issuerRef->group, "cert-manager.io");  // the default group
  EXPECT_EQ(toJson(parsed->spec)["store"]["managed"]["tls"],
            Json::parse(R"json({"enabled": true, "issuerRef": {"name": "corp-ca",
                                "kind": "ClusterIssuer", "group": "cert-manager.io"}})json"));
  Json again = object;
  again["spec"] = toJson(parsed->spec);
  EXPECT_EQ(parseSessionStore(again)->spec, parsed->spec);
  // Off (the default): not in the effective spec, so a store without TLS reads as before.
  object["spec"]["store"]["managed"].erase("tls");
  parsed = parseSessionStore(object);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_FALSE(parsed->spec.store.managed.tls.enabled);
  EXPECT_FALSE(toJson(parsed->spec)["store"]["managed"].contains("tls"));
}

TEST(FullSpecTest, ManagedTlsRefusals) {
  const auto refusal = [](const char* tls) {
    Json object = fullObject();
    object["spec"]["store"] = {{"type", "Managed"}, {"managed", {{"tls", Json::parse(tls)}}}};
    auto parsed = parseSessionStore(object);
    return parsed ? std::string("accepted") : parsed.error();
  };
  EXPECT_EQ(refusal(R"({"issuerRef": {"name": "corp-ca"}})"),
            "spec.store.managed.tls.issuerRef: is only used with tls.enabled true: set enabled, "
            "or remove issuerRef");
  EXPECT_TRUE(refusal(R"({"enabled": true, "issuerRef": {"name": "x", "kind": "Vault"}})")
                  .starts_with("spec.store.managed.tls.issuerRef.kind:"));
  EXPECT_TRUE(refusal(R"({"enabled": true, "issuerRef": {}})")
                  .starts_with("spec.store.managed.tls.issuerRef.name:"));
  EXPECT_TRUE(refusal(R"({"enabled": true, "issuerRef": {"name": "a\nb"}})")
                  .starts_with("spec.store.managed.tls.issuerRef.name:"));
  EXPECT_TRUE(refusal(R"({"enabled": "yes"})").starts_with("spec.store.managed.tls.enabled:"));
  EXPECT_EQ(refusal(R"({"enabled": true})"), "accepted");
}

TEST(FullSpecTest, ExternalTls) {
  Json object = fullObject();
  object["spec"]["store"] = Json::parse(R"json({"type": "External", "external": {
      "urlSecretRef": {"name": "elasticache"},
      "tls": {"caSecretRef": {"name": "store-ca"}, "serverName": "cache.example.com"}}})json");
  auto parsed = parseSessionStore(object);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  const auto& tls = parsed->spec.store.external->tls;
  ASSERT_TRUE(tls.has_value());
  ASSERT_TRUE(tls->caSecretRef.has_value());
  EXPECT_EQ(tls->caSecretRef->name, "store-ca");
  EXPECT_EQ(tls->caSecretRef->key, "ca.crt");  // the default key
  EXPECT_EQ(tls->serverName, "cache.example.com");
  EXPECT_FALSE(tls->insecureSkipVerify);
  EXPECT_EQ(toJson(parsed->spec)["store"]["external"]["tls"],
            Json::parse(R"json({"caSecretRef": {"name": "store-ca", "key": "ca.crt"},
                                "serverName": "cache.example.com",
                                "insecureSkipVerify": false})json"));
  // toJson then parse gives the same spec back.
  Json again = object;
  again["spec"] = toJson(parsed->spec);
  EXPECT_EQ(parseSessionStore(again)->spec, parsed->spec);
  // No tls block: none (a rediss:// URL is then verified against the system's CAs).
  object["spec"]["store"]["external"].erase("tls");
  EXPECT_FALSE(parseSessionStore(object)->spec.store.external->tls.has_value());
}

TEST(InvalidObjectTest, ExternalTlsFieldsSayWhatIsWrong) {
  const std::pair<Json, std::string> rows[] = {
      {{{"caSecretRef", {{"name", "ca"}}}, {"insecureSkipVerify", true}},
       "spec.store.external.tls.insecureSkipVerify: cannot be true with caSecretRef"},
      {{{"insecureSkipVerify", "yes"}},
       "spec.store.external.tls.insecureSkipVerify: must be a boolean"},
      {{{"caSecretRef", Json::object()}}, "spec.store.external.tls.caSecretRef.name: required"},
      {{{"caSecretRef", {{"name", "ca"}, {"key", ""}}}},
       "spec.store.external.tls.caSecretRef.key: must not be empty"},
      {{{"serverName", "cache.example.com\nHost: evil"}},
       "spec.store.external.tls.serverName: must be a DNS name or an IP address"},
      {{{"serverName", std::string(254, 'a')}},
       "spec.store.external.tls.serverName: must be a DNS name or an IP address"},
      {"on", "spec.store.external.tls: must be an object"},
  };
  for (const auto& [tls, error] : rows) {
    Json object = fullObject();
    object["spec"]["store"] = {{"type", "External"},
                               {"external", {{"urlSecretRef", {{"name", "u"}}}, {"tls", tls}}}};
    auto parsed = parseSessionStore(object);
    ASSERT_FALSE(parsed.has_value()) << tls.dump();
    EXPECT_TRUE(parsed.error().starts_with(error)) << parsed.error();
  }
}

struct InvalidRow {
  std::string pointer;  // JSON pointer into fullObject() of the field to replace
  Json value;
  std::string error;  // what parseSessionStore returns
};

// Each field with a value of the wrong type (or outside the CRD's enum or range), and the error
// naming it.
const std::vector<InvalidRow>& invalidRows() {
  static const std::vector<InvalidRow> rows = {
      {"/metadata", "web", "metadata: must be an object"},
      {"/metadata/name", 5, "metadata.name: must be a string"},
      {"/metadata/name", "", "metadata.name: must not be empty"},
      {"/metadata/namespace", true, "metadata.namespace: must be a string"},
      {"/metadata/generation", "7", "metadata.generation: must be an integer"},
      {"/metadata/finalizers", "x", "metadata.finalizers: must be an array"},
      {"/metadata/finalizers/1", 3, "metadata.finalizers[1]: must be a string"},
      {"/spec", Json::array(), "spec: must be an object"},
      {"/spec/target", "web", "spec.target: must be an object"},
      {"/spec/target/deployment", 1, "spec.target.deployment: must be a string"},
      {"/spec/target/deployment", "", "spec.target.deployment: must not be empty"},
      {"/spec/target/service", Json::object(), "spec.target.service: must be a string"},
      {"/spec/target/containers", "app", "spec.target.containers: must be an array"},
      {"/spec/target/containers/0", nullptr, "spec.target.containers[0]: must be a string"},
      {"/spec/store", 1, "spec.store: must be an object"},
      {"/spec/store/type", "Local",
       "spec.store.type: must be one of Managed, External, got \"Local\""},
      {"/spec/store/type", 1, "spec.store.type: must be a string"},
      {"/spec/target/maxReplicas", "5", "spec.target.maxReplicas: must be an integer"},
      {"/spec/target/maxReplicas", 0, "spec.target.maxReplicas: must be between 1 and 1000, got 0"},
      // The full object autoscales: the bound is autoscaling.maxReplicas.
      {"/spec/target/maxReplicas", 5,
       "spec.target.maxReplicas: not allowed with spec.autoscaling.enabled, where the connection "
       "pools are sized for spec.autoscaling.maxReplicas: remove spec.target.maxReplicas"},
      {"/spec/store/managed", "yes", "spec.store.managed: must be an object"},
      {"/spec/store/managed/image", 7, "spec.store.managed.image: must be a string"},
      {"/spec/store/managed/resources", 1, "spec.store.managed.resources: must be an object"},
      {"/spec/store/managed/resources/limits", "1",
       "spec.store.managed.resources.limits: must be an object"},
      {"/spec/store/managed/resources/limits/cpu", 0.5,
       "spec.store.managed.resources.limits.cpu: must be a quantity: a string such as 64Mi, or an "
       "integer"},
      {"/spec/store/managed/maxMemory", true,
       "spec.store.managed.maxMemory: must be a quantity: a string such as 64Mi, or an integer"},
      {"/spec/store/managed/evictionPolicy", "lru",
       "spec.store.managed.evictionPolicy: must be one of volatile-lru, volatile-lfu, "
       "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction, got "
       "\"lru\""},
      {"/spec/store/managed/maxClients", "1000",
       "spec.store.managed.maxClients: must be an integer"},
      {"/spec/store/managed/maxClients", 10.5, "spec.store.managed.maxClients: must be an integer"},
      {"/spec/store/managed/maxClients", 8,
       "spec.store.managed.maxClients: must be between 16 and 100000, got 8"},
      {"/spec/store/managed/persistence/enabled", "true",
       "spec.store.managed.persistence.enabled: must be a boolean"},
      {"/spec/store/managed/persistence/storageClassName", 1,
       "spec.store.managed.persistence.storageClassName: must be a string"},
      {"/spec/store/managed/deletionPolicy", "Keep",
       "spec.store.managed.deletionPolicy: must be one of Retain, Delete, got \"Keep\""},
      {"/spec/store/type", "External", "spec.store.managed: only allowed with store.type Managed"},
      {"/spec/connection", "x", "spec.connection: must be an object"},
      {"/spec/connection/secretName", 1, "spec.connection.secretName: must be a string"},
      {"/spec/connection/urlEnvVar", false, "spec.connection.urlEnvVar: must be a string"},
      {"/spec/connection/keyPrefix", 1, "spec.connection.keyPrefix: must be a string"},
      {"/spec/connection/poolSizeEnvVar", 1, "spec.connection.poolSizeEnvVar: must be a string"},
      {"/spec/connection/urlEnvVar", "1URL",
       "spec.connection.urlEnvVar: must be an environment variable name (letters, digits and _, "
       "not starting with a digit), got \"1URL\""},
      {"/spec/connection/poolSizeEnvVar", "",
       "spec.connection.poolSizeEnvVar: must be an environment variable name (letters, digits and "
       "_, not starting with a digit), got \"\""},
      {"/spec/connection/keyPrefix", "app:*",
       "spec.connection.keyPrefix: may only hold letters, digits and _ . : / - (glob characters or "
       "spaces would widen the Redis ACL key pattern)"},
      {"/spec/connection/keyPrefix", "a b",
       "spec.connection.keyPrefix: may only hold letters, digits and _ . : / - (glob characters or "
       "spaces would widen the Redis ACL key pattern)"},
      {"/spec/connection/poolSizeEnvVar", "SESSION_URL",
       "spec.connection.poolSizeEnvVar: \"SESSION_URL\" is already used by "
       "spec.connection.urlEnvVar"},
      {"/spec/workers/envVar", "POOL",
       "spec.workers.envVar: \"POOL\" is already used by spec.connection.poolSizeEnvVar"},
      {"/spec/connection/urlEnvVar", "SESSION_KEY_PREFIX",
       "spec.connection.urlEnvVar: SESSION_KEY_PREFIX is reserved for the key prefix"},
      {"/spec/connection/poolSize", "4", "spec.connection.poolSize: must be an integer"},
      {"/spec/connection/poolSize", -1,
       "spec.connection.poolSize: must be between 0 and 10000, got -1"},
      {"/spec/affinity/mode", "Sticky",
       "spec.affinity.mode: must be one of ClientIP, None, UntilStoreReady, got \"Sticky\""},
      {"/spec/affinity/timeoutSeconds", "1h", "spec.affinity.timeoutSeconds: must be an integer"},
      {"/spec/workers", 4, "spec.workers: must be an object"},
      {"/spec/workers/envVar", 1, "spec.workers.envVar: must be a string"},
      {"/spec/workers/envVar", "WEB-CONCURRENCY",
       "spec.workers.envVar: must be an environment variable name (letters, digits and _, not "
       "starting with a digit), got \"WEB-CONCURRENCY\""},
      {"/spec/workers/perCPU", "2", "spec.workers.perCPU: must be a number"},
      {"/spec/workers/perCPU", -1, "spec.workers.perCPU: must be between 0 and 64, got -1"},
      {"/spec/workers/perCPU", 64.5, "spec.workers.perCPU: must be between 0 and 64, got 64.5"},
      {"/spec/workers/offset", 1.5, "spec.workers.offset: must be an integer"},
      {"/spec/workers/min", "1", "spec.workers.min: must be an integer"},
      {"/spec/workers/max", Json::array(), "spec.workers.max: must be an integer"},
      {"/spec/workers/min", 17, "spec.workers.min: must not be greater than workers.max (16)"},
      {"/spec/autoscaling/enabled", 1, "spec.autoscaling.enabled: must be a boolean"},
      {"/spec/autoscaling/minReplicas", "3", "spec.autoscaling.minReplicas: must be an integer"},
      {"/spec/autoscaling/maxReplicas", 0,
       "spec.autoscaling.maxReplicas: must be between 1 and 1000, got 0"},
      {"/spec/autoscaling/maxReplicas", 2,
       "spec.autoscaling.minReplicas: must not be greater than autoscaling.maxReplicas (2)"},
      {"/spec/autoscaling/pollIntervalSeconds", "15s",
       "spec.autoscaling.pollIntervalSeconds: must be an integer"},
      {"/spec/autoscaling/metrics", Json::object(), "spec.autoscaling.metrics: must be an array"},
      {"/spec/autoscaling/metrics", Json::array(),
       "spec.autoscaling.metrics: autoscaling.enabled needs at least one metric"},
      {"/spec/autoscaling/metrics/0", "CPU", "spec.autoscaling.metrics[0]: must be an object"},
      {"/spec/autoscaling/metrics/0/type", nullptr, "spec.autoscaling.metrics[0].type: required"},
      {"/spec/autoscaling/metrics/0/type", "GPU",
       "spec.autoscaling.metrics[0].type: must be one of CPU, Memory, ActiveSessions, "
       "StoreClients, Latency, got \"GPU\""},
      {"/spec/autoscaling/metrics/1/targetAverageUtilization", "90%",
       "spec.autoscaling.metrics[1].targetAverageUtilization: must be an integer"},
      {"/spec/autoscaling/metrics/2/targetPerReplica", 1e3,
       "spec.autoscaling.metrics[2].targetPerReplica: must be an integer"},
      {"/spec/autoscaling/metrics/3/targetPerReplica", nullptr,
       "spec.autoscaling.metrics[3].targetPerReplica: required for ActiveSessions and StoreClients "
       "metrics"},
      {"/spec/autoscaling/metrics/4/targetValue", 2,
       "spec.autoscaling.metrics[4].targetValue: must be a string"},
      {"/spec/autoscaling/metrics/4/targetValue", "2 s",
       "spec.autoscaling.metrics[4].targetValue: must be a duration in ms or s, such as 250ms or "
       "2s, got \"2 s\""},
      {"/spec/autoscaling/metrics/4/targetValue", ".5s",
       "spec.autoscaling.metrics[4].targetValue: must be a duration in ms or s, such as 250ms or "
       "2s, got \".5s\""},
      {"/spec/autoscaling/metrics/4/targetValue", "2m",
       "spec.autoscaling.metrics[4].targetValue: must be a duration in ms or s, such as 250ms or "
       "2s, got \"2m\""},
      {"/spec/autoscaling/metrics/4/prometheus/url", "prometheus:9090",
       "spec.autoscaling.metrics[4].prometheus.url: must start with http:// or https://"},
      {"/spec/autoscaling/metrics/4/prometheus", "http://p",
       "spec.autoscaling.metrics[4].prometheus: must be an object"},
      {"/spec/autoscaling/metrics/4/prometheus/query", 1,
       "spec.autoscaling.metrics[4].prometheus.query: must be a string"},
      {"/spec/autoscaling/behavior", 1, "spec.autoscaling.behavior: must be an object"},
      {"/spec/autoscaling/behavior/scaleUp", 1,
       "spec.autoscaling.behavior.scaleUp: must be an object"},
      {"/spec/autoscaling/behavior/scaleUp/maxReplicasPerStep", "2",
       "spec.autoscaling.behavior.scaleUp.maxReplicasPerStep: must be an integer"},
      {"/spec/autoscaling/behavior/scaleDown/stabilizationWindowSeconds", "5m",
       "spec.autoscaling.behavior.scaleDown.stabilizationWindowSeconds: must be an integer"},
  };
  return rows;
}

class InvalidFieldTest : public testing::TestWithParam<InvalidRow> {};

TEST_P(InvalidFieldTest, NamesTheFieldPath) {
  const InvalidRow& row = GetParam();
  Json object = fullObject();
  object[Json::json_pointer(row.pointer)] = row.value;
  auto parsed = parseSessionStore(object);
  ASSERT_FALSE(parsed.has_value()) << row.pointer;
  EXPECT_EQ(parsed.error(), row.error);
}

INSTANTIATE_TEST_SUITE_P(Rows, InvalidFieldTest, testing::ValuesIn(invalidRows()));

TEST(TargetMaxReplicasTest, OptionalAndKeptThroughToJson) {
  const Json plain = {{"metadata", {{"name", "web"}}},
                      {"spec", {{"target", {{"deployment", "web"}}}}}};
  auto unset = parseSessionStore(plain);
  ASSERT_TRUE(unset.has_value()) << unset.error();
  EXPECT_FALSE(unset->spec.target.maxReplicas.has_value()) << "the operator's default applies";
  EXPECT_FALSE(toJson(unset->spec)["target"].contains("maxReplicas"));
  Json set = plain;
  set["spec"]["target"]["maxReplicas"] = 4;
  auto parsed = parseSessionStore(set);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->spec.target.maxReplicas, 4);
  EXPECT_EQ(toJson(parsed->spec)["target"]["maxReplicas"], 4);
}

TEST(InvalidObjectTest, MissingRequiredFields) {
  EXPECT_EQ(parseSessionStore(Json::array()).error(), "the SessionStore must be a JSON object");
  EXPECT_EQ(parseSessionStore(Json::object()).error(), "metadata: required");
  EXPECT_EQ(parseSessionStore({{"metadata", {{"name", "web"}}}}).error(), "spec: required");
  EXPECT_EQ(parseSessionStore({{"metadata", Json::object()}, {"spec", Json::object()}}).error(),
            "metadata.name: required");
  EXPECT_EQ(parseSessionStore({{"metadata", {{"name", "web"}}}, {"spec", Json::object()}}).error(),
            "spec.target: required");
  EXPECT_EQ(
      parseSessionStore({{"metadata", {{"name", "web"}}}, {"spec", {{"target", Json::object()}}}})
          .error(),
      "spec.target.deployment: required");
  EXPECT_EQ(
      parseSessionStore(
          {{"metadata", {{"name", "web"}}},
           {"spec", {{"target", {{"deployment", "web"}}}, {"store", {{"type", "External"}}}}}})
          .error(),
      "spec.store.external.urlSecretRef: required with store.type External: the Secret that "
      "holds the Redis URL");
  EXPECT_EQ(parseSessionStore({{"metadata", {{"name", "web"}}},
                               {"spec",
                                {{"target", {{"deployment", "web"}}},
                                 {"store", {{"external", {{"urlSecretRef", {{"name", "x"}}}}}}}}}})
                .error(),
            "spec.store.external: only allowed with store.type External");
  EXPECT_EQ(parseSessionStore({{"metadata", {{"name", "web"}}},
                               {"spec",
                                {{"target", {{"deployment", "web"}}},
                                 {"store", {{"type", "External"}, {"external", Json::object()}}}}}})
                .error(),
            "spec.store.external.urlSecretRef: required");
}

TEST(FullSpecTest, AcceptsEveryLatencyForm) {
  for (std::string latency : {"250ms", "2s", "1.5s", "0.25s", "100ms"}) {
    Json object = fullObject();
    object["spec"]["autoscaling"]["metrics"][4]["targetValue"] = latency;
    auto parsed = parseSessionStore(object);
    ASSERT_TRUE(parsed.has_value()) << latency << ": " << parsed.error();
    EXPECT_EQ(parsed->spec.autoscaling.metrics[4].targetValue, latency);
  }
}

// Every field of the full spec (every object on the way to each leaf, and each leaf) replaced by
// a value of every JSON type: parsing never throws, and an error always starts with a field path.
TEST(InvalidObjectTest, AnyValueAnywhereIsAValueOrAnError) {
  const Json full = fullObject();
  std::vector<std::string> pointers;
  const Json flat = full.flatten();
  for (const auto& [leaf, value] : flat.items()) {
    std::string pointer = leaf;
    while (!pointer.empty()) {
      pointers.push_back(pointer);
      pointer = pointer.substr(0, pointer.rfind('/'));
    }
  }
  const Json replacements[] = {
      nullptr,          true,          -1, 7, 2.5, "x", "", Json::array(), Json::object(),
      Json::array({1}), Json{{"a", 1}}};
  for (const std::string& pointer : pointers) {
    for (const Json& replacement : replacements) {
      Json object = full;
      object[Json::json_pointer(pointer)] = replacement;
      std::expected<SessionStore, std::string> parsed;
      ASSERT_NO_THROW(parsed = parseSessionStore(object)) << pointer << " = " << replacement;
      if (!parsed) {
        EXPECT_TRUE(parsed.error().starts_with("metadata") || parsed.error().starts_with("spec"))
            << pointer << " = " << replacement << ": " << parsed.error();
      }
    }
  }
}

TEST(InvalidObjectTest, MalformedQuantityQuotesTheParser) {
  Json object = fullObject();
  object["spec"]["store"]["managed"]["maxMemory"] = "64 MB";
  auto parsed = parseSessionStore(object);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_TRUE(parsed.error().starts_with("spec.store.managed.maxMemory: ")) << parsed.error();
}

TEST(InvalidObjectTest, MaxMemoryOutsideTheCrdRangeIsAnError) {
  for (const char* value : {"0", "-64Mi", "1023Ki", "1Ei", "1025Gi"}) {
    Json object = fullObject();
    object["spec"]["store"]["managed"]["maxMemory"] = value;
    auto parsed = parseSessionStore(object);
    ASSERT_FALSE(parsed.has_value()) << value;
    EXPECT_TRUE(
        parsed.error().starts_with("spec.store.managed.maxMemory: must be between 1Mi and 1Ti"))
        << parsed.error();
  }
  for (const char* value : {"1Mi", "1Ti", "64Mi"}) {
    Json object = fullObject();
    object["spec"]["store"]["managed"]["maxMemory"] = value;
    EXPECT_TRUE(parseSessionStore(object).has_value()) << value;
  }
}

TEST(EnumNamesTest, SpellTheApiValues) {
  EXPECT_STREQ(toString(StoreType::kExternal), "External");
  EXPECT_STREQ(toString(DeletionPolicy::kRetain), "Retain");
  EXPECT_STREQ(toString(AffinityMode::kUntilStoreReady), "UntilStoreReady");
  EXPECT_STREQ(toString(MetricType::kActiveSessions), "ActiveSessions");
}

}  // namespace
}  // namespace sessionstore::api

namespace sessionstore::api {
namespace {

Json withMemory(Json managed) {
  return {{"metadata", {{"name", "web"}}},
          {"spec", {{"target", {{"deployment", "web"}}}, {"store", {{"managed", managed}}}}}};
}

TEST(MemoryScalingTest, AbsentMeansAFixedMaxMemory) {
  auto parsed = parseSessionStore(withMemory(Json::object()));
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_FALSE(parsed->spec.store.managed.memory);
  EXPECT_FALSE(toJson(parsed->spec)["store"]["managed"].contains("memory"));
}

TEST(MemoryScalingTest, AnEmptyObjectGetsTheCrdDefaultsAndRoundTrips) {
  auto parsed = parseSessionStore(withMemory({{"memory", Json::object()}}));
  ASSERT_TRUE(parsed) << parsed.error();
  ASSERT_TRUE(parsed->spec.store.managed.memory);
  const MemoryScaling& memory = *parsed->spec.store.managed.memory;
  EXPECT_EQ(memory.ceiling.toString(), "1Gi");
  EXPECT_EQ(memory.targetUtilization, 90);
  EXPECT_EQ(memory.windowSeconds, 60);
  const Json out = toJson(parsed->spec);
  EXPECT_EQ(out["store"]["managed"]["memory"],
            Json::parse(R"({"ceiling": "1Gi", "targetUtilization": 90, "windowSeconds": 60})"));
  auto again = parseSessionStore({{"metadata", {{"name", "web"}}}, {"spec", out}});
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->spec, parsed->spec);
}

TEST(MemoryScalingTest, ImpossibleCombinationsNameTheField) {
  const std::vector<std::pair<Json, std::string>> rows = {
      {{{"memory", {{"ceiling", "768Mi"}}}},
       "spec.store.managed.memory.ceiling: must be on the ladder"},
      {{{"maxMemory", "100Mi"}, {"memory", Json::object()}},
       "spec.store.managed.maxMemory: with memory, maxMemory is the floor"},
      {{{"maxMemory", "512Mi"}, {"memory", {{"ceiling", "256Mi"}}}},
       "spec.store.managed.memory.ceiling: must not be below maxMemory"},
      {{{"resources", {{"limits", {{"memory", "1Gi"}}}}}, {"memory", Json::object()}},
       "spec.store.managed.resources.limits.memory: not allowed with memory"},
      {{{"memory", {{"targetUtilization", 100}}}}, "spec.store.managed.memory.targetUtilization"},
      {{{"memory", {{"windowSeconds", -1}}}}, "spec.store.managed.memory.windowSeconds"},
  };
  for (const auto& [managed, want] : rows) {
    auto parsed = parseSessionStore(withMemory(managed));
    ASSERT_FALSE(parsed) << managed.dump();
    EXPECT_TRUE(parsed.error().starts_with(want)) << parsed.error();
  }
  // The floor at the ceiling is a store that never moves, but not an impossible one.
  EXPECT_TRUE(parseSessionStore(withMemory({{"maxMemory", "1Gi"}, {"memory", Json::object()}})));
  // The ladder in bytes is the ladder.
  EXPECT_TRUE(parseSessionStore(
      withMemory({{"maxMemory", 134217728}, {"memory", {{"ceiling", "1024Mi"}}}})));
}

}  // namespace
}  // namespace sessionstore::api

namespace sessionstore::api {
namespace {

Json withManaged(Json managed) {
  return {{"metadata", {{"name", "web"}}},
          {"spec", {{"target", {{"deployment", "web"}}}, {"store", {{"managed", managed}}}}}};
}

TEST(StoreReplicasTest, DefaultIsOneAndLeftOutOfTheEffectiveSpec) {
  auto parsed = parseSessionStore(withManaged(Json::object()));
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->spec.store.managed.replicas, 1);
  EXPECT_FALSE(toJson(parsed->spec)["store"]["managed"].contains("replicas"));
}

TEST(StoreReplicasTest, ThreeRoundTrips) {
  auto parsed = parseSessionStore(withManaged({{"replicas", 3}}));
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->spec.store.managed.replicas, 3);
  const Json out = toJson(parsed->spec);
  EXPECT_EQ(out["store"]["managed"]["replicas"], 3);
  auto again = parseSessionStore({{"metadata", {{"name", "web"}}}, {"spec", out}});
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->spec, parsed->spec);
}

TEST(StoreReplicasTest, OutOfRangeWrongTypeAndImpossibleCombinations) {
  const std::vector<std::pair<Json, std::string>> rows = {
      {{{"replicas", 0}}, "spec.store.managed.replicas"},
      {{{"replicas", 6}}, "spec.store.managed.replicas"},
      {{{"replicas", "3"}}, "spec.store.managed.replicas: must be an integer"},
      {{{"replicas", 2.5}}, "spec.store.managed.replicas: must be an integer"},
  };
  for (const auto& [managed, want] : rows) {
    auto parsed = parseSessionStore(withManaged(managed));
    ASSERT_FALSE(parsed) << managed.dump();
    EXPECT_TRUE(parsed.error().starts_with(want)) << parsed.error();
  }
  // Without persistence replicas are possible: a returning pod is made a replica before it is
  // labelled, so an empty restarted Redis never becomes the source of truth.
  EXPECT_TRUE(parseSessionStore(
      withManaged({{"replicas", 3}, {"persistence", {{"enabled", false}}}})));
  EXPECT_TRUE(parseSessionStore(withManaged({{"replicas", 1}, {"memory", Json::object()}})));
  // Memory that follows load with replicas: maxmemory is raised on every pod.
  EXPECT_TRUE(parseSessionStore(withManaged({{"replicas", 3}, {"memory", Json::object()}})));
}

}  // namespace
}  // namespace sessionstore::api
