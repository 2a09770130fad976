// How fast autoscaling reacts, and what its polling costs the operator (issue 5's benchmark).
// On the `cluster` control plane, with the operator binary running outside the cluster and this
// process playing the node for Redis (as tests/integration/operator_fixture.h does):
//
// 1. Reaction time. One SessionStore scaling a Deployment on StoreClients (targetPerReplica 10,
//    pollIntervalSeconds 5, replicas 2..6, no stabilization windows). Each run opens 45 real
//    client connections as the app (credentials from the store's connection Secret), measures
//    the time until the Deployment's spec.replicas changes (read every 100 ms through the
//    operator's own kube client), closes them and measures again until replicas are back to 2.
//    The connections are opened (and closed) at evenly spread offsets within a poll interval
//    after the previous change, so the runs sample every phase of the operator's poll schedule
//    rather than always the same one.
// 2. CPU per poll. K autoscaled SessionStores, each with its own Deployment and redis-server,
//    settle; the operator process's CPU time (utime+stime from /proc/<pid>/stat, and the
//    process CPU clock in ns) is read before and after a window with autoscaling on, then again
//    with autoscaling off on all K (the reconciler's resync alone). Polls are counted from the
//    operator's /metrics (each poll lists HorizontalPodAutoscalers and ScaledObjects once, and
//    nothing else in the operator lists), and checked against K x window / interval.
//
// Figures only, no timing assertion: the machine is shared. It fails when a scale never comes.
//
//   autoscale_reaction_bench [--runs 5] [--stores 10] [--window 60]
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
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

namespace ss = sessionstore;
using ss::kube::Json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr int kPollIntervalSeconds = 5;
constexpr int kClients = 45;
const std::string kNamespace = "bench";

struct Options {
  int runs = 5;
  int stores = 10;
  int windowSeconds = 60;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--runs")
      o.runs = std::stoi(value);
    else if (flag == "--stores")
      o.stores = std::stoi(value);
    else if (flag == "--window")
      o.windowSeconds = std::stoi(value);
    else
      throw std::invalid_argument("unknown flag " + flag);
  }
  if (o.runs < 1 || o.stores < 1 || o.windowSeconds < kPollIntervalSeconds) {
    throw std::invalid_argument("--runs and --stores must be >= 1, --window >= 5");
  }
  return o;
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string appYaml(const std::string& name) {
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
        image: registry.example/shop/api:2.0
        resources:
          requests: {cpu: 500m, memory: 128Mi}
          limits: {cpu: "1", memory: 256Mi}
)";
}

std::string storeYaml(const std::string& name) {
  return R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: )" +
         name + R"(}
spec:
  target: {deployment: )" +
         name + R"(}
  store:
    type: Managed
    managed:
      persistence: {enabled: false}
  autoscaling:
    enabled: true
    minReplicas: 2
    maxReplicas: 6
    pollIntervalSeconds: )" +
         std::to_string(kPollIntervalSeconds) + R"(
    behavior:
      scaleUp: {stabilizationWindowSeconds: 0, maxReplicasPerStep: 4}
      scaleDown: {stabilizationWindowSeconds: 0, maxReplicasPerStep: 4}
    metrics:
    - {type: StoreClients, targetPerReplica: 10}
)";
}

