#include "reconcile/reconciler.h"

#include <expected>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "api/conditions.h"
#include "api/session_store.h"
#include "clock/time_format.h"
#include "crypto/certificates.h"
#include "crypto/crypto.h"
#include "identity/identity.h"
#include "kube/config.h"
#include "kube/json_path.h"
#include "managedstore/failover.h"
#include "reconcile/matches.h"
#include "wiring/connection.h"
#include "wiring/wiring.h"

namespace sessionstore::reconcile {
namespace {

using kube::at;
using kube::ErrorKind;
using kube::integerAt;
using kube::splitKey;
using workqueue::Outcome;

const std::string kManager{identity::kFieldManager};
// How often a replicated store whose replicas are settled is looked at anyway: a backstop only
// (a lost primary is told by the health monitor's kept connection and by the pod watch), whose
// pod list comes from the cache; each look still reads the store's two Secrets by name.
constexpr clock::Duration kSettledReplicasBackstop = std::chrono::seconds(30);

}  // namespace

// One reconcile: what was gathered, what the steps decided, what went wrong. Only the thread
// running reconcile() touches it; writes side by side return their results as values.
struct Reconciler::Pass {
  std::string key;
  Json raw;  // the SessionStore as read
  api::SessionStore store;
  logging::Logger log;
  events::ObjectReference regarding;
  // No pass has finished on this SessionStore yet (it has no status.observedGeneration): its
  // objects are most likely missing, so they are created without being read first.
  bool fresh = false;
  Gathered gathered;
  // What this pass created and changed ("ConfigMap shop-redis-config"), told in one Event each.
  std::vector<std::string> created;
  std::vector<std::string> updated;

  std::optional<managedstore::Passwords> passwords;
  bool passwordsNew = false;  // generated this pass (a new store, or a Secret not recoverable)
  // status.store.passwordRotation as this pass leaves it (nullopt: none was ever asked for).
  std::optional<RotationRecord> rotation;
  std::optional<MemoryDecision> memory;  // spec.store.managed.memory, once the passwords are known
  std::optional<Json> statefulSet;
  std::optional<StoreEndpoints> endpoints;  // the store's objects or URL are in place
  std::optional<health::ProbeResult> probe;
  bool waiting = false;                 // something is expected to change by itself soon
  bool needsUser = false;               // nothing changes until the user acts
  std::optional<kube::Error> apiError;  // a failed request: retry with backoff

