// ScalingController's status write against the in-memory client: the reconciler writes the same
// SessionStore's status, and a write that loses that race must not leave the scale unreported.
#include "autoscaling/scaling_controller.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mocks/kube/fake_client.h"
#include "mocks/transport/mock_transport.h"
#include "reconcile/fixtures.h"

namespace sessionstore::autoscaling {
namespace {

using kube::FakeClient;
using kube::Json;
using reconcile::testing::deploymentObject;
using reconcile::testing::kManagedSpec;
using reconcile::testing::storeObject;
using ::testing::_;
using ::testing::Return;

// A client on which another writer (the reconciler) updates the SessionStore's status just
// before the first status write of the autoscaler reaches the server.
class RacedClient : public FakeClient {
 public:
  kube::Result<Json> update(const kube::Resource& r, const std::string& ns, const Json& object,
                            const std::string& subresource = "") override {
    if (r.resource == "sessionstores" && subresource == "status" && !raced_) {
      raced_ = true;
      Json theirs = *stored(r, ns, object["metadata"].value("name", ""));
      theirs["status"]["target"]["replicas"] = 7;  // what only the reconciler writes
      put(r, theirs);
    }
    return FakeClient::update(r, ns, object, subresource);
  }

 private:
  bool raced_ = false;
};

Json latencyStore() {
  Json spec = kManagedSpec;
  spec["autoscaling"] = Json::parse(R"({
    "enabled": true, "minReplicas": 2, "maxReplicas": 6, "pollIntervalSeconds": 5,
    "metrics": [{"type": "Latency", "targetValue": "100ms",
                 "prometheus": {"url": "http://prometheus:9090", "query": "p95"}}]})");
  return storeObject(spec);
}

TransportFactory prometheusAnswering(const std::string& seconds) {
  return [seconds](const std::string&, std::chrono::seconds) {
    auto transport = std::make_unique<transport::MockTransport>();
    EXPECT_CALL(*transport, send(_))
        .WillRepeatedly(Return(transport::Response{
            .status = 200,
            .body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},)"
                    R"("value":[1700000000,")" +
                    seconds + R"("]}]}})"}));
    return transport::Result<std::unique_ptr<transport::Transport>>(std::move(transport));
  };
}

// Where queries may go, with "prometheus" resolving to a pod address and the rest not at all (no
// lookup leaves the test).
ScalingOptions hermetic() {
  auto hosts = egress::HostPolicy::make(
      "", {{"10.96.0.1", 0}},
      [](const std::string& host) -> std::expected<std::vector<egress::Address>, std::string> {
        if (auto literal = egress::parseAddress(host))
          return std::vector<egress::Address>{*literal};
        if (host == "prometheus")
          return std::vector<egress::Address>{*egress::parseAddress("10.0.0.7")};
        if (host == "metadata.example") {
          return std::vector<egress::Address>{*egress::parseAddress("169.254.169.254")};
        }
        return std::unexpected(std::string("Name or service not known"));
      });
  EXPECT_TRUE(hosts.has_value());
  return {.prometheusHosts = hosts.value_or(egress::HostPolicy())};
}

TEST(ScalingControllerStatus, AWriteThatConflictsIsMadeAgainOverTheFreshObject) {
  RacedClient api;
  api.put(kube::resources::kSessionStores, latencyStore());
  api.put(kube::resources::kDeployments, deploymentObject());
  ScalingController controller(api, nullptr, nullptr, prometheusAnswering("0.4"), hermetic());

  controller.poll("shop/web");

  // 400 ms against 100 ms: the Deployment scaled up from 2.
  const int scaled =
      api.stored(kube::resources::kDeployments, "shop", "web").value()["spec"].value("replicas", 0);
  EXPECT_GT(scaled, 2);
  const Json status = api.stored(kube::resources::kSessionStores, "shop", "web").value()["status"];
  // The autoscaler's fields landed on the second attempt, over the reconciler's field.
  EXPECT_EQ(status["target"].value("desiredReplicas", 0), scaled) << status.dump(2);
  EXPECT_FALSE(status["target"].value("lastScaleReason", "").empty()) << status.dump(2);
  EXPECT_EQ(status["target"].value("replicas", 0), 7) << status.dump(2);
  EXPECT_EQ(status["autoscaling"]["metrics"][0].value("type", ""), "Latency");
  std::size_t statusWrites = 0;
  for (const auto& request : api.requests()) {
    statusWrites += request.verb == FakeClient::Verb::kUpdate &&
                    request.resource == "sessionstores" && request.detail == "status";
  }
  EXPECT_EQ(statusWrites, 2u);
}

TEST(ScalingControllerStatus, AnUnchangedStatusIsNotWritten) {
  FakeClient api;
  api.put(kube::resources::kSessionStores, latencyStore());
  api.put(kube::resources::kDeployments, deploymentObject());
  ScalingController controller(api, nullptr, nullptr, prometheusAnswering("0.05"), hermetic());
  controller.poll("shop/web");  // 50 ms: stays at 2, the condition and metrics are written
  api.clearRequests();
  controller.poll("shop/web");
  EXPECT_EQ(api.count(FakeClient::Verb::kUpdate, "sessionstores"), 0u);
}

// A Latency metric pointed at the cloud's metadata service (by a name that resolves there) or at
// the API server fails without a request: AutoscalingActive names the field and why, nothing is
// scaled.
TEST(ScalingControllerPrometheusHosts, MetadataAndTheApiServerAreNeverQueried) {
  for (const std::string url :
       {"http://metadata.example/latest/meta-data", "http://169.254.169.254",
        "https://kubernetes.default.svc", "https://10.96.0.1:443"}) {
    FakeClient api;
    Json store = latencyStore();
    store["spec"]["autoscaling"]["metrics"][0]["prometheus"]["url"] = url;
    api.put(kube::resources::kSessionStores, store);
    api.put(kube::resources::kDeployments, deploymentObject());
    int queries = 0;
    ScalingController controller(
        api, nullptr, nullptr,
        [&queries](const std::string& base, std::chrono::seconds timeout) {
          ++queries;
          return prometheusAnswering("5")(base, timeout);
        },
        hermetic());
    controller.poll("shop/web");
    EXPECT_EQ(queries, 0) << url;
    EXPECT_EQ(api.stored(kube::resources::kDeployments, "shop", "web")
                  .value()["spec"]
                  .value("replicas", 0),
              2)
        << url << ": scaled on a refused metric";
    const Json status =
        api.stored(kube::resources::kSessionStores, "shop", "web").value()["status"];
    std::string message;
    for (const auto& condition : status.value("conditions", Json::array())) {
      if (condition.value("type", "") == "AutoscalingActive")
        message = condition.value("message", "");
    }
    EXPECT_NE(message.find("spec.autoscaling.metrics[0].prometheus.url refused: host "),
              std::string::npos)
        << url << ": " << status.dump(1);
    EXPECT_TRUE(message.find("link-local") != std::string::npos ||
                message.find("Kubernetes API server") != std::string::npos)
        << message;
  }
}

}  // namespace
}  // namespace sessionstore::autoscaling
