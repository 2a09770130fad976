// The SessionStore reconciler (PRODUCT.md, items 1 to 6, 8 and 9): for one key it gathers what
// exists, decides what should, applies the difference in named steps, and writes the status once
// when it changed.
//
//   1. target     read the Deployment (its labels scope the NetworkPolicy, its CPU the workers)
//   2. store      Managed: the password Secret (generated once, never again), the ConfigMap,
//                 the Services, the StatefulSet and the NetworkPolicy; External: the URL from
//                 the referenced Secret, checked
//   3. probe      AUTH + PING with the app's credentials, INFO with the monitoring ones
//   4. wire       only once the store answers: the connection Secret and the Deployment's env,
//                 workers, pool size and connection-hash annotation (server-side apply)
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
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock.h"
#include "events/recorder.h"
#include "health/store_prober.h"
#include "kube/client.h"
#include "logging/log.h"
#include "managedstore/managed_store.h"
#include "metrics/operator_metrics.h"
#include "reconcile/desired.h"
#include "workqueue/runner.h"

namespace sessionstore::reconcile {

struct ReconcilerOptions {
  // Where the operator runs (the NetworkPolicy admits its pods from there).
  std::string operatorNamespace{identity::kDefaultOperatorNamespace};
  // A converged SessionStore is looked at again after this (the store is probed again).
  clock::Duration resyncInterval = std::chrono::seconds(30);
  // While waiting for the store or the target, look again after this, doubled for each look in
  // a row that still waits, up to resyncInterval.
  clock::Duration waitInterval = std::chrono::seconds(3);
  // Told after each reconcile of a live SessionStore (the autoscaler starts or stops polling it),
  // and when one is gone or finalized ("namespace/name").
  std::function<void(const api::SessionStore&)> observed;
  std::function<void(const std::string& key)> gone;
  // The SessionStore as the operator's informer last saw it, if it has it (nullopt: read it
  // from the server). Unset: every pass reads it from the server.
  std::function<std::optional<kube::Json>(const std::string& ns, const std::string& name)>
      cachedStore;
};

class Reconciler {
 public:
  // recorder and metrics may be null. REQUIRES: every reference outlives the reconciler.
  Reconciler(kube::Client& client, health::StoreProber& prober, managedstore::RandomBytes random,
             events::EventRecorder* recorder, ReconcilerOptions options,
             const clock::Clock& clock = clock::systemClock(),
             metrics::OperatorMetrics* metrics = nullptr);

  // Reconciles "namespace/name". Thread-safe for distinct keys (the work queue never runs one
  // key twice at once).
  workqueue::Outcome reconcile(const std::string& key);

  // Whether `store`, as a watch brought it, needs no pass because it is exactly what one of this
  // reconciler's own writes of it returned (each version answers true once). Each of those
  // writes names the version it was made on, so none succeeds after anyone else's change, and
  // what the pass decided already holds; the pass has asked to be looked at again when it needs
  // to be. A version that comes while such a write is on its way (the watch can be quicker than
  // the write's response) answers true too, and is settled when the write returns: if it was
  // someone else's, the pass runs again at once. Thread-safe.
  bool isOwnWrite(const kube::Json& store);

 private:
  struct Pass;

  workqueue::Outcome reconcileLive(Pass& pass);
  // The SessionStore to start from: the informer's copy; the server's when the cache lacks it,
  // is behind the operator's own last write, or a pass lost a write to a newer version.
  kube::Result<kube::Json> readStore(const std::string& key, const std::string& ns,
                                     const std::string& name);
  void rememberWrite(const std::string& key, const std::string& before, const kube::Json& after);
  // Every write of the SessionStore itself goes through here (see isOwnWrite).
  kube::Result<kube::Json> writeStore(Pass& pass,
                                      const std::function<kube::Result<kube::Json>()>& write);
  void readLiveNextTime(const std::string& key);
  workqueue::Outcome finalize(Pass& pass);
  workqueue::Outcome invalidSpec(Pass& pass, const std::string& problem);

  bool stepTarget(Pass& pass);
  // The managed store's password Secret: read, or created with new passwords when it does not
  // exist (the only place passwords are generated).
  bool stepPasswords(Pass& pass);
  bool stepManagedStore(Pass& pass);
  bool stepExternalStore(Pass& pass);
  void stepProbe(Pass& pass);
  bool stepWire(Pass& pass);
  bool stepAffinity(Pass& pass);
  bool stepStatus(Pass& pass);

  // Makes `desired` (an object the SessionStore controls) exist as built; false on an API error
  // (recorded in the pass). Sets `conflict` when a same-named object belongs to someone else.
  // On a SessionStore no pass has finished yet, the object is created without a read first
  // (a create fails, without touching anything, when the name is taken; it is read then).
  bool ensureOwned(Pass& pass, const kube::Json& desired, kube::Json* observedOut = nullptr,
                   bool* conflict = nullptr);
  // ensureOwned for each of `desired` side by side. Problems join the pass (the first in
  // `desired`'s order wins); each result says whether a same-named object belongs to someone
  // else, and holds the object as written or observed.
  struct Owned {
    bool ok = false;
    bool conflict = false;
    kube::Json observed;
  };
  std::vector<Owned> ensureOwnedAll(Pass& pass, const std::vector<const kube::Json*>& desired);
  // The fields a create gave the operator's manager are recorded as an Update; a later apply
  // would share them with that entry rather than own them, and could never remove one. Before
  // the first apply to such an object, the entry is folded into the operator's Apply entry
  // (client-go's csaupgrade does the same for kubectl). False on an API error.
  bool takeOverCreatedFields(Pass& pass, const kube::Resource& resource, kube::Json& observed);
  bool addFinalizer(Pass& pass);
  // One Event for what the pass created, one for what it changed; then forgets them.
  void reportWrites(Pass& pass);
  void event(Pass& pass, events::EventType type, std::string_view reason, std::string_view action,
             const std::string& note);
  void publishMetrics(const Pass& pass);

  kube::Client& client_;
  health::StoreProber& prober_;
  const managedstore::RandomBytes random_;
  events::EventRecorder* recorder_;
  const ReconcilerOptions options_;
  const clock::Clock& clock_;
  metrics::OperatorMetrics* metrics_;
  logging::Logger log_;
  std::mutex waitMu_;
  std::map<std::string, int> waitStreak_;  // GUARDED_BY(waitMu_), by key, while it waits
  // GUARDED_BY(waitMu_), by key: the resourceVersion the operator's last write of the
  // SessionStore returned, and the ones it had before that write and the writes of the same
  // pass leading to it. While the cache still holds one of those, the next pass reads the
  // server (the cache is behind the operator's own write). Dropped once the cache has moved on.
  // Versions only, not the written object: 1,000 stores' copies cost tens of MiB.
  struct Written {
    std::vector<std::string> older;
    std::string last;
  };
  std::map<std::string, Written> written_;
  std::set<std::string> readLive_;  // GUARDED_BY(waitMu_): keys whose next pass reads the server
  // GUARDED_BY(waitMu_), by key: what isOwnWrite knows of the SessionStore's own writes.
  struct Echoes {
    std::vector<std::string> expected;  // versions they returned, not brought back yet (last few)
    bool writing = false;               // one is on its way
    std::vector<std::string> early;     // versions the watch brought meanwhile, not settled yet
    bool lookAgain = false;             // one of those was someone else's: run the pass again
  };
  std::map<std::string, Echoes> echoes_;
};

}  // namespace sessionstore::reconcile
