#include "informer/informer.h"

#include <algorithm>
#include <random>

#include "logging/log.h"

namespace sessionstore::informer {

namespace {

std::string metaString(const Json& object, const char* field) {
  if (!object.is_object() || !object.contains("metadata")) return "";
  const auto& meta = object["metadata"];
  if (!meta.is_object() || !meta.contains(field) || !meta[field].is_string()) return "";
  return meta[field].get<std::string>();
}

}  // namespace

void stripManagedFields(Json& object) {
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    object["metadata"].erase("managedFields");
  }
}

namespace {

// The string at a dotted path ("spec.target.deployment"); nullopt when absent or not a string.
std::optional<std::string> stringAtPath(const Json& object, std::string_view path) {
  const Json* at = &object;
  while (true) {
    if (!at->is_object()) return std::nullopt;
    const auto dot = path.find('.');
    const auto it = at->find(std::string(path.substr(0, dot)));
    if (it == at->end()) return std::nullopt;
    at = &*it;
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  if (!at->is_string()) return std::nullopt;
  return at->get<std::string>();
}

}  // namespace

Informer::Entry Informer::encode(const Json& object) {
  Entry entry{.resourceVersion = metaString(object, "resourceVersion"),
              .packed = packer_.pack(Json::to_cbor(object))};
  for (const auto& field : options_.indexedFields) {
    entry.indexed.push_back(stringAtPath(object, field));
  }
  return entry;
}

Json Informer::decode(const Entry& entry) const {
  return Json::from_cbor(packer_.unpack(entry.packed));
}

std::string Informer::keyOf(const Json& object) {
  const auto name = metaString(object, "name");
  if (name.empty()) return "";
  const auto ns = metaString(object, "namespace");
  return ns.empty() ? name : ns + "/" + name;
}

Informer::Informer(kube::Client& client, InformerOptions options, Handlers handlers,
                   const clock::Clock& clock, std::function<double()> uniform01)
    : client_(client),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      clock_(clock),
      uniform01_(std::move(uniform01)) {
  if (!uniform01_) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    uniform01_ = [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
  }
}

Informer::~Informer() { stop(); }

void Informer::start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  std::vector<std::string> namespaces = options_.namespaces;
  if (namespaces.empty()) namespaces.push_back("");
  for (const auto& ns : namespaces) {
    synced_[ns] = false;
    threads_.emplace_back([this, ns] { run(ns); });
  }
  if (options_.resync.count() > 0) threads_.emplace_back([this] { resyncLoop(); });
}

void Informer::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    running_ = false;
    for (auto& [ns, stream] : streams_) stream->cancel();
    threads.swap(threads_);
  }
  changed_.notify_all();
  for (auto& t : threads) t.join();
}

bool Informer::hasSynced() const {
  std::lock_guard lock(mu_);
  if (synced_.empty()) return false;
  for (const auto& [ns, done] : synced_) {
    if (!done) return false;
  }
  return true;
}

bool Informer::waitForSync(clock::Duration timeout) const {
  const auto deadline = clock_.now() + timeout;
  std::unique_lock lock(mu_);
  auto synced = [this] {
    if (synced_.empty()) return false;
    for (const auto& [ns, done] : synced_) {
      if (!done) return false;
    }
    return true;
  };
  while (!synced()) {
    if (!running_ || clock_.now() >= deadline) return false;
    clock_.waitUntil(changed_, lock, deadline);
  }
  return true;
}

std::optional<Json> Informer::get(const std::string& ns, const std::string& name) const {
  std::lock_guard lock(mu_);
  const auto it = store_.find(ns.empty() ? name : ns + "/" + name);
  if (it == store_.end()) return std::nullopt;
  return decode(it->second);
}

std::optional<std::string> Informer::resourceVersionOf(const std::string& ns,
                                                       const std::string& name) const {
  std::lock_guard lock(mu_);
  const auto it = store_.find(ns.empty() ? name : ns + "/" + name);
  if (it == store_.end()) return std::nullopt;
  return it->second.resourceVersion;
}

std::vector<Json> Informer::list(const std::string& ns) const {
  std::lock_guard lock(mu_);
  std::vector<Json> out;
  const std::string prefix = ns.empty() ? "" : ns + "/";
  for (auto it = store_.lower_bound(prefix); it != store_.end(); ++it) {
    if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(decode(it->second));
  }
  return out;
}

bool Informer::indexes(std::string_view field) const {
  return std::ranges::find(options_.indexedFields, field) != options_.indexedFields.end();
}

std::optional<std::vector<Json>> Informer::listWhere(const std::string& ns,
                                                     std::string_view field,
                                                     std::string_view value) const {
  const auto found = std::ranges::find(options_.indexedFields, field);
  if (found == options_.indexedFields.end()) return std::nullopt;
  const auto index = static_cast<std::size_t>(found - options_.indexedFields.begin());
  std::lock_guard lock(mu_);
  std::vector<Json> out;
  const std::string prefix = ns.empty() ? "" : ns + "/";
  for (auto it = store_.lower_bound(prefix); it != store_.end(); ++it) {
    if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
    const auto& indexed = it->second.indexed;
    if (index < indexed.size() && indexed[index] && *indexed[index] == value) {
      out.push_back(decode(it->second));
    }
  }
  return out;
}

