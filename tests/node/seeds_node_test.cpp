// The incidents the product was made from (its seeds), reproduced and then ended on one real node:
// the `node` profile (scripts/controlplane up node) runs containerd, a kubelet, kube-proxy and
// CoreDNS, so pods are real processes, Services are kube-proxy's iptables rules, and the operator
// runs in the cluster from manifests/ as a user installs it (tests/node/operator), as its own image
// and ServiceAccount, with leader election.
//
// One profile and one operator installation for the whole suite; the tests run in order and the
// later ones build on the first one's namespace:
//   0. the operator runs in the cluster: 2 replicas Ready, one Lease holder, /metrics served;
//   1. download tokens (seed 000): 2 replicas of the demo app lose tokens issued by the other
//      pod, until the SessionStore of examples/download-tokens shares them;
//   2. the startup race (seed 002): no app container of the wired ReplicaSet ever logged a
//      refused connection, none restarted (on a node that enforces no NetworkPolicy: one that
//      does admits a new pod a moment after it starts; tests/node/CMakeLists.txt runs the suite
//      on both);
//   3. a per-pod session map (seed 003): with ClientIP affinity, and a store that never answers,
//      a client keeps reaching the pod that holds its sessions;
//   4. store loss: Redis SIGKILLed until the store is Degraded, clients sticky meanwhile, and
//      every session back once Redis is;
//   5. the store's NetworkPolicy: the target's pods reach it, a new pod with the app's label gets
//      in, a pod without it never does (the last two asserted only where the node enforces
//      NetworkPolicy: the profile's env says NETWORK_POLICY=enforced);
//   6. a managed store that serves TLS only: the app verifies it with the CA file it is given;
//   7. a password rotation under a client loop through the app: no failed AUTH;
//   8. a store of three Redis pods whose primary's container is killed under a client loop: a
//      replica takes over, the app's tokens survive, never two pods labelled primary;
//   9. memory that follows load: a store filled past 90 % of maxmemory is raised one step live,
//      its container's memory limit resized in place by the kubelet, with no restart of Redis.
// Tests assert behaviour, never a duration: every wait is for a fact, with a generous bound, and
// how long it took is printed as information. No secret is ever printed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "control_plane.h"
#include "eventually.h"
#include "http_client.h"
#include "process.h"

namespace sessionstore::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr const char* kOperatorNs = "sessionstore-system";
constexpr const char* kOperatorName = "sessionstore-operator";
constexpr const char* kTokensNs = "download-tokens";  // scenarios 1, 2, 4 and 5
constexpr const char* kSessionMapNs = "session-map";  // scenario 3
constexpr const char* kAppSelector = "app.kubernetes.io/name=web";
// What tests/node/download-tokens and tests/node/operator name; the profile must have imported
// these (its env file says which it did).
constexpr const char* kOperatorImage = "localhost/sessionstore/operator:dev";
constexpr const char* kDemoAppImage = "localhost/sessionstore/demo-app:1";
constexpr const char* kRedisImage = "localhost/sessionstore/redis:7";
// The line of /metrics by which a replica says it leads (operator/manager/manager.cpp).
constexpr const char* kLeaderSample =
    "leader_election_master_status{name=\"sessionstore-operator\"} 1\n";

std::string seconds(Clock::duration d) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << std::chrono::duration<double>(d).count();
  return out.str();
}

std::string trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

