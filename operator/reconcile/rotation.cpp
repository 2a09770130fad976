#include "reconcile/rotation.h"

#include <cstdint>

#include "crypto/crypto.h"
#include "identity/identity.h"
#include "kube/json_path.h"
#include "wiring/connection.h"

namespace sessionstore::reconcile {
namespace {

using kube::at;
using kube::integerAt;
using kube::stringAt;

constexpr std::string_view kPasswordKey = "REDIS_PASSWORD";  // of the connection Secret

std::optional<std::string> secretValue(const Json& secret, std::string_view key) {
  const Json* value = at(secret, {"data", std::string(key).c_str()});
  if (value == nullptr || !value->is_string()) return std::nullopt;
  auto decoded = crypto::base64Decode(value->get<std::string>());
  if (!decoded || decoded->empty()) return std::nullopt;
  return *decoded;
}

// Whether users.acl of `configMap` gives `user` the password whose hash is `sha256Hex`.
bool aclAccepts(const Json& configMap, std::string_view user, const std::string& sha256Hex) {
  const std::string acl =
      stringAt(configMap, {"data", std::string(managedstore::kUsersAclKey).c_str()});
  const std::string head = "user " + std::string(user) + " ";
  std::size_t at = 0;
  while (at < acl.size()) {
    std::size_t end = acl.find('\n', at);
    if (end == std::string::npos) end = acl.size();
    const std::string_view line(acl.data() + at, end - at);
    if (line.starts_with(head) && line.find(" #" + sha256Hex) != std::string_view::npos) {
      return true;
    }
    at = end + 1;
  }
  return false;
}

}  // namespace

RotationRecord rotationRecord(const Json& previousStatus) {
  const Json* rotation = at(previousStatus, {"store", "passwordRotation"});
  if (rotation == nullptr || !rotation->is_object()) return {};
  return {.requested = rotation->value("requested", ""),
          .phase = rotation->value("phase", ""),
          .startedAt = rotation->value("startedAt", ""),
          .completedAt = rotation->value("completedAt", ""),
          .message = rotation->value("message", "")};
}

Json rotationStatus(const RotationRecord& record) {
  Json out = Json::object();
  const auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) out[key] = value;
  };
  put("requested", record.requested);
  put("phase", record.phase);
  put("startedAt", record.startedAt);
  put("completedAt", record.completedAt);
  put("message", record.message);
  return out;
}

RotationStep decideRotationStep(const std::optional<std::string>& requested,
                                const RotationRecord& previous,
                                const managedstore::Passwords& passwords, bool passwordsNew) {
  // Under way whatever the annotation says now: a rotation is finished before another starts.
  if (!passwords.previousApp.empty()) return RotationStep::kContinue;
  if (!requested || *requested == previous.requested) return RotationStep::kNone;
  // Passwords made this pass are as new as a rotation would make them.
  if (passwordsNew) return RotationStep::kRecord;
  return RotationStep::kStart;
}

RolloutCheck checkAppRolledOut(const std::optional<Json>& connectionSecret,
                               std::string_view appPassword, const std::optional<Json>& deployment,
                               const std::vector<Json>& pods) {
  if (!connectionSecret) return {.waitingFor = "the connection Secret"};
  const auto password = secretValue(*connectionSecret, kPasswordKey);
  if (!password || *password != appPassword) {
    return {.waitingFor = "the connection Secret to hold the new password"};
  }
  if (!deployment) return {.waitingFor = "the target Deployment"};
  const std::string hash = wiring::connectionHash(*connectionSecret);
  const std::string annotation = std::string(identity::kConnectionHashAnnotation);
  const std::string templateHash =
      stringAt(*deployment, {"spec", "template", "metadata", "annotations", annotation.c_str()});
  if (templateHash != hash) {
    return {.waitingFor = "the Deployment's pod template to carry the new connection hash"};
  }
  // The rollout as the CA replacement and `kubectl rollout status` judge it (one rule for both).
  if (!wiring::rolledOutWith(*deployment, hash)) {
    const auto count = [&](const char* field) {
      return std::to_string(integerAt(*deployment, {"status", field}).value_or(0));
    };
    return {.waitingFor = "the Deployment's rollout: " + count("updatedReplicas") + " updated, " +
                          count("availableReplicas") + " available, " + count("replicas") +
                          " in all, of " +
                          std::to_string(integerAt(*deployment, {"spec", "replicas"}).value_or(1))};
  }
  std::vector<std::string> behind;
  for (const Json& pod : pods) {
    const std::string phase = stringAt(pod, {"status", "phase"});
    if (phase == "Succeeded" || phase == "Failed") continue;
    if (stringAt(pod, {"metadata", "annotations", annotation.c_str()}) != hash) {
      behind.push_back(stringAt(pod, {"metadata", "name"}));
    }
  }
  if (!behind.empty()) {
    std::string names;
    for (std::size_t i = 0; i < behind.size() && i < 3; ++i) {
      names += (i == 0 ? "" : ", ") + behind[i];
    }
    if (behind.size() > 3) names += ", ...";
    return {.waitingFor = std::to_string(behind.size()) +
                          " pod(s) of the app still on the old connection (" + names + ")"};
  }
  return {.done = true};
}

std::string podSelector(const Json& deployment) {
  const Json* labels = at(deployment, {"spec", "selector", "matchLabels"});
  if (labels == nullptr || !labels->is_object()) return "";
  std::string out;
  for (const auto& [key, value] : labels->items()) {
    if (!value.is_string()) continue;
    if (!out.empty()) out += ",";
    out += key + "=" + value.get<std::string>();
  }
  return out;
}

RecoveredPasswords recoverPasswords(const std::optional<Json>& connectionSecret,
                                    const std::optional<std::string>& knownMonitor,
                                    const std::optional<Json>& configMap) {
  RecoveredPasswords out;
  if (!configMap) return out;  // nothing says what Redis accepts
  if (connectionSecret) {
    auto app = secretValue(*connectionSecret, kPasswordKey);
    if (app && aclAccepts(*configMap, managedstore::kAppUser, crypto::sha256Hex(*app))) {
      out.app = std::move(*app);
    }
  }
  if (knownMonitor && !knownMonitor->empty() &&
      aclAccepts(*configMap, managedstore::kMonitorUser, crypto::sha256Hex(*knownMonitor))) {
    out.monitor = *knownMonitor;
  }
  return out;
}

}  // namespace sessionstore::reconcile
