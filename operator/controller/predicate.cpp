#include "controller/predicate.h"

#include <string>

#include "identity/identity.h"

namespace sessionstore::controller {

namespace {

using informer::Json;

// metadata[field], or null when absent (absent and null compare equal).
Json metadataField(const Json& object, const char* field) {
  if (!object.is_object()) return nullptr;
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return nullptr;
  const auto it = meta->find(field);
  return it == meta->end() ? Json(nullptr) : *it;
}

// An empty map and an absent one are the same labels.
Json mapField(const Json& object, const char* field) {
  Json value = metadataField(object, field);
  if (value.is_object() && value.empty()) return nullptr;
  return value;
}

bool hasFinalizer(const Json& object) {
  const Json finalizers = metadataField(object, "finalizers");
  if (!finalizers.is_array()) return false;
  for (const auto& f : finalizers) {
    if (f.is_string() && f.get<std::string>() == identity::kFinalizer) return true;
  }
  return false;
}

}  // namespace

bool sessionStoreUpdateMatters(const Json& before, const Json& after) {
  const Json version = metadataField(after, "resourceVersion");
  if (version.is_string() && version == metadataField(before, "resourceVersion")) return true;
  for (const char* field : {"generation", "deletionTimestamp", "uid"}) {
    if (metadataField(before, field) != metadataField(after, field)) return true;
  }
  if (hasFinalizer(before) != hasFinalizer(after)) return true;
  for (const char* field : {"labels", "annotations"}) {
    if (mapField(before, field) != mapField(after, field)) return true;
  }
  return false;
}

informer::Handlers filterUpdates(
    informer::Handlers handlers,
    std::function<bool(const informer::Json& before, const informer::Json& after)> matters) {
  if (handlers.onUpdate) {
    handlers.onUpdate = [onUpdate = std::move(handlers.onUpdate), matters = std::move(matters)](
                            const Json& before, const Json& after) {
      if (matters(before, after)) onUpdate(before, after);
    };
  }
  return handlers;
}

}  // namespace sessionstore::controller