  ConditionState storeCondition{.type = std::string(api::kConditionStoreReady)};
  ConditionState wiredCondition{.type = std::string(api::kConditionConnectionWired)};
  ConditionState affinityCondition{.type = std::string(api::kConditionAffinityApplied)};
  ConditionState workersCondition{.type = std::string(api::kConditionWorkersSized)};
  // Another SessionStore keeps the target Deployment / Service: nothing of it is written.
  std::optional<std::string> deploymentHolder;
  std::optional<std::string> serviceHolder;
  bool wired = false;
  std::optional<std::int64_t> workers;
  std::optional<std::int64_t> poolSize;
  // A managed TLS store: the CA and the certificate the store should serve, once known; when
  // the server certificate is due for renewal.
  std::string tlsCaPem;
  std::string tlsCertificateSha256;
  std::optional<crypto::TimePoint> renewAt;
  // The operator's CA, to be written without its previous CA once the store serves a
  // certificate from it (decideManagedTls's dropPreviousCa).
  std::optional<crypto::KeyAndCertificate> caToDropPreviousOf;
  // A replicated managed store: the pod labelled primary (when there is one), and the last
  // failover (status.store.lastFailover, carried from the previous status until a new one).
  std::optional<std::string> primary;
  std::optional<Json> lastFailover;
  bool replicasStale = false;  // a failover action failed or is under way: look again soon
  bool replicasSettled = false;  // one primary serving, every replica following it
  // A scale down held back (managedstore::holdScaleDown): the pod count the spec asks for, while
  // this pass renders the store at the StatefulSet's current count (store.spec...replicas).
  std::optional<int> scaleDownTo;
  // The finalizer being added, side by side with the store's own objects (they go with the
  // store by their owner references). Awaited (awaitFinalizer) before the StatefulSet, whose
  // pods keep data, and before any write to the user's objects, which only the finalizer undoes.
  std::future<kube::Result<Json>> finalizer;
  bool finalizerFailed = false;
  // A fresh managed store's objects written from the start of the pass (decideFreshObjects), by
  // "Kind name": what each wrote, and what it wrote. stepManagedStore takes one in when it is
  // what it decides, and writes again from there otherwise. Last: destroyed (so waited for)
  // before the store their writer reads.
  struct EarlyWrite {
    Json desired;
    std::future<Written> result;
  };
  std::map<std::string, EarlyWrite> early;
};

Reconciler::Reconciler(kube::Client& client, kube::Client& live, health::StoreHealth& health,
                       managedstore::RandomBytes random, events::EventRecorder* recorder,
                       ReconcilerOptions options, const clock::Clock& clock,
                       metrics::OperatorMetrics* metrics)
    : client_(client),
      live_(live),
      health_(health),
      random_(std::move(random)),
      recorder_(recorder),
      options_(std::move(options)),
      clock_(clock),
      metrics_(metrics),
      log_(logging::defaultLogger()) {}

Outcome Reconciler::reconcile(const std::string& key) {
  // Load the SessionStore by name.
  const auto [ns, name] = splitKey(key);
  auto raw = client_.get(kube::resources::kSessionStores, ns, name);
  if (!raw) {
    if (raw.error().kind == ErrorKind::kNotFound) {
      if (metrics_ != nullptr) metrics_->forgetSessionStore(ns, name);
      if (options_.gone) options_.gone(key);
      if (options_.waitsFor) options_.waitsFor(key, {});
      health_.forget(key);
      std::lock_guard lock(waitMu_);
      waitStreak_.erase(key);
      primaryLosses_.erase(key);
      replicasSettled_.erase(key);
      return Outcome::success();  // deleted; its children go with it (owner references)
    }
    log_.forSessionStore(ns, name).warn("cannot read the SessionStore",
                                        {{"error", describe(raw.error())}});
    return retryFor(raw.error());
  }
  Pass pass{.key = key, .raw = std::move(*raw), .log = log_.forSessionStore(ns, name)};
  const Json& metadata = pass.raw["metadata"];
  pass.regarding = {.apiVersion = std::string(api::kApiVersion),
                    .kind = std::string(api::kKind),
                    .ns = ns,
                    .name = name,
                    .uid = metadata.value("uid", ""),
                    .resourceVersion = metadata.value("resourceVersion", "")};
  auto parsed = api::parseSessionStore(pass.raw);
  if (!parsed) return invalidSpec(pass, parsed.error());
  pass.store = std::move(*parsed);
  pass.fresh = at(pass.raw, {"status", "observedGeneration"}) == nullptr;
  if (pass.store.metadata.deletionTimestamp) return finalize(pass);
  // What the cluster admin does not allow is refused before anything is written.
  if (auto refused = imageNotAllowed(pass.store, options_.allowedImages)) {
    return invalidSpec(pass, *refused);
  }
  if (options_.replication == nullptr) {
    if (auto refused = replicasNotServed(pass.store)) return invalidSpec(pass, *refused);
  }
  return reconcileLive(pass);
}

Outcome Reconciler::reconcileLive(Pass& pass) {
  // An API error stops the pass (retried with backoff); a missing prerequisite only stops what
  // depends on it. What does not depend on anything else starts at once, side by side, in the
  // order it is needed: a fresh managed store's password Secret (its ConfigMap waits for it),
  // its Services (they depend on nothing), the finalizer (awaitFinalizer: needed only before the
  // StatefulSet and the user's objects), while the pass gathers.
  const bool managed = pass.store.spec.store.type == api::StoreType::kManaged;
  const Applier applier(client_, live_, pass.store);
  // The writes the pass waits for later (pass.early, pass.finalizer) take it by value: the pass
  // outlives this frame's applier.
  const Applier writer = applier;
  std::future<kube::Result<Json>> freshPasswords;
  managedstore::Passwords generated;
  if (managed && pass.fresh) {
    // Generation failing leaves it to stepPasswords, which says so.
    std::optional<managedstore::Passwords> passwords;
    if (auto made = managedstore::generatePasswords(random_)) passwords = std::move(*made);
    if (passwords) {
      generated = *passwords;
      freshPasswords = std::async(std::launch::async, [&applier, passwords = *passwords] {
        return applier.createPasswordSecret(passwords);
      });
    }
    FreshObjects fresh = decideFreshObjects(pass.store, passwords);
    if (fresh.configMap) {
      // Created only: one that exists may hold an earlier pass's passwords, which the Secret
      // holds too; the decided write reads it.
      const std::string what = describeObject(*fresh.configMap);
      pass.early[what].desired = *fresh.configMap;
      pass.early[what].result = std::async(
          std::launch::async, [writer, what, configMap = std::move(*fresh.configMap)] {
            auto created = writer.createOnly(configMap);
            if (!created) return Written{.kind = Written::Kind::kFailed, .what = what,
                                         .error = created.error()};
            return Written{.kind = Written::Kind::kCreated, .what = what, .object = *created};
          });
    }
    for (Json& service : fresh.services) {
      const std::string what = describeObject(service);
      pass.early[what].desired = service;
      pass.early[what].result =
          std::async(std::launch::async, [writer, service = std::move(service)] {
            return writer.ensureOwned(service, Observed::notRead());
          });
    }
  }
  if (!hasFinalizer(pass.raw)) {
    pass.finalizer =
        std::async(std::launch::async, [writer, patch = finalizerPatch(pass.raw, true)] {
          return writer.patchStore(patch);
        });
  }
  auto gathered = gather(client_, pass.store, pass.fresh);
  if (gathered) {
    pass.gathered = std::move(*gathered);
  } else {
    pass.apiError = gathered.error();
  }
  bool ok = !pass.apiError;
  if (managed) {
    if (freshPasswords.valid()) {
      auto created = freshPasswords.get();
      if (created) {
        pass.passwords = std::move(generated);
        pass.passwordsNew = true;
        record(pass,
               {.kind = Written::Kind::kCreated,
                .what = "Secret " + managedstore::authSecretName(pass.store) + " (new passwords)"});
      } else if (created.error().kind == ErrorKind::kAlreadyExists) {
        // An earlier pass made it, or the name is someone else's: read it, decided below.
        auto read = readObserved(client_, kube::resources::kSecrets, pass.store.metadata.ns,
                                 managedstore::authSecretName(pass.store));
        if (read) {
          pass.gathered.passwordSecret = std::move(*read);
        } else if (!pass.apiError) {
          pass.apiError = read.error();
        }
      } else if (!pass.apiError) {
        pass.apiError = created.error();
      }
      ok = !pass.apiError;
    }
    if (ok && !pass.passwords) ok = stepPasswords(pass, applier);
    if (ok) ok = stepReplicationPassword(pass, applier);
  }
  // Whatever way the pass ends, what it wrote is told (before the status' own Events).
  struct ReportWrites {
    Reconciler& reconciler;
    Pass& pass;
    ~ReportWrites() { reconciler.reportWrites(pass); }
  } reportAtTheEnd{*this, pass};
  if (ok) stepTarget(pass);
  if (ok) {
    if (managed) {
      // First: a held scale down renders every object, and reaches every pod, at the
      // StatefulSet's current count.
      stepHoldScaleDown(pass);
      ok = stepManagedTls(pass, applier);
      // After TLS (a TLS-only store's memory is read over TLS, with the CA it gives), before the
      // store's objects (its redis.conf has the level the memory step decides).
      if (ok) stepMemory(pass);
      if (ok) ok = stepRotation(pass, applier);
      if (ok) ok = stepManagedStore(pass, applier);
      if (ok) stepRotationLive(pass);
      if (ok) stepResize(pass, applier);
      if (ok) stepFailover(pass);
      if (ok) stepSinglePod(pass);
    } else {
      stepExternalStore(pass);
    }
  }
  takeInEarly(pass);  // when the managed steps stopped before they did
  // Before anything of the user's is written, and before the status.
  if (!awaitFinalizer(pass)) return Outcome::retry();
  if (ok) stepProbe(pass);
  if (ok) ok = stepDropPreviousCa(pass, applier);
  if (ok) ok = stepWire(pass, applier);
  if (ok) ok = stepAffinity(pass, applier);
  if (pass.apiError) {
    pass.log.warn("reconcile failed, will retry", {{"error", describe(*pass.apiError)}});
    if (pass.apiError->kind != ErrorKind::kConflict) {
      event(pass, {.type = events::EventType::kWarning,
                   .reason = "ReconcileError",
                   .action = "Reconcile",
                   .note = describe(*pass.apiError)});
    }
    return retryFor(*pass.apiError);
  }
  reportWrites(pass);
  if (!stepStatus(pass, applier))
    return Outcome::retry();  // most often a write lost to a newer
                              // version
  publishMetrics(pass);
  std::vector<std::string> claimed;
  if (pass.deploymentHolder) {
    claimed.push_back("Deployment " + pass.store.metadata.ns + "/" +
                      pass.store.spec.target.deployment);
  }
  if (pass.serviceHolder) {
    claimed.push_back("Service " + pass.store.metadata.ns + "/" + pass.store.spec.target.service);
  }
  if (options_.waitsFor) options_.waitsFor(pass.key, claimed);
  // The autoscaler scales the target Deployment: not one another SessionStore keeps.
  if (pass.deploymentHolder) {
    if (options_.gone) options_.gone(pass.key);
  } else if (options_.observed) {
    options_.observed(pass.store);
  }
  return stepRequeue(pass);
}

Written Reconciler::ensureOwnedAfterEarly(Pass& pass, const Applier& applier,
                                          const Json& desired) {
  const std::string what = describeObject(desired);
  const auto early = pass.early.find(what);
  if (early == pass.early.end() || !early->second.result.valid()) {
    return applier.ensureOwned(desired, pass.gathered.ownedObject(what));
  }
  Written written = early->second.result.get();
  const bool wrote = written.kind == Written::Kind::kCreated ||
                     written.kind == Written::Kind::kUpdated ||
                     written.kind == Written::Kind::kUnchanged;
  if (written.kind == Written::Kind::kNotOurs || (wrote && early->second.desired == desired)) {
    return written;
  }
  // Decided otherwise since, or not written (the ConfigMap existed, a request failed): from what
  // is known of it.
  Written again = applier.ensureOwned(
      desired, wrote ? Observed::found(written.object) : pass.gathered.ownedObject(what));
  if (written.kind == Written::Kind::kCreated && again.kind == Written::Kind::kUpdated) {
    again.kind = Written::Kind::kCreated;  // told once, as made
  }
  return again;
}

void Reconciler::takeInEarly(Pass& pass) {
  for (auto& [what, early] : pass.early) {
    if (!early.result.valid()) continue;
    const Written written = early.result.get();
    // What failed is written by a later pass; what was made is told.
    if (written.kind == Written::Kind::kFailed || written.kind == Written::Kind::kRefused) continue;
    recordStoreObject(pass, written);
  }
}

bool Reconciler::awaitFinalizer(Pass& pass) {
  if (pass.finalizer.valid()) {
    auto patched = pass.finalizer.get();
    if (patched) {
      pass.raw = std::move(*patched);
    } else {
      pass.log.info("cannot add the finalizer, will retry", {{"error", describe(patched.error())}});
      pass.finalizerFailed = true;
    }
  }
  return !pass.finalizerFailed;
}

kube::Result<Json> Reconciler::createPasswords(const Applier& applier,
                                               managedstore::Passwords& out) const {
  auto passwords = managedstore::generatePasswords(random_);
  if (!passwords) {
    return std::unexpected(
        kube::Error{.kind = ErrorKind::kInternal,
                    .message = "cannot generate passwords: " + passwords.error()});
  }
  auto created = applier.createPasswordSecret(*passwords);
  if (created) out = std::move(*passwords);
  return created;
}

bool Reconciler::stepPasswords(Pass& pass, const Applier& applier) {
  auto decision = decidePasswords(pass.store, pass.gathered.passwordSecret);
  if (decision.problem) {
    pass.storeCondition = std::move(*decision.problem);
    pass.needsUser = true;
    return true;
  }
  if (decision.passwords) {
    pass.passwords = std::move(decision.passwords);
    return true;
  }
  // The Secret does not exist. Of a store that exists already (its ConfigMap is there) it was
  // deleted: what Redis and the app still use is recovered (rotation.h), so that no client is
  // left failing AUTH; only what cannot be recovered is new. AlreadyExists: another writer (an
  // earlier run of this key) won; it is read next time.
  RecoveredPasswords recovered;
  if (!pass.fresh) {
    std::optional<std::string> knownMonitor;
    if (auto monitor = health_.monitorEndpoint(pass.key)) knownMonitor = monitor->password;
    recovered = recoverPasswords(
        pass.gathered.ownedObject("Secret " + api::secretName(pass.store)).object, knownMonitor,
        pass.gathered.ownedObject("ConfigMap " + managedstore::configMapName(pass.store)).object);
  }
  managedstore::Passwords generated;
  kube::Result<Json> created;
  if (recovered.app || recovered.monitor) {
    auto fresh = managedstore::generatePasswords(random_);
    if (!fresh) {
      pass.apiError = kube::Error{.kind = ErrorKind::kInternal,
                                  .message = "cannot generate passwords: " + fresh.error()};
      return false;
    }
    generated = {.app = recovered.app.value_or(fresh->app),
                 .monitor = recovered.monitor.value_or(fresh->monitor)};
    created = applier.createPasswordSecret(generated);
  } else {
    created = createPasswords(applier, generated);
  }
  if (!created) {
    pass.apiError = created.error();
    return false;
  }
  pass.passwords = std::move(generated);
  pass.passwordsNew = !recovered.app;
  if (recovered.app || recovered.monitor) {
    const std::string kept = recovered.app && recovered.monitor ? "app and monitor passwords"
                             : recovered.app                    ? "app password"
                                                                : "monitor password";
    const std::string made = recovered.app && recovered.monitor ? ""
                             : recovered.app ? "; the monitor password is new (Redis learns it at "
                                               "its next start)"
                                             : "; the app password is new (the app rolls to it)";
    pass.log.warn("password Secret recovered", {{"kept", kept}});
    event(pass,
          {.type = events::EventType::kWarning,
           .reason = "PasswordsRecovered",
           .action = "Recover",
           .note = "Secret " + managedstore::authSecretName(pass.store) +
                   " was missing: made again with the " + kept + " Redis still accepts" + made});
    record(pass, {.kind = Written::Kind::kCreated,
                  .what = "Secret " + managedstore::authSecretName(pass.store) + " (recovered)"});
    return true;
  }
  record(pass, {.kind = Written::Kind::kCreated,
                .what = "Secret " + managedstore::authSecretName(pass.store) + " (new passwords)"});
  return true;
}

std::optional<wiring::StoreEndpoint> Reconciler::monitorOf(const Pass& pass) const {
  if (!pass.passwords) return std::nullopt;
  StoreEndpoints endpoints = managedEndpoints(pass.store, *pass.passwords);
  if (pass.store.spec.store.managed.tls.enabled) {
    if (pass.tlsCaPem.empty()) return std::nullopt;
    useManagedTls(endpoints, pass.tlsCaPem, pass.tlsCertificateSha256);
  }
  return endpoints.monitor;
}

// Where a setting is changed live (the app password, maxmemory): the store's Service, or each
// Redis pod of a replicated store by its stable name. Neither ACL SETUSER nor CONFIG SET is
// replicated, and a replica promoted later must serve what the primary served; a pod that restarts
// reads users.acl and redis.conf, which hold it as well.
std::vector<std::pair<std::string, wiring::StoreEndpoint>> Reconciler::podEndpoints(
    const Pass& pass) const {
  std::vector<std::pair<std::string, wiring::StoreEndpoint>> out;
  const auto monitor = monitorOf(pass);
  if (!monitor) return out;
  if (!managedstore::replicated(pass.store)) {
    out.emplace_back(monitor->host, *monitor);
    return out;
  }
  for (int i = 0; i < pass.store.spec.store.managed.replicas; ++i) {
    wiring::StoreEndpoint endpoint = *monitor;
    const std::string pod = managedstore::podName(pass.store, i);
    endpoint.host = pod + "." + managedstore::headlessServiceName(pass.store) + "." +
                    pass.store.metadata.ns + ".svc";
    if (endpoint.tls && endpoint.tlsServerName.empty()) endpoint.tlsServerName = monitor->host;
    out.emplace_back(pod, std::move(endpoint));
  }
  return out;
}

std::expected<void, std::string> Reconciler::changeAppPassword(const Pass& pass, bool add,
                                                               const std::string& password) const {
  if (options_.passwords == nullptr) {
    return std::unexpected(std::string("this operator cannot change a store's passwords live"));
  }
  const auto endpoints = podEndpoints(pass);
  if (endpoints.empty()) {
    return std::unexpected(std::string("the store's monitoring credentials are not known yet"));
  }
  const std::string sha = crypto::sha256Hex(password);
  for (const auto& [where, endpoint] : endpoints) {
    auto done = add ? options_.passwords->addPassword(endpoint, managedstore::kAppUser, sha)
                    : options_.passwords->removePassword(endpoint, managedstore::kAppUser, sha);
    if (!done) return std::unexpected(where + ": " + done.error());
  }
  return {};
}

bool Reconciler::writeAuthSecret(Pass& pass, const Applier& applier) {
  Json desired = managedstore::authSecret(pass.store, *pass.passwords);
  // A merge patch: a key left out stays, so the previous password is removed by a null.
  if (pass.passwords->previousApp.empty()) {
    desired["data"][std::string(managedstore::kPreviousAppPasswordKey)] = nullptr;
  }
  auto written = applier.writeSecret(desired, pass.gathered.passwordSecret);
  if (!written) {
    pass.apiError = written.error();
    return false;
  }
  pass.gathered.passwordSecret = Observed::found(std::move(*written));
  record(pass, {.kind = Written::Kind::kUpdated,
                .what = "Secret " + managedstore::authSecretName(pass.store) +
                        (pass.passwords->previousApp.empty() ? " (old app password removed)"
                                                             : " (new app password)")});
  return true;
}

bool Reconciler::stepRotation(Pass& pass, const Applier& applier) {
  if (!pass.passwords) return true;
  const Json previousStatus = pass.raw.contains("status") ? pass.raw["status"] : Json::object();
  const RotationRecord previous = rotationRecord(previousStatus);
  std::optional<std::string> requested;
  if (const Json* value = at(pass.raw, {"metadata", "annotations",
                                        std::string(identity::kRotatePasswordAnnotation).c_str()});
      value != nullptr && value->is_string()) {
    requested = value->get<std::string>();
  }
  if (!previous.requested.empty() || !previous.phase.empty()) pass.rotation = previous;
  const std::string now = clock::formatTime(clock_.wallNow());
  const auto failed = [&](const std::string& note) {
    pass.log.warn("password rotation held up", {{"error", note}});
    event(pass, {.type = events::EventType::kWarning,
                 .reason = "RotationFailed",
                 .action = "RotatePassword",
                 .note = note});
    pass.waiting = true;
  };
  switch (decideRotationStep(requested, previous, *pass.passwords, pass.passwordsNew)) {
    case RotationStep::kNone:
      return true;
    case RotationStep::kRecord:
      pass.rotation = RotationRecord{.requested = *requested,
                                     .phase = std::string(kRotationCompleted),
                                     .completedAt = now,
                                     .message = "the passwords were new: nothing to rotate"};
      return true;
    case RotationStep::kStart: {
      if (options_.passwords == nullptr) {
        failed("this operator cannot change a store's passwords live; the rotation waits");
        return true;
      }
      auto fresh = managedstore::generatePassword(random_);
      if (!fresh) {
        failed("cannot generate the new app password: " + fresh.error());
        return true;
      }
      pass.passwords->previousApp = std::move(pass.passwords->app);
      pass.passwords->app = std::move(*fresh);
      // Kept first: no password is ever in Redis or in the app that the Secret does not hold. On
      // the version read (a newer one, another pass's, is a conflict: retried).
      if (!writeAuthSecret(pass, applier)) return false;
      pass.rotation = RotationRecord{.requested = *requested,
                                     .phase = std::string(kRotationStarted),
                                     .startedAt = now,
                                     .message = "a new app password is being added to Redis"};
      pass.log.info("password rotation started", {});
      event(pass, {.type = events::EventType::kNormal,
                   .reason = "RotationStarted",
                   .action = "RotatePassword",
                   .note = "a new app password: Redis accepts it beside the old one, the app "
                           "rolls to it, and the old one is removed once no pod uses it"});
      return true;
    }
    case RotationStep::kContinue:
      break;
  }
  // Under way. The record may have been lost (a status write that failed): made whole again.
  RotationRecord record = previous;
  if (record.phase != kRotationStarted && record.phase != kRotationRollingOut) {
    record = {.requested = requested.value_or(previous.requested),
              .phase = std::string(kRotationStarted),
              .startedAt = now};
  }
  pass.rotation = record;
  pass.waiting = true;  // the app's rollout is looked at again soon
  if (record.phase != kRotationRollingOut) return true;  // stepRotationLive adds the new password
  std::vector<Json> pods;
  if (pass.gathered.deployment) {
    const std::string selector = podSelector(*pass.gathered.deployment);
    if (!selector.empty()) {
      auto listed =
          live_.list(kube::resources::kPods, pass.store.metadata.ns, {.labelSelector = selector});
      if (!listed) {
        pass.rotation->message = "cannot list the app's pods: " + describe(listed.error());
        return true;
      }
      pods = std::move(listed->items);
    }
  }
  const RolloutCheck check =
      checkAppRolledOut(pass.gathered.ownedObject("Secret " + api::secretName(pass.store)).object,
                        pass.passwords->app, pass.gathered.deployment, pods);
  if (!check.done) {
    pass.rotation->message = "waiting for " + check.waitingFor;
    return true;
  }
  auto removed = changeAppPassword(pass, /*add=*/false, pass.passwords->previousApp);
  if (!removed) {
    pass.rotation->message = "the app runs with the new password; removing the old one failed";
    failed("cannot remove the old app password from Redis, will try again: " + removed.error());
    return true;
  }
  // Redis refuses the old password now; the Secret drops it here, users.acl in stepManagedStore.
  pass.passwords->previousApp.clear();
  if (!writeAuthSecret(pass, applier)) return false;
  pass.rotation->phase = std::string(kRotationCompleted);
  pass.rotation->completedAt = now;
  pass.rotation->message.clear();
  pass.log.info("password rotation completed", {});
  event(pass, {.type = events::EventType::kNormal,
               .reason = "RotationCompleted",
               .action = "RotatePassword",
               .note = "every pod of the app runs with the new app password; Redis refuses the "
                       "old one"});
  return true;
}

void Reconciler::stepRotationLive(Pass& pass) {
  if (!pass.passwords || pass.passwords->previousApp.empty() || !pass.rotation) return;
  // Redis accepts the new password before the app is given it. Repeated on every pass of the
  // rotation (adding a password Redis has is no change).
  const auto added = changeAppPassword(pass, /*add=*/true, pass.passwords->app);
  if (added) {
    if (pass.rotation->phase == kRotationStarted) {
      pass.rotation->phase = std::string(kRotationRollingOut);
      pass.rotation->message = "Redis accepts both passwords; the app rolls to the new one";
    }
  } else if (pass.rotation->phase != kRotationRollingOut) {
    // Not accepted yet: the app keeps the old password (Redis still accepts it).
    pass.rotation->message = "waiting for Redis to accept the new password";
    if (pass.endpoints) pass.endpoints->app.password = pass.passwords->previousApp;
    pass.log.warn("password rotation held up", {{"error", added.error()}});
    event(pass,
          {.type = events::EventType::kWarning,
           .reason = "RotationFailed",
           .action = "RotatePassword",
           .note = "cannot add the new app password to Redis, will try again: " + added.error()});
  }
}

void Reconciler::stepTarget(Pass& pass) {
  // One SessionStore per target: the first keeps it, a second touches nothing of it.
  if (pass.gathered.service) {
    pass.serviceHolder =
        targetHolder(pass.store, "service", *pass.gathered.service, pass.gathered.serviceClaimants);
  }
  if (pass.gathered.deployment) {
    pass.deploymentHolder = targetHolder(pass.store, "deployment", *pass.gathered.deployment,
                                         pass.gathered.deploymentClaimants);
    if (pass.deploymentHolder) {
      pass.wiredCondition = targetClaimed(pass.store, "deployment", *pass.deploymentHolder);
      pass.workersCondition = pass.wiredCondition;
      pass.workersCondition.type = std::string(api::kConditionWorkersSized);
      pass.needsUser = true;
    }
    return;
  }
  // The store is provisioned anyway, so it is ready when the app comes.
  auto conditions = targetMissing(pass.store);
  pass.wiredCondition = std::move(conditions.wired);
  pass.workersCondition = std::move(conditions.workers);
  pass.waiting = true;
}

// The CA bundle every pod of the app runs with (decideManagedTls): the connection Secret's
// ca.crt once the target Deployment's rollout to that connection is complete; "" while it is not
// (or the Secret was not read); nullopt when no pod depends on the store (no target Deployment,
// or one the operator has not wired).
std::optional<std::string> Reconciler::appCaBundle(const Pass& pass) const {
  if (!pass.gathered.deployment) return std::nullopt;
  const Json* annotations =
      at(*pass.gathered.deployment, {"spec", "template", "metadata", "annotations"});
  if (annotations == nullptr || !annotations->is_object() ||
      !annotations->contains(identity::kConnectionHashAnnotation)) {
    return std::nullopt;
  }
  const Observed& connection =
      pass.gathered.ownedObject("Secret " + api::secretName(pass.store));
  if (!connection.object ||
      !wiring::rolledOutWith(*pass.gathered.deployment, wiring::connectionHash(*connection.object))) {
    return std::string();
  }
  const Json* data = at(*connection.object, {"data"});
  if (data == nullptr || !data->is_object() || !data->contains(wiring::kCaSecretKey) ||
      !(*data)[std::string(wiring::kCaSecretKey)].is_string()) {
    return std::string();
  }
  auto decoded =
      crypto::base64Decode((*data)[std::string(wiring::kCaSecretKey)].get<std::string>());
  return decoded ? *decoded : std::string();
}

bool Reconciler::stepManagedTls(Pass& pass, const Applier& applier) {
  if (!pass.passwords || !pass.store.spec.store.managed.tls.enabled) return true;
  const auto now = clock_.wallNow();
  auto decision = decideManagedTls(pass.store, pass.gathered.tlsSecret, pass.gathered.tlsCaSecret,
                                   now, options_.certificateLifetime, appCaBundle(pass));
  if (decision.certificate) {
    const Written written = applier.ensureOwned(
        *decision.certificate, pass.gathered.ownedObject(describeObject(*decision.certificate)));
    if (written.error && written.error->kind == ErrorKind::kNotFound) {
      // The Certificate resource is not served: cert-manager is not installed.
      pass.storeCondition = {
          .type = std::string(api::kConditionStoreReady),
          .ok = false,
          .reason = std::string(api::kReasonCertManagerMissing),
          .message =
              "spec.store.managed.tls.issuerRef names a cert-manager issuer, but this "
              "cluster does not serve certificates.cert-manager.io/v1: install "
              "cert-manager, or remove issuerRef to have the operator's own CA issue the "
              "certificate"};
      pass.needsUser = true;
      pass.waiting = true;
      return true;
    }
    if (!recordStoreObject(pass, written)) return written.kind != Written::Kind::kFailed;
  }
  // The CA and certificate Secrets are made whole from new keys (Applier::writeSecret).
  const auto put = [&](const Json& desired, const Observed& observed,
                       const std::string& why) -> std::optional<Json> {
    const std::string what = describeObject(desired) + " (" + why + ")";
    kube::Result<Json> written = applier.writeSecret(desired, observed);
    if (!written) {
      pass.apiError = written.error();
      return std::nullopt;
    }
    record(pass, {.kind = observed.object ? Written::Kind::kUpdated : Written::Kind::kCreated,
                  .what = what});
    return std::move(*written);
  };
  if (decision.newCa) {
    auto ca = crypto::makeCertificateAuthority(
        managedstore::serviceName(pass.store) + "." + pass.store.metadata.ns + " CA", now,
        now + managedstore::kCaLifetime);
    if (!ca) {
      pass.apiError = kube::Error{.kind = ErrorKind::kInternal,
                                  .message = "cannot make the store's CA: " + ca.error()};
      return false;
    }
    if (!put(managedstore::caSecret(pass.store, *ca, decision.previousCaPem),
             pass.gathered.tlsCaSecret, *decision.newCa)) {
      return false;
    }
    decision.ca = std::move(*ca);
    decision.caPem = managedstore::trustBundle(decision.ca->certificatePem, decision.previousCaPem);
  } else if (decision.dropPreviousCa && decision.ca) {
    pass.caToDropPreviousOf = decision.ca;  // stepDropPreviousCa, after the probe
  }
  if (decision.issue && decision.ca) {
    auto server =
        crypto::issueServerCertificate(*decision.ca, managedstore::serverDnsNames(pass.store), now,
                                       now + options_.certificateLifetime);
    if (!server) {
      pass.apiError =
          kube::Error{.kind = ErrorKind::kInternal,
                      .message = "cannot issue the store's certificate: " + server.error()};
      return false;
    }
    if (!put(managedstore::tlsSecret(pass.store, *server, decision.caPem), pass.gathered.tlsSecret,
             "new certificate: " + *decision.issue)) {
      return false;
    }
    const auto info = crypto::readCertificate(server->certificatePem);
    if (info) {
      decision.certificateSha256 = info->sha256;
      decision.renewAt = managedstore::renewalTime(*info);
    }
  }
  if (decision.problem) {
    pass.storeCondition = std::move(*decision.problem);
    pass.waiting = true;  // cert-manager writes the Secret on its own
    return true;
  }
  pass.tlsCaPem = decision.caPem;
  pass.tlsCertificateSha256 = decision.certificateSha256;
  pass.renewAt = decision.renewAt;
  return true;
}

void Reconciler::stepMemory(Pass& pass) {
  if (!pass.store.spec.store.managed.memory || !pass.passwords) return;
  const Json previous = pass.raw.contains("status") ? pass.raw["status"] : Json::object();
  // With TLS, over TLS: a TLS-only Redis answers nothing else.
  const auto monitor = monitorOf(pass);
  const auto configMap =
      pass.gathered.ownedObject("ConfigMap " + managedstore::configMapName(pass.store));
  std::optional<health::MemoryReading> reading;
  // A fresh store's Redis is not there yet.
  if (options_.memory != nullptr && !pass.fresh && monitor) {
    auto read = options_.memory->read(*monitor);
    if (read) {
      reading = *read;
    } else {
      pass.log.debug("cannot read the store's memory", {{"error", read.error()}});
    }
  }
  auto decision = decideMemory(pass.store, reading, previous, configMap, clock_.wallNow());
  if (decision.setLive && options_.memory != nullptr && monitor) {
    if (auto set = options_.memory->setMaxMemory(*monitor, *decision.setLive); !set) {
      // Nothing is raised (not even redis.conf): the level stays, and the window starts again.
      pass.log.warn("cannot set maxmemory, will try again",
                    {{"maxmemory", std::to_string(*decision.setLive)}, {"error", set.error()}});
      event(pass, {.type = events::EventType::kWarning,
                   .reason = "MemoryRaiseFailed",
                   .action = "Resize",
                   .note = "CONFIG SET maxmemory " + std::to_string(*decision.setLive) +
                           " failed: " + set.error()});
      decision = decideMemory(pass.store, std::nullopt, previous, configMap, clock_.wallNow());
      decision.lookAgainIn =
          std::min<clock::Duration>(decision.lookAgainIn, std::chrono::seconds(5));
    } else if (managedstore::replicated(pass.store)) {
      setMaxMemoryOnEveryPod(pass, *decision.setLive);
    }
  }
  if (decision.raised) {
    pass.log.info("maxmemory raised", {{"from", std::to_string(decision.from)},
                                       {"to", std::to_string(decision.level)}});
  }
  // Told now: the change is live in Redis whatever happens to the rest of the pass.
  for (const Event& told : decision.events) event(pass, told);
  decision.events.clear();
  pass.memory = std::move(decision);
}

// The primary (through the Service) has the new maxmemory; each pod gets it too, so that a replica
// promoted later serves as much as the primary did (a replica ignores maxmemory while it is one:
// replica-ignore-maxmemory). A pod that does not answer now has it from redis.conf when it starts
// again, and if it is promoted before that, the next look at the primary's memory sets it back
// (MemoryRestored): told as a Warning, not retried here.
void Reconciler::setMaxMemoryOnEveryPod(Pass& pass, std::int64_t bytes) {
  std::vector<std::string> missed;
  for (const auto& [pod, endpoint] : podEndpoints(pass)) {
    if (auto set = options_.memory->setMaxMemory(endpoint, bytes); !set) {
      pass.log.warn("cannot set maxmemory on a pod", {{"pod", pod}, {"error", set.error()}});
      missed.push_back(pod + " (" + set.error() + ")");
    }
  }
  if (missed.empty()) return;
  std::string pods;
  for (const auto& one : missed) pods += (pods.empty() ? "" : ", ") + one;
  event(pass, {.type = events::EventType::kWarning,
               .reason = "MemoryRaisePartial",
               .action = "Resize",
               .note = "maxmemory " + std::to_string(bytes) + " set on the primary but not on " +
                       pods + ": each has it from redis.conf at its next start, and is set to it " +
                       "if promoted before"});
}

void Reconciler::stepResize(Pass& pass, const Applier& applier) {
  if (!pass.memory) return;
  // The running pod's limit follows at once, in place; the StatefulSet (OnDelete) already has it
  // for the next pod. A cluster without in-place resize (or no pod yet) leaves it to that pod.
  if (!pass.memory->raised) return;
  const std::string limit =
      managedstore::derivedMemoryLimit(quantity::Quantity::fromInt64(pass.memory->level))
          .toString();
  for (int ordinal = 0; ordinal < pass.store.spec.store.managed.replicas; ++ordinal) {
    const std::string pod = managedstore::podName(pass.store, ordinal);
    auto resized = applier.resizeMemoryLimit(pod, std::string(managedstore::kContainerName), limit);
    if (resized) {
      event(pass, {.type = events::EventType::kNormal,
                   .reason = "MemoryLimitResized",
                   .action = "Resize",
                   .note = "pod " + pod + " resized in place to a memory limit of " + limit +
                           " (no restart); the StatefulSet has it for the next pod"});
    } else {
      event(pass,
            {.type = events::EventType::kNormal,
             .reason = "MemoryLimitOnNextPod",
             .action = "Resize",
             .note = "pod " + pod + " not resized in place (" + describe(resized.error()) +
                     "): its next start has the memory limit " + limit + " from the StatefulSet"});
      pass.log.info("cannot resize the Redis pod in place",
                    {{"pod", pod}, {"error", describe(resized.error())}});
    }
  }
}

bool Reconciler::stepReplicationPassword(Pass& pass, const Applier& applier) {
  // A store that has, or is given, replicas: the replication user's password joins the others in
  // the password Secret (once; kept after).
  if (!pass.passwords || !managedstore::replicated(pass.store) ||
      !pass.passwords->replication.empty()) {
    return true;
  }
  auto generated = managedstore::generatePassword(random_);
  if (!generated) {
    pass.apiError = kube::Error{.kind = ErrorKind::kInternal,
                                .message = "cannot generate a password: " + generated.error()};
    return false;
  }
  managedstore::Passwords passwords = *pass.passwords;
  passwords.replication = std::move(*generated);
  // A fresh store's Secret was just created, not read: read now, so the key is added to it.
  Observed secret = pass.gathered.passwordSecret;
  if (!secret.object) {
    auto read = readObserved(client_, kube::resources::kSecrets, pass.store.metadata.ns,
                             managedstore::authSecretName(pass.store));
    if (!read) {
      pass.apiError = read.error();
      return false;
    }
    secret = std::move(*read);
  }
  auto written = applier.writeSecret(managedstore::authSecret(pass.store, passwords), secret);
  if (!written) {
    pass.apiError = written.error();
    return false;
  }
  pass.passwords = std::move(passwords);
  record(pass, {.kind = Written::Kind::kUpdated,
                .what = "Secret " + managedstore::authSecretName(pass.store) +
                        " (replication password added)"});
  return true;
}

// The pods' own labels (the managed-by label with the selector's): the pod informer's scope, so
// that a list with resourceVersion "0" is answered from its cache with no request.
std::string Reconciler::storePodSelector(const Pass& pass) {
  std::string selector;
  for (const auto& [key, value] : managedstore::managedLabels(pass.store)) {
    selector += (selector.empty() ? "" : ",") + key + "=" + value;
  }
  return selector;
}

void Reconciler::stepHoldScaleDown(Pass& pass) {
  if (options_.replication == nullptr) return;
  const int wanted = pass.store.spec.store.managed.replicas;
  const Observed& observed =
      pass.gathered.ownedObject("StatefulSet " + managedstore::statefulSetName(pass.store));
  if (!observed.object) return;
  const auto current = integerAt(*observed.object, {"spec", "replicas"});
  // Only a replicated StatefulSet has a primary to hand over.
  if (!current || *current <= wanted || *current <= 1) return;
  const auto hold = [&](const std::string& why) {
    pass.scaleDownTo = wanted;
    pass.store.spec.store.managed.replicas = static_cast<int>(*current);
    pass.replicasStale = true;
    pass.log.info(
        "scale down held",
        {{"from", std::to_string(*current)}, {"to", std::to_string(wanted)}, {"why", why}});
  };
  auto listed = client_.list(kube::resources::kPods, pass.store.metadata.ns,
                             {.labelSelector = storePodSelector(pass)});
  if (!listed) {
    // Where the primary is cannot be told: the pods stay until it can.
    hold("cannot list the store's pods: " + describe(listed.error()));
    return;
  }
  std::vector<managedstore::PodObservation> pods;
  for (const Json& object : listed->items) {
    if (auto pod = managedstore::observePod(object, managedstore::statefulSetName(pass.store))) {
      pods.push_back(std::move(*pod));
    }
  }
  if (managedstore::holdScaleDown(pods, wanted)) {
    hold("the primary is on a pod that would go, or several pods are labelled primary");
  }
}

bool Reconciler::runReplicationActions(
    Pass& pass, const std::vector<managedstore::FailoverAction>& actions,
    const std::map<std::string, wiring::StoreEndpoint>& endpoints, const std::string& primary,
    const std::string& failedReason) {
  using Type = managedstore::FailoverAction::Type;
  for (const auto& action : actions) {
    const auto& endpoint = endpoints.at(action.pod);
    std::string failed;
    switch (action.type) {
      case Type::kRemovePrimaryLabel:
      case Type::kAddPrimaryLabel: {
        const bool add = action.type == Type::kAddPrimaryLabel;
        if (auto patched = labelPrimary(pass, action.pod, add); !patched) {
          failed = describe(patched.error());
        }
        break;
      }
      case Type::kPromote:
        if (auto done = options_.replication->promote(endpoint); !done) failed = done.error();
        break;
      case Type::kReplicaOf:
        if (auto done = options_.replication->replicaOf(endpoint, action.host, action.port);
            !done) {
          failed = done.error();
        }
        break;
    }
    if (!failed.empty()) {
      // The rest waits for the next pass, which decides again from what it sees then: no step
      // that depends on this one runs (no pod labelled while another may still be).
      pass.log.warn("a replication step failed, will retry",
                    {{"pod", action.pod}, {"error", failed}});
      event(pass, {.type = events::EventType::kWarning,
                   .reason = failedReason,
                   .action = "Failover",
                   .note = "pod " + action.pod + ": " + failed});
      pass.replicasStale = true;
      pass.primary.reset();
      return false;
    }
    if (action.type == Type::kReplicaOf) {
      pass.log.info("replica pointed at the primary", {{"pod", action.pod}, {"primary", primary}});
    }
  }
  return true;
}

kube::Result<Json> Reconciler::labelPrimary(const Pass& pass, const std::string& pod, bool add) {
  const Json patch = {
      {"metadata",
       {{"labels", {{identity::kRoleLabel, add ? Json(identity::kRolePrimary) : Json(nullptr)}}}}}};
  return client_.patch(kube::resources::kPods, pass.store.metadata.ns, pod, kube::PatchType::kMerge,
                       patch, {.fieldManager = std::string(identity::kFieldManager)});
}

wiring::StoreEndpoint Reconciler::podEndpoint(const Pass& pass, const std::string& pod) const {
  const wiring::StoreEndpoint& monitor = *pass.endpoints->monitor;
  wiring::StoreEndpoint endpoint = monitor;
  endpoint.host = pod + "." + managedstore::headlessServiceName(pass.store) + "." +
                  pass.store.metadata.ns + ".svc";
  // The certificate names the client Service: verified against that name.
  if (endpoint.tls && endpoint.tlsServerName.empty()) endpoint.tlsServerName = monitor.host;
  return endpoint;
}

void Reconciler::stepFailover(Pass& pass) {
  if (!managedstore::replicated(pass.store) || options_.replication == nullptr ||
      !pass.passwords || !pass.endpoints || !pass.endpoints->monitor) {
    return;
  }
  if (const Json* last = at(pass.raw, {"status", "store", "lastFailover"})) {
    pass.lastFailover = *last;
  }
  bool settled = false;
  {
    std::lock_guard lock(waitMu_);
    settled = replicasSettled_.erase(pass.key) > 0;
  }
  auto listed = client_.list(kube::resources::kPods, pass.store.metadata.ns,
                             {.labelSelector = storePodSelector(pass),
                              .resourceVersion = settled ? "0" : ""});
  if (!listed) {
    pass.log.info("cannot list the store's pods, will retry", {{"error", describe(listed.error())}});
    pass.replicasStale = true;
    return;
  }
  // Each pod as the others reach it (its stable name through the headless Service), and as the
  // operator reads it there with the monitor's credentials.
  std::vector<managedstore::PodObservation> pods;
  std::map<std::string, wiring::StoreEndpoint> endpoints;
  for (const Json& object : listed->items) {
    auto pod = managedstore::observePod(object, managedstore::statefulSetName(pass.store));
    if (!pod) continue;
    wiring::StoreEndpoint endpoint = podEndpoint(pass, pod->name);
    std::tie(pod->host, pod->port) =
        options_.replication->peerAddress(endpoint.host, managedstore::kPort);
    // The StatefulSet (as this pass wrote it) is removing it.
    pod->leaving = pod->ordinal >= pass.store.spec.store.managed.replicas;
    endpoints[pod->name] = std::move(endpoint);
    pods.push_back(std::move(*pod));
  }
  // The labelled primary is read after the others: a replica whose offset then equals the
  // primary's had everything the primary had taken by the time it was read (decideSwitchover).
  for (const bool labelledLast : {false, true}) {
    for (auto& pod : pods) {
      if (pod.labelledPrimary != labelledLast) continue;
      if (auto info = options_.replication->info(endpoints.at(pod.name))) {
        pod.replication = managedstore::parseReplicationInfo(*info);
      } else {
        pass.log.debug("a store pod did not answer", {{"pod", pod.name}, {"error", info.error()}});
      }
    }
  }
  const auto decision = managedstore::decideFailover(pods);
  const auto now = clock_.wallNow();
  std::optional<PrimaryLoss> loss;
  bool started = false;
  {
    std::lock_guard lock(waitMu_);
    if (decision.primaryLost && !primaryLosses_.contains(pass.key)) {
      for (const auto& pod : pods) {
        if (pod.labelledPrimary) primaryLosses_[pass.key] = {.from = pod.name, .since = now};
      }
      if (decision.failedFrom) primaryLosses_[pass.key] = {.from = *decision.failedFrom, .since = now};
      started = primaryLosses_.contains(pass.key);
    } else if (!decision.primaryLost && !decision.promotes && decision.primary) {
      primaryLosses_.erase(pass.key);  // the labelled primary serves again by itself
    }
    if (const auto it = primaryLosses_.find(pass.key); it != primaryLosses_.end()) loss = it->second;
  }
  if (started) {
    event(pass, {.type = events::EventType::kWarning,
                 .reason = "FailoverStarted",
                 .action = "Failover",
                 .note = "primary " + loss->from + " is lost (not Ready, or not answering as a " +
                         "master)" + (decision.promotes ? "" : "; no Ready replica answers yet")});
    pass.log.warn("primary lost", {{"pod", loss->from}});
  }
  if (decision.primaryLost) pass.replicasStale = true;
  if (!runReplicationActions(pass, decision.actions, endpoints, decision.primary.value_or(""),
                             "FailoverStepFailed")) {
    return;
  }
  // Converged: one primary serving, every pod there, Ready and following it. The next look may
  // use the cache, and comes later (the health monitor's kept connection and the pod watch tell
  // of a loss at once).
  // (A held scale down is not settled: its switchover moves the label in this pass.)
  pass.replicasSettled =
      !pass.scaleDownTo && decision.actions.empty() && decision.primary &&
      !decision.primaryLost && !loss &&
      static_cast<int>(pods.size()) == pass.store.spec.store.managed.replicas &&
      std::all_of(pods.begin(), pods.end(), [](const managedstore::PodObservation& pod) {
        return pod.ready && pod.replication.has_value();
      });
  if (pass.replicasSettled) {
    std::lock_guard lock(waitMu_);
    replicasSettled_.insert(pass.key);
  }
  pass.primary = decision.primary;
  if (!decision.promotes) {
    // Settled: a scale down held back for the primary may move it now.
    if (pass.scaleDownTo && decision.actions.empty()) stepSwitchover(pass, pods, endpoints);
    return;
  }
  pass.replicasStale = true;  // the next pass soon: the replicas follow, the Service moves
  const std::string to = *decision.primary;
  if (loss) {
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - loss->since).count() +
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wallNow() - now).count();
    pass.lastFailover = Json{{"from", loss->from},
                             {"to", to},
                             {"at", clock::formatTime(clock_.wallNow())},
                             {"durationMs", took}};
    event(pass, {.type = events::EventType::kNormal,
                 .reason = "FailoverCompleted",
                 .action = "Failover",
                 .note = "primary moved from " + loss->from + " to " + to + " in " +
                         std::to_string(took) + " ms"});
    pass.log.info("failover completed",
                  {{"from", loss->from}, {"to", to}, {"durationMs", std::to_string(took)}});
  } else {
    event(pass, {.type = events::EventType::kNormal,
                 .reason = "PrimaryElected",
                 .action = "Failover",
                 .note = "pod " + to + " is the primary"});
    pass.log.info("primary elected", {{"pod", to}});
  }
  std::lock_guard lock(waitMu_);
  primaryLosses_.erase(pass.key);
}

