// What the reconciler may read without a request: the informers' caches of the SessionStores
// and of the objects the operator manages (selected by the managed-by label). A cache answers
// only when it has synced; an object it holds may be behind the server by a few events, so the
// reconciler uses a hit only to skip work (the object already is as desired) and a miss only to
// create with a request that fails when a same-named object exists after all (a user's object
// carries no managed-by label, so the cache never holds it).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "informer/informer.h"
#include "kube/resource.h"

namespace sessionstore::reconcile {

using Json = nlohmann::json;

struct CacheLookup {
  bool known = false;          // the cache has synced and holds this kind
  std::optional<Json> object;  // when known: the object, or nullopt when the cache has none
};

class ObjectCache {
 public:
  virtual ~ObjectCache() = default;
  virtual CacheLookup get(const kube::Resource& resource, const std::string& ns,
                          const std::string& name) const = 0;
};

// An ObjectCache over informers, one per resource (by kube::Resource::resource and group).
class InformerCache final : public ObjectCache {
 public:
  // REQUIRES: `informer` outlives the cache.
  void add(const informer::Informer& informer);
  CacheLookup get(const kube::Resource& resource, const std::string& ns,
                  const std::string& name) const override;

 private:
  std::map<std::string, const informer::Informer*> informers_;  // by group/resource
};

// The label selector of every object the operator manages.
inline constexpr const char* kManagedSelector = "app.kubernetes.io/managed-by=sessionstore-operator";

// The informers' transform for managed objects: what the reconciler compares (the body it
// applies is a subset of spec, data and metadata), without managedFields and, except for a
// StatefulSet (its readiness), without status.
void slimManagedObject(Json& object);

// The SessionStore keys ("namespace/name") that control `object` through an ownerReference:
// what a change to a managed object enqueues.
std::vector<std::string> controllingSessionStores(const Json& object);

}  // namespace sessionstore::reconcile