// The control plane, the operator process and the redis-servers this process runs for it.
class Bench {
 public:
  Bench() {
    plane_ = ss::testing::ControlPlane::start(ss::testing::Profile::kCluster);
    must(plane_->kubectl({"apply", "-f", ss::testing::sourceDir() + "/crds/"}),
         "installing the CRD");
    must(plane_->waitForCrd("sessionstores.sessionstore.io"), "the CRD");
    must(plane_->kubectl({"create", "namespace", kNamespace}), "the namespace");
    auto config = ss::kube::loadKubeconfig(plane_->kubeconfig());
    if (!config) throw std::runtime_error(config.error().describe());
    auto client = ss::kube::RestClient::connect(*config);
    if (!client) throw std::runtime_error(client.error().describe());
    client_ = std::move(*client);

    addressMap_ = plane_->dir() + "/store-addresses";
    std::ofstream(addressMap_)
        << "# in-cluster address -> where this benchmark's redis-server listens\n";
    // Info, the default level: debug logging would be part of the CPU measured.
    operator_ = std::make_unique<ss::testing::ChildProcess>(
        std::vector<std::string>{OPERATOR_BINARY, "run", "--kubeconfig", plane_->kubeconfig(),
                                 "--leader-elect", "false", "--metrics-bind-address", "127.0.0.1:0",
                                 "--health-probe-bind-address", "127.0.0.1:0",
                                 "--store-address-map", addressMap_, "--log-level", "info"},
        plane_->dir() + "/operator.log");
    if (!ss::testing::eventually(
            [&] {
              metricsPort_ = findMetricsPort();
              return metricsPort_ != 0;
            },
            60s)) {
      fail("the operator never said where it serves /metrics");
    }
  }

  ~Bench() {
    redis_.clear();
    operator_.reset();
    plane_.reset();
  }

  [[noreturn]] void fail(const std::string& what) const {
    const std::string log = operator_ ? operator_->output() : "";
    throw std::runtime_error(what + "\n--- operator log tail:\n" +
                             (log.size() > 4000 ? log.substr(log.size() - 4000) : log));
  }

  void must(const ss::testing::ProcessResult& r, const std::string& what) const {
    if (!r.ok()) throw std::runtime_error(what + ": " + r.describe());
  }

  void apply(const std::string& yaml) {
    must(plane_->kubectl({"-n", kNamespace, "apply", "-f", "-"}, yaml), "kubectl apply");
  }
  ss::testing::ProcessResult kubectl(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", kNamespace});
    return plane_->kubectl(args);
  }

  std::optional<Json> get(const ss::kube::Resource& r, const std::string& name) {
    auto object = client_->get(r, kNamespace, name);
    if (!object) return std::nullopt;
    return *object;
  }

  // spec.replicas of a Deployment; 0 when it cannot be read.
  int replicas(const std::string& deployment) {
    const auto object = get(ss::kube::resources::kDeployments, deployment);
    if (!object) return 0;
    return (*object)["spec"].value("replicas", 0);
  }

  bool conditionIs(const std::string& store, const std::string& type, const std::string& status) {
    const auto object = get(ss::kube::resources::kSessionStores, store);
    if (!object || !object->contains("status")) return false;
    for (const auto& c : (*object)["status"].value("conditions", Json::array())) {
      if (c.value("type", "") == type) return c.value("status", "") == status;
    }
    return false;
  }
  std::string phase(const std::string& store) {
    const auto object = get(ss::kube::resources::kSessionStores, store);
    if (!object || !object->contains("status")) return "";
    return (*object)["status"].value("phase", "");
  }

  // Plays the node: once the operator has made the store's StatefulSet, starts redis-server from
  // the store's ConfigMap and maps the store's in-cluster address to it.
  ss::testing::RedisServer& playNode(const std::string& store) {
    std::optional<Json> config;
    if (!ss::testing::eventually([&] {
          if (!get(ss::kube::resources::kStatefulSets, store + "-redis")) return false;
          config = get(ss::kube::resources::kConfigMaps, store + "-redis-config");
          return config.has_value();
        })) {
      fail("the operator made no StatefulSet and ConfigMap for " + store);
    }
    auto server =
        ss::testing::startFromStoreConfig(*config, plane_->dir() + "/" + store + "-users.acl");
    std::ofstream(addressMap_, std::ios::app)
        << store << "-redis." << kNamespace << ".svc:6379 127.0.0.1:" << server->port() << "\n";
    auto& ref = *server;
    redis_[store] = std::move(server);
    return ref;
  }
  void stopNode(const std::string& store) { redis_.erase(store); }

  // Ready, and AutoscalingActive True (the first poll measured every source).
  void waitMeasured(const std::string& store) {
    if (!ss::testing::eventually([&] { return phase(store) == "Ready"; }, 120s)) {
      fail("SessionStore " + store + " never became Ready (phase \"" + phase(store) + "\")");
    }
    if (!ss::testing::eventually([&] { return conditionIs(store, "AutoscalingActive", "True"); },
                                 120s)) {
      fail("SessionStore " + store + " never had AutoscalingActive True");
    }
  }

