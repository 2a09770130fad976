// The event recorder against a real kube-apiserver: its Events pass the events.k8s.io/v1
// validation, `kubectl get events` shows them, and repeats become a series on one Event.
#include <gtest/gtest.h>

#include "control_plane.h"
#include "events/recorder.h"
#include "eventually.h"
#include "kube/config.h"
#include "kube/rest_client.h"

namespace sessionstore::events {
namespace {

using kube::Json;

TEST(EventsOnARealServer, AreAcceptedAndAggregatedIntoASeries) {
  std::unique_ptr<testing::ControlPlane> plane;
  ASSERT_NO_THROW(plane = testing::ControlPlane::start(testing::Profile::kApiServer));
  auto config = kube::loadKubeconfig(plane->kubeconfig());
  ASSERT_TRUE(config) << config.error().describe();
  auto client = kube::RestClient::connect(*config);
  ASSERT_TRUE(client);
  auto regarding = (*client)->create(
      kube::resources::kConfigMaps, "default",
      Json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "web"}}}});
  ASSERT_TRUE(regarding) << regarding.error().describe();

  // A series is patched at most once per interval: a short one, so the test sees it.
  EventRecorder recorder(**client, clock::systemClock(),
                         RecorderConfig{.reportingInstance = "sessionstore-operator-0",
                                        .seriesUpdateInterval = std::chrono::milliseconds(200)});
  ASSERT_TRUE(recorder.start());
  const ObjectReference ref{.apiVersion = "v1",
                            .kind = "ConfigMap",
                            .ns = "default",
                            .name = "web",
                            .uid = (*regarding)["metadata"]["uid"]};
  EXPECT_EQ(recorder.record(ref, EventType::kWarning, "StoreUnreachable", "Probe",
                            "redis://web-redis:6379 refused the connection"),
            RecordResult::kQueued);
  ASSERT_TRUE(
      testing::eventually([&] { return recorder.stats().created == 1; }, std::chrono::seconds(20)))
      << "failed: " << recorder.stats().failed;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(recorder.record(ref, EventType::kWarning, "StoreUnreachable", "Probe",
                              "redis://web-redis:6379 refused the connection"),
              RecordResult::kAggregated);
  }

  // Only this recorder's Events: kube-apiserver may record its own in the namespace.
  Json event;
  size_t ours = 0;
  std::string lastAnswer;
  ASSERT_TRUE(testing::eventually(
      [&] {
        auto list = (*client)->list(kube::resources::kEvents, "default");
        if (!list) {
          lastAnswer = list.error().describe();
          return false;
        }
        lastAnswer = std::to_string(list->items.size()) + " events in default";
        ours = 0;
        for (const auto& item : list->items) {
          if (item.value("reportingController", "") != "sessionstore-operator") continue;
          ++ours;
          event = item;
        }
        return ours == 1 && event.contains("series") && event["series"]["count"] == 4;
      },
      std::chrono::seconds(60)))
      << lastAnswer << "; " << ours << " of ours: " << event.dump(2) << " stats: failed "
      << recorder.stats().failed << ", series updates " << recorder.stats().seriesUpdates;
  recorder.stop();
  EXPECT_EQ(event["reason"], "StoreUnreachable");
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["action"], "Probe");
  EXPECT_EQ(event["reportingController"], "sessionstore-operator");
  EXPECT_EQ(event["regarding"]["name"], "web");
  EXPECT_EQ(event["regarding"]["uid"], ref.uid);
  EXPECT_EQ(recorder.stats().failed, 0u);

  // Users read them with kubectl, as any controller's Events.
  const auto shown = plane->kubectl({"get", "events", "-o", "wide"});
  ASSERT_TRUE(shown.ok()) << shown.describe();
  EXPECT_NE(shown.out.find("StoreUnreachable"), std::string::npos) << shown.out;
}

}  // namespace
}  // namespace sessionstore::events
