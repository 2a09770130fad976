// API server faults (issue 7): the operator binary against a real etcd + kube-apiserver (the
// apiserver profile: no pods are needed, the test plays the node for each managed store's Redis
// as operator_fixture.h does) while the API server goes away, loses history, or answers errors:
//   - kube-apiserver restarted while stores converge, then the operator's connections cut while
//     a store's spec changes and a new store is created through a direct path;
//   - etcd compacted while the operator's watch is away, so its re-watch meets 410 Gone;
//   - the operator's connections cut every few seconds while changes happen;
//   - the API server answering 429 (Retry-After: 1), 503 and 500 for a while.
// After each fault every SessionStore must be converged (Ready at its generation, the
// Deployment wired with the right WORKERS), with no duplicate or orphan object and no password
// regenerated, and the change made while the operator could not see the server reconciled.
//
// SESSIONSTORE_FAULTS=long selects the long form: more stores, more restarts and cuts, longer
// faults.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
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
#include "eventually.h"
#include "fault_proxy.h"
#include "http_client.h"
#include "kube/config.h"
#include "process.h"
#include "redis_server.h"
#include "tcp_proxy.h"

namespace sessionstore::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool longForm() {
  const char* form = std::getenv("SESSIONSTORE_FAULTS");
  return form != nullptr && std::string(form) == "long";
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int portOf(const std::string& url) {
  const auto colon = url.rfind(':');
  return std::stoi(url.substr(colon + 1));
}

std::string deploymentYaml(const std::string& name) {
  return R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: )" + name + R"(}
spec:
  replicas: 2
  selector: {matchLabels: {app: )" + name + R"(}}
  template:
    metadata:
      labels: {app: )" + name + R"(}
    spec:
      containers:
      - name: app
        image: registry.example/shop/web:1.4
        resources:
          requests: {cpu: 500m, memory: 128Mi}
          limits: {cpu: "2", memory: 256Mi}
)";
}

std::string serviceYaml(const std::string& name) {
  return R"(
apiVersion: v1
kind: Service
metadata: {name: )" + name + R"(}
spec:
  selector: {app: )" + name + R"(}
  ports: [{port: 80, targetPort: 8080}]
)";
}

std::string storeYaml(const std::string& name) {
  return R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: )" + name + R"(}
spec:
  target: {deployment: )" + name + ", service: " + name + R"(}
  store:
    type: Managed
    managed:
      persistence: {enabled: false}
  affinity: {mode: ClientIP, timeoutSeconds: 3600}
)";
}

// WORKERS for the Deployment above (CPU limit 2): ceil(2 * perCPU) + offset 1.
int64_t workersFor(int perCpu) { return 2 * perCpu + 1; }

// The objects the operator makes for a managed store, "kind/name".
std::set<std::string> managedObjectsOf(const std::string& store) {
  return {"secret/" + store + "-session-store", "secret/" + store + "-redis-auth",
          "configmap/" + store + "-redis-config", "statefulset/" + store + "-redis",
          "service/" + store + "-redis",          "service/" + store + "-redis-headless",
          "networkpolicy/" + store + "-redis"};
}

// The sum of the samples of a Prometheus counter whose labels include every given pair.
std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Informer failures in the operator's log: a watch that broke, a watch or list refused.
std::size_t streamFailures(const std::string& log) {
  return occurrences(log, "\"msg\":\"watch broken\"") +
         occurrences(log, "\"msg\":\"cannot watch\"") +
         occurrences(log, "\"msg\":\"cannot list\"");
}

double counterSum(const std::string& metrics, const std::string& name,
                  const std::map<std::string, std::string>& labels) {
  double sum = 0;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const auto& [key, value] : labels) {
      if (line.find(key + "=\"" + value + "\"") == std::string::npos) all = false;
    }
    if (all) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

class ApiServerFaultsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto started = Clock::now();
    plane_ = ControlPlane::start(Profile::kApiServer).release();
    const auto crd = plane_->kubectl({"apply", "-f", sourceDir() + "/crds/"});
    if (!crd.ok()) throw std::runtime_error("installing the CRD: " + crd.describe());
    const auto established = plane_->waitForCrd("sessionstores.sessionstore.io");
    if (!established.ok()) throw std::runtime_error("the CRD: " + established.describe());
    apiPort_ = portOf(plane_->env("APISERVER_URL"));
    // The operator reaches the API server through a TCP proxy that can cut its connections;
    // the test's own kubectl goes straight to the server (the "direct path").
    tcpProxy_ = new TcpProxy(apiPort_);
    std::ifstream in(plane_->kubeconfig());
    std::stringstream text;
    text << in.rdbuf();
    proxiedKubeconfig_ = plane_->dir() + "/kubeconfig-through-proxy";
    std::ofstream(proxiedKubeconfig_) << std::regex_replace(
        text.str(), std::regex("server: https://127\\.0\\.0\\.1:[0-9]+"),
        "server: https://127.0.0.1:" + std::to_string(tcpProxy_->port()));
    addressMap_ = plane_->dir() + "/store-addresses";
    std::ofstream(addressMap_) << "# in-cluster address -> where the test's redis-server listens\n";
    std::cout << "[ faults ] form: " << (longForm() ? "long" : "short")
              << "; apiserver profile up in " << secondsSince(started) << " s\n";
  }

  static void TearDownTestSuite() {
    stores_.clear();
    delete tcpProxy_;
    tcpProxy_ = nullptr;
    delete plane_;
    plane_ = nullptr;
  }

  void SetUp() override {
    ns_ = "f" + std::to_string(++counter_);
    ASSERT_TRUE(plane_->kubectl({"create", "namespace", ns_}).ok());
  }

  void TearDown() override {
    if (operator_ && HasFailure()) {
      std::cout << "--- operator log tail:\n" << tail(operator_->output(), 6000) << "\n";
    }
    operator_.reset();
  }

  static std::string tail(const std::string& text, std::size_t n) {
    return text.size() <= n ? text : text.substr(text.size() - n);
  }

  // The operator, watching this test's namespace only, with `kubeconfig`.
  void startOperator(const std::string& kubeconfig) {
    operatorLog_ = plane_->dir() + "/operator-" + ns_ + ".log";
    operator_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{OPERATOR_BINARY, "run", "--kubeconfig", kubeconfig,
                                 "--leader-elect", "false", "--metrics-bind-address",
                                 "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
                                 "--store-address-map", addressMap_, "--namespaces", ns_,
                                 "--log-level", "debug"},
        operatorLog_);
  }

  ProcessResult inNs(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"-n", ns_});
    return plane_->kubectl(args, input);
  }
  void apply(const std::string& yaml) {
    const auto result = inNs({"apply", "-f", "-"}, yaml);
    ASSERT_TRUE(result.ok()) << result.describe();
  }
  void createStore(const std::string& name) {
    apply(deploymentYaml(name) + "---\n" + serviceYaml(name) + "---\n" + storeYaml(name));
  }
  std::optional<Json> get(const std::string& kind, const std::string& name) {
    const auto result = inNs({"get", kind, name, "-o", "json"});
    if (!result.ok()) return std::nullopt;
    return Json::parse(result.out);
  }
  void patchSpec(const std::string& store, const std::string& spec) {
    const auto result =
        inNs({"patch", "sessionstore", store, "--type", "merge", "-p", "{\"spec\":" + spec + "}"});
    ASSERT_TRUE(result.ok()) << result.describe();
  }

  // Plays the node for `store`: once its StatefulSet exists, a real redis-server from its
  // ConfigMap.
  void playNode(const std::string& store) {
    Json config;
    ASSERT_TRUE(eventually(
        [&] {
          if (!get("statefulset", store + "-redis")) return false;
          auto object = get("configmap", store + "-redis-config");
          if (object) config = *object;
          return object.has_value();
        },
        120s))
        << "the operator made no StatefulSet and ConfigMap for " << store;
    auto server =
        startFromStoreConfig(config, plane_->dir() + "/" + ns_ + "-" + store + "-users.acl");
    std::ofstream(addressMap_, std::ios::app)
        << store << "-redis." << ns_ << ".svc:6379 127.0.0.1:" << server->port() << "\n";
    stores_[ns_ + "/" + store] = std::move(server);
  }

  std::string workersOf(const Json& deployment) {
    const Json containers = deployment["spec"]["template"]["spec"].value("containers", Json::array());
    if (containers.empty()) return "";
    const Json env = containers[0].value("env", Json::array());
    for (const auto& e : env) {
      if (e.value("name", "") == "WORKERS") return e.value("value", "");
    }
    return "";
  }

  // Why `store` is not converged, or "" when it is: Ready at its generation, every managed
  // object there, the Deployment wired with `workers`, the Service's affinity timeout.
  std::string notConverged(const std::string& store, int64_t workers, int64_t affinityTimeout) {
    auto object = get("sessionstore", store);
    if (!object) return "no SessionStore";
    const Json status = object->value("status", Json::object());
    if (status.value("phase", "") != "Ready") return "phase " + status.value("phase", "(none)");
    if (status.value("observedGeneration", int64_t{-1}) !=
        (*object)["metadata"].value("generation", int64_t{0})) {
      return "status.observedGeneration is behind metadata.generation";
    }
    for (const auto& kindName : managedObjectsOf(store)) {
      const auto slash = kindName.find('/');
      if (!get(kindName.substr(0, slash), kindName.substr(slash + 1))) return kindName + " missing";
    }
    auto deployment = get("deployment", store);
    if (!deployment) return "no Deployment";
    if (workersOf(*deployment) != std::to_string(workers)) {
      return "WORKERS is \"" + workersOf(*deployment) + "\", want " + std::to_string(workers);
    }
    auto service = get("service", store);
    if (!service) return "no Service";
    const int64_t timeout = (*service)["spec"].value("/sessionAffinityConfig/clientIP/timeoutSeconds"_json_pointer, int64_t{0});
    if (timeout != affinityTimeout) {
      return "Service affinity timeout " + std::to_string(timeout) + ", want " +
             std::to_string(affinityTimeout);
    }
    return "";
  }

  struct Expected {
    int64_t workers = workersFor(2);
    int64_t affinityTimeout = 3600;
  };

  // Waits until every store of `expected` is converged; fails with the reasons otherwise.
  void expectConverged(const std::map<std::string, Expected>& expected,
                       std::chrono::milliseconds timeout = 120s) {
    std::map<std::string, std::string> why;
    const bool ok = eventually(
        [&] {
          why.clear();
          for (const auto& [store, want] : expected) {
            const auto reason = notConverged(store, want.workers, want.affinityTimeout);
            if (!reason.empty()) why[store] = reason;
          }
          return why.empty();
        },
        timeout, 500ms);
    std::string text;
    for (const auto& [store, reason] : why) text += "  " + store + ": " + reason + "\n";
    ASSERT_TRUE(ok) << "not converged:\n" << text;
  }

  // Every object in the namespace labelled managed-by sessionstore-operator belongs to a live
  // store, is one of the objects that store should have, and is controlled by that store's uid
  // (a duplicate would have another name; an orphan another or no owner).
  void expectNoDuplicateOrOrphan(const std::set<std::string>& storeNames) {
    std::map<std::string, std::string> uidOf;
    std::set<std::string> allowed;
    for (const auto& store : storeNames) {
      uidOf[store] = (*get("sessionstore", store))["metadata"].value("uid", "");
      for (const auto& o : managedObjectsOf(store)) allowed.insert(o);
    }
    int seen = 0;
    for (const std::string kind : {"secret", "configmap", "statefulset", "service", "networkpolicy"}) {
      const auto result =
          inNs({"get", kind, "-l", "app.kubernetes.io/managed-by=sessionstore-operator", "-o", "json"});
      ASSERT_TRUE(result.ok()) << result.describe();
      const Json list = Json::parse(result.out);
      const Json items = list["items"];
      for (const auto& item : items) {
        const std::string name = item["metadata"].value("name", "");
        const std::string key = kind + "/" + name;
        ++seen;
        EXPECT_TRUE(allowed.contains(key)) << "unexpected (duplicate or orphan) object " << key;
        const Json owners = item["metadata"].value("ownerReferences", Json::array());
        bool owned = false;
        for (const auto& owner : owners) {
          for (const auto& [store, uid] : uidOf) {
            if (owner.value("uid", "") == uid && owner.value("controller", false) &&
                key.find(store) != std::string::npos) {
              owned = true;
            }
          }
        }
        EXPECT_TRUE(owned) << key << " is not controlled by its SessionStore";
      }
    }
    EXPECT_EQ(seen, static_cast<int>(allowed.size()))
        << "an object of a store is missing or not labelled";
  }

  // The passwords of each store (the redis-auth Secret's data and the connection Secret's
  // REDIS_PASSWORD), by "secret/key". Compared with expectSamePasswords, never printed.
  std::map<std::string, std::string> passwords(const std::set<std::string>& storeNames) {
    std::map<std::string, std::string> out;
    for (const auto& store : storeNames) {
      if (auto auth = get("secret", store + "-redis-auth")) {
        const Json data = auth->value("data", Json::object());
        for (const auto& [key, value] : data.items()) {
          out[store + "-redis-auth/" + key] = value.get<std::string>();
        }
      }
      if (auto connection = get("secret", store + "-session-store")) {
        const Json data = connection->value("data", Json::object());
        out[store + "-session-store/REDIS_PASSWORD"] = data.value("REDIS_PASSWORD", "");
      }
    }
    return out;
  }
  // Names the passwords that changed, without their values.
  void expectSamePasswords(const std::map<std::string, std::string>& before,
                           const std::set<std::string>& storeNames) {
    const auto after = passwords(storeNames);
    ASSERT_GE(before.size(), 3 * storeNames.size()) << "passwords missing before the fault";
    std::string changed;
    for (const auto& [key, value] : before) {
      const auto it = after.find(key);
      if (it == after.end() || it->second != value || value.empty()) changed += " " + key;
    }
    EXPECT_TRUE(changed.empty()) << "password regenerated or gone:" << changed;
  }

  std::map<std::string, std::string> versions(const std::string& store) {
    std::map<std::string, std::string> out;
    std::set<std::string> objects = managedObjectsOf(store);
    objects.insert("deployment/" + store);
    for (const auto& kindName : objects) {
      const auto slash = kindName.find('/');
      auto object = get(kindName.substr(0, slash), kindName.substr(slash + 1));
      out[kindName] = object ? (*object)["metadata"].value("resourceVersion", "") : "-";
    }
    return out;
  }

  // The operator's /metrics text (its port from its "serving" log line).
  std::string operatorMetrics() {
    const std::string log = operator_->output();
    const auto at = log.rfind("\"msg\":\"serving\"");
    if (at == std::string::npos) throw std::runtime_error("the operator has not said where it serves");
    const std::string line = log.substr(at, log.find('\n', at) - at);
    std::smatch match;
    static const std::regex metrics("\"metrics\":\"[^\"]*:([0-9]+)\"");
    if (!std::regex_search(line, match, metrics)) throw std::runtime_error("no metrics port: " + line);
    const auto response = httpExchange(static_cast<std::uint16_t>(std::stoi(match[1].str())), "GET",
                                       "/metrics");
    if (!response || response->status != 200) throw std::runtime_error("GET /metrics failed");
    return response->body;
  }
  double requests(const std::string& method, const std::string& code = "") {
    std::map<std::string, std::string> labels{{"method", method}};
    if (!code.empty()) labels["code"] = code;
    return counterSum(operatorMetrics(), "rest_client_requests_total", labels);
  }

  bool operatorRunning() { return !operator_->wait(0ms).has_value(); }

  // Creates `names`, plays the node for each and waits until all are converged.
  void convergedStores(const std::vector<std::string>& names) {
    for (const auto& name : names) createStore(name);
    for (const auto& name : names) playNode(name);
    std::map<std::string, Expected> expected;
    for (const auto& name : names) expected[name] = {};
    expectConverged(expected);
  }

  static inline ControlPlane* plane_ = nullptr;
  static inline TcpProxy* tcpProxy_ = nullptr;
  static inline int apiPort_ = 0;
  static inline std::string proxiedKubeconfig_;
  static inline std::string addressMap_;
  static inline std::map<std::string, std::unique_ptr<RedisServer>> stores_;
  static inline int counter_ = 0;
  std::unique_ptr<ChildProcess> operator_;
  std::string operatorLog_;
  std::string ns_;
};

