// An in-memory kube::Client for unit tests of code that reads and writes objects (the
// reconciler's steps): objects kept by resource, namespace and name, resourceVersions from one
// counter, uids and generations assigned, merge patches, and server-side apply simplified to a
// merge that records the manager's fields (named list items merged by name, fieldsV1 spelt as
// the API server spells it). Not simulated: fields an apply no longer sets are not removed,
// defaulting, admission, watches, garbage collection. Errors can be injected per verb and
// resource; every request is logged. Thread-safe (the reconciler writes side by side).
// This fakes our own interface for tests without a control plane; the end-to-end behaviour is
// proven against a real kube-apiserver in tests/integration.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "kube/client.h"

namespace sessionstore::kube {

class FakeClient : public Client {
 public:
  enum class Verb { kGet, kList, kCreate, kUpdate, kPatch, kRemove, kWatch };

  struct Request {
    Verb verb;
    std::string resource;  // plural: "secrets"
    std::string ns;
    std::string name;
    std::string detail;  // the subresource, or "merge"/"apply" for a patch
    std::string resourceVersion = "";  // a list's: "0" asks for any version (a cache's)
  };

  // Puts `object` as it is (a resourceVersion and uid are added when missing). Returns it.
  Json put(const Resource& r, Json object) {
    std::lock_guard lock(mu_);
    auto& metadata = object["metadata"];
    metadata["resourceVersion"] = nextVersion();
    if (!metadata.contains("uid")) metadata["uid"] = "uid-" + std::to_string(++uids_);
    if (!metadata.contains("generation")) metadata["generation"] = 1;
    objects_[keyOf(r, metadata.value("namespace", ""), metadata.value("name", ""))] = object;
    return object;
  }

  // The stored object, if any (not logged as a request).
  std::optional<Json> stored(const Resource& r, const std::string& ns, const std::string& name) {
    std::lock_guard lock(mu_);
    const auto it = objects_.find(keyOf(r, ns, name));
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }

  // The next `times` requests of `verb` on `r` fail with `error` (times < 0: until cleared).
  void failNext(Verb verb, const Resource& r, Error error, int times = 1) {
    std::lock_guard lock(mu_);
    failures_.push_back({verb, r.resource, std::move(error), times});
  }
  void clearFailures() {
    std::lock_guard lock(mu_);
    failures_.clear();
  }

  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  void clearRequests() {
    std::lock_guard lock(mu_);
    requests_.clear();
  }
  // Requests of `verb` on the resource named `resource` ("" for any), all if verb is nullopt.
  std::size_t count(std::optional<Verb> verb, const std::string& resource = "") {
    std::lock_guard lock(mu_);
    return static_cast<std::size_t>(
        std::count_if(requests_.begin(), requests_.end(), [&](const Request& request) {
          return (!verb || request.verb == *verb) &&
                 (resource.empty() || request.resource == resource);
        }));
  }
  // Requests that write (create, update, patch, remove).
  std::size_t writes() {
    std::lock_guard lock(mu_);
    return static_cast<std::size_t>(
        std::count_if(requests_.begin(), requests_.end(), [](const Request& request) {
          return request.verb == Verb::kCreate || request.verb == Verb::kUpdate ||
                 request.verb == Verb::kPatch || request.verb == Verb::kRemove;
        }));
  }

  Result<Json> get(const Resource& r, const std::string& ns, const std::string& name,
                   const std::string& subresource = "") override {
    std::lock_guard lock(mu_);
    log(Verb::kGet, r, ns, name, subresource);
    if (auto failure = injected(Verb::kGet, r)) return std::unexpected(*failure);
    const auto it = objects_.find(keyOf(r, ns, name));
    if (it == objects_.end()) return notFound(r, name);
    return it->second;
  }

  Result<ObjectList> list(const Resource& r, const std::string& ns,
                          const ListOptions& options = {}) override {
    std::lock_guard lock(mu_);
    log(Verb::kList, r, ns, "",
        options.fieldSelector.empty() ? options.labelSelector
                                      : options.labelSelector + "|" + options.fieldSelector);
    requests_.back().resourceVersion = options.resourceVersion;
    if (auto failure = injected(Verb::kList, r)) return std::unexpected(*failure);
    ObjectList out;
    const std::string prefix = r.resource + "|" + (r.namespaced ? ns : std::string()) + "|";
    for (const auto& [key, object] : objects_) {
      if (!key.starts_with(r.resource + "|")) continue;
      if (!ns.empty() && !key.starts_with(prefix)) continue;
      if (matchesSelector(object, options.labelSelector) &&
          matchesFields(object, options.fieldSelector)) {
        out.items.push_back(object);
      }
    }
    out.resourceVersion = std::to_string(version_);
    return out;
  }

