#include "scalepolicy/autoscaler.h"

#include <algorithm>
#include <chrono>
#include <string>

namespace sessionstore::scalepolicy {
namespace {

std::string str(std::int64_t n) { return std::to_string(n); }

// "memory (no ready pod reports metrics), latency (timed out)".
std::string describeFailures(const std::vector<SourceFailure>& failures) {
  std::string text;
  for (const SourceFailure& f : failures) {
    if (!text.empty()) text += ", ";
    text += std::string(metricName(f.type)) + " (" + f.reason + ")";
  }
  return text;
}

CapacityCap capacityCap(const Capacity& capacity) {
  CapacityCap cap;
  if (!capacity.maxClients) {
    cap.note = "store capacity unknown (maxClients could not be read): not applied";
    return cap;
  }
  const std::optional<int> replicas = capacityReplicas(capacity);
  if (!replicas) {
    cap.note = "store capacity unknown (" + str(capacity.workersPerReplica) +
               " workers per replica, pool size " + str(capacity.poolSize) + "): not applied";
    return cap;
  }
  cap.known = true;
  cap.maxReplicas = *replicas;
  const std::string perReplica =
      str(capacity.workersPerReplica) + " workers x " + str(capacity.poolSize) + " connections";
  const std::string limit = "90% of maxClients " + str(*capacity.maxClients);
  cap.note = *replicas == 0
                 ? "the store cannot serve one replica: 1 x " + perReplica + " > " + limit
                 : "the store serves up to " + str(*replicas) + " replicas: " + str(*replicas) +
                       " x " + perReplica + " <= " + limit;
  return cap;
}

}  // namespace

const char* toString(Direction value) {
  switch (value) {
    case Direction::kNone:
      return "None";
    case Direction::kUp:
      return "Up";
    case Direction::kDown:
      return "Down";
  }
  return "Unknown";
}

const char* toString(LimitedBy value) {
  switch (value) {
    case LimitedBy::kNone:
      return "None";
    case LimitedBy::kMinReplicas:
      return "MinReplicas";
    case LimitedBy::kMaxReplicas:
      return "MaxReplicas";
    case LimitedBy::kCapacity:
      return "Capacity";
    case LimitedBy::kStep:
      return "Step";
    case LimitedBy::kStabilization:
      return "Stabilization";
    case LimitedBy::kMissingData:
      return "MissingData";
  }
  return "Unknown";
}

std::optional<int> capacityReplicas(const Capacity& capacity) {
  if (!capacity.maxClients || capacity.workersPerReplica < 1 || capacity.poolSize < 1) {
    return std::nullopt;
  }
  // R * W * P <= 0.9 * M  <=>  R <= 9 * M / (10 * W * P), in integers.
  const std::int64_t maxClients =
      std::clamp<std::int64_t>(*capacity.maxClients, 0, 1'000'000'000'000);
  const std::int64_t perReplica =
      std::int64_t{10} * capacity.workersPerReplica * std::int64_t{capacity.poolSize};
  const std::int64_t replicas = std::int64_t{9} * maxClients / perReplica;
  return static_cast<int>(std::min<std::int64_t>(replicas, kMaxRecommendation));
}

Decision Autoscaler::decide(const Input& input) {
  const clock::MonotonicTime now = clock_->now();
  const api::Autoscaling& spec = input.spec;
  const int current = input.currentReplicas;

  Decision d{.currentReplicas = current, .sources = input.sources};
  for (const SourceResult& source : input.sources) {
    if (!source) d.failed.push_back(source.error());
  }
  d.capacity = capacityCap(input.capacity);

  // 0. Scaled to zero by hand: the HPA's rule, autoscaling is inactive.
  if (current < 1) {
    d.active = false;
    d.desiredReplicas = d.recommendedReplicas = d.stabilizedReplicas = current;
    d.reason = "replicas are " + str(current) +
               " (scaled to zero by hand): autoscaling is inactive until they are raised";
    return d;
  }

  // 1. Combine: the largest recommendation wins; no scale-down on missing data.
  const Recommendation* winner = nullptr;
  for (const SourceResult& source : input.sources) {
    if (source && (winner == nullptr || source->replicas > winner->replicas)) winner = &*source;
  }
  LimitedBy limitedBy = LimitedBy::kNone;
  int recommended = current;
  if (winner == nullptr) {
    limitedBy = LimitedBy::kMissingData;
  } else {
    recommended = winner->replicas;
    if (!d.failed.empty() && recommended < current) {
      recommended = current;
      limitedBy = LimitedBy::kMissingData;
    }
  }
  d.recommendedReplicas = recommended;

  // 2. Stabilize over the windows, then record this recommendation.
  const clock::Duration upWindow =
      std::chrono::seconds(spec.behavior.scaleUp.stabilizationWindowSeconds);
  const clock::Duration downWindow =
      std::chrono::seconds(spec.behavior.scaleDown.stabilizationWindowSeconds);
  int lowest = recommended;   // over the scale-up window
  int highest = recommended;  // over the scale-down window
  for (const Record& record : history_) {
    if (record.at > now - upWindow) lowest = std::min(lowest, record.replicas);
    if (record.at > now - downWindow) highest = std::max(highest, record.replicas);
  }
  int stabilized = std::clamp(current, lowest, highest);
  history_.push_back(Record{.at = now, .replicas = recommended});
  const clock::Duration longest = std::max(upWindow, downWindow);
  while (!history_.empty() && history_.front().at <= now - longest) history_.pop_front();
  d.stabilizedReplicas = stabilized;
  if (stabilized != recommended) limitedBy = LimitedBy::kStabilization;

  // 3..5. Step limits, the store's capacity, [minReplicas, maxReplicas]; `before` is the value
  // the last binding limit changed.
  int desired = stabilized;
  int before = recommended;
  const int upStep = spec.behavior.scaleUp.maxReplicasPerStep;
  const int downStep = spec.behavior.scaleDown.maxReplicasPerStep;
  if (desired > current && desired - current > upStep) {
    before = desired;
    desired = current + upStep;
    limitedBy = LimitedBy::kStep;
  } else if (desired < current && current - desired > downStep) {
    before = desired;
    desired = current - downStep;
    limitedBy = LimitedBy::kStep;
  }
  if (d.capacity.known && desired > current && desired > d.capacity.maxReplicas) {
    before = desired;
    desired = std::max(current, d.capacity.maxReplicas);
    limitedBy = LimitedBy::kCapacity;
    d.capacity.binds = true;
  }
  if (desired < spec.minReplicas) {
    before = desired;
    desired = spec.minReplicas;
    limitedBy = LimitedBy::kMinReplicas;
  } else if (desired > spec.maxReplicas) {
    before = desired;
    desired = spec.maxReplicas;
    limitedBy = LimitedBy::kMaxReplicas;
  }
  d.desiredReplicas = desired;
  d.direction = desired > current   ? Direction::kUp
                : desired < current ? Direction::kDown
                                    : Direction::kNone;
  d.limitedBy = limitedBy;

  // The reason, in numbers.
  const std::string change =
      desired == current ? "stays at " + str(current) : str(current) + " -> " + str(desired);
  const std::string what = winner != nullptr ? winner->description
                           : input.sources.empty()
                               ? "no metric configured"
                               : "no metric could be read (" + describeFailures(d.failed) + ")";
  switch (limitedBy) {
    case LimitedBy::kNone:
      d.reason = what + ": " + change;
      break;
    case LimitedBy::kMissingData:
      d.reason = winner == nullptr
                     ? what + ": " + change
                     : "not scaling down without data from " + describeFailures(d.failed) + "; " +
                           what + " recommends " + str(winner->replicas) + ": " + change;
      break;
    case LimitedBy::kStabilization:
      d.reason =
          "stabilizing: " +
          (stabilized > recommended ? "highest recommendation in the last " +
                                          str(spec.behavior.scaleDown.stabilizationWindowSeconds) +
                                          " s is " + str(highest)
                                    : "lowest recommendation in the last " +
                                          str(spec.behavior.scaleUp.stabilizationWindowSeconds) +
                                          " s is " + str(lowest)) +
          " (" + what + " recommends " + str(recommended) + "): " + change;
      break;
    case LimitedBy::kStep:
      d.reason = what + ": " + change + " (at most " + str(desired > current ? upStep : downStep) +
                 (desired > current ? " added" : " removed") + " per step; recommended " +
                 str(before) + ")";
      break;
    case LimitedBy::kCapacity:
      d.reason =
          what + ": " + change + " (" + d.capacity.note + "; recommended " + str(before) + ")";
      break;
    case LimitedBy::kMinReplicas:
      d.reason = what + ": " + change + " (minReplicas " + str(spec.minReplicas) +
                 "; recommended " + str(before) + ")";
      break;
    case LimitedBy::kMaxReplicas:
      d.reason = what + ": " + change + " (maxReplicas " + str(spec.maxReplicas) +
                 "; recommended " + str(before) + ")";
      break;
  }
  if (!d.failed.empty() && winner != nullptr && limitedBy != LimitedBy::kMissingData) {
    d.reason += "; no data from " + describeFailures(d.failed);
  }
  return d;
}

}  // namespace sessionstore::scalepolicy
