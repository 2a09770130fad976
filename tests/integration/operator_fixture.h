// The fixture of the end-to-end SessionStore tests: one `cluster` control plane per test binary
// with the CRD installed, the operator binary running outside the cluster as its own process, a
// fresh namespace per test, and the test playing the node for Redis: once the operator has
// written a store's ConfigMap, playNode() starts a real redis-server (Debian's Redis 7) from the
// rendered redis.conf and users.acl and tells the operator where it listens through the
// operator's --store-address-map file, as a developer's port-forward would. kwok makes the
// StatefulSet's pod Ready; StoreReady still waits for the real AUTH and PING.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control_plane.h"
#include "crypto/crypto.h"
#include "eventually.h"
#include "http_client.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "process.h"
#include "redis_server.h"
#include "redisclient/redis_client.h"
#include "service_account.h"

namespace sessionstore::testing {

using Json = nlohmann::json;
using namespace std::chrono_literals;

inline std::string decode(const Json& secret, const std::string& key) {
  const auto value = crypto::base64Decode(secret["data"][key].get<std::string>());
  if (!value) throw std::runtime_error("Secret key " + key + " is not base64");
  return *value;
}

inline std::string deploymentYaml(const std::string& name, const std::string& extraEnv = "") {
  return R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: )" +
         name + R"(}
spec:
  replicas: 2
  selector: {matchLabels: {app: )" +
         name + R"(}}
  template:
    metadata:
      labels: {app: )" +
         name + R"(}
    spec:
      containers:
      - name: app
        image: registry.example/shop/web:1.4
        resources:
          requests: {cpu: 500m, memory: 128Mi}
          limits: {cpu: "2", memory: 256Mi}
)" + extraEnv;
}

inline std::string serviceYaml(const std::string& name) {
  return R"(
apiVersion: v1
kind: Service
metadata: {name: )" +
         name + R"(}
spec:
  selector: {app: )" +
         name + R"(}
  ports: [{port: 80, targetPort: 8080}]
)";
}

inline std::string managedStoreYaml(const std::string& name, const std::string& target,
                                    const std::string& extraSpec = "") {
  return R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: )" +
         name + R"(}
spec:
  target: {deployment: )" +
         target + ", service: " + target + R"(}
  store:
    type: Managed
    managed:
      persistence: {enabled: false}
)" + extraSpec;
}

class OperatorFixture : public ::testing::Test {
 protected:
  // Extra flags for the operator process, set by a test suite before SetUpTestSuite runs.
  static std::vector<std::string>& extraFlags() {
    static std::vector<std::string> flags;
    return flags;
  }

  static void SetUpTestSuite() {
    plane_ = ControlPlane::start(Profile::kCluster).release();
    const auto crd = plane_->kubectl({"apply", "-f", sourceDir() + "/crds/"});
    if (!crd.ok()) throw std::runtime_error("installing the CRD: " + crd.describe());
    const auto established = plane_->waitForCrd("sessionstores.sessionstore.io");
    if (!established.ok()) throw std::runtime_error("the CRD: " + established.describe());
    // RBAC proven, not guessed: with SESSIONSTORE_AS_SERVICE_ACCOUNT=1 the operator runs with
    // a token of its own ServiceAccount (TokenRequest), bound only by what manifests/ grants
    // (the cluster-wide variant), so a verb the manifests lack fails the scenarios.
    if (const char* asAccount = std::getenv("SESSIONSTORE_AS_SERVICE_ACCOUNT");
        asAccount != nullptr && std::string(asAccount) == "1") {
      operatorKubeconfig() = testing::operatorKubeconfig(*plane_);
      std::cout << "[ rbac ] the operator runs as ServiceAccount "
                   "sessionstore-system/sessionstore-operator, bound by manifests/\n";
    }
    addressMap_ = plane_->dir() + "/store-addresses";
    std::ofstream(addressMap_) << "# in-cluster address -> where the test's redis-server listens\n";
    startOperator();
  }

  static void TearDownTestSuite() {
    stores_.clear();
    delete operator_;
    operator_ = nullptr;
    delete plane_;
    plane_ = nullptr;
  }