std::string tail(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

// The body of an answer of the demo app, or an empty object when it is not JSON.
Json bodyOf(const HttpResponse& response) {
  try {
    return Json::parse(response.body);
  } catch (const Json::exception&) {
    return Json::object();
  }
}

// What a series of requests through a Service gave.
struct Round {
  int tries = 0;
  int created = 0;  // 201 to the POST
  int found = 0;    // 200 to the GET that followed
  int unknown = 0;  // 404 to the GET: the failure of the seeds
  int errors = 0;   // anything else (no answer, 5xx, ...)
  std::string firstError;
  std::map<std::string, int> issuers;    // pod -> answers to the POSTs
  std::map<std::string, int> answerers;  // pod -> answers to the GETs
  std::set<std::string> pods() const {
    std::set<std::string> all;
    for (const auto& [pod, n] : issuers) all.insert(pod);
    for (const auto& [pod, n] : answerers) all.insert(pod);
    return all;
  }
  std::string describe() const {
    std::ostringstream out;
    out << unknown << " of " << tries << " failed with 404 (" << found << " found, " << errors
        << " other errors); issued by";
    for (const auto& [pod, n] : issuers) out << " " << pod << " x" << n;
    out << "; answered by";
    for (const auto& [pod, n] : answerers) out << " " << pod << " x" << n;
    return out.str();
  }
};

class SeedsOnTheNode : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto start = Clock::now();
    try {
      plane_ = ControlPlane::start(Profile::kNode).release();
    } catch (const std::exception& error) {
      setupError_ = std::string("the node profile did not start: ") + error.what();
      return;
    }
    std::cout << "[ node ] profile up in " << seconds(Clock::now() - start)
              << " s: " << plane_->dir() << "\n";
    for (const auto& [key, want] :
         std::vector<std::pair<std::string, std::string>>{{"IMAGE_OPERATOR", kOperatorImage},
                                                          {"IMAGE_DEMO_APP", kDemoAppImage},
                                                          {"IMAGE_REDIS", kRedisImage}}) {
      if (plane_->env(key) != want) {
        setupError_ = key + " is \"" + plane_->env(key) + "\" in the profile's env, but " +
                      "tests/node's overlays name " + want;
        return;
      }
    }
    const auto installStart = Clock::now();
    const auto installed =
        kubectl({"apply", "--server-side", "-k", sourceDir() + "/tests/node/operator"});
    if (!installed.ok()) {
      setupError_ = "kubectl apply --server-side -k tests/node/operator: " + installed.describe();
      return;
    }
    const auto crd = plane_->waitForCrd("sessionstores.sessionstore.io");
    if (!crd.ok()) {
      setupError_ = "the CRD is not Established: " + crd.describe();
      return;
    }
    if (!waitFor("the operator's Deployment rolled out (2 replicas Ready)", 5min,
                 [] { return rolledOut(kOperatorNs, kOperatorName); })) {
      setupError_ = "the operator's Deployment did not roll out:\n" +
                    inNs(kOperatorNs, {"get", "deployment,pods", "-o", "wide"}).out +
                    inNs(kOperatorNs, {"describe", "pods"}).out;
      return;
    }
    std::cout << "[ node ] operator installed in " << seconds(Clock::now() - installStart)
              << " s\n";
  }

  static void TearDownTestSuite() {
    if (plane_ == nullptr) return;
    if (anyFailure_) keepLogs();
    const auto stopped = plane_->stop();
    if (!stopped.ok()) std::cout << "[ node ] tear-down: " << stopped.describe() << "\n";
    delete plane_;
    plane_ = nullptr;
  }

  void SetUp() override {
    if (setupError_.empty()) return;
    static bool told = false;
    if (std::exchange(told, true)) GTEST_FAIL() << "the suite's set-up failed (see the first test)";
    GTEST_FAIL() << setupError_;
  }

  void TearDown() override {
    if (HasFailure() && plane_ != nullptr) {
      anyFailure_ = true;
      diagnose();
    }
  }

  // --- kubectl ---------------------------------------------------------------------------------

  static ProcessResult kubectl(std::vector<std::string> args, const std::string& input = "",
                               std::chrono::milliseconds timeout = 2min) {
    std::vector<std::string> argv{controlPlaneBinary("kubectl"), "--kubeconfig",
                                  plane_->kubeconfig()};
    argv.insert(argv.end(), args.begin(), args.end());
    return runProcess(argv, {.input = input, .timeout = timeout});
  }
  static ProcessResult inNs(const std::string& ns, std::vector<std::string> args,
                            const std::string& input = "") {
    if (!ns.empty()) args.insert(args.begin(), {"-n", ns});  // "": cluster-scoped
    return kubectl(args, input);
  }
  // A Redis command inside a store pod's redis container, as its readiness probe sends one: the
  // monitor user, its password from the container's environment (never on a command line here,
  // never printed).
  static ProcessResult redisCli(const std::string& ns, const std::string& pod,
                                const std::string& command) {
    return inNs(ns, {"exec", pod, "-c", "redis", "--", "sh", "-c",
                     "redis-cli --user monitor --pass \"$MONITOR_PASSWORD\" --no-auth-warning " +
                         command});
  }
  // INFO (of `section`, or all) of a store pod's Redis, field by field; empty when it did not
  // answer.
  static std::map<std::string, std::string> redisInfo(const std::string& ns, const std::string& pod,
                                                      const std::string& section = "") {
    std::map<std::string, std::string> fields;
    const auto asked = redisCli(ns, pod, section.empty() ? "info" : "info " + section);
    if (!asked.ok()) return fields;
    std::istringstream lines(asked.out);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon != std::string::npos) fields[line.substr(0, colon)] = line.substr(colon + 1);
    }
    return fields;
  }
  static std::optional<Json> get(const std::string& ns, const std::string& kind,
                                 const std::string& name) {
    const auto result = inNs(ns, {"get", kind, name, "-o", "json"});
    if (!result.ok()) return std::nullopt;
    try {
      return Json::parse(result.out);
    } catch (const Json::exception&) {
      return std::nullopt;
    }
  }
  static Json items(const std::string& ns, const std::string& kind,
                    const std::string& selector = "") {
    std::vector<std::string> args{"get", kind, "-o", "json"};
    if (!selector.empty()) args.insert(args.end(), {"-l", selector});
    const auto result = inNs(ns, args);
    if (!result.ok()) return Json::array();
    try {
      return Json::parse(result.out).value("items", Json::array());
    } catch (const Json::exception&) {
      return Json::array();
    }
  }
  static void apply(const std::string& ns, const std::string& yaml) {
    const auto result = inNs(ns, {"apply", "-f", "-"}, yaml);
    ASSERT_TRUE(result.ok()) << result.describe();
  }
  static void createNamespace(const std::string& ns) {
    const auto result = kubectl({"create", "namespace", ns});
    ASSERT_TRUE(result.ok()) << result.describe();
  }
  // tests/node/download-tokens into `ns`: the app alone (the Deployment and Service, which carry
  // the app's label), or everything with its SessionStore.
  static void applyDownloadTokens(const std::string& ns, bool withSessionStore) {
    std::vector<std::string> args{"apply", "-k", sourceDir() + "/tests/node/download-tokens"};
    if (!withSessionStore) args.insert(args.end(), {"-l", kAppSelector});
    const auto result = inNs(ns, args);
    ASSERT_TRUE(result.ok()) << result.describe();
  }

  // A scenario in a namespace of its own: the previous scenario's deleted (not waited for),
  // `ns` made with the demo app in it, and a managed SessionStore "web" for it on the node's
  // Redis image, maxMemory 64Mi, whose spec.store.managed also holds `managedExtra` (YAML at
  // that level: each line indented by six spaces).
  static void startScenario(const std::string& ns, const std::string& previousNs,
                            const std::string& managedExtra) {
    inNs("", {"delete", "namespace", previousNs, "--ignore-not-found", "--wait=false"});
    ASSERT_NO_FATAL_FAILURE(createNamespace(ns));
    ASSERT_NO_FATAL_FAILURE(applyDownloadTokens(ns, false));
    ASSERT_NO_FATAL_FAILURE(apply(ns, R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata:
  name: web
spec:
  target: {deployment: web, service: web}
  store:
    type: Managed
    managed:
      image: )" + std::string(kRedisImage) + R"(
      maxMemory: 64Mi
)" + managedExtra));
  }

  // Waits for a fact and prints how long it took (information: never asserted).
  static bool waitFor(const std::string& what, std::chrono::milliseconds timeout,
                      const std::function<bool()>& fact,
                      std::chrono::milliseconds interval = 500ms) {
    const auto start = Clock::now();
    const bool held = eventually(fact, timeout, interval);
    std::cout << "[ wait ] " << what << (held ? ": after " : ": NOT within ")
              << seconds(Clock::now() - start) << " s\n";
    return held;
  }

  // --- objects ---------------------------------------------------------------------------------

  static std::optional<Json> conditionOf(const Json& object, const std::string& type) {
    const Json conditions =
        object.value("status", Json::object()).value("conditions", Json::array());
    for (const auto& c : conditions) {
      if (c.value("type", "") == type) return c;
    }
    return std::nullopt;
  }
  static bool conditionIs(const std::string& ns, const std::string& store, const std::string& type,
                          const std::string& status) {
    const auto object = get(ns, "sessionstore", store);
    if (!object) return false;
    const auto c = conditionOf(*object, type);
    return c && c->value("status", "") == status;
  }
  static std::string phase(const std::string& ns, const std::string& store) {
    const auto object = get(ns, "sessionstore", store);
    if (!object) return "";
    return object->value("status", Json::object()).value("phase", "");
  }
  static std::string affinity(const std::string& ns, const std::string& service) {
    const auto object = get(ns, "service", service);
    if (!object) return "";
    return (*object)["spec"].value("sessionAffinity", "");
  }
  static std::string clusterIp(const std::string& ns, const std::string& service) {
    const auto object = get(ns, "service", service);
    if (!object) return "";
    return (*object)["spec"].value("clusterIP", "");
  }

  // The pod-template-hash of the Deployment's current ReplicaSet (the one of its revision).
  static std::string currentTemplateHash(const std::string& ns, const std::string& deployment) {
    const auto object = get(ns, "deployment", deployment);
    if (!object) return "";
    const std::string uid = (*object)["metadata"].value("uid", "");
    const std::string revision = (*object)["metadata"]
                                     .value("annotations", Json::object())
                                     .value("deployment.kubernetes.io/revision", "");
    if (revision.empty()) return "";
    for (const auto& rs : items(ns, "replicasets")) {
      bool owned = false;
      for (const auto& owner : rs["metadata"].value("ownerReferences", Json::array())) {
        owned = owned || owner.value("uid", "") == uid;
      }
      const std::string rsRevision = rs["metadata"]
                                         .value("annotations", Json::object())
                                         .value("deployment.kubernetes.io/revision", "");
      if (owned && rsRevision == revision) {
        return rs["metadata"].value("labels", Json::object()).value("pod-template-hash", "");
      }
    }
    return "";
  }
  static std::string selectorOf(const Json& deployment) {
    std::string selector;
    const Json labels = deployment["spec"]["selector"].value("matchLabels", Json::object());
    for (const auto& [key, value] : labels.items()) {
      selector += (selector.empty() ? "" : ",") + key + "=" + value.get<std::string>();
    }
    return selector;
  }
  // The rollout is complete: the controller saw the last change, every replica is updated, ready
  // and available, and no pod of an older ReplicaSet is left (terminating ones included).
  static bool rolledOut(const std::string& ns, const std::string& name) {
    const auto object = get(ns, "deployment", name);
    if (!object) return false;
    const Json& d = *object;
    const Json status = d.value("status", Json::object());
    const long replicas = d["spec"].value("replicas", 1L);
    if (status.value("observedGeneration", 0L) != d["metadata"].value("generation", -1L) ||
        status.value("updatedReplicas", 0L) != replicas ||
        status.value("replicas", 0L) != replicas || status.value("readyReplicas", 0L) != replicas ||
        status.value("availableReplicas", 0L) != replicas) {
      return false;
    }
    const std::string hash = currentTemplateHash(ns, name);
    if (hash.empty()) return false;
    const Json pods = items(ns, "pods", selectorOf(d));
    if (static_cast<long>(pods.size()) != replicas) return false;
    for (const auto& pod : pods) {
      if (pod["metadata"].contains("deletionTimestamp")) return false;
      if (pod["metadata"].value("labels", Json::object()).value("pod-template-hash", "") != hash) {
        return false;
      }
    }
    return true;
  }
  // The pods of the Deployment's current ReplicaSet.
  static Json currentPods(const std::string& ns, const std::string& deployment) {
    const std::string hash = currentTemplateHash(ns, deployment);
    if (hash.empty()) return Json::array();
    return items(ns, "pods", std::string(kAppSelector) + ",pod-template-hash=" + hash);
  }
  static std::optional<Json> containerStatus(const Json& pod, const std::string& container) {
    for (const auto& c :
         pod.value("status", Json::object()).value("containerStatuses", Json::array())) {
      if (c.value("name", "") == container) return c;
    }
    return std::nullopt;
  }
  // A pod whose containers all run, in containerd, and are ready.
  static bool runningInContainers(const Json& pod) {
    const Json status = pod.value("status", Json::object());
    if (status.value("phase", "") != "Running") return false;
    const Json containers = status.value("containerStatuses", Json::array());
    if (containers.empty()) return false;
    for (const auto& c : containers) {
      if (!c.value("ready", false) || !c.value("state", Json::object()).contains("running") ||
          c.value("containerID", "").rfind("containerd://", 0) != 0) {
        return false;
      }
    }
    return true;
  }
  // Whether containerd itself runs a task of this id (`ctr tasks ls`).
  static bool containerdRuns(const std::string& containerId) {
    const auto listed = runProcess(
        {"ctr", "--address", plane_->env("CONTAINERD_ADDRESS"), "-n", "k8s.io", "tasks", "ls"});
    std::istringstream lines(listed.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(containerId, 0) == 0 && line.find("RUNNING") != std::string::npos) return true;
    }
    return false;
  }
  // Every pod of the selector answers 200 to GET path on its own IP, port 8000.
  static bool everyPodAnswers(const Json& pods, const std::string& path) {
    if (pods.empty()) return false;
    for (const auto& pod : pods) {
      const std::string ip = pod.value("status", Json::object()).value("podIP", "");
      if (ip.empty()) return false;
      const auto response = httpExchange(ip, 8000, "GET", path);
      if (!response || response->status != 200) return false;
    }
    return true;
  }

  // --- the demo app through its Service ------------------------------------------------------

  // kube-proxy sends the Service's new connections to every pod of the Deployment's current
  // ReplicaSet and to no other: GET /healthz through the ClusterIP is answered by each of them.
  // (A pod is Ready, and the rollout complete, a moment before kube-proxy has its address.)
  static bool serviceReachesEveryPod(const std::string& ns, const std::string& ip) {
    std::set<std::string> want, seen;
    for (const auto& pod : currentPods(ns, "web")) want.insert(pod["metadata"].value("name", ""));
    if (want.empty()) return false;
    for (int i = 0; i < 40 && seen != want; ++i) {
      const auto answer = httpExchange(ip, 80, "GET", "/healthz");
      if (!answer || answer->status != 200) return false;
      const std::string pod = bodyOf(*answer).value("pod", "");
      if (!want.contains(pod)) return false;
      seen.insert(pod);
    }
    return seen == want;
  }

  // `n` times: POST /tokens, then GET /tokens/{token}, each on a new TCP connection to the
  // Service's ClusterIP.
  static Round tokens(const std::string& ip, int n) {
    Round round;
    for (int i = 0; i < n; ++i) {
      ++round.tries;
      const auto issued = httpExchange(ip, 80, "POST", "/tokens");
      if (!issued || issued->status != 201 || !bodyOf(*issued).contains("token")) {
        ++round.errors;
        if (round.firstError.empty()) {
          round.firstError =
              issued ? "POST /tokens: " + std::to_string(issued->status) + " " + issued->body
                     : "POST /tokens: no answer";
        }
        continue;
      }
      ++round.created;
      const Json body = bodyOf(*issued);
      ++round.issuers[body.value("pod", "?")];
      const auto download = httpExchange(ip, 80, "GET", "/tokens/" + body.value("token", ""));
      countRead(round, download, "GET /tokens/...");
    }
    return round;
  }
  // `n` times: POST /sessions, then GET /sessions/{id}.
  static Round sessions(const std::string& ip, int n, std::vector<std::string>* ids = nullptr) {
    Round round;
    for (int i = 0; i < n; ++i) {
      ++round.tries;
      const auto created =
          httpExchange(ip, 80, "POST", "/sessions", R"({"user":"u)" + std::to_string(i) + "\"}");
      if (!created || created->status != 201 || !bodyOf(*created).contains("session")) {
        ++round.errors;
        if (round.firstError.empty()) {
          round.firstError =
              created ? "POST /sessions: " + std::to_string(created->status) + " " + created->body
                      : "POST /sessions: no answer";
        }
        continue;
      }
      ++round.created;
      const Json body = bodyOf(*created);
      ++round.issuers[body.value("pod", "?")];
      if (ids != nullptr) ids->push_back(body.value("session", ""));
      const auto read = httpExchange(ip, 80, "GET", "/sessions/" + body.value("session", ""));
      countRead(round, read, "GET /sessions/...");
    }
    return round;
  }
  static void countRead(Round& round, const std::optional<HttpResponse>& read,
                        const std::string& what) {
    if (read && (read->status == 200 || read->status == 404)) {
      ++(read->status == 200 ? round.found : round.unknown);
      ++round.answerers[bodyOf(*read).value("pod", "?")];
      return;
    }
    ++round.errors;
    if (round.firstError.empty()) {
      round.firstError = read ? what + ": " + std::to_string(read->status) + " " + read->body
                              : what + ": no answer";
    }
  }

  // Lines of an app container's log (kubectl logs --timestamps) that say a connection to the
  // store failed, each described with when it came after the container's first line and when the
  // same worker process connected after it.
  struct Refusals {
    int lines = 0;
    std::vector<std::string> described;
  };
  static Refusals refusedConnections(const std::string& log) {
    static const std::regex refused(R"(refused|error( -?[0-9]+)? connecting)", std::regex::icase);
    static const std::regex stamped(R"(^[0-9-]+T([0-9]+):([0-9]+):([0-9.]+)Z (.*)$)");
    static const std::regex worker(R"(worker=([0-9]+) )");
    struct Line {
      double at;
      std::string text;
    };
    std::vector<Line> lines;
    std::istringstream in(log);
    for (std::string text; std::getline(in, text);) {
      std::smatch m;
      if (std::regex_match(text, m, stamped)) {
        lines.push_back(
            {std::stod(m[1].str()) * 3600 + std::stod(m[2].str()) * 60 + std::stod(m[3].str()),
             m[4].str()});
      } else {
        lines.push_back({lines.empty() ? 0 : lines.back().at, text});
      }
    }
    Refusals out;
    out.lines = static_cast<int>(lines.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (!std::regex_search(lines[i].text, refused)) continue;
      std::ostringstream described;
      described << std::fixed << std::setprecision(2) << lines[i].at - lines.front().at
                << " s after the container's first log line: \"" << lines[i].text << "\"";
      std::smatch w;
      if (std::regex_search(lines[i].text, w, worker)) {
        const std::string connected = "worker=" + w[1].str() + " store: redis at";
        for (std::size_t j = i + 1; j < lines.size(); ++j) {
          if (lines[j].text.find(connected) != std::string::npos) {
            described << "; the same worker connected " << lines[j].at - lines[i].at << " s later";
            break;
          }
        }
      }
      out.described.push_back(described.str());
    }
    return out;
  }
  // Why a wired pod's first connection can be refused on a node that enforces NetworkPolicy.
  static std::string policyNote() {
    if (plane_->env("NETWORK_POLICY") != "enforced") return "";
    return "\n(this node enforces NetworkPolicy: the store's NetworkPolicy web-redis admits the "
           "target's pods by label, and the node's policy engine admits a new pod's address only "
           "about a second after the pod starts, so its first connection is refused although the "
           "store answers; without the NetworkPolicy no wired pod logs a refusal)";
  }

  // --- when something failed -------------------------------------------------------------------

  // What the cluster looks like, in the test's output (no Secret's data: Secrets are not listed).
  static void diagnose() {
    std::cout
        << "----- diagnosis -----\n"
        << kubectl({"get", "nodes,pods,services,deployments,statefulsets,pvc", "-A", "-o", "wide"})
               .out
        << kubectl({"get", "sessionstores", "-A", "-o", "yaml"}).out
        << tail(kubectl({"get", "events", "-A", "--sort-by=.lastTimestamp"}).out, 6000)
        << "\n--- operator logs (tail):\n"
        << tail(inNs(kOperatorNs, {"logs", "-l", "app.kubernetes.io/name=sessionstore-operator",
                                   "--tail=80", "--prefix"})
                    .out,
                12000)
        << "\n----- end of diagnosis -----\n";
  }
  // The profile's logs (containerd, kubelet, kube-proxy, ...) and every pod's log, copied beside
  // the test binary before the profile's folder goes.
  static void keepLogs() {
    const fs::path target = fs::current_path() / "seeds_node_test-logs";
    std::error_code error;
    fs::remove_all(target, error);
    fs::create_directories(target, error);
    fs::copy(fs::path(plane_->dir()) / "logs", target / "node",
             fs::copy_options::recursive | fs::copy_options::overwrite_existing, error);
    const auto pods = kubectl({"get", "pods", "-A", "-o", "json"});
    if (pods.ok()) {
      for (const auto& pod : Json::parse(pods.out).value("items", Json::array())) {
        const std::string ns = pod["metadata"].value("namespace", "");
        const std::string name = pod["metadata"].value("name", "");
        std::ofstream(target / (ns + "_" + name + ".log"))
            << inNs(ns, {"logs", name, "--all-containers", "--timestamps"}).out;
      }
    }
    std::cout << "[ node ] the node's and the pods' logs are in " << target.string() << "\n";
  }

  static inline ControlPlane* plane_ = nullptr;
  static inline std::string setupError_;
  static inline bool anyFailure_ = false;
  static inline bool tokensWired_ = false;  // scenario 1 ended with the app wired to its store
};

