// The reconciler's decisions, as pure functions (cert-manager's policies): from what gather.h
// read and what apply.h reported to what should exist, which objects need a write, the
// conditions with their reasons and messages, the Events to emit and whether the pass waits.
// No client, no clock (the time is an argument), no randomness, no logger: each is tested as a
// table of inputs and answers (tests/reconcile/decide_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/conditions.h"
#include "api/session_store.h"
#include "clock/clock.h"
#include "events/event.h"
#include "health/memory_control.h"
#include "health/store_prober.h"
#include "imageref/image_ref.h"
#include "kube/client.h"
#include "managedstore/managed_store.h"
#include "managedstore/tls.h"
#include "reconcile/desired.h"
#include "reconcile/gather.h"
#include "reconcile/status.h"
#include "wiring/connection.h"
#include "workqueue/runner.h"

namespace sessionstore::reconcile {

// An Event the pass emits on its SessionStore.
struct Event {
  events::EventType type = events::EventType::kNormal;
  std::string reason;
  std::string action;
  std::string note;

  bool operator==(const Event&) const = default;
};

// "the API server answered 500" when the error has no message.
std::string describe(const kube::Error& error);
// Retry with the key's backoff, and not before the server's Retry-After (429) when it sent one.
workqueue::Outcome retryFor(const kube::Error& error);

// --- Objects the SessionStore controls -----------------------------------------------------------

// `desired` with the sessionstore.io/desired-hash annotation: contains() ignores fields the server
// or others added, so it cannot see a field the operator stopped setting (a CPU limit taken out of
// the spec); the hash changes then, and the object is applied again, which removes the field.
Json withDesiredHash(const Json& desired);

// Whether `object` has an ownerReference marking `uid` as its controller.
bool controlledBy(const Json& object, const std::string& uid);

enum class WriteNeed {
  kNone,     // it is as desired
  kWrite,    // create or apply it
  kNotOurs,  // a same-named object that this SessionStore does not control: never overwritten
};
// What to do for `desired` (with its hash) given what exists (nullopt: nothing).
WriteNeed decideWrite(const Json& desired, const std::optional<Json>& observed,
                      const std::string& uid);

// StoreReady for an object of the store that exists and is someone else's (NameTaken).
ConditionState notOursCondition(const std::string& what);
// StoreReady for a write the API server refused (Invalid, Forbidden): ProvisioningFailed.
ConditionState refusedCondition(const std::string& what, const kube::Error& error);

// --- What a SessionStore may ask
// ------------------------------------------------------------------

// Why a managed store with replicas above 1 is refused by a reconciler that has no
// health::ReplicationControl (ReconcilerOptions::replication): nothing would promote a primary,
// and the client Service selects only the pod labelled primary, so such a store would never
// serve. nullopt for a single-pod store.
std::optional<std::string> replicasNotServed(const api::SessionStore& store);

// Why a managed store's image is refused by the cluster admin's allow-list (the field, the image
// and the list); nullopt when it is allowed, the list is empty, or the store is External.
std::optional<std::string> imageNotAllowed(const api::SessionStore& store,
                                           const imageref::AllowList& allowed);

// --- The managed store -------------------------------------------------------------------------

struct PasswordsDecision {
  std::optional<managedstore::Passwords> passwords;  // read from the Secret
  bool generate = false;  // the Secret does not exist (or was not read): create it, new passwords
  std::optional<ConditionState> problem;  // StoreReady: the Secret is someone else's or unusable
};
// The only place passwords come from: their Secret, or new ones when it does not exist.
PasswordsDecision decidePasswords(const api::SessionStore& store, const Observed& secret);

struct StoreObjectsDecision {
  // With their hashes, all written side by side but the StatefulSet, which waits for what it
  // mounts and the Service that governs it (`mounted`: the ConfigMap, the headless Service) and
  // is not made while one of them is someone else's. The others (the client Service, the
  // NetworkPolicy, a replicated store's PodDisruptionBudget) wait for nothing.
  std::vector<Json> mounted;
  std::vector<Json> beside;
  std::optional<Json> statefulSet;
  std::optional<ConditionState> problem;  // the objects cannot be built (ProvisioningFailed)
};
// What a fresh managed store's pass writes before it has read anything, as decideStoreObjects
// builds it when nothing else was found: its two Services (headless, then client), which depend
// on nothing, and (`passwords`: those just generated) the ConfigMap of a one-pod store whose
// memory does not follow load. The reconciler creates them while the password Secret is created;
// what it decides afterwards and finds different is written again.
struct FreshObjects {
  std::vector<Json> services;
  std::optional<Json> configMap;  // created only: one that exists is left to the decided write
};
FreshObjects decideFreshObjects(const api::SessionStore& store,
                                const std::optional<managedstore::Passwords>& passwords);
// `maxMemoryBytes`: the maxmemory the store has reached (decideMemory's level), when its memory
// follows load.
// REQUIRES: store.spec.store.type is kManaged.
StoreObjectsDecision decideStoreObjects(const api::SessionStore& store,
                                        const managedstore::Passwords& passwords,
                                        const std::optional<Json>& deployment,
                                        const std::string& operatorNamespace,
                                        std::optional<std::int64_t> maxMemoryBytes = std::nullopt);

// --- Memory that follows load (spec.store.managed.memory) ----------------------------------------

struct MemoryDecision {
  // The maxmemory the store has now, in bytes, a step of api::kMemoryLadder within [floor,
  // ceiling]: the store's objects are built with it (redis.conf, the container's memory limit).
  std::int64_t level = 0;
  // CONFIG SET maxmemory this, live: a raise (raised), or the level again when Redis answers
  // with less (it restarted before its mounted redis.conf had the raise). Never less than Redis
  // has: maxmemory is never lowered.
  std::optional<std::int64_t> setLive;
  bool raised = false;
  std::int64_t from = 0;  // the level before this pass
  Json status;            // status.store.memory
  ConditionState atCeiling{.type = std::string(api::kConditionMemoryAtCeiling)};
  std::vector<Event> events;  // told once setLive went through (or when nothing is set)
  // When to look again: at the end of the window while used_memory is above the target, else
  // once a window (at least a second); the reconciler takes the sooner of this and its resync.
  clock::Duration lookAgainIn{};
};
// From the spec, what Redis answered (nullopt: it could not be read), the previous status and
// the store's ConfigMap as observed (its redis.conf's maxmemory line: the level survives a lost
// status), at `now`. The level is the highest of the floor (spec maxMemory), the status' record,
// the ConfigMap's and Redis's maxmemory, taken down to a step of the ladder and to the ceiling.
// used_memory above targetUtilization percent of the level since aboveTargetSince, for at least
// windowSeconds, raises it one step, unless it is at the ceiling: MemoryAtCeiling True says so
// (a Warning Event when it turns True).
// REQUIRES: store.spec.store.managed.memory is set.
MemoryDecision decideMemory(const api::SessionStore& store,
                            const std::optional<health::MemoryReading>& reading,
                            const Json& previousStatus, const Observed& configMap,
                            clock::SystemTime now);
// The maxmemory line of a rendered redis.conf (a ConfigMap as read); nullopt without one.
std::optional<std::int64_t> configMapMaxMemory(const Json& configMap);

// Where the app and the monitor reach the store.
struct StoreEndpoints {
  wiring::StoreEndpoint app;
  std::optional<wiring::StoreEndpoint> monitor;
};
StoreEndpoints managedEndpoints(const api::SessionStore& store,
                                const managedstore::Passwords& passwords);

// --- TLS of the managed store (spec.store.managed.tls) -----------------------------------------

// What the pass does about the managed store's certificate. Keys are made by the reconciler
// (crypto/certificates.h) when newCa or issue says so; this only decides.
struct ManagedTlsDecision {
  // Operator's CA: make a new CA (the reason: none yet, unusable), and the server certificate
  // (none yet, renewal due, names changed, not from the CA).
  std::optional<std::string> newCa;
  std::optional<std::string> issue;
  std::optional<managedstore::ServerTls> server;  // the Secret's, when it is used as is
  std::optional<crypto::KeyAndCertificate> ca;    // the operator's CA as read
  // cert-manager: the Certificate to ensure (with its hash).
  std::optional<Json> certificate;
  // The CA the app and the operator verify with, and the certificate the store should serve,
  // once known ("" while not).
  std::string caPem;
  std::string certificateSha256;
  std::optional<crypto::TimePoint> renewAt;  // look again then
  std::optional<ConditionState> problem;     // StoreReady
  // A CA replaced (newCa) or being phased out: its certificate, kept in the CA Secret and trusted
  // beside the current CA (caPem is then the bundle of both) while it still signs the served
  // certificate; "" when there is none.
  std::string previousCaPem;
  // The previous CA signs nothing in the certificate Secret any more: the CA Secret is written
  // without it once a handshake shows the store serves that certificate (certificateSha256).
  bool dropPreviousCa = false;
};
// `appCaBundle`: the CA bundle every pod of the app runs with (the connection Secret's ca.crt
// when the target Deployment's rollout to that connection is complete), "" while that is not
// known (a rollout in progress), nullopt when no pod depends on the store (no target, not wired).
// REQUIRES: store.spec.store.managed.tls.enabled.
ManagedTlsDecision decideManagedTls(const api::SessionStore& store, const Observed& tlsSecret,
                                    const Observed& caSecret, crypto::TimePoint now,
                                    std::chrono::seconds certificateLifetime,
                                    const std::optional<std::string>& appCaBundle = std::nullopt);

// The endpoints of a managed TLS store: rediss:// verified against `caPem` with the Service's DNS
// name, the CA given to the app, and the certificate the store should serve on the monitor's.
void useManagedTls(StoreEndpoints& endpoints, const std::string& caPem,
                   const std::string& certificateSha256);

// --- The external store ------------------------------------------------------------------------

struct ExternalStoreDecision {
  std::optional<wiring::StoreEndpoint> endpoint;
  // StoreReady when the URL is missing or invalid; the pass then waits (a Secret is not watched).
  std::optional<ConditionState> problem;
};
// With a rediss:// URL, the endpoint carries spec.store.external.tls (the CA from `caSecret`,
// read when tls.caSecretRef is set); spec.store.external.tls with a redis:// URL is InvalidUrl,
// a CA Secret that is missing or holds no certificate is TLSCASecretInvalid.
// REQUIRES: store.spec.store.type is kExternal. The messages never repeat the URL's password.
ExternalStoreDecision decideExternalStore(const api::SessionStore& store, const Observed& urlSecret,
                                          const Observed& caSecret = Observed::notRead());

// --- Health ------------------------------------------------------------------------------------

// StoreReady from the probe. A store that does not answer while its pod is not ready, and that
// the app was never wired to, is Provisioning; once the app was wired (the operator owns fields of
// the Deployment) it is the probe's reason (unreachable), whatever the pod says.
ConditionState decideStoreReady(const api::SessionStore& store, const health::ProbeResult& probe,
                                const std::optional<Json>& deployment,
                                const std::optional<Json>& statefulSet);

// --- The target --------------------------------------------------------------------------------

struct TargetConditions {
  ConditionState wired;
  ConditionState workers;
};
// ConnectionWired and WorkersSized while the target Deployment does not exist.
TargetConditions targetMissing(const api::SessionStore& store);

// The bound on the app's replicas that its connection pools are sized for (PRODUCT.md, item 4;
// wiring::ReplicasBound), never the live spec.replicas: spec.autoscaling.maxReplicas when the
// operator autoscales; else spec.maxReplicas of a HorizontalPodAutoscaler whose scaleTargetRef
// is the Deployment (the largest, if several do); else spec.maxReplicaCount of a KEDA
// ScaledObject that targets it (KEDA's default, 100, when unset); else spec.target.maxReplicas
// or its default. An object whose fields are not what the API defines is passed over.
wiring::ReplicasBound decideReplicasBound(const api::SessionStore& store,
                                          const std::vector<Json>& horizontalPodAutoscalers,
                                          const std::vector<Json>& scaledObjects);
// KEDA's maxReplicaCount when a ScaledObject does not set it.
inline constexpr int kKedaDefaultMaxReplicaCount = 100;

struct WiringDecision {
  ConditionState wired{.type = std::string(api::kConditionConnectionWired)};
  ConditionState workers{.type = std::string(api::kConditionWorkersSized)};
  bool isWired = false;    // the Deployment carries (or keeps) the wiring
  bool needsUser = false;  // nothing changes until the user does
  // Set when the store answers and the wiring could be built: the connection Secret to ensure,
  // and the Deployment's apply body (applied when applyDeployment).
  std::optional<Wiring> wiring;
  bool applyDeployment = false;
  Event wiredEvent;  // once the Deployment was applied
  std::optional<std::int64_t> workerCount;
  std::optional<std::int64_t> poolSize;  // the smallest of the wired containers'
};
// `deployment` is the target as read; `endpoint` where the app reaches the store (nullopt: its
// objects or URL are not in place); `probe` nullopt: the store was not probed; `bound` from
// decideReplicasBound. The pools are sized for the bound, so the body does not depend on the
// Deployment's spec.replicas. When spec.replicas is above the bound, the wiring stays as it is
// (a scale never rolls the pods) and WorkersSized is False, ReplicasAboveBound, with the numbers
// and what to change.
// REQUIRES: `endpoint` when `probe` says the store answers.
WiringDecision decideWiring(const api::SessionStore& store,
                            const std::optional<wiring::StoreEndpoint>& endpoint,
                            const Json& deployment, const std::optional<health::ProbeResult>& probe,
                            const std::string& storeReason, const wiring::ReplicasBound& bound);
// The first env entry the wiring would replace that the operator did not write: a container of
// `deployment` that the wiring targets already has an entry of a name the operator writes, and the
// operator's field manager owns nothing of that entry (metadata.managedFields). The message says
// which container, which name and which spec field chose it; nullopt when there is none.
std::optional<std::string> foreignEnvEntry(const api::SessionStore& store,
                                           const wiring::DeploymentWiring& wiring,
                                           const Json& deployment);

// The same for the CA's volume and mount (wiring.caFile): a volume named wiring::kCaVolumeName in
// the pod template, or a mount at wiring::kCaMountPath in a wired container, that the operator did
// not write; nullopt when there is none or wiring.caFile is false.
std::optional<std::string> foreignCaVolume(const api::SessionStore& store,
                                           const wiring::DeploymentWiring& wiring,
                                           const Json& deployment);
// The connection Secret's name belongs to someone else.
ConditionState connectionSecretTaken(const api::SessionStore& store);
// The API server refused the Deployment's apply (not transient): ConnectionWired ApplyFailed,
// told as a Warning too.
std::pair<ConditionState, Event> deploymentRefused(const api::SessionStore& store,
                                                   const kube::Error& error);

// --- One SessionStore per target ---------------------------------------------------------------

// The SessionStore that keeps `target` (the Deployment or Service as read; `field` is
// "deployment" or "service", the spec.target field that names it) when it is not `store`: the one
// its identity::kWiredByLabel names, when that one still targets it (its wiring is there); else
// the oldest by metadata.creationTimestamp, then by name, of the `claimants` that name it, are
// valid SessionStores and are not being deleted. nullopt: `store` keeps it (or may take it).
std::optional<std::string> targetHolder(const api::SessionStore& store, std::string_view field,
                                        const Json& target, const std::vector<Json>& claimants);
// ConnectionWired (field "deployment") or AffinityApplied ("service") of a store whose target is
// kept by `holder`: TargetClaimed, naming it.
ConditionState targetClaimed(const api::SessionStore& store, std::string_view field,
                             const std::string& holder);
// Whether the target's identity::kWiredByLabel names another SessionStore than `store`: its
// finalizer then leaves the target alone (the operator's fields on it are that store's wiring).
bool wiredByAnother(const Json& target, const std::string& store);

// --- Affinity ----------------------------------------------------------------------------------

struct AffinityDecision {
  ConditionState condition{.type = std::string(api::kConditionAffinityApplied)};
  bool waiting = false;       // the Service does not exist yet
  std::optional<Json> apply;  // the Service's apply body, when it is not what it should be
  Event appliedEvent;         // once it was applied
};
// The Service's session affinity for the mode and the store's state: ClientIP while the store
// is not ready in UntilStoreReady mode. `service`: as read (nullopt: none or missing).
AffinityDecision decideAffinity(const api::SessionStore& store, const std::optional<Json>& service,
                                bool storeReady);

// --- Status ------------------------------------------------------------------------------------

struct StatusDecision {
  std::optional<Json> status;  // nullopt: unchanged, nothing to write
  std::vector<Event> events;   // emitted once the status is written
};
// The status from what the pass observed. Written only when it changed: the store's figures
// (clients, memory) alone are no change. While autoscaling is on, the autoscaler's part of the
// previous status is kept (keepAutoscalingStatus). Events: Ready, Degraded/Failed with the first
// false condition, and each problem that needs the user once per change of its condition.
StatusDecision decideStatus(const api::SessionStore& store, Observation observation,
                            const Json& previous, clock::SystemTime now);
// The autoscaler writes its own part of the status (AutoscalingActive, status.target's scale
// fields, status.autoscaling): carried over into `status` from `previous`.
void keepAutoscalingStatus(const Json& previous, Json& status);
// A spec that cannot be parsed: phase Failed, Ready InvalidSpec, one Warning when written.
StatusDecision decideInvalidSpecStatus(std::int64_t generation, const std::string& problem,
                                       const Json& previous, clock::SystemTime now);

// One Created Event and one Updated Event naming what the pass wrote (each object once).
std::vector<Event> writesEvents(const std::vector<std::string>& created,
                                const std::vector<std::string>& updated);

// --- Deletion ----------------------------------------------------------------------------------

std::vector<std::string> finalizersOf(const Json& object);
bool hasFinalizer(const Json& object);
// The merge patch that adds (or removes) the operator's finalizer, on the version read.
Json finalizerPatch(const Json& object, bool add);

// A body that, applied under the operator's field manager, releases its fields of a user's
// object (the wiring of the Deployment, the affinity of the Service).
struct Release {
  const kube::Resource* resource;
  std::string name;
  Json body;
};
std::vector<Release> releases(const api::SessionStore& store);
// Whether the store's data (its PVCs) goes with it: deletionPolicy Delete of a managed store.
bool deletesData(const api::SessionStore& store);
// The label selector of the store's PersistentVolumeClaims.
std::string claimSelector(const api::SessionStore& store);

}  // namespace sessionstore::reconcile