void Reconciler::stepSwitchover(Pass& pass, const std::vector<managedstore::PodObservation>& pods,
                                const std::map<std::string, wiring::StoreEndpoint>& endpoints) {
  const int wanted = *pass.scaleDownTo;
  const auto decision = managedstore::decideSwitchover(pods, wanted);
  const std::string count = std::to_string(wanted) + (wanted == 1 ? " pod" : " pods");
  if (!decision.waiting.empty()) {
    // No numbers in the note: the same wait is one Event, counted, not one per pass.
    event(pass, {.type = events::EventType::kNormal,
                 .reason = "ScaleDownWaiting",
                 .action = "Switchover",
                 .note = "the StatefulSet keeps its pods before going down to " + count + ": " +
                         decision.waiting});
    pass.log.info("switchover waits", {{"why", decision.waiting}});
    return;
  }
  if (!decision.to) return;
  if (!runReplicationActions(pass, decision.actions, endpoints, *decision.to,
                             "SwitchoverStepFailed")) {
    return;
  }
  pass.primary = decision.to;
  event(pass, {.type = events::EventType::kNormal,
               .reason = "Switchover",
               .action = "Switchover",
               .note = "primary moved from " + decision.from.value_or("") + " to " + *decision.to +
                       ", caught up, before the StatefulSet goes down to " + count + "; " +
                       *decision.to + " is the primary now"});
  pass.log.info("switchover completed",
                {{"from", decision.from.value_or("")}, {"to", *decision.to}});
}

