// The status of a SessionStore, computed from what one reconcile observed (PRODUCT.md item 8):
// the phase, one condition per step with its reason, a message saying what was seen and what to
// fix, and observedGeneration, and the store's and target's figures. A pure function of its
// inputs and the previous status: a condition whose status did not change keeps its
// lastTransitionTime, so an unchanged world gives an identical status and the reconciler writes
// nothing.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "clock/clock.h"

namespace sessionstore::reconcile {

using Json = nlohmann::json;

struct ConditionState {
  std::string type;
  bool ok = false;  // True / False
  std::string reason;
  std::string message;
};

struct Observation {
  std::int64_t generation = 0;
  bool invalidSpec = false;  // the Ready condition carries the reason and message
  bool targetMissing = false;
  bool storeReady = false;
  bool wired = false;                      // the Deployment carries the current wiring
  std::vector<ConditionState> conditions;  // in the order they are shown; Ready is added
  // Shown after them but not part of Ready (MemoryAtCeiling: a store at its ceiling serves).
  std::vector<ConditionState> informational;
  // status.store
  std::string endpoint;  // host:port, never credentials
  std::optional<std::int64_t> connectedClients;
  std::optional<std::int64_t> usedMemoryBytes;
  std::optional<Json> memory;  // status.store.memory (spec.store.managed.memory)
  // status.store.primary and status.store.lastFailover (spec.store.managed.replicas above 1).
  std::optional<std::string> primary;
  std::optional<Json> lastFailover;
  std::optional<Json> passwordRotation;  // status.store.passwordRotation (reconcile/rotation.h)
  // status.target
  std::optional<std::int64_t> replicas;
  std::optional<std::int64_t> workers;
  std::optional<std::int64_t> poolSize;
};

// The phase: Failed for an invalid spec; Ready when every condition is True; Degraded when the
// store stopped answering after the app was wired, or when the app is wired to a store that
// answers and another condition is False (a scale past the replica bound); Pending while the
// target Deployment is missing; Provisioning otherwise.
std::string phaseOf(const Observation& observation, const Json& previousStatus);

// The whole status object. Ready is True when every condition of `observation` is True; its
// message names the first that is not.
// How long to wait before looking again at a store that waits (for its Redis, its target): the
// base interval doubled for each look in a row that found it still waiting, capped. A store whose
// Redis takes minutes to come up, or never does, is then looked at every `cap` (the resync
// interval), not every few seconds with all its reads. `streak` counts from 0.
clock::Duration waitInterval(clock::Duration base, clock::Duration cap, int streak);

Json buildStatus(const Observation& observation, const Json& previousStatus, clock::SystemTime now);

}  // namespace sessionstore::reconcile
