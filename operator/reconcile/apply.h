// The reconciler's writes, in one place (prometheus-operator's CreateOrUpdate): each makes one
// change through kube::Client and returns what happened as a value (Written, or the object as
// the server answered), so writes that do not depend on each other run side by side with
// nothing shared. What to write is decided in decide.h; here only how: a fresh store's objects
// are created without a read first, an object the operator created is taken over before its
// first apply, and an object that turns out to be someone else's is never touched.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/session_store.h"
#include "kube/client.h"
#include "managedstore/managed_store.h"
#include "reconcile/gather.h"

namespace sessionstore::reconcile {

// What one write of an object the SessionStore controls did.
struct Written {
  enum class Kind {
    kUnchanged,  // it already was as desired: no write
    kCreated,
    kUpdated,
    kNotOurs,  // a same-named object of someone else's: left alone
    kRefused,  // the API server refused it (Invalid, Forbidden): retrying will not help
    kFailed,   // any other API error: retry with backoff
  };
  Kind kind = Kind::kUnchanged;
  std::string what;                  // "ConfigMap shop-redis-config"
  Json object;                       // as written or observed (kUnchanged, kCreated, kUpdated)
  std::optional<kube::Error> error;  // kRefused, kFailed
};

class Applier {
 public:
  // `client` writes and reads; `live` reads the whole object from the server (takeOver).
  // REQUIRES: both outlive the applier; `store` is the SessionStore of the pass.
  Applier(kube::Client& client, kube::Client& live, const api::SessionStore& store);

  // Makes `desired` (with its hash) exist as built, given what gather saw of it. Not read
  // (a fresh store): created without a read; AlreadyExists is read then and decided again.
  Written ensureOwned(const Json& desired, const Observed& observed) const;

  // Creates `desired` and nothing else: AlreadyExists is returned as it is (nothing read).
  kube::Result<Json> createOnly(const Json& desired) const;
  // Creates the password Secret with `passwords` (AlreadyExists when it exists: nothing written).
  kube::Result<Json> createPasswordSecret(const managedstore::Passwords& passwords) const;
  // A Secret the operator makes whole from new keys (a managed TLS store's CA and certificate):
  // created when `observed` has none, else its data replaced by a merge patch on the version
  // observed (a newer version is a conflict, retried; no update verb needed).
  kube::Result<Json> writeSecret(const Json& desired, const Observed& observed) const;
  // Server-side apply to a user's object (the Deployment's wiring, the Service's affinity).
  kube::Result<Json> applyTo(const kube::Resource& resource, const Json& body) const;
  // The SessionStore itself: a merge patch of its metadata (the finalizer), its status.
  kube::Result<Json> patchStore(const Json& patch) const;
  kube::Result<Json> writeStatus(const Json& raw, const Json& status) const;
  // The pod `name`'s container `container` gets the memory limit `limit` in place (the pod's
  // resize subresource, Kubernetes 1.33 and later; NotFound where it is not served or the pod
  // does not exist): no restart.
  kube::Result<Json> resizeMemoryLimit(const std::string& name, const std::string& container,
                                       const std::string& limit) const;

  // The fields a create gave the operator's manager are recorded as an Update; a later apply
  // would share them with that entry rather than own them, and could never remove one. Before
  // the first apply to such an object, the entry is folded into the operator's Apply entry
  // (client-go's csaupgrade does the same for kubectl). Reads the whole object from `live` (a
  // cached copy keeps the operator's own entries at most) when `observed` may hold such an entry.
  // Returns the object as patched, or `observed` when there was nothing to take over.
  kube::Result<Json> takeOverCreatedFields(const kube::Resource& resource,
                                           const Json& observed) const;

 private:
  kube::Client& client_;
  kube::Client& live_;
  const api::SessionStore& store_;
};

// The resource of an object body by its kind; nullptr for kinds the reconciler does not write.
const kube::Resource* resourceFor(const Json& object);

}  // namespace sessionstore::reconcile
