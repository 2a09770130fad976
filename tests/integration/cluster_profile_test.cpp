// The `cluster` profile: a whole control plane with kwok's fake nodes. A Deployment's pods are
// scheduled and become Ready, and metrics-server serves their simulated usage through
// metrics.k8s.io, as it would for real pods.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "control_plane.h"
#include "eventually.h"

namespace sessionstore::testing {
namespace {

// The few quantity forms metrics-server prints ("250m", "249873012n", "65536Ki").
double quantityValue(const std::string& text) {
  size_t end = 0;
  const double number = std::stod(text, &end);
  const std::string suffix = text.substr(end);
  if (suffix.empty()) return number;
  if (suffix == "n") return number * 1e-9;
  if (suffix == "u") return number * 1e-6;
  if (suffix == "m") return number * 1e-3;
  if (suffix == "k") return number * 1e3;
  if (suffix == "Ki") return number * 1024;
  if (suffix == "Mi") return number * 1024 * 1024;
  throw std::invalid_argument("unexpected quantity " + text);
}

constexpr const char* kDeployment = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations:
        kwok.x-k8s.io/usage-cpu: 250m
        kwok.x-k8s.io/usage-memory: 64Mi
    spec:
      containers:
      - name: app
        image: example.invalid/web:1
        resources:
          requests: {cpu: 500m, memory: 128Mi}
)";

TEST(ClusterProfile, RunsADeploymentToReadyPodsAndServesTheirMetrics) {
  std::unique_ptr<ControlPlane> plane;
  ASSERT_NO_THROW(plane = ControlPlane::start(Profile::kCluster));

  const auto applied = plane->kubectl({"apply", "-f", "-"}, kDeployment);
  ASSERT_TRUE(applied.ok()) << applied.describe();

  // The controller-manager makes the pods, the scheduler binds them, kwok makes them Ready.
  const bool ready = eventually(
      [&] {
        const auto got = plane->kubectl(
            {"get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}"});
        return got.ok() && got.out == "2";
      },
      std::chrono::seconds(90));
  ASSERT_TRUE(ready) << plane->kubectl({"get", "pods", "-o", "wide"}).out;

  const auto pods = plane->kubectl({"get", "pods", "-l", "app=web", "-o", "json"});
  ASSERT_TRUE(pods.ok()) << pods.describe();
  const auto podList = nlohmann::json::parse(pods.out);
  ASSERT_EQ(podList["items"].size(), 2u);
  for (const auto& pod : podList["items"]) {
    EXPECT_EQ(pod["status"]["phase"], "Running");
    EXPECT_FALSE(pod["spec"]["nodeName"].get<std::string>().empty());
  }

  // metrics-server scrapes kwok's kubelet endpoints; usage needs two scrapes to have a rate.
  nlohmann::json metrics;
  const bool served = eventually(
      [&] {
        const auto got = plane->kubectl(
            {"get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dweb"});
        if (!got.ok()) return false;
        metrics = nlohmann::json::parse(got.out);
        return metrics["items"].size() == 2;
      },
      std::chrono::seconds(120), std::chrono::seconds(2));
  ASSERT_TRUE(served) << metrics.dump(2);
  for (const auto& podMetrics : metrics["items"]) {
    ASSERT_EQ(podMetrics["containers"].size(), 1u) << podMetrics.dump();
    const auto& usage = podMetrics["containers"][0]["usage"];
    EXPECT_NEAR(quantityValue(usage["cpu"]), 0.250, 0.025) << usage.dump();
    EXPECT_NEAR(quantityValue(usage["memory"]), 64.0 * 1024 * 1024, 1024 * 1024) << usage.dump();
  }

  const auto stopped = plane->stop();
  EXPECT_TRUE(stopped.ok()) << stopped.describe();
}

}  // namespace
}  // namespace sessionstore::testing
