#include "cache/slim.h"

#include <string>

namespace sessionstore::cache {

namespace {

using Json = nlohmann::json;

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

// The status fields the operator reads, of the kinds it caches; nothing else of status is kept.
constexpr std::string_view kKeptStatus[] = {"replicas",          "readyReplicas",
                                            "availableReplicas", "updatedReplicas",
                                            "currentReplicas",   "observedGeneration"};

void slimManagedFields(Json& metadata, std::string_view manager, OwnFields ownFields) {
  const auto it = metadata.find("managedFields");
  if (it == metadata.end()) return;
  if (!it->is_array()) {
    metadata.erase(it);
    return;
  }
  bool ownUpdate = false;
  for (const auto& entry : *it) {
    if (entry.is_object() && entry.value("manager", "") == manager &&
        entry.value("operation", "") == "Update" && !entry.contains("subresource")) {
      ownUpdate = true;
    }
  }
  if (ownUpdate) return;  // the take-over rewrites the whole list: keep it whole
  Json kept = Json::array();
  for (auto& entry : *it) {
    if (entry.is_object() && entry.value("manager", "") == manager) {
      if (ownFields == OwnFields::kDrop) entry.erase("fieldsV1");
      kept.push_back(std::move(entry));
    }
  }
  if (kept.empty()) {
    metadata.erase(it);
  } else {
    *it = std::move(kept);
  }
}

}  // namespace

void slimObject(Json& object, std::string_view manager, OwnFields ownFields) {
  if (!object.is_object()) return;
  if (const auto meta = object.find("metadata"); meta != object.end() && meta->is_object()) {
    slimManagedFields(*meta, manager, ownFields);
    if (const auto annotations = meta->find("annotations");
        annotations != meta->end() && annotations->is_object()) {
      annotations->erase(std::string(kLastApplied));
    }
  }
  if (const auto status = object.find("status"); status != object.end()) {
    Json kept = Json::object();
    if (status->is_object()) {
      for (const auto field : kKeptStatus) {
        const auto value = status->find(std::string(field));
        if (value != status->end()) kept[std::string(field)] = std::move(*value);
      }
    }
    if (kept.empty()) {
      object.erase(status);
    } else {
      *status = std::move(kept);
    }
  }
}

}  // namespace sessionstore::cache