  Result<Json> create(const Resource& r, const std::string& ns, const Json& object,
                      const CreateOptions& options = {}) override {
    std::lock_guard lock(mu_);
    const std::string name = object.value("/metadata/name"_json_pointer, std::string());
    log(Verb::kCreate, r, ns, name, "");
    if (auto failure = injected(Verb::kCreate, r)) return std::unexpected(*failure);
    const std::string key = keyOf(r, ns, name);
    if (objects_.contains(key)) {
      return std::unexpected(Error{.kind = ErrorKind::kAlreadyExists,
                                   .httpStatus = 409,
                                   .message = r.resource + " \"" + name + "\" already exists",
                                   .reason = "AlreadyExists"});
    }
    Json stored = object;
    auto& metadata = stored["metadata"];
    if (r.namespaced) metadata["namespace"] = ns;
    metadata["uid"] = "uid-" + std::to_string(++uids_);
    metadata["generation"] = 1;
    metadata["resourceVersion"] = nextVersion();
    if (!options.fieldManager.empty()) {
      metadata["managedFields"] = Json::array({{{"manager", options.fieldManager},
                                                {"operation", "Update"},
                                                {"apiVersion", object.value("apiVersion", "")},
                                                {"fieldsType", "FieldsV1"},
                                                {"fieldsV1", fieldsOf(object)}}});
    }
    objects_[key] = stored;
    return stored;
  }

  Result<Json> update(const Resource& r, const std::string& ns, const Json& object,
                      const std::string& subresource = "") override {
    std::lock_guard lock(mu_);
    const std::string name = object.value("/metadata/name"_json_pointer, std::string());
    log(Verb::kUpdate, r, ns, name, subresource);
    if (auto failure = injected(Verb::kUpdate, r)) return std::unexpected(*failure);
    const auto it = objects_.find(keyOf(r, ns, name));
    if (it == objects_.end()) return notFound(r, name);
    if (auto stale = staleVersion(it->second, object)) return std::unexpected(*stale);
    Json next = it->second;
    if (subresource == "status") {
      next["status"] = object.contains("status") ? object["status"] : Json::object();
    } else {
      const Json status = next.contains("status") ? next["status"] : Json();
      const Json metadata = next["metadata"];
      next = object;
      next["metadata"]["uid"] = metadata["uid"];
      next["metadata"]["generation"] = metadata["generation"];
      if (!status.is_null()) next["status"] = status;
      if (next.value("spec", Json()) != it->second.value("spec", Json())) bumpGeneration(next);
    }
    next["metadata"]["resourceVersion"] = nextVersion();
    it->second = next;
    return next;
  }

  Result<Json> remove(const Resource& r, const std::string& ns, const std::string& name,
                      const DeleteOptions& options = {}) override {
    std::lock_guard lock(mu_);
    log(Verb::kRemove, r, ns, name, options.propagationPolicy.value_or(""));
    if (auto failure = injected(Verb::kRemove, r)) return std::unexpected(*failure);
    const auto it = objects_.find(keyOf(r, ns, name));
    if (it == objects_.end()) return notFound(r, name);
    if (options.preconditionUid &&
        it->second.value("/metadata/uid"_json_pointer, std::string()) != *options.preconditionUid) {
      return conflict("the UID in the precondition does not match");
    }
    Json removed = it->second;
    objects_.erase(it);
    return removed;
  }

