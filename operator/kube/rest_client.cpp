#include "kube/rest_client.h"

#include <charconv>

namespace sessionstore::kube {

namespace {

constexpr auto kTokenRefresh = std::chrono::minutes(1);
// Metadata-only answers (what client-go's metadata client asks for).
constexpr const char* kMetadataListAccept =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
constexpr const char* kMetadataAccept =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

bool isString(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string();
}

std::string stringField(const Json& j, const char* key) {
  return isString(j, key) ? j[key].get<std::string>() : "";
}

// A query string from name/value pairs, skipping empty values.
std::string query(std::initializer_list<std::pair<const char*, std::string>> params) {
  std::string q;
  for (const auto& [name, value] : params) {
    if (value.empty()) continue;
    q += (q.empty() ? "?" : "&") + std::string(name) + "=" + escapeQueryValue(value);
  }
  return q;
}

Result<Json> parseBody(const std::string& body) {
  if (body.empty()) return Json::object();
  Json parsed = Json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    return makeError(ErrorKind::kMalformed,
                     "the server's answer is not JSON: " + body.substr(0, 200));
  }
  return parsed;
}

class RestWatchStream final : public WatchStream {
 public:
  explicit RestWatchStream(std::unique_ptr<transport::Stream> stream)
      : stream_(std::move(stream)) {}

  Result<std::optional<WatchEvent>> next() override {
    while (true) {
      auto line = stream_->readLine();
      if (!line) {
        if (line.error().kind == transport::FailureKind::kCancelled)
          return std::optional<WatchEvent>();
        return std::unexpected(errorFromFailure(line.error()));
      }
      if (!line->has_value()) return std::optional<WatchEvent>();
      if ((*line)->empty()) continue;
      auto event = parseWatchLine(**line);
      if (!event) return std::unexpected(event.error());
      return std::optional<WatchEvent>(std::move(*event));
    }
  }

  void cancel() override { stream_->cancel(); }

 private:
  std::unique_ptr<transport::Stream> stream_;
};

}  // namespace

TokenSource::TokenSource(std::string fixedToken, std::string file, const clock::Clock& clock)
    : fixed_(std::move(fixedToken)), file_(std::move(file)), clock_(clock) {}

std::string TokenSource::token() {
  if (file_.empty()) return fixed_;
  std::lock_guard lock(mu_);
  const auto now = clock_.now();
  if (!read_ || now - readAt_ >= kTokenRefresh) {
    // Keep the last good token when the file is briefly missing during a rotation.
    if (auto text = readFile(file_)) {
      while (!text->empty() &&
             (text->back() == '\n' || text->back() == '\r' || text->back() == ' ')) {
        text->pop_back();
      }
      cached_ = std::move(*text);
    }
    readAt_ = now;
    read_ = true;
  }
  return cached_.empty() ? fixed_ : cached_;
}

RestClient::RestClient(std::unique_ptr<transport::Transport> transport, const ClusterConfig& config,
                       const clock::Clock& clock, RequestObserver observer)
    : transport_(std::move(transport)),
      tokens_(config.bearerToken, config.bearerTokenFile, clock),
      observer_(std::move(observer)) {}

Result<std::unique_ptr<RestClient>> RestClient::connect(const ClusterConfig& config,
                                                        RequestObserver observer,
                                                        std::chrono::seconds requestTimeout) {
  auto transport = transport::makeCppRestTransport(transport::TransportConfig{
      .baseUrl = config.server, .tls = config.tls, .requestTimeout = requestTimeout});
  if (!transport) {
    return makeError(ErrorKind::kConfig, config.source + ": " + transport.error().message);
  }
  return std::make_unique<RestClient>(std::move(*transport), config, clock::systemClock(),
                                      std::move(observer));
}

Result<Json> RestClient::call(const std::string& verb, transport::Request request) {
  request.headers.try_emplace("Accept", "application/json");
  if (const auto token = tokens_.token(); !token.empty()) {
    request.headers["Authorization"] = "Bearer " + token;
  }
  auto response = transport_->send(request);
  if (observer_) observer_(verb, response ? response->status : 0);
  if (!response) return std::unexpected(errorFromFailure(response.error()));
  if (response->status < 200 || response->status >= 300) {
    return std::unexpected(
        errorFromResponse(response->status, response->body, response->header("retry-after")));
  }
  return parseBody(response->body);
}

Result<Json> RestClient::get(const Resource& r, const std::string& ns, const std::string& name,
                             const std::string& subresource) {
  return call("GET", {.method = "GET", .target = r.path(ns, name, subresource)});
}

