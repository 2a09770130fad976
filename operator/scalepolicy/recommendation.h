// What one load signal says the replica count should be (PRODUCT.md item 7), as pure functions:
// the HorizontalPodAutoscaler's ratio formula with its 10 % tolerance, per metric type. The
// readers (operator/autoscaling/) measure; these functions only compute, with no I/O, no clock and
// no logging. A source that could not be measured, or measured nonsense, is a SourceFailure with
// a reason that a condition can show; it never becomes a recommendation.
//   - CPU, Memory (utilizationRecommendation): the usage of the ready pods as a percentage of
//     their requests against targetAverageUtilization, with the HPA's missing-pod rule.
//   - ActiveSessions, StoreClients (valueRecommendation): a total against targetPerReplica,
//     desired = ceil(total / targetPerReplica).
//   - Latency (valueRecommendation): an observed value (seconds) against targetValue (seconds),
//     desired = ceil(current * value / target).
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "api/session_store.h"

namespace sessionstore::scalepolicy {

// A ratio within this fraction of 1 keeps the current replicas (the HPA's default).
inline constexpr double kDefaultTolerance = 0.1;
// No recommendation exceeds this (maxReplicas is at most 1000): keeps the arithmetic in range.
inline constexpr int kMaxRecommendation = 1'000'000;

// One ready pod with metrics: usage and request of one resource (cores or bytes), summed over
// the counted containers.
struct PodUsage {
  std::string name;
  double usage = 0;
  double request = 0;
  bool operator==(const PodUsage&) const = default;
};

// What one source recommends, with the numbers it used.
struct Recommendation {
  api::MetricType type = api::MetricType::kCPU;
  int currentReplicas = 0;
  // The measurement: utilization in percent of requests (CPU, Memory, ready pods only), the
  // total (ActiveSessions, StoreClients), or the observed value in seconds (Latency).
  double value = 0;
  // Percent of requests (CPU, Memory), per replica (ActiveSessions, StoreClients), seconds
  // (Latency).
  double target = 0;
  int replicas = 0;              // recommended; == currentReplicas when nothing should change
  bool withinTolerance = false;  // the ratio was within the tolerance: replicas is current
  // The numbers in words, without the replica change, e.g. "cpu 92% of requests > target 80%",
  // "active sessions 2600 / 500 per replica", "latency 2.5s > target 2s".
  std::string description;
  bool operator==(const Recommendation&) const = default;
};

// A source that gave no recommendation this poll, and why.
struct SourceFailure {
  api::MetricType type = api::MetricType::kCPU;
  std::string reason;  // "no ready pod reports metrics", "prometheus: connection refused"
  bool operator==(const SourceFailure&) const = default;
};

using SourceResult = std::expected<Recommendation, SourceFailure>;

// A failed source, for readers that could not measure: failed(kLatency, "timed out after 5s").
SourceResult failed(api::MetricType type, std::string reason);

// "cpu", "memory", "active sessions", "store clients", "latency": for reasons and messages.
std::string_view metricName(api::MetricType type);

// CPU or Memory utilization, as the HPA computes it. The ratio is
// sum(usage) / sum(request) of `readyPods` divided by targetPercent / 100:
//   - within `tolerance` of 1: keep currentReplicas;
//   - no missing pods: desired = ceil(ratio * readyPods.size());
//   - else the ratio is computed again counting each missing pod at 0 % of its request when
//     scaling up, and at max(100 %, target) of it when scaling down (so pods that cannot be
//     measured never speed a scale up nor a scale down). If the new ratio is within tolerance,
//     or points the other way, keep currentReplicas; else desired =
//     ceil(newRatio * (readyPods.size() + missingPods.size())), unless that moves the other way
//     than newRatio does (then currentReplicas, as the HPA).
// A missing pod is taken to request the mean request of the ready pods (the pods of one
// Deployment share one template). No ready pod, a ready pod with a negative or non-finite usage
// or request, or requests summing to zero is a failure saying so.
// `missingPods`: pods of the target that exist but are not Ready or have no metrics (pods being
// deleted and failed pods are left out by the caller).
// REQUIRES: type is kCPU or kMemory (else a failure); currentReplicas >= 1 (else a failure).
SourceResult utilizationRecommendation(int currentReplicas, const std::vector<PodUsage>& readyPods,
                                       const std::vector<std::string>& missingPods,
                                       double targetPercent, api::MetricType type,
                                       double tolerance = kDefaultTolerance);

// ActiveSessions or StoreClients (`totalOrValue` is the total over the store, `target` per
// replica): skipped within tolerance of |total / currentReplicas / target - 1|, else
// desired = ceil(total / target).
// Latency (`totalOrValue` the observed value in seconds, `target` in seconds): skipped within
// tolerance of |value / target - 1|, else desired = ceil(currentReplicas * value / target).
// A negative or non-finite value, or a target that is not positive, is a failure saying so.
// REQUIRES: type is not kCPU nor kMemory (else a failure); currentReplicas >= 1 (else a failure).
SourceResult valueRecommendation(int currentReplicas, double totalOrValue, double target,
                                 api::MetricType type, double tolerance = kDefaultTolerance);

// A Latency metric's targetValue in seconds: the API's one parser of that format.
using api::latencySeconds;

}  // namespace sessionstore::scalepolicy