void Reconciler::stepSinglePod(Pass& pass) {
  // A store that had replicas (its Secret keeps the replication password) and runs one pod now:
  // that pod is the store, a master, and nothing carries the primary label any more (the client
  // Service of a one-pod store selects without it), as if the store had been made with one pod.
  if (managedstore::replicated(pass.store) || options_.replication == nullptr || !pass.passwords ||
      pass.passwords->replication.empty() || !pass.endpoints || !pass.endpoints->monitor) {
    return;
  }
  const std::string pod0 = managedstore::podName(pass.store, 0);
  // Pod 0 started as a replica (of the client Service, which now selects pod 0 itself), or was
  // left one: a replica of nothing refuses every write. Its data is kept (REPLICAOF NO ONE).
  if (auto info = options_.replication->info(podEndpoint(pass, pod0))) {
    const auto replication = managedstore::parseReplicationInfo(*info);
    if (replication && replication->role == managedstore::ReplicationInfo::Role::kReplica) {
      if (auto done = options_.replication->promote(podEndpoint(pass, pod0)); !done) {
        pass.log.warn("cannot make the only pod a master, will retry",
                      {{"pod", pod0}, {"error", done.error()}});
        event(pass, {.type = events::EventType::kWarning,
                     .reason = "SwitchoverStepFailed",
                     .action = "Switchover",
                     .note = "pod " + pod0 + ": " + done.error()});
        pass.waiting = true;
        return;
      }
      event(pass, {.type = events::EventType::kNormal,
                   .reason = "Switchover",
                   .action = "Switchover",
                   .note = "pod " + pod0 + " is the store's only pod and its primary now"});
      pass.log.info("the only pod made a master", {{"pod", pod0}});
    }
  }
  auto listed = client_.list(kube::resources::kPods, pass.store.metadata.ns,
                             {.labelSelector = storePodSelector(pass)});
  if (!listed) {
    pass.log.info("cannot list the store's pods, will retry",
                  {{"error", describe(listed.error())}});
    pass.waiting = true;
    return;
  }
  for (const Json& object : listed->items) {
    const auto pod = managedstore::observePod(object, managedstore::statefulSetName(pass.store));
    if (!pod || !pod->labelledPrimary) continue;
    if (auto patched = labelPrimary(pass, pod->name, false); !patched) {
      pass.log.info("cannot remove the primary label, will retry",
                    {{"pod", pod->name}, {"error", describe(patched.error())}});
      pass.waiting = true;
      return;
    }
    pass.log.info("primary label removed: the store runs one pod", {{"pod", pod->name}});
  }
}

