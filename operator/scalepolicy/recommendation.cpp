#include "scalepolicy/recommendation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <system_error>
#include <utility>

namespace sessionstore::scalepolicy {
namespace {

using api::MetricType;

// Slack for floating point: 88 / 80 is 1.1000000000000001, and 1.2 * 5 is 6.000000000000001;
// neither may turn a boundary case into a change.
constexpr double kEpsilon = 1e-9;

bool withinTolerance(double ratio, double tolerance) {
  return std::abs(ratio - 1.0) <= tolerance + kEpsilon;
}

int ceilReplicas(double x) {
  if (!(x > kEpsilon)) return 0;
  if (x >= kMaxRecommendation) return kMaxRecommendation;
  return static_cast<int>(std::ceil(x - kEpsilon));
}

// 2600 -> "2600", 2.5 -> "2.5", 0.123456 -> "0.12".
std::string number(double x) {
  if (std::abs(x - std::round(x)) < 1e-6 && std::abs(x) < 1e15) {
    return std::to_string(static_cast<long long>(std::llround(x)));
  }
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2f", x);
  std::string text = buffer;
  while (text.ends_with('0')) text.pop_back();
  if (text.ends_with('.')) text.pop_back();
  return text;
}

std::string percent(double x) {
  return std::to_string(static_cast<long long>(std::llround(x))) + "%";
}

// 2.5 -> "2.5s", 0.25 -> "250ms".
std::string seconds(double x) { return x < 1.0 ? number(x * 1000.0) + "ms" : number(x) + "s"; }

std::string tolerancePercent(double tolerance) { return number(tolerance * 100.0) + "%"; }

bool finiteNonNegative(double x) { return std::isfinite(x) && x >= 0; }

std::string pods(std::size_t n) { return std::to_string(n) + (n == 1 ? " pod" : " pods"); }

std::unexpected<SourceFailure> failure(MetricType type, std::string reason) {
  return std::unexpected(SourceFailure{.type = type, .reason = std::move(reason)});
}

}  // namespace

SourceResult failed(MetricType type, std::string reason) {
  return failure(type, std::move(reason));
}

std::string_view metricName(MetricType type) {
  switch (type) {
    case MetricType::kCPU:
      return "cpu";
    case MetricType::kMemory:
      return "memory";
    case MetricType::kActiveSessions:
      return "active sessions";
    case MetricType::kStoreClients:
      return "store clients";
    case MetricType::kLatency:
      return "latency";
  }
  return "unknown";
}

SourceResult utilizationRecommendation(int currentReplicas, const std::vector<PodUsage>& readyPods,
                                       const std::vector<std::string>& missingPods,
                                       double targetPercent, MetricType type, double tolerance) {
  if (type != MetricType::kCPU && type != MetricType::kMemory) {
    return failure(type, "utilization applies to CPU and Memory only");
  }
  if (currentReplicas < 1) {
    return failure(type, "current replicas is " + std::to_string(currentReplicas) +
                             ": no recommendation below 1 replica");
  }
  if (!(std::isfinite(targetPercent) && targetPercent > 0)) {
    return failure(type, "target utilization must be positive, got " + number(targetPercent));
  }
  if (readyPods.empty()) return failure(type, "no ready pod reports metrics");

  const std::string resource(metricName(type));
  double usage = 0;
  double request = 0;
  for (const PodUsage& pod : readyPods) {
    if (!finiteNonNegative(pod.usage)) {
      return failure(type, "pod " + pod.name + " reports an invalid " + resource + " usage (" +
                               number(pod.usage) + ")");
    }
    if (!finiteNonNegative(pod.request)) {
      return failure(type, "pod " + pod.name + " has an invalid " + resource + " request (" +
                               number(pod.request) + ")");
    }
    usage += pod.usage;
    request += pod.request;
  }
  if (!(request > 0)) return failure(type, "the ready pods request no " + resource);

  Recommendation rec{.type = type,
                     .currentReplicas = currentReplicas,
                     .value = 100.0 * usage / request,
                     .target = targetPercent};
  const double ratio = rec.value / targetPercent;
  const bool up = ratio > 1.0;
  rec.description = resource + " " + percent(rec.value) + " of requests";

  if (withinTolerance(ratio, tolerance)) {
    rec.description +=
        ", within " + tolerancePercent(tolerance) + " of target " + percent(targetPercent);
    rec.replicas = currentReplicas;
    rec.withinTolerance = true;
    return rec;
  }
  rec.description += (up ? " > target " : " < target ") + percent(targetPercent);
  if (missingPods.empty()) {
    rec.replicas = ceilReplicas(ratio * static_cast<double>(readyPods.size()));
    return rec;
  }

  // The HPA's rule: pods without metrics slow the change down, never speed it up.
  const double missing = static_cast<double>(missingPods.size());
  const double missingRequest = request / static_cast<double>(readyPods.size());
  const double missingShare = up ? 0.0 : std::max(100.0, targetPercent) / 100.0;
  const double adjusted = 100.0 * (usage + missing * missingRequest * missingShare) /
                          (request + missing * missingRequest);
  const double newRatio = adjusted / targetPercent;
  rec.description += ", " + percent(adjusted) + " counting " + pods(missingPods.size()) +
                     " without metrics at " + percent(100.0 * missingShare);
  if (withinTolerance(newRatio, tolerance)) {
    rec.description += " (within " + tolerancePercent(tolerance) + ": no change)";
    rec.replicas = currentReplicas;
    rec.withinTolerance = true;
    return rec;
  }
  if (up != (newRatio > 1.0)) {
    rec.description += " (the other way: no change)";
    rec.replicas = currentReplicas;
    return rec;
  }
  const int desired =
      ceilReplicas(newRatio * static_cast<double>(readyPods.size() + missingPods.size()));
  rec.replicas = (up && desired < currentReplicas) || (!up && desired > currentReplicas)
                     ? currentReplicas
                     : desired;
  return rec;
}

SourceResult valueRecommendation(int currentReplicas, double totalOrValue, double target,
                                 MetricType type, double tolerance) {
  if (type == MetricType::kCPU || type == MetricType::kMemory) {
    return failure(type, "CPU and Memory are utilization metrics");
  }
  if (currentReplicas < 1) {
    return failure(type, "current replicas is " + std::to_string(currentReplicas) +
                             ": no recommendation below 1 replica");
  }
  const std::string name(metricName(type));
  if (!finiteNonNegative(totalOrValue)) {
    return failure(type, name + " is not a valid measurement (" + number(totalOrValue) + ")");
  }
  if (!(std::isfinite(target) && target > 0)) {
    return failure(type, "target must be positive, got " + number(target));
  }
  Recommendation rec{
      .type = type, .currentReplicas = currentReplicas, .value = totalOrValue, .target = target};
  double ratio = 0;
  int desired = 0;
  if (type == MetricType::kLatency) {
    ratio = totalOrValue / target;
    desired = ceilReplicas(static_cast<double>(currentReplicas) * ratio);
    rec.description = name + " " + seconds(totalOrValue);
    if (withinTolerance(ratio, tolerance)) {
      rec.description +=
          ", within " + tolerancePercent(tolerance) + " of target " + seconds(target);
    } else {
      rec.description += (ratio > 1.0 ? " > target " : " < target ") + seconds(target);
    }
  } else {
    const double perReplica = totalOrValue / static_cast<double>(currentReplicas);
    ratio = perReplica / target;
    desired = ceilReplicas(totalOrValue / target);
    rec.description = name + " " + number(totalOrValue) + " / " + number(target) + " per replica";
    if (withinTolerance(ratio, tolerance)) {
      rec.description += " (" + number(perReplica) + " each at " + std::to_string(currentReplicas) +
                         ", within " + tolerancePercent(tolerance) + ")";
    }
  }
  rec.withinTolerance = withinTolerance(ratio, tolerance);
  rec.replicas = rec.withinTolerance ? currentReplicas : desired;
  return rec;
}

}  // namespace sessionstore::scalepolicy
