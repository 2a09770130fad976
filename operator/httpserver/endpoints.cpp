#include "httpserver/endpoints.h"

#include <algorithm>

namespace sessionstore::httpserver {

void HealthChecks::add(std::string name, Check check) {
  std::lock_guard lock(mu_);
  const auto it = std::find_if(checks_.begin(), checks_.end(),
                               [&](const auto& entry) { return entry.first == name; });
  if (it != checks_.end()) {
    it->second = std::move(check);
  } else {
    checks_.emplace_back(std::move(name), std::move(check));
  }
}

Response HealthChecks::evaluate() const {
  std::vector<std::pair<std::string, Check>> checks;
  {
    std::lock_guard lock(mu_);
    checks = checks_;  // run them without the lock: a check may be slow or add checks
  }
  std::string failed;
  for (const auto& [name, check] : checks) {
    bool ok = false;
    try {
      ok = check();
    } catch (...) {
      ok = false;
    }
    if (!ok) failed += "check failed: " + name + "\n";
  }
  if (failed.empty()) return Response{.status = 200, .body = "ok"};
  return Response{.status = 503, .body = std::move(failed)};
}

void serveMetrics(HttpServer& server, const metrics::Registry& registry, std::string path) {
  server.handle(std::move(path), [&registry](const Request&) {
    return Response{.contentType = std::string(kMetricsContentType), .body = registry.render()};
  });
}

void serveChecks(HttpServer& server, std::string path, const HealthChecks& checks) {
  server.handle(std::move(path), [&checks](const Request&) { return checks.evaluate(); });
}

}  // namespace sessionstore::httpserver
