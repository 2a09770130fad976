// The Kubernetes API, as the operator uses it: every verb on any resource, objects as JSON,
// errors as values. RestClient implements it over an HTTP transport; tests mock it
// (tests/mocks/kube/mock_client.h) or run against a real kube-apiserver.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kube/error.h"
#include "kube/resource.h"

namespace sessionstore::kube {

using Json = nlohmann::json;

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t limit = 0;            // 0: no paging
  std::string continueToken;    // from the previous page
  std::string resourceVersion;  // "" (most recent, from etcd), "0" (any, from the cache), ...
  // Items as PartialObjectMetadata (metadata only, no data or spec): Accept
  // application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1.
  bool metadataOnly = false;
};

struct ObjectList {
  std::vector<Json> items;
  std::string resourceVersion;  // of the list, to start a watch from
  std::string continueToken;    // empty on the last page
};

struct DeleteOptions {
  std::optional<std::string> propagationPolicy;  // "Foreground", "Background", "Orphan"
  std::optional<std::string> preconditionUid;
  std::optional<std::string> preconditionResourceVersion;
};

enum class PatchType {
  kMerge,      // application/merge-patch+json (RFC 7386)
  kJson,       // application/json-patch+json (RFC 6902)
  kStrategic,  // application/strategic-merge-patch+json (built-in types only)
  kApply,      // application/apply-patch+yaml: server-side apply
};

struct CreateOptions {
  bool dryRun = false;       // dryRun=All
  std::string fieldManager;  // who the created fields belong to (managedFields, as Update)
};

struct PatchOptions {
  std::string fieldManager;  // required for kApply
  bool force = false;        // kApply: take ownership of conflicting fields
  bool dryRun = false;       // dryRun=All
  std::string subresource;   // "status", "scale", or "" for the object itself
};

struct WatchOptions {
  std::string labelSelector;
  std::string fieldSelector;
  std::string resourceVersion;  // start after this one
  bool allowBookmarks = true;
  std::chrono::seconds timeout{300};  // timeoutSeconds: the server ends the stream after it
  // Events carry PartialObjectMetadata (metadata only): Accept
  // application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1.
  bool metadataOnly = false;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  WatchEventType type;
  Json object;  // the object; for kError a metav1.Status; for kBookmark only its resourceVersion
};

// One watch stream. next() blocks until an event, the end of the stream (nullopt value with no
// error: re-watch from the last resourceVersion) or an error (kGone: relist).
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Returns the next event; std::nullopt when the server closed the stream normally.
  virtual Result<std::optional<WatchEvent>> next() = 0;
  // Ends the stream from another thread; next() then returns std::nullopt.
  virtual void cancel() = 0;
};

class Client {
 public:
  virtual ~Client() = default;

  // ns is ignored for cluster-scoped resources; "" on a namespaced one lists all namespaces.
  virtual Result<Json> get(const Resource& r, const std::string& ns, const std::string& name,
                           const std::string& subresource = "") = 0;
  // One page; see listAll for every page.
  virtual Result<ObjectList> list(const Resource& r, const std::string& ns,
                                  const ListOptions& options = {}) = 0;
  virtual Result<Json> create(const Resource& r, const std::string& ns, const Json& object,
                              const CreateOptions& options = {}) = 0;
  // PUT; the object's metadata.resourceVersion makes it fail with kConflict when stale.
  virtual Result<Json> update(const Resource& r, const std::string& ns, const Json& object,
                              const std::string& subresource = "") = 0;
  // Returns the object as the server answered (it may still exist with a deletionTimestamp).
  virtual Result<Json> remove(const Resource& r, const std::string& ns, const std::string& name,
                              const DeleteOptions& options = {}) = 0;
  virtual Result<Json> patch(const Resource& r, const std::string& ns, const std::string& name,
                             PatchType type, const Json& body,
                             const PatchOptions& options = {}) = 0;
  virtual Result<std::unique_ptr<WatchStream>> watch(const Resource& r, const std::string& ns,
                                                     const WatchOptions& options) = 0;

  // Server-side apply of `object` (apiVersion, kind, metadata.name set by the caller).
  Result<Json> apply(const Resource& r, const std::string& ns, const Json& object,
                     const std::string& fieldManager, bool force = true,
                     const std::string& subresource = "");
  // Every page of a list, following continue tokens; restarts once from the beginning when a
  // continue token has expired (410).
  Result<ObjectList> listAll(const Resource& r, const std::string& ns, ListOptions options = {});
};

}  // namespace sessionstore::kube
