// The SessionStore reconciler (PRODUCT.md, items 1 to 6, 8 and 9): for one key it gathers what
// exists (gather.h), decides what should (decide.h, pure), applies the difference (apply.h) in
// named steps, and writes the status once when it changed. reconciler.cpp holds only the steps
// and their order; the reads come through kube::Client, which in production answers from the
// informers' caches and knows the operator's own writes (read-your-writes lives there), and the
// store's health through health::StoreHealth.
//
//   0. gather     the target Deployment and Service, the store's Secrets and owned objects (a
//                 fresh store's objects are created without reads first), the namespace's
//                 HorizontalPodAutoscalers and ScaledObjects (from caches), while the finalizer
//                 is added
//   1. target     read the Deployment (its labels scope the NetworkPolicy, its CPU the workers)
//   2. store      Managed: the password Secret (generated once, never again), with TLS the
//                 certificate (the operator's CA and server certificate, issued again at two
//                 thirds of its lifetime, or a cert-manager Certificate), the ConfigMap,
//                 the Services, the StatefulSet and the NetworkPolicy; External: the URL from
//                 the referenced Secret, checked
//   2b. memory    spec.store.managed.memory: used_memory and maxmemory read, maxmemory raised
//                 live one step (decideMemory) before the store's objects are built at the
//                 reached level; after them the running pod's memory limit is resized in place
//   2c. failover  spec.store.managed.replicas above 1: each Redis pod's readiness (the pod watch)
//                 and INFO replication (on a connection of the operator's), the primary chosen
//                 or kept by managedstore::decideFailover, and its actions run in order (the
//                 old primary's label removed before a new one is labelled, REPLICAOF NO ONE,
//                 REPLICAOF for the others); FailoverStarted, FailoverCompleted, PrimaryElected.
//                 A scale down whose leaving pods hold the primary keeps the StatefulSet (every
//                 object rendered at its current count) until the primary has moved, as planned,
//                 to a caught-up pod that stays (managedstore::decideSwitchover; Switchover,
//                 ScaleDownWaiting). Down to one pod: its PodDisruptionBudget is deleted, pod 0
//                 made a master if it is a replica, and the primary label removed once the client
//                 Service selects without it
//   3. probe      the store's health from health::StoreHealth (AUTH + PING with the app's
//                 credentials, INFO with the monitoring ones); forgotten when it has no store
//   4. wire       only once the store answers: the connection Secret and the Deployment's env,
//                 workers, pool size and connection-hash annotation (server-side apply); pools
//                 are sized for a stable bound on replicas (decideReplicasBound), so a scale
//                 rolls no pod, and a scale past the bound is a condition
//   5. affinity   the Service's session affinity for the mode and the store's state
//   6. status     phase and conditions, written only when they changed
//
// Every object is compared with what is observed first: a reconcile with nothing to change makes
// no write. Each change and each problem is an Event on the SessionStore. An object the
// operator would write that exists and is not owned by this SessionStore is never overwritten:
// the condition names it. Deletion runs through the finalizer: the operator's fields leave the
// Deployment and the Service, the connection Secret goes, and the store's data (PVC) is kept or
// deleted by spec.store.managed.deletionPolicy.
#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clock/clock.h"
#include "events/recorder.h"
#include "health/password_control.h"
#include "health/replication_control.h"
#include "health/store_health.h"
#include "imageref/image_ref.h"
#include "kube/client.h"
#include "logging/log.h"
#include "managedstore/failover.h"
#include "managedstore/managed_store.h"
#include "managedstore/tls.h"
#include "metrics/operator_metrics.h"
#include "reconcile/apply.h"
#include "reconcile/decide.h"
#include "reconcile/desired.h"
#include "reconcile/gather.h"
#include "reconcile/rotation.h"
#include "workqueue/runner.h"

