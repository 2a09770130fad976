// Issue 18's failover benchmark on the real node (the `node` profile: containerd, a kubelet,
// kube-proxy): the operator installed in the cluster from manifests/ (tests/node/operator), the
// demo app and a SessionStore with replicas: 3 whose Redis pods are real containers; kube-proxy
// moves the client Service to the pod the operator labels primary.
//
// A writer keeps a steady load on the client Service's ClusterIP as the app's user (the same load
// as failover.cpp's, failover_load.h): SET of a new key, and every 10th key a WAIT 1. --kills
// times: the primary's redis container is SIGKILLed (its containerd task); from the kill's return
// to the first write accepted again (p50, max). The kubelet restarts the killed container in its
// pod, and its Redis comes back as a replica; the next kill waits until all three pods are in
// sync again. A container killed again within minutes is restarted only after the kubelet's
// crash back-off (10 s, doubling): when the killed pod is not back within --return seconds, it is
// deleted and its StatefulSet makes it anew (printed; that is the pace of the benchmark, not of
// the failover, which never waits for the killed pod). At the end every key acknowledged is
// looked up through the Service: WAIT-acknowledged writes lost (target 0), plain writes lost
// (printed). Every 100 ms a sampler lists the Redis pods (pods labelled primary) and asks each
// pod's Redis its role (answering role:master), counting the samples with more than one of either.
//
// The store's maxMemory is 1Gi: the load writes new keys only (about 300 MB over 20 kills), and a
// smaller store would refuse writes (OOM) and have its replicas, which ignore maxmemory, killed by
// their container's memory limit, which is not what is measured here.
// Runs with SESSIONSTORE_NODE_NETWORK_POLICY=none unless it is set: the benchmark reaches the
// store from the node itself, which the store's NetworkPolicy does not admit.
// Figures only; it throws when something never happens (--timeout).
//
//   failover_node_bench [--kills 20] [--timeout 180] [--return 30]
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "control_plane.h"
#include "failover_load.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "process.h"

using namespace bench;
namespace tst = sessionstore::testing;

namespace {

constexpr int kPods = 3;
const std::string kNs = "failover-bench";
const std::string kStorePods = "sessionstore.io/name=web";
constexpr const char* kRedisImage = "localhost/sessionstore/redis:7";

struct Options {
  int kills = 20;
  int timeoutSeconds = 180;
  int returnSeconds = 30;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 == argc) throw std::invalid_argument("flag " + flag + " needs a value");
    const int value = std::stoi(argv[i + 1]);
    if (flag == "--kills") {
      o.kills = value;
    } else if (flag == "--timeout") {
      o.timeoutSeconds = value;
    } else if (flag == "--return") {
      o.returnSeconds = value;
    } else {
      throw std::invalid_argument("unknown flag " + flag);
    }
  }
  return o;
}

std::unique_ptr<ss::redisclient::Session> openSession(const std::string& host,
                                                      const std::string& user,
                                                      const std::string& password) {
  return openFailoverSession(host, 6379, user, password);
}

// A Redis pod as the sampler saw it.
struct Pod {
  std::string name;
  std::string ip;
  std::string containerId;  // the redis container's, without "containerd://"
  bool labelled = false;    // sessionstore.io/role=primary
  bool ready = false;       // its Ready condition
  std::map<std::string, std::string> replication;  // INFO replication; empty: no answer
};