Result<ObjectList> RestClient::list(const Resource& r, const std::string& ns,
                                    const ListOptions& options) {
  auto body = call(
      "LIST",
      {.method = "GET",
       .target =
           r.path(ns) + query({{"labelSelector", options.labelSelector},
                               {"fieldSelector", options.fieldSelector},
                               {"limit", options.limit > 0 ? std::to_string(options.limit) : ""},
                               {"continue", options.continueToken},
                               {"resourceVersion", options.resourceVersion}}),
       .headers = {{"Accept", options.metadataOnly ? kMetadataListAccept : "application/json"}}});
  if (!body) return std::unexpected(body.error());
  if (!body->is_object() || !body->contains("items") ||
      !((*body)["items"].is_array() || (*body)["items"].is_null())) {
    return makeError(ErrorKind::kMalformed, "list answer has no items array");
  }
  ObjectList list;
  const auto& meta = body->contains("metadata") ? (*body)["metadata"] : Json();
  list.resourceVersion = stringField(meta, "resourceVersion");
  list.continueToken = stringField(meta, "continue");
  if ((*body)["items"].is_array()) {
    for (auto& item : (*body)["items"]) {
      if (!item.is_object()) return makeError(ErrorKind::kMalformed, "list item is not an object");
      // Items of a list come without apiVersion and kind; the cache wants whole objects.
      if (!item.contains("apiVersion")) item["apiVersion"] = r.apiVersion();
      if (!item.contains("kind") && !r.kind.empty()) item["kind"] = r.kind;
      list.items.push_back(std::move(item));
    }
  }
  return list;
}

Result<Json> RestClient::create(const Resource& r, const std::string& ns, const Json& object,
                                const CreateOptions& options) {
  return call("POST", {.method = "POST",
                       .target = r.path(ns) + query({{"fieldManager", options.fieldManager},
                                                     {"dryRun", options.dryRun ? "All" : ""}}),
                       .headers = {{"Content-Type", "application/json"}},
                       .body = object.dump()});
}

Result<Json> RestClient::update(const Resource& r, const std::string& ns, const Json& object,
                                const std::string& subresource) {
  const auto name = object.contains("metadata") ? stringField(object["metadata"], "name") : "";
  if (name.empty()) return makeError(ErrorKind::kBadRequest, "update: object has no metadata.name");
  return call("PUT", {.method = "PUT",
                      .target = r.path(ns, name, subresource),
                      .headers = {{"Content-Type", "application/json"}},
                      .body = object.dump()});
}

Result<Json> RestClient::remove(const Resource& r, const std::string& ns, const std::string& name,
                                const DeleteOptions& options) {
  Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (options.propagationPolicy) body["propagationPolicy"] = *options.propagationPolicy;
  if (options.preconditionUid) body["preconditions"]["uid"] = *options.preconditionUid;
  if (options.preconditionResourceVersion) {
    body["preconditions"]["resourceVersion"] = *options.preconditionResourceVersion;
  }
  return call("DELETE", {.method = "DELETE",
                         .target = r.path(ns, name),
                         .headers = {{"Content-Type", "application/json"}},
                         .body = body.dump()});
}

Result<Json> RestClient::patch(const Resource& r, const std::string& ns, const std::string& name,
                               PatchType type, const Json& body, const PatchOptions& options) {
  const char* contentType = "application/merge-patch+json";
  switch (type) {
    case PatchType::kMerge:
      contentType = "application/merge-patch+json";
      break;
    case PatchType::kJson:
      contentType = "application/json-patch+json";
      break;
    case PatchType::kStrategic:
      contentType = "application/strategic-merge-patch+json";
      break;
    case PatchType::kApply:
      contentType = "application/apply-patch+yaml";
      break;
  }
  if (type == PatchType::kApply && options.fieldManager.empty()) {
    return makeError(ErrorKind::kBadRequest, "server-side apply needs a field manager");
  }
  const std::string q = query({{"fieldManager", options.fieldManager},
                               {"force", type == PatchType::kApply && options.force ? "true" : ""},
                               {"dryRun", options.dryRun ? "All" : ""}});
  return call("PATCH", {.method = "PATCH",
                        .target = r.path(ns, name, options.subresource) + q,
                        .headers = {{"Content-Type", contentType}},
                        .body = body.dump()});
}

Result<std::unique_ptr<WatchStream>> RestClient::watch(const Resource& r, const std::string& ns,
                                                       const WatchOptions& options) {
  transport::Request request{
      .method = "GET",
      .target = r.path(ns) + query({{"watch", "1"},
                                    {"allowWatchBookmarks", options.allowBookmarks ? "true" : ""},
                                    {"timeoutSeconds", std::to_string(options.timeout.count())},
                                    {"resourceVersion", options.resourceVersion},
                                    {"labelSelector", options.labelSelector},
                                    {"fieldSelector", options.fieldSelector}}),
      .headers = {{"Accept", options.metadataOnly ? kMetadataAccept : "application/json"}}};
  if (const auto token = tokens_.token(); !token.empty()) {
    request.headers["Authorization"] = "Bearer " + token;
  }
  auto stream = transport_->stream(request);
  if (observer_) observer_("WATCH", stream ? (*stream)->status() : 0);
  if (!stream) return std::unexpected(errorFromFailure(stream.error()));
  if ((*stream)->status() != 200) {
    const auto body = (*stream)->readAll();
    return std::unexpected(errorFromResponse((*stream)->status(), body ? *body : "",
                                             (*stream)->header("retry-after")));
  }
  return std::unique_ptr<WatchStream>(new RestWatchStream(std::move(*stream)));
}

}  // namespace sessionstore::kube