// kube-apiserver restarted while stores converge (twice in the long form); then, while the
// operator's connections are cut, one store's workers.perCPU changes and a new store is created
// straight through the API server. Afterwards all converge, the change touched the Deployment
// and nothing of the store, and no password was regenerated.
TEST_F(ApiServerFaultsTest, ApiServerRestartMidRunAndChangesWhileUnseen) {
  const auto started = Clock::now();
  const int count = longForm() ? 6 : 3;
  const int restarts = longForm() ? 3 : 1;
  startOperator(proxiedKubeconfig_);
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back("s" + std::to_string(i));
  for (const auto& name : names) createStore(name);
  const auto brokenBefore = streamFailures(operator_->output());
  for (int r = 0; r < restarts; ++r) {
    const auto t0 = Clock::now();
    const auto restarted = plane_->restart("kube-apiserver");
    ASSERT_TRUE(restarted.ok()) << restarted.describe();
    std::cout << "[ faults ] kube-apiserver restarted mid-run in " << secondsSince(t0) << " s\n";
    if (r == 0) {
      for (const auto& name : names) playNode(name);
    }
  }
  std::map<std::string, Expected> expected;
  for (const auto& name : names) expected[name] = {};
  expectConverged(expected);
  const auto broken = streamFailures(operator_->output()) - brokenBefore;
  std::cout << "[ faults ] the operator's log shows " << broken
            << " broken watch or failed request(s) of its informer across the restart(s)\n";
  EXPECT_GE(broken, 1u) << "the operator did not notice the restart";
  const std::set<std::string> before(names.begin(), names.end());
  const auto passwordsBefore = passwords(before);
  const auto versionsBefore = versions("s0");

  // The operator cannot see the server; a change and a new store arrive meanwhile. Cut off means
  // its informer has met the cut (a broken watch or a refused request in its log); and it has
  // met it again after the changes, so it did not see them before the connections came back.
  const auto failuresBeforeCut = streamFailures(operator_->output());
  tcpProxy_->cut();
  ASSERT_TRUE(eventually([&] { return streamFailures(operator_->output()) > failuresBeforeCut; }))
      << "the operator did not notice the cut";
  patchSpec("s0", R"({"workers":{"perCPU":3}})");
  createStore("late");
  if (longForm()) {
    const auto restarted = plane_->restart("kube-apiserver");
    ASSERT_TRUE(restarted.ok()) << restarted.describe();
    std::cout << "[ faults ] kube-apiserver restarted again while the operator was cut off\n";
  }
  const auto failuresAfterChanges = streamFailures(operator_->output());
  ASSERT_TRUE(eventually([&] {
    return streamFailures(operator_->output()) > failuresAfterChanges;
  })) << "the operator did not try the server again while cut off";
  tcpProxy_->restore();
  const auto restored = Clock::now();
  playNode("late");
  expected["s0"].workers = workersFor(3);
  expected["late"] = {};
  expectConverged(expected);
  std::cout << "[ faults ] after the cut: the change and the new store reconciled in "
            << secondsSince(restored) << " s\n";

  const auto versionsAfter = versions("s0");
  std::set<std::string> changed;
  for (const auto& [key, version] : versionsAfter) {
    if (versionsBefore.at(key) != version) changed.insert(key);
  }
  // WORKERS on the Deployment, and REDIS_MAX_CONNECTIONS (derived from the workers) in the
  // connection Secret; nothing of the store itself.
  EXPECT_EQ(changed, (std::set<std::string>{"deployment/s0", "secret/s0-session-store"}))
      << "workers.perCPU must change the Deployment and the connection Secret only";
  expectSamePasswords(passwordsBefore, before);
  auto all = before;
  all.insert("late");
  expectNoDuplicateOrOrphan(all);
  EXPECT_TRUE(operatorRunning());
  if (!HasFailure()) std::cout << "[ faults ] checked: " << count << " stores converged across " << restarts
            << " kube-apiserver restart(s); perCPU 2->3 made while cut off changed only "
               "deployment/s0 (WORKERS "
            << workersFor(2) << "->" << workersFor(3)
            << ") and its connection Secret (pool size); a store created while cut off converged; no duplicate or orphan object among "
            << all.size() << " stores; password Secrets unchanged; " << secondsSince(started)
            << " s\n";
}

