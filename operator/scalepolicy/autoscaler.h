// The autoscaling decision for one SessionStore (PRODUCT.md item 7): from the recommendations
// of its metric sources (recommendation.h) to the replica count to apply, with the reason in
// numbers. One Autoscaler per SessionStore keeps the recent recommendations for the
// stabilization windows; everything else is computed from the Input alone. Time comes from the
// injected Clock; no I/O, no logging, no randomness: the same inputs at the same times give the
// same decisions. Applying the decision (spec.replicas) and reporting it are the caller's.
//
// One decision, in order:
//   0. currentReplicas 0 (scaled to zero by hand): inactive, as the HPA; nothing is recorded.
//   1. Combine: the largest recommendation among the sources that answered. If any source
//      failed, the result is at least currentReplicas (no scale-down on missing data; scale-up
//      from the others still happens); if none answered, currentReplicas.
//   2. Stabilize (as the HPA's behavior): the combined recommendation is recorded with now();
//      a scale up goes to the LOWEST recommendation of the last scaleUp window, a scale down to
//      the HIGHEST of the last scaleDown window; otherwise replicas stay. Records older than the
//      longest window are dropped.
//   3. Step limits: at most scaleUp.maxReplicasPerStep added, scaleDown.maxReplicasPerStep
//      removed.
//   4. Store capacity: a scale up goes no higher than the largest R with
//      R * workersPerReplica * poolSize <= 90 % of maxClients (nor lower than currentReplicas: the
//      cap never scales down by itself). Unknown maxClients: not applied, and said so.
//   5. [minReplicas, maxReplicas], which win over everything above (as the HPA, replicas outside
//      the bounds are brought to them even without metrics).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "api/session_store.h"
#include "clock/clock.h"
#include "scalepolicy/recommendation.h"

namespace sessionstore::scalepolicy {

enum class Direction { kNone, kUp, kDown };

// What determined desiredReplicas when it differs from the combined recommendation: the last
// step of the decision that changed it.
enum class LimitedBy {
  kNone,
  kMinReplicas,
  kMaxReplicas,
  kCapacity,       // the store's maxClients
  kStep,           // maxReplicasPerStep
  kStabilization,  // the stabilization window
  kMissingData,    // a source failed: no scale-down
};

// "None", "Up", "Down"; "None", "MinReplicas", "MaxReplicas", "Capacity", "Step",
// "Stabilization", "MissingData".
const char* toString(Direction value);
const char* toString(LimitedBy value);

// What the store can serve.
struct Capacity {
  int workersPerReplica = 1;  // worker processes per pod
  int poolSize = 1;           // connections per worker
  // The store's maxclients; nullopt when unknown (an external store that denies CONFIG GET).
  std::optional<std::int64_t> maxClients;
  bool operator==(const Capacity&) const = default;
};

// The largest R with R * workersPerReplica * poolSize <= 90 % of maxClients (at most
// kMaxRecommendation); nullopt when maxClients is unknown or workersPerReplica or poolSize is
// not positive.
std::optional<int> capacityReplicas(const Capacity& capacity);

// The capacity cap as applied to one decision.
struct CapacityCap {
  bool known = false;   // maxClients known: the cap was applied
  int maxReplicas = 0;  // known only: capacityReplicas()
  bool binds = false;   // it lowered desiredReplicas
  // "the store serves up to 6 replicas: 6 x 3 workers x 50 connections <= 90% of maxClients
  // 1000", or "store capacity unknown (maxClients could not be read): not applied".
  std::string note;
  bool operator==(const CapacityCap&) const = default;
};

struct Input {
  api::Autoscaling spec;    // minReplicas, maxReplicas, behavior (the rest is not read)
  int currentReplicas = 0;  // the Deployment's spec.replicas
  // One result per metric of the spec, in spec order (recommendation.h, or failed()).
  std::vector<SourceResult> sources;
  Capacity capacity;
  bool operator==(const Input&) const = default;
};

struct Decision {
  bool active = true;  // false at currentReplicas 0: autoscaling is inactive
  int currentReplicas = 0;
  int desiredReplicas = 0;
  Direction direction = Direction::kNone;
  int recommendedReplicas = 0;        // step 1's result
  int stabilizedReplicas = 0;         // step 2's result
  std::vector<SourceResult> sources;  // as given
  std::vector<SourceFailure> failed;  // the sources that gave no recommendation, in order
  LimitedBy limitedBy = LimitedBy::kNone;
  CapacityCap capacity;
  // One line in numbers, e.g. "cpu 92% of requests > target 80%: 3 -> 4", "stabilizing:
  // highest recommendation in the last 300 s is 5 (cpu 40% of requests < target 80% recommends
  // 2): stays at 5".
  std::string reason;
  bool operator==(const Decision&) const = default;
};

// Not thread-safe: one per SessionStore, used by one poll at a time.
class Autoscaler {
 public:
  // REQUIRES: `clock` outlives the autoscaler.
  explicit Autoscaler(const clock::Clock& clock) : clock_(&clock) {}

  // Decides at clock.now(), and records the combined recommendation for later windows.
  // REQUIRES: input.spec.minReplicas <= input.spec.maxReplicas (the parser guarantees it).
  Decision decide(const Input& input);

  // Recommendations currently kept for the windows (bounded by the longest window).
  std::size_t historySize() const { return history_.size(); }

 private:
  struct Record {
    clock::MonotonicTime at;
    int replicas = 0;
  };

  const clock::Clock* clock_;
  std::deque<Record> history_;  // oldest first
};

}  // namespace sessionstore::scalepolicy