  Result<Json> patch(const Resource& r, const std::string& ns, const std::string& name,
                     PatchType type, const Json& body, const PatchOptions& options = {}) override {
    std::lock_guard lock(mu_);
    const bool applying = type == PatchType::kApply;
    log(Verb::kPatch, r, ns, name,
        std::string(applying                    ? "apply"
                    : type == PatchType::kMerge ? "merge"
                                                : "other") +
            (options.subresource.empty() ? "" : "/" + options.subresource));
    if (auto failure = injected(Verb::kPatch, r)) return std::unexpected(*failure);
    if (type != PatchType::kMerge && !applying) {
      return std::unexpected(Error{.kind = ErrorKind::kBadRequest,
                                   .httpStatus = 400,
                                   .message = "the fake client takes merge and apply patches"});
    }
    const std::string key = keyOf(r, ns, name);
    auto it = objects_.find(key);
    if (it == objects_.end()) {
      if (!applying) return notFound(r, name);
      Json created = {
          {"metadata",
           {{"name", name}, {"uid", "uid-" + std::to_string(++uids_)}, {"generation", 1}}}};
      if (r.namespaced) created["metadata"]["namespace"] = ns;
      it = objects_.emplace(key, created).first;
    } else if (auto stale = staleVersion(it->second, body)) {
      return std::unexpected(*stale);
    }
    Json next = it->second;
    const Json specBefore = next.value("spec", Json());
    if (applying) {
      mergeByName(next, body);
      recordApply(next, body, options.fieldManager);
    } else {
      Json patchBody = body;
      if (patchBody.contains("metadata")) patchBody["metadata"].erase("resourceVersion");
      next.merge_patch(patchBody);
    }
    if (next.value("spec", Json()) != specBefore) bumpGeneration(next);
    next["metadata"]["resourceVersion"] = nextVersion();
    it->second = next;
    return next;
  }

  Result<std::unique_ptr<WatchStream>> watch(const Resource& r, const std::string& ns,
                                             const WatchOptions&) override {
    std::lock_guard lock(mu_);
    log(Verb::kWatch, r, ns, "", "");
    return std::unexpected(
        Error{.kind = ErrorKind::kBadRequest, .message = "the fake client does not watch"});
  }

 private:
  struct Failure {
    Verb verb;
    std::string resource;
    Error error;
    int times;
  };

  static std::string keyOf(const Resource& r, const std::string& ns, const std::string& name) {
    return r.resource + "|" + (r.namespaced ? ns : std::string()) + "|" + name;
  }

  std::string nextVersion() { return std::to_string(++version_); }

  static void bumpGeneration(Json& object) {
    object["metadata"]["generation"] = object["metadata"].value("generation", 0) + 1;
  }

  void log(Verb verb, const Resource& r, const std::string& ns, const std::string& name,
           const std::string& detail) {
    requests_.push_back({verb, r.resource, ns, name, detail});
  }

  std::optional<Error> injected(Verb verb, const Resource& r) {
    for (auto it = failures_.begin(); it != failures_.end(); ++it) {
      if (it->verb != verb || it->resource != r.resource) continue;
      Error error = it->error;
      if (it->times > 0 && --it->times == 0) failures_.erase(it);
      return error;
    }
    return std::nullopt;
  }

  static std::unexpected<Error> notFound(const Resource& r, const std::string& name) {
    return std::unexpected(Error{.kind = ErrorKind::kNotFound,
                                 .httpStatus = 404,
                                 .message = r.resource + " \"" + name + "\" not found",
                                 .reason = "NotFound"});
  }

  static std::unexpected<Error> conflict(const std::string& message) {
    return std::unexpected(Error{
        .kind = ErrorKind::kConflict, .httpStatus = 409, .message = message, .reason = "Conflict"});
  }

  // A body that names a resourceVersion is a precondition.
  static std::optional<Error> staleVersion(const Json& stored, const Json& body) {
    const auto wanted = body.value("/metadata/resourceVersion"_json_pointer, std::string());
    if (wanted.empty()) return std::nullopt;
    if (wanted == stored.value("/metadata/resourceVersion"_json_pointer, std::string())) {
      return std::nullopt;
    }
    return conflict(
               "the object has been modified; please apply your changes to the latest "
               "version and try again")
        .error();
  }

  // The "key=value" terms of a selector (terms without "=" are not checked here).
  static std::vector<std::pair<std::string, std::string>> equalityTerms(
      const std::string& selector) {
    std::vector<std::pair<std::string, std::string>> terms;
    std::size_t start = 0;
    while (start < selector.size()) {
      const std::size_t end = std::min(selector.find(',', start), selector.size());
      const std::string term = selector.substr(start, end - start);
      const std::size_t eq = term.find('=');
      if (eq != std::string::npos) terms.emplace_back(term.substr(0, eq), term.substr(eq + 1));
      start = end + 1;
    }
    return terms;
  }

  static bool matchesSelector(const Json& object, const std::string& selector) {
    const Json labels = object.value("/metadata/labels"_json_pointer, Json::object());
    for (const auto& [label, value] : equalityTerms(selector)) {
      if (!labels.is_object() || labels.value(label, "") != value) return false;
    }
    return true;
  }