bool Informer::served() const {
  std::lock_guard lock(mu_);
  return served_;
}

void Informer::markAbsent(const std::string& ns) {
  std::vector<Json> deleted;
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    for (auto it = store_.begin(); it != store_.end();) {
      const bool inNamespace = ns.empty() || it->first.compare(0, ns.size() + 1, ns + "/") == 0;
      if (inNamespace) {
        deleted.push_back(decode(it->second));
        it = store_.erase(it);
      } else {
        ++it;
      }
    }
    synced_[ns] = true;
    served_ = false;
  }
  changed_.notify_all();
  for (const auto& o : deleted)
    if (handlers_.onDelete) handlers_.onDelete(o);
}

size_t Informer::size() const {
  std::lock_guard lock(mu_);
  return store_.size();
}

InformerStats Informer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool Informer::pause(clock::Duration d) {
  const auto deadline = clock_.now() + d;
  std::unique_lock lock(mu_);
  while (running_ && clock_.now() < deadline) clock_.waitUntil(changed_, lock, deadline);
  return running_;
}

std::chrono::seconds Informer::watchTimeout() {
  const auto span = options_.maxWatchTimeout - options_.minWatchTimeout;
  const double r = uniform01_();
  return options_.minWatchTimeout +
         std::chrono::seconds(static_cast<int64_t>(static_cast<double>(span.count()) * r));
}

kube::Result<std::string> Informer::relist(const std::string& ns) {
  auto listed = client_.listAll(options_.resource, ns,
                                kube::ListOptions{.labelSelector = options_.labelSelector,
                                                  .fieldSelector = options_.fieldSelector,
                                                  .limit = options_.pageSize,
                                                  .metadataOnly = options_.metadataOnly});
  if (!listed) return std::unexpected(listed.error());

  std::map<std::string, Json> fresh;
  for (auto& item : listed->items) {
    if (options_.transform) options_.transform(item);
    auto key = keyOf(item);
    if (!key.empty()) fresh.emplace(std::move(key), std::move(item));
  }
  listed->items.clear();
  // What changed against the cache, for the handlers: added, updated, and gone while unseen.
  std::vector<Json> added, deleted;
  std::vector<std::pair<Json, Json>> updated;
  {
    std::lock_guard lock(mu_);
    if (!running_) return std::string();
    for (auto it = store_.begin(); it != store_.end();) {
      const bool inNamespace = ns.empty() || it->first.compare(0, ns.size() + 1, ns + "/") == 0;
      if (inNamespace && !fresh.contains(it->first)) {
        deleted.push_back(decode(it->second));
        it = store_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [key, object] : fresh) {
      auto entry = encode(object);
      auto it = store_.find(key);
      if (it == store_.end()) {
        if (handlers_.onAdd) added.push_back(std::move(object));
        store_.emplace(key, std::move(entry));
      } else {
        if (it->second.resourceVersion != entry.resourceVersion && handlers_.onUpdate) {
          updated.emplace_back(decode(it->second), std::move(object));
        }
        it->second = std::move(entry);
      }
    }
    synced_[ns] = true;
    served_ = true;
    ++stats_.lists;
  }
  changed_.notify_all();
  for (const auto& o : deleted)
    if (handlers_.onDelete) handlers_.onDelete(o);
  for (const auto& o : added)
    if (handlers_.onAdd) handlers_.onAdd(o);
  for (const auto& [before, after] : updated)
    if (handlers_.onUpdate) handlers_.onUpdate(before, after);
  return listed->resourceVersion;
}

void Informer::apply(const kube::WatchEvent& event) {
  Json object = event.object;
  if (options_.transform) options_.transform(object);
  const auto key = keyOf(object);
  if (key.empty()) return;
  const bool deleted = event.type == kube::WatchEventType::kDeleted;
  Entry entry = deleted ? Entry{} : encode(object);
  std::optional<Json> before;
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    ++stats_.events;
    const auto it = store_.find(key);
    if (it != store_.end()) before = decode(it->second);
    if (event.type == kube::WatchEventType::kDeleted) {
      store_.erase(key);
    } else {
      store_[key] = std::move(entry);
    }
  }
  if (deleted) {
    if (handlers_.onDelete) handlers_.onDelete(before ? *before : object);
  } else if (before) {
    if (handlers_.onUpdate) handlers_.onUpdate(*before, object);
  } else if (handlers_.onAdd) {
    handlers_.onAdd(object);
  }
}

