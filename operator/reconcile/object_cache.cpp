#include "reconcile/object_cache.h"

#include "api/session_store.h"

namespace sessionstore::reconcile {
namespace {

std::string keyFor(const kube::Resource& resource) {
  return resource.group + "/" + resource.resource;
}

}  // namespace

void InformerCache::add(const informer::Informer& informer) {
  informers_[keyFor(informer.resource())] = &informer;
}

CacheLookup InformerCache::get(const kube::Resource& resource, const std::string& ns,
                               const std::string& name) const {
  const auto it = informers_.find(keyFor(resource));
  if (it == informers_.end() || !it->second->hasSynced()) return {};
  return {.known = true, .object = it->second->get(ns, name)};
}

void slimManagedObject(Json& object) {
  if (!object.is_object()) return;
  informer::stripManagedFields(object);
  if (object.value("kind", "") != "StatefulSet") object.erase("status");
}

std::vector<std::string> controllingSessionStores(const Json& object) {
  std::vector<std::string> keys;
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return keys;
  const auto owners = metadata->find("ownerReferences");
  const auto ns = metadata->find("namespace");
  if (owners == metadata->end() || !owners->is_array() || ns == metadata->end() ||
      !ns->is_string()) {
    return keys;
  }
  for (const Json& owner : *owners) {
    if (!owner.is_object() || owner.value("kind", "") != api::kKind ||
        owner.value("apiVersion", "") != api::kApiVersion || !owner.value("controller", false)) {
      continue;
    }
    const std::string name = owner.value("name", "");
    if (!name.empty()) keys.push_back(ns->get<std::string>() + "/" + name);
  }
  return keys;
}

}  // namespace sessionstore::reconcile
