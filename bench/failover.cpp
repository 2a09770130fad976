// How a replicated managed store survives the loss of its primary (issue 18's failover
// benchmark): on the `cluster` profile (kwok pods stand for the Redis pods, their labels are what
// the operator moves), the operator binary, a SessionStore with replicas: 3, and three real
// redis-servers played from the store's ConfigMap as in tests/integration/
// failover_integration_test.cpp, whose header says why they are played and what the benchmark
// plays of the cluster (each pod's start script; kube-proxy, as the client Service's line of the
// address map moved to the pod labelled primary every 100 ms).
//
// A writer keeps a steady load on the client Service as the app's user: SET of a new key, and
// every 10th key a WAIT 1 after it (acknowledged by a replica). --kills times: the primary's
// redis-server is SIGKILLed; from the kill's return to the first write accepted again (p50, max);
// the killed pod's Redis then comes back as its start script starts it (a replica of the
// Service) before the next kill. At the end every key acknowledged is looked up on the primary:
// WAIT-acknowledged writes lost (the target is 0) and plain writes lost (printed). At every
// sample (100 ms): pods labelled primary and redis-servers answering role:master, more than one
// of either counted. Figures only; it throws when something never happens (--timeout).
//
//   failover_bench [--kills 20] [--timeout 60]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "failover_load.h"
#include "control_plane.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "process.h"
#include "redis_server.h"

using namespace bench;
namespace tst = sessionstore::testing;

namespace {

constexpr int kPods = 3;
const std::string kNs = "failover";
constexpr const char* kTesterAcl = "user tester on >tester-password ~* &* +@all\n";

struct Options {
  int kills = 20;
  int timeoutSeconds = 60;
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
    } else {
      throw std::invalid_argument("unknown flag " + flag);
    }
  }
  return o;
}

std::unique_ptr<ss::redisclient::Session> openSession(int port, const std::string& user,
                                                      const std::string& password) {
  return openFailoverSession("127.0.0.1", port, user, password);
}

std::map<std::string, std::string> info(int port) {
  auto s = openSession(port, "tester", "tester-password");
  if (!s) return {};
  auto i = s->info();
  return i ? *i : std::map<std::string, std::string>{};
}

class Bench {
 public:
  explicit Bench(const Options& options) : options_(options) {
    plane_ = tst::ControlPlane::start(tst::Profile::kCluster);
    must(plane_->kubectl({"apply", "-f", tst::sourceDir() + "/crds/"}), "the CRD");
    must(plane_->waitForCrd("sessionstores.sessionstore.io"), "the CRD established");
    must(plane_->kubectl({"create", "namespace", kNs}), "the namespace");
    addressMap_ = plane_->dir() + "/store-addresses";
    std::ofstream(addressMap_) << "# in-cluster address -> where the benchmark's Redis listens\n";
    operator_ = std::make_unique<tst::ChildProcess>(
        std::vector<std::string>{OPERATOR_BINARY, "run", "--kubeconfig",
                                 tst::operatorKubeconfig(*plane_), "--leader-elect", "false",
                                 "--metrics-bind-address", "127.0.0.1:0",
                                 "--health-probe-bind-address", "127.0.0.1:0", "--namespaces",
                                 kNs, "--store-address-map", addressMap_, "--log-level", "info"},
        plane_->dir() + "/operator.log");
    auto config = ss::kube::loadKubeconfig(plane_->kubeconfig());
    if (!config) throw std::runtime_error("kubeconfig: " + config.error().describe());
    auto client = ss::kube::RestClient::connect(*config);
    if (!client) throw std::runtime_error("no client");
    client_ = std::move(*client);
  }
  ~Bench() {
    sampling_ = false;
    if (sampler_.joinable()) sampler_.join();
  }

