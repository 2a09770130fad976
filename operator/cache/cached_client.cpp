#include "cache/cached_client.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <string_view>

#include "kube/json_path.h"

namespace sessionstore::cache {

namespace {

// An equality-only label selector ("a=b,c==d") as its requirements; nullopt for any other kind
// (set-based, !=, existence), which only the server answers. Label keys and values hold none of
// the characters a selector's syntax uses, so a plain split is exact.
std::optional<std::map<std::string, std::string>> equalityRequirements(std::string_view selector) {
  std::map<std::string, std::string> out;
  while (!selector.empty()) {
    const std::size_t comma = selector.find(',');
    const std::string_view term = selector.substr(0, comma);
    selector = comma == std::string_view::npos ? std::string_view() : selector.substr(comma + 1);
    const std::size_t eq = term.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    const std::size_t valueAt = term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
    const std::string_view key = term.substr(0, eq);
    const std::string_view value = term.substr(valueAt);
    if (key.back() == '!' || key.find_first_of(" ()!") != std::string_view::npos ||
        value.find_first_of(" ()=!") != std::string_view::npos) {
      return std::nullopt;
    }
    if (const auto [at, added] = out.emplace(key, value); !added && at->second != value) {
      return std::nullopt;  // a=b,a=c matches nothing: the server says so
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string metaString(const Json& object, const char* field) {
  if (!object.is_object()) return "";
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  const auto it = meta->find(field);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
}

std::optional<uint64_t> decimal(const std::string& text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

CachedClient::CachedClient(kube::Client& server, const clock::Clock& clock)
    : server_(server), clock_(clock) {}

void CachedClient::serveFrom(const informer::Informer& cache) {
  caches_[cache.resource().path()].push_back(&cache);
}

void CachedClient::serveListsFrom(const informer::Informer& cache) {
  listCaches_[cache.resource().path()] = &cache;
}

void CachedClient::serveSelectedListsFrom(const informer::Informer& cache) {
  selectedListCaches_[cache.resource().path()] = &cache;
}

informer::Handlers CachedClient::observing(const kube::Resource& resource,
                                           informer::Handlers next) {
  return informer::Handlers{
      .onAdd =
          [this, resource, onAdd = std::move(next.onAdd)](const Json& object) {
            cacheApplied(resource, object, false);
            if (onAdd) onAdd(object);
          },
      .onUpdate =
          [this, resource, onUpdate = std::move(next.onUpdate)](const Json& before,
                                                                const Json& after) {
            cacheApplied(resource, after, false);
            if (onUpdate) onUpdate(before, after);
          },
      .onDelete =
          [this, resource, onDelete = std::move(next.onDelete)](const Json& object) {
            cacheApplied(resource, object, true);
            if (onDelete) onDelete(object);
          }};
}

CachedClientStats CachedClient::stats() const {
  std::lock_guard lock(mu_);
  CachedClientStats out = stats_;
  out.remembered = written_.size();
  return out;
}

bool CachedClient::caughtUp(const std::string& cached, const std::string& written) {
  if (cached == written) return true;
  const auto c = decimal(cached);
  const auto w = decimal(written);
  return c && w && *c >= *w;
}

const std::vector<const informer::Informer*>& CachedClient::cachesFor(
    const kube::Resource& r) const {
  static const std::vector<const informer::Informer*> kNone;
  const auto it = caches_.find(r.path());
  return it == caches_.end() ? kNone : it->second;
}

std::string CachedClient::keyOf(const kube::Resource& r, const std::string& ns,
                                const std::string& name) {
  return r.path(ns, name);
}

void CachedClient::cacheApplied(const kube::Resource& r, const Json& object, bool deleted) {
  const auto key = keyOf(r, metaString(object, "namespace"), metaString(object, "name"));
  std::lock_guard lock(mu_);
  forgetOlderThan(clock_.now());
  const auto it = written_.find(key);
  if (it == written_.end()) return;
  // A deletion in the cache: what it holds no longer matters (a miss asks the server).
  if (deleted || caughtUp(metaString(object, "resourceVersion"), it->second.resourceVersion)) {
    written_.erase(it);
    if (written_.empty()) byAge_.clear();
  }
}

void CachedClient::remember(const kube::Resource& r, const std::string& ns, const std::string& name,
                            const Json& answer, bool removed) {
  if (cachesFor(r).empty() || name.empty()) return;
  const auto now = clock_.now();
  Written entry{.resourceVersion = metaString(answer, "resourceVersion"), .at = now};
  // A DELETE answers with the object while finalizers hold it (deletionTimestamp set), with its
  // last state or a Status when it is gone.
  const bool stillThere = !removed || !metaString(answer, "deletionTimestamp").empty();
  if (stillThere && answer.is_object() && answer.value("kind", "") != "Status") {
    entry.object = answer;
  }
  std::string key = keyOf(r, ns, name);
  std::lock_guard lock(mu_);
  forgetOlderThan(now);
  written_[key] = std::move(entry);
  byAge_.emplace_back(now, std::move(key));
}

void CachedClient::forgetOlderThan(clock::MonotonicTime now) {
  while (!byAge_.empty() && now - byAge_.front().first > kForgetAfter) {
    const auto it = written_.find(byAge_.front().second);
    // Not remembered again since (a later write of the key has a later time).
    if (it != written_.end() && it->second.at == byAge_.front().first) written_.erase(it);
    byAge_.pop_front();
  }
  // Once nothing is remembered the queue holds only skipped entries.
  if (written_.empty()) byAge_.clear();
}

kube::Result<Json> CachedClient::get(const kube::Resource& r, const std::string& ns,
                                     const std::string& name, const std::string& subresource) {
  // The cache that holds the object, when every cache of r has synced.
  const informer::Informer* cache = nullptr;
  std::optional<std::string> cachedVersion;
  const auto& caches = cachesFor(r);
  bool synced = subresource.empty() && !caches.empty();
  for (const informer::Informer* c : caches) {
    if (!synced || !c->hasSynced()) {
      synced = false;
      break;
    }
    if (!cachedVersion) {
      cachedVersion = c->resourceVersionOf(ns, name);
      if (cachedVersion) cache = c;
    }
  }
  auto fromServer = [&] {
    {
      std::lock_guard lock(mu_);
      ++stats_.serverReads;
    }
    return server_.get(r, ns, name, subresource);
  };
  if (!synced) return fromServer();
  bool askServer = cache == nullptr;
  {
    std::lock_guard lock(mu_);
    forgetOlderThan(clock_.now());
    const auto it = written_.find(keyOf(r, ns, name));
    if (it != written_.end()) {
      const Written& w = it->second;
      if (cachedVersion && caughtUp(*cachedVersion, w.resourceVersion)) {
        written_.erase(it);
      } else if (cachedVersion && w.object && decimal(*cachedVersion) &&
                 decimal(w.resourceVersion)) {
        // The cache holds an older version than this client's write returned.
        ++stats_.rememberedHits;
        return *w.object;
      } else {
        // Deleted by this client, or versions that do not compare: the server knows.
        askServer = true;
      }
    }
  }
  if (askServer) return fromServer();
  auto cached = cache->get(ns, name);
  if (!cached) return fromServer();  // deleted since
  {
    std::lock_guard lock(mu_);
    ++stats_.cacheHits;
  }
  return std::move(*cached);
}

kube::Result<kube::ObjectList> CachedClient::list(const kube::Resource& r, const std::string& ns,
                                                  const kube::ListOptions& options) {
  const bool anyVersion = options.resourceVersion == "0" && options.labelSelector.empty() &&
                          options.fieldSelector.empty() && options.limit == 0 &&
                          options.continueToken.empty() && !options.metadataOnly;
  if (const auto it = listCaches_.find(r.path()); anyVersion && it != listCaches_.end()) {
    const informer::Informer& cache = *it->second;
    const auto& watched = cache.namespaces();
    const bool covered =
        watched.empty() || (!ns.empty() && std::find(watched.begin(), watched.end(), ns) !=
                                               watched.end());
    if (covered && cache.complete() && cache.hasSynced()) {
      {
        std::lock_guard lock(mu_);
        ++stats_.listCacheHits;
      }
      return kube::ObjectList{.items = cache.list(ns)};
    }
  }
  if (auto selected = listBySelectedCache(r, ns, options)) return std::move(*selected);
  if (auto indexed = listByIndexedField(r, ns, options)) return std::move(*indexed);
  return server_.list(r, ns, options);
}

std::optional<kube::ObjectList> CachedClient::listBySelectedCache(
    const kube::Resource& r, const std::string& ns, const kube::ListOptions& options) {
  if (options.resourceVersion != "0" || options.labelSelector.empty() ||
      !options.fieldSelector.empty() || options.limit != 0 || !options.continueToken.empty() ||
      options.metadataOnly) {
    return std::nullopt;
  }
  const auto it = selectedListCaches_.find(r.path());
  if (it == selectedListCaches_.end()) return std::nullopt;
  const informer::Informer& cache = *it->second;
  const auto wanted = equalityRequirements(options.labelSelector);
  const auto scope = equalityRequirements(cache.labelSelector());
  if (!wanted || !scope) return std::nullopt;
  for (const auto& [key, value] : *scope) {
    const auto asked = wanted->find(key);
    if (asked == wanted->end() || asked->second != value) return std::nullopt;
  }
  const auto& watched = cache.namespaces();
  const bool covered =
      watched.empty() ||
      (!ns.empty() && std::find(watched.begin(), watched.end(), ns) != watched.end());
  if (!covered || !cache.hasSynced()) return std::nullopt;
  kube::ObjectList out;
  for (Json& object : cache.list(ns)) {
    const Json* labels = kube::at(object, {"metadata", "labels"});
    const bool matches =
        labels != nullptr && labels->is_object() &&
        std::all_of(wanted->begin(), wanted->end(), [labels](const auto& requirement) {
          const auto label = labels->find(requirement.first);
          return label != labels->end() && label->is_string() &&
                 label->template get<std::string>() == requirement.second;
        });
    if (matches) out.items.push_back(std::move(object));
  }
  {
    std::lock_guard lock(mu_);
    ++stats_.listCacheHits;
  }
  return out;
}

std::optional<kube::ObjectList> CachedClient::listByIndexedField(
    const kube::Resource& r, const std::string& ns, const kube::ListOptions& options) {
  if (options.fieldSelector.empty() || !options.labelSelector.empty() ||
      !options.continueToken.empty() || options.metadataOnly) {
    return std::nullopt;
  }
  // One requirement "field=value" (or "=="); the value as written, with no escapes (names never
  // hold the characters a selector escapes).
  const std::string& selector = options.fieldSelector;
  const auto eq = selector.find('=');
  if (eq == std::string::npos || eq == 0) return std::nullopt;
  const std::size_t valueAt = selector.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
  const std::string field = selector.substr(0, eq);
  const std::string value = selector.substr(valueAt);
  if (field.back() == '!' || value.find_first_of(",=!\\") != std::string::npos) {
    return std::nullopt;
  }
  for (const informer::Informer* cache : cachesFor(r)) {
    const auto& watched = cache->namespaces();
    const bool covered =
        watched.empty() || (!ns.empty() && std::find(watched.begin(), watched.end(), ns) !=
                                               watched.end());
    if (!covered || !cache->complete() || !cache->indexes(field) || !cache->hasSynced()) {
      continue;
    }
    auto items = cache->listWhere(ns, field, value);
    if (!items) continue;
    {
      std::lock_guard lock(mu_);
      ++stats_.listCacheHits;
    }
    return kube::ObjectList{.items = std::move(*items)};
  }
  return std::nullopt;
}

kube::Result<Json> CachedClient::create(const kube::Resource& r, const std::string& ns,
                                        const Json& object, const kube::CreateOptions& options) {
  auto created = server_.create(r, ns, object, options);
  if (created && !options.dryRun) remember(r, ns, metaString(*created, "name"), *created, false);
  return created;
}

kube::Result<Json> CachedClient::update(const kube::Resource& r, const std::string& ns,
                                        const Json& object, const std::string& subresource) {
  auto updated = server_.update(r, ns, object, subresource);
  if (updated) remember(r, ns, metaString(*updated, "name"), *updated, false);
  return updated;
}

kube::Result<Json> CachedClient::remove(const kube::Resource& r, const std::string& ns,
                                        const std::string& name,
                                        const kube::DeleteOptions& options) {
  auto removed = server_.remove(r, ns, name, options);
  if (removed) remember(r, ns, name, *removed, true);
  return removed;
}

kube::Result<Json> CachedClient::patch(const kube::Resource& r, const std::string& ns,
                                       const std::string& name, kube::PatchType type,
                                       const Json& body, const kube::PatchOptions& options) {
  auto patched = server_.patch(r, ns, name, type, body, options);
  if (patched && !options.dryRun) remember(r, ns, name, *patched, false);
  return patched;
}

kube::Result<std::unique_ptr<kube::WatchStream>> CachedClient::watch(
    const kube::Resource& r, const std::string& ns, const kube::WatchOptions& options) {
  return server_.watch(r, ns, options);
}

}  // namespace sessionstore::cache
