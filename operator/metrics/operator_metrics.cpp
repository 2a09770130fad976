#include "metrics/operator_metrics.h"

#include <string>

namespace sessionstore::metrics {
namespace {

const std::vector<std::string> kStoreLabels = {"namespace", "name"};

}  // namespace

std::vector<double> reconcileTimeBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
          0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
          6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
}

std::vector<double> workqueueDurationBuckets() {
  return {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000};
}

OperatorMetrics::OperatorMetrics(Registry& registry)
    : reconcileTotal(registry.counter("controller_runtime_reconcile_total",
                                      "Total number of reconciliations per controller and result.",
                                      {"controller", "result"})),
      reconcileErrorsTotal(registry.counter("controller_runtime_reconcile_errors_total",
                                            "Total number of reconciliation errors per controller.",
                                            {"controller"})),
      reconcileTimeSeconds(registry.histogram("controller_runtime_reconcile_time_seconds",
                                              "Length of time per reconciliation per controller.",
                                              {"controller"}, reconcileTimeBuckets())),
      workqueueDepth(
          registry.gauge("workqueue_depth", "Current depth of the workqueue.", {"name"})),
      workqueueAddsTotal(registry.counter(
          "workqueue_adds_total", "Total number of adds handled by the workqueue.", {"name"})),
      workqueueRetriesTotal(registry.counter("workqueue_retries_total",
                                             "Total number of retries handled by the workqueue.",
                                             {"name"})),
      workqueueQueueDurationSeconds(registry.histogram(
          "workqueue_queue_duration_seconds",
          "How long in seconds an item stays in the workqueue before being requested.", {"name"},
          workqueueDurationBuckets())),
      workqueueWorkDurationSeconds(
          registry.histogram("workqueue_work_duration_seconds",
                             "How long in seconds processing an item from the workqueue takes.",
                             {"name"}, workqueueDurationBuckets())),
      restClientRequestsTotal(registry.counter(
          "rest_client_requests_total",
          "Number of HTTP requests to the API server, by status code, method and host.",
          {"code", "method", "host"})),
      leaderElectionMasterStatus(registry.gauge(
          "leader_election_master_status",
          "1 while this instance holds the leader lease named by `name`, 0 otherwise.", {"name"})),
      heapAllocatedBytes(registry.gauge(
          "sessionstore_heap_allocated_bytes",
          "Bytes the operator has allocated and not freed, as its memory allocator counts them.",
          {})),
      heapResidentBytes(registry.gauge(
          "sessionstore_heap_resident_bytes",
          "Bytes of the memory allocator's pages resident in memory, its own metadata included.",
          {})),
      replicasDesired(registry.gauge("sessionstore_replicas_desired",
                                     "Replicas the operator wants for the target Deployment.",
                                     kStoreLabels)),
      replicasCurrent(registry.gauge("sessionstore_replicas_current",
                                     "Replicas the target Deployment has now.", kStoreLabels)),
      workers(registry.gauge("sessionstore_workers",
                             "Worker processes per pod the operator set for the app.",
                             kStoreLabels)),
      storeReady(registry.gauge("sessionstore_store_ready",
                                "1 when the session store answers and is usable, 0 otherwise.",
                                kStoreLabels)),
      storeConnectedClients(registry.gauge("sessionstore_store_connected_clients",
                                           "Clients connected to the session store.",
                                           kStoreLabels)),
      storeKeys(registry.gauge("sessionstore_store_keys", "Keys held by the session store.",
                               kStoreLabels)),
      scaleEventsTotal(registry.counter("sessionstore_scale_events_total",
                                        "Replica changes made by the autoscaler, by direction.",
                                        {"namespace", "name", "direction"})) {}

std::size_t OperatorMetrics::forgetSessionStore(std::string_view ns, std::string_view name) {
  const LabelMatch match = {{"namespace", std::string(ns)}, {"name", std::string(name)}};
  std::size_t removed = 0;
  for (GaugeFamily* family : {&replicasDesired, &replicasCurrent, &workers, &storeReady,
                              &storeConnectedClients, &storeKeys}) {
    removed += family->removeMatching(match);
  }
  removed += scaleEventsTotal.removeMatching(match);
  return removed;
}

}  // namespace sessionstore::metrics
