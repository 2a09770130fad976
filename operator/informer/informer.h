// An informer keeps a local cache of one kind of object, scoped by namespaces and a label
// selector, in step with the API server: it lists (page by page), then watches from the list's
// resourceVersion with bookmarks and a jittered timeout; it re-watches from the last seen
// resourceVersion when a stream ends, relists on 410 Gone (as HTTP 410 or an ERROR event) and on
// a malformed event, and backs off while the server is away. Handlers hear every change, so a
// controller can enqueue keys; the cache answers reads without a request.
// Objects are kept compact: each passes the options' transform (slimming it to what the operator
// reads) and is stored as CBOR deflated against the first object's (packer.h), decoded on each
// read; an nlohmann tree costs about five times the JSON text, CBOR a little less than the text,
// and deflated CBOR a fifth of that.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "clock/clock.h"
#include "informer/packer.h"
#include "kube/client.h"

namespace sessionstore::informer {

using kube::Json;

struct Handlers {
  std::function<void(const Json& object)> onAdd;
  std::function<void(const Json& before, const Json& after)> onUpdate;  // also on resync
  // The object as the cache last held it (as the event brought it when the cache had none):
  // an object that left a label-scoped watch's selector arrives as a deletion without the label,
  // and its owner is known from what the cache held.
  std::function<void(const Json& object)> onDelete;
};

// Drops metadata.managedFields, which the operator never reads and which is often the largest
// part of an object.
void stripManagedFields(Json& object);

struct InformerOptions {
  kube::Resource resource;
  std::vector<std::string> namespaces;  // empty: all namespaces (or a cluster-scoped resource)
  std::string labelSelector;
  std::string fieldSelector;
  clock::Duration resync{0};  // 0: no resync
  int64_t pageSize = 500;
  std::function<void(Json&)> transform = stripManagedFields;  // applied before caching
  // Lists and watches ask for PartialObjectMetadata only (metadata.k8s.io's "as=" form): the
  // objects' data (a Secret's) never reaches the operator through this informer.
  bool metadataOnly = false;
  // Each watch asks the server to end it after a random time in [min, max], as client-go does.
  std::chrono::seconds minWatchTimeout{300};
  std::chrono::seconds maxWatchTimeout{600};
  // A resource that may not be served at all (a custom resource whose CRD is not installed, as
  // KEDA's ScaledObjects): a list answered NotFound is no error, the cache counts as synced and
  // empty, and the list is tried again after absentRecheck (said once in the log, no warning,
  // no backoff).
  bool optional = false;
  clock::Duration absentRecheck = std::chrono::minutes(10);
  // Fields (dotted paths to a string, such as "spec.target.deployment") each cached object is
  // indexed by: listWhere() answers "the objects whose field equals V" without decoding the
  // others, as the API server answers a field selector on a CRD's selectableFields.
  std::vector<std::string> indexedFields;
  clock::Duration initialBackoff = std::chrono::milliseconds(800);
  clock::Duration maxBackoff = std::chrono::seconds(30);
};

struct InformerStats {
  uint64_t lists = 0;    // successful lists (the first one and every relist)
  uint64_t watches = 0;  // watch streams opened
  uint64_t gone = 0;     // 410 Gone answers that forced a relist
  uint64_t errors = 0;   // failed requests and broken streams
  uint64_t events = 0;   // watch events applied (bookmarks excluded)
};

class Informer {
 public:
  // uniform01: randomness for jitter, injected (tests make it fixed).
  Informer(kube::Client& client, InformerOptions options, Handlers handlers,
           const clock::Clock& clock = clock::systemClock(),
           std::function<double()> uniform01 = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void start();
  // Stops every thread; handlers are not called after it returns.
  void stop();

  // True once every namespace has been listed once.
  bool hasSynced() const;
  // Blocks until synced, stopped, or `timeout` (on the injected clock) has passed.
  bool waitForSync(clock::Duration timeout) const;

  std::optional<Json> get(const std::string& ns, const std::string& name) const;
  // The cached object's metadata.resourceVersion without decoding it; nullopt when not cached.
  std::optional<std::string> resourceVersionOf(const std::string& ns,
                                               const std::string& name) const;
  std::vector<Json> list(const std::string& ns = "") const;
  // The cached objects of `ns` ("": all) whose `field` is the string `value`; nullopt when
  // `field` is not one of the options' indexedFields. Only the matches are decoded.
  std::optional<std::vector<Json>> listWhere(const std::string& ns, std::string_view field,
                                             std::string_view value) const;
  bool indexes(std::string_view field) const;
  size_t size() const;
  InformerStats stats() const;
  const kube::Resource& resource() const { return options_.resource; }
  // The namespaces watched (empty: all) and whether every object of them is cached (no label
  // or field selector): then a list of a namespace can be answered from the cache.
  const std::vector<std::string>& namespaces() const { return options_.namespaces; }
  bool complete() const { return options_.labelSelector.empty() && options_.fieldSelector.empty(); }
  const std::string& labelSelector() const { return options_.labelSelector; }
  // Whether the last list found the resource served (false for an optional resource answered
  // NotFound; true before the first list).
  bool served() const;

  // "namespace/name", or "name" for a cluster-scoped object; "" when it has neither.
  static std::string keyOf(const Json& object);

 private:
  void run(const std::string& ns);
  // Lists `ns` and replaces its part of the cache; returns the list's resourceVersion.
  kube::Result<std::string> relist(const std::string& ns);
  // The optional resource is not served: `ns`'s part of the cache is emptied and synced.
  void markAbsent(const std::string& ns);
  void apply(const kube::WatchEvent& event);
  // A cached object: its resourceVersion, the values of the indexed fields (in the order of
  // options_.indexedFields; nullopt where absent or not a string), and the object as CBOR.
  struct Entry {
    std::string resourceVersion;
    std::vector<std::optional<std::string>> indexed;
    Packer::Packed packed;
  };
  Entry encode(const Json& object);
  Json decode(const Entry& entry) const;
  void resyncLoop();
  // Waits `d` on the clock unless stopped first; false when stopped.
  bool pause(clock::Duration d);
  std::chrono::seconds watchTimeout();

  kube::Client& client_;
  const InformerOptions options_;
  const Handlers handlers_;
  const clock::Clock& clock_;
  std::function<double()> uniform01_;
  Packer packer_;

  mutable std::mutex mu_;
  mutable std::condition_variable_any changed_;        // notified on sync, stop, and to end pauses
  std::map<std::string, Entry> store_;                 // GUARDED_BY(mu_), by keyOf
  std::map<std::string, bool> synced_;                 // GUARDED_BY(mu_), by namespace
  std::map<std::string, kube::WatchStream*> streams_;  // GUARDED_BY(mu_), open streams to cancel
  InformerStats stats_;                                // GUARDED_BY(mu_)
  bool running_ = false;                               // GUARDED_BY(mu_)
  bool served_ = true;                                 // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace sessionstore::informer