bool Reconciler::stepManagedStore(Pass& pass, const Applier& applier) {
  if (!pass.passwords) return true;  // stepPasswords said why
  std::optional<std::int64_t> level;
  if (pass.memory) level = pass.memory->level;
  auto decision = decideStoreObjects(pass.store, *pass.passwords, pass.gathered.deployment,
                                     options_.operatorNamespace, level);
  if (decision.problem) {
    pass.storeCondition = std::move(*decision.problem);
    pass.needsUser = true;
    return true;
  }
  // All side by side, but the StatefulSet: it is made once what it mounts and the Service that
  // governs it are known to be this store's (a StatefulSet would otherwise mount a ConfigMap
  // that is not), and once the finalizer is in place (its pods keep data). A fresh store's
  // first objects are on their way already (ensureOwnedAfterEarly).
  auto start = [this, &pass, &applier](const std::vector<Json>& objects) {
    std::vector<std::future<Written>> writing;
    for (const Json& object : objects) {
      writing.push_back(std::async(std::launch::async, [this, &pass, &applier, &object] {
        return ensureOwnedAfterEarly(pass, applier, object);
      }));
    }
    return writing;
  };
  std::vector<std::future<Written>> beside = start(decision.beside);
  std::vector<std::future<Written>> mounted = start(decision.mounted);
  bool blocked = false;
  auto takeIn = [&](Written written) {
    blocked = !recordStoreObject(pass, written) || blocked;
    if (written.what.starts_with("StatefulSet ") && !written.object.is_null()) {
      pass.statefulSet = written.object;
    }
  };
  for (auto& writing : mounted) takeIn(writing.get());
  if (decision.statefulSet && !blocked && !pass.apiError && awaitFinalizer(pass)) {
    takeIn(ensureOwnedAfterEarly(pass, applier, *decision.statefulSet));
  }
  for (auto& writing : beside) takeIn(writing.get());
  if (pass.apiError || pass.finalizerFailed) return false;
  if (blocked) return true;
  if (!removeStaleBudget(pass)) return false;
  if (pass.store.spec.store.managed.tls.enabled) {
    if (pass.tlsCaPem.empty()) return true;  // stepManagedTls said why
    pass.endpoints = managedEndpoints(pass.store, *pass.passwords);
    useManagedTls(*pass.endpoints, pass.tlsCaPem, pass.tlsCertificateSha256);
    return true;
  }
  pass.endpoints = managedEndpoints(pass.store, *pass.passwords);
  return true;
}

