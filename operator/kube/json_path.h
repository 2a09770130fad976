// Reading fields of Kubernetes objects that may be absent or of the wrong type: every object
// from the API server is outside input, so a path that is missing or holds another type is an
// answer (nullptr, nullopt, ""), never an exception. And the "namespace/name" keys that queues
// and informers use, split into their parts.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

namespace sessionstore::kube {

// The node at root[k1][k2]..., or nullptr when a step is missing or not an object.
inline const nlohmann::json* at(const nlohmann::json& root,
                                std::initializer_list<const char*> keys) {
  const nlohmann::json* node = &root;
  for (const char* key : keys) {
    if (!node->is_object()) return nullptr;
    const auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

// The integer at the path, or nullopt when it is missing or not an integer.
inline std::optional<std::int64_t> integerAt(const nlohmann::json& root,
                                             std::initializer_list<const char*> keys) {
  const nlohmann::json* node = at(root, keys);
  if (node == nullptr || !node->is_number_integer()) return std::nullopt;
  return node->get<std::int64_t>();
}

// The string at the path, or "" when it is missing or not a string.
inline std::string stringAt(const nlohmann::json& root, std::initializer_list<const char*> keys) {
  const nlohmann::json* node = at(root, keys);
  return node != nullptr && node->is_string() ? node->get<std::string>() : std::string();
}

// "namespace/name" to {namespace, name}; a key without a slash is a cluster-scoped name.
inline std::pair<std::string, std::string> splitKey(const std::string& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

}  // namespace sessionstore::kube
