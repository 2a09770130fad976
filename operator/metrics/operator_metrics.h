// The operator's own metrics, registered once at startup and served on /metrics. Names and
// labels follow what operators already chart and alert on: controller-runtime's reconcile and
// workqueue metrics, client-go's rest_client_requests_total and leader_election_master_status,
// then per-SessionStore series (sessionstore_*) labelled {namespace, name}. A deleted
// SessionStore's series are removed with forgetSessionStore(), so /metrics stops reporting it.
#pragma once

#include <string_view>

#include "metrics/registry.h"

namespace sessionstore::metrics {

// Values of controller_runtime_reconcile_total's `result` label (controller-runtime's).
inline constexpr std::string_view kResultSuccess = "success";
inline constexpr std::string_view kResultError = "error";
inline constexpr std::string_view kResultRequeue = "requeue";
inline constexpr std::string_view kResultRequeueAfter = "requeue_after";

// Values of sessionstore_scale_events_total's `direction` label.
inline constexpr std::string_view kDirectionUp = "up";
inline constexpr std::string_view kDirectionDown = "down";

// controller-runtime's buckets for controller_runtime_reconcile_time_seconds (5 ms to 60 s).
std::vector<double> reconcileTimeBuckets();
// client-go's workqueue buckets: 10 ns to 1000 s, one per power of ten.
std::vector<double> workqueueDurationBuckets();

// References into the registry given at construction, which must outlive this object.
struct OperatorMetrics {
  explicit OperatorMetrics(Registry& registry);

  // controller-runtime
  CounterFamily& reconcileTotal;          // controller_runtime_reconcile_total{controller,result}
  CounterFamily& reconcileErrorsTotal;    // controller_runtime_reconcile_errors_total{controller}
  HistogramFamily& reconcileTimeSeconds;  // controller_runtime_reconcile_time_seconds{controller}

  // workqueue, one series set per queue {name}
  GaugeFamily& workqueueDepth;                     // workqueue_depth
  CounterFamily& workqueueAddsTotal;               // workqueue_adds_total
  CounterFamily& workqueueRetriesTotal;            // workqueue_retries_total
  HistogramFamily& workqueueQueueDurationSeconds;  // workqueue_queue_duration_seconds
  HistogramFamily& workqueueWorkDurationSeconds;   // workqueue_work_duration_seconds

  // client-go
  CounterFamily& restClientRequestsTotal;   // rest_client_requests_total{code,method,host}
  GaugeFamily& leaderElectionMasterStatus;  // leader_election_master_status{name}: 1 leader

  // the process
  GaugeFamily& heapAllocatedBytes;  // sessionstore_heap_allocated_bytes: asked of malloc, not freed
  GaugeFamily& heapResidentBytes;   // sessionstore_heap_resident_bytes: the allocator's pages held

  // per SessionStore {namespace,name}
  GaugeFamily& replicasDesired;        // sessionstore_replicas_desired
  GaugeFamily& replicasCurrent;        // sessionstore_replicas_current
  GaugeFamily& workers;                // sessionstore_workers
  GaugeFamily& storeReady;             // sessionstore_store_ready: 1 ready, 0 not
  GaugeFamily& storeConnectedClients;  // sessionstore_store_connected_clients
  GaugeFamily& storeKeys;              // sessionstore_store_keys
  CounterFamily& scaleEventsTotal;     // sessionstore_scale_events_total{...,direction}

  // Removes every per-SessionStore series of namespace/name; returns how many were removed.
  std::size_t forgetSessionStore(std::string_view ns, std::string_view name);
};

}  // namespace sessionstore::metrics
