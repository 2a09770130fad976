#include "kube/client.h"

namespace sessionstore::kube {

Result<Json> Client::apply(const Resource& r, const std::string& ns, const Json& object,
                           const std::string& fieldManager, bool force,
                           const std::string& subresource) {
  const auto name = object.contains("metadata") && object["metadata"].contains("name") &&
                            object["metadata"]["name"].is_string()
                        ? object["metadata"]["name"].get<std::string>()
                        : std::string();
  if (name.empty()) return makeError(ErrorKind::kBadRequest, "apply: object has no metadata.name");
  return patch(
      r, ns, name, PatchType::kApply, object,
      PatchOptions{.fieldManager = fieldManager, .force = force, .subresource = subresource});
}

Result<ObjectList> Client::listAll(const Resource& r, const std::string& ns, ListOptions options) {
  const std::string firstToken = options.continueToken;
  bool restarted = false;
  ObjectList all;
  while (true) {
    auto page = list(r, ns, options);
    if (!page) {
      // An expired continue token: start again from the first page, once.
      if (page.error().kind == ErrorKind::kGone && !options.continueToken.empty() && !restarted) {
        restarted = true;
        all = ObjectList{};
        options.continueToken = firstToken;
        continue;
      }
      return std::unexpected(page.error());
    }
    for (auto& item : page->items) all.items.push_back(std::move(item));
    // The list's resourceVersion is the first page's (the snapshot the pages belong to).
    if (all.resourceVersion.empty()) all.resourceVersion = page->resourceVersion;
    if (page->continueToken.empty()) return all;
    options.continueToken = page->continueToken;
  }
}

}  // namespace sessionstore::kube