// etcd compacted at its current revision, and kube-apiserver restarted, while the operator's
// watch is away and other writes move the SessionStore history on: the operator's re-watch from
// its old resourceVersion gets 410 Gone, it relists, and it reconciles the change made during
// the gap.
TEST_F(ApiServerFaultsTest, EtcdCompactionForcesRelist) {
  const auto started = Clock::now();
  startOperator(proxiedKubeconfig_);
  convergedStores({"a0", "a1"});
  const std::set<std::string> names{"a0", "a1"};
  const auto passwordsBefore = passwords(names);
  const double listsBefore = requests("LIST");
  const double goneBefore = requests("WATCH", "410");
  const auto goneLogBefore = occurrences(operator_->output(), "410 Gone), relisting");

  const auto failuresBeforeCut = streamFailures(operator_->output());
  tcpProxy_->cut();
  // Away: its informer has met the cut (a broken watch or a refused request in its log).
  ASSERT_TRUE(eventually([&] { return streamFailures(operator_->output()) > failuresBeforeCut; }))
      << "the operator did not notice the cut";
  patchSpec("a1", R"({"affinity":{"timeoutSeconds":1800}})");
  // Writes elsewhere: SessionStores in another namespace (the operator does not watch it), so the
  // history of the resource moves well past the operator's resourceVersion.
  const std::string churn = ns_ + "-churn";
  ASSERT_TRUE(plane_->kubectl({"create", "namespace", churn}).ok());
  const int writes = longForm() ? 400 : 150;
  std::string many;
  for (int i = 0; i < writes; ++i) many += storeYaml("churn" + std::to_string(i)) + "---\n";
  const auto applied = plane_->kubectl({"-n", churn, "apply", "-f", "-"}, many);
  ASSERT_TRUE(applied.ok()) << applied.describe();

  // Compact etcd at its current revision, through its HTTP/JSON gateway.
  const std::string etcd = plane_->env("ETCD_URL");
  const auto range = runProcess({"curl", "-sf", "-X", "POST", etcd + "/v3/kv/range", "-d",
                                 R"({"key":"AA=="})"});
  ASSERT_TRUE(range.ok()) << range.describe();
  const std::string revision = Json::parse(range.out)["header"].value("revision", "");
  ASSERT_FALSE(revision.empty()) << range.out;
  const auto compacted =
      runProcess({"curl", "-sf", "-X", "POST", etcd + "/v3/kv/compaction", "-d",
                  R"({"revision":)" + revision + R"(,"physical":true})"});
  ASSERT_TRUE(compacted.ok()) << compacted.describe();
  std::cout << "[ faults ] " << writes << " SessionStore writes elsewhere, etcd compacted at revision "
            << revision << "\n";
  // kube-apiserver's watch cache still holds the events since the operator's resourceVersion
  // (it grows while its events are recent), so compaction alone does not refuse the re-watch
  // (measured: no 410). The server restarted while the operator was away starts its cache at
  // the compacted, current revision: the operator's resourceVersion is then too old.
  const auto restarted = plane_->restart("kube-apiserver");
  ASSERT_TRUE(restarted.ok()) << restarted.describe();
  tcpProxy_->restore();
  const auto restored = Clock::now();

  expectConverged({{"a0", {}}, {"a1", {.affinityTimeout = 1800}}});
  const double reconciledIn = secondsSince(restored);
  ASSERT_TRUE(eventually([&] { return requests("LIST") > listsBefore; }, 30s));
  // 410 comes as an HTTP status (rest_client_requests_total code 410) or, once the watch is
  // open, as an ERROR event in the stream, which the informer logs.
  const double goneStatus = requests("WATCH", "410") - goneBefore;
  const auto goneLogged = occurrences(operator_->output(), "410 Gone), relisting") - goneLogBefore;
  const double lists = requests("LIST") - listsBefore;
  std::cout << "[ faults ] after the gap: 410 Gone met " << goneLogged
            << " time(s) (informer log; as HTTP status " << goneStatus << "), " << lists
            << " relist(s)\n";
  EXPECT_GE(goneLogged, 1) << "the re-watch from the old resourceVersion was not refused with 410";
  EXPECT_GE(lists, 1) << "the operator did not relist";
  expectSamePasswords(passwordsBefore, names);
  expectNoDuplicateOrOrphan(names);
  EXPECT_TRUE(operatorRunning());
  if (!HasFailure()) std::cout << "[ faults ] checked: 410 Gone after compaction, relisted, the affinity change "
               "made during the gap reconciled in "
            << reconciledIn << " s; no duplicate or orphan; passwords unchanged; "
            << secondsSince(started) << " s\n";
}