namespace sessionstore::reconcile {

struct ReconcilerOptions {
  // Where the operator runs (the NetworkPolicy admits its pods from there).
  std::string operatorNamespace{identity::kDefaultOperatorNamespace};
  // A converged SessionStore is looked at again after this (the store is probed again).
  clock::Duration resyncInterval = std::chrono::seconds(30);
  // While waiting for the store, the target or the app's rollout, look again after this,
  // doubled for each look in a row that still waits, up to waitCap (and never beyond
  // resyncInterval). The cap is its own: with the rare resync of production (10 h), a cap at the
  // resync left a store that waited through a few passes (each event of an app's rollout is
  // one) unlooked-at for hours.
  clock::Duration waitInterval = std::chrono::seconds(3);
  clock::Duration waitCap = std::chrono::seconds(30);
  // How long the server certificates the operator issues for a managed TLS store are valid
  // (renewed at two thirds of it); the --managed-tls-certificate-lifetime flag.
  std::chrono::seconds certificateLifetime = managedstore::kDefaultCertificateLifetime;
  // The images a managed store may run (the --allowed-images flag); empty: any valid image.
  imageref::AllowList allowedImages;
  // Reads and raises the maxmemory of a managed store whose memory follows load
  // (spec.store.managed.memory); null: such a store keeps the level it has reached and is not
  // raised.
  health::MemoryControl* memory = nullptr;
  // Reads and moves the replication of a managed store with replicas above 1 (failover); null:
  // such a store is refused (InvalidSpec), as it could never have a primary.
  health::ReplicationControl* replication = nullptr;
  // Adds and removes app passwords live in a managed store (password rotation,
  // reconcile/rotation.h); null: a rotation asked for waits, with an Event that says why.
  health::PasswordControl* passwords = nullptr;
  // Told after each reconcile of a live SessionStore (the autoscaler starts or stops polling it),
  // and when one is gone or finalized ("namespace/name").
  std::function<void(const api::SessionStore&)> observed;
  std::function<void(const std::string& key)> gone;
  // Told after each pass with the targets another SessionStore keeps from this one ("Deployment
  // namespace/name", "Service namespace/name"; empty when none, and when the store is finalized or
  // gone), so that a release of one (its wired-by label removed) enqueues the store again.
  std::function<void(const std::string& key, const std::vector<std::string>& targets)> waitsFor;
  // Told when a finalized store lets go of its targets (in the same spelling), whether it had
  // wired them or not: a store waiting for one may take it now.
  std::function<void(const std::vector<std::string>& targets)> released;
};

class Reconciler {
 public:
  // Every read and write goes through `client` (in production one that answers reads from the
  // informers' caches and knows the versions of its own writes); `live` reads the whole object
  // from the server where a cached copy is not enough (every managedFields entry). Tests may
  // pass one client twice. recorder and metrics may be null.
  // REQUIRES: every reference outlives the reconciler.
  Reconciler(kube::Client& client, kube::Client& live, health::StoreHealth& health,
             managedstore::RandomBytes random, events::EventRecorder* recorder,
             ReconcilerOptions options, const clock::Clock& clock = clock::systemClock(),
             metrics::OperatorMetrics* metrics = nullptr);

  // Reconciles "namespace/name". Thread-safe for distinct keys (the work queue never runs one
  // key twice at once).
  workqueue::Outcome reconcile(const std::string& key);

 private:
  struct Pass;

