// Issue 18, "a scale never rolls the app", end to end: the app's connection pools are sized for a
// stable bound on replicas (spec.target.maxReplicas, or the maximum of a HorizontalPodAutoscaler
// that targets the Deployment), so a scale by hand (kubectl scale) or by an HPA within the bound
// leaves the pod template, its connection-hash annotation and its ReplicaSet alone, and a scale
// past the bound is a condition and an Event, not a roll.
//
// On the `cluster` profile (kwok plays the nodes), not the node profile: what is checked is the
// Deployment's spec, generation and ReplicaSets, and which pods exist, which the real
// kube-controller-manager (its Deployment, ReplicaSet and HPA controllers) decides; kwok's pods
// go Ready without running a container, and no container's behaviour is part of this. The
// node profile's machine-wide lock is not worth taking for it.
#include "operator_fixture.h"

namespace sessionstore::testing {
namespace {

class ScaleIntegration : public OperatorFixture {
 protected:
  // The Deployment's pod template, as the API server holds it.
  Json podTemplate(const std::string& name) { return mustGet("deployment", name)["spec"]["template"]; }
  std::int64_t generation(const std::string& name) {
    return mustGet("deployment", name)["metadata"].value("generation", std::int64_t{0});
  }
  // "name pod-template-hash" of every ReplicaSet of the app.
  std::set<std::string> replicaSets(const std::string& app) {
    const auto listed = inNs({"get", "replicasets", "-l", "app=" + app, "-o", "json"});
    std::set<std::string> out;
    if (!listed.ok()) return out;
    const Json items = Json::parse(listed.out)["items"];  // kept: the loop must not dangle
    for (const auto& rs : items) {
      out.insert(rs["metadata"].value("name", "") + " " +
                 rs["metadata"]["labels"].value("pod-template-hash", ""));
    }
    return out;
  }
  // Names of the app's pods that are not being deleted.
  std::set<std::string> pods(const std::string& app) {
    const auto listed = inNs({"get", "pods", "-l", "app=" + app, "-o", "json"});
    std::set<std::string> out;
    if (!listed.ok()) return out;
    const Json items = Json::parse(listed.out)["items"];
    for (const auto& pod : items) {
      if (!pod["metadata"].contains("deletionTimestamp")) out.insert(pod["metadata"]["name"]);
    }
    return out;
  }
  // The replicas the operator last wrote in the SessionStore's status (from the Deployment it
  // read): a pass that ended after the Deployment showed them.
  int statusReplicas(const std::string& store) {
    const Json status = mustGet("sessionstore", store).value("status", Json::object());
    return status.value("target", Json::object()).value("replicas", -1);
  }
  std::string eventNotes(const std::string& reason) {
    const auto events = inNs({"get", "events.events.k8s.io", "-o", "json"});
    std::string notes;
    if (!events.ok()) return notes;
    const Json items = Json::parse(events.out)["items"];
    for (const auto& e : items) {
      if (e.value("reason", "") == reason) notes += e.value("note", "") + "\n";
    }
    return notes;
  }
  void scaleTo(const std::string& name, int replicas) {
    const auto scaled =
        inNs({"scale", "deployment/" + name, "--replicas=" + std::to_string(replicas)});
    ASSERT_TRUE(scaled.ok()) << scaled.describe();
  }
};

TEST_F(ScaleIntegration, AScaleByHandOrByAnHpaWithinTheBoundRollsNothingAndPastItIsACondition) {
  const std::string app = "scaled";
  // The bound: 6 replicas. app: CPU limit 2 gives 5 workers; floor(900 / (6 * 5)) = 30.
  apply(deploymentYaml(app));
  apply(serviceYaml(app));
  apply(R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: scaled}
spec:
  target: {deployment: scaled, service: scaled, maxReplicas: 6}
  store:
    type: Managed
    managed:
      persistence: {enabled: false}
)");
  playNode(app);
  ASSERT_TRUE(eventually([&] { return phase(app) == "Ready"; })) << describeStore(app);
  ASSERT_TRUE(eventually([&] { return envValue(app, "REDIS_MAX_CONNECTIONS") == "30"; }))
      << describeStore(app);
  // The wiring rolled the app once (before it, the pods had no connection): wait until that
  // rollout is complete, every replica updated and ready, before recording what must not change.
  ASSERT_TRUE(eventually(
      [&] {
        const Json deployment = mustGet("deployment", app);
        const Json status = deployment.value("status", Json::object());
        return status.value("observedGeneration", std::int64_t{-1}) ==
                   deployment["metadata"].value("generation", std::int64_t{0}) &&
               status.value("replicas", 0) == 2 && status.value("updatedReplicas", 0) == 2 &&
               status.value("readyReplicas", 0) == 2;
      },
      300s))
      << inNs({"get", "deployment,replicasets,pods", "-o", "wide", "--show-labels"}).out;
  const Json template0 = podTemplate(app);
  const std::string hash0 = hashOf(app);
  ASSERT_FALSE(hash0.empty());
  const std::int64_t generation0 = generation(app);
  const std::set<std::string> replicaSets0 = replicaSets(app);
  ASSERT_TRUE(eventually([&] { return pods(app).size() == 2; }, 120s))
      << inNs({"get", "pods,replicasets", "-o", "wide", "--show-labels"}).out;
  const std::set<std::string> pods0 = pods(app);
  ASSERT_TRUE(eventually([&] { return statusReplicas(app) == 2; })) << describeStore(app);

