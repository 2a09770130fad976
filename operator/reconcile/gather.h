// The reconciler's reads, in one place (cert-manager's gatherer): what exists of a SessionStore's
// world, read through kube::Client (in production one that answers from the informers' caches),
// returned as a value for the pure decisions of decide.h. Nothing here writes. A missing object
// is an answer (nullopt), not an error; any other failed read is the error of the whole gather.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/session_store.h"
#include "health/store_health.h"
#include "kube/client.h"
#include "wiring/connection.h"

namespace sessionstore::reconcile {

using Json = nlohmann::json;

// One object the pass looked for: `read` false when it was not read (a fresh store's objects
// are created without reads first); then `object` is nullopt and means nothing.
struct Observed {
  bool read = false;
  std::optional<Json> object;  // nullopt after a read: it does not exist

  static Observed notRead() { return {}; }
  static Observed missing() { return {.read = true}; }
  static Observed found(Json object) { return {.read = true, .object = std::move(object)}; }
};

struct Gathered {
  std::optional<Json>
      deployment;               // the target (spec.target.deployment); nullopt: it does not exist
  std::optional<Json> service;  // spec.target.service; nullopt: none named, or it does not exist
  // Managed: the password Secret. External: the Secret holding the URL.
  Observed passwordSecret;
  Observed urlSecret;
  // External with spec.store.external.tls.caSecretRef: the Secret holding the CA.
  Observed caSecret;
  // Managed with spec.store.managed.tls.enabled: the server certificate Secret (the operator's or
  // cert-manager's) and, without an issuer, the operator's CA Secret.
  Observed tlsSecret;
  Observed tlsCaSecret;
  // The objects the SessionStore controls, by "Kind name" ("ConfigMap shop-redis-config"),
  // including the connection Secret.
  std::map<std::string, Observed> owned;
  // The namespace's HorizontalPodAutoscalers and KEDA ScaledObjects (none when KEDA is not
  // installed), as listed: which of them targets the Deployment is decided (decideReplicasBound).
  std::vector<Json> horizontalPodAutoscalers;
  std::vector<Json> scaledObjects;
  // The SessionStores read to tell which one keeps the target Deployment and Service (one
  // SessionStore per target, decide.h's targetHolder): none when the target carries this store's
  // wired-by label (or does not exist); the store its label names when that one still targets
  // it; else every SessionStore of the namespace.
  std::vector<Json> deploymentClaimants;
  std::vector<Json> serviceClaimants;

  // The owned object `what` ("Kind name") as gathered; notRead when it was not.
  const Observed& ownedObject(const std::string& what) const;
};

// "Kind name" of an object body, as Gathered::owned and the Created/Updated Events name it.
std::string describeObject(const Json& object);

// Reads what a pass of `store` needs. `fresh` (no pass finished yet): the password Secret and
// the owned objects are not read; the target and its Service and the URL Secret are. The
// autoscalers are listed with resourceVersion "0" (any recent version will do): in production
// the client answers those lists from the informers' caches, with no request.
kube::Result<Gathered> gather(kube::Client& client, const api::SessionStore& store, bool fresh);

// The identity::kWiredByLabel label of a target ("" without it), its metadata.name, and whether a
// SessionStore object (as read) names `name` in spec.target.<field> ("deployment", "service").
std::string wiredByLabel(const Json& object);
std::string targetName(const Json& object);
bool namesTarget(const Json& sessionStore, std::string_view field, const std::string& name);
// The field selector of the SessionStores naming `name` in spec.target.<field>: the CRD makes
// spec.target.deployment and spec.target.service selectable, and the operator's cache of
// SessionStores is indexed by both (app/main.cpp).
std::string targetFieldSelector(std::string_view field, const std::string& name);

// The store's health as `health` knows it (the one read that is not of the cluster).
health::ProbeResult gatherHealth(health::StoreHealth& health, const std::string& key,
                                 const wiring::StoreEndpoint& app,
                                 const std::optional<wiring::StoreEndpoint>& monitor);

// The items of a list where NotFound (a resource that is not served: KEDA not installed) is an
// answer: none.
kube::Result<std::vector<Json>> listServed(kube::Client& client, const kube::Resource& resource,
                                           const std::string& ns);

// A read where NotFound is an answer: Observed::missing().
kube::Result<Observed> readObserved(kube::Client& client, const kube::Resource& resource,
                                    const std::string& ns, const std::string& name);

}  // namespace sessionstore::reconcile