bool Reconciler::removeStaleBudget(Pass& pass) {
  // A one-pod store has no budget (managedstore::podDisruptionBudget): one left from its
  // replicated days would refuse every eviction of its only pod, and block the node's drain.
  if (managedstore::replicated(pass.store)) return true;
  const std::string name = managedstore::podDisruptionBudgetName(pass.store);
  const Observed& budget = pass.gathered.ownedObject("PodDisruptionBudget " + name);
  if (!budget.object || !controlledBy(*budget.object, pass.store.metadata.uid)) return true;
  auto removed =
      client_.remove(kube::resources::kPodDisruptionBudgets, pass.store.metadata.ns, name);
  if (!removed && removed.error().kind != ErrorKind::kNotFound) {
    pass.apiError = removed.error();
    return false;
  }
  event(pass, {.type = events::EventType::kNormal,
               .reason = "Deleted",
               .action = "Delete",
               .note = "deleted PodDisruptionBudget " + name + ": the store runs one pod"});
  pass.log.info("deleted", {{"object", "PodDisruptionBudget " + name}});
  return true;
}

void Reconciler::stepExternalStore(Pass& pass) {
  auto decision = decideExternalStore(pass.store, pass.gathered.urlSecret, pass.gathered.caSecret);
  if (decision.problem) {
    pass.storeCondition = std::move(*decision.problem);
    pass.waiting = true;  // the fix is in a Secret, which is not watched: look again soon
    return;
  }
  pass.endpoints = StoreEndpoints{.app = std::move(*decision.endpoint)};
}