  // The steps, in the order reconcile() runs them. Each reads what gather() found, asks decide.h
  // what should be, writes through an Applier and records its conditions in the pass; false
  // stops the pass (an API error, retried with backoff).
  workqueue::Outcome reconcileLive(Pass& pass);
  // Waits for the finalizer this pass is adding, if any; false when it could not be added (the
  // pass stops and is retried).
  bool awaitFinalizer(Pass& pass);
  // ensureOwned, for an object a fresh store's pass may have written from its start
  // (Pass::early): that write's result when it wrote `desired`, else written again from what it
  // left. Called side by side for distinct objects.
  Written ensureOwnedAfterEarly(Pass& pass, const Applier& applier, const Json& desired);
  // Records the writes from the pass's start not taken in yet (a pass that stopped before its
  // store's objects).
  void takeInEarly(Pass& pass);
  bool stepPasswords(Pass& pass, const Applier& applier);
  void stepTarget(Pass& pass);
  std::vector<std::pair<std::string, wiring::StoreEndpoint>> podEndpoints(const Pass& pass) const;
  std::expected<void, std::string> changeAppPassword(const Pass& pass, bool add,
                                                     const std::string& password) const;
  std::optional<std::string> appCaBundle(const Pass& pass) const;
  bool stepDropPreviousCa(Pass& pass, const Applier& applier);
  bool stepManagedTls(Pass& pass, const Applier& applier);
  void stepMemory(Pass& pass);
  bool stepRotation(Pass& pass, const Applier& applier);
  bool stepManagedStore(Pass& pass, const Applier& applier);
  void stepRotationLive(Pass& pass);
  void setMaxMemoryOnEveryPod(Pass& pass, std::int64_t bytes);
  void stepResize(Pass& pass, const Applier& applier);
  bool stepReplicationPassword(Pass& pass, const Applier& applier);
  void stepHoldScaleDown(Pass& pass);
  void stepFailover(Pass& pass);
  void stepSwitchover(Pass& pass, const std::vector<managedstore::PodObservation>& pods,
                      const std::map<std::string, wiring::StoreEndpoint>& endpoints);
  void stepSinglePod(Pass& pass);
  bool removeStaleBudget(Pass& pass);
  // Runs a failover's or a switchover's actions in order; false (told, looked at again soon)
  // at the first that fails.
  bool runReplicationActions(Pass& pass, const std::vector<managedstore::FailoverAction>& actions,
                             const std::map<std::string, wiring::StoreEndpoint>& endpoints,
                             const std::string& primary, const std::string& failedReason);
  kube::Result<Json> labelPrimary(const Pass& pass, const std::string& pod, bool add);
  // Pod `pod` of a managed store as the operator reaches it with the monitor's credentials.
  // REQUIRES: pass.endpoints->monitor.
  wiring::StoreEndpoint podEndpoint(const Pass& pass, const std::string& pod) const;
  static std::string storePodSelector(const Pass& pass);
  void stepExternalStore(Pass& pass);
  void stepProbe(Pass& pass);
  bool stepWire(Pass& pass, const Applier& applier);
  bool stepAffinity(Pass& pass, const Applier& applier);
  bool stepStatus(Pass& pass, const Applier& applier);
  workqueue::Outcome stepRequeue(Pass& pass);
  workqueue::Outcome invalidSpec(Pass& pass, const std::string& problem);
  workqueue::Outcome finalize(Pass& pass);

  // New passwords in a new password Secret (the only place passwords are generated).
  kube::Result<Json> createPasswords(const Applier& applier, managedstore::Passwords& out) const;
  // Writes pass.passwords to the auth Secret (a rotation's steps); false on an API error.
  bool writeAuthSecret(Pass& pass, const Applier& applier);
  // The store's monitoring endpoint as the operator reaches it (TLS included once known).
  std::optional<wiring::StoreEndpoint> monitorOf(const Pass& pass) const;
  // Takes what a write did into the pass: the created and updated names, a problem for StoreReady
  // (the first wins), an API error (the first wins). True when it went through.
  bool record(Pass& pass, const Written& written);
  // record() for one of the store's own objects (its Services, ConfigMap, StatefulSet, TLS
  // Secrets): one of someone else's also becomes the store's condition (NameTaken), when no
  // earlier problem is told there, and needs the user.
  bool recordStoreObject(Pass& pass, const Written& written);
  // One Event for what the pass created, one for what it changed; then forgets them.
  void reportWrites(Pass& pass);
  void event(const Pass& pass, const Event& event);
  void publishMetrics(const Pass& pass);

  kube::Client& client_;
  kube::Client& live_;
  health::StoreHealth& health_;
  const managedstore::RandomBytes random_;
  events::EventRecorder* recorder_;
  const ReconcilerOptions options_;
  const clock::Clock& clock_;
  metrics::OperatorMetrics* metrics_;
  logging::Logger log_;
  std::mutex waitMu_;
  std::map<std::string, int> waitStreak_;  // GUARDED_BY(waitMu_), by key, while it waits
  // A replicated store whose labelled primary was seen lost, by key: the pod, and when a pass
  // first saw it (the start of the failover's duration). Forgotten when a primary is labelled.
  struct PrimaryLoss {
    std::string from;
    clock::SystemTime since;
  };
  std::map<std::string, PrimaryLoss> primaryLosses_;  // GUARDED_BY(waitMu_)
  // Replicated stores whose last look at the pods moved nothing (one primary serving, every
  // replica following it): the next look lists the pods from the cache. Any other pass lists
  // them from the server, so a failover decides on the labels as they are, not as the watch
  // has caught up with them.
  std::set<std::string> replicasSettled_;  // GUARDED_BY(waitMu_)
};

}  // namespace sessionstore::reconcile