  // The app's endpoint for a store, from its connection Secret (REDIS_URL), reached at the
  // redis-server this process runs.
  ss::redisclient::Endpoint appEndpoint(const std::string& store) {
    const auto secret = get(ss::kube::resources::kSecrets, store + "-session-store");
    if (!secret) fail("no connection Secret for " + store);
    const auto url = ss::crypto::base64Decode((*secret)["data"]["REDIS_URL"].get<std::string>());
    if (!url) fail("REDIS_URL is not base64");
    auto endpoint = ss::redisclient::parseRedisUrl(*url);
    if (!endpoint) fail("REDIS_URL: " + endpoint.error());
    endpoint->host = "127.0.0.1";
    endpoint->port = redis_.at(store)->port();
    return *endpoint;
  }

  int operatorPid() const { return operator_->pid(); }

  // rest_client_requests_total summed by method (GET, LIST, PATCH, ...), from /metrics.
  std::map<std::string, double> requestsByMethod() {
    const auto response = ss::testing::httpExchange(metricsPort_, "GET", "/metrics");
    if (!response || response->status != 200) fail("GET /metrics failed");
    std::map<std::string, double> out;
    static const std::regex sample(
        "^rest_client_requests_total\\{[^}]*method=\"([A-Z]+)\"[^}]*\\} ([0-9.e+]+)$");
    std::istringstream lines(response->body);
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (std::regex_match(line, m, sample)) out[m[1].str()] += std::stod(m[2].str());
    }
    return out;
  }

 private:
  std::uint16_t findMetricsPort() const {
    const std::string log = operator_->output();
    const auto at = log.rfind("\"msg\":\"serving\"");
    if (at == std::string::npos) return 0;
    const std::string line = log.substr(at, log.find('\n', at) - at);
    static const std::regex metrics("\"metrics\":\"[^\"]*:([0-9]+)\"");
    std::smatch m;
    if (!std::regex_search(line, m, metrics)) return 0;
    return static_cast<std::uint16_t>(std::stoi(m[1].str()));
  }

  std::unique_ptr<ss::testing::ControlPlane> plane_;
  std::unique_ptr<ss::kube::RestClient> client_;
  std::unique_ptr<ss::testing::ChildProcess> operator_;
  std::string addressMap_;
  std::uint16_t metricsPort_ = 0;
  std::map<std::string, std::unique_ptr<ss::testing::RedisServer>> redis_;
};

// Waits, reading spec.replicas every 100 ms, until `done` says yes; returns the seconds taken
// from `since`, or a negative value after 90 s.
template <typename Done>
double waitReplicas(Bench& bench, const std::string& deployment, Clock::time_point since, Done done,
                    int& seen) {
  while (secondsSince(since) < 90) {
    seen = bench.replicas(deployment);
    if (done(seen)) return secondsSince(since);
    std::this_thread::sleep_for(100ms);
  }
  return -1;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

struct CpuTime {
  double ticksMs = 0;  // utime + stime of /proc/<pid>/stat, in ms (10 ms resolution)
  double clockMs = 0;  // the process CPU clock (every thread, ns resolution)
};

CpuTime cpuTime(int pid) {
  CpuTime out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) throw std::runtime_error("cannot read /proc/<pid>/stat");
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  // f[0] is field 3 (state); utime and stime are fields 14 and 15.
  const double ticks = std::stod(f.at(11)) + std::stod(f.at(12));
  out.ticksMs = ticks * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  clockid_t clock;
  timespec ts{};
  if (::clock_getcpuclockid(pid, &clock) == 0 && ::clock_gettime(clock, &ts) == 0) {
    out.clockMs = static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
  }
  return out;
}

struct Window {
  CpuTime cpu;
  double lists = 0;
  double requests = 0;
  double seconds = 0;
};

