// Password rotation of a managed store (issue 18), as pure decisions: the reconciler gathers,
// these decide, the reconciler applies (reconciler.cpp's stepRotation and stepRotationLive).
//
// A user asks with the annotation identity::kRotatePasswordAnnotation on the SessionStore: any
// value other than status.store.passwordRotation.requested (the last one handled). The steps, each
// safe to repeat, so that no client of the app ever fails AUTH:
//   1. Started: a new app password is generated; the auth Secret keeps the old one under
//      previous-app-password and users.acl gets both hashes (a Redis that restarts accepts both).
//      Redis is asked to accept the new one live (ACL SETUSER app #<sha256>, as the monitor
//      user). Until it has, the connection Secret keeps the old password.
//   2. RollingOut: Redis accepts both; the connection Secret has the new password, so the app's
//      connection hash changes and its pods roll.
//   3. Completed: once the app's rollout is complete and every pod of the app that can still run
//      carries the new connection hash, the old password is removed live (ACL SETUSER app
//      !<sha256>), then from the Secret and users.acl. The value handled is recorded.
// A password never appears in what these return except in the Passwords they are given.
//
// The same path serves an auth Secret deleted by mistake (recoverPasswords): the operator does
// not make new passwords Redis does not know. The app password is read back from the connection
// Secret (REDIS_PASSWORD, what the app's pods use) and the monitor password from the operator's
// kept link; each is kept only when users.acl (the ConfigMap, which outlives the Secret) has its
// hash, that is when Redis accepts it. What cannot be recovered is generated (a fresh store, or an
// operator restarted since: the monitor password is then new, and Redis learns it at its next
// start from users.acl; the app keeps working meanwhile).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/session_store.h"
#include "managedstore/managed_store.h"
#include "reconcile/decide.h"

namespace sessionstore::reconcile {

// status.store.passwordRotation.phase
inline constexpr std::string_view kRotationStarted = "Started";
inline constexpr std::string_view kRotationRollingOut = "RollingOut";
inline constexpr std::string_view kRotationCompleted = "Completed";

// What status.store.passwordRotation says (empty strings when absent).
struct RotationRecord {
  std::string requested;
  std::string phase;
  std::string startedAt;
  std::string completedAt;
  std::string message;
  bool operator==(const RotationRecord&) const = default;
};
RotationRecord rotationRecord(const Json& previousStatus);
Json rotationStatus(const RotationRecord& record);

enum class RotationStep {
  kNone,      // nothing asked, or already handled
  kRecord,    // asked, but the passwords are brand new: recorded as handled, nothing rotated
  kStart,     // generate a new app password (step 1)
  kContinue,  // a rotation is under way (the Secret has previous-app-password)
};

// `requested`: the annotation's value (nullopt: none). `passwords` as read from the Secret (or
// made this pass: `passwordsNew`).
RotationStep decideRotationStep(const std::optional<std::string>& requested,
                                const RotationRecord& previous,
                                const managedstore::Passwords& passwords, bool passwordsNew);

// Whether the app runs only with the connection holding `appPassword` (step 3 may run): the
// connection Secret as observed holds it; the Deployment's pod template carries that Secret's
// connection hash; the rollout is complete (status.observedGeneration is the generation, and
// updated, current and ready replicas are all spec.replicas); and every pod of `pods` that is
// not Succeeded or Failed (terminating ones included: they may still serve) carries that hash.
// `waitingFor` says what is left, with counts and names, never a password.
struct RolloutCheck {
  bool done = false;
  std::string waitingFor;
};
RolloutCheck checkAppRolledOut(const std::optional<Json>& connectionSecret,
                               std::string_view appPassword, const std::optional<Json>& deployment,
                               const std::vector<Json>& pods);

// The Deployment's selector as a label selector string ("a=b,c=d"); "" when it has none.
std::string podSelector(const Json& deployment);

// recoverPasswords: see the head of this file. `connectionSecret` as observed; `knownMonitor`
// the monitor password the operator's link uses (nullopt: none); `configMap` the store's
// ConfigMap as observed. Each of the result is nullopt when it cannot be recovered.
struct RecoveredPasswords {
  std::optional<std::string> app;
  std::optional<std::string> monitor;
};
RecoveredPasswords recoverPasswords(const std::optional<Json>& connectionSecret,
                                    const std::optional<std::string>& knownMonitor,
                                    const std::optional<Json>& configMap);

}  // namespace sessionstore::reconcile