void Reconciler::stepProbe(Pass& pass) {
  if (!pass.endpoints) {
    health_.forget(pass.key);  // nothing to watch until its objects or URL are in place again
    return;
  }
  pass.probe = gatherHealth(health_, pass.key, pass.endpoints->app, pass.endpoints->monitor);
  // The wiring of a Deployment another store keeps is not this store's.
  pass.storeCondition = decideStoreReady(
      pass.store, *pass.probe, pass.deploymentHolder ? std::nullopt : pass.gathered.deployment,
      pass.statefulSet);
  if (!pass.probe->ok) pass.waiting = true;
}

// A replaced CA stops being trusted once a handshake shows the store serves the certificate
// from the new one: until the kubelet has updated the mounted files and Redis has loaded them it
// still serves the old certificate, which the app verifies with the previous CA. The connection
// Secret loses it at the next pass, which comes at once.
bool Reconciler::stepDropPreviousCa(Pass& pass, const Applier& applier) {
  if (!pass.caToDropPreviousOf) return true;
  const auto now = clock_.wallNow();
  const auto soon = [&](std::chrono::seconds in) {
    pass.renewAt = pass.renewAt ? std::min(*pass.renewAt, now + in) : now + in;
  };
  if (!pass.probe || pass.tlsCertificateSha256.empty() ||
      pass.probe->servedCertificateSha256 != pass.tlsCertificateSha256) {
    soon(std::chrono::seconds(5));  // not served yet: look again
    return true;
  }
  const Json desired = managedstore::caSecret(pass.store, *pass.caToDropPreviousOf);
  kube::Result<Json> written = applier.writeSecret(desired, pass.gathered.tlsCaSecret);
  if (!written) {
    pass.apiError = written.error();
    return false;
  }
  record(pass, {.kind = Written::Kind::kUpdated,
                .what = describeObject(desired) +
                        " (the previous CA signs no certificate the store serves)"});
  soon(std::chrono::seconds(1));
  return true;
}

bool Reconciler::stepWire(Pass& pass, const Applier& applier) {
  if (!pass.gathered.deployment || pass.deploymentHolder) return true;  // stepTarget said why
  std::optional<wiring::StoreEndpoint> endpoint;
  if (pass.endpoints) endpoint = pass.endpoints->app;
  const wiring::ReplicasBound bound = decideReplicasBound(
      pass.store, pass.gathered.horizontalPodAutoscalers, pass.gathered.scaledObjects);
  auto decision = decideWiring(pass.store, endpoint, *pass.gathered.deployment, pass.probe,
                               pass.storeCondition.reason, bound);
  pass.needsUser = pass.needsUser || decision.needsUser;
  if (!decision.wiring) {
    pass.wired = decision.isWired;
    pass.wiredCondition = std::move(decision.wired);
    pass.workersCondition = std::move(decision.workers);
    return true;
  }
  const Json& secret = decision.wiring->connectionSecret;
  const Written written =
      applier.ensureOwned(secret, pass.gathered.ownedObject(describeObject(secret)));
  if (!record(pass, written)) {
    if (written.kind == Written::Kind::kFailed) return false;
    pass.wiredCondition = connectionSecretTaken(pass.store);
    pass.needsUser = true;
    return true;
  }
  if (decision.applyDeployment) {
    auto applied = applier.applyTo(kube::resources::kDeployments, decision.wiring->deploymentApply);
    if (!applied) {
      if (applied.error().transient() || applied.error().kind == ErrorKind::kConflict) {
        pass.apiError = applied.error();
        return false;
      }
      auto [condition, warning] = deploymentRefused(pass.store, applied.error());
      pass.wiredCondition = std::move(condition);
      pass.needsUser = true;
      event(pass, warning);
      return true;
    }
    pass.gathered.deployment = std::move(*applied);
    event(pass, decision.wiredEvent);
    pass.log.info("wired", {{"deployment", pass.store.spec.target.deployment}});
  }
  pass.wired = decision.isWired;
  pass.wiredCondition = std::move(decision.wired);
  pass.workersCondition = std::move(decision.workers);
  pass.workers = decision.workerCount;
  pass.poolSize = decision.poolSize;
  return true;
}

bool Reconciler::stepAffinity(Pass& pass, const Applier& applier) {
  if (pass.serviceHolder) {
    pass.affinityCondition = targetClaimed(pass.store, "service", *pass.serviceHolder);
    return true;
  }
  auto decision = decideAffinity(pass.store, pass.gathered.service, pass.probe && pass.probe->ok);
  if (decision.waiting) pass.waiting = true;
  if (decision.apply) {
    auto applied = applier.applyTo(kube::resources::kServices, *decision.apply);
    if (!applied) {
      pass.apiError = applied.error();
      return false;
    }
    pass.gathered.service = std::move(*applied);
    event(pass, decision.appliedEvent);
  }
  pass.affinityCondition = std::move(decision.condition);
  return true;
}

bool Reconciler::stepStatus(Pass& pass, const Applier& applier) {
  Observation observation{.generation = pass.store.metadata.generation,
                          .targetMissing = !pass.gathered.deployment,
                          .storeReady = pass.probe && pass.probe->ok,
                          .wired = pass.wired,
                          .conditions = {pass.storeCondition, pass.wiredCondition,
                                         pass.workersCondition, pass.affinityCondition}};
  if (pass.endpoints) {
    observation.endpoint =
        pass.endpoints->app.host + ":" + std::to_string(pass.endpoints->app.port);
  }
  if (pass.probe) {
    observation.connectedClients = pass.probe->connectedClients;
    observation.usedMemoryBytes = pass.probe->usedMemoryBytes;
  }
  if (const auto& deployment = pass.gathered.deployment) {
    observation.replicas = integerAt(*deployment, {"status", "replicas"});
    if (!observation.replicas) observation.replicas = integerAt(*deployment, {"spec", "replicas"});
  }
  observation.workers = pass.workers;
  observation.poolSize = pass.poolSize;
  if (pass.rotation) observation.passwordRotation = rotationStatus(*pass.rotation);
  if (pass.memory) {
    observation.memory = pass.memory->status;
    observation.informational.push_back(pass.memory->atCeiling);
  }
  observation.primary = pass.primary;
  observation.lastFailover = pass.lastFailover;

  const Json previous = pass.raw.contains("status") ? pass.raw["status"] : Json::object();
  auto decision = decideStatus(pass.store, std::move(observation), previous, clock_.wallNow());
  if (!decision.status) return true;
  auto written = applier.writeStatus(pass.raw, *decision.status);
  if (!written) {
    pass.log.info("cannot write the status, will retry", {{"error", describe(written.error())}});
    return false;
  }
  const std::string phaseBefore = previous.value("phase", "");
  const std::string phase = decision.status->value("phase", "");
  if (phase != phaseBefore) {
    pass.log.info("phase", {{"from", phaseBefore.empty() ? "(none)" : phaseBefore}, {"to", phase}});
  }
  for (const Event& told : decision.events) event(pass, told);
  return true;
}

Outcome Reconciler::stepRequeue(Pass& pass) {
  std::lock_guard lock(waitMu_);
  // A replicated store's pods are looked at again soon while a failover is under way, and every
  // few seconds anyway (a primary's loss is also told at once by the health monitor and the pod
  // watch; this is the backstop, and a store without a primary yet waits for no one else).
  std::optional<clock::Duration> replicasAgain;
  if (managedstore::replicated(pass.store) && options_.replication != nullptr) {
    replicasAgain = pass.replicasStale     ? std::chrono::seconds(1)
                    : pass.replicasSettled ? kSettledReplicasBackstop
                                           : std::chrono::seconds(5);
  }
  if (pass.waiting) {
    const int streak = waitStreak_[pass.key]++;
    const auto backoff = waitInterval(options_.waitInterval,
                                      std::min(options_.waitCap, options_.resyncInterval), streak);
    return Outcome::requeueAfter(replicasAgain ? std::min(backoff, *replicasAgain) : backoff);
  }
  waitStreak_.erase(pass.key);
  // Looked at again by the next of: the resync, the server certificate's renewal, the end of
  // the memory window.
  clock::Duration again = options_.resyncInterval;
  if (pass.renewAt) {
    const auto until =
        std::chrono::duration_cast<clock::Duration>(*pass.renewAt - clock_.wallNow());
    again = std::min(again, std::max<clock::Duration>(until, std::chrono::seconds(1)));
  }
  if (pass.memory) again = std::min(again, pass.memory->lookAgainIn);
  if (replicasAgain) again = std::min(again, *replicasAgain);
  return Outcome::requeueAfter(again);
}

