#include "controller/owners.h"

#include <algorithm>

#include "identity/identity.h"

namespace sessionstore::controller {

namespace {

using informer::Json;

const Json* metadataOf(const Json& object) {
  if (!object.is_object()) return nullptr;
  const auto meta = object.find("metadata");
  return meta != object.end() && meta->is_object() ? &*meta : nullptr;
}

std::string stringIn(const Json& object, const std::string& field) {
  const auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string label(const Json& metadata, std::string_view key) {
  const auto labels = metadata.find("labels");
  if (labels == metadata.end() || !labels->is_object()) return "";
  return stringIn(*labels, std::string(key));
}

std::vector<std::string> keyIn(const Json& metadata, const std::string& name) {
  const std::string ns = stringIn(metadata, "namespace");
  if (ns.empty() || name.empty()) return {};
  return {ns + "/" + name};
}

}  // namespace

std::vector<std::string> owningStoreKeys(const Json& object) {
  const Json* metadata = metadataOf(object);
  if (metadata == nullptr) return {};
  if (const auto refs = metadata->find("ownerReferences");
      refs != metadata->end() && refs->is_array()) {
    for (const auto& ref : *refs) {
      if (!ref.is_object() || stringIn(ref, "kind") != "SessionStore") continue;
      const auto controller = ref.find("controller");
      if (controller == ref.end() || *controller != true) continue;
      if (!stringIn(ref, "apiVersion").starts_with("sessionstore.io/")) continue;
      return keyIn(*metadata, stringIn(ref, "name"));
    }
  }
  return keyIn(*metadata, label(*metadata, identity::kStoreLabel));
}

std::vector<std::string> wiringStoreKeys(const Json& object) {
  const Json* metadata = metadataOf(object);
  if (metadata == nullptr) return {};
  return keyIn(*metadata, label(*metadata, identity::kWiredByLabel));
}

namespace {

// spec[field] of `object`, or null when absent.
Json specField(const Json& object, const char* field) {
  if (!object.is_object()) return nullptr;
  const auto spec = object.find("spec");
  if (spec == object.end() || !spec->is_object()) return nullptr;
  const auto it = spec->find(field);
  return it == spec->end() ? Json(nullptr) : *it;
}

}  // namespace

std::vector<std::string> scalerTargetStoreKeys(
    const Json& scaler, const std::function<std::vector<Json>(const std::string& ns)>& storesIn) {
  const Json* metadata = metadataOf(scaler);
  if (metadata == nullptr) return {};
  const std::string ns = stringIn(*metadata, "namespace");
  const Json ref = specField(scaler, "scaleTargetRef");
  if (ns.empty() || !ref.is_object()) return {};
  const std::string deployment = stringIn(ref, "name");
  const std::string kind = stringIn(ref, "kind");
  if (deployment.empty() || (!kind.empty() && kind != "Deployment")) return {};
  std::vector<std::string> keys;
  for (const Json& store : storesIn(ns)) {
    const Json target = specField(store, "target");
    const Json* storeMetadata = metadataOf(store);
    if (!target.is_object() || storeMetadata == nullptr) continue;
    if (stringIn(target, "deployment") != deployment) continue;
    for (auto& key : keyIn(*storeMetadata, stringIn(*storeMetadata, "name"))) {
      keys.push_back(std::move(key));
    }
  }
  return keys;
}

void TargetWaiters::waitFor(const std::string& store, const std::vector<std::string>& targets) {
  std::lock_guard lock(mu_);
  if (auto before = targets_.find(store); before != targets_.end()) {
    for (const auto& target : before->second) {
      auto it = waiters_.find(target);
      if (it == waiters_.end()) continue;
      it->second.erase(store);
      if (it->second.empty()) waiters_.erase(it);
    }
    targets_.erase(before);
  }
  if (targets.empty()) return;
  for (const auto& target : targets) waiters_[target].insert(store);
  targets_[store] = targets;
}

std::vector<std::string> TargetWaiters::waitersOf(const std::string& kind,
                                                  const Json& object) const {
  const Json* metadata = metadataOf(object);
  if (metadata == nullptr) return {};
  return waitersOf(kind + " " + stringIn(*metadata, "namespace") + "/" +
                   stringIn(*metadata, "name"));
}

std::vector<std::string> TargetWaiters::waitersOf(const std::string& target) const {
  std::lock_guard lock(mu_);
  const auto it = waiters_.find(target);
  if (it == waiters_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<std::string> TargetWaiters::keysFor(const std::string& kind, const Json& object) const {
  auto keys = wiringStoreKeys(object);
  for (auto& waiter : waitersOf(kind, object)) {
    if (std::find(keys.begin(), keys.end(), waiter) == keys.end())
      keys.push_back(std::move(waiter));
  }
  return keys;
}

bool scalerUpdateMatters(const Json& before, const Json& after) {
  const Json* was = metadataOf(before);
  const Json* is = metadataOf(after);
  if (was != nullptr && is != nullptr) {
    const std::string version = stringIn(*is, "resourceVersion");
    if (!version.empty() && version == stringIn(*was, "resourceVersion")) return true;  // resync
  }
  for (const char* field : {"scaleTargetRef", "maxReplicas", "maxReplicaCount"}) {
    if (specField(before, field) != specField(after, field)) return true;
  }
  return false;
}

informer::Handlers enqueueScalerTargets(
    std::function<std::vector<std::string>(const Json&)> keysFor,
    std::function<void(const std::string& key)> enqueue) {
  auto all = [keysFor, enqueue](const Json& object) {
    for (const auto& key : keysFor(object)) enqueue(key);
  };
  return informer::Handlers{.onAdd = all,
                            .onUpdate =
                                [keysFor, enqueue](const Json& before, const Json& after) {
                                  if (!scalerUpdateMatters(before, after)) return;
                                  auto keys = keysFor(before);
                                  for (auto& key : keysFor(after)) {
                                    if (std::find(keys.begin(), keys.end(), key) == keys.end())
                                      keys.push_back(key);
                                  }
                                  for (const auto& key : keys) enqueue(key);
                                },
                            .onDelete = all};
}

}  // namespace sessionstore::controller