  // A field selector of "path=value" terms, as the API server answers one on a CRD's
  // selectableFields: the string at the dotted path equals the value.
  static bool matchesFields(const Json& object, const std::string& selector) {
    for (const auto& [field, value] : equalityTerms(selector)) {
      std::string pointer = "/" + field;
      std::replace(pointer.begin(), pointer.end(), '.', '/');
      const Json::json_pointer at(pointer);
      if (!object.contains(at) || !object.at(at).is_string() ||
          object.at(at).get<std::string>() != value) {
        return false;
      }
    }
    return true;
  }

  static bool allKeyed(const Json& list, const char* key) {
    return !list.empty() && std::all_of(list.begin(), list.end(), [key](const Json& item) {
      return item.is_object() && item.contains(key);
    });
  }
  // The list's merge key as the API server's schema has it: a container's volumeMounts merge by
  // mountPath (their items also carry the volume's name), the other lists applied here by name.
  static const char* mergeKey(const Json& list) {
    if (allKeyed(list, "mountPath")) return "mountPath";
    if (allKeyed(list, "name")) return "name";
    return nullptr;
  }

  // Objects merge key by key; lists of named objects merge item by item; anything else is
  // replaced (server-side apply on the lists the operator applies, which are keyed by name).
  static void mergeByName(Json& target, const Json& body) {
    if (!body.is_object() || !target.is_object()) {
      target = body;
      return;
    }
    for (const auto& [key, value] : body.items()) {
      if (key == "metadata" && value.is_object()) {
        for (const auto& [field, item] : value.items()) {
          if (field == "resourceVersion" || field == "managedFields") continue;
          mergeByName(target["metadata"][field], item);
        }
        continue;
      }
      const char* keyName = value.is_array() ? mergeKey(value) : nullptr;
      if (keyName != nullptr && target.contains(key) && target[key].is_array()) {
        Json& list = target[key];
        for (const Json& item : value) {
          auto match = std::find_if(list.begin(), list.end(), [&](const Json& existing) {
            return existing.is_object() && existing.value(keyName, Json()) == item[keyName];
          });
          if (match == list.end()) {
            list.push_back(item);
          } else {
            mergeByName(*match, item);
          }
        }
        continue;
      }
      if (value.is_object() && target.contains(key) && target[key].is_object()) {
        mergeByName(target[key], value);
        continue;
      }
      target[key] = value;
    }
  }

  // fieldsV1 of a body as the API server spells it: f:field, k:{"name":...} for named list items
  // (k:{"mountPath":...} for volumeMounts).
  static Json fieldsOf(const Json& body) {
    Json trimmed = body;
    trimmed.erase("apiVersion");
    trimmed.erase("kind");
    if (trimmed.contains("metadata") && trimmed["metadata"].is_object()) {
      for (const char* field : {"name", "namespace", "resourceVersion", "managedFields", "uid"}) {
        trimmed["metadata"].erase(field);
      }
      if (trimmed["metadata"].empty()) trimmed.erase("metadata");
    }
    return fieldsOfValue(trimmed);
  }
  static Json fieldsOfValue(const Json& value) {
    Json out = Json::object();
    if (value.is_object()) {
      for (const auto& [key, item] : value.items()) out["f:" + key] = fieldsOfValue(item);
    } else if (const char* keyName = value.is_array() ? mergeKey(value) : nullptr) {
      for (const Json& item : value) {
        Json fields = fieldsOfValue(item);
        fields["."] = Json::object();
        out["k:" + Json{{keyName, item[keyName]}}.dump()] = fields;
      }
    }
    return out;
  }

  static void recordApply(Json& object, const Json& body, const std::string& manager) {
    Json& entries = object["metadata"]["managedFields"];
    if (!entries.is_array()) entries = Json::array();
    Json entry = {{"manager", manager},
                  {"operation", "Apply"},
                  {"apiVersion", body.value("apiVersion", "")},
                  {"fieldsType", "FieldsV1"},
                  {"fieldsV1", fieldsOf(body)}};
    for (Json& existing : entries) {
      if (existing.value("manager", "") == manager && existing.value("operation", "") == "Apply" &&
          !existing.contains("subresource")) {
        existing = entry;
        return;
      }
    }
    entries.push_back(entry);
  }

  std::mutex mu_;
  std::map<std::string, Json> objects_;  // GUARDED_BY(mu_), by "resource|namespace|name"
  std::uint64_t version_ = 0;            // GUARDED_BY(mu_)
  std::uint64_t uids_ = 0;               // GUARDED_BY(mu_)
  std::vector<Failure> failures_;        // GUARDED_BY(mu_)
  std::vector<Request> requests_;        // GUARDED_BY(mu_)
};

}  // namespace sessionstore::kube
