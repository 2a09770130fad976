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

TEST(ScalingControllerStatus, AWriteThatConflictsIsMadeAgainOverTheFreshObject) {
  RacedClient api;
  api.put(kube::resources::kSessionStores, latencyStore());
  api.put(kube::resources::kDeployments, deploymentObject());
  ScalingController controller(api, nullptr, nullptr, prometheusAnswering("0.4"));

  controller.poll("shop/web");

  // 400 ms against 100 ms: the Deployment scaled up from 2.
  const int scaled = api.stored(kube::resources::kDeployments, "shop", "web")
                         .value()["spec"]
                         .value("replicas", 0);
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
  ScalingController controller(api, nullptr, nullptr, prometheusAnswering("0.05"));
  controller.poll("shop/web");  // 50 ms: stays at 2, the condition and metrics are written
  api.clearRequests();
  controller.poll("shop/web");
  EXPECT_EQ(api.count(FakeClient::Verb::kUpdate, "sessionstores"), 0u);
}

}  // namespace
}  // namespace sessionstore::autoscaling
