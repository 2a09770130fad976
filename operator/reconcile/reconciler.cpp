#include "reconcile/reconciler.h"

#include <algorithm>
#include <future>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "api/conditions.h"
#include "api/session_store.h"
#include "crypto/crypto.h"
#include "kube/config.h"
#include "kube/json_path.h"
#include "reconcile/matches.h"
#include "reconcile/status.h"
#include "wiring/connection.h"
#include "wiring/wiring.h"

namespace sessionstore::reconcile {
namespace {

using kube::at;
using kube::ErrorKind;
using kube::integerAt;
using kube::Json;
using kube::splitKey;
using workqueue::Outcome;

const std::string kManager{identity::kFieldManager};

// contains() ignores fields the server or others added, so it cannot see a field the operator
// stopped setting (a CPU limit taken out of the spec); the digest annotation changes then, and
// the object is applied again, which removes the field.
Json withDesiredHash(const Json& desired) {
  Json body = desired;
  body["metadata"]["annotations"][std::string(identity::kDesiredHashAnnotation)] =
      crypto::sha256Hex(desired.dump()).substr(0, 16);
  return body;
}

const kube::Resource* resourceFor(const Json& object) {
  const std::string kind = object.value("kind", "");
  if (kind == "Secret") return &kube::resources::kSecrets;
  if (kind == "ConfigMap") return &kube::resources::kConfigMaps;
  if (kind == "Service") return &kube::resources::kServices;
  if (kind == "StatefulSet") return &kube::resources::kStatefulSets;
  if (kind == "NetworkPolicy") return &kube::resources::kNetworkPolicies;
  if (kind == "Deployment") return &kube::resources::kDeployments;
  return nullptr;
}

std::string nameOf(const Json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  return metadata->value("name", "");
}

// Whether `object` has an ownerReference marking `uid` as its controller.
bool controlledBy(const Json& object, const std::string& uid) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return false;
  const auto owners = metadata->find("ownerReferences");
  if (owners == metadata->end() || !owners->is_array()) return false;
  return std::any_of(owners->begin(), owners->end(), [&](const Json& owner) {
    return owner.is_object() && owner.value("uid", "") == uid && owner.value("controller", false);
  });
}

std::vector<std::string> finalizersOf(const Json& object) {
  std::vector<std::string> out;
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return out;
  const auto list = metadata->find("finalizers");
  if (list == metadata->end() || !list->is_array()) return out;
  for (const Json& item : *list) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

std::string resourceVersionOf(const Json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  return metadata->value("resourceVersion", "");
}

// Retry with the key's backoff, and not before the server's Retry-After (429) when it sent one.
Outcome retryFor(const kube::Error& error) {
  return error.retryAfter ? Outcome::retryNoSoonerThan(*error.retryAfter) : Outcome::retry();
}

std::string describe(const kube::Error& error) {
  return error.message.empty() ? "the API server answered " + std::to_string(error.httpStatus)
                               : error.message;
}

// The autoscaler (scaling/autoscaler.h) writes its own part of the status: the
// AutoscalingActive condition, the scale fields of status.target and status.autoscaling. The
// reconciler replaces the status as a whole, so it carries that part over while autoscaling is
// on (and drops it when autoscaling is turned off). Ready never waits for AutoscalingActive.
void keepAutoscalingStatus(const Json& previous, Json& status) {
  if (!previous.is_object()) return;
  if (const auto conditions = previous.find("conditions");
      conditions != previous.end() && conditions->is_array()) {
    for (const Json& condition : *conditions) {
      if (condition.is_object() &&
          condition.value("type", "") == api::kConditionAutoscalingActive) {
        Json& list = status["conditions"];
        list.insert(list.end() - 1, condition);  // before Ready
      }
    }
  }
  if (const Json* target = at(previous, {"target"}); target != nullptr && target->is_object()) {
    for (const char* key : {"desiredReplicas", "lastScaleTime", "lastScaleReason"}) {
      if (target->contains(key)) status["target"][key] = (*target)[key];
    }
  }
  if (previous.contains("autoscaling")) status["autoscaling"] = previous["autoscaling"];
}

}  // namespace

// One reconcile: what was read, what was decided, what went wrong.
struct Reconciler::Pass {
  std::string key;
  Json raw;  // the SessionStore as read (resourceVersion kept current after own writes)
  api::SessionStore store;
  logging::Logger log;
  events::ObjectReference regarding;
  // No pass has finished on this SessionStore yet (it has no status.observedGeneration): its
  // objects are most likely missing, so they are created without being read first.
  bool fresh = false;
  // What this pass created and changed ("ConfigMap shop-redis-config"), told in one Event each.
  std::vector<std::string> created;
  std::vector<std::string> updated;

  std::optional<Json> deployment;
  std::optional<Json> statefulSet;
  std::optional<managedstore::Passwords> passwords;
  std::optional<wiring::StoreEndpoint> endpoint;
  std::optional<wiring::StoreEndpoint> monitor;
  std::optional<health::ProbeResult> probe;
  bool storeUsable = false;             // the store's objects or URL are in place: worth probing
  bool waiting = false;                 // something is expected to change by itself soon
  bool needsUser = false;               // nothing changes until the user acts
  std::optional<kube::Error> apiError;  // a failed request: retry with backoff