class NodeBench {
 public:
  explicit NodeBench(const Options& options) : options_(options) {
    plane_ = tst::ControlPlane::start(tst::Profile::kNode);
    std::printf("node profile up: %s (NETWORK_POLICY=%s)\n", plane_->dir().c_str(),
                plane_->env("NETWORK_POLICY").c_str());
    must(plane_->kubectl({"apply", "--server-side", "-k",
                          tst::sourceDir() + "/tests/node/operator"}),
         "the operator's manifests");
    must(plane_->waitForCrd("sessionstores.sessionstore.io"), "the CRD established");
    auto config = ss::kube::loadKubeconfig(plane_->kubeconfig());
    if (!config) throw std::runtime_error("kubeconfig: " + config.error().describe());
    auto client = ss::kube::RestClient::connect(*config);
    if (!client) throw std::runtime_error("no client");
    client_ = std::move(*client);
    if (!waitUntil([&] {
          const Json d = get("sessionstore-system", "deployment", "sessionstore-operator");
          return d.is_object() && d.value("status", Json::object()).value("readyReplicas", 0) ==
                                      d["spec"].value("replicas", 1);
        }, options_.timeoutSeconds)) {
      throw std::runtime_error("the operator's Deployment never had its replicas Ready");
    }
  }
  ~NodeBench() {
    sampling_ = false;
    if (sampler_.joinable()) sampler_.join();
  }

