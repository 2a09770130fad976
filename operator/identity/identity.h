// Who the operator is to a cluster, in one place: the names it writes into the objects it makes
// and into its requests. An object carrying kManagedByLabel: kName and kStoreLabel: <store> was
// made by the operator for that SessionStore; changing one of these strings orphans what older
// versions made, so they only ever change with a migration.
#pragma once

#include <string_view>

namespace sessionstore::identity {

// The program's name: the field manager of every write, the value of the managed-by label, the
// Events' reporting controller, and the product in the User-Agent ("sessionstore-operator/VERSION").
inline constexpr std::string_view kName = "sessionstore-operator";
inline constexpr std::string_view kFieldManager = kName;
inline constexpr std::string_view kReportingController = kName;

// The labels of every object the operator makes for a SessionStore (and of the Redis pods).
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kStoreLabel = "sessionstore.io/name";

// On the user's target Deployment and Service, applied with the wiring and the affinity and
// released with them: which SessionStore wired it, so a change to them (the wiring removed, the
// affinity edited) brings that store's reconcile at once, from a label-scoped watch.
inline constexpr std::string_view kWiredByLabel = "sessionstore.io/wired-by";

// On the managed store's Redis pods when spec.store.managed.replicas is above 1: the one pod the
// client Service selects carries kRoleLabel: kRolePrimary (the operator moves it on failover);
// replicas carry no role label, so a pod is never selected before the operator has decided.
inline constexpr std::string_view kRoleLabel = "sessionstore.io/role";
inline constexpr std::string_view kRolePrimary = "primary";

// On the SessionStore: the operator's cleanup runs before it goes.
inline constexpr std::string_view kFinalizer = "sessionstore.io/finalizer";

// On each object the operator makes: a digest of the body it last wrote.
inline constexpr std::string_view kDesiredHashAnnotation = "sessionstore.io/desired-hash";
// On the Redis pod template: a digest of the rendered config, so Redis restarts on a change.
inline constexpr std::string_view kConfigHashAnnotation = "sessionstore.io/config-hash";
// On the app's pod template: a digest of the connection, so pods roll when it changes.
inline constexpr std::string_view kConnectionHashAnnotation = "sessionstore.io/connection-hash";

// On the SessionStore, set by the user: a managed store's app password is rotated each time this
// value changes (any value different from status.store.passwordRotation.requested; a date or a
// counter reads well). reconcile/rotation.h has the steps.
inline constexpr std::string_view kRotatePasswordAnnotation = "sessionstore.io/rotate-password";

// Where the operator's own pods run by default, and the label they carry (the store's
// NetworkPolicy admits them).
inline constexpr std::string_view kDefaultOperatorNamespace = "sessionstore-system";
inline constexpr std::string_view kOperatorPodNameLabel = "app.kubernetes.io/name";
inline constexpr std::string_view kOperatorPodName = kName;

}  // namespace sessionstore::identity
