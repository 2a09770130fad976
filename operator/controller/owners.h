// Which SessionStore an object the caches saw belongs to, so that its change enqueues that
// store (controller-runtime's EnqueueRequestForOwner, and a label map for the user's objects).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "informer/informer.h"

namespace sessionstore::controller {

// An object the operator made for a store: the store named by its controller ownerReference of
// kind SessionStore, else by its identity::kStoreLabel label; {} when neither ("namespace/name").
std::vector<std::string> owningStoreKeys(const informer::Json& object);

// The user's target Deployment or Service: the store named by its identity::kWiredByLabel
// label; {} without it.
std::vector<std::string> wiringStoreKeys(const informer::Json& object);

// A HorizontalPodAutoscaler or KEDA ScaledObject: the stores of its namespace whose
// spec.target.deployment its spec.scaleTargetRef names (its maximum bounds their connection
// pools). `storesIn(ns)`: the SessionStores of a namespace, as a cache holds them. Malformed
// objects name no store.
std::vector<std::string> scalerTargetStoreKeys(
    const informer::Json& scaler,
    const std::function<std::vector<informer::Json>(const std::string& ns)>& storesIn);

// Whether an HPA's or ScaledObject's update can change a store's bound: its scaleTargetRef or
// its maximum (spec.maxReplicas, spec.maxReplicaCount) changed, or it is a resync (the same
// resourceVersion). Status updates, which an HPA gets at each of its syncs, start nothing. Pure.
bool scalerUpdateMatters(const informer::Json& before, const informer::Json& after);

// Handlers for an informer of HPAs or ScaledObjects: each add and delete, and each update that
// matters, calls `enqueue` with the stores `keysFor` names, before and after the update (a
// scaleTargetRef moved from one Deployment to another concerns both).
informer::Handlers enqueueScalerTargets(
    std::function<std::vector<std::string>(const informer::Json&)> keysFor,
    std::function<void(const std::string& key)> enqueue);
// SessionStores that wait for a target another SessionStore keeps (one SessionStore per target):
// the reconciler says after each pass which targets a store waits for, and a change of such a
// target (above all its wired-by label released, which a label-scoped watch shows as a deletion)
// enqueues the waiting stores too. Thread-safe.
class TargetWaiters {
 public:
  // `store` ("namespace/name") now waits for exactly `targets` ("Deployment namespace/name",
  // "Service namespace/name"); empty: for none.
  void waitFor(const std::string& store, const std::vector<std::string>& targets);
  // The stores waiting for `target` ("Deployment namespace/name").
  std::vector<std::string> waitersOf(const std::string& target) const;
  // The stores waiting for `object` of `kind` ("Deployment", "Service").
  std::vector<std::string> waitersOf(const std::string& kind, const informer::Json& object) const;
  // KeysFor a target informer: wiringStoreKeys(object) and the stores waiting for it.
  std::vector<std::string> keysFor(const std::string& kind, const informer::Json& object) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::set<std::string>> waiters_;     // GUARDED_BY(mu_), by target
  std::map<std::string, std::vector<std::string>> targets_;  // GUARDED_BY(mu_), by store
};

}  // namespace sessionstore::controller