Outcome Reconciler::invalidSpec(Pass& pass, const std::string& problem) {
  // The raw object still names what the finalizer must undo, if it can be read.
  const Json& metadata = pass.raw["metadata"];
  pass.store.metadata.ns = metadata.value("namespace", "");
  pass.store.metadata.name = metadata.value("name", "");
  pass.store.metadata.uid = metadata.value("uid", "");
  if (const Json* deployment = at(pass.raw, {"spec", "target", "deployment"});
      deployment != nullptr && deployment->is_string()) {
    pass.store.spec.target.deployment = deployment->get<std::string>();
  }
  if (const Json* service = at(pass.raw, {"spec", "target", "service"});
      service != nullptr && service->is_string()) {
    pass.store.spec.target.service = service->get<std::string>();
  }
  if (metadata.contains("deletionTimestamp")) return finalize(pass);

  const Json previous = pass.raw.contains("status") ? pass.raw["status"] : Json::object();
  auto decision = decideInvalidSpecStatus(metadata.value("generation", std::int64_t{0}), problem,
                                          previous, clock_.wallNow());
  if (decision.status) {
    const Applier applier(client_, live_, pass.store);
    if (!applier.writeStatus(pass.raw, *decision.status)) return Outcome::retry();
    for (const Event& told : decision.events) event(pass, told);
  }
  return Outcome::success();  // nothing to do until the spec changes
}

Outcome Reconciler::finalize(Pass& pass) {
  if (!hasFinalizer(pass.raw)) return Outcome::success();
  const auto& store = pass.store;
  const std::string& ns = store.metadata.ns;
  const Applier applier(client_, live_, store);

  // The operator's fields leave the user's Deployment and Service: applying a body without them
  // under the same field manager releases them, and nothing of anyone else's changes.
  for (const auto& release : releases(store)) {
    auto observed = readObserved(client_, *release.resource, ns, release.name);
    if (!observed) return Outcome::retry();
    if (!observed->object || ownedLeafFields(*observed->object, kManager).empty()) continue;
    // The operator's fields there are another SessionStore's wiring (one field manager writes
    // for every store; the wired-by label says whose): never this store's to release.
    if (wiredByAnother(*observed->object, store.metadata.name)) continue;
    if (auto applied = applier.applyTo(*release.resource, release.body); !applied) {
      pass.log.info("cannot release the operator's fields, will retry",
                    {{"object", release.name}, {"error", describe(applied.error())}});
      return Outcome::retry();
    }
    event(pass, {.type = events::EventType::kNormal,
                 .reason = "Unwired",
                 .action = "Unwire",
                 .note = "removed what the operator had set on " + release.body.value("kind", "") +
                         " " + release.name});
  }

  // The connection Secret goes (only if it is this SessionStore's).
  const std::string connectionSecret = api::secretName(store);
  auto secret = readObserved(client_, kube::resources::kSecrets, ns, connectionSecret);
  if (!secret) return Outcome::retry();
  if (secret->object && controlledBy(*secret->object, store.metadata.uid)) {
    auto removed = client_.remove(
        kube::resources::kSecrets, ns, connectionSecret,
        {.preconditionUid = secret->object->value("/metadata/uid"_json_pointer, std::string())});
    if (!removed && removed.error().kind != ErrorKind::kNotFound) return Outcome::retry();
  }

  // The data: kept or deleted, as spec.store.managed.deletionPolicy says. To delete it, the
  // StatefulSet goes first (its pods with it) and the claims only once it is gone: while it
  // exists, its controller creates a deleted claim again for its pod.
  const bool deleteData = deletesData(store);
  if (deleteData) {
    const std::string stsName = managedstore::statefulSetName(store);
    auto sts = readObserved(client_, kube::resources::kStatefulSets, ns, stsName);
    if (!sts) return Outcome::retry();
    if (sts->object && controlledBy(*sts->object, store.metadata.uid)) {
      if (!at(*sts->object, {"metadata", "deletionTimestamp"})) {
        auto removed = client_.remove(
            kube::resources::kStatefulSets, ns, stsName,
            {.propagationPolicy = "Foreground",
             .preconditionUid = sts->object->value("/metadata/uid"_json_pointer, std::string())});
        if (!removed && removed.error().kind != ErrorKind::kNotFound) return Outcome::retry();
        pass.log.info("deleting the store's StatefulSet before its data", {{"object", stsName}});
      }
      return Outcome::requeueAfter(std::chrono::seconds(1));
    }
  }
  if (store.spec.store.type == api::StoreType::kManaged) {
    auto claims = client_.listAll(kube::resources::kPersistentVolumeClaims, ns,
                                  {.labelSelector = claimSelector(store)});
    if (!claims) return Outcome::retry();
    for (const Json& claim : claims->items) {
      const std::string claimName = claim.value("/metadata/name"_json_pointer, std::string());
      if (deleteData) {
        auto removed = client_.remove(kube::resources::kPersistentVolumeClaims, ns, claimName);
        if (!removed && removed.error().kind != ErrorKind::kNotFound) return Outcome::retry();
        event(pass,
              {.type = events::EventType::kNormal,
               .reason = "DataDeleted",
               .action = "Delete",
               .note = "deleted PersistentVolumeClaim " + claimName + " (deletionPolicy Delete)"});
      } else {
        event(pass, {.type = events::EventType::kNormal,
                     .reason = "DataRetained",
                     .action = "Delete",
                     .note = "kept PersistentVolumeClaim " + claimName +
                             " (deletionPolicy Retain): a new SessionStore of the same name "
                             "adopts it"});
      }
    }
  }

  auto patched = applier.patchStore(finalizerPatch(pass.raw, /*add=*/false));
  if (!patched && patched.error().kind != ErrorKind::kNotFound) return Outcome::retry();
  pass.log.info("finalized", {});
  if (options_.waitsFor) options_.waitsFor(pass.key, {});
  if (options_.released) {
    std::vector<std::string> targets;
    for (const auto& release : releases(store)) {
      targets.push_back(release.resource->kind + " " + ns + "/" + release.name);
    }
    options_.released(targets);
  }
  health_.forget(pass.key);
  if (metrics_ != nullptr) metrics_->forgetSessionStore(ns, store.metadata.name);
  if (options_.gone) options_.gone(pass.key);
  return Outcome::success();
}

bool Reconciler::record(Pass& pass, const Written& written) {
  switch (written.kind) {
    case Written::Kind::kUnchanged:
      return true;
    case Written::Kind::kCreated:
    case Written::Kind::kUpdated: {
      const bool creating = written.kind == Written::Kind::kCreated;
      (creating ? pass.created : pass.updated).push_back(written.what);
      pass.log.info(creating ? "created" : "updated", {{"object", written.what}});
      return true;
    }
    case Written::Kind::kNotOurs:
      return false;
    case Written::Kind::kRefused: {
      // Not worth retrying until something changes: say so on the condition.
      const ConditionState condition = refusedCondition(written.what, *written.error);
      // The first problem of the store's objects is the one told; after the probe (the
      // connection Secret) it replaces what the probe said.
      if (pass.storeCondition.reason.empty() || pass.storeCondition.ok) {
        pass.storeCondition = condition;
      }
      pass.needsUser = true;
      event(pass, {.type = events::EventType::kWarning,
                   .reason = std::string(api::kReasonProvisioningFailed),
                   .action = "Apply",
                   .note = condition.message});
      return false;
    }
    case Written::Kind::kFailed:
      if (!pass.apiError) pass.apiError = written.error;
      return false;
  }
  return false;
}

bool Reconciler::recordStoreObject(Pass& pass, const Written& written) {
  if (written.kind != Written::Kind::kNotOurs) return record(pass, written);
  // Left alone, and the user told why: the first problem of the store's objects is the one told.
  if (pass.storeCondition.reason.empty() || pass.storeCondition.ok) {
    pass.storeCondition = notOursCondition(written.what);
  }
  pass.needsUser = true;
  return false;
}

void Reconciler::reportWrites(Pass& pass) {
  for (const Event& told : writesEvents(pass.created, pass.updated)) event(pass, told);
  pass.created.clear();
  pass.updated.clear();
}

void Reconciler::event(const Pass& pass, const Event& told) {
  if (recorder_ == nullptr) return;
  recorder_->record(pass.regarding, told.type, told.reason, told.action, told.note);
}

void Reconciler::publishMetrics(const Pass& pass) {
  if (metrics_ == nullptr) return;
  const std::vector<std::string> labels = {pass.store.metadata.ns, pass.store.metadata.name};
  metrics_->storeReady.withLabels(labels)->set(pass.probe && pass.probe->ok ? 1 : 0);
  if (pass.probe && pass.probe->connectedClients) {
    metrics_->storeConnectedClients.withLabels(labels)->set(
        static_cast<double>(*pass.probe->connectedClients));
  }
  if (pass.workers) metrics_->workers.withLabels(labels)->set(static_cast<double>(*pass.workers));
  if (pass.gathered.deployment) {
    if (auto replicas = integerAt(*pass.gathered.deployment, {"status", "replicas"})) {
      metrics_->replicasCurrent.withLabels(labels)->set(static_cast<double>(*replicas));
    }
  }
}

}  // namespace sessionstore::reconcile