// 0. The operator as a user installs it: manifests/ applied server-side with only the image
// swapped (tests/node/operator), its 2 replicas Ready by their probes, one of them holding the
// Lease, and /metrics served through the metrics Service.
TEST_F(SeedsOnTheNode, TheOperatorRunsInTheClusterFromItsManifests) {
  const auto deployment = get(kOperatorNs, "deployment", kOperatorName);
  ASSERT_TRUE(deployment);
  const Json& podSpec = (*deployment)["spec"]["template"]["spec"];
  EXPECT_EQ((*deployment)["spec"]["replicas"], 2);
  EXPECT_EQ(podSpec["containers"][0]["image"], kOperatorImage);
  EXPECT_EQ(podSpec["serviceAccountName"], kOperatorName);

  const Json pods = items(kOperatorNs, "pods", "app.kubernetes.io/name=sessionstore-operator");
  ASSERT_EQ(pods.size(), 2u) << pods.dump(1);
  std::set<std::string> podNames;
  for (const auto& pod : pods) {
    const std::string name = pod["metadata"]["name"];
    podNames.insert(name);
    EXPECT_TRUE(runningInContainers(pod)) << pod["status"].dump(1);
    const auto ready = conditionOf(pod, "Ready");
    EXPECT_TRUE(ready && (*ready)["status"] == "True") << name << " is not Ready";
    const auto container = containerStatus(pod, "operator");
    ASSERT_TRUE(container);
    // The probes' endpoints answer on the pod's own IP, as the kubelet asks them.
    const std::string podIp = pod["status"].value("podIP", "");
    for (const char* path : {"/healthz", "/readyz"}) {
      const auto answer = httpExchange(podIp, 8081, "GET", path);
      EXPECT_TRUE(answer && answer->status == 200)
          << name << " " << path << ": " << (answer ? answer->body : "no answer");
    }
    std::cout << "[ operator ] " << name << " " << pod["status"].value("podIP", "") << " restarts "
              << container->value("restartCount", 0) << "\n";
  }

  // The Lease names one of the two pods (identity: hostname_random, the hostname is the pod's).
  std::string holder;
  ASSERT_TRUE(waitFor("the Lease sessionstore-operator has a holder that is one of the pods", 2min,
                      [&] {
                        const auto lease = get(kOperatorNs, "lease", kOperatorName);
                        if (!lease) return false;
                        holder = (*lease)["spec"].value("holderIdentity", "");
                        const auto underscore = holder.rfind('_');
                        return underscore != std::string::npos &&
                               podNames.contains(holder.substr(0, underscore));
                      }))
      << "holder \"" << holder << "\", pods " << Json(podNames).dump();
  const std::string leaderPod = holder.substr(0, holder.rfind('_'));
  std::cout << "[ operator ] Lease holder " << holder << "\n";

  // /metrics through the Service's ClusterIP, each scrape on a new connection (so both replicas
  // answer): the families every replica exports (the follower's informers run too; the leader's
  // controllers, and their series, are looked at once there is a store, in the next test).
  const std::string ip = clusterIp(kOperatorNs, "sessionstore-operator-metrics");
  ASSERT_FALSE(ip.empty());
  int scrapes = 0, fromLeader = 0;
  for (int i = 0; i < 20; ++i) {
    const auto metrics = httpExchange(ip, 8080, "GET", "/metrics");
    ASSERT_TRUE(metrics && metrics->status == 200) << "GET http://" << ip << ":8080/metrics";
    ++scrapes;
    if (metrics->body.find(kLeaderSample) != std::string::npos) ++fromLeader;
    for (const char* family : {"rest_client_requests_total", "workqueue_queue_duration_seconds",
                               "workqueue_work_duration_seconds"}) {
      EXPECT_NE(metrics->body.find(std::string("# TYPE ") + family + " "), std::string::npos)
          << family << " is not in /metrics:\n"
          << tail(metrics->body, 3000);
    }
  }
  std::cout << "[ operator ] " << scrapes << " scrapes of http://" << ip << ":8080/metrics, "
            << fromLeader << " answered by the leader\n";

  // Over the Service's endpoints, exactly one replica reports leading, and it is the holder.
  std::map<std::string, std::string> endpoints;  // pod IP -> pod name
  ASSERT_TRUE(waitFor("the metrics Service has both pods as ready endpoints", 2min, [&] {
    endpoints.clear();
    for (const auto& slice : items(kOperatorNs, "endpointslices",
                                   "kubernetes.io/service-name=sessionstore-operator-metrics")) {
      for (const auto& e : slice.value("endpoints", Json::array())) {
        if (!e.value("conditions", Json::object()).value("ready", false)) continue;
        for (const auto& address : e.value("addresses", Json::array())) {
          endpoints[address.get<std::string>()] =
              e.value("targetRef", Json::object()).value("name", "");
        }
      }
    }
    return endpoints.size() == 2;
  }));
  static const std::regex master(
      R"(^leader_election_master_status\{[^}]*name="sessionstore-operator"[^}]*\} ([0-9.eE+-]+)$)");
  // pod -> its sample, or "no sample" (the gauge is set when a replica starts or stops leading: a
  // replica that never led has none).
  std::map<std::string, std::string> reported;
  ASSERT_TRUE(waitFor("exactly one replica reports leader_election_master_status 1", 2min, [&] {
    reported.clear();
    int leaders = 0;
    std::string leader;
    for (const auto& [podIp, pod] : endpoints) {
      const auto response = httpExchange(podIp, 8080, "GET", "/metrics");
      if (!response || response->status != 200) return false;
      std::string value = "no sample";
      std::istringstream lines(response->body);
      for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (std::regex_match(line, m, master)) value = m[1].str();
      }
      reported[pod] = value;
      if (value == "1") {
        ++leaders;
        leader = pod;
      }
    }
    return leaders == 1 && leader == leaderPod;
  })) << Json(reported).dump();
  for (const auto& [pod, value] : reported) {
    std::cout << "[ operator ] " << pod << ": leader_election_master_status " << value << "\n";
  }
}

