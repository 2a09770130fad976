#include "reconcile/status.h"

#include "api/conditions.h"
#include "clock/time_format.h"

namespace sessionstore::reconcile {
namespace {

const Json* previousCondition(const Json& previousStatus, const std::string& type) {
  if (!previousStatus.is_object()) return nullptr;
  const auto conditions = previousStatus.find("conditions");
  if (conditions == previousStatus.end() || !conditions->is_array()) return nullptr;
  for (const Json& condition : *conditions) {
    if (condition.is_object() && condition.value("type", "") == type) return &condition;
  }
  return nullptr;
}

// A message is for a person, and the CRD caps it at 32768 bytes: one that quotes something
// huge (a megabyte URL, a long server answer) is cut, so the status can still be written. The cut
// falls on a UTF-8 character boundary.
std::string boundedMessage(const std::string& message) {
  constexpr std::size_t kMax = 4096;
  if (message.size() <= kMax) return message;
  std::size_t end = kMax;
  while (end > 0 && (static_cast<unsigned char>(message[end]) & 0xC0u) == 0x80u) --end;
  return message.substr(0, end) + "...";
}

Json conditionJson(const ConditionState& state, std::int64_t generation, const Json& previousStatus,
                   const std::string& now) {
  const std::string status{state.ok ? api::kStatusTrue : api::kStatusFalse};
  std::string since = now;
  if (const Json* before = previousCondition(previousStatus, state.type)) {
    const auto time = before->find("lastTransitionTime");
    if (before->value("status", "") == status && time != before->end() && time->is_string()) {
      since = time->get<std::string>();
    }
  }
  return {{"type", state.type},
          {"status", status},
          {"reason", state.reason},
          {"message", boundedMessage(state.message)},
          {"observedGeneration", generation},
          {"lastTransitionTime", since}};
}

}  // namespace

std::string phaseOf(const Observation& observation, const Json& previousStatus) {
  if (observation.invalidSpec) return std::string(api::kPhaseFailed);
  bool allOk = true;
  for (const auto& condition : observation.conditions) allOk = allOk && condition.ok;
  if (allOk) return std::string(api::kPhaseReady);
  const std::string before =
      previousStatus.is_object() ? previousStatus.value("phase", std::string()) : "";
  if (!observation.storeReady &&
      (observation.wired || before == api::kPhaseReady || before == api::kPhaseDegraded)) {
    return std::string(api::kPhaseDegraded);
  }
  // The app is wired to a store that answers, and something else needs the user (a scale past
  // the replica bound, the Service gone): it works, at a risk; it is not being provisioned.
  if (observation.storeReady && observation.wired) return std::string(api::kPhaseDegraded);
  if (observation.targetMissing) return std::string(api::kPhasePending);
  return std::string(api::kPhaseProvisioning);
}

Json buildStatus(const Observation& observation, const Json& previousStatus,
                 clock::SystemTime now) {
  const std::string nowText = clock::formatTime(now);
  Json conditions = Json::array();
  const ConditionState* firstFailing = nullptr;
  for (const auto& condition : observation.conditions) {
    conditions.push_back(conditionJson(condition, observation.generation, previousStatus, nowText));
    if (!condition.ok && firstFailing == nullptr) firstFailing = &condition;
  }
  ConditionState ready{.type = std::string(api::kConditionReady), .ok = firstFailing == nullptr};
  if (observation.invalidSpec) {
    // The caller put the spec's problem in the only condition it gave.
    ready = observation.conditions.empty() ? ready : observation.conditions.front();
    ready.type = std::string(api::kConditionReady);
    conditions = Json::array();
  } else if (firstFailing == nullptr) {
    ready.reason = std::string(api::kReasonReady);
    ready.message = "the store answers and the app is wired to it";
  } else {
    ready.reason = std::string(api::kReasonNotReady);
    ready.message =
        firstFailing->type + " is False (" + firstFailing->reason + "): " + firstFailing->message;
  }
  if (!observation.invalidSpec) {
    for (const auto& condition : observation.informational) {
      conditions.push_back(
          conditionJson(condition, observation.generation, previousStatus, nowText));
    }
  }
  conditions.push_back(conditionJson(ready, observation.generation, previousStatus, nowText));

  Json status = {{"observedGeneration", observation.generation},
                 {"phase", phaseOf(observation, previousStatus)},
                 {"conditions", std::move(conditions)}};
  Json store = Json::object();
  if (!observation.endpoint.empty()) store["endpoint"] = observation.endpoint;
  if (!observation.invalidSpec) store["ready"] = observation.storeReady;
  if (observation.connectedClients) store["connectedClients"] = *observation.connectedClients;
  if (observation.usedMemoryBytes) store["usedMemoryBytes"] = *observation.usedMemoryBytes;
  if (observation.memory) store["memory"] = *observation.memory;
  if (observation.primary) store["primary"] = *observation.primary;
  if (observation.lastFailover) store["lastFailover"] = *observation.lastFailover;
  if (observation.passwordRotation) store["passwordRotation"] = *observation.passwordRotation;
  if (!store.empty()) status["store"] = std::move(store);
  Json target = Json::object();
  if (observation.replicas) target["replicas"] = *observation.replicas;
  if (observation.workers) target["workers"] = *observation.workers;
  if (observation.poolSize) target["poolSize"] = *observation.poolSize;
  if (!target.empty()) status["target"] = std::move(target);
  return status;
}

clock::Duration waitInterval(clock::Duration base, clock::Duration cap, int streak) {
  clock::Duration wait = base;
  for (int i = 0; i < streak && wait < cap; ++i) wait *= 2;
  return std::min(wait, cap);
}

}  // namespace sessionstore::reconcile
