// The SessionStore controller end to end (issue 4's scenarios), on the `cluster` profile with the
// operator running outside the cluster as its own process; operator_fixture.h says how the test
// plays the node for Redis.
#include "operator_fixture.h"

namespace sessionstore::testing {
namespace {

class SessionStoreIntegration : public OperatorFixture {};

// First, so that no store of another test is around while it counts the operator's writes.
TEST_F(SessionStoreIntegration, AGitOpsNeighbourKeepsItsFieldsAndTheOperatorStaysQuiet) {
  ASSERT_NO_FATAL_FAILURE(readyStore("shop"));
  const auto wiredEnv = envNames(mustGet("deployment", "shop"));
  ASSERT_EQ(wiredEnv.size(), 4u);

  // Argo CD (or Flux) applies the original manifest again, with one change of its own.
  std::string manifest = deploymentYaml("shop");
  manifest = std::regex_replace(manifest, std::regex("web:1.4"), "web:1.5");
  const auto applied =
      inNs({"apply", "--server-side", "--force-conflicts", "--field-manager=argocd", "-f", "-"},
           manifest);
  ASSERT_TRUE(applied.ok()) << applied.describe();
  const Json deployment = mustGet("deployment", "shop");
  EXPECT_EQ(envNames(deployment), wiredEnv) << "the operator's env entries must stay";
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.example/shop/web:1.5")
      << "the other manager's fields must stay";

  // The new image rolls out; status.target.replicas follows it until it is done.
  const auto rolled = inNs({"rollout", "status", "deployment/shop", "--timeout=90s"});
  ASSERT_TRUE(rolled.ok()) << rolled.describe();
  // The operator reads the Deployment at its next look (at the latest the 30 s resync): the
  // quiet window starts once its status has the rollout's end, or that one write would fall
  // inside it (CI saw it: target.replicas 3 -> 2).
  ASSERT_TRUE(eventually([&] {
    const Json status = mustGet("sessionstore", "shop").value("status", Json::object());
    return status.value("target", Json::object()).value("replicas", 0) == 2;
  })) << describeStore("shop");
  // Settled: a pass that began after that status was seen has ended (shop is the operator's only
  // store), so whatever the rollout's pass still had to write is written.
  Passes mark = passes();
  ASSERT_NO_FATAL_FAILURE(nudge("shop"));
  ASSERT_TRUE(eventually([&] { return aPassEndedSince(mark); })) << describeStore("shop");

  // Quiet: the operator looks at everything again (nudged, and a pass that began after the
  // nudge has ended) and writes nothing: no request that writes, not even one that would change
  // nothing, and no object changed (the nudge's own annotations are in `before`).
  const long writesBefore = operatorWrites();
  mark = passes();
  ASSERT_NO_FATAL_FAILURE(nudge("shop"));
  const auto before = versions("shop");
  const Json statusBefore = mustGet("sessionstore", "shop")["status"];
  ASSERT_TRUE(eventually([&] { return aPassEndedSince(mark); })) << describeStore("shop");
  const auto after = versions("shop");
  const std::string statuses = "status before:\n" + statusBefore.dump(1) + "\nstatus after:\n" +
                               mustGet("sessionstore", "shop")["status"].dump(1);
  EXPECT_EQ(operatorWrites(), writesBefore) << statuses << "\n" << describeStore("shop");
  EXPECT_EQ(changed(before, after), std::set<std::string>{}) << statuses;
  EXPECT_EQ(phase("shop"), "Ready");
}

TEST_F(SessionStoreIntegration, ManagedStoreIsProvisionedThenTheAppIsWired) {
  apply(deploymentYaml("web"));
  apply(serviceYaml("web"));
  apply(managedStoreYaml("web", "web"));

  // The store's objects, each owned by the SessionStore.
  ASSERT_TRUE(eventually([&] { return get("statefulset", "web-redis").has_value(); }))
      << describeStore("web");
  const Json store = mustGet("sessionstore", "web");
  const std::string uid = store["metadata"]["uid"];
  for (const auto& [kind, name] :
       std::vector<std::pair<std::string, std::string>>{{"secret", "web-redis-auth"},
                                                        {"configmap", "web-redis-config"},
                                                        {"service", "web-redis"},
                                                        {"service", "web-redis-headless"},
                                                        {"statefulset", "web-redis"},
                                                        {"networkpolicy", "web-redis"}}) {
    std::optional<Json> object;
    ASSERT_TRUE(eventually([&] { return (object = get(kind, name)).has_value(); }))
        << kind << " " << name << "\n"
        << describeStore("web");
    const auto& owners = (*object)["metadata"]["ownerReferences"];
    ASSERT_EQ(owners.size(), 1u) << kind << " " << name;
    EXPECT_EQ(owners[0]["uid"], uid) << kind << " " << name;
    EXPECT_EQ(owners[0]["controller"], true);
  }
  EXPECT_EQ(store["metadata"]["finalizers"], Json::array({"sessionstore.io/finalizer"}));

  // Not wired before the store answers: the StatefulSet's pod may be Ready (kwok), the store is
  // not there until the test starts it.
  ASSERT_TRUE(eventually([&] { return conditionIs("web", "StoreReady", "False"); }))
      << describeStore("web");
  // And not at a later look either: a spec change that changes no object (workers.max stays
  // above WORKERS) makes the operator look again, and status.observedGeneration reaching the new
  // generation says that pass has ended; until then and after it, still nothing is wired.
  const auto generation0 = mustGet("sessionstore", "web")["metadata"].value("generation", 0);
  ASSERT_TRUE(inNs({"patch", "sessionstore", "web", "--type=merge", "-p",
                    R"({"spec":{"workers":{"max":31}}})"})
                  .ok());
  const auto notWired = [&] {
    return envNames(mustGet("deployment", "web")).empty() &&
           !get("secret", "web-session-store").has_value();
  };
  const auto lookedAgain = [&] {
    const Json now = mustGet("sessionstore", "web");
    return now["metadata"].value("generation", 0) > generation0 &&
           now["status"].value("observedGeneration", 0) == now["metadata"]["generation"];
  };
  EXPECT_EQ(consistentlyUntil(notWired, lookedAgain), Held::kUntilTheMarker)
      << describeStore("web");
  EXPECT_TRUE(conditionIs("web", "StoreReady", "False")) << describeStore("web");
  EXPECT_TRUE(conditionIs("web", "ConnectionWired", "False", "WaitingForStore"))
      << describeStore("web");
  // Meanwhile clients stay sticky (UntilStoreReady).
  EXPECT_EQ(mustGet("service", "web")["spec"]["sessionAffinity"], "ClientIP");

  playNode("web");
  ASSERT_TRUE(eventually([&] { return phase("web") == "Ready"; }, 60s)) << describeStore("web");

  const Json deployment = mustGet("deployment", "web");
  const auto& container = deployment["spec"]["template"]["spec"]["containers"][0];
  std::map<std::string, Json> env;
  for (const auto& e : container["env"]) env[e["name"]] = e;
  ASSERT_TRUE(env.contains("REDIS_URL")) << container.dump(2);
  EXPECT_EQ(env["REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"], "web-session-store");
  EXPECT_FALSE(env["REDIS_URL"].contains("value")) << "the URL must never be inline";
  EXPECT_EQ(env["SESSION_KEY_PREFIX"]["valueFrom"]["secretKeyRef"]["name"], "web-session-store");
  EXPECT_EQ(env["WORKERS"]["value"], "5");  // ceil(2 CPU * 2) + 1
  // floor(0.9 * 1000 / (10 replicas * 5 workers)) = 18: sized for the bound (spec.target.
  // maxReplicas's default, 10), not for the 2 live replicas, so a scale rolls nothing.
  EXPECT_EQ(env["REDIS_MAX_CONNECTIONS"]["value"], "18");
  EXPECT_EQ(container["image"], "registry.example/shop/web:1.4");  // untouched
  const Json connection = mustGet("secret", "web-session-store");
  EXPECT_EQ(
      deployment["spec"]["template"]["metadata"]["annotations"]["sessionstore.io/connection-hash"]
          .get<std::string>()
          .size(),
      64u);
  EXPECT_EQ(decode(connection, "REDIS_HOST"), "web-redis." + ns_ + ".svc");
  EXPECT_EQ(decode(connection, "SESSION_KEY_PREFIX"), ns_ + ":web:");

  // The store is ready: sessions are shared, affinity goes.
  EXPECT_EQ(mustGet("service", "web")["spec"]["sessionAffinity"], "None");

  const Json status = mustGet("sessionstore", "web")["status"];
  const auto generation = mustGet("sessionstore", "web")["metadata"]["generation"];
  std::set<std::string> types;
  for (const auto& c : status["conditions"]) {
    types.insert(c["type"]);
    EXPECT_EQ(c["status"], "True") << c.dump();
    EXPECT_EQ(c["observedGeneration"], generation) << c.dump();
    EXPECT_FALSE(c.value("message", "").empty()) << c.dump();
  }
  EXPECT_EQ(types, (std::set<std::string>{"StoreReady", "ConnectionWired", "WorkersSized",
                                          "AffinityApplied", "Ready"}));
  EXPECT_EQ(status["observedGeneration"], generation);
  EXPECT_EQ(status["store"]["endpoint"], "web-redis." + ns_ + ".svc:6379");
  EXPECT_EQ(status["target"]["workers"], 5);

  const auto waited = inNs({"wait", "--for=condition=Ready", "sessionstore/web", "--timeout=30s"});
  EXPECT_TRUE(waited.ok()) << waited.describe();
  const auto listed = inNs({"get", "sessionstores"});
  EXPECT_NE(listed.out.find("Ready"), std::string::npos) << listed.out;

  // Events tell what was done.
  const std::string events = inNs({"get", "events", "-o", "json"}).out;
  for (const char* reason : {"\"Created\"", "\"Wired\"", "\"AffinitySet\"", "\"Ready\""}) {
    EXPECT_NE(events.find(reason), std::string::npos) << reason << " not among the Events";
  }

  // Isolation: the app's credentials work under the prefix only.
  auto& redis = *stores_[ns_ + "/web"];
  auto session = redisclient::Session::open({.host = "127.0.0.1",
                                             .port = redis.port(),
                                             .username = "app",
                                             .password = decode(connection, "REDIS_PASSWORD")});
  ASSERT_TRUE(session) << "the connection Secret's credentials are refused";
  const std::string prefix = decode(connection, "SESSION_KEY_PREFIX");
  EXPECT_TRUE((*session)->command({"SET", prefix + "token", "1"}));
  EXPECT_EQ((*session)->command({"GET", prefix + "token"}).value_or(""), "1");
  EXPECT_FALSE((*session)->command({"SET", "other:token", "1"})) << "a key outside the prefix";
  EXPECT_FALSE((*session)->command({"FLUSHALL"})) << "a dangerous command";

  expectNoSecretLeaks();
}

TEST_F(SessionStoreIntegration, ASecondStoreInTheNamespaceCannotReadTheFirstOnesKeys) {
  ASSERT_NO_FATAL_FAILURE(readyStore("alpha"));
  ASSERT_NO_FATAL_FAILURE(readyStore("beta"));
  const Json alpha = mustGet("secret", "alpha-session-store");
  const Json beta = mustGet("secret", "beta-session-store");
  const int alphaPort = stores_[ns_ + "/alpha"]->port();
  const std::string alphaPrefix = decode(alpha, "SESSION_KEY_PREFIX");
  EXPECT_NE(alphaPrefix, decode(beta, "SESSION_KEY_PREFIX"));

  auto owner = redisclient::Session::open({.host = "127.0.0.1",
                                           .port = alphaPort,
                                           .username = "app",
                                           .password = decode(alpha, "REDIS_PASSWORD")});
  ASSERT_TRUE(owner);
  ASSERT_TRUE((*owner)->command({"SET", alphaPrefix + "session-1", "alice"}));

  // beta's app, with everything its connection Secret gives it, pointed at alpha's store.
  auto intruder = redisclient::Session::open({.host = "127.0.0.1",
                                              .port = alphaPort,
                                              .username = "app",
                                              .password = decode(beta, "REDIS_PASSWORD")});
  ASSERT_FALSE(intruder) << "beta's credentials open alpha's store";
  EXPECT_NE(intruder.error().find("AUTH"), std::string::npos) << intruder.error();
  // Nor as the default user, which is off.
  auto anonymous = redisclient::Session::open({.host = "127.0.0.1", .port = alphaPort});
  ASSERT_TRUE(anonymous);  // connecting is allowed; every command is not
  EXPECT_FALSE((*anonymous)->command({"GET", alphaPrefix + "session-1"}));
  EXPECT_FALSE((*anonymous)->ping());
  expectNoSecretLeaks();
}

TEST_F(SessionStoreIntegration, ExternalStoreProblemsAreConditionsAndTheAppIsLeftAlone) {
  apply(deploymentYaml("api"));
  apply(R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: api}
spec:
  target: {deployment: api}
  store:
    type: External
    external: {urlSecretRef: {name: elasticache, key: url}}
)");
  // No Secret.
  ASSERT_TRUE(eventually([&] {
    return conditionIs("api", "StoreReady", "False", "UrlSecretMissing");
  })) << describeStore("api");
  EXPECT_NE(condition("api", "StoreReady")->value("message", "").find("elasticache"),
            std::string::npos);
  // No key.
  ASSERT_TRUE(inNs({"create", "secret", "generic", "elasticache", "--from-literal=other=x"}).ok());
  ASSERT_TRUE(eventually([&] {
    auto c = condition("api", "StoreReady");
    return c && c->value("message", "").find("no key \"url\"") != std::string::npos;
  })) << describeStore("api");
  // A bad scheme.
  ASSERT_TRUE(inNs({"delete", "secret", "elasticache"}).ok());
  ASSERT_TRUE(inNs({"create", "secret", "generic", "elasticache",
                    "--from-literal=url=http://:s3cr3t-value-here@cache.example:6379"})
                  .ok());
  ASSERT_TRUE(eventually([&] { return conditionIs("api", "StoreReady", "False", "InvalidUrl"); }))
      << describeStore("api");
  EXPECT_EQ(inNs({"get", "sessionstore", "api", "-o", "json"}).out.find("s3cr3t-value-here"),
            std::string::npos);
  // An unreachable host (a closed port on loopback).
  ASSERT_TRUE(inNs({"delete", "secret", "elasticache"}).ok());
  ASSERT_TRUE(inNs({"create", "secret", "generic", "elasticache",
                    "--from-literal=url=redis://:s3cr3t-value-here@127.0.0.1:1/0"})
                  .ok());
  ASSERT_TRUE(eventually([&] {
    return conditionIs("api", "StoreReady", "False", "StoreUnreachable");
  })) << describeStore("api");
  // Throughout, nothing was applied to the app.
  EXPECT_TRUE(envNames(mustGet("deployment", "api")).empty());
  EXPECT_FALSE(get("secret", "api-session-store").has_value());
  EXPECT_EQ(phase("api"), "Provisioning");

