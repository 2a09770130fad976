// What the reconciler's unit tests share: SessionStores, a target Deployment and Service as the
// API server would hold them, fixed random bytes, and a StoreHealth whose answer the test sets.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "api/conditions.h"
#include "api/session_store.h"
#include "health/store_health.h"
#include "kube/client.h"

namespace sessionstore::reconcile::testing {

using Json = nlohmann::json;

inline bool fixedBytes(std::span<unsigned char> out) {
  std::fill(out.begin(), out.end(), static_cast<unsigned char>(7));
  return true;
}

inline const Json kManagedSpec = {{"target", {{"deployment", "web"}, {"service", "web"}}},
                                  {"store", {{"type", "Managed"}}}};
inline const Json kExternalSpec = {
    {"target", {{"deployment", "web"}}},
    {"store", {{"type", "External"}, {"external", {{"urlSecretRef", {{"name", "redis-url"}}}}}}}};

// A SessionStore "shop/web" as the API server returns it.
inline Json storeObject(Json spec = kManagedSpec) {
  return {{"apiVersion", "sessionstore.io/v1alpha1"},
          {"kind", "SessionStore"},
          {"metadata",
           {{"namespace", "shop"}, {"name", "web"}, {"uid", "store-uid"}, {"generation", 1}}},
          {"spec", std::move(spec)}};
}

inline api::SessionStore parsed(const Json& object) {
  auto store = api::parseSessionStore(object);
  EXPECT_TRUE(store.has_value()) << store.error();
  return store.value_or(api::SessionStore());
}

inline api::SessionStore store(Json spec = kManagedSpec) { return parsed(storeObject(spec)); }

// The app: one container "app" with a CPU limit of 2 (5 workers with the defaults).
inline Json deploymentObject() {
  return Json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"namespace": "shop", "name": "web"},
    "spec": {
      "replicas": 2,
      "selector": {"matchLabels": {"app": "web"}},
      "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [
          {"name": "app", "image": "web:1", "resources": {"limits": {"cpu": "2"}}}]}}}})");
}

inline Json serviceObject() {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"namespace", "shop"}, {"name", "web"}}},
          {"spec", {{"selector", {{"app", "web"}}}, {"ports", {{{"port", 80}}}}}}};
}

// An ownerReference naming the SessionStore of storeObject() as controller.
inline Json ownedBy(Json object, const std::string& uid = "store-uid") {
  object["metadata"]["ownerReferences"] = {{{"apiVersion", "sessionstore.io/v1alpha1"},
                                            {"kind", "SessionStore"},
                                            {"name", "web"},
                                            {"uid", uid},
                                            {"controller", true}}};
  return object;
}

inline health::ProbeResult answers() {
  return {.ok = true,
          .reason = std::string(api::kReasonStoreAvailable),
          .message = "PING answered",
          .connectedClients = 3,
          .usedMemoryBytes = 1024};
}
inline health::ProbeResult silent() {
  return {.ok = false,
          .reason = std::string(api::kReasonStoreUnreachable),
          .message = "connection refused"};
}

// A StoreHealth that answers what the test set, and remembers what it was asked.
class ScriptedHealth : public health::StoreHealth {
 public:
  health::ProbeResult check(const std::string& key, const wiring::StoreEndpoint& app,
                            const std::optional<wiring::StoreEndpoint>& monitor) override {
    std::lock_guard lock(mu_);
    checked.push_back(key);
    lastApp = app;
    lastMonitor = monitor;
    return answer;
  }
  void forget(const std::string& key) override {
    std::lock_guard lock(mu_);
    forgotten.push_back(key);
  }

  health::ProbeResult answer = silent();
  std::vector<std::string> checked;
  std::vector<std::string> forgotten;
  std::optional<wiring::StoreEndpoint> lastApp;
  std::optional<wiring::StoreEndpoint> lastMonitor;

 private:
  std::mutex mu_;
};

}  // namespace sessionstore::reconcile::testing