  // What a scale must leave as it was; `scales` is how many scales happened since generation0
  // (each bumps metadata.generation, as any change of spec.replicas does; nothing else may).
  const auto unchanged = [&](int scales) {
    EXPECT_EQ(podTemplate(app), template0) << "the pod template changed";
    EXPECT_EQ(hashOf(app), hash0);
    EXPECT_EQ(envValue(app, "REDIS_MAX_CONNECTIONS"), "30");
    EXPECT_EQ(generation(app), generation0 + scales)
        << "something besides the scales changed the Deployment's spec";
    EXPECT_EQ(replicaSets(app), replicaSets0) << "a new ReplicaSet: the pods are being replaced";
  };

  // 1. By hand, 2 -> 4: the operator's pass that saw 4 replicas wrote them in the status.
  ASSERT_NO_FATAL_FAILURE(scaleTo(app, 4));
  ASSERT_TRUE(eventually([&] { return statusReplicas(app) == 4; }, 90s)) << describeStore(app);
  unchanged(1);
  const auto now = pods(app);
  for (const auto& pod : pods0) EXPECT_TRUE(now.contains(pod)) << pod << " was replaced";
  EXPECT_TRUE(conditionIs(app, "WorkersSized", "True", "Sized")) << describeStore(app);

  // 2. By a HorizontalPodAutoscaler (its maximum, 6, is the bound now, the same number): the
  //    HPA controller takes 4 up to its minReplicas, 5. The WorkersSized message naming the HPA
  //    proves the HPA's creation reached the operator (its cache and the enqueue).
  apply(R"(
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: scaled-hpa}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: scaled}
  minReplicas: 5
  maxReplicas: 6
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
)");
  ASSERT_TRUE(eventually(
      [&] {
        const auto sized = condition(app, "WorkersSized");
        return statusReplicas(app) == 5 && sized &&
               sized->value("message", "").find("HorizontalPodAutoscaler scaled-hpa") !=
                   std::string::npos;
      },
      120s))
      << describeStore(app) << inNs({"describe", "hpa", "scaled-hpa"}).out;
  unchanged(2);
  const auto afterHpa = pods(app);
  for (const auto& pod : pods0) EXPECT_TRUE(afterHpa.contains(pod)) << pod << " was replaced";

  // 3. The HPA goes: spec.target.maxReplicas (6 again) is the bound; its deletion reached the
  //    operator when WorkersSized names the field again.
  ASSERT_TRUE(inNs({"delete", "hpa", "scaled-hpa"}).ok());
  ASSERT_TRUE(eventually(
      [&] {
        const auto sized = condition(app, "WorkersSized");
        return sized &&
               sized->value("message", "").find("spec.target.maxReplicas") != std::string::npos;
      },
      60s))
      << describeStore(app);
  unchanged(2);

  // 4. Past the bound, 5 -> 8: a condition with the numbers and the fix, and an Event; the pods
  //    are still not rolled (8 x 5 workers x 30 = 1200 connections may now exceed maxclients
  //    1000: the user is told, the app is not restarted for it).
  ASSERT_NO_FATAL_FAILURE(scaleTo(app, 8));
  ASSERT_TRUE(eventually(
      [&] { return conditionIs(app, "WorkersSized", "False", "ReplicasAboveBound"); }, 90s))
      << describeStore(app);
  const std::string message = condition(app, "WorkersSized")->value("message", "");
  EXPECT_NE(message.find("asks 8 replicas, more than the 6 its connection pools are sized for "
                         "(spec.target.maxReplicas)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("set spec.target.maxReplicas of the SessionStore to at least 8"),
            std::string::npos)
      << message;
  EXPECT_TRUE(eventually([&] { return eventNotes("ReplicasAboveBound").find("asks 8 replicas") !=
                                      std::string::npos; },
                         30s))
      << inNs({"get", "events.events.k8s.io", "-o", "yaml"}).out;
  unchanged(3);

  // 5. Back within the bound: the condition clears, still with no roll.
  ASSERT_NO_FATAL_FAILURE(scaleTo(app, 6));
  ASSERT_TRUE(
      eventually([&] { return conditionIs(app, "WorkersSized", "True", "Sized"); }, 90s))
      << describeStore(app);
  unchanged(4);
  expectNoSecretLeaks();
}

