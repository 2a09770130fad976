#include "reconcile/matches.h"

#include <algorithm>

namespace sessionstore::reconcile {
namespace {

bool isZero(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return true;
    case Json::value_t::boolean:
      return !value.get<bool>();
    case Json::value_t::string:
      return value.get_ref<const std::string&>().empty();
    case Json::value_t::object:
    case Json::value_t::array:
      return value.empty();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return value == 0;
    default:
      return false;
  }
}

bool allKeyed(const Json& list, const char* key) {
  return !list.empty() && std::all_of(list.begin(), list.end(), [key](const Json& item) {
    return item.is_object() && item.contains(key) && (*item.find(key)).is_string();
  });
}

// The merge key of a list the operator applies items of, as the API server's schema declares it:
// mountPath for a container's volumeMounts (whose items also have a "name", the volume's), name
// for the others (containers, env, volumes); nullptr for a list the server treats as one value.
const char* mergeKey(const Json& list) {
  if (allKeyed(list, "mountPath")) return "mountPath";
  if (allKeyed(list, "name")) return "name";
  return nullptr;
}

const Json* findKeyed(const Json& list, const char* key, const Json& value) {
  for (const Json& item : list) {
    if (item.is_object() && item.contains(key) && item[key] == value) return &item;
  }
  return nullptr;
}

bool sameNumber(const Json& a, const Json& b) {
  if (!a.is_number() || !b.is_number()) return false;
  if (a.is_number_float() || b.is_number_float()) return a.get<double>() == b.get<double>();
  return a == b;
}

void collectLeaves(const Json& node, const std::string& path, std::set<std::string>& out) {
  if (node.is_object()) {
    if (node.empty()) {
      out.insert(path);
      return;
    }
    for (const auto& [key, value] : node.items()) {
      collectLeaves(value, path.empty() ? "f:" + key : path + "/f:" + key, out);
    }
    return;
  }
  if (const char* keyName = node.is_array() ? mergeKey(node) : nullptr) {
    for (const Json& item : node) {
      const Json key = {{keyName, item[keyName]}};
      collectLeaves(item, path + "/k:" + key.dump(), out);
    }
    return;
  }
  out.insert(path);  // a scalar, or a list the server treats as one value
}

void collectOwned(const Json& fields, const std::string& path, std::set<std::string>& out) {
  if (!fields.is_object() || fields.empty()) {
    if (!path.empty()) out.insert(path);
    return;
  }
  for (const auto& [key, value] : fields.items()) {
    if (key == ".") continue;
    collectOwned(value, path.empty() ? key : path + "/" + key, out);
  }
}

}  // namespace

bool contains(const Json& observed, const Json& desired) {
  if (desired.is_object()) {
    if (!observed.is_object()) return isZero(desired) && observed.is_null();
    for (const auto& [key, value] : desired.items()) {
      const auto it = observed.find(key);
      if (it == observed.end()) {
        if (!isZero(value)) return false;
        continue;
      }
      if (!contains(*it, value)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!observed.is_array()) return desired.empty() && observed.is_null();
    if (const char* keyName = mergeKey(desired)) {
      for (const Json& item : desired) {
        const Json* match = findKeyed(observed, keyName, item[keyName]);
        if (match == nullptr || !contains(*match, item)) return false;
      }
      return true;
    }
    if (observed.size() != desired.size()) return false;
    for (std::size_t i = 0; i < desired.size(); ++i) {
      if (!contains(observed[i], desired[i])) return false;
    }
    return true;
  }
  if (desired.is_number()) return sameNumber(observed, desired);
  return observed == desired;
}

std::set<std::string> leafFields(const Json& body) {
  Json trimmed = body;
  trimmed.erase("apiVersion");
  trimmed.erase("kind");
  if (trimmed.contains("metadata") && trimmed["metadata"].is_object()) {
    trimmed["metadata"].erase("name");
    trimmed["metadata"].erase("namespace");
    if (trimmed["metadata"].empty()) trimmed.erase("metadata");
  }
  std::set<std::string> out;
  if (trimmed.is_object() && !trimmed.empty()) collectLeaves(trimmed, "", out);
  return out;
}

std::set<std::string> ownedLeafFields(const Json& object, std::string_view manager) {
  std::set<std::string> out;
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return out;
  const auto entries = metadata->find("managedFields");
  if (entries == metadata->end() || !entries->is_array()) return out;
  for (const Json& entry : *entries) {
    if (!entry.is_object() || entry.value("manager", "") != manager ||
        entry.value("operation", "") != "Apply" || entry.contains("subresource")) {
      continue;
    }
    if (const auto fields = entry.find("fieldsV1"); fields != entry.end()) {
      collectOwned(*fields, "", out);
    }
  }
  return out;
}

bool ownsExactly(const Json& object, const Json& body, std::string_view manager) {
  // The server records an atomic struct (an env entry's valueFrom.secretKeyRef, for one) as a
  // single leaf where the body has its fields: a desired leaf counts as owned when it is an owned
  // leaf or lies under one, and an owned leaf is wanted when a desired leaf is it or lies under it.
  const auto owned = ownedLeafFields(object, manager);
  const auto desired = leafFields(body);
  const auto under = [](const std::string& leaf, const std::string& ancestor) {
    return leaf == ancestor ||
           (leaf.size() > ancestor.size() && leaf.starts_with(ancestor) &&
            leaf[ancestor.size()] == '/');
  };
  for (const auto& d : desired) {
    if (std::none_of(owned.begin(), owned.end(),
                     [&](const std::string& o) { return under(d, o); })) {
      return false;
    }
  }
  for (const auto& o : owned) {
    if (std::none_of(desired.begin(), desired.end(),
                     [&](const std::string& d) { return under(d, o); })) {
      return false;
    }
  }
  return contains(object, body);
}

}  // namespace sessionstore::reconcile
