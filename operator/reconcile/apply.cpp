#include "reconcile/apply.h"

#include <algorithm>
#include <utility>

#include "identity/identity.h"
#include "kube/json_path.h"
#include "reconcile/decide.h"

namespace sessionstore::reconcile {
namespace {

using kube::at;
using kube::ErrorKind;

const std::string kManager{identity::kFieldManager};

std::string nameOf(const Json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return {};
  return metadata->value("name", "");
}

std::string resourceVersionOf(const Json& object) {
  const Json* version = at(object, {"metadata", "resourceVersion"});
  return version != nullptr && version->is_string() ? version->get<std::string>() : std::string();
}

// Whether the operator's manager may hold fields through a create (an Update entry). Without
// managedFields (a compact cached copy) it cannot be told: true, and the whole object is read.
bool mayHoldCreatedFields(const Json& object) {
  const Json* managed = at(object, {"metadata", "managedFields"});
  if (managed == nullptr || !managed->is_array()) return true;
  return std::any_of(managed->begin(), managed->end(), [](const Json& entry) {
    return entry.is_object() && entry.value("manager", "") == kManager &&
           !entry.contains("subresource") && entry.value("operation", "") == "Update";
  });
}

Written failed(std::string what, const kube::Error& error) {
  const bool refused = error.kind == ErrorKind::kInvalid || error.kind == ErrorKind::kForbidden;
  return {.kind = refused ? Written::Kind::kRefused : Written::Kind::kFailed,
          .what = std::move(what),
          .error = error};
}

}  // namespace

const kube::Resource* resourceFor(const Json& object) {
  const std::string kind = object.value("kind", "");
  if (kind == "Secret") return &kube::resources::kSecrets;
  if (kind == "ConfigMap") return &kube::resources::kConfigMaps;
  if (kind == "Service") return &kube::resources::kServices;
  if (kind == "StatefulSet") return &kube::resources::kStatefulSets;
  if (kind == "NetworkPolicy") return &kube::resources::kNetworkPolicies;
  if (kind == "PodDisruptionBudget") return &kube::resources::kPodDisruptionBudgets;
  if (kind == "Deployment") return &kube::resources::kDeployments;
  if (kind == "Certificate") return &kube::resources::kCertificates;
  return nullptr;
}

Applier::Applier(kube::Client& client, kube::Client& live, const api::SessionStore& store)
    : client_(client), live_(live), store_(store) {}

Written Applier::ensureOwned(const Json& desired, const Observed& seen) const {
  const kube::Resource* resource = resourceFor(desired);
  const std::string what = describeObject(desired);
  const std::string& ns = store_.metadata.ns;
  Observed observed = seen;
  if (!observed.read) {
    auto created = client_.create(*resource, ns, desired, {.fieldManager = kManager});
    if (created) return {.kind = Written::Kind::kCreated, .what = what, .object = *created};
    // AlreadyExists: an earlier pass of this store made it, or the name is someone else's;
    // the read tells which. Nothing was written.
    if (created.error().kind != ErrorKind::kAlreadyExists) return failed(what, created.error());
    auto read = readObserved(client_, *resource, ns, nameOf(desired));
    if (!read) return failed(what, read.error());
    observed = std::move(*read);
  }
  switch (decideWrite(desired, observed.object, store_.metadata.uid)) {
    case WriteNeed::kNone:
      return {.kind = Written::Kind::kUnchanged, .what = what, .object = *observed.object};
    case WriteNeed::kNotOurs:
      return {.kind = Written::Kind::kNotOurs, .what = what};
    case WriteNeed::kWrite:
      break;
  }
  const bool creating = !observed.object;
  if (!creating) {
    auto takenOver = takeOverCreatedFields(*resource, *observed.object);
    if (!takenOver)
      return {.kind = Written::Kind::kFailed, .what = what, .error = takenOver.error()};
  }
  auto applied = client_.apply(*resource, ns, desired, kManager, /*force=*/true);
  if (!applied) return failed(what, applied.error());
  return {.kind = creating ? Written::Kind::kCreated : Written::Kind::kUpdated,
          .what = what,
          .object = std::move(*applied)};
}

kube::Result<Json> Applier::createOnly(const Json& desired) const {
  return client_.create(*resourceFor(desired), store_.metadata.ns, desired,
                        {.fieldManager = kManager});
}

kube::Result<Json> Applier::createPasswordSecret(const managedstore::Passwords& passwords) const {
  return client_.create(kube::resources::kSecrets, store_.metadata.ns,
                        managedstore::authSecret(store_, passwords), {.fieldManager = kManager});
}

kube::Result<Json> Applier::writeSecret(const Json& desired, const Observed& observed) const {
  if (!observed.object) {
    return client_.create(kube::resources::kSecrets, store_.metadata.ns, desired,
                          {.fieldManager = kManager});
  }
  // A merge patch keeps keys it does not name: those the desired Secret no longer has are
  // named with null, which removes them, so the Secret is made whole.
  Json data = desired.contains("data") ? desired["data"] : Json::object();
  if (const Json* had = at(*observed.object, {"data"}); had != nullptr && had->is_object()) {
    for (const auto& [key, value] : had->items()) {
      if (!data.contains(key)) data[key] = nullptr;
    }
  }
  // Only what the desired Secret has (a const Json's operator[] on a missing key is undefined).
  Json metadata = {{"resourceVersion", resourceVersionOf(*observed.object)}};
  if (const Json* desiredMetadata = at(desired, {"metadata"}); desiredMetadata != nullptr) {
    for (const char* key : {"labels", "ownerReferences"}) {
      if (desiredMetadata->contains(key)) metadata[key] = (*desiredMetadata)[key];
    }
  }
  Json patch = {{"metadata", std::move(metadata)}, {"data", std::move(data)}};
  if (desired.contains("type")) patch["type"] = desired["type"];
  return client_.patch(kube::resources::kSecrets, store_.metadata.ns, nameOf(desired),
                       kube::PatchType::kMerge, patch, {.fieldManager = kManager});
}

kube::Result<Json> Applier::applyTo(const kube::Resource& resource, const Json& body) const {
  return client_.apply(resource, store_.metadata.ns, body, kManager, /*force=*/true);
}

kube::Result<Json> Applier::patchStore(const Json& patch) const {
  return client_.patch(kube::resources::kSessionStores, store_.metadata.ns, store_.metadata.name,
                       kube::PatchType::kMerge, patch);
}

kube::Result<Json> Applier::writeStatus(const Json& raw, const Json& status) const {
  Json updated = raw;
  updated["status"] = status;
  return client_.update(kube::resources::kSessionStores, store_.metadata.ns, updated, "status");
}

kube::Result<Json> Applier::resizeMemoryLimit(const std::string& name, const std::string& container,
                                              const std::string& limit) const {
  const Json body = {
      {"spec",
       {{"containers",
         Json::array({{{"name", container}, {"resources", {{"limits", {{"memory", limit}}}}}}})}}}};
  return client_.patch(
      kube::resources::kPods, store_.metadata.ns, name, kube::PatchType::kStrategic, body,
      {.fieldManager = std::string(identity::kFieldManager), .subresource = "resize"});
}

kube::Result<Json> Applier::takeOverCreatedFields(const kube::Resource& resource,
                                                  const Json& seen) const {
  if (!mayHoldCreatedFields(seen)) return seen;
  auto whole = live_.get(resource, store_.metadata.ns, nameOf(seen));
  if (!whole) return std::unexpected(whole.error());
  const Json& observed = *whole;
  const Json* managed = at(observed, {"metadata", "managedFields"});
  if (managed == nullptr || !managed->is_array()) return observed;
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
  if (!found) return observed;
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
  return client_.patch(resource, store_.metadata.ns, nameOf(observed), kube::PatchType::kMerge,
                       patch);
}

}  // namespace sessionstore::reconcile
