// The operator's metric set: the names and types operators chart, and forgetting a deleted
// SessionStore's series.
#include "metrics/operator_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

namespace sessionstore::metrics {
namespace {

// "# TYPE name type" lines of an exposition, as name -> type.
std::map<std::string, std::string> types(const std::string& text) {
  std::map<std::string, std::string> result;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("# TYPE ")) continue;
    std::istringstream fields(line.substr(7));
    std::string name;
    std::string type;
    fields >> name >> type;
    result[name] = type;
  }
  return result;
}

TEST(OperatorMetrics, RegistersTheNamesOperatorsUseWithTheirTypes) {
  Registry registry;
  OperatorMetrics m(registry);
  m.reconcileTotal.withLabels({"sessionstore", std::string(kResultSuccess)})->inc();
  m.reconcileErrorsTotal.withLabels({"sessionstore"})->inc();
  m.reconcileTimeSeconds.withLabels({"sessionstore"})->observe(0.2);
  m.workqueueDepth.withLabels({"sessionstore"})->set(1);
  m.workqueueAddsTotal.withLabels({"sessionstore"})->inc();
  m.workqueueRetriesTotal.withLabels({"sessionstore"})->inc();
  m.workqueueQueueDurationSeconds.withLabels({"sessionstore"})->observe(0.001);
  m.workqueueWorkDurationSeconds.withLabels({"sessionstore"})->observe(0.01);
  m.restClientRequestsTotal.withLabels({"200", "GET", "10.96.0.1:443"})->inc();
  m.leaderElectionMasterStatus.withLabels({"sessionstore-operator"})->set(1);
  m.heapAllocatedBytes.withLabels({})->set(1 << 20);
  m.heapResidentBytes.withLabels({})->set(2 << 20);
  for (GaugeFamily* family : {&m.replicasDesired, &m.replicasCurrent, &m.workers, &m.storeReady,
                              &m.storeConnectedClients, &m.storeKeys}) {
    family->withLabels({"shop", "web"})->set(1);
  }
  m.scaleEventsTotal.withLabels({"shop", "web", std::string(kDirectionUp)})->inc();

  const std::map<std::string, std::string> expected = {
      {"controller_runtime_reconcile_total", "counter"},
      {"controller_runtime_reconcile_errors_total", "counter"},
      {"controller_runtime_reconcile_time_seconds", "histogram"},
      {"workqueue_depth", "gauge"},
      {"workqueue_adds_total", "counter"},
      {"workqueue_retries_total", "counter"},
      {"workqueue_queue_duration_seconds", "histogram"},
      {"workqueue_work_duration_seconds", "histogram"},
      {"rest_client_requests_total", "counter"},
      {"leader_election_master_status", "gauge"},
      {"sessionstore_heap_allocated_bytes", "gauge"},
      {"sessionstore_heap_resident_bytes", "gauge"},
      {"sessionstore_replicas_desired", "gauge"},
      {"sessionstore_replicas_current", "gauge"},
      {"sessionstore_workers", "gauge"},
      {"sessionstore_store_ready", "gauge"},
      {"sessionstore_store_connected_clients", "gauge"},
      {"sessionstore_store_keys", "gauge"},
      {"sessionstore_scale_events_total", "counter"},
  };
  const auto text = registry.render();
  EXPECT_EQ(types(text), expected);
  EXPECT_NE(
      text.find(
          "rest_client_requests_total{code=\"200\",method=\"GET\",host=\"10.96.0.1:443\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("controller_runtime_reconcile_time_seconds_bucket{controller=\"sessionstore\","
                "le=\"0.2\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("workqueue_queue_duration_seconds_bucket{name=\"sessionstore\",le=\"1e-08\"} 0\n"),
      std::string::npos);
  EXPECT_NE(text.find("sessionstore_scale_events_total{namespace=\"shop\",name=\"web\","
                      "direction=\"up\"} 1\n"),
            std::string::npos);
}

TEST(OperatorMetrics, ForgetSessionStoreRemovesOnlyThatStoresSeries) {
  Registry registry;
  OperatorMetrics m(registry);
  for (const auto& name : {"web", "api"}) {
    m.replicasDesired.withLabels({"shop", name})->set(3);
    m.storeReady.withLabels({"shop", name})->set(1);
    m.scaleEventsTotal.withLabels({"shop", name, std::string(kDirectionUp)})->inc();
    m.scaleEventsTotal.withLabels({"shop", name, std::string(kDirectionDown)})->inc();
  }
  m.reconcileTotal.withLabels({"sessionstore", std::string(kResultSuccess)})->inc();

  EXPECT_EQ(m.forgetSessionStore("shop", "web"), 4u);
  EXPECT_EQ(m.forgetSessionStore("shop", "web"), 0u);

  const auto text = registry.render();
  EXPECT_EQ(text.find("name=\"web\""), std::string::npos) << text;
  EXPECT_NE(text.find("sessionstore_replicas_desired{namespace=\"shop\",name=\"api\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("sessionstore_scale_events_total{namespace=\"shop\",name=\"api\","
                      "direction=\"down\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("controller_runtime_reconcile_total"), std::string::npos);
}

TEST(OperatorMetrics, BucketsAreStrictlyIncreasing) {
  for (const auto& bounds : {reconcileTimeBuckets(), workqueueDurationBuckets()}) {
    for (std::size_t i = 1; i < bounds.size(); ++i) EXPECT_LT(bounds[i - 1], bounds[i]);
  }
  EXPECT_EQ(reconcileTimeBuckets().front(), 0.005);
  EXPECT_EQ(reconcileTimeBuckets().back(), 60);
  EXPECT_EQ(workqueueDurationBuckets().size(), 12u);
}

}  // namespace
}  // namespace sessionstore::metrics