  static void startOperator() {
    std::vector<std::string> argv = {OPERATOR_BINARY,
                                     "run",
                                     "--kubeconfig",
                                     kubeconfig(),
                                     "--leader-elect",
                                     "false",
                                     "--metrics-bind-address",
                                     "127.0.0.1:0",
                                     "--health-probe-bind-address",
                                     "127.0.0.1:0",
                                     "--store-address-map",
                                     addressMap_,
                                     "--log-level",
                                     "debug"};
    argv.insert(argv.end(), extraFlags().begin(), extraFlags().end());
    operator_ = new ChildProcess(argv, operatorLog());
  }
  // The kubeconfig the operator runs with: the plane's admin one unless a suite says otherwise.
  static std::string kubeconfig() {
    return operatorKubeconfig().empty() ? plane_->kubeconfig() : operatorKubeconfig();
  }
  static std::string& operatorKubeconfig() {
    static std::string path;
    return path;
  }
  static std::string operatorLog() { return plane_->dir() + "/operator.log"; }

  // A fresh namespace per test, so tests do not see each other's objects.
  void SetUp() override {
    ns_ = "t" + std::to_string(++counter_) + "-" +
          std::regex_replace(
              std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()),
              std::regex("[^A-Za-z0-9]"), "")
              .substr(0, 40);
    for (auto& c : ns_) c = static_cast<char>(std::tolower(c));
    ASSERT_TRUE(kubectl({"create", "namespace", ns_}).ok());
  }

  ProcessResult kubectl(std::vector<std::string> args, const std::string& input = "") {
    return plane_->kubectl(args, input);
  }
  ProcessResult inNs(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"-n", ns_});
    return plane_->kubectl(args, input);
  }
  void apply(const std::string& yaml) {
    const auto result = inNs({"apply", "-f", "-"}, yaml);
    ASSERT_TRUE(result.ok()) << result.describe();
  }
  std::optional<Json> get(const std::string& kind, const std::string& name) {
    const auto result = inNs({"get", kind, name, "-o", "json"});
    if (!result.ok()) return std::nullopt;
    return Json::parse(result.out);
  }
  Json mustGet(const std::string& kind, const std::string& name) {
    auto object = get(kind, name);
    if (!object) throw std::runtime_error(kind + " " + name + " not found in " + ns_);
    return *object;
  }

  // The condition `type` of a SessionStore object already read, if it has one.
  static std::optional<Json> conditionOf(const Json& store, const std::string& type) {
    const auto status = store.find("status");
    if (status == store.end() || !status->is_object()) return std::nullopt;
    const Json conditions = status->value("conditions", Json::array());
    for (const auto& c : conditions) {
      if (c.value("type", "") == type) return c;
    }
    return std::nullopt;
  }
  std::optional<Json> condition(const std::string& store, const std::string& type) {
    auto object = get("sessionstore", store);
    if (!object) return std::nullopt;
    return conditionOf(*object, type);
  }
  bool conditionIs(const std::string& store, const std::string& type, const std::string& status,
                   const std::string& reason = "") {
    auto c = condition(store, type);
    return c && c->value("status", "") == status &&
           (reason.empty() || c->value("reason", "") == reason);
  }
  std::string phase(const std::string& store) {
    auto object = get("sessionstore", store);
    if (!object || !object->contains("status")) return "";
    return (*object)["status"].value("phase", "");
  }
  std::string describeStore(const std::string& store) {
    return inNs({"get", "sessionstore", store, "-o", "yaml"}).out + "\n--- operator log tail:\n" +
           tail(operator_->output(), 4000);
  }
  static std::string tail(const std::string& text, std::size_t n) {
    return text.size() <= n ? text : text.substr(text.size() - n);
  }

  // Plays the node: once the operator made the store's StatefulSet (its pod exists only then,
  // and mounts the config as it is at that moment), starts redis-server from the store's config
  // and maps the store's in-cluster address to it.
  // `extraAcl`: ACL lines the test adds for itself (a user that may write anywhere).
  RedisServer& playNode(const std::string& store, const std::string& extraAcl = "") {
    Json config;
    if (!eventually([&] {
          if (!get("statefulset", store + "-redis")) return false;
          auto object = get("configmap", store + "-redis-config");
          if (object) config = *object;
          return object.has_value();
        })) {
      throw std::runtime_error("the operator made no StatefulSet and ConfigMap for " + store +
                               ":\n" + describeStore(store));
    }
    return playNodeWith(store, config, extraAcl);
  }
  // The same from a ConfigMap the test read itself.
  RedisServer& playNodeWith(const std::string& store, const Json& config,
                            const std::string& extraAcl = "") {
    auto server = startFromStoreConfig(
        config, plane_->dir() + "/" + ns_ + "-" + store + "-users.acl", extraAcl);
    std::ofstream(addressMap_, std::ios::app)
        << store << "-redis." << ns_ << ".svc:6379 127.0.0.1:" << server->port() << "\n";
    auto& ref = *server;
    stores_[ns_ + "/" + store] = std::move(server);
    return ref;
  }

  // The operator's /metrics text; the port is the one its last "serving" log line gives.
  static std::string operatorMetrics() {
    const std::string log = operator_->output();
    const auto at = log.rfind("\"msg\":\"serving\"");
    if (at == std::string::npos)
      throw std::runtime_error("the operator has not said where it serves");
    const std::string line = log.substr(at, log.find('\n', at) - at);
    std::smatch match;  // refers into `line`, which outlives it
    static const std::regex metrics("\"metrics\":\"[^\"]*:([0-9]+)\"");
    if (!std::regex_search(line, match, metrics)) {
      throw std::runtime_error("no metrics port: " + line);
    }
    const auto port = static_cast<std::uint16_t>(std::stoi(match[1].str()));
    const auto response = httpExchange(port, "GET", "/metrics");
    if (!response || response->status != 200) throw std::runtime_error("GET /metrics failed");
    return response->body;
  }
  // The sum of the samples of `name` (exactly: no _bucket or _count suffix added) whose labels
  // match `labels` (a regex on the text between the braces), in a /metrics text.
  static long metricSum(const std::string& text, const std::string& name,
                        const std::string& labels = ".*") {
    const std::regex sample("^" + name + "\\{(" + labels + ")\\} ([0-9.e+]+)$");
    long sum = 0;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (std::regex_match(line, m, sample)) sum += std::lround(std::stod(m[m.size() - 1].str()));
    }
    return sum;
  }

  // Requests the operator has made that write (POST, PUT, PATCH, DELETE), from its /metrics
  // (rest_client_requests_total).
  static long operatorWrites() {
    return metricSum(operatorMetrics(), "rest_client_requests_total",
                     "[^}]*method=\"(POST|PUT|PATCH|DELETE)\"[^}]*");
  }

  // Passes of the SessionStore controller so far: begun (keys taken from its queue,
  // workqueue_queue_duration_seconds_count) and ended (controller_runtime_reconcile_total). A
  // key is counted as begun before its pass reads anything, and as ended after the pass is done.
  struct Passes {
    long begun = 0;
    long ended = 0;
  };
  static Passes passes() {
    const std::string text = operatorMetrics();
    if (text.find("workqueue_queue_duration_seconds_count{") == std::string::npos ||
        text.find("controller_runtime_reconcile_total{") == std::string::npos) {
      throw std::runtime_error("no pass counted on /metrics: the marker would hold at once");
    }
    return {.begun = metricSum(text, "workqueue_queue_duration_seconds_count",
                               "[^}]*name=\"sessionstore\"[^}]*"),
            .ended = metricSum(text, "controller_runtime_reconcile_total",
                               "[^}]*controller=\"sessionstore\"[^}]*")};
  }
  // Whether a pass that began after `mark` was read has ended: the operator has looked (at some
  // store; at this one when it is the only one) since then.
  static bool aPassEndedSince(const Passes& mark, long count = 1) {
    return passes().ended >= mark.begun + count;
  }

  // Makes the operator look at `store` without changing anything it acts on: an annotation of the
  // test's own on the SessionStore (a watch event on the store) and on its Redis ConfigMap (an
  // owned object's event, for an operator that watches what it owns). Neither asks for a write.
  void nudge(const std::string& store) {
    const std::string value = "test.sessionstore.io/nudge=" + std::to_string(++nudges_);
    const auto onStore = inNs({"annotate", "--overwrite", "sessionstore", store, value});
    ASSERT_TRUE(onStore.ok()) << onStore.describe();
    if (get("configmap", store + "-redis-config")) {
      const auto onChild =
          inNs({"annotate", "--overwrite", "configmap", store + "-redis-config", value});
      ASSERT_TRUE(onChild.ok()) << onChild.describe();
    }
  }

  // Every password a Secret of this namespace holds must appear in no log line, Event or status.
  void expectNoSecretLeaks() {
    std::vector<std::string> secrets;
    const auto list = inNs({"get", "secrets", "-o", "json"});
    ASSERT_TRUE(list.ok());
    const Json items = Json::parse(list.out)["items"];
    for (const auto& secret : items) {
      const Json data = secret.value("data", Json::object());
      for (const auto& [key, value] : data.items()) {
        if (key.find("password") != std::string::npos || key == "REDIS_PASSWORD") {
          secrets.push_back(*crypto::base64Decode(value.get<std::string>()));
        }
      }
    }
    ASSERT_FALSE(secrets.empty()) << "no password found to look for";
    const std::string log = operator_->output();
    const std::string events = inNs({"get", "events", "-o", "json"}).out;
    const std::string stores = inNs({"get", "sessionstores", "-o", "json"}).out;
    for (const auto& secret : secrets) {
      ASSERT_GE(secret.size(), 20u);
      EXPECT_EQ(log.find(secret), std::string::npos) << "a password is in the operator's log";
      EXPECT_EQ(events.find(secret), std::string::npos) << "a password is in an Event";
      EXPECT_EQ(stores.find(secret), std::string::npos) << "a password is in a status";
    }
  }

  // resourceVersion of every object the scenario cares about, to see which ones changed.
  std::map<std::string, std::string> versions(const std::string& store) {
    std::map<std::string, std::string> out;
    for (const auto& [kind, name] :
         std::vector<std::pair<std::string, std::string>>{{"sessionstore", store},
                                                          {"deployment", store},
                                                          {"service", store},
                                                          {"secret", store + "-session-store"},
                                                          {"secret", store + "-redis-auth"},
                                                          {"configmap", store + "-redis-config"},
                                                          {"statefulset", store + "-redis"},
                                                          {"service", store + "-redis"},
                                                          {"service", store + "-redis-headless"},
                                                          {"networkpolicy", store + "-redis"}}) {
      auto object = get(kind, name);
      out[kind + "/" + name] = object ? (*object)["metadata"].value("resourceVersion", "") : "-";
    }
    return out;
  }
  static std::set<std::string> changed(const std::map<std::string, std::string>& before,
                                       const std::map<std::string, std::string>& after) {
    std::set<std::string> out;
    for (const auto& [key, version] : after) {
      if (before.at(key) != version) out.insert(key);
    }
    return out;
  }
  std::string hashOf(const std::string& deployment) {
    return mustGet("deployment", deployment)["spec"]["template"]["metadata"]["annotations"].value(
        "sessionstore.io/connection-hash", "");
  }
  std::string envValue(const std::string& deployment, const std::string& name) {
    const Json env =
        mustGet("deployment", deployment)["spec"]["template"]["spec"]["containers"][0].value(
            "env", Json::array());
    for (const auto& e : env) {
      if (e["name"] == name) return e.value("value", "");
    }
    return "";
  }
  // Creates a Deployment, its Service and a managed SessionStore, plays the node, waits for Ready.
  void readyStore(const std::string& name, const std::string& extraSpec = "") {
    apply(deploymentYaml(name));
    apply(serviceYaml(name));
    apply(managedStoreYaml(name, name, extraSpec));
    playNode(name);
    ASSERT_TRUE(eventually([&] { return phase(name) == "Ready"; })) << describeStore(name);
  }

  std::vector<std::string> envNames(const Json& deployment) {
    std::vector<std::string> names;
    const Json env =
        deployment["spec"]["template"]["spec"]["containers"][0].value("env", Json::array());
    for (const auto& e : env) {
      names.push_back(e["name"]);
    }
    return names;
  }

  static inline ControlPlane* plane_ = nullptr;
  static inline ChildProcess* operator_ = nullptr;
  static inline std::string addressMap_;
  static inline std::map<std::string, std::unique_ptr<RedisServer>> stores_;
  static inline int counter_ = 0;
  static inline int nudges_ = 0;
  std::string ns_;
};

}  // namespace sessionstore::testing