  void must(const tst::ProcessResult& r, const std::string& what) {
    if (!r.ok()) throw std::runtime_error(what + ": " + r.describe());
  }
  std::string kubectl(const std::vector<std::string>& args, const std::string& input = "") {
    std::vector<std::string> all = {"-n", kNs};
    all.insert(all.end(), args.begin(), args.end());
    const auto r = plane_->kubectl(all, input);
    return r.ok() ? r.out : "";
  }
  Json get(const std::string& kind, const std::string& name) {
    const std::string out = kubectl({"get", kind, name, "-o", "json"});
    return out.empty() ? Json() : Json::parse(out);
  }
  std::string secret(const std::string& name, const std::string& key) {
    const Json s = get("secret", name);
    if (!s.is_object() || !s["data"].contains(key)) return "";
    return ss::crypto::base64Decode(s["data"][key].get<std::string>()).value_or("");
  }

  void setUp() {
    must(plane_->kubectl({"-n", kNs, "apply", "-f", "-"},
                         targetDeployment("fo-app").dump() + "\n---\n" + targetService("fo-app").dump()),
         "the target");
    Json store = managedStore("fo");
    store["spec"]["store"]["managed"]["replicas"] = kPods;
    must(plane_->kubectl({"-n", kNs, "apply", "-f", "-"}, store.dump()), "the SessionStore");
    if (!waitUntil([&] {
          const Json sts = get("statefulset", "fo-redis");
          if (!sts.is_object() || secret("fo-redis-auth", "replication-password").empty()) {
            return false;
          }
          config_ = get("configmap", "fo-redis-config");
          return config_.is_object();
        }, options_.timeoutSeconds)) {
      throw std::runtime_error("no StatefulSet, ConfigMap or replication password");
    }
    replicationPassword_ = secret("fo-redis-auth", "replication-password");
    for (int i = 0; i < kPods; ++i) startPod(i, 0);
    startSampler();
    if (!waitUntil([&] { return primary() >= 0 && servicePort_ != 1; }, 120)) {
      throw std::runtime_error("no pod was labelled primary");
    }
    appPassword_ = secret("fo-session-store", "REDIS_PASSWORD");
    if (appPassword_.empty()) {
      waitUntil([&] { return !secret("fo-session-store", "REDIS_PASSWORD").empty(); }, 120);
      appPassword_ = secret("fo-session-store", "REDIS_PASSWORD");
    }
    if (appPassword_.empty()) throw std::runtime_error("no connection Secret");
  }

  // As the pod's start script: a replica of where the client Service leads now.
  void startPod(int ordinal, int port) {
    const std::string conf = "replicaof 127.0.0.1 " + std::to_string(servicePort_.load()) +
                             "\nmasteruser replication\nmasterauth " + replicationPassword_ +
                             "\n";
    auto server = tst::startFromStoreConfig(
        config_, plane_->dir() + "/pod" + std::to_string(ordinal) + "-users.acl", kTesterAcl,
        conf, "", port);
    const int at = server->port();
    {
      std::lock_guard lock(mu_);
      servers_[ordinal] = std::move(server);
    }
    appendMap("fo-redis-" + std::to_string(ordinal) + ".fo-redis-headless." + kNs + ".svc:6379",
              at);
  }
  void appendMap(const std::string& from, int port) {
    std::lock_guard lock(mapMu_);
    std::ofstream(addressMap_, std::ios::app) << from << " 127.0.0.1:" << port << "\n";
  }
  int port(int ordinal) {
    std::lock_guard lock(mu_);
    return servers_[ordinal] ? servers_[ordinal]->port() : 0;
  }
  int primary() const { return primary_.load(); }