// The operator's connections cut every few seconds while a store changes and another is
// created: no event is lost (a store created during the cuts can only be seen through the watch
// or a relist: the periodic requeue knows only existing keys), and all converge.
TEST_F(ApiServerFaultsTest, WatchConnectionsCutRepeatedly) {
  const auto started = Clock::now();
  startOperator(proxiedKubeconfig_);
  convergedStores({"c0", "c1"});
  const std::set<std::string> names{"c0", "c1"};
  const auto passwordsBefore = passwords(names);
  const double watchesBefore = requests("WATCH");

  const auto duration = longForm() ? 60s : 20s;
  const auto period = 3s;
  std::atomic<bool> cutting{true};
  std::atomic<int> cuts{0};
  // The fault's schedule: these sleeps pace the cuts (a network that drops every few seconds),
  // they wait for nothing.
  std::thread cutter([&] {
    const auto end = Clock::now() + duration;
    while (Clock::now() < end) {
      tcpProxy_->cut();
      ++cuts;
      std::this_thread::sleep_for(400ms);
      tcpProxy_->restore();
      std::this_thread::sleep_for(period - 400ms);
    }
    cutting = false;
  });
  // The changes land among the cuts: after the second, the third (and the sixth).
  const auto afterCut = [&](int n) {
    ASSERT_TRUE(eventually([&] { return cuts >= n; }, duration)) << "cut " << n << " never came";
  };
  ASSERT_NO_FATAL_FAILURE(afterCut(2));
  patchSpec("c0", R"({"workers":{"perCPU":3}})");
  ASSERT_NO_FATAL_FAILURE(afterCut(3));
  createStore("c2");
  playNode("c2");
  if (longForm()) {
    ASSERT_NO_FATAL_FAILURE(afterCut(6));
    patchSpec("c1", R"({"affinity":{"timeoutSeconds":900}})");
    createStore("c3");
    playNode("c3");
  }
  cutter.join();
  std::map<std::string, Expected> expected{
      {"c0", {.workers = workersFor(3)}}, {"c1", {}}, {"c2", {}}};
  std::set<std::string> all{"c0", "c1", "c2"};
  if (longForm()) {
    expected["c1"].affinityTimeout = 900;
    expected["c3"] = {};
    all.insert("c3");
  }
  const auto stopped = Clock::now();
  expectConverged(expected);
  const double watches = requests("WATCH") - watchesBefore;
  std::cout << "[ faults ] " << cuts.load() << " cuts in " << duration.count() << " s; " << watches
            << " watch requests since; converged " << secondsSince(stopped)
            << " s after the last cut\n";
  EXPECT_GE(watches, 2) << "the operator did not watch again after the cuts";
  expectSamePasswords(passwordsBefore, names);
  expectNoDuplicateOrOrphan(all);
  EXPECT_TRUE(operatorRunning());
  if (!HasFailure()) std::cout << "[ faults ] checked: changes and new stores made during repeated cuts all "
               "reconciled; no duplicate or orphan; passwords unchanged; "
            << secondsSince(started) << " s\n";
}