// 1. Seed 000: a token issued by one pod is unknown to the other, until a SessionStore gives both
// pods one Redis.
TEST_F(SeedsOnTheNode, DownloadTokensFailAcrossPodsUntilASessionStoreSharesThem) {
  ASSERT_NO_FATAL_FAILURE(createNamespace(kTokensNs));
  ASSERT_NO_FATAL_FAILURE(applyDownloadTokens(kTokensNs, false));
  ASSERT_TRUE(
      waitFor("the app's 2 replicas rolled out", 5min, [] { return rolledOut(kTokensNs, "web"); }));
  ASSERT_TRUE(waitFor("each app pod answers /healthz on its own IP", 3min,
                      [] { return everyPodAnswers(currentPods(kTokensNs, "web"), "/healthz"); }));
  const std::string ip = clusterIp(kTokensNs, "web");
  ASSERT_FALSE(ip.empty());
  ASSERT_TRUE(waitFor("the Service's ClusterIP reaches both pods", 3min,
                      [&] { return serviceReachesEveryPod(kTokensNs, ip); }));

  const Round before = tokens(ip, 100);
  std::cout << "[ tokens ] before the SessionStore: " << before.describe() << "\n";
  EXPECT_EQ(before.errors, 0) << before.firstError;
  EXPECT_EQ(before.issuers.size(), 2u) << "the Service should spread new connections over both "
                                          "pods: "
                                       << before.describe();
  EXPECT_GT(before.unknown, 0) << "no token failed on the other pod: the seed is not reproduced";

  // The SessionStore of examples/download-tokens.
  ASSERT_NO_FATAL_FAILURE(applyDownloadTokens(kTokensNs, true));
  ASSERT_TRUE(waitFor("SessionStore web Ready", 5min, [] {
    return conditionIs(kTokensNs, "web", "Ready", "True");
  })) << inNs(kTokensNs, {"get", "sessionstore", "web", "-o", "yaml"}).out;

  // Its Redis runs in a real container: the kubelet says so, and so does containerd.
  std::optional<Json> redisPod;
  ASSERT_TRUE(waitFor("web-redis-0 runs in a container", 2min, [&] {
    redisPod = get(kTokensNs, "pod", "web-redis-0");
    return redisPod && runningInContainers(*redisPod);
  }));
  const auto redis = containerStatus(*redisPod, "redis");
  ASSERT_TRUE(redis);
  const std::string redisId = redis->value("containerID", "").substr(13);
  EXPECT_TRUE(containerdRuns(redisId)) << "containerd runs no task " << redisId;
  EXPECT_EQ((*redisPod)["spec"]["containers"][0]["image"], kRedisImage);
  std::cout << "[ tokens ] web-redis-0 runs in container " << redisId.substr(0, 12) << " ("
            << kRedisImage << ")\n";

  ASSERT_TRUE(waitFor("the wired Deployment rolled out, no pod of an older ReplicaSet left", 5min,
                      [] { return rolledOut(kTokensNs, "web"); }));
  const Json pods = currentPods(kTokensNs, "web");
  ASSERT_EQ(pods.size(), 2u);
  for (const auto& pod : pods) {
    std::map<std::string, Json> env;
    for (const auto& e : pod["spec"]["containers"][0].value("env", Json::array())) {
      env[e["name"]] = e;
    }
    ASSERT_TRUE(env.contains("REDIS_URL")) << pod["metadata"]["name"] << " has no REDIS_URL";
    EXPECT_FALSE(env["REDIS_URL"].contains("value")) << "REDIS_URL must not be inline";
    EXPECT_EQ(env["REDIS_URL"]["valueFrom"]["secretKeyRef"].value("name", ""), "web-session-store");
    EXPECT_EQ(env["WORKERS"].value("value", ""), "5");  // ceil(2 CPU limit * 2) + 1
    std::cout << "[ tokens ] " << pod["metadata"]["name"].get<std::string>()
              << ": REDIS_URL from Secret web-session-store, WORKERS "
              << env["WORKERS"].value("value", "") << ", REDIS_MAX_CONNECTIONS "
              << env["REDIS_MAX_CONNECTIONS"].value("value", "") << "\n";
  }
  EXPECT_EQ(affinity(kTokensNs, "web"), "None") << "the store is ready: no stickiness needed";

  // The operator's /metrics, through its Service, as the leader answers them: the store ready,
  // its workers, and reconciles done.
  std::string leaderMetrics;
  ASSERT_TRUE(waitFor("the leader's /metrics report store web ready", 2min, [&] {
    const auto metrics = httpExchange(clusterIp(kOperatorNs, "sessionstore-operator-metrics"), 8080,
                                      "GET", "/metrics");
    if (!metrics || metrics->status != 200 ||
        metrics->body.find(kLeaderSample) == std::string::npos) {
      return false;
    }
    leaderMetrics = metrics->body;
    return leaderMetrics.find(
               R"(sessionstore_store_ready{namespace="download-tokens",name="web"} 1)") !=
           std::string::npos;
  })) << tail(leaderMetrics, 4000);
  EXPECT_NE(leaderMetrics.find(R"(sessionstore_workers{namespace="download-tokens",name="web"} 5)"),
            std::string::npos);
  EXPECT_TRUE(std::regex_search(
      leaderMetrics,
      std::regex(
          R"((^|\n)controller_runtime_reconcile_total\{controller="[^"]+",result="[a-z_]+"\} [1-9])")))
      << "no reconcile counted:\n"
      << tail(leaderMetrics, 4000);
  std::istringstream metricLines(leaderMetrics);
  for (std::string line; std::getline(metricLines, line);) {
    if (line.starts_with("controller_runtime_reconcile_total") ||
        line.starts_with("sessionstore_")) {
      std::cout << "[ tokens ] leader's /metrics: " << line << "\n";
    }
  }
  for (const char* family : {"controller_runtime_reconcile_time_seconds", "workqueue_adds_total",
                             "workqueue_depth", "sessionstore_replicas_current"}) {
    EXPECT_NE(leaderMetrics.find(std::string("# TYPE ") + family + " "), std::string::npos)
        << family;
  }
  ASSERT_TRUE(waitFor("each wired pod answers /readyz (its Redis answers PING)", 3min,
                      [] { return everyPodAnswers(currentPods(kTokensNs, "web"), "/readyz"); }));

  ASSERT_TRUE(waitFor("the Service's ClusterIP reaches both wired pods", 3min,
                      [&] { return serviceReachesEveryPod(kTokensNs, ip); }));
  const Round after = tokens(ip, 100);
  std::cout << "[ tokens ] with the SessionStore: " << after.describe() << "\n";
  std::cout << "[ tokens ] before: " << before.unknown << " of " << before.tries
            << " failed; after: " << after.unknown + after.errors << " of " << after.tries << "\n";
  EXPECT_EQ(after.errors, 0) << after.firstError;
  EXPECT_EQ(after.unknown, 0);
  EXPECT_EQ(after.found, 100);
  tokensWired_ = !HasFailure();
}

// 2. Seed 002: the app never starts before its store answers, so no container of the wired
// ReplicaSet ever logged a refused connection, and none restarted. Each refusal found is told with
// when it came after the container started and when the same worker connected after it: on a node
// that enforces NetworkPolicy the store's own policy refuses a new pod for about a second (the
// failure says so), which is not the store being late but still what an app without a retry
// would crash on.
TEST_F(SeedsOnTheNode, NoWiredAppContainerStartedBeforeItsStoreAnswered) {
  ASSERT_TRUE(tokensWired_) << "needs the app the first scenario wired";
  const Json pods = currentPods(kTokensNs, "web");
  ASSERT_EQ(pods.size(), 2u);
  const auto store = get(kTokensNs, "sessionstore", "web");
  ASSERT_TRUE(store);
  const auto storeReady = conditionOf(*store, "StoreReady");
  ASSERT_TRUE(storeReady && (*storeReady)["status"] == "True");
  const std::string storeReadySince = storeReady->value("lastTransitionTime", "");

  std::vector<std::string> refusals;  // "pod, when: line; when the worker connected"
  for (const auto& pod : pods) {
    const std::string name = pod["metadata"]["name"];
    for (const auto& c : pod["status"].value("containerStatuses", Json::array())) {
      const int restarts = c.value("restartCount", 0);
      EXPECT_EQ(restarts, 0) << name << "/" << c.value("name", "") << " restarted";
      // Both are RFC 3339 times in UTC to the second: their text orders them.
      const std::string started =
          c.value("state", Json::object()).value("running", Json::object()).value("startedAt", "");
      EXPECT_GE(started, storeReadySince)
          << name << " started before the store answered (StoreReady since " << storeReadySince
          << ")";
      std::vector<std::string> logs{
          inNs(kTokensNs, {"logs", name, "-c", c.value("name", ""), "--timestamps"}).out};
      if (restarts > 0) {
        logs.push_back(
            inNs(kTokensNs, {"logs", name, "-c", c.value("name", ""), "--previous", "--timestamps"})
                .out);
      }
      int lines = 0;
      std::vector<std::string> failed;
      for (const auto& log : logs) {
        const auto found = refusedConnections(log);
        lines += found.lines;
        failed.insert(failed.end(), found.described.begin(), found.described.end());
      }
      for (const auto& line : failed) refusals.push_back(name + ", " + line);
      std::cout << "[ startup ] " << name << "/" << c.value("name", "") << ": started " << started
                << " (store ready since " << storeReadySince << "), " << restarts << " restarts, "
                << lines << " log lines, " << failed.size() << " about a refused connection\n";
    }
  }
  std::string listed;
  for (const auto& line : refusals) listed += "\n  " + line;
  EXPECT_TRUE(refusals.empty())
      << refusals.size() << " connections to the store were refused in containers that started "
      << "after it answered (StoreReady since " << storeReadySince << "):" << listed
      << policyNote();
}

// 3. Seed 003: a per-pod session map answers 404 when the next request lands on the other pod.
// With affinity ClientIP (and a store that never answers, so the app stays as it was), kube-proxy
// keeps a client on one pod and every session it created is found.
TEST_F(SeedsOnTheNode, ClientIpAffinityKeepsEachClientOnThePodHoldingItsSessions) {
  ASSERT_NO_FATAL_FAILURE(createNamespace(kSessionMapNs));
  ASSERT_NO_FATAL_FAILURE(applyDownloadTokens(kSessionMapNs, false));
  ASSERT_TRUE(waitFor("the app's 2 replicas rolled out", 5min,
                      [] { return rolledOut(kSessionMapNs, "web"); }));
  ASSERT_TRUE(waitFor("each app pod answers /healthz on its own IP", 3min, [] {
    return everyPodAnswers(currentPods(kSessionMapNs, "web"), "/healthz");
  }));
  const std::string ip = clusterIp(kSessionMapNs, "web");
  ASSERT_FALSE(ip.empty());
  ASSERT_TRUE(waitFor("the Service's ClusterIP reaches both pods", 3min,
                      [&] { return serviceReachesEveryPod(kSessionMapNs, ip); }));

  const Round spread = sessions(ip, 50);
  std::cout << "[ session-map ] no affinity: " << spread.describe() << "\n";
  EXPECT_EQ(spread.errors, 0) << spread.firstError;
  EXPECT_EQ(spread.pods().size(), 2u) << "without affinity the answers should come from both pods";

  // A store that never answers: an external URL under .invalid, which never resolves (and no
  // packet leaves the machine). Affinity ClientIP whatever the store's state.
  const auto secret = inNs(kSessionMapNs, {"create", "secret", "generic", "store-url",
                                           "--from-literal=url=redis://store.invalid:6379"});
  ASSERT_TRUE(secret.ok()) << secret.describe();
  ASSERT_NO_FATAL_FAILURE(apply(kSessionMapNs, R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: web}
spec:
  target: {deployment: web, service: web}
  store:
    type: External
    external: {urlSecretRef: {name: store-url, key: url}}
  affinity: {mode: ClientIP}
)"));
  ASSERT_TRUE(waitFor("Service web has sessionAffinity ClientIP", 3min, [] {
    return affinity(kSessionMapNs, "web") == "ClientIP";
  })) << inNs(kSessionMapNs, {"get", "sessionstore", "web", "-o", "yaml"}).out;
  std::optional<Json> storeReady;
  ASSERT_TRUE(waitFor("StoreReady is False", 2min, [&] {
    const auto object = get(kSessionMapNs, "sessionstore", "web");
    if (object) storeReady = conditionOf(*object, "StoreReady");
    return storeReady && (*storeReady)["status"] == "False";
  }));
  std::cout << "[ session-map ] StoreReady False, " << storeReady->value("reason", "") << ": "
            << storeReady->value("message", "") << "\n";

  // kube-proxy has the affinity once one client gets 50 answers in a row from one pod.
  std::string lastPod;
  int streak = 0;
  ASSERT_TRUE(waitFor(
      "kube-proxy keeps this client on one pod (50 answers in a row)", 3min,
      [&] {
        const auto answer = httpExchange(ip, 80, "GET", "/healthz");
        const std::string pod =
            answer && answer->status == 200 ? bodyOf(*answer).value("pod", "") : "";
        streak = !pod.empty() && pod == lastPod ? streak + 1 : 1;
        lastPod = pod;
        return !pod.empty() && streak >= 50;
      },
      20ms));

  const Round sticky = sessions(ip, 50);
  std::cout << "[ session-map ] ClientIP: " << sticky.describe() << "\n";
  std::cout << "[ session-map ] without affinity " << spread.unknown << " of " << spread.tries
            << " sessions were not found; with ClientIP " << sticky.unknown + sticky.errors
            << " of " << sticky.tries << "\n";
  EXPECT_EQ(sticky.errors, 0) << sticky.firstError;
  EXPECT_EQ(sticky.created, 50);
  EXPECT_EQ(sticky.found, 50);
  EXPECT_EQ(sticky.pods().size(), 1u) << sticky.describe();

  // The store never answered, so the app was never wired: it was not started against a store
  // that is not there.
  const auto deployment = get(kSessionMapNs, "deployment", "web");
  ASSERT_TRUE(deployment);
  for (const auto& e :
       (*deployment)["spec"]["template"]["spec"]["containers"][0].value("env", Json::array())) {
    EXPECT_NE(e.value("name", ""), "REDIS_URL") << "wired to a store that never answered";
  }
}

// 4. The store lost: Redis SIGKILLed (each time it runs again) until the SessionStore is
// Degraded; clients stay sticky meanwhile (affinity UntilStoreReady), and once Redis is back every
// session, persisted in its append-only file, is found again.
TEST_F(SeedsOnTheNode, AStoreLossDegradesToStickySessionsAndEverySessionComesBack) {
  ASSERT_TRUE(tokensWired_) << "needs the app and store the first scenario wired";
  const std::string ip = clusterIp(kTokensNs, "web");
  std::vector<std::string> ids;
  const Round created = sessions(ip, 20, &ids);
  std::cout << "[ store-loss ] " << created.describe() << "\n";
  ASSERT_EQ(created.created, 20) << created.firstError;
  ASSERT_EQ(created.found, 20) << created.describe();

  // The store's data folder on this machine: the hostPath of the PersistentVolume its claim bound.
  const auto claim = get(kTokensNs, "pvc", "data-web-redis-0");
  ASSERT_TRUE(claim);
  const std::string volume = (*claim)["spec"].value("volumeName", "");
  const auto pv = get("", "pv", volume);
  ASSERT_TRUE(pv) << "no PersistentVolume " << volume;
  const fs::path dataDir = (*pv)["spec"]["hostPath"].value("path", "");
  ASSERT_TRUE(fs::is_directory(dataDir)) << dataDir;
  std::vector<std::string> files;
  ASSERT_TRUE(waitFor("Redis wrote the 20 sessions to its append-only file", 2min,
                      [&] {
                        std::string written;
                        files.clear();
                        std::error_code error;
                        for (const auto& entry : fs::recursive_directory_iterator(dataDir, error)) {
                          if (!entry.is_regular_file()) continue;
                          files.push_back(fs::relative(entry.path(), dataDir).string());
                          std::ifstream in(entry.path(), std::ios::binary);
                          written += std::string(std::istreambuf_iterator<char>(in), {});
                        }
                        for (const auto& id : ids) {
                          if (written.find(id) == std::string::npos) return false;
                        }
                        return true;
                      }))
      << "files under " << dataDir << ": " << Json(files).dump();
  std::cout << "[ store-loss ] " << volume << " (" << dataDir.string()
            << "): " << Json(files).dump() << "\n";

  // SIGKILL the Redis container every time it runs, until the SessionStore is Degraded and the
  // Service sticky.
  const std::string address = plane_->env("CONTAINERD_ADDRESS");
  ASSERT_FALSE(address.empty());
  std::map<std::string, Clock::time_point> killed;  // container id -> last kill
  int kills = 0;
  std::optional<Clock::time_point> firstKill, degradedAt;
  bool stickyWhileDegraded = false;
  const auto deadline = Clock::now() + 10min;
  while (Clock::now() < deadline && !stickyWhileDegraded) {
    const std::string now = phase(kTokensNs, "web");
    if (now == "Degraded") {
      if (!degradedAt) {
        degradedAt = Clock::now();
        std::cout << "[ store-loss ] Degraded "
                  << seconds(*degradedAt - firstKill.value_or(*degradedAt))
                  << " s after the first kill, " << kills << " kills\n";
      }
      stickyWhileDegraded =
          affinity(kTokensNs, "web") == "ClientIP" && phase(kTokensNs, "web") == "Degraded";
      if (stickyWhileDegraded) break;
    }
    const auto pod = get(kTokensNs, "pod", "web-redis-0");
    const auto redis = pod ? containerStatus(*pod, "redis") : std::nullopt;
    if (redis && redis->value("state", Json::object()).contains("running")) {
      const std::string id = redis->value("containerID", "").substr(13);
      const auto last = killed.find(id);
      if (!id.empty() && (last == killed.end() || Clock::now() - last->second > 5s)) {
        const auto kill = runProcess({"ctr", "--address", address, "-n", "k8s.io", "tasks", "kill",
                                      "--signal", "SIGKILL", id});
        killed[id] = Clock::now();
        if (kill.ok()) {
          ++kills;
          if (!firstKill) firstKill = Clock::now();
          std::cout << "[ store-loss ] SIGKILL #" << kills << " to container " << id.substr(0, 12)
                    << " (restarts so far " << redis->value("restartCount", 0) << ")\n";
        }
      }
    }
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(degradedAt) << "the SessionStore never became Degraded after " << kills << " kills:\n"
                          << inNs(kTokensNs, {"get", "sessionstore", "web", "-o", "yaml"}).out;
  EXPECT_TRUE(stickyWhileDegraded)
      << "Degraded, yet the Service's sessionAffinity is " << affinity(kTokensNs, "web");
  // The store stopped answering after the app was wired: unreachable, not being set up (its pod's
  // readiness goes with the container, which once read as Provisioning).
  const auto degradedStore = get(kTokensNs, "sessionstore", "web");
  ASSERT_TRUE(degradedStore);
  const auto storeReady = conditionOf(*degradedStore, "StoreReady");
  ASSERT_TRUE(storeReady);
  if ((*degradedStore)["status"].value("phase", "") == "Degraded") {  // one object: one moment
    EXPECT_EQ(storeReady->value("status", ""), "False");
    EXPECT_EQ(storeReady->value("reason", ""), "StoreUnreachable") << storeReady->dump();
  }
  std::cout << "[ store-loss ] Degraded with sessionAffinity ClientIP (StoreReady "
            << storeReady->value("reason", "") << "); killing stops after " << kills
            << " kills\n";

  // Redis comes back (after the kubelet's back-off), the store is Ready, affinity goes.
  ASSERT_TRUE(waitFor("SessionStore web Ready again", 10min, [] {
    return phase(kTokensNs, "web") == "Ready" && conditionIs(kTokensNs, "web", "Ready", "True");
  })) << inNs(kTokensNs, {"get", "sessionstore", "web", "-o", "yaml"}).out;
  std::cout << "[ store-loss ] the store was Degraded for " << seconds(Clock::now() - *degradedAt)
            << " s (seen from here)\n";
  EXPECT_TRUE(waitFor("Service web's sessionAffinity back to None", 2min,
                      [] { return affinity(kTokensNs, "web") == "None"; }));
  ASSERT_TRUE(waitFor("each app pod answers /readyz again", 3min,
                      [] { return everyPodAnswers(currentPods(kTokensNs, "web"), "/readyz"); }));

  int found = 0;
  for (const auto& id : ids) {
    std::optional<HttpResponse> read;
    // Only an answer that is not about the store being away counts (a pooled connection that
    // died with Redis may fail once); a 404 is never retried.
    eventually(
        [&] {
          read = httpExchange(ip, 80, "GET", "/sessions/" + id);
          return read && read->status != 503;
        },
        30s);
    EXPECT_TRUE(read && read->status == 200)
        << "session " << id.substr(0, 6)
        << "...: " << (read ? std::to_string(read->status) + " " + read->body : "no answer");
    if (read && read->status == 200) ++found;
  }
  std::cout << "[ store-loss ] " << found << " of " << ids.size()
            << " sessions read back after the store came back\n";
}

// 5. The store's NetworkPolicy admits the target's pods (and the operator's) only. The target's
// pod reaches the store; a pod without the app's labels must not, which only a node whose network
// plugin enforces NetworkPolicy can show.
TEST_F(SeedsOnTheNode, OnlyTheTargetsPodsReachTheStore) {
  ASSERT_TRUE(tokensWired_) << "needs the app and store the first scenario wired";
  const auto policy = get(kTokensNs, "networkpolicy", "web-redis");
  ASSERT_TRUE(policy) << "the operator made no NetworkPolicy web-redis";
  EXPECT_NE((*policy)["spec"].dump().find(R"("app.kubernetes.io/name":"web")"), std::string::npos)
      << "the policy does not admit the app's pods: " << (*policy)["spec"].dump(1);

  // The target's pod: PING with the app's own credentials, from inside the pod (the URL stays
  // there: only the answer, or the error's type, is printed).
  const Json pods = currentPods(kTokensNs, "web");
  ASSERT_FALSE(pods.empty());
  const std::string appPod = pods[0]["metadata"]["name"];
  const auto ping = inNs(kTokensNs, {"exec", appPod, "-c", "app", "--", "python3", "-c", R"(
import os, redis
try:
    client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=5, socket_timeout=5)
    print("PONG" if client.ping() else "no PONG")
except Exception as error:
    print(type(error).__name__)
)"});
  ASSERT_TRUE(ping.ok()) << ping.describe();
  EXPECT_EQ(trim(ping.out), "PONG") << "the target's pod cannot use its store";
  std::cout << "[ policy ] " << appPod << " (the target's) -> web-redis:6379: " << trim(ping.out)
            << "\n";

  // Two throwaway pods of the same namespace try the store for a while (a new pod may be refused
  // for a moment, until the node's policy engine knows it): one with the app's label, which the
  // policy admits (so the window is long enough to see an admitted pod get in), one without.
  // Each succeeds once Redis answers anything (NOAUTH: the default user is off).
  const std::map<std::string, std::string> probes = {{"the-app-too", "web"},
                                                     {"not-the-app", "not-the-app"}};
  for (const auto& [name, label] : probes) {
    ASSERT_NO_FATAL_FAILURE(apply(kTokensNs, R"(
apiVersion: v1
kind: Pod
metadata:
  name: )" + name + R"(
  labels: {app.kubernetes.io/name: )" + label + R"(, sessionstore.test/probe: "true"}
spec:
  restartPolicy: Never
  containers:
  - name: probe
    image: )" + std::string(kRedisImage) + R"(
    imagePullPolicy: IfNotPresent
    command:
    - sh
    - -c
    - |
      for n in $(seq 1 12); do
        out=$(timeout 1 redis-cli -h web-redis -p 6379 ping 2>&1 | head -c 200)
        case "$out" in
          *NOAUTH*|*PONG*|*NOPERM*|*WRONGPASS*) echo "try $n: $out"; exit 0 ;;
        esac
        echo "try $n: ${out:-no answer within 1 s}"
        sleep 0.5
      done
      exit 1
)"));
  }
  std::map<std::string, std::string> phases;
  ASSERT_TRUE(waitFor("both throwaway pods have tried", 3min, [&] {
    for (const auto& [name, label] : probes) {
      const auto pod = get(kTokensNs, "pod", name);
      phases[name] = pod ? (*pod)["status"].value("phase", "") : "";
      if (phases[name] != "Succeeded" && phases[name] != "Failed") return false;
    }
    return true;
  })) << Json(phases).dump();
  std::map<std::string, bool> reached;
  std::map<std::string, std::string> tries;
  for (const auto& [name, label] : probes) {
    reached[name] = phases[name] == "Succeeded";
    tries[name] = trim(inNs(kTokensNs, {"logs", name}).out);
    std::cout << "[ policy ] " << name << " (label app.kubernetes.io/name=" << label
              << ") -> web-redis:6379: " << (reached[name] ? "connected" : "never connected")
              << "\n"
              << tries[name] << "\n";
  }
  inNs(kTokensNs, {"delete", "pods", "-l", "sessionstore.test/probe=true", "--wait=false"});

  if (plane_->env("NETWORK_POLICY") == "enforced") {
    EXPECT_TRUE(reached["the-app-too"])
        << "a new pod with the app's label never reached the store:\n"
        << tries["the-app-too"];
    EXPECT_FALSE(reached["not-the-app"])
        << "a pod the NetworkPolicy does not admit reached the store:\n"
        << tries["not-the-app"];
    return;
  }
  GTEST_SKIP()
      << "\n"
         "*****************************************************************************\n"
         "* NOT SHOWN: this node enforces no NetworkPolicy. Its bridge CNI plugin has   *\n"
         "* no policy engine, so the operator's NetworkPolicy web-redis is stored but   *\n"
         "* nothing applies it: the pod without the app's labels "
      << (reached["not-the-app"] ? "DID reach" : "did not reach")
      << " the store.\n"
         "* The positive half ran (the target's pod reaches its store). The negative  *\n"
         "* half runs when the profile's env says NETWORK_POLICY=enforced.            *\n"
         "*****************************************************************************";
}


// 6. A managed store that serves TLS only (issue 19), in its own namespace: Redis in its container
// listens with TLS alone, the app's pods get a rediss:// URL and the operator's CA as a file
// (REDIS_CA_FILE), and the demo app, verifying the certificate and its host name against that
// file, shares its tokens through it. The session-map namespace of scenario 3 goes first to free
// the node's CPU for this copy of the app.
TEST_F(SeedsOnTheNode, AManagedTlsStoreServesTheAppOverRediss) {
  constexpr const char* kTlsNs = "tls-tokens";
  ASSERT_NO_FATAL_FAILURE(startScenario(kTlsNs, kSessionMapNs, "      tls: {enabled: true}\n"));
  ASSERT_TRUE(waitFor("SessionStore web (TLS) Ready", 5min, [&] {
    return conditionIs(kTlsNs, "web", "Ready", "True");
  })) << inNs(kTlsNs, {"get", "sessionstore", "web", "-o", "yaml"}).out;
  ASSERT_TRUE(waitFor("the wired Deployment rolled out", 5min,
                      [&] { return rolledOut(kTlsNs, "web"); }));

  // The connection Secret: a rediss:// URL (its scheme only is looked at) and the CA beside it.
  const auto secret = get(kTlsNs, "secret", "web-session-store");
  ASSERT_TRUE(secret);
  const Json data = (*secret).value("data", Json::object());
  ASSERT_TRUE(data.contains("REDIS_URL") && data.contains("ca.crt"))
      << "the connection Secret lacks REDIS_URL or ca.crt";
  const auto url = runProcess({"base64", "-d"}, {.input = data["REDIS_URL"].get<std::string>()});
  EXPECT_TRUE(url.out.starts_with("rediss://")) << "the app's URL is not rediss://";

  // Each wired pod has the CA as a file, and nothing else of the Secret.
  const Json pods = currentPods(kTlsNs, "web");
  ASSERT_EQ(pods.size(), 2u);
  for (const auto& pod : pods) {
    bool caVolume = false;
    for (const auto& volume : pod["spec"].value("volumes", Json::array())) {
      if (volume.value("name", "") != "sessionstore-ca") continue;
      caVolume = true;
      EXPECT_EQ(volume["secret"].value("secretName", ""), "web-session-store");
      EXPECT_EQ(volume["secret"]["items"].size(), 1u) << "only ca.crt is projected";
    }
    EXPECT_TRUE(caVolume) << pod["metadata"]["name"] << " has no volume sessionstore-ca";
    std::string caFile;
    for (const auto& e : pod["spec"]["containers"][0].value("env", Json::array())) {
      if (e.value("name", "") == "REDIS_CA_FILE") caFile = e.value("value", "");
    }
    EXPECT_EQ(caFile, "/var/run/sessionstore/ca.crt");
  }

  // From inside an app pod, as the app connects: rediss:// verified against REDIS_CA_FILE with
  // the host name checked answers; the same with the pod's IP for a host (a name the certificate
  // does not carry) is refused; a plain connection to Redis gets no Redis answer at all.
  const std::string appPod = pods[0]["metadata"]["name"];
  const std::string redisIp =
      get(kTlsNs, "pod", "web-redis-0").value_or(Json::object())["status"].value("podIP", "");
  ASSERT_FALSE(redisIp.empty());
  const auto tried = inNs(kTlsNs, {"exec", appPod, "-c", "app", "--", "python3", "-c", R"py(
import os, sys, urllib.parse, redis
url = os.environ["REDIS_URL"]
def ping(u, **kw):
    try:
        client = redis.Redis.from_url(u, socket_connect_timeout=5, socket_timeout=5, **kw)
        return "PONG" if client.ping() else "no PONG"
    except Exception as error:
        # The class, and whether TLS verification refused it (OpenSSL's words; no URL, no secret).
        refused = "certificate verify failed" in str(error).lower()
        return type(error).__name__ + (" (certificate refused)" if refused else "")
parts = urllib.parse.urlsplit(url)
by_ip = parts._replace(netloc=parts.netloc.rsplit("@", 1)[0] + "@" + sys.argv[1] + ":6379").geturl()
plain = parts._replace(scheme="redis").geturl()
ca = dict(ssl_ca_certs=os.environ["REDIS_CA_FILE"], ssl_check_hostname=True)
print("verified", ping(url, **ca))
print("by-ip", ping(by_ip, **ca))
print("plain", ping(plain))
)py", redisIp});
  ASSERT_TRUE(tried.ok()) << tried.describe();
  std::cout << "[ tls ] from " << appPod << ":\n" << trim(tried.out) << "\n";
  EXPECT_NE(tried.out.find("verified PONG"), std::string::npos) << tried.out;
  EXPECT_NE(tried.out.find("by-ip ConnectionError (certificate refused)"), std::string::npos)
      << "a certificate without the pod's IP was not refused for it: " << tried.out;
  EXPECT_EQ(tried.out.find("plain PONG"), std::string::npos)
      << "Redis answered a plain connection: " << tried.out;

  // The seed's check through the Service: tokens issued by one pod are found by the other.
  ASSERT_TRUE(waitFor("each wired pod answers /readyz (its Redis answers PING over TLS)", 3min,
                      [&] { return everyPodAnswers(currentPods(kTlsNs, "web"), "/readyz"); }));
  const std::string ip = clusterIp(kTlsNs, "web");
  ASSERT_FALSE(ip.empty());
  ASSERT_TRUE(waitFor("the Service's ClusterIP reaches both wired pods", 3min,
                      [&] { return serviceReachesEveryPod(kTlsNs, ip); }));
  const Round round = tokens(ip, 100);
  std::cout << "[ tls ] through rediss://: " << round.describe() << "\n";
  EXPECT_EQ(round.errors, 0) << round.firstError;
  EXPECT_EQ(round.found, 100);
  EXPECT_GE(round.issuers.size(), 2u) << round.describe();
}


// 7. Password rotation (issue 18) on the store of scenario 1, under a client loop through the
// app's Service: the annotation starts it, Redis accepts the new password beside the old one, the
// app rolls to it, and the old one is removed once every pod runs with it. No request fails on
// AUTH in at least 10,000 Redis commands (each POST /tokens is a SET, each GET a GET); other
// failures (a pod going away during the rollout) are counted and printed. Afterwards the old
// password is refused and the new one works, from inside an app pod. No password is printed.
TEST_F(SeedsOnTheNode, APasswordRotatesWithoutAFailedAuth) {
  ASSERT_TRUE(tokensWired_) << "needs the app and store the first scenario wired";
  const auto before = get(kTokensNs, "secret", "web-session-store");
  ASSERT_TRUE(before);
  const std::string oldPassword =
      runProcess({"base64", "-d"}, {.input = (*before)["data"].value("REDIS_PASSWORD", "")}).out;
  ASSERT_FALSE(oldPassword.empty());
  const std::string ip = clusterIp(kTokensNs, "web");
  ASSERT_FALSE(ip.empty());

  std::atomic<bool> stop{false};
  std::atomic<long> commands{0}, authFailures{0}, otherFailures{0};
  std::mutex noteMutex;
  std::string firstAuthFailure, firstOtherFailure;
  const auto note = [&](std::string& where, const std::string& what) {
    std::lock_guard lock(noteMutex);
    if (where.empty()) where = what;
  };
  const auto count = [&](const std::optional<HttpResponse>& r, const char* what) {
    if (r && (r->status == 200 || r->status == 201 || r->status == 404)) {
      ++commands;  // Redis answered the command behind it
      return r->status != 404;
    }
    const std::string text = r ? std::to_string(r->status) + " " + r->body : "no answer";
    static const std::regex auth("WRONGPASS|NOAUTH|username-password|Authentication",
                                 std::regex::icase);
    if (r && std::regex_search(r->body, auth)) {
      ++authFailures;
      note(firstAuthFailure, std::string(what) + ": " + text);
    } else {
      ++otherFailures;
      note(firstOtherFailure, std::string(what) + ": " + text);
    }
    return false;
  };
  std::thread loop([&] {
    while (!stop) {
      const auto issued = httpExchange(ip, 80, "POST", "/tokens");
      if (!count(issued, "POST /tokens")) continue;
      count(httpExchange(ip, 80, "GET", "/tokens/" + bodyOf(*issued).value("token", "")),
            "GET /tokens/...");
    }
  });

  const auto annotated = inNs(kTokensNs, {"annotate", "--overwrite", "sessionstore", "web",
                                          "sessionstore.io/rotate-password=node-1"});
  const auto rotation = [&] {
    const auto store = get(kTokensNs, "sessionstore", "web");
    return store ? (*store)["status"].value("store", Json::object())
                       .value("passwordRotation", Json::object())
                 : Json::object();
  };
  const bool completed = annotated.ok() && waitFor("the rotation Completed", 5min, [&] {
    return rotation().value("phase", "") == "Completed" &&
           rotation().value("requested", "") == "node-1";
  });
  const bool rolled = completed && waitFor("the app rolled out", 5min, [] {
    return rolledOut(kTokensNs, "web");
  });
  waitFor("at least 10,000 commands through the app", 5min,
          [&] { return commands.load() >= 10000; });
  stop = true;
  loop.join();
  ASSERT_TRUE(annotated.ok()) << annotated.describe();
  ASSERT_TRUE(completed) << rotation().dump() << "\n"
                         << inNs(kTokensNs, {"get", "sessionstore", "web", "-o", "yaml"}).out;
  EXPECT_TRUE(rolled);
  std::cout << "[ rotation ] " << commands.load() << " commands through the app, "
            << authFailures.load() << " failed on AUTH, " << otherFailures.load()
            << " failed otherwise" << (firstOtherFailure.empty() ? "" : " (first: ")
            << tail(firstOtherFailure, 300) << (firstOtherFailure.empty() ? "" : ")") << "\n";
  EXPECT_GE(commands.load(), 10000);
  EXPECT_EQ(authFailures.load(), 0) << "first: " << firstAuthFailure;

  // The old password is refused, the new one works: from inside an app pod (the passwords go in
  // by stdin, never on a command line, and only the answers are printed).
  const Json pods = currentPods(kTokensNs, "web");
  ASSERT_FALSE(pods.empty());
  const auto tried = runProcess(
      {controlPlaneBinary("kubectl"), "--kubeconfig", plane_->kubeconfig(), "-n", kTokensNs,
       "exec", "-i", pods[0]["metadata"]["name"].get<std::string>(), "-c", "app", "--",
       "python3", "-c", R"py(
import os, sys, urllib.parse, redis
old = sys.stdin.readline().strip()
url = urllib.parse.urlsplit(os.environ["REDIS_URL"])
def ping(password):
    try:
        client = redis.Redis(host=url.hostname, port=url.port, username=url.username,
                             password=password, socket_connect_timeout=5, socket_timeout=5)
        return "PONG" if client.ping() else "no PONG"
    except Exception as error:
        # Redis's refusal of the pair is WRONGPASS (redis-py 4 raises it as a ResponseError).
        refused = "WRONGPASS" in str(error) or "username-password" in str(error)
        return type(error).__name__ + (" WRONGPASS" if refused else "")
print("old", ping(old))
print("new", ping(urllib.parse.unquote(url.password)))
)py"},
      {.input = oldPassword + "\n"});
  ASSERT_TRUE(tried.ok()) << tried.describe();
  std::cout << "[ rotation ] from " << pods[0]["metadata"]["name"].get<std::string>() << ":\n"
            << trim(tried.out) << "\n";
  EXPECT_TRUE(std::regex_search(tried.out, std::regex("old [A-Za-z]+ WRONGPASS"))) << tried.out;
  EXPECT_NE(tried.out.find("new PONG"), std::string::npos) << tried.out;
}


// 8. Failover (issue 18) on the real node: the demo app with a SessionStore of three Redis pods in
// a namespace of its own. Tokens are issued through the app and replicated; then, under a client
// loop through the app's Service, the primary's redis container is SIGKILLed (its containerd task,
// as a crash or the OOM killer ends it; the kubelet restarts it in the same pod). Asserted: another
// pod becomes the primary (status, label, Events), at no sample (one kubectl list at a time) are
// two pods labelled primary, the killed pod comes back as a replica of the new primary (its Redis
// says role:slave with the link up, the only role:master is the labelled pod), every token issued
// before the kill is still found, and the app serves every request once the failover is over.
// Requests failed while the primary was gone are counted and printed, as is how long it took:
// information, never asserted (bench/failover_node.cpp measures it).
TEST_F(SeedsOnTheNode, AKilledPrimaryFailsOverAndTheAppKeepsItsTokens) {
  constexpr const char* kFoNs = "failover";
  constexpr const char* kStorePods = "sessionstore.io/name=web";
  constexpr const char* kPrimaryLabel = "sessionstore.io/role";
  ASSERT_NO_FATAL_FAILURE(startScenario(kFoNs, "tls-tokens", "      replicas: 3\n"));
  const auto storeStatus = [&] {
    const auto store = get(kFoNs, "sessionstore", "web");
    return store ? store->value("status", Json::object()).value("store", Json::object())
                 : Json::object();
  };
  // The Redis pods by name, and which of them carry the primary label.
  const auto primaries = [&] {
    std::vector<std::string> labelled;
    for (const auto& pod : items(kFoNs, "pods", kStorePods)) {
      if (pod["metadata"].value("labels", Json::object()).value(kPrimaryLabel, "") == "primary") {
        labelled.push_back(pod["metadata"].value("name", ""));
      }
    }
    return labelled;
  };
  const auto replication = [&](const std::string& pod) {
    return redisInfo(kFoNs, pod, "replication");
  };
  const auto podNames = [&] {
    std::vector<std::string> names;
    for (const auto& pod : items(kFoNs, "pods", kStorePods)) {
      if (runningInContainers(pod)) names.push_back(pod["metadata"].value("name", ""));
    }
    return names;
  };
  // One primary (labelled, role:master, the status's) and every other pod its replica, link up.
  const auto settled = [&](std::string* primary) {
    const auto labelled = primaries();
    const auto running = podNames();
    if (labelled.size() != 1 || running.size() != 3) return false;
    if (storeStatus().value("primary", "") != labelled[0]) return false;
    for (const auto& pod : running) {
      auto info = replication(pod);
      const bool ok = pod == labelled[0] ? info["role"] == "master"
                                          : info["role"] == "slave" &&
                                                info["master_link_status"] == "up";
      if (!ok) return false;
    }
    *primary = labelled[0];
    return true;
  };

  ASSERT_TRUE(waitFor("SessionStore web (3 Redis pods) Ready", 5min, [&] {
    return conditionIs(kFoNs, "web", "Ready", "True");
  })) << inNs(kFoNs, {"get", "sessionstore", "web", "-o", "yaml"}).out;
  std::string first;
  ASSERT_TRUE(waitFor("one primary, two replicas with their link up", 5min,
                      [&] { return settled(&first); }))
      << inNs(kFoNs, {"get", "pods", "-o", "wide", "--show-labels"}).out;
  ASSERT_TRUE(waitFor("the wired Deployment rolled out", 5min,
                      [&] { return rolledOut(kFoNs, "web"); }));
  const std::string ip = clusterIp(kFoNs, "web");
  ASSERT_FALSE(ip.empty());
  ASSERT_TRUE(waitFor("the Service's ClusterIP reaches both wired pods", 3min,
                      [&] { return serviceReachesEveryPod(kFoNs, ip); }));

  // Tokens issued before the kill, and known to every replica: each replica's offset reached the
  // primary's after the last one.
  std::vector<std::string> issued;
  for (int i = 0; i < 200; ++i) {
    const auto answer = httpExchange(ip, 80, "POST", "/tokens");
    ASSERT_TRUE(answer && answer->status == 201)
        << (answer ? answer->body : std::string("no answer"));
    issued.push_back(bodyOf(*answer).value("token", ""));
  }
  const std::string primaryOffset = replication(first)["master_repl_offset"];
  ASSERT_FALSE(primaryOffset.empty());
  ASSERT_TRUE(waitFor("both replicas acknowledged the primary's offset", 2min, [&] {
    for (const auto& pod : podNames()) {
      if (pod == first) continue;
      const std::string offset = replication(pod)["slave_repl_offset"];
      if (offset.empty() || std::stoll(offset) < std::stoll(primaryOffset)) return false;
    }
    return true;
  }));

  // The client loop through the app, and the sampler of the primary label.
  std::atomic<bool> stop{false};
  std::atomic<long> served{0}, failed{0}, samples{0}, maxLabelled{0};
  std::atomic<long> inARow{0};  // requests served since the last failure (or the last reset)
  std::mutex mu;
  std::string firstFailure;
  std::thread loop([&] {
    while (!stop) {
      const auto posted = httpExchange(ip, 80, "POST", "/tokens");
      std::optional<HttpResponse> read;
      if (posted && posted->status == 201) {
        read = httpExchange(ip, 80, "GET", "/tokens/" + bodyOf(*posted).value("token", ""));
      }
      if (read && read->status == 200) {
        ++served;
        ++inARow;
        continue;
      }
      ++failed;
      inARow = 0;
      {
        std::lock_guard lock(mu);
        if (firstFailure.empty()) {
          const auto describe = [](const char* what, const std::optional<HttpResponse>& answer) {
            return std::string(what) + " " +
                   (answer ? std::to_string(answer->status) + " " + tail(answer->body, 200)
                           : "no answer");
          };
          firstFailure = !posted || posted->status != 201 ? describe("POST /tokens:", posted)
                                                          : describe("GET /tokens/T:", read);
        }
      }
      std::this_thread::sleep_for(50ms);  // a failing app is not hammered
    }
  });
  std::thread sampler([&] {
    while (!stop) {
      const long n = static_cast<long>(primaries().size());
      ++samples;
      if (n > maxLabelled) maxLabelled = n;
    }
  });
  const auto stopThreads = [&] {
    stop = true;
    loop.join();
    sampler.join();
  };

  // The kill: the redis container's containerd task of the primary's pod.
  const auto victim = get(kFoNs, "pod", first);
  const auto status = victim ? containerStatus(*victim, "redis") : std::nullopt;
  const std::string containerId = status ? status->value("containerID", "") : "";
  const long restartsBefore = status ? status->value("restartCount", 0L) : -1;
  const auto killed = runProcess({"ctr", "--address", plane_->env("CONTAINERD_ADDRESS"), "-n",
                                  "k8s.io", "tasks", "kill", "-s", "SIGKILL",
                                  containerId.substr(containerId.find("://") + 3)});
  if (!killed.ok() || containerId.empty()) stopThreads();
  ASSERT_FALSE(containerId.empty()) << "the primary " << first << " has no redis container";
  ASSERT_TRUE(killed.ok()) << killed.describe();
  std::cout << "[ failover ] " << first << "'s redis container killed\n";

  const auto failover = [&] { return storeStatus().value("lastFailover", Json::object()); };
  const bool movedOn = waitFor("status.store.lastFailover names the killed primary", 3min, [&] {
    return failover().value("from", "") == first && !failover().value("to", "").empty();
  });
  // Served again: 20 requests in a row through the app, counted from the failover's record.
  inARow = 0;
  const bool servedAgain = movedOn && waitFor("the app served 20 requests in a row after the "
                                              "failover", 3min, [&] { return inARow >= 20; });
  std::string second;
  const bool back = movedOn && waitFor("the killed pod is back as a replica of the new primary",
                                       5min, [&] { return settled(&second); });
  stopThreads();
  ASSERT_TRUE(movedOn) << storeStatus().dump() << "\n"
                       << inNs(kFoNs, {"get", "pods", "-o", "wide", "--show-labels"}).out;
  std::cout << "[ failover ] " << failover().dump() << "; through the app: " << served.load()
            << " requests served, " << failed.load() << " failed"
            << [&] {
                 std::lock_guard lock(mu);
                 return firstFailure.empty() ? std::string() : " (first: " + firstFailure + ")";
               }() << "; "
            << samples.load() << " label samples, at most " << maxLabelled.load()
            << " pod(s) labelled primary\n";
  EXPECT_TRUE(servedAgain);
  ASSERT_TRUE(back) << inNs(kFoNs, {"get", "pods", "-o", "wide", "--show-labels"}).out;
  EXPECT_NE(second, first) << "the killed pod is labelled primary again";
  EXPECT_EQ(failover().value("to", ""), second);
  EXPECT_LE(maxLabelled.load(), 1) << "two pods were labelled primary at once";
  const auto restarted = get(kFoNs, "pod", first);
  const auto after = restarted ? containerStatus(*restarted, "redis") : std::nullopt;
  EXPECT_TRUE(after && after->value("restartCount", 0L) > restartsBefore)
      << "the kubelet did not restart the killed container in its pod";
  const std::string events =
      inNs(kFoNs, {"get", "events", "--field-selector", "involvedObject.kind=SessionStore", "-o",
                   "custom-columns=REASON:.reason,NOTE:.message", "--no-headers"})
          .out;
  EXPECT_NE(events.find("FailoverStarted"), std::string::npos) << events;
  EXPECT_NE(events.find("FailoverCompleted"), std::string::npos) << events;

  // Every token issued before the kill is found, and the app serves every request now.
  int found = 0;
  for (const auto& token : issued) {
    const auto read = httpExchange(ip, 80, "GET", "/tokens/" + token);
    if (read && read->status == 200) ++found;
  }
  EXPECT_EQ(found, static_cast<int>(issued.size())) << "tokens issued before the kill were lost";
  const Round round = tokens(ip, 100);
  std::cout << "[ failover ] after: " << round.describe() << "\n";
  EXPECT_EQ(round.errors, 0) << round.firstError;
  EXPECT_EQ(round.found, 100);
}


// 9. Memory that follows load (issue 18's memory test) on the real node: a store with
// memory {ceiling: 128Mi, windowSeconds: 5} and maxMemory 64Mi beside the demo app. The app's
// user fills it past 90 % of 64Mi from inside an app pod (as the app writes: through REDIS_URL);
// the operator raises maxmemory one step, to 128Mi, live. Asserted: Redis says maxmemory 128Mi
// with the same run_id and the container not restarted (no restart), no key evicted and every key
// still there, the pod's memory limit 160Mi in its spec and, applied by the kubelet in place, in
// its container's status, the Events MemoryRaised and MemoryLimitResized, and at the ceiling the
// condition MemoryAtCeiling. Redis's figures are read inside its container as the monitor user.
TEST_F(SeedsOnTheNode, AFullStoreIsRaisedOneStepLiveAndItsPodResizedInPlace) {
  constexpr const char* kMemNs = "memory";
  ASSERT_NO_FATAL_FAILURE(
      startScenario(kMemNs, "failover", "      memory: {ceiling: 128Mi, windowSeconds: 5}\n"));
  ASSERT_TRUE(waitFor("SessionStore web (memory that follows load) Ready", 5min, [&] {
    return conditionIs(kMemNs, "web", "Ready", "True");
  })) << inNs(kMemNs, {"get", "sessionstore", "web", "-o", "yaml"}).out;
  ASSERT_TRUE(waitFor("the wired Deployment rolled out", 5min,
                      [&] { return rolledOut(kMemNs, "web"); }));

  const auto info = [&] { return redisInfo(kMemNs, "web-redis-0"); };
  const auto redisPod = [&] { return get(kMemNs, "pod", "web-redis-0").value_or(Json::object()); };
  const auto before = info();
  ASSERT_EQ(before.count("run_id"), 1u) << "INFO did not answer";
  EXPECT_EQ(before.at("maxmemory"), std::to_string(64 << 20));
  const Json podBefore = redisPod();
  const std::string uid = podBefore["metadata"].value("uid", "");
  const auto statusBefore = containerStatus(podBefore, "redis");
  ASSERT_TRUE(statusBefore);
  const long restarts = statusBefore->value("restartCount", 0L);

  // The fill: 58 strings of about 1 MB (SETRANGE makes each at once), from an app pod through
  // its REDIS_URL, under the app's key prefix: about 59 MiB used of 64 MiB.
  const Json appPods = currentPods(kMemNs, "web");
  ASSERT_FALSE(appPods.empty());
  const auto filled = inNs(kMemNs, {"exec", appPods[0]["metadata"]["name"].get<std::string>(),
                                    "-c", "app", "--", "python3", "-c", R"py(
import os, redis
client = redis.Redis.from_url(os.environ["REDIS_URL"])
prefix = os.environ["SESSION_KEY_PREFIX"]
for i in range(58):
    client.setrange(prefix + "fill:" + str(i), 1000000, "x")
print("filled", sum(1 for _ in client.scan_iter(prefix + "fill:*")))
)py"});
  ASSERT_TRUE(filled.ok()) << filled.describe();
  std::cout << "[ memory ] " << trim(filled.out) << "; used_memory " << info()["used_memory_human"]
            << "\n";
  const auto memoryStatus = [&] {
    const auto store = get(kMemNs, "sessionstore", "web");
    return store ? (*store)["status"].value("store", Json::object()).value("memory", Json::object())
                 : Json::object();
  };
  ASSERT_TRUE(waitFor("status.store.memory says 128Mi", 5min, [&] {
    return memoryStatus().value("maxMemory", "") == "128Mi";
  })) << memoryStatus().dump();

  const auto after = info();
  EXPECT_EQ(after.at("maxmemory"), std::to_string(128 << 20)) << "not raised live in Redis";
  EXPECT_EQ(after.at("run_id"), before.at("run_id")) << "Redis was restarted";
  EXPECT_EQ(after.at("evicted_keys"), "0");
  const Json podAfter = redisPod();
  EXPECT_EQ(podAfter["metadata"].value("uid", ""), uid) << "the pod was replaced";
  const auto statusAfter = containerStatus(podAfter, "redis");
  ASSERT_TRUE(statusAfter);
  EXPECT_EQ(statusAfter->value("restartCount", 0L), restarts) << "the container restarted";
  std::string specLimit;
  for (const auto& c : podAfter["spec"]["containers"]) {
    if (c.value("name", "") == "redis") {
      specLimit = c.value("resources", Json::object())
                      .value("limits", Json::object())
                      .value("memory", "");
    }
  }
  EXPECT_EQ(specLimit, "160Mi") << "the pod's spec was not resized";
  EXPECT_TRUE(waitFor("the kubelet applied the 160Mi limit in place", 3min, [&] {
    const auto c = containerStatus(redisPod(), "redis");
    return c && c->value("resources", Json::object())
                        .value("limits", Json::object())
                        .value("memory", "") == "160Mi";
  })) << redisPod()["status"].dump();
  const std::string events =
      inNs(kMemNs, {"get", "events", "--field-selector", "involvedObject.kind=SessionStore", "-o",
                    "custom-columns=REASON:.reason,NOTE:.message", "--no-headers"})
          .out;
  EXPECT_NE(events.find("MemoryRaised"), std::string::npos) << events;
  EXPECT_NE(events.find("MemoryLimitResized"), std::string::npos) << events;
  EXPECT_TRUE(waitFor("the condition MemoryAtCeiling is True (128Mi is the ceiling)", 2min, [&] {
    return conditionIs(kMemNs, "web", "MemoryAtCeiling", "True");
  }));
  const auto keys = redisCli(kMemNs, "web-redis-0", "dbsize");
  EXPECT_GE(std::stol("0" + trim(keys.out)), 58L) << "keys were lost: " << keys.describe();
}

}  // namespace
}  // namespace sessionstore::testing
