// The operator's endpoints on an HttpServer: /metrics renders a metrics::Registry in the
// Prometheus text format; /healthz and /readyz evaluate named checks (for /readyz, for example
// "informers synced") and answer 200 "ok", or 503 naming each failing check so that
// `kubectl describe pod` says why the probe failed.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "httpserver/http_server.h"
#include "metrics/registry.h"

namespace sessionstore::httpserver {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Named checks behind a health endpoint. Thread-safe.
class HealthChecks {
 public:
  // Returns true while the component it watches is healthy. Runs on the server's threads: it
  // must be quick and thread-safe. A check that throws has failed.
  using Check = std::function<bool()>;

  // Adds the check `name`, or replaces the check of that name.
  void add(std::string name, Check check);
  // 200 "ok" when every check passes (or there is none); otherwise 503 with a line
  // "check failed: NAME" for each failing check, in the order they were added.
  Response evaluate() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, Check>> checks_;  // GUARDED_BY(mu_)
};

// Serves the registry's exposition on `path`.
// REQUIRES: `registry` outlives the server (until stop()).
void serveMetrics(HttpServer& server, const metrics::Registry& registry,
                  std::string path = "/metrics");
// Serves checks.evaluate() on `path` ("/healthz", "/readyz").
// REQUIRES: `checks` outlives the server (until stop()).
void serveChecks(HttpServer& server, std::string path, const HealthChecks& checks);

}  // namespace sessionstore::httpserver
