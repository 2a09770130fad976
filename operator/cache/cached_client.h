// The operator's reads from its caches, as controller-runtime's delegating client: a
// kube::Client whose get() answers from a synced informer of that resource when the object is
// there, and asks the server otherwise (the caches are label-scoped: a miss proves nothing, a
// same-named object of the user's may exist). A list asking resourceVersion "0" (any recent
// version, which the API server too answers from its cache) with no selector is answered from a
// complete cache registered with serveListsFrom(). A list by one field of a cache's
// indexedFields ("spec.target.deployment=shop", the form of the API server's field selectors on
// a CRD's selectableFields) is answered from a complete, synced cache registered with serveFrom(),
// as fresh as the cache (as controller-runtime's cached lists). Every other list, the watches and
// every write go to the server.
//
// Read-your-writes lives here: the client remembers the object (or deletion) each of its own
// writes returned, for resources it serves from a cache, so that a get() right after a write
// never answers with the older copy the cache may still hold. The memory of a write is dropped
// once the cache holds that version or a later one (resourceVersions compare as etcd revisions
// when both are decimal, as Kubernetes 1.34's comparable resource versions allow; otherwise
// only equality is trusted and the server is asked), or after a deletion reaches the cache, or
// after kForgetAfter at the latest.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "clock/clock.h"
#include "informer/informer.h"
#include "kube/client.h"

namespace sessionstore::cache {

using kube::Json;

struct CachedClientStats {
  uint64_t cacheHits = 0;       // get() answered from a cache
  uint64_t rememberedHits = 0;  // get() answered with the object an own write returned
  uint64_t serverReads = 0;     // get() sent to the server
  uint64_t listCacheHits = 0;   // list() answered from a cache
  uint64_t remembered = 0;      // writes remembered now (not yet seen by their cache)
};

class CachedClient final : public kube::Client {
 public:
  // A write the cache has not shown after this long is forgotten (the cache's watch is broken
  // or the object left its label scope with no event); get() then trusts the cache again.
  static constexpr clock::Duration kForgetAfter = std::chrono::minutes(5);

  // REQUIRES: server and clock outlive this client.
  explicit CachedClient(kube::Client& server, const clock::Clock& clock = clock::systemClock());

  // Reads of cache.resource() are answered from `cache` once it has synced (several caches of
  // one resource with different label scopes: from the one that holds the object, once every
  // one of them has synced). The cache's
  // handlers should be wrapped by observing() so that writes are forgotten when it catches up.
  // REQUIRES: called before the client is used from other threads; cache outlives this client.
  void serveFrom(const informer::Informer& cache);
  // Lists of cache.resource() with resourceVersion "0", no selector and no paging, of a
  // namespace the cache watches, are answered from `cache` once it has synced (an optional
  // resource that is not served: an empty list).
  // REQUIRES: cache.complete(); called before the client is used from other threads; cache
  // outlives this client.
  void serveListsFrom(const informer::Informer& cache);
  // Lists of cache.resource() with resourceVersion "0", an equality-only label selector that
  // holds every requirement of the cache's own (equality-only) selector, no field selector and
  // no paging, of a namespace the cache watches, are answered from `cache` once it has synced,
  // filtered by the selector: every object they may return is in the cache. Any other selector
  // (set-based, !=, existence, or one the cache's scope does not imply) goes to the server.
  // REQUIRES: cache.labelSelector() is equality-only and not empty, cache has no field selector;
  // called before the client is used from other threads; cache outlives this client.
  void serveSelectedListsFrom(const informer::Informer& cache);
  // `next`, preceded by this client's bookkeeping of what the cache of `resource` applied.
  informer::Handlers observing(const kube::Resource& resource, informer::Handlers next);

  CachedClientStats stats() const;

  kube::Result<Json> get(const kube::Resource& r, const std::string& ns, const std::string& name,
                         const std::string& subresource = "") override;
  kube::Result<kube::ObjectList> list(const kube::Resource& r, const std::string& ns,
                                      const kube::ListOptions& options = {}) override;
  kube::Result<Json> create(const kube::Resource& r, const std::string& ns, const Json& object,
                            const kube::CreateOptions& options = {}) override;
  kube::Result<Json> update(const kube::Resource& r, const std::string& ns, const Json& object,
                            const std::string& subresource = "") override;
  kube::Result<Json> remove(const kube::Resource& r, const std::string& ns, const std::string& name,
                            const kube::DeleteOptions& options = {}) override;
  kube::Result<Json> patch(const kube::Resource& r, const std::string& ns, const std::string& name,
                           kube::PatchType type, const Json& body,
                           const kube::PatchOptions& options = {}) override;
  kube::Result<std::unique_ptr<kube::WatchStream>> watch(
      const kube::Resource& r, const std::string& ns, const kube::WatchOptions& options) override;

  // Whether a cache holding `cached` has caught up with a write that returned `written`: equal,
  // or both decimal and cached >= written. Pure; exposed for tests.
  static bool caughtUp(const std::string& cached, const std::string& written);

 private:
  // What one of this client's writes returned, until its cache shows it.
  struct Written {
    std::string resourceVersion;  // may be empty (a deletion answered with a Status)
    std::optional<Json> object;   // nullopt: deleted
    clock::MonotonicTime at{};
  };

  // The caches of r; empty when r has none.
  const std::vector<const informer::Informer*>& cachesFor(const kube::Resource& r) const;
  static std::string keyOf(const kube::Resource& r, const std::string& ns, const std::string& name);
  // Remembers `answer` (the server's answer to a write of r/ns/name) when r is served by a cache.
  void remember(const kube::Resource& r, const std::string& ns, const std::string& name,
                const Json& answer, bool removed);
  void cacheApplied(const kube::Resource& r, const Json& object, bool deleted);
  // Drops what was written more than kForgetAfter before `now`: the oldest first, from the front
  // of byAge_, so that a write costs the same whatever the number remembered.
  // REQUIRES: mu_ held.
  void forgetOlderThan(clock::MonotonicTime now);
  // A list by one indexed field answered from a cache of r; nullopt: the server must answer.
  std::optional<kube::ObjectList> listBySelectedCache(const kube::Resource& r,
                                                      const std::string& ns,
                                                      const kube::ListOptions& options);
  std::optional<kube::ObjectList> listByIndexedField(const kube::Resource& r,
                                                     const std::string& ns,
                                                     const kube::ListOptions& options);

  kube::Client& server_;
  const clock::Clock& clock_;
  // By resource path; set before use, read-only after.
  std::map<std::string, std::vector<const informer::Informer*>> caches_;
  std::map<std::string, const informer::Informer*> listCaches_;
  std::map<std::string, const informer::Informer*> selectedListCaches_;

  mutable std::mutex mu_;
  std::map<std::string, Written> written_;  // GUARDED_BY(mu_), by keyOf
  // Each remembered write's key and time, oldest first; an entry whose write was dropped or
  // remembered again since is skipped when it comes to the front.
  std::deque<std::pair<clock::MonotonicTime, std::string>> byAge_;  // GUARDED_BY(mu_)
  CachedClientStats stats_;                 // GUARDED_BY(mu_)
};

}  // namespace sessionstore::cache