void Informer::run(const std::string& ns) {
  std::string resourceVersion;
  bool needList = true;
  clock::Duration backoff = options_.initialBackoff;
  // Consecutive failures: each one is logged (the backoff bounds how often), so a server that
  // refuses the operator (a wrong CA, RBAC, the server down) is visible, and so is the recovery.
  int failures = 0;
  const auto where = [&] {
    return logging::Fields{{"resource", options_.resource.resource},
                           {"namespace", ns.empty() ? "(all)" : ns}};
  };
  auto failed = [&](bool relistAfter, std::string_view what, const kube::Error& error) {
    {
      std::lock_guard lock(mu_);
      ++stats_.errors;
    }
    ++failures;
    needList = needList || relistAfter;
    // A server that said when to come back (429 Retry-After) is not asked sooner.
    const auto wait =
        error.retryAfter ? std::max<clock::Duration>(backoff, *error.retryAfter) : backoff;
    auto fields = where();
    fields.push_back({"error", error.describe()});
    fields.push_back({"failures", failures});
    fields.push_back(
        {"retry_in_ms", std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()});
    logging::warn(what, fields);
    const bool go = pause(wait);
    backoff = std::min(backoff * 2, options_.maxBackoff);
    return go;
  };

  // A relist is a full read of the namespace: say why it happens (client-go's reflector logs
  // "too old resource version" too).
  auto logGone = [&](const std::string& oldVersion) {
    auto fields = where();
    fields.push_back({"resource_version", oldVersion});
    logging::info("resourceVersion too old (410 Gone), relisting", fields);
  };

  bool absent = false;  // the optional resource was not served at the last list
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (!running_) return;
    }
    if (needList) {
      auto rv = relist(ns);
      if (!rv && options_.optional && rv.error().kind == kube::ErrorKind::kNotFound) {
        if (!absent) {
          auto fields = where();
          fields.push_back({"group", options_.resource.group});
          fields.push_back(
              {"recheck_s",
               std::chrono::duration_cast<std::chrono::seconds>(options_.absentRecheck).count()});
          logging::info("resource not served (its CRD is not installed): none exist", fields);
          absent = true;
        }
        markAbsent(ns);
        failures = 0;
        backoff = options_.initialBackoff;
        if (!pause(options_.absentRecheck)) return;
        continue;
      }
      if (!rv) {
        if (!failed(true, "cannot list", rv.error())) return;
        continue;
      }
      if (absent) {
        logging::info("resource served now", where());
        absent = false;
      }
      resourceVersion = *rv;
      needList = false;
      if (failures > 0) {
        auto fields = where();
        fields.push_back({"failures", failures});
        logging::info("listed again after failures", fields);
        failures = 0;
      }
    }
    auto stream = client_.watch(options_.resource, ns,
                                kube::WatchOptions{.labelSelector = options_.labelSelector,
                                                   .fieldSelector = options_.fieldSelector,
                                                   .resourceVersion = resourceVersion,
                                                   .allowBookmarks = true,
                                                   .timeout = watchTimeout(),
                                                   .metadataOnly = options_.metadataOnly});
    if (!stream) {
      if (stream.error().kind == kube::ErrorKind::kGone) {
        {
          std::lock_guard lock(mu_);
          ++stats_.gone;
        }
        logGone(resourceVersion);
        needList = true;
        continue;
      }
      // An optional resource that went away (its CRD deleted): the next list says so.
      const bool gone = options_.optional && stream.error().kind == kube::ErrorKind::kNotFound;
      if (!failed(gone, "cannot watch", stream.error())) return;
      continue;
    }
    {
      std::lock_guard lock(mu_);
      if (!running_) return;
      streams_[ns] = stream->get();
      ++stats_.watches;
    }
    // Read events until the stream ends (watch again from the last resourceVersion) or breaks.
    std::optional<kube::ErrorKind> broken;
    std::optional<kube::Error> brokenBy;
    while (true) {
      auto event = (*stream)->next();
      if (!event) {
        broken = event.error().kind;
        brokenBy = event.error();
        break;
      }
      if (!event->has_value()) break;
      backoff = options_.initialBackoff;
      const auto& e = **event;
      const auto rv = metaString(e.object, "resourceVersion");
      if (!rv.empty()) resourceVersion = rv;
      if (e.type != kube::WatchEventType::kBookmark) apply(e);
    }
    {
      std::lock_guard lock(mu_);
      streams_.erase(ns);
      if (broken == kube::ErrorKind::kGone) ++stats_.gone;
    }
    if (broken == kube::ErrorKind::kGone) {
      logGone(resourceVersion);
      needList = true;
    } else if (broken) {
      // A malformed event may hide a change: relist rather than trust the stream.
      if (!failed(broken == kube::ErrorKind::kMalformed, "watch broken", *brokenBy)) return;
    }
  }
}

void Informer::resyncLoop() {
  while (pause(options_.resync)) {
    for (const auto& object : list()) {
      if (handlers_.onUpdate) handlers_.onUpdate(object, object);
    }
  }
}

}  // namespace sessionstore::informer