  // What the store looked like, when the benchmark throws (no Secret is printed).
  void diagnose() {
    std::fprintf(stderr, "----- diagnosis -----\n");
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"-n", kNs, "get", "pods", "-o", "wide", "--show-labels"},
             {"-n", kNs, "get", "sessionstore", "web", "-o", "yaml"},
             {"-n", kNs, "get", "events", "--sort-by=.lastTimestamp"},
             {"-n", "sessionstore-system", "logs", "-l",
              "app.kubernetes.io/name=sessionstore-operator", "--tail=150", "--prefix"}}) {
      const auto r = plane_->kubectl(args);
      std::fprintf(stderr, "$ kubectl %s\n%s%s\n", args[2].c_str(), r.out.c_str(), r.err.c_str());
    }
    for (const auto& pod : pods()) {
      std::fprintf(stderr, "%s: labelled %d ready %d role %s link %s offset %s\n",
                   pod.name.c_str(), pod.labelled, pod.ready,
                   pod.replication.contains("role") ? pod.replication.at("role").c_str() : "-",
                   pod.replication.contains("master_link_status")
                       ? pod.replication.at("master_link_status").c_str()
                       : "-",
                   pod.replication.contains("master_repl_offset")
                       ? pod.replication.at("master_repl_offset").c_str()
                       : "-");
    }
    std::fprintf(stderr, "----- end of diagnosis -----\n");
  }

  void run() {
    try {
      measure();
    } catch (const std::exception&) {
      diagnose();
      throw;
    }
  }

 private:
  void measure() {
    setUp();
    if (!waitUntil([&] { return steady(); }, options_.timeoutSeconds)) {
      throw std::runtime_error("the store never had one primary and two replicas in sync");
    }
    WriteLoad load(kNs + ":web:", [this] { return openSession(serviceIp_, "app", appPassword_); },
                   [this] { return primaryName(); });
    load.start();
    std::vector<double> recovery, labelMoved;
    int restarted = 0, recreated = 0;
    for (int k = 0; k < options_.kills; ++k) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const Pod victim = primary();
      const auto killed = kill(victim);
      // Both: the first write accepted again, and when the sampler first saw another pod
      // labelled (the operator's part; the rest is kube-proxy's and the writer's).
      std::optional<WriteLoad::Write> back;
      std::optional<Clock::time_point> relabelled;
      if (!waitUntil([&] {
            if (!back) back = load.firstAfter(killed);
            if (!relabelled && !primaryName().empty() && primaryName() != victim.name) {
              relabelled = Clock::now();
            }
            return back && relabelled;
          }, options_.timeoutSeconds)) {
        throw std::runtime_error("after kill " + std::to_string(k + 1) +
                                 (back ? ": no other pod labelled primary"
                                       : ": no write accepted"));
      }
      recovery.push_back(secondsSince(killed, back->at));
      labelMoved.push_back(secondsSince(killed, *relabelled));
      const std::string next = primaryName();
      const auto returning = Clock::now();
      std::string how;
      if (waitUntil([&] { return steady(); }, options_.returnSeconds)) {
        ++restarted;
        how = "back as a replica after its restart";
      } else {
        // The kubelet's crash back-off: the pod made anew starts at once.
        must(plane_->kubectl({"-n", kNs, "delete", "pod", victim.name, "--wait=false"}),
             "deleting " + victim.name);
        if (!waitUntil([&] { return steady(); }, options_.timeoutSeconds)) {
          throw std::runtime_error("the store did not settle after kill " + std::to_string(k + 1));
        }
        ++recreated;
        how = "made anew (crash back-off)";
      }
      std::printf("kill %2d: %s killed; %s labelled primary after %.1f s (sampled); first write "
                  "accepted after %.3f s; the killed pod %s in %.1f s\n",
                  k + 1, victim.name.c_str(), next.c_str(), labelMoved.back(), recovery.back(),
                  how.c_str(), secondsSince(returning));
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    load.stop();
    sampling_ = false;
    if (sampler_.joinable()) sampler_.join();

    auto reader = openSession(serviceIp_, "app", appPassword_);
    if (!reader) throw std::runtime_error("cannot read through the Service");
    std::printf("\nkilled pods back by the kubelet's restart: %d; made anew after its crash "
                "back-off: %d; from the kill to another pod labelled primary (sampled every "
                "100 ms): p50 %.1f s, max %.1f s\n",
                restarted, recreated, percentile(labelMoved, 0.5), percentile(labelMoved, 1.0));
    printFailoverFigures(options_.kills, recovery, load.lost(*reader), samples_.load(),
                         twoLabelled_.load(), twoMasters_.load());
    // What the operator told of it (its Events; a failed step is retried and told here too).
    const auto events = plane_->kubectl(
        {"-n", kNs, "get", "events", "--field-selector", "involvedObject.kind=SessionStore", "-o",
         "custom-columns=REASON:.reason,COUNT:.count,LAST:.message", "--no-headers"});
    std::printf("the operator's Events on the SessionStore (reason, count, last note):\n%s",
                events.out.c_str());
  }

  static void must(const tst::ProcessResult& r, const std::string& what) {
    if (!r.ok()) throw std::runtime_error(what + ": " + r.describe());
  }
  Json get(const std::string& ns, const std::string& kind, const std::string& name) {
    const auto r = plane_->kubectl({"-n", ns, "get", kind, name, "-o", "json"});
    if (!r.ok()) return Json();
    try {
      return Json::parse(r.out);
    } catch (const Json::exception&) {
      return Json();
    }
  }
  std::string secret(const std::string& name, const std::string& key) {
    const Json s = get(kNs, "secret", name);
    if (!s.is_object() || !s.value("data", Json::object()).contains(key)) return "";
    return ss::crypto::base64Decode(s["data"][key].get<std::string>()).value_or("");
  }

  void setUp() {
    must(plane_->kubectl({"create", "namespace", kNs}), "the namespace");
    must(plane_->kubectl({"-n", kNs, "apply", "-l", "app.kubernetes.io/name=web", "-k",
                          tst::sourceDir() + "/tests/node/download-tokens"}),
         "the demo app");
    must(plane_->kubectl({"-n", kNs, "apply", "-f", "-"},
                         "apiVersion: sessionstore.io/v1alpha1\nkind: SessionStore\n"
                         "metadata: {name: web}\n"
                         "spec:\n  target: {deployment: web, service: web}\n"
                         "  store:\n    type: Managed\n    managed:\n      image: " +
                             std::string(kRedisImage) +
                             "\n      maxMemory: 1Gi\n      replicas: " +
                             std::to_string(kPods) + "\n"),
         "the SessionStore");
    if (!waitUntil([&] {
          monitorPassword_ = secret("web-redis-auth", "monitor-password");
          appPassword_ = secret("web-session-store", "REDIS_PASSWORD");
          serviceIp_ = get(kNs, "service", "web-redis")
                           .value("spec", Json::object())
                           .value("clusterIP", "");
          return !monitorPassword_.empty() && !appPassword_.empty() && !serviceIp_.empty();
        }, options_.timeoutSeconds)) {
      throw std::runtime_error("no auth Secret, connection Secret or client Service");
    }
    startSampler();
  }

  // The Redis pods as the API server has them, each asked its role.
  std::vector<Pod> look() {
    std::vector<Pod> out;
    auto pods = client_->list(ss::kube::resources::kPods, kNs, {.labelSelector = kStorePods});
    if (!pods) return out;
    for (const auto& item : pods->items) {
      Pod pod;
      pod.name = item["metadata"].value("name", "");
      pod.labelled = item["metadata"].value("labels", Json::object())
                         .value("sessionstore.io/role", "") == "primary";
      const Json status = item.value("status", Json::object());
      pod.ip = status.value("podIP", "");
      for (const auto& c : status.value("conditions", Json::array())) {
        if (c.value("type", "") == "Ready") pod.ready = c.value("status", "") == "True";
      }
      for (const auto& c : status.value("containerStatuses", Json::array())) {
        const std::string id = c.value("containerID", "");
        if (c.value("name", "") == "redis" && id.find("://") != std::string::npos) {
          pod.containerId = id.substr(id.find("://") + 3);
        }
      }
      if (!pod.ip.empty()) {
        if (auto s = openSession(pod.ip, "monitor", monitorPassword_)) {
          if (auto info = s->info()) pod.replication = *info;
        }
      }
      out.push_back(std::move(pod));
    }
    return out;
  }
  void startSampler() {
    sampling_ = true;
    sampler_ = std::thread([this] {
      while (sampling_) {
        auto pods = look();
        int labelled = 0, masters = 0;
        for (const auto& pod : pods) {
          labelled += pod.labelled ? 1 : 0;
          const auto role = pod.replication.find("role");
          masters += role != pod.replication.end() && role->second == "master" ? 1 : 0;
        }
        ++samples_;
        if (labelled > 1) ++twoLabelled_;
        if (masters > 1) ++twoMasters_;
        {
          std::lock_guard lock(mu_);
          pods_ = std::move(pods);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  std::vector<Pod> pods() {
    std::lock_guard lock(mu_);
    return pods_;
  }
  Pod primary() {
    for (const auto& pod : pods()) {
      if (pod.labelled) return pod;
    }
    return {};
  }
  std::string primaryName() { return primary().name; }
  // Every pod Ready and answering, the labelled one is the master, the others replicas with their
  // link up.
  bool steady() {
    const auto all = pods();
    if (all.size() != static_cast<std::size_t>(kPods)) return false;
    int labelled = 0;
    for (auto pod : all) {
      labelled += pod.labelled ? 1 : 0;
      if (!pod.ready) return false;
      const bool ok = pod.labelled ? pod.replication["role"] == "master"
                                   : pod.replication["role"] == "slave" &&
                                         pod.replication["master_link_status"] == "up";
      if (!ok) return false;
    }
    return labelled == 1;
  }
  Clock::time_point kill(const Pod& victim) {
    if (victim.containerId.empty()) throw std::runtime_error("no primary's container to kill");
    must(tst::runProcess({"ctr", "--address", plane_->env("CONTAINERD_ADDRESS"), "-n", "k8s.io",
                          "tasks", "kill", "-s", "SIGKILL", victim.containerId}),
         "killing " + victim.name + "'s redis container");
    return Clock::now();
  }

  const Options options_;
  std::unique_ptr<tst::ControlPlane> plane_;
  std::unique_ptr<ss::kube::RestClient> client_;
  std::string monitorPassword_, appPassword_, serviceIp_;
  std::mutex mu_;
  std::vector<Pod> pods_;  // GUARDED_BY(mu_): the sampler's last look
  std::atomic<bool> sampling_{false};
  std::thread sampler_;
  std::atomic<long> samples_{0}, twoLabelled_{0}, twoMasters_{0};
};

}  // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  ::setenv("SESSIONSTORE_NODE_NETWORK_POLICY", "none", 0);
  printHeader(argc, argv);
  std::printf("failover benchmark on the real node: %d kills of the primary's redis container "
              "(SIGKILL) under a steady write load through the client Service, replicas: %d\n",
              options.kills, kPods);
  std::fflush(stdout);
  NodeBench bench(options);
  bench.run();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "failover_node_bench: %s\n", e.what());
  return 1;
}