// Every pass lists the namespace's HPAs and ScaledObjects: from the operator's caches, so the
// passes cost no list request. KEDA is not installed here: its absence is said once in the log,
// with no warning and no retries.
TEST_F(ScaleIntegration, PassesReadTheAutoscalersFromTheCachesAndNoKedaIsNoError) {
  ASSERT_NO_FATAL_FAILURE(readyStore("cached"));
  ASSERT_TRUE(eventually(
      [&] {
        try {
          return !operatorMetrics().empty();
        } catch (const std::exception&) {
          return false;
        }
      },
      30s))
      << "the operator's /metrics does not answer:\n"
      << tail(operator_->output(), 4000);
  const auto lists = [] {
    return metricSum(operatorMetrics(), "rest_client_requests_total",
                     "[^}]*method=\"LIST\"[^}]*");
  };
  // Settle: the passes after Ready (the operator's own writes coming back) are over when a
  // nudge's pass ends.
  const Passes settled = passes();
  ASSERT_NO_FATAL_FAILURE(nudge("cached"));
  ASSERT_TRUE(eventually([&] { return aPassEndedSince(settled); })) << describeStore("cached");
  const long listsBefore = lists();
  ASSERT_GT(listsBefore, 0) << "the informers' first lists are counted: the metric is read";
  const Passes mark = passes();
  for (int i = 0; i < 3; ++i) {
    const Passes one = passes();
    ASSERT_NO_FATAL_FAILURE(nudge("cached"));
    ASSERT_TRUE(eventually([&] { return aPassEndedSince(one); })) << describeStore("cached");
  }
  ASSERT_GE(passes().ended - mark.ended, 3);
  EXPECT_EQ(lists(), listsBefore) << "a pass listed HPAs or ScaledObjects from the server";

  const std::string log = operator_->output();
  EXPECT_NE(log.find("resource not served (its CRD is not installed): none exist"),
            std::string::npos);
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("scaledobjects") == std::string::npos) continue;
    EXPECT_EQ(line.find("\"level\":\"warn\""), std::string::npos) << line;
    EXPECT_EQ(line.find("\"level\":\"error\""), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace sessionstore::testing