  ConditionState storeCondition{.type = std::string(api::kConditionStoreReady)};
  ConditionState wiredCondition{.type = std::string(api::kConditionConnectionWired)};
  ConditionState affinityCondition{.type = std::string(api::kConditionAffinityApplied)};
  ConditionState workersCondition{.type = std::string(api::kConditionWorkersSized)};
  bool wired = false;
  std::optional<std::int64_t> workers;
  std::optional<std::int64_t> poolSize;  // the smallest of the wired containers'
};

Reconciler::Reconciler(kube::Client& client, health::StoreProber& prober,
                       managedstore::RandomBytes random, events::EventRecorder* recorder,
                       ReconcilerOptions options, const clock::Clock& clock,
                       metrics::OperatorMetrics* metrics)
    : client_(client),
      prober_(prober),
      random_(std::move(random)),
      recorder_(recorder),
      options_(std::move(options)),
      clock_(clock),
      metrics_(metrics),
      log_(logging::defaultLogger()) {}

kube::Result<Json> Reconciler::readStore(const std::string& key, const std::string& ns,
                                         const std::string& name) {
  std::optional<Json> cached;
  bool live = !options_.cachedStore;
  if (!live) {
    cached = options_.cachedStore(ns, name);
    std::lock_guard lock(waitMu_);
    live = readLive_.erase(key) > 0 || !cached;
    if (const auto it = written_.find(key); it != written_.end()) {
      const auto& older = it->second.older;
      const bool behind =
          !live && std::find(older.begin(), older.end(), resourceVersionOf(*cached)) != older.end();
      if (behind) {
        live = true;  // the cache has not seen the operator's last write yet
      } else {
        written_.erase(it);
      }
    }
  }
  if (!live) return std::move(*cached);
  return client_.get(kube::resources::kSessionStores, ns, name);
}

void Reconciler::rememberWrite(const std::string& key, const std::string& before,
                               const Json& after) {
  std::lock_guard lock(waitMu_);
  if (!options_.cachedStore) return;
  Written& entry = written_[key];
  // A write on top of the previous one (the status after the finalizer): what the cache may
  // still hold includes the versions before that one.
  if (entry.last != before) entry.older.clear();
  entry.older.push_back(before);
  entry.last = resourceVersionOf(after);
}

bool Reconciler::isOwnWrite(const Json& store) {
  const Json* ns = at(store, {"metadata", "namespace"});
  const Json* name = at(store, {"metadata", "name"});
  if (ns == nullptr || name == nullptr || !ns->is_string() || !name->is_string()) return false;
  const std::string version = resourceVersionOf(store);
  if (version.empty()) return false;
  std::lock_guard lock(waitMu_);
  const auto it = echoes_.find(ns->get<std::string>() + "/" + name->get<std::string>());
  if (it == echoes_.end()) return false;
  Echoes& echoes = it->second;
  const auto found = std::find(echoes.expected.begin(), echoes.expected.end(), version);
  if (found != echoes.expected.end()) {
    echoes.expected.erase(echoes.expected.begin(), found + 1);  // older ones can no longer come
    if (echoes.expected.empty() && !echoes.writing && !echoes.lookAgain) echoes_.erase(it);
    return true;
  }
  if (echoes.writing) {
    echoes.early.push_back(version);
    return true;
  }
  return false;
}

kube::Result<Json> Reconciler::writeStore(Pass& pass,
                                          const std::function<kube::Result<Json>()>& write) {
  {
    std::lock_guard lock(waitMu_);
    echoes_[pass.key].writing = true;
  }
  auto written = write();
  {
    std::lock_guard lock(waitMu_);
    Echoes& echoes = echoes_[pass.key];
    echoes.writing = false;
    const std::string version = written ? resourceVersionOf(*written) : std::string();
    bool cameBack = false;
    for (const std::string& early : echoes.early) {
      if (!version.empty() && early == version) {
        cameBack = true;
      } else {
        echoes.lookAgain = true;  // someone else's change, left out of the queue meanwhile
      }
    }
    echoes.early.clear();
    if (!version.empty() && !cameBack) {
      echoes.expected.push_back(version);
      constexpr std::size_t kKept = 4;  // a version the watch skips (a relist) is never taken
      if (echoes.expected.size() > kKept) echoes.expected.erase(echoes.expected.begin());
    }
  }
  if (written) rememberWrite(pass.key, resourceVersionOf(pass.raw), *written);
  return written;
}

void Reconciler::readLiveNextTime(const std::string& key) {
  std::lock_guard lock(waitMu_);
  readLive_.insert(key);
  written_.erase(key);
}

Outcome Reconciler::reconcile(const std::string& key) {
  const auto [ns, name] = splitKey(key);
  auto raw = readStore(key, ns, name);
  if (!raw) {
    if (raw.error().kind == ErrorKind::kNotFound) {
      if (metrics_ != nullptr) metrics_->forgetSessionStore(ns, name);
      if (options_.gone) options_.gone(key);
      {
        std::lock_guard lock(waitMu_);
        waitStreak_.erase(key);
        written_.erase(key);
        echoes_.erase(key);
      }
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

  Outcome outcome;
  if (auto parsed = api::parseSessionStore(pass.raw); !parsed) {
    outcome = invalidSpec(pass, parsed.error());
  } else {
    pass.store = std::move(*parsed);
    pass.fresh = at(pass.raw, {"status", "observedGeneration"}) == nullptr;
    outcome = pass.store.metadata.deletionTimestamp ? finalize(pass) : reconcileLive(pass);
  }
  // Someone else changed the SessionStore while the pass wrote it (isOwnWrite held that
  // version back): look again now, unless the pass is already to be retried.
  std::lock_guard lock(waitMu_);
  if (const auto it = echoes_.find(key); it != echoes_.end() && it->second.lookAgain) {
    it->second.lookAgain = false;
    if (outcome.kind != Outcome::Kind::kRetry) outcome = Outcome::requeueAfter({});
  }
  return outcome;
}

Outcome Reconciler::reconcileLive(Pass& pass) {
  // Each step records its conditions; an API error stops the pass (retried with backoff), a
  // missing prerequisite only stops what depends on it. The target is read while the finalizer
  // is added (the two touch different parts of the pass); nothing is written before both are.
  // A managed store's password Secret is read or created at the same time, on a copy of the
  // pass whose findings join this one afterwards.
  const bool managed = pass.store.spec.store.type == api::StoreType::kManaged;
  std::optional<Pass> secretPass;
  if (managed) {
    secretPass.emplace(pass);
    secretPass->created.clear();  // it records only its own writes, joined below
    secretPass->updated.clear();
  }
  const auto finalizers = finalizersOf(pass.raw);
  std::future<bool> finalized;
  if (std::find(finalizers.begin(), finalizers.end(), identity::kFinalizer) == finalizers.end()) {
    finalized = std::async(std::launch::async, [this, &pass] { return addFinalizer(pass); });
  }
  std::future<bool> secretRead;
  if (secretPass) {
    secretRead =
        std::async(std::launch::async, [this, &secretPass] { return stepPasswords(*secretPass); });
  }
  bool ok = stepTarget(pass);
  const bool finalizerOk = !finalized.valid() || finalized.get();
  if (secretRead.valid()) {
    ok = secretRead.get() && ok;
    pass.passwords = std::move(secretPass->passwords);
    if (!secretPass->storeCondition.reason.empty()) {
      pass.storeCondition = std::move(secretPass->storeCondition);
    }
    pass.needsUser = pass.needsUser || secretPass->needsUser;
    pass.created.insert(pass.created.begin(), secretPass->created.begin(),
                        secretPass->created.end());
    if (!pass.apiError && secretPass->apiError) pass.apiError = std::move(secretPass->apiError);
  }
  // Whatever way the pass ends, what it wrote is told (before the status' own Events).
  struct ReportWrites {
    Reconciler& reconciler;
    Pass& pass;
    ~ReportWrites() { reconciler.reportWrites(pass); }
  } reportAtTheEnd{*this, pass};
  if (!finalizerOk) return Outcome::retry();
  if (ok) ok = managed ? stepManagedStore(pass) : stepExternalStore(pass);
  if (ok) stepProbe(pass);
  if (ok) ok = stepWire(pass);
  if (ok) ok = stepAffinity(pass);
  if (pass.apiError) {
    pass.log.warn("reconcile failed, will retry", {{"error", describe(*pass.apiError)}});
    if (pass.apiError->kind == ErrorKind::kConflict) readLiveNextTime(pass.key);
    if (pass.apiError->kind != ErrorKind::kConflict) {
      event(pass, events::EventType::kWarning, "ReconcileError", "Reconcile",
            describe(*pass.apiError));
    }
    return retryFor(*pass.apiError);
  }
  reportWrites(pass);
  if (!stepStatus(pass)) {
    readLiveNextTime(pass.key);  // most often a write lost to a newer version
    return Outcome::retry();
  }
  publishMetrics(pass);
  if (options_.observed) options_.observed(pass.store);
  std::lock_guard lock(waitMu_);
  if (pass.waiting) {
    const int streak = waitStreak_[pass.key]++;
    return Outcome::requeueAfter(
        waitInterval(options_.waitInterval, options_.resyncInterval, streak));
  }
  waitStreak_.erase(pass.key);
  return Outcome::requeueAfter(options_.resyncInterval);
}

bool Reconciler::addFinalizer(Pass& pass) {
  auto finalizers = finalizersOf(pass.raw);
  finalizers.emplace_back(identity::kFinalizer);
  const Json patch = {
      {"metadata", {{"finalizers", finalizers}, {"resourceVersion", resourceVersionOf(pass.raw)}}}};
  auto patched = writeStore(pass, [&] {
    return client_.patch(kube::resources::kSessionStores, pass.store.metadata.ns,
                         pass.store.metadata.name, kube::PatchType::kMerge, patch);
  });
  if (!patched) {
    pass.log.info("cannot add the finalizer, will retry", {{"error", describe(patched.error())}});
    if (patched.error().kind == ErrorKind::kConflict) readLiveNextTime(pass.key);
    return false;
  }
  pass.raw = std::move(*patched);
  return true;
}

bool Reconciler::stepTarget(Pass& pass) {
  const auto& spec = pass.store.spec;
  auto deployment =
      client_.get(kube::resources::kDeployments, pass.store.metadata.ns, spec.target.deployment);
  if (deployment) {
    pass.deployment = std::move(*deployment);
    return true;
  }
  if (deployment.error().kind != ErrorKind::kNotFound) {
    pass.apiError = deployment.error();
    return false;
  }
  const std::string message = "Deployment " + spec.target.deployment +
                              " does not exist in namespace " + pass.store.metadata.ns +
                              ": create it, or correct spec.target.deployment";
  pass.wiredCondition = {.type = pass.wiredCondition.type,
                         .ok = false,
                         .reason = std::string(api::kReasonDeploymentNotFound),
                         .message = message};
  pass.workersCondition = pass.wiredCondition;
  pass.workersCondition.type = std::string(api::kConditionWorkersSized);
  pass.waiting = true;
  return true;  // the store is provisioned anyway, so it is ready when the app comes
}

bool Reconciler::ensureOwned(Pass& pass, const Json& built, Json* observedOut, bool* conflict) {
  const Json desired = withDesiredHash(built);
  const kube::Resource* resource = resourceFor(desired);
  const std::string name = nameOf(desired);
  const std::string& ns = pass.store.metadata.ns;
  const std::string what = desired.value("kind", "") + " " + name;
  const auto written = [&](Json object, bool creating) {
    (creating ? pass.created : pass.updated).push_back(what);
    pass.log.info(creating ? "created" : "updated", {{"object", what}});
    if (observedOut != nullptr) *observedOut = std::move(object);
    return true;
  };
  const auto refused = [&](const kube::Error& error) {
    if (error.kind != ErrorKind::kInvalid && error.kind != ErrorKind::kForbidden) {
      pass.apiError = error;
      return false;
    }
    // Not worth retrying until something changes: say so on the condition.
    pass.storeCondition = {.type = pass.storeCondition.type,
                           .ok = false,
                           .reason = std::string(api::kReasonProvisioningFailed),
                           .message = "cannot write " + what + ": " + describe(error)};
    pass.needsUser = true;
    event(pass, events::EventType::kWarning, api::kReasonProvisioningFailed, "Apply",
          pass.storeCondition.message);
    if (conflict != nullptr) *conflict = true;
    return true;
  };
  if (pass.fresh) {
    auto created = client_.create(*resource, ns, desired, {.fieldManager = kManager});
    if (created) return written(std::move(*created), /*creating=*/true);
    // AlreadyExists: an earlier pass of this store made it, or the name is someone else's;
    // the read below tells which. Nothing was written.
    if (created.error().kind != ErrorKind::kAlreadyExists) return refused(created.error());
  }
  auto observed = client_.get(*resource, ns, name);
  if (observed) {
    if (!controlledBy(*observed, pass.store.metadata.uid)) {
      if (conflict != nullptr) *conflict = true;
      return true;
    }
    if (contains(*observed, desired)) {
      if (observedOut != nullptr) *observedOut = std::move(*observed);
      return true;
    }
    if (!takeOverCreatedFields(pass, *resource, *observed)) return false;
  } else if (observed.error().kind != ErrorKind::kNotFound) {
    pass.apiError = observed.error();
    return false;
  }
  const bool creating = !observed;
  auto applied = client_.apply(*resource, ns, desired, kManager, /*force=*/true);
  if (!applied) return refused(applied.error());
  return written(std::move(*applied), creating);
}

bool Reconciler::takeOverCreatedFields(Pass& pass, const kube::Resource& resource, Json& observed) {
  const Json* managed = at(observed, {"metadata", "managedFields"});
  if (managed == nullptr || !managed->is_array()) return true;
  Json entries = Json::array();
  Json created = Json::object();
  bool found = false;
  std::optional<std::size_t> applyEntry;
  for (const Json& entry : *managed) {
    const bool ours = entry.is_object() && entry.value("manager", "") == kManager &&
                      !entry.contains("subresource");
    const std::string operation = ours ? entry.value("operation", "") : "";
    if (operation == "Update") {
      const auto fields = entry.find("fieldsV1");
      if (fields != entry.end() && fields->is_object()) {
        created.merge_patch(*fields);  // fieldsV1 is a tree of objects: merging is the union
      }
      found = true;
      continue;
    }
    if (operation == "Apply") applyEntry = entries.size();
    entries.push_back(entry);
  }
  if (!found) return true;
  if (applyEntry) {
    entries[*applyEntry]["fieldsV1"].merge_patch(created);
  } else {
    entries.push_back({{"manager", kManager},
                       {"operation", "Apply"},
                       {"apiVersion", observed.value("apiVersion", "")},
                       {"fieldsType", "FieldsV1"},
                       {"fieldsV1", created}});
  }
  // The resourceVersion makes this fail rather than drop an entry written in the meantime.
  const Json patch = {
      {"metadata", {{"resourceVersion", resourceVersionOf(observed)}, {"managedFields", entries}}}};
  auto patched = client_.patch(resource, pass.store.metadata.ns, nameOf(observed),
                               kube::PatchType::kMerge, patch);
  if (!patched) {
    pass.apiError = patched.error();
    return false;
  }
  observed = std::move(*patched);
  return true;
}

std::vector<Reconciler::Owned> Reconciler::ensureOwnedAll(Pass& pass,
                                                          const std::vector<const Json*>& desired) {
  std::vector<Owned> results(desired.size());
  if (desired.empty()) return results;
  // Each object on its own thread with its own copy of the pass (the last on this one); what
  // they recorded joins the pass in order, so the first problem is the one reported.
  std::vector<Pass> scratch(desired.size(), pass);
  // Each copy records only its own writes: what the pass held already stays in the pass alone.
  for (Pass& copy : scratch) {
    copy.created.clear();
    copy.updated.clear();
  }
  std::vector<std::future<void>> running;
  for (std::size_t i = 0; i + 1 < desired.size(); ++i) {
    running.push_back(std::async(std::launch::async, [&, i] {
      results[i].ok =
          ensureOwned(scratch[i], *desired[i], &results[i].observed, &results[i].conflict);
    }));
  }
  const std::size_t last = desired.size() - 1;
  results[last].ok =
      ensureOwned(scratch[last], *desired[last], &results[last].observed, &results[last].conflict);
  for (auto& thread : running) thread.get();
  for (Pass& done : scratch) {
    if (!pass.apiError && done.apiError) pass.apiError = std::move(done.apiError);
    if (pass.storeCondition.reason.empty() && !done.storeCondition.reason.empty()) {
      pass.storeCondition = std::move(done.storeCondition);
    }
    pass.needsUser = pass.needsUser || done.needsUser;
    pass.created.insert(pass.created.end(), done.created.begin(), done.created.end());
    pass.updated.insert(pass.updated.end(), done.updated.begin(), done.updated.end());
  }
  return results;
}

bool Reconciler::stepPasswords(Pass& pass) {
  const auto& store = pass.store;
  const std::string& ns = store.metadata.ns;
  const std::string secretName = managedstore::authSecretName(store);
  // The only place passwords are generated: when their Secret does not exist. A create fails
  // when it does, so a fresh store creates it without reading it first.
  const auto createPasswordSecret = [&]() -> kube::Result<Json> {
    auto passwords = managedstore::generatePasswords(random_);
    if (!passwords) {
      return std::unexpected(
          kube::Error{.kind = ErrorKind::kInternal,
                      .message = "cannot generate passwords: " + passwords.error()});
    }
    auto created =
        client_.create(kube::resources::kSecrets, ns, managedstore::authSecret(store, *passwords),
                       {.fieldManager = kManager});
    if (created) {
      pass.created.push_back("Secret " + secretName + " (new passwords)");
      pass.log.info("created", {{"object", "Secret " + secretName}});
      pass.passwords = std::move(*passwords);
    }
    return created;
  };
  kube::Result<Json> observed = std::unexpected(kube::Error{.kind = ErrorKind::kNotFound});
  if (pass.fresh) {
    auto created = createPasswordSecret();
    if (!created && created.error().kind != ErrorKind::kAlreadyExists) {
      pass.apiError = created.error();
      return false;
    }
  }
  if (!pass.passwords) observed = client_.get(kube::resources::kSecrets, ns, secretName);
  if (pass.passwords) {
    // generated and stored just now
  } else if (observed) {
    if (!controlledBy(*observed, store.metadata.uid)) {
      pass.storeCondition = {
          .type = pass.storeCondition.type,
          .ok = false,
          .reason = std::string(api::kReasonNameTaken),
          .message = "Secret " + secretName +
                     " exists and is not owned by this SessionStore; the operator keeps its "
                     "passwords there: rename or remove that Secret"};
      pass.needsUser = true;
      return true;
    }
    auto passwords = managedstore::passwordsFromSecret(*observed);
    if (!passwords) {
      pass.storeCondition = {
          .type = pass.storeCondition.type,
          .ok = false,
          .reason = std::string(api::kReasonPasswordSecretInvalid),
          .message = "Secret " + secretName + ": " + passwords.error() +
                     "; delete the Secret to have new passwords generated (the app is wired "
                     "again with them)"};
      pass.needsUser = true;
      return true;
    }
    pass.passwords = std::move(*passwords);
  } else if (observed.error().kind == ErrorKind::kNotFound) {
    // AlreadyExists: another writer (a previous run of this key) won; read it next time.
    if (auto created = createPasswordSecret(); !created) {
      pass.apiError = created.error();
      return false;
    }
  } else {
    pass.apiError = observed.error();
    return false;
  }
  return true;
}

bool Reconciler::stepManagedStore(Pass& pass) {
  // stepPasswords ran before (beside the target's read): without passwords it said why.
  if (!pass.passwords) return true;
  const auto& store = pass.store;
  std::optional<managedstore::Labels> targetLabels;
  if (pass.deployment) targetLabels = podTemplateLabels(*pass.deployment);
  auto objects = managedStoreObjects(store, *pass.passwords, targetLabels,
                                     operatorPeer(options_.operatorNamespace));
  if (!objects) {
    pass.storeCondition = {.type = pass.storeCondition.type,
                           .ok = false,
                           .reason = std::string(api::kReasonProvisioningFailed),
                           .message = objects.error()};
    pass.needsUser = true;
    return true;
  }
  // Two waves, the objects of each written side by side: the ConfigMap and the Services, then
  // the StatefulSet and the NetworkPolicy. Nothing of the second wave is made when the first
  // met a same-named object of someone else's: a StatefulSet would mount a ConfigMap, or sit
  // behind a Service, that is not this store's.
  std::vector<const Json*> waves[2];
  for (std::size_t i = 1; i < objects->size(); ++i) {  // [0] is the password Secret, done above
    const std::string kind = (*objects)[i].value("kind", "");
    waves[kind == "StatefulSet" || kind == "NetworkPolicy" ? 1 : 0].push_back(&(*objects)[i]);
  }
  for (const auto& wave : waves) {
    auto results = ensureOwnedAll(pass, wave);
    if (pass.apiError) return false;
    bool blocked = false;
    for (std::size_t i = 0; i < wave.size(); ++i) {
      const Json& desired = *wave[i];
      if (results[i].conflict) {
        if (pass.storeCondition.reason.empty()) {
          pass.storeCondition = {.type = pass.storeCondition.type,
                                 .ok = false,
                                 .reason = std::string(api::kReasonNameTaken),
                                 .message = desired.value("kind", "") + " " + nameOf(desired) +
                                            " exists and is not owned by this SessionStore: "
                                            "rename or remove it"};
          pass.needsUser = true;
        }
        blocked = true;
      } else if (desired.value("kind", "") == "StatefulSet") {
        pass.statefulSet = std::move(results[i].observed);
      }
    }
    if (blocked) return true;
  }
  pass.endpoint = managedEndpoint(store, *pass.passwords);
  pass.monitor = *pass.endpoint;
  pass.monitor->username = std::string(managedstore::kMonitorUser);
  pass.monitor->password = pass.passwords->monitor;
  pass.storeUsable = true;
  return true;
}

bool Reconciler::stepExternalStore(Pass& pass) {
  const auto& ref = pass.store.spec.store.external->urlSecretRef;
  const std::string& ns = pass.store.metadata.ns;
  const auto missing = [&](const std::string& message) {
    pass.storeCondition = {.type = pass.storeCondition.type,
                           .ok = false,
                           .reason = std::string(api::kReasonUrlSecretMissing),
                           .message = message};
    pass.waiting = true;  // a Secret created later is picked up without a change to the spec
    return true;
  };
  auto secret = client_.get(kube::resources::kSecrets, ns, ref.name);
  if (!secret) {
    if (secret.error().kind != ErrorKind::kNotFound) {
      pass.apiError = secret.error();
      return false;
    }
    return missing("Secret " + ref.name + " does not exist in namespace " + ns +
                   ": create it with key \"" + ref.key +
                   "\" holding the store's redis:// or rediss:// URL");
  }
  const Json* value = at(*secret, {"data", ref.key.c_str()});
  if (value == nullptr || !value->is_string()) {
    std::string keys;
    if (const Json* data = at(*secret, {"data"}); data != nullptr && data->is_object()) {
      for (const auto& [key, unused] : data->items()) keys += (keys.empty() ? "" : ", ") + key;
    }
    return missing("Secret " + ref.name + " has no key \"" + ref.key +
                   "\" (its keys: " + (keys.empty() ? "none" : keys) +
                   "): add it, or set spec.store.external.urlSecretRef.key");
  }
  const auto url = crypto::base64Decode(value->get<std::string>());
  std::optional<wiring::StoreEndpoint> endpoint;
  std::string problem;
  if (!url) {
    problem = "is not valid base64";
  } else if (auto parsed = externalEndpoint(*url); !parsed) {
    problem = parsed.error();
  } else {
    endpoint = std::move(*parsed);
  }
  if (!endpoint) {
    pass.storeCondition = {
        .type = pass.storeCondition.type,
        .ok = false,
        .reason = std::string(api::kReasonInvalidUrl),
        .message = "Secret " + ref.name + " key \"" + ref.key + "\": " + problem +
                   "; set it to redis://[user:password@]host:port[/db] (or rediss://)"};
    pass.waiting = true;  // the fix is in a Secret, which is not watched: look again soon
    return true;
  }
  pass.endpoint = std::move(endpoint);
  pass.storeUsable = true;
  return true;
}

void Reconciler::stepProbe(Pass& pass) {
  if (!pass.storeUsable) return;
  pass.probe = prober_.probe(*pass.endpoint, pass.monitor);
  const health::ProbeResult& probe = *pass.probe;
  pass.storeCondition.ok = probe.ok;
  pass.storeCondition.reason = probe.reason;
  pass.storeCondition.message = probe.message;
  if (probe.ok) return;
  pass.waiting = true;
  if (pass.store.spec.store.type == api::StoreType::kExternal) {
    // The URL is the user's: say where to look.
    const auto& ref = pass.store.spec.store.external->urlSecretRef;
    const std::string where = " in Secret " + ref.name + " key \"" + ref.key + "\"";
    pass.storeCondition.message +=
        probe.reason == api::kReasonAuthenticationFailed
            ? "; check the user and password" + where
            : "; check the host and port" + where +
                  ", and that the store accepts connections from the operator and the app";
  }
  // A store that stops answering once the app is wired to it is unreachable, not provisioning,
  // whatever its pod's readiness says.
  const bool wiredBefore = pass.deployment && !ownedLeafFields(*pass.deployment, kManager).empty();
  if (pass.statefulSet && !wiredBefore) {
    const auto ready = integerAt(*pass.statefulSet, {"status", "readyReplicas"}).value_or(0);
    if (ready < 1) {
      pass.storeCondition.reason = std::string(api::kReasonProvisioning);
      pass.storeCondition.message =
          "waiting for the pod of StatefulSet " + managedstore::statefulSetName(pass.store) +
          " to be ready; the store does not answer yet (" + probe.message + ")";
      return;
    }
  }
}

bool Reconciler::stepWire(Pass& pass) {
  if (!pass.deployment) return true;  // stepTarget said why
  const auto& store = pass.store;
  const std::string& deploymentName = store.spec.target.deployment;
  const bool wiredBefore = !ownedLeafFields(*pass.deployment, kManager).empty();
  const bool storeReady = pass.probe && pass.probe->ok;
  if (!storeReady) {
    // The wiring waits for the store; wiring already there stays (an outage is not a reason to
    // take the app's connection away).
    pass.wired = wiredBefore;
    pass.wiredCondition = {
        .type = pass.wiredCondition.type,
        .ok = wiredBefore,
        .reason = std::string(wiredBefore ? api::kReasonWired : api::kReasonWaitingForStore),
        .message = wiredBefore
                       ? "Deployment " + deploymentName +
                             " keeps its wiring while the store does not answer"
                       : "the Deployment is wired once the store answers (StoreReady is " +
                             (pass.storeCondition.reason.empty() ? std::string("not known")
                                                                 : pass.storeCondition.reason) +
                             ")"};
    pass.workersCondition = {
        .type = pass.workersCondition.type,
        .ok = wiredBefore,
        .reason = std::string(wiredBefore ? api::kReasonWorkersSized : api::kReasonWaitingForStore),
        .message = wiredBefore ? "workers were sized when the app was wired"
                               : "workers are set when the app is wired"};
    return true;
  }

  std::optional<int> serverMaxClients;
  if (store.spec.store.type == api::StoreType::kExternal && pass.probe->maxClients) {
    serverMaxClients = static_cast<int>(std::min<std::int64_t>(*pass.probe->maxClients, 1 << 30));
  }
  auto wiring = desiredWiring(store, *pass.endpoint, *pass.deployment, serverMaxClients);
  if (!wiring) {
    const bool containerMissing = wiring.error().find("has no container") != std::string::npos;
    pass.wiredCondition = {
        .type = pass.wiredCondition.type,
        .ok = false,
        .reason =
            std::string(containerMissing ? api::kReasonContainerNotFound : api::kReasonApplyFailed),
        .message = wiring.error() + (containerMissing ? ": correct spec.target.containers" : "")};
    pass.workersCondition = pass.wiredCondition;
    pass.workersCondition.type = std::string(api::kConditionWorkersSized);
    pass.needsUser = true;
    return true;
  }

  bool conflict = false;
  if (!ensureOwned(pass, wiring->connectionSecret, nullptr, &conflict)) return false;
  if (conflict) {
    pass.wiredCondition = {.type = pass.wiredCondition.type,
                           .ok = false,
                           .reason = std::string(api::kReasonNameTaken),
                           .message = "Secret " + api::secretName(store) +
                                      " exists and is not owned by this SessionStore: rename or "
                                      "remove it, or set spec.connection.secretName"};
    pass.needsUser = true;
    return true;
  }

  const Json& body = wiring->deploymentApply;
  if (!ownsExactly(*pass.deployment, body, kManager)) {
    auto applied = client_.apply(kube::resources::kDeployments, store.metadata.ns, body, kManager,
                                 /*force=*/true);
    if (!applied) {
      if (applied.error().transient() || applied.error().kind == ErrorKind::kConflict) {
        pass.apiError = applied.error();
        return false;
      }
      pass.wiredCondition = {.type = pass.wiredCondition.type,
                             .ok = false,
                             .reason = std::string(api::kReasonApplyFailed),
                             .message = "cannot apply to Deployment " + deploymentName + ": " +
                                        describe(applied.error()) +
                                        "; the operator adds env entries and the pod-template "
                                        "annotation sessionstore.io/connection-hash: change the "
                                        "Deployment so that they fit"};
      pass.needsUser = true;
      event(pass, events::EventType::kWarning, api::kReasonApplyFailed, "Wire",
            pass.wiredCondition.message);
      return true;
    }
    pass.deployment = std::move(*applied);
    std::ostringstream note;
    note << "wired Deployment " << deploymentName << ": " << store.spec.connection.urlEnvVar
         << " from Secret " << api::secretName(store);
    for (const auto& container : wiring->deployment.containers) {
      note << "; " << container.name << ": " << store.spec.workers.envVar << "="
           << container.workers << ", " << store.spec.connection.poolSizeEnvVar << "="
           << container.poolSize;
    }
    event(pass, events::EventType::kNormal, "Wired", "Wire", note.str());
    pass.log.info("wired", {{"deployment", deploymentName}});
  }
  pass.wired = true;
  std::ostringstream workers;
  for (const auto& container : wiring->deployment.containers) {
    workers << (workers.tellp() > 0 ? ", " : "") << container.name << ": " << container.workers
            << " workers, pool " << container.poolSize;
  }
  pass.workers = wiring->deployment.containers.front().workers;
  for (const auto& container : wiring->deployment.containers) {
    pass.poolSize =
        std::min<std::int64_t>(pass.poolSize.value_or(container.poolSize), container.poolSize);
  }
  pass.wiredCondition = {.type = pass.wiredCondition.type,
                         .ok = true,
                         .reason = std::string(api::kReasonWired),
                         .message = "Deployment " + deploymentName + " reads " +
                                    store.spec.connection.urlEnvVar + " from Secret " +
                                    api::secretName(store) +
                                    "; pods roll when the connection "
                                    "changes"};
  pass.workersCondition = {.type = pass.workersCondition.type,
                           .ok = true,
                           .reason = std::string(api::kReasonWorkersSized),
                           .message = workers.str()};
  return true;
}

bool Reconciler::stepAffinity(Pass& pass) {
  const auto& store = pass.store;
  const std::string& serviceName = store.spec.target.service;
  if (serviceName.empty()) {
    pass.affinityCondition = {.type = pass.affinityCondition.type,
                              .ok = true,
                              .reason = std::string(api::kReasonNoService),
                              .message = "spec.target.service is empty: affinity is not managed"};
    return true;
  }
  auto service = client_.get(kube::resources::kServices, store.metadata.ns, serviceName);
  if (!service) {
    if (service.error().kind != ErrorKind::kNotFound) {
      pass.apiError = service.error();
      return false;
    }
    pass.affinityCondition = {.type = pass.affinityCondition.type,
                              .ok = false,
                              .reason = std::string(api::kReasonServiceNotFound),
                              .message = "Service " + serviceName +
                                         " does not exist in namespace " + store.metadata.ns +
                                         ": create it, or correct spec.target.service"};
    pass.waiting = true;
    return true;
  }
  const bool storeReady = pass.probe && pass.probe->ok;
  const Json body = wiring::serviceAffinityConfiguration(store, storeReady);
  const bool sticky = body["spec"]["sessionAffinity"] == "ClientIP";
  const std::string description =
      sticky ? "ClientIP affinity for " + std::to_string(store.spec.affinity.timeoutSeconds) + " s"
             : "no affinity";
  if (!ownsExactly(*service, body, kManager)) {
    auto applied =
        client_.apply(kube::resources::kServices, store.metadata.ns, body, kManager, true);
    if (!applied) {
      pass.apiError = applied.error();
      return false;
    }
    std::string why;
    if (store.spec.affinity.mode == api::AffinityMode::kUntilStoreReady) {
      why =
          storeReady ? " (the store is ready: sessions are shared)" : " (until the store is ready)";
    }
    event(pass, events::EventType::kNormal, "AffinitySet", "SetAffinity",
          "Service " + serviceName + ": " + description + why);
  }
  pass.affinityCondition = {
      .type = pass.affinityCondition.type,
      .ok = true,
      .reason = std::string(sticky ? api::kReasonAffinityClientIP : api::kReasonAffinityNone),
      .message = "Service " + serviceName + " has " + description + " (mode " +
                 api::toString(store.spec.affinity.mode) + ")"};
  return true;
}

bool Reconciler::stepStatus(Pass& pass) {
  Observation observation{.generation = pass.store.metadata.generation,
                          .targetMissing = !pass.deployment,
                          .storeReady = pass.probe && pass.probe->ok,
                          .wired = pass.wired};
  if (pass.storeCondition.reason.empty()) {
    pass.storeCondition.reason = std::string(api::kReasonProvisioning);
    pass.storeCondition.message = "the store is being set up";
  }
  observation.conditions = {pass.storeCondition, pass.wiredCondition, pass.workersCondition,
                            pass.affinityCondition};
  for (auto& condition : observation.conditions) {
    if (condition.reason.empty()) {  // a step that did not run: say what it waits for
      condition.reason = std::string(api::kReasonWaitingForStore);
      condition.message = "waits for the store";
    }
  }
  if (pass.endpoint) {
    observation.endpoint = pass.endpoint->host + ":" + std::to_string(pass.endpoint->port);
  }
  if (pass.probe) {
    observation.connectedClients = pass.probe->connectedClients;
    observation.usedMemoryBytes = pass.probe->usedMemoryBytes;
  }
  if (pass.deployment) {
    observation.replicas = integerAt(*pass.deployment, {"status", "replicas"});
    if (!observation.replicas)
      observation.replicas = integerAt(*pass.deployment, {"spec", "replicas"});
  }
  observation.workers = pass.workers;
  observation.poolSize = pass.poolSize;

  const Json previous = pass.raw.contains("status") ? pass.raw["status"] : Json::object();
  Json status = buildStatus(observation, previous, clock_.wallNow());
  if (pass.store.spec.autoscaling.enabled) keepAutoscalingStatus(previous, status);
  // The store's figures (clients, memory) move all the time: they alone do not make a write, so
  // a converged SessionStore costs no write per probe. They are refreshed with any other change;
  // /metrics has them live.
  const auto withoutFigures = [](Json s) {
    if (s.contains("store") && s["store"].is_object()) {
      s["store"].erase("connectedClients");
      s["store"].erase("usedMemoryBytes");
    }
    return s;
  };
  const bool hadFigures = previous.contains("store") && previous["store"].is_object() &&
                          previous["store"].contains("connectedClients");
  if (status == previous || (hadFigures && withoutFigures(status) == withoutFigures(previous))) {
    return true;
  }
  Json updated = pass.raw;
  updated["status"] = status;
  auto written = writeStore(pass, [&] {
    return client_.update(kube::resources::kSessionStores, pass.store.metadata.ns, updated,
                          "status");
  });
  if (!written) {
    pass.log.info("cannot write the status, will retry", {{"error", describe(written.error())}});
    return false;
  }
  const std::string phaseBefore = previous.value("phase", "");
  const std::string phase = status.value("phase", "");
  if (phase != phaseBefore) {
    pass.log.info("phase", {{"from", phaseBefore.empty() ? "(none)" : phaseBefore}, {"to", phase}});
    if (phase == api::kPhaseReady) {
      event(pass, events::EventType::kNormal, "Ready", "Reconcile",
            "the store answers and the app is wired to it");
    } else if (phase == api::kPhaseDegraded || phase == api::kPhaseFailed) {
      for (const auto& condition : status["conditions"]) {
        if (condition.value("status", "") == api::kStatusFalse) {
          event(pass, events::EventType::kWarning, condition.value("reason", ""), "Reconcile",
                condition.value("type", "") + ": " + condition.value("message", ""));
          break;
        }
      }
    }
  }
  // Problems that need the user are Events too, once per change of the condition.
  for (const auto& condition : status["conditions"]) {
    if (condition.value("status", "") != api::kStatusFalse) continue;
    const std::string reason = condition.value("reason", "");
    if (reason == api::kReasonWaitingForStore || reason == api::kReasonProvisioning ||
        reason == api::kReasonNotReady) {
      continue;
    }
    bool sameBefore = false;
    if (const auto& before = previous.find("conditions"); before != previous.end()) {
      for (const auto& old : *before) {
        sameBefore = sameBefore || (old.value("type", "") == condition.value("type", "") &&
                                    old.value("reason", "") == reason &&
                                    old.value("message", "") == condition.value("message", ""));
      }
    }
    if (!sameBefore && phase != api::kPhaseDegraded) {
      event(pass, events::EventType::kWarning, reason, "Reconcile",
            condition.value("type", "") + ": " + condition.value("message", ""));
    }
  }
  return true;
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

  Observation observation{
      .generation = metadata.value("generation", std::int64_t{0}),
      .invalidSpec = true,
      .conditions = {{.type = std::string(api::kConditionReady),
                      .ok = false,
                      .reason = std::string(api::kReasonInvalidSpec),
                      .message = problem + ": correct the SessionStore and apply it again"}}};
  const Json previous = pass.raw.contains("status") ? pass.raw["status"] : Json::object();
  const Json status = buildStatus(observation, previous, clock_.wallNow());
  if (status != previous) {
    Json updated = pass.raw;
    updated["status"] = status;
    auto written = writeStore(pass, [&] {
      return client_.update(kube::resources::kSessionStores, pass.store.metadata.ns, updated,
                            "status");
    });
    if (!written) {
      readLiveNextTime(pass.key);
      return Outcome::retry();
    }
    event(pass, events::EventType::kWarning, api::kReasonInvalidSpec, "Reconcile",
          observation.conditions.front().message);
  }
  return Outcome::success();  // nothing to do until the spec changes
}

Outcome Reconciler::finalize(Pass& pass) {
  auto finalizers = finalizersOf(pass.raw);
  if (std::find(finalizers.begin(), finalizers.end(), identity::kFinalizer) == finalizers.end()) {
    return Outcome::success();
  }
  const auto& store = pass.store;
  const std::string& ns = store.metadata.ns;

  // The operator's fields leave the user's Deployment and Service: applying a body without them
  // under the same field manager releases them, and nothing of anyone else's changes.
  struct Unapply {
    const kube::Resource* resource;
    std::string name;
    Json body;
  };
  std::vector<Unapply> releases;
  if (!store.spec.target.deployment.empty()) {
    releases.push_back({&kube::resources::kDeployments, store.spec.target.deployment,
                        wiring::deploymentUnwireConfiguration(ns, store.spec.target.deployment)});
  }
  if (!store.spec.target.service.empty()) {
    releases.push_back({&kube::resources::kServices,
                        store.spec.target.service,
                        {{"apiVersion", "v1"},
                         {"kind", "Service"},
                         {"metadata", {{"name", store.spec.target.service}, {"namespace", ns}}}}});
  }
  for (const auto& release : releases) {
    auto observed = client_.get(*release.resource, ns, release.name);
    if (!observed) {
      if (observed.error().kind == ErrorKind::kNotFound) continue;
      return Outcome::retry();
    }
    if (ownedLeafFields(*observed, kManager).empty()) continue;
    if (auto applied = client_.apply(*release.resource, ns, release.body, kManager, true);
        !applied) {
      pass.log.info("cannot release the operator's fields, will retry",
                    {{"object", release.name}, {"error", describe(applied.error())}});
      return Outcome::retry();
    }
    event(pass, events::EventType::kNormal, "Unwired", "Unwire",
          "removed what the operator had set on " + release.body.value("kind", "") + " " +
              release.name);
  }

  // The connection Secret goes (only if it is this SessionStore's).
  const std::string connectionSecret = api::secretName(store);
  if (auto secret = client_.get(kube::resources::kSecrets, ns, connectionSecret); secret) {
    if (controlledBy(*secret, store.metadata.uid)) {
      auto removed = client_.remove(
          kube::resources::kSecrets, ns, connectionSecret,
          {.preconditionUid = secret->value("/metadata/uid"_json_pointer, std::string())});
      if (!removed && removed.error().kind != ErrorKind::kNotFound) return Outcome::retry();
    }
  } else if (secret.error().kind != ErrorKind::kNotFound) {
    return Outcome::retry();
  }

  // The data: kept or deleted, as spec.store.managed.deletionPolicy says. To delete it, the
  // StatefulSet goes first (its pods with it) and the claims only once it is gone: while it
  // exists, its controller creates a deleted claim again for its pod.
  const bool deleteData = store.spec.store.type == api::StoreType::kManaged &&
                          store.spec.store.managed.deletionPolicy == api::DeletionPolicy::kDelete;
  if (deleteData) {
    const std::string stsName = managedstore::statefulSetName(store);
    auto sts = client_.get(kube::resources::kStatefulSets, ns, stsName);
    if (sts) {
      if (controlledBy(*sts, store.metadata.uid)) {
        if (!at(*sts, {"metadata", "deletionTimestamp"})) {
          auto removed = client_.remove(
              kube::resources::kStatefulSets, ns, stsName,
              {.propagationPolicy = "Foreground",
               .preconditionUid = sts->value("/metadata/uid"_json_pointer, std::string())});
          if (!removed && removed.error().kind != ErrorKind::kNotFound) return Outcome::retry();
          pass.log.info("deleting the store's StatefulSet before its data", {{"object", stsName}});
        }
        return Outcome::requeueAfter(std::chrono::seconds(1));
      }
    } else if (sts.error().kind != ErrorKind::kNotFound) {
      return Outcome::retry();
    }
  }
  if (store.spec.store.type == api::StoreType::kManaged) {
    auto claims =
        client_.listAll(kube::resources::kPersistentVolumeClaims, ns,
                        {.labelSelector = "sessionstore.io/name=" + store.metadata.name +
                                          ",app.kubernetes.io/managed-by=sessionstore-operator"});
    if (!claims) return Outcome::retry();
    for (const Json& claim : claims->items) {
      const std::string claimName = nameOf(claim);
      if (deleteData) {
        auto removed = client_.remove(kube::resources::kPersistentVolumeClaims, ns, claimName);
        if (!removed && removed.error().kind != ErrorKind::kNotFound) return Outcome::retry();
        event(pass, events::EventType::kNormal, "DataDeleted", "Delete",
              "deleted PersistentVolumeClaim " + claimName + " (deletionPolicy Delete)");
      } else {
        event(pass, events::EventType::kNormal, "DataRetained", "Delete",
              "kept PersistentVolumeClaim " + claimName +
                  " (deletionPolicy Retain): a new SessionStore of the same name adopts it");
      }
    }
  }

  std::erase(finalizers, std::string(identity::kFinalizer));
  const Json patch = {
      {"metadata", {{"finalizers", finalizers}, {"resourceVersion", resourceVersionOf(pass.raw)}}}};
  auto patched = client_.patch(kube::resources::kSessionStores, ns, store.metadata.name,
                               kube::PatchType::kMerge, patch);
  if (!patched && patched.error().kind != ErrorKind::kNotFound) {
    readLiveNextTime(pass.key);
    return Outcome::retry();
  }
  pass.log.info("finalized", {});
  if (metrics_ != nullptr) metrics_->forgetSessionStore(ns, store.metadata.name);
  if (options_.gone) options_.gone(pass.key);
  return Outcome::success();
}

void Reconciler::reportWrites(Pass& pass) {
  const auto report = [&](std::vector<std::string>& what, std::string_view reason,
                          std::string_view action, const std::string& verb) {
    if (what.empty()) return;
    std::string note = verb;
    for (std::size_t i = 0; i < what.size(); ++i) note += (i == 0 ? " " : ", ") + what[i];
    event(pass, events::EventType::kNormal, reason, action, note);
    what.clear();
  };
  report(pass.created, "Created", "Create", "created");
  report(pass.updated, "Updated", "Update", "updated");
}

void Reconciler::event(Pass& pass, events::EventType type, std::string_view reason,
                       std::string_view action, const std::string& note) {
  if (recorder_ == nullptr) return;
  recorder_->record(pass.regarding, type, reason, action, note);
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
  if (pass.deployment) {
    if (auto replicas = integerAt(*pass.deployment, {"status", "replicas"})) {
      metrics_->replicasCurrent.withLabels(labels)->set(static_cast<double>(*replicas));
    }
  }
}

}  // namespace sessionstore::reconcile
