// Where autoscaling's numbers come from (PRODUCT.md item 7), as pure parsers over what the API
// server, Redis and Prometheus answer, plus the one connection per store that reads Redis.
//   - CPU and Memory: the pods of the target (its selector), their requests for the wired
//     containers, and metrics.k8s.io PodMetrics; pods not Ready or without metrics are listed
//     apart, for the HPA's missing-pod rule.
//   - StoreClients: INFO's connected_clients. ActiveSessions: the keys under the key prefix,
//     counted with SCAN MATCH prefix* COUNT 1000 (never KEYS, so Redis never blocks on it).
//   - Latency: a Prometheus instant query, its single sample's value.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "redisclient/redis_client.h"
#include "scalepolicy/recommendation.h"

namespace sessionstore::autoscaling {

using Json = nlohmann::json;

// A Deployment's spec.selector as a label-selector query string: matchLabels as "k=v",
// matchExpressions as "k in (a,b)", "k notin (a)", "k", "!k". Errors on an operator it does not
// know or a selector that selects everything.
std::expected<std::string, std::string> selectorString(const Json& labelSelector);

using scalepolicy::PodUsage;  // name, usage and request (cores or bytes) of the counted containers

struct PodSample {
  std::vector<PodUsage> ready;       // Running, Ready, with metrics
  std::vector<std::string> missing;  // exist, but not Ready yet or without metrics
  std::vector<std::string> ignored;  // being deleted, or failed/succeeded
};

// Pods (a PodList's JSON) and their metrics (a PodMetricsList's JSON) for `resource` ("cpu" or
// "memory"), counting the containers named in `containers` (every container when empty).
// A counted container without a request for the resource is an error naming it (utilization
// needs a request, as for the HPA).
std::expected<PodSample, std::string> podSample(const Json& pods, const Json& podMetrics,
                                                std::string_view resource,
                                                const std::vector<std::string>& containers);

// The value of a Prometheus /api/v1/query answer: a scalar, or a vector with exactly one sample.
// NaN, +Inf, an empty vector or several samples are errors saying so.
std::expected<double, std::string> parsePrometheusValue(std::string_view body);

// "http://prometheus:9090" + query -> the /api/v1/query request target, percent-encoded.
std::string prometheusQueryTarget(std::string_view query);

// One Redis connection per store, opened on first use, reused, and opened again (with AUTH)
// after any failure. Not thread-safe on its own: a mutex serializes callers.
class StoreConnection {
 public:
  // Where host:port is reached from here (the operator's address map), asked at each connect.
  using Resolve = std::function<std::pair<std::string, int>(const std::string& host, int port)>;

  explicit StoreConnection(redisclient::Endpoint endpoint, Resolve resolve = {})
      : endpoint_(std::move(endpoint)), resolve_(std::move(resolve)) {}

  // Replaces the endpoint (credentials or address changed); the next call reconnects.
  void setEndpoint(const redisclient::Endpoint& endpoint);

  std::expected<std::int64_t, std::string> connectedClients();
  std::expected<std::int64_t, std::string> keysUnder(std::string_view prefix);
  // CONFIG GET maxclients; nullopt when the server denies it.
  std::expected<std::optional<std::int64_t>, std::string> maxClients();

  // Connections opened so far (1 while the first one lasts).
  int opened() const;

 private:
  std::expected<redisclient::Session*, std::string> session();

  mutable std::mutex mu_;
  redisclient::Endpoint endpoint_;  // GUARDED_BY(mu_)
  const Resolve resolve_;
  std::unique_ptr<redisclient::Session> session_;  // GUARDED_BY(mu_)
  int opened_ = 0;                                 // GUARDED_BY(mu_)
};

}  // namespace sessionstore::autoscaling