  // A real external Redis with a password: Ready, and the app is wired to that URL.
  // Kept for the whole suite, as the other stores are, so that no store left behind by a test
  // changes state (and makes writes) while a later test counts the operator's writes.
  auto& external = *(stores_[ns_ + "/external"] =
                         std::make_unique<RedisServer>("requirepass s3cr3t-value-here\n"));
  ASSERT_TRUE(inNs({"delete", "secret", "elasticache"}).ok());
  ASSERT_TRUE(inNs({"create", "secret", "generic", "elasticache",
                    "--from-literal=url=redis://:s3cr3t-value-here@127.0.0.1:" +
                        std::to_string(external.port()) + "/0"})
                  .ok());
  ASSERT_TRUE(eventually([&] { return phase("api") == "Ready"; })) << describeStore("api");
  const Json connection = mustGet("secret", "api-session-store");
  EXPECT_EQ(decode(connection, "REDIS_URL"),
            "redis://:s3cr3t-value-here@127.0.0.1:" + std::to_string(external.port()) + "/0");
  EXPECT_FALSE(envNames(mustGet("deployment", "api")).empty());
  EXPECT_EQ(operator_->output().find("s3cr3t-value-here"), std::string::npos);
  EXPECT_EQ(inNs({"get", "events", "-o", "json"}).out.find("s3cr3t-value-here"), std::string::npos);
}

TEST_F(SessionStoreIntegration, AMissingTargetIsReportedAndPickedUpWhenCreated) {
  apply(managedStoreYaml("late", "late"));
  ASSERT_TRUE(eventually([&] {
    return conditionIs("late", "ConnectionWired", "False", "DeploymentNotFound");
  })) << describeStore("late");
  EXPECT_EQ(phase("late"), "Pending");
  EXPECT_TRUE(conditionIs("late", "AffinityApplied", "False", "ServiceNotFound"));
  playNode("late");
  apply(deploymentYaml("late"));
  apply(serviceYaml("late"));
  ASSERT_TRUE(eventually([&] { return phase("late") == "Ready"; })) << describeStore("late");
  EXPECT_FALSE(envNames(mustGet("deployment", "late")).empty());
}

TEST_F(SessionStoreIntegration, SpecChangesTouchExactlyTheObjectsTheyShould) {
  ASSERT_NO_FATAL_FAILURE(readyStore("cart"));
  const auto generationSeen = [&] {
    const Json store = mustGet("sessionstore", "cart");
    return store["status"].value("observedGeneration", 0) == store["metadata"]["generation"] &&
           store["status"].value("phase", "") == "Ready";
  };
  // Settled: the operator looks at cart again after the change's pass, and that look has ended.
  // The look is a spec change that changes no object (workers.max, lowered each time, stays
  // above WORKERS), so it writes cart's status only; its pass has ended when
  // status.observedGeneration reaches the new generation. What the change still had to write
  // is written by then, and nothing else.
  int workersMax = 32;
  const auto settle = [&] {
    ASSERT_TRUE(inNs({"patch", "sessionstore", "cart", "--type=merge", "-p",
                      R"({"spec":{"workers":{"max":)" + std::to_string(--workersMax) + "}}}"})
                    .ok());
    ASSERT_TRUE(eventually([&] {
      const Json store = mustGet("sessionstore", "cart");
      return store["spec"]["workers"].value("max", 0) == workersMax &&
             store["status"].value("observedGeneration", 0) == store["metadata"]["generation"];
    })) << describeStore("cart");
  };
  ASSERT_NO_FATAL_FAILURE(settle());

  // workers.perCPU: WORKERS and the pool size change; the Secret holds the pool size, so the
  // connection (and its hash) changes with it. The store is untouched.
  auto before = versions("cart");
  const std::string hash0 = hashOf("cart");
  ASSERT_TRUE(inNs({"patch", "sessionstore", "cart", "--type=merge", "-p",
                    R"({"spec":{"workers":{"perCPU":3}}})"})
                  .ok());
  ASSERT_TRUE(eventually([&] { return envValue("cart", "WORKERS") == "7" && generationSeen(); }))
      << describeStore("cart");
  ASSERT_NO_FATAL_FAILURE(settle());
  EXPECT_EQ(envValue("cart", "REDIS_MAX_CONNECTIONS"), "12");  // floor(900 / (10 * 7))
  EXPECT_EQ(
      changed(before, versions("cart")),
      (std::set<std::string>{"sessionstore/cart", "deployment/cart", "secret/cart-session-store"}));
  const std::string hash1 = hashOf("cart");
  EXPECT_NE(hash1, hash0);

  // Affinity: only the Service.
  before = versions("cart");
  ASSERT_TRUE(inNs({"patch", "sessionstore", "cart", "--type=merge", "-p",
                    R"({"spec":{"affinity":{"mode":"ClientIP","timeoutSeconds":600}}})"})
                  .ok());
  ASSERT_TRUE(eventually([&] {
    const Json service = mustGet("service", "cart");
    return service["spec"].value("sessionAffinity", "") == "ClientIP" &&
           service["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 600 &&
           generationSeen();
  })) << describeStore("cart");
  ASSERT_NO_FATAL_FAILURE(settle());
  EXPECT_EQ(changed(before, versions("cart")),
            (std::set<std::string>{"sessionstore/cart", "service/cart"}));

  // maxMemory: the store's config and its pods, not the app (no roll).
  before = versions("cart");
  ASSERT_TRUE(inNs({"patch", "sessionstore", "cart", "--type=merge", "-p",
                    R"({"spec":{"store":{"managed":{"maxMemory":"128Mi"}}}})"})
                  .ok());
  ASSERT_TRUE(eventually([&] {
    return mustGet("configmap", "cart-redis-config")["data"]["redis.conf"].get<std::string>().find(
               "maxmemory 134217728") != std::string::npos &&
           generationSeen();
  })) << describeStore("cart");
  ASSERT_NO_FATAL_FAILURE(settle());
  EXPECT_EQ(changed(before, versions("cart")),
            (std::set<std::string>{"sessionstore/cart", "configmap/cart-redis-config",
                                   "statefulset/cart-redis"}));
  EXPECT_EQ(hashOf("cart"), hash1);

  // keyPrefix: the ACL, the connection and the app's pods.
  before = versions("cart");
  ASSERT_TRUE(inNs({"patch", "sessionstore", "cart", "--type=merge", "-p",
                    R"({"spec":{"connection":{"keyPrefix":"cart-v2:"}}})"})
                  .ok());
  ASSERT_TRUE(eventually([&] {
    return decode(mustGet("secret", "cart-session-store"), "SESSION_KEY_PREFIX") == "cart-v2:" &&
           hashOf("cart") != hash1;
  })) << describeStore("cart");
  ASSERT_NO_FATAL_FAILURE(settle());
  const auto keyPrefixChanged = changed(before, versions("cart"));
  for (const char* expected : {"configmap/cart-redis-config", "secret/cart-session-store",
                               "deployment/cart", "statefulset/cart-redis"}) {
    EXPECT_TRUE(keyPrefixChanged.contains(expected)) << expected;
  }
  EXPECT_FALSE(keyPrefixChanged.contains("service/cart"));
  EXPECT_FALSE(keyPrefixChanged.contains("secret/cart-redis-auth")) << "passwords never change";
}

// A new store's objects are created with a plain create (no read before it), which records the
// operator's fields as an Update. The first change to such an object must still be able to drop
// a field the operator stops setting: here the Redis container's CPU limit, set at creation and
// then removed from the spec.
TEST_F(SessionStoreIntegration, AFieldTheOperatorStopsSettingLeavesTheObject) {
  ASSERT_NO_FATAL_FAILURE(readyStore("trim", "      resources: {limits: {cpu: 750m}}\n"));
  const auto limits = [&] {
    return mustGet("statefulset",
                   "trim-redis")["spec"]["template"]["spec"]["containers"][0]["resources"]
        .value("limits", Json::object());
  };
  ASSERT_EQ(limits().value("cpu", ""), "750m") << limits().dump();
  const auto operatorEntries = [&](const std::string& kind, const std::string& name) {
    const auto shown = inNs({"get", kind, name, "-o", "json", "--show-managed-fields"});
    EXPECT_TRUE(shown.ok()) << shown.describe();
    std::vector<std::string> operations;
    const Json object = Json::parse(shown.out);
    for (const Json& entry : object["metadata"].value("managedFields", Json::array())) {
      if (entry.value("manager", "") == "sessionstore-operator") {
        operations.push_back(entry.value("operation", ""));
      }
    }
    return operations;
  };
  // As created: the create's Update entry, so the change below goes through the take-over.
  EXPECT_EQ(operatorEntries("statefulset", "trim-redis"), std::vector<std::string>{"Update"});

  ASSERT_TRUE(inNs({"patch", "sessionstore", "trim", "--type=merge", "-p",
                    R"({"spec":{"store":{"managed":{"resources":null}}}})"})
                  .ok());
  ASSERT_TRUE(eventually([&] { return !limits().contains("cpu"); })) << limits().dump() << "\n"
                                                                     << describeStore("trim");
  EXPECT_TRUE(limits().contains("memory")) << "the derived memory limit stays: " << limits().dump();
  // The operator's fields are one Apply entry now, so later changes prune as well.
  EXPECT_EQ(operatorEntries("statefulset", "trim-redis"), std::vector<std::string>{"Apply"});
  ASSERT_TRUE(eventually([&] { return phase("trim") == "Ready"; })) << describeStore("trim");
}

TEST_F(SessionStoreIntegration, DeletionWithRetainKeepsTheDataAndUndoesTheWiring) {
  const std::string data = plane_->dir() + "/" + ns_ + "-volume";
  std::filesystem::create_directories(data);
  apply(deploymentYaml("keep"));
  apply(serviceYaml("keep"));
  const std::string spec = managedStoreYaml("keep", "keep");
  const std::string persistent =
      std::regex_replace(spec, std::regex("persistence: \\{enabled: false\\}"),
                         "persistence: {enabled: true, size: 1Gi}\n      deletionPolicy: Retain");
  ASSERT_NE(persistent, spec);
  apply(persistent + "  affinity: {mode: ClientIP}\n");

  // The test plays the node with a data folder standing for the PVC.
  const auto startRedis = [&] {
    Json config;
    EXPECT_TRUE(eventually([&] {
      if (!get("statefulset", "keep-redis")) return false;
      auto object = get("configmap", "keep-redis-config");
      if (object) config = *object;
      return object.has_value();
    }));
    EXPECT_NE(config["data"].value("redis.conf", "").find("appendonly yes"), std::string::npos);
    auto server = startFromStoreConfig(config, data + ".acl", "", "", data);
    std::ofstream(addressMap_, std::ios::app)
        << "keep-redis." << ns_ << ".svc:6379 127.0.0.1:" << server->port() << "\n";
    return server;
  };
  auto redis = startRedis();
  ASSERT_TRUE(eventually([&] { return phase("keep") == "Ready"; })) << describeStore("keep");
  ASSERT_TRUE(eventually([&] { return get("pvc", "data-keep-redis-0").has_value(); }))
      << inNs({"get", "pvc,statefulset", "-o", "wide"}).out;
  {
    const Json connection = mustGet("secret", "keep-session-store");
    auto session = redisclient::Session::open({.host = "127.0.0.1",
                                               .port = redis->port(),
                                               .username = "app",
                                               .password = decode(connection, "REDIS_PASSWORD")});
    ASSERT_TRUE(session);
    ASSERT_TRUE((*session)->command({"SET", ns_ + ":keep:session-1", "alice"}));
  }
  EXPECT_EQ(mustGet("service", "keep")["spec"]["sessionAffinity"], "ClientIP");

  ASSERT_TRUE(inNs({"delete", "sessionstore", "keep", "--wait=true", "--timeout=60s"}).ok())
      << describeStore("keep");
  const Json deployment = mustGet("deployment", "keep");
  EXPECT_TRUE(envNames(deployment).empty()) << deployment["spec"]["template"].dump(2);
  EXPECT_FALSE(deployment["spec"]["template"]["metadata"]
                   .value("annotations", Json::object())
                   .contains("sessionstore.io/connection-hash"));
  EXPECT_EQ(mustGet("service", "keep")["spec"]["sessionAffinity"], "None");
  EXPECT_FALSE(get("secret", "keep-session-store").has_value());
  EXPECT_TRUE(get("pvc", "data-keep-redis-0").has_value()) << "Retain must keep the data";
  const std::string events = inNs({"get", "events", "-o", "json"}).out;
  EXPECT_NE(events.find("DataRetained"), std::string::npos);

  // A new SessionStore of the same name adopts the claim, and the key is still there.
  redis.reset();
  apply(persistent);
  redis = startRedis();
  ASSERT_TRUE(eventually([&] { return phase("keep") == "Ready"; })) << describeStore("keep");
  const Json connection = mustGet("secret", "keep-session-store");
  auto session = redisclient::Session::open({.host = "127.0.0.1",
                                             .port = redis->port(),
                                             .username = "app",
                                             .password = decode(connection, "REDIS_PASSWORD")});
  ASSERT_TRUE(session);
  EXPECT_EQ((*session)->command({"GET", ns_ + ":keep:session-1"}).value_or(""), "alice");
  EXPECT_EQ(
      mustGet("statefulset", "keep-redis")["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
      "data");  // the same claim name: data-keep-redis-0
}

TEST_F(SessionStoreIntegration, DeletionWithDeleteRemovesEverythingTheStoreOwned) {
  apply(deploymentYaml("gone"));
  apply(std::regex_replace(managedStoreYaml("gone", "gone"),
                           std::regex("persistence: \\{enabled: false\\}"),
                           "persistence: {enabled: true}\n      deletionPolicy: Delete"));
  playNode("gone");
  ASSERT_TRUE(eventually([&] { return get("pvc", "data-gone-redis-0").has_value(); }))
      << describeStore("gone");
  ASSERT_TRUE(eventually([&] { return get("secret", "gone-session-store").has_value(); }))
      << describeStore("gone");
  ASSERT_TRUE(inNs({"delete", "sessionstore", "gone", "--wait=true", "--timeout=60s"}).ok());
  EXPECT_TRUE(envNames(mustGet("deployment", "gone")).empty());
  // The garbage collector removes what the SessionStore owned; the finalizer removed the claim.
  ASSERT_TRUE(eventually(
      [&] {
        return !get("pvc", "data-gone-redis-0") && !get("statefulset", "gone-redis") &&
               !get("secret", "gone-redis-auth") && !get("configmap", "gone-redis-config") &&
               !get("secret", "gone-session-store");
      },
      120s))
      << inNs({"get", "all,pvc,secrets,configmaps"}).out << inNs({"get", "pvc", "-o", "yaml"}).out
      << inNs({"get", "events", "-o", "wide"}).out << "\n--- operator log tail:\n"
      << tail(operator_->output(), 6000);
}

TEST_F(SessionStoreIntegration, ACrashWhileCreatingLeavesNoDuplicateAndKeepsThePassword) {
  apply(deploymentYaml("crash"));
  apply(serviceYaml("crash"));
  apply(managedStoreYaml("crash", "crash"));
  // Kill the operator as soon as the password Secret exists, in the middle of creating.
  ASSERT_TRUE(eventually([&] { return get("secret", "crash-redis-auth").has_value(); }, 60s, 10ms));
  operator_->signal(SIGKILL);
  operator_->wait(10s);
  const Json passwordsBefore = mustGet("secret", "crash-redis-auth")["data"];
  delete operator_;
  startOperator();

  playNode("crash");
  ASSERT_TRUE(eventually([&] { return phase("crash") == "Ready"; })) << describeStore("crash");
  EXPECT_EQ(mustGet("secret", "crash-redis-auth")["data"], passwordsBefore)
      << "the password must never be regenerated";
  // Exactly one of each object, all owned by the SessionStore.
  const std::string uid = mustGet("sessionstore", "crash")["metadata"]["uid"];
  for (const char* kind :
       {"secrets", "configmaps", "services", "statefulsets", "networkpolicies"}) {
    const Json list = Json::parse(
        inNs({"get", kind, "-l", "sessionstore.io/name=crash", "-o", "json"}).out)["items"];
    std::set<std::string> names;
    for (const auto& item : list) {
      names.insert(item["metadata"]["name"]);
      EXPECT_EQ(item["metadata"]["ownerReferences"][0]["uid"], uid) << kind;
    }
    EXPECT_EQ(names.size(), list.size()) << kind;
  }
  const Json secrets = Json::parse(
      inNs({"get", "secrets", "-l", "sessionstore.io/name=crash", "-o", "json"}).out)["items"];
  std::set<std::string> secretNames;
  for (const auto& item : secrets) secretNames.insert(item["metadata"]["name"]);
  EXPECT_EQ(secretNames, (std::set<std::string>{"crash-redis-auth", "crash-session-store"}));
  expectNoSecretLeaks();
}

// A password Secret that exists before the operator's first pass over a store (a pass that died
// after making it) is kept, and the ConfigMap holds its passwords' hashes by the time the
// StatefulSet is made: a pod never starts with hashes of passwords nobody holds. The ConfigMap
// is read the moment the StatefulSet appears, so one corrected only a moment later fails too.
TEST_F(SessionStoreIntegration,
       APasswordSecretThatExistsBeforeTheFirstPassIsKeptAndTheConfigFollows) {
  apply(deploymentYaml("early"));
  apply(serviceYaml("early"));
  // The operator sees the store only once its Secret is there.
  operator_->signal(SIGSTOP);
  struct Resume {
    ~Resume() { operator_->signal(SIGCONT); }
  } resume;
  apply(managedStoreYaml("early", "early"));
  const std::string uid = mustGet("sessionstore", "early")["metadata"]["uid"];
  const std::string app = "app-password-made-before-the-first-pass-7Hq2";
  const std::string monitor = "monitor-password-made-before-the-first-pass-c9Lx";
  apply(R"(
apiVersion: v1
kind: Secret
metadata:
  name: early-redis-auth
  ownerReferences:
  - {apiVersion: sessionstore.io/v1alpha1, kind: SessionStore, name: early, uid: )" +
        uid +
        R"(, controller: true, blockOwnerDeletion: true}
stringData: {app-password: )" +
        app + ", monitor-password: " + monitor + "}\n");
  const Json before = mustGet("secret", "early-redis-auth")["data"];
  ASSERT_TRUE(mustGet("sessionstore", "early").value("status", Json::object()).empty())
      << "the operator saw the store before its Secret was made";
  // The ConfigMap as a pod starting with the StatefulSet would mount it: read the moment the
  // StatefulSet appears on a watch (a later pass could correct a wrong one within milliseconds,
  // long before a poll with kubectl looks).
  auto config = kube::loadKubeconfig(plane_->kubeconfig());
  ASSERT_TRUE(config) << config.error().describe();
  auto client = kube::RestClient::connect(*config);
  ASSERT_TRUE(client) << client.error().describe();
  auto watch = (*client)->watch(kube::resources::kStatefulSets, ns_, {.timeout = 60s});
  ASSERT_TRUE(watch) << watch.error().describe();
  operator_->signal(SIGCONT);
  std::optional<Json> mounted;
  while (!mounted) {
    auto event = (*watch)->next();
    ASSERT_TRUE(event && event->has_value()) << "the StatefulSet never came\n"
                                             << describeStore("early");
    if ((**event).type != kube::WatchEventType::kAdded) continue;
    auto read = (*client)->get(kube::resources::kConfigMaps, ns_, "early-redis-config");
    ASSERT_TRUE(read) << "a StatefulSet without its ConfigMap: " << read.error().describe();
    mounted = std::move(*read);
  }

  auto& redis = playNodeWith("early", *mounted);
  {
    auto session = redisclient::Session::open(
        {.host = "127.0.0.1", .port = redis.port(), .username = "app", .password = app});
    ASSERT_TRUE(session) << "the pod's ACL refuses the Secret's app password: the ConfigMap "
                            "did not follow the Secret before the StatefulSet was made";
    EXPECT_EQ((*session)->command({"PING"}).value_or(""), "PONG");
  }
  ASSERT_TRUE(eventually([&] { return phase("early") == "Ready"; })) << describeStore("early");
  EXPECT_EQ(mustGet("secret", "early-redis-auth")["data"], before)
      << "the password must never be regenerated";
  EXPECT_EQ(decode(mustGet("secret", "early-session-store"), "REDIS_PASSWORD"), app);
  expectNoSecretLeaks();
}

}  // namespace
}  // namespace sessionstore::testing
