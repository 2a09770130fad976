#include "autoscaling/sources.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>

#include "kube/json_path.h"
#include "kube/wire.h"
#include "quantity/quantity.h"

namespace sessionstore::autoscaling {
namespace {

using kube::at;
using kube::stringAt;

std::expected<double, std::string> quantityAt(const Json& root,
                                              std::initializer_list<const char*> keys) {
  const Json* node = at(root, keys);
  if (node == nullptr) return std::unexpected("missing");
  std::string text;
  if (node->is_string()) {
    text = node->get<std::string>();
  } else if (node->is_number()) {
    text = node->dump();
  } else {
    return std::unexpected("not a quantity");
  }
  auto parsed = quantity::Quantity::parse(text);
  if (!parsed) return std::unexpected(parsed.error());
  return parsed->asDouble();
}

bool counted(const std::vector<std::string>& containers, const std::string& name) {
  return containers.empty() ||
         std::find(containers.begin(), containers.end(), name) != containers.end();
}

bool podReady(const Json& pod) {
  if (stringAt(pod, {"status", "phase"}) != "Running") return false;
  const Json* conditions = at(pod, {"status", "conditions"});
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const Json& condition : *conditions) {
    if (stringAt(condition, {"type"}) == "Ready") {
      return stringAt(condition, {"status"}) == "True";
    }
  }
  return false;
}

}  // namespace

std::expected<std::string, std::string> selectorString(const Json& labelSelector) {
  if (!labelSelector.is_object()) return std::unexpected("the selector is not an object");
  std::vector<std::string> parts;
  if (const Json* labels = at(labelSelector, {"matchLabels"}); labels && labels->is_object()) {
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) return std::unexpected("matchLabels." + key + " is not a string");
      parts.push_back(key + "=" + value.get<std::string>());
    }
  }
  if (const Json* expressions = at(labelSelector, {"matchExpressions"});
      expressions && expressions->is_array()) {
    for (const Json& e : *expressions) {
      const std::string key = stringAt(e, {"key"});
      const std::string op = stringAt(e, {"operator"});
      std::string values;
      const Json* listed = at(e, {"values"});
      if (listed != nullptr && !listed->is_array()) {
        return std::unexpected("matchExpressions values must be a list");
      }
      for (const Json& v : listed != nullptr ? *listed : Json::array()) {
        if (!v.is_string()) return std::unexpected("matchExpressions values must be strings");
        values += (values.empty() ? "" : ",") + v.get<std::string>();
      }
      if (key.empty()) return std::unexpected("a matchExpression has no key");
      if (op == "In") {
        parts.push_back(key + " in (" + values + ")");
      } else if (op == "NotIn") {
        parts.push_back(key + " notin (" + values + ")");
      } else if (op == "Exists") {
        parts.push_back(key);
      } else if (op == "DoesNotExist") {
        parts.push_back("!" + key);
      } else {
        return std::unexpected("unknown selector operator \"" + op + "\"");
      }
    }
  }
  if (parts.empty()) return std::unexpected("the selector selects every pod");
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ",") + part;
  return out;
}

std::expected<PodSample, std::string> podSample(const Json& pods, const Json& podMetrics,
                                                std::string_view resource,
                                                const std::vector<std::string>& containers) {
  const std::string res(resource);
  // name -> usage of the counted containers
  std::map<std::string, double> usage;
  if (const Json* items = at(podMetrics, {"items"}); items && items->is_array()) {
    for (const Json& item : *items) {
      const std::string name = stringAt(item, {"metadata", "name"});
      const Json* list = at(item, {"containers"});
      if (name.empty() || list == nullptr || !list->is_array()) continue;
      double sum = 0;
      bool any = false;
      for (const Json& c : *list) {
        if (!counted(containers, stringAt(c, {"name"}))) continue;
        auto value = quantityAt(c, {"usage", res.c_str()});
        if (!value)
          return std::unexpected("PodMetrics " + name + ": usage." + res + " " + value.error());
        sum += *value;
        any = true;
      }
      if (any) usage[name] = sum;
    }
  }
  PodSample sample;
  const Json* items = at(pods, {"items"});
  if (items == nullptr || !items->is_array()) return std::unexpected("the pod list has no items");
  for (const Json& pod : *items) {
    const std::string name = stringAt(pod, {"metadata", "name"});
    const std::string phase = stringAt(pod, {"status", "phase"});
    if (at(pod, {"metadata", "deletionTimestamp"}) != nullptr || phase == "Failed" ||
        phase == "Succeeded") {
      sample.ignored.push_back(name);
      continue;
    }
    double request = 0;
    if (const Json* list = at(pod, {"spec", "containers"}); list && list->is_array()) {
      for (const Json& c : *list) {
        const std::string container = stringAt(c, {"name"});
        if (!counted(containers, container)) continue;
        auto value = quantityAt(c, {"resources", "requests", res.c_str()});
        if (!value) {
          return std::unexpected("container " + container + " of pod " + name + " has no " + res +
                                 " request: utilization needs one (set "
                                 "resources.requests." +
                                 res + ")");
        }
        request += *value;
      }
    }
    const auto used = usage.find(name);
    if (!podReady(pod) || used == usage.end()) {
      sample.missing.push_back(name);
      continue;
    }
    sample.ready.push_back({.name = name, .usage = used->second, .request = request});
  }
  return sample;
}