// The API server answers 429 (Retry-After: 1), then 503 (and 500 in the long form) to every
// request for a while. The operator must back off (bounded request rate, no tight loop), and
// afterwards recover by itself and reconcile a change made during the fault.
TEST_F(ApiServerFaultsTest, TooManyRequestsAndServerErrors) {
  const auto started = Clock::now();
  const auto certificate = makeTestCertificate(plane_->dir());
  FaultProxy proxy(apiPort_, plane_->dir() + "/pki/ca.crt", certificate);
  // A bearer token passes through the proxy (a client certificate would end there): the admin
  // token of the plane's token file. It goes into the kubeconfig only, never to the output.
  std::ifstream tokens(plane_->dir() + "/tokens.csv");
  std::string line;
  std::getline(tokens, line);
  const std::string token = line.substr(0, line.find(','));
  ASSERT_FALSE(token.empty());
  const std::string kubeconfig = plane_->dir() + "/kubeconfig-fault-proxy";
  std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\nclusters:\n- name: proxy\n"
                               "  cluster:\n    server: https://127.0.0.1:"
                            << proxy.port() << "\n    certificate-authority: "
                            << certificate.caFile
                            << "\nusers:\n- name: admin\n  user:\n    token: " << token
                            << "\ncontexts:\n- name: proxy\n  context: {cluster: proxy, user: "
                               "admin, namespace: default}\ncurrent-context: proxy\n";
  startOperator(kubeconfig);
  convergedStores({"r0", "r1"});
  ASSERT_GT(proxy.forwardedConnections(), 0);
  const std::set<std::string> names{"r0", "r1"};
  const auto passwordsBefore = passwords(names);

  // A third store whose Redis is not there yet: the operator looks at it every 3 s, so its key
  // is being reconciled when the fault begins (the converged ones wait for their 30 s resync).
  createStore("r2");
  ASSERT_TRUE(eventually([&] {
    auto object = get("sessionstore", "r2");
    return object && (*object).value("/status/phase"_json_pointer, std::string()) == "Provisioning";
  }));

  struct Phase {
    int status;
    std::chrono::seconds length;
  };
  std::vector<Phase> phases = {{429, 12s}, {503, 10s}};
  if (longForm()) phases = {{429, 12s}, {503, 9s}, {500, 9s}};
  const auto faultStart = Clock::now();
  Clock::time_point tooManyEnd;
  bool changed = false;
  for (const auto& phase : phases) {
    proxy.fault(phase.status, 1);
    const auto end = Clock::now() + phase.length;
    if (!changed) {
      // The change is made during the fault: once the operator has met it.
      ASSERT_TRUE(eventually([&] { return !proxy.faulted().empty(); }, phase.length, 50ms))
          << "the operator made no request in the fault's first " << phase.length.count() << " s";
      patchSpec("r0", R"({"workers":{"perCPU":3}})");
      changed = true;
    }
    // The fault's schedule: each phase lasts its length (the bounds below are computed from it).
    std::this_thread::sleep_for(end - Clock::now());
    if (phase.status == 429) tooManyEnd = Clock::now();
  }
  proxy.forward();
  const double faultSeconds = secondsSince(faultStart);
  const auto recovered = Clock::now();
  const auto faulted = proxy.faulted();

  // The most requests in any 1 s window; the requests per method and path; the shortest gap
  // between two requests for the same path while the answer was 429 with Retry-After: 1.
  std::size_t maxPerSecond = 0;
  for (std::size_t i = 0, j = 0; j < faulted.size(); ++j) {
    while (faulted[j].at - faulted[i].at >= 1s) ++i;
    maxPerSecond = std::max(maxPerSecond, j - i + 1);
  }
  std::map<std::string, int> byPath;
  std::map<std::string, Clock::time_point> lastTooMany;
  double shortestGap = 1e9;
  std::string shortestGapPath;
  for (const auto& r : faulted) {
    // Two informers may watch one path with different label selectors (the operator's Services
    // and the wired targets'): each is its own source.
    std::string selector;
    if (const auto at = r.target.find("labelSelector="); at != std::string::npos) {
      selector = " " + r.target.substr(at, r.target.find('&', at) - at);
    }
    const std::string path = r.method + " " + r.target.substr(0, r.target.find('?')) + selector +
                             (r.target.find("watch=") != std::string::npos ? " (watch)" : "");
    ++byPath[path];
    if (r.at > tooManyEnd) continue;
    // A POST creates a new object each time (the recorder's Events, for any of the stores): not
    // a retry of one request, so Retry-After says nothing about the gap between two of them.
    // They still count in the bounds below.
    if (r.method == "POST") continue;
    if (const auto it = lastTooMany.find(path); it != lastTooMany.end()) {
      const double gap = std::chrono::duration<double>(r.at - it->second).count();
      if (gap < shortestGap) {
        shortestGap = gap;
        shortestGapPath = path;
      }
    }
    lastTooMany[path] = r.at;
  }
  std::cout << "[ faults ] " << faultSeconds << " s of 429/5xx: " << faulted.size()
            << " requests answered with a fault, at most " << maxPerSecond
            << " in any 1 s window; shortest gap between two requests for one path under 429: "
            << shortestGap << " s (" << shortestGapPath << ")\n";
  for (const auto& [what, n] : byPath) std::cout << "[ faults ]   " << n << " x " << what << "\n";

  // Bounds, from the operator's backoff settings. While every request fails, these retry: the
  // 8 informers (SessionStores; the operator's ConfigMaps, Services, StatefulSets,
  // NetworkPolicies and Secrets; the wired Deployments and Services: watch or list, backoff
  // 0.8 s doubling to 30 s) and the reconcile of each of the 3 stores (per-key backoff 5 ms
  // doubling, as client-go's workqueue), each attempt at most 3 GETs side by side (the password
  // and connection Secrets, which are never cached, and a target not wired yet); all wait at
  // least the Retry-After (1 s) of a 429. So under 429 a path is asked at
  // most once a second, and a source makes at most one request per second of 429 plus, in each
  // 5xx phase, at most the ~12 doublings from 5 ms to 10 s. In any 1 s window a source whose
  // backoff starts afresh in a 5xx phase makes at most 9 (5 ms ... 640 ms). A retry storm (no
  // backoff) makes hundreds of requests a second.
  const std::size_t sources = 8 + 3 * 3;
  std::size_t perSource = 0;
  for (const auto& phase : phases) {
    perSource += phase.status == 429 ? static_cast<std::size_t>(phase.length.count()) + 1 : 13;
  }
  EXPECT_GE(shortestGap, 0.9) << "Retry-After: 1 not honoured for " << shortestGapPath;
  EXPECT_LE(maxPerSecond, 10 * sources) << "a tight loop: too many requests in one second";
  EXPECT_LE(faulted.size(), perSource * sources) << "too many requests during the fault";
  EXPECT_GE(faulted.size(), 2u) << "the fault was not met at all";

  playNode("r2");
  expectConverged({{"r0", {.workers = workersFor(3)}}, {"r1", {}}, {"r2", {}}});
  std::cout << "[ faults ] recovered and reconciled the change made during the fault in "
            << secondsSince(recovered) << " s, without a restart\n";
  EXPECT_TRUE(operatorRunning()) << "the operator exited";
  expectSamePasswords(passwordsBefore, names);
  expectNoDuplicateOrOrphan({"r0", "r1", "r2"});
  EXPECT_EQ(operator_->output().find(token), std::string::npos) << "the token is in the log";
  if (!HasFailure()) std::cout << "[ faults ] checked: at most " << maxPerSecond << " requests/s (bound "
            << 10 * sources << "), " << faulted.size() << " in all (bound " << perSource * sources
            << ") under 429/503" << (longForm() ? "/500" : "")
            << ", Retry-After honoured per path; recovery without restart, change reconciled, "
            << "no duplicate or orphan, passwords unchanged; " << secondsSince(started) << " s\n";
  operator_.reset();  // before the proxy goes
}

}  // namespace
}  // namespace sessionstore::testing