Window measure(Bench& bench, int seconds) {
  const auto before = bench.requestsByMethod();
  const CpuTime cpuBefore = cpuTime(bench.operatorPid());
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const CpuTime cpuAfter = cpuTime(bench.operatorPid());
  const double elapsed = secondsSince(start);
  const auto after = bench.requestsByMethod();
  Window w;
  w.cpu = {cpuAfter.ticksMs - cpuBefore.ticksMs, cpuAfter.clockMs - cpuBefore.clockMs};
  w.seconds = elapsed;
  for (const auto& [method, n] : after) {
    const double was = before.contains(method) ? before.at(method) : 0;
    if (method == "LIST") w.lists = n - was;
    if (method != "WATCH") w.requests += n - was;
  }
  // The scrape that ends the window is not a request of the operator's own; /metrics is served,
  // not requested, so nothing to subtract.
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  std::printf("autoscale_reaction: %d runs, %d stores, %d s windows, pollIntervalSeconds %d\n",
              options.runs, options.stores, options.windowSeconds, kPollIntervalSeconds);
  std::fflush(stdout);
  const auto started = Clock::now();
  Bench bench;
  std::printf("control plane and operator up in %.1f s\n", secondsSince(started));

  // 1. Reaction time.
  const std::string name = "react";
  bench.apply(appYaml(name));
  bench.apply(storeYaml(name));
  bench.playNode(name);
  bench.waitMeasured(name);
  if (bench.replicas(name) != 2) bench.fail("replicas are not 2 before the first run");
  const auto endpoint = bench.appEndpoint(name);
  std::printf("\nReaction: StoreClients, targetPerReplica 10, %d clients opened then closed\n",
              kClients);
  // offset + reaction - interval: what the operator adds to the wait for its next poll (the
  // previous change was seen just after the poll that made it, so the next poll is due about
  // one interval after it).
  std::printf("%4s %9s %9s %10s %9s %9s %10s %13s\n", "run", "offset s", "up s", "up/poll",
              "offset s", "down s", "down/poll", "off+react-5");
  std::vector<double> ups, downs;
  for (int run = 0; run < options.runs; ++run) {
    // Offsets spread evenly over one poll interval, in opposite orders up and down.
    const double upOffset = kPollIntervalSeconds * (run + 0.5) / options.runs;
    const double downOffset = kPollIntervalSeconds * (options.runs - run - 0.5) / options.runs;
    std::this_thread::sleep_for(std::chrono::duration<double>(upOffset));
    std::vector<std::unique_ptr<ss::redisclient::Session>> clients;
    for (int i = 0; i < kClients; ++i) {
      auto session = ss::redisclient::Session::open(endpoint);
      if (!session) bench.fail("client " + std::to_string(i) + ": " + session.error());
      clients.push_back(std::move(*session));
    }
    const auto opened = Clock::now();
    int seen = 0;
    const double up = waitReplicas(
        bench, name, opened, [](int r) { return r != 2; }, seen);
    if (up < 0) bench.fail("replicas never changed after opening the clients");
    const int scaledTo = seen;

    std::this_thread::sleep_for(std::chrono::duration<double>(downOffset));
    clients.clear();
    const auto closed = Clock::now();
    const double down = waitReplicas(
        bench, name, closed, [](int r) { return r == 2; }, seen);
    if (down < 0) bench.fail("replicas never came back to 2 after closing the clients");
    std::printf("%4d %9.2f %9.2f %10.2f %9.2f %9.2f %10.2f %6.2f %6.2f   (2 -> %d -> 2)\n", run + 1,
                upOffset, up, up / kPollIntervalSeconds, downOffset, down,
                down / kPollIntervalSeconds, upOffset + up - kPollIntervalSeconds,
                downOffset + down - kPollIntervalSeconds, scaledTo);
    std::fflush(stdout);
    ups.push_back(up);
    downs.push_back(down);
  }
  const double medianUp = median(ups), medianDown = median(downs);
  std::printf("median scale-up   %.2f s = %.2f x pollIntervalSeconds (min %.2f, max %.2f s)\n",
              medianUp, medianUp / kPollIntervalSeconds, *std::min_element(ups.begin(), ups.end()),
              *std::max_element(ups.begin(), ups.end()));
  std::printf("median scale-down %.2f s = %.2f x pollIntervalSeconds (min %.2f, max %.2f s)\n",
              medianDown, medianDown / kPollIntervalSeconds,
              *std::min_element(downs.begin(), downs.end()),
              *std::max_element(downs.begin(), downs.end()));
  std::fflush(stdout);

  // The reaction store goes, so that the windows below see exactly K stores.
  bench.must(bench.kubectl({"delete", "sessionstore", name, "--wait=true", "--timeout=120s"}),
             "deleting " + name);
  bench.must(bench.kubectl({"delete", "deployment", name}), "deleting its Deployment");
  bench.stopNode(name);

  // 2. CPU per poll per SessionStore.
  const int k = options.stores;
  std::printf("\nCPU: %d autoscaled SessionStores (StoreClients, no clients), windows of %d s\n", k,
              options.windowSeconds);
  const auto creating = Clock::now();
  for (int i = 0; i < k; ++i) {
    const std::string store = "cpu-" + std::to_string(i);
    bench.apply(appYaml(store));
    bench.apply(storeYaml(store));
  }
  for (int i = 0; i < k; ++i) bench.playNode("cpu-" + std::to_string(i));
  for (int i = 0; i < k; ++i) bench.waitMeasured("cpu-" + std::to_string(i));
  std::printf("%d stores Ready and measured in %.1f s; settling %d s\n", k, secondsSince(creating),
              3 * kPollIntervalSeconds);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(3 * kPollIntervalSeconds));

  const Window on = measure(bench, options.windowSeconds);

  for (int i = 0; i < k; ++i) {
    bench.must(bench.kubectl({"patch", "sessionstore", "cpu-" + std::to_string(i), "--type=merge",
                              "-p", R"({"spec":{"autoscaling":{"enabled":false}}})"}),
               "disabling autoscaling");
  }
  // Each store's next poll sees autoscaling off and stops; then the reconciles settle.
  std::this_thread::sleep_for(std::chrono::seconds(3 * kPollIntervalSeconds));
  const Window off = measure(bench, options.windowSeconds);

  const double expectedPolls = k * on.seconds / kPollIntervalSeconds;
  const double polls = on.lists / 2;  // each poll lists HPAs and ScaledObjects
  std::printf("%-22s %10s %10s %10s %10s %14s\n", "window", "seconds", "CPU ms", "(ticks ms)",
              "polls", "requests");
  std::printf("%-22s %10.1f %10.1f %10.0f %10.0f %14.0f\n", "autoscaling on", on.seconds,
              on.cpu.clockMs, on.cpu.ticksMs, polls, on.requests);
  std::printf("%-22s %10.1f %10.1f %10.0f %10.0f %14.0f\n", "autoscaling off", off.seconds,
              off.cpu.clockMs, off.cpu.ticksMs, off.lists / 2, off.requests);
  std::printf("polls counted %.0f, expected K x window / interval = %.0f\n", polls, expectedPolls);
  const double perPoll = polls > 0 ? (on.cpu.clockMs - off.cpu.clockMs) / polls : 0;
  const double perPollTicks = polls > 0 ? (on.cpu.ticksMs - off.cpu.ticksMs) / polls : 0;
  std::printf("operator CPU per poll per SessionStore: %.2f ms (from /proc stat ticks: %.2f ms)\n",
              perPoll, perPollTicks);
  std::printf("API requests per poll: %.1f\n",
              polls > 0 ? (on.requests - off.requests) / polls : 0.0);
  std::printf(
      "operator CPU per SessionStore: %.2f ms/s with autoscaling, %.2f ms/s without "
      "(%.2f%% and %.2f%% of one core)\n",
      on.cpu.clockMs / (k * on.seconds), off.cpu.clockMs / (k * off.seconds),
      on.cpu.clockMs / (k * on.seconds) / 10, off.cpu.clockMs / (k * off.seconds) / 10);
  std::printf("\nOK in %.0f s\n", secondsSince(started));
  return 0;
}