std::expected<double, std::string> parsePrometheusValue(std::string_view body) {
  const Json answer = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object()) {
    return std::unexpected("the answer is not JSON");
  }
  if (stringAt(answer, {"status"}) != "success") {
    const std::string error = stringAt(answer, {"error"});
    return std::unexpected("the query failed: " + (error.empty() ? "no error given" : error));
  }
  const Json* data = at(answer, {"data"});
  if (data == nullptr) return std::unexpected("the answer has no data");
  const std::string type = stringAt(*data, {"resultType"});
  const Json* result = at(*data, {"result"});
  if (result == nullptr) return std::unexpected("the answer has no result");
  const Json* pair = nullptr;
  if (type == "scalar") {
    pair = result;
  } else if (type == "vector") {
    if (!result->is_array() || result->empty()) {
      return std::unexpected("the query returned no sample (is the metric scraped?)");
    }
    if (result->size() > 1) {
      return std::unexpected("the query returned " + std::to_string(result->size()) +
                             " samples; it must return one (aggregate it, e.g. with sum or "
                             "histogram_quantile over sum by (le))");
    }
    pair = at((*result)[0], {"value"});
  } else {
    return std::unexpected("the query returned a " + type +
                           "; it must return a scalar or one "
                           "sample");
  }
  if (pair == nullptr || !pair->is_array() || pair->size() != 2 || !(*pair)[1].is_string()) {
    return std::unexpected("the sample is malformed");
  }
  const std::string text = (*pair)[1].get<std::string>();
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0')
    return std::unexpected("\"" + text + "\" is not a number");
  if (!std::isfinite(value)) return std::unexpected("the query's value is " + text);
  return value;
}

std::string prometheusQueryTarget(std::string_view query) {
  return "/api/v1/query?query=" + kube::escapeQueryValue(std::string(query));
}

void StoreConnection::setEndpoint(const redisclient::Endpoint& endpoint) {
  std::lock_guard lock(mu_);
  if (endpoint == endpoint_) return;
  endpoint_ = endpoint;
  session_.reset();
}

std::expected<redisclient::Session*, std::string> StoreConnection::session() {
  if (session_) return session_.get();
  redisclient::Endpoint endpoint = endpoint_;
  if (resolve_) {
    // TLS verifies the name in the URL, not the address it resolves to here.
    if (endpoint.verification.serverName.empty()) endpoint.verification.serverName = endpoint.host;
    std::tie(endpoint.host, endpoint.port) = resolve_(endpoint.host, endpoint.port);
  }
  auto opened = redisclient::Session::open(endpoint);
  if (!opened) return std::unexpected(opened.error());
  ++opened_;
  session_ = std::move(*opened);
  return session_.get();
}

std::expected<std::int64_t, std::string> StoreConnection::connectedClients() {
  std::lock_guard lock(mu_);
  auto s = session();
  if (!s) return std::unexpected(s.error());
  auto info = (*s)->info();
  if (!info) {
    session_.reset();  // unusable after an error: the next call connects again
    return std::unexpected(info.error());
  }
  const auto it = info->find("connected_clients");
  if (it == info->end()) return std::unexpected("INFO has no connected_clients");
  char* end = nullptr;
  const long long value = std::strtoll(it->second.c_str(), &end, 10);
  if (end == it->second.c_str() || *end != '\0') {
    return std::unexpected("INFO connected_clients is not a number");
  }
  return value;
}

std::expected<std::int64_t, std::string> StoreConnection::keysUnder(std::string_view prefix) {
  std::lock_guard lock(mu_);
  auto s = session();
  if (!s) return std::unexpected(s.error());
  auto count = (*s)->countKeys(prefix);
  if (!count) session_.reset();
  return count;
}

std::expected<std::optional<std::int64_t>, std::string> StoreConnection::maxClients() {
  std::lock_guard lock(mu_);
  auto s = session();
  if (!s) return std::unexpected(s.error());
  auto value = (*s)->maxClients();
  if (!value) session_.reset();
  return value;
}

int StoreConnection::opened() const {
  std::lock_guard lock(mu_);
  return opened_;
}

}  // namespace sessionstore::autoscaling