  void startSampler() {
    sampling_ = true;
    sampler_ = std::thread([this] {
      while (sampling_) {
        auto pods = client_->list(ss::kube::resources::kPods, kNs,
                                  {.labelSelector = "sessionstore.io/name=fo"});
        int labelled = 0;
        int which = -1;
        if (pods) {
          for (const auto& pod : pods->items) {
            const Json labels = pod["metadata"].value("labels", Json::object());
            if (labels.value("sessionstore.io/role", "") != "primary") continue;
            ++labelled;
            which = pod["metadata"]["name"].get<std::string>().back() - '0';
          }
        }
        int masters = 0;
        for (int i = 0; i < kPods; ++i) {
          const int p = port(i);
          if (p != 0 && info(p)["role"] == "master") ++masters;
        }
        ++samples_;
        if (labelled > 1) ++twoLabelled_;
        if (masters > 1) ++twoMasters_;
        primary_ = labelled == 1 ? which : -1;
        const int target = labelled == 1 && which >= 0 && which < kPods ? port(which) : 1;
        if (target != 0 && target != servicePort_) {
          servicePort_ = target;
          appendMap("fo-redis." + kNs + ".svc:6379", target);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }

  // Every pod answers, one master, the others replicas with their link up.
  bool steady() {
    const int p = primary();
    if (p < 0) return false;
    for (int i = 0; i < kPods; ++i) {
      auto r = info(port(i));
      if (i == p ? r["role"] != "master"
                 : (r["role"] != "slave" || r["master_link_status"] != "up")) {
        return false;
      }
    }
    return true;
  }

  void run() {
    setUp();
    if (!waitUntil([&] { return steady(); }, options_.timeoutSeconds)) {
      throw std::runtime_error("the store never had one primary and two replicas in sync");
    }
    WriteLoad load(kNs + ":fo:", [this] { return openSession(servicePort_.load(), "app", appPassword_); },
                   [this] { return std::to_string(servicePort_.load()); });
    load.start();
    std::vector<double> recovery;
    for (int k = 0; k < options_.kills; ++k) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const int victim = primary();
      const int victimPort = port(victim);
      {
        std::lock_guard lock(mu_);
        servers_[victim]->kill();
        servers_[victim].reset();
      }
      const auto killed = Clock::now();
      std::optional<WriteLoad::Write> back;
      if (!waitUntil([&] {
            back = load.firstAfter(killed);
            return back.has_value();
          }, options_.timeoutSeconds)) {
        throw std::runtime_error("no write accepted after kill " + std::to_string(k + 1));
      }
      if (back->where == std::to_string(victimPort)) {
        throw std::runtime_error("a write was accepted by the killed primary's port after the kill");
      }
      recovery.push_back(secondsSince(killed, back->at));
      if (!waitUntil([&] { return primary() >= 0 && primary() != victim; },
                   options_.timeoutSeconds)) {
        throw std::runtime_error("no new primary after kill " + std::to_string(k + 1));
      }
      std::printf("kill %2d: pod %d killed; pod %d labelled primary; first write accepted after "
                  "%.3f s (on port %d, the killed one was %d)\n",
                  k + 1, victim, primary(), recovery.back(), std::stoi(back->where), victimPort);
      std::fflush(stdout);
      startPod(victim, victimPort);
      if (!waitUntil([&] { return steady(); }, options_.timeoutSeconds)) {
        throw std::runtime_error("the store did not settle after kill " + std::to_string(k + 1));
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    load.stop();
    sampling_ = false;
    if (sampler_.joinable()) sampler_.join();

    // Every accepted key, looked up on the primary.
    if (primary() < 0) throw std::runtime_error("no primary at the end");
    auto s = openSession(port(primary()), "tester", "tester-password");
    if (!s) throw std::runtime_error("cannot read the primary");
    printFailoverFigures(options_.kills, recovery, load.lost(*s), samples_.load(),
                         twoLabelled_.load(), twoMasters_.load());
  }

 private:
  const Options options_;
  std::unique_ptr<tst::ControlPlane> plane_;
  std::unique_ptr<tst::ChildProcess> operator_;
  std::unique_ptr<ss::kube::RestClient> client_;
  std::string addressMap_;
  Json config_;
  std::string replicationPassword_;
  std::string appPassword_;
  std::mutex mu_;
  std::unique_ptr<tst::RedisServer> servers_[kPods];  // GUARDED_BY(mu_)
  std::mutex mapMu_;
  std::atomic<int> servicePort_{1};
  std::atomic<int> primary_{-1};
  std::atomic<bool> sampling_{false};
  std::thread sampler_;
  std::atomic<long> samples_{0}, twoLabelled_{0}, twoMasters_{0};
};

}  // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  printHeader(argc, argv);
  std::printf("failover benchmark: %d kills of the primary's redis-server (SIGKILL) under a "
              "steady write load, replicas: %d, the cluster profile with played Redis\n",
              options.kills, kPods);
  std::fflush(stdout);
  Bench bench(options);
  bench.run();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "failover_bench: %s\n", e.what());
  return 1;
}
