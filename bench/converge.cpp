// What converging costs (issue 7's performance figures). On the `apiserver` control plane
// (etcd + kube-apiserver, with an audit log), the operator binary outside the cluster, and this
// process watching what the operator writes:
//
// 1. Converge latency for one SessionStore: from the create call to the last of the store's six
//    objects (auth Secret, ConfigMap, two Services, StatefulSet, NetworkPolicy) arriving on this
//    process's watches; p50 and p99 over --runs stores made one after the other.
// 2. --stores SessionStores created at once: the time until all their objects have arrived, and
//    the CPU seconds of the operator, kube-apiserver and etcd over that time (/proc/<pid>/stat).
// 3. API requests per SessionStore to converge, from the operator's rest_client_requests_total,
//    against the minimum: the six objects, the finalizer and one status write.
// 4. Steady state: --steady seconds with nothing changing; the writes the operator issues, from
//    its own metrics and from the API server's audit log (create/update/patch/delete by anyone
//    but kube-apiserver itself, which renews its identity Lease; each one is printed).
// 5. The operator's resident memory (VmRSS) idle and with every store and its children cached.
//
// The stores have no Redis: their addresses map to a closed port (--store-address-map), so each
// probe fails at once, the app is not wired, and the figures are those of writing the store's
// objects, as the issue defines converging. Figures only, no assertion on time: the machine is
// shared. It fails when a store never converges.
//
//   converge_bench [--runs 200] [--stores 1000] [--steady 600]
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "control_plane.h"
#include "eventually.h"
#include "http_client.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "process.h"

namespace ss = sessionstore;
using ss::kube::Json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

const std::string kNamespace = "bench";
constexpr int kObjectsPerStore = 6;
// The writes a store needs at least: its six objects, the finalizer and one status.
constexpr int kMinimumWrites = kObjectsPerStore + 2;

struct Options {
  int runs = 200;
  int stores = 1000;
  int steadySeconds = 600;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::stoi(argv[i + 1]);
    if (flag == "--runs") {
      o.runs = value;
    } else if (flag == "--stores") {
      o.stores = value;
    } else if (flag == "--steady") {
      o.steadySeconds = value;
    } else {
      throw std::invalid_argument("unknown flag " + flag);
    }
  }
  return o;
}

std::string procField(int pid, const std::string& file, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key)) return line.substr(key.size());
  }
  return "";
}

double cpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) throw std::runtime_error("cannot read /proc/<pid>/stat");
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  return (std::stod(f.at(11)) + std::stod(f.at(12))) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double rssMiB(int pid) {
  const std::string kb = procField(pid, "status", "VmRSS:");
  return std::stod(kb) / 1024.0;
}

std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one;
}

// Arrival times of the objects the operator writes, from one watch per kind.
class Arrivals {
 public:
  Arrivals(ss::kube::Client& client) : client_(client) {
    for (const auto* resource :
         {&ss::kube::resources::kSecrets, &ss::kube::resources::kConfigMaps,
          &ss::kube::resources::kServices, &ss::kube::resources::kStatefulSets,
          &ss::kube::resources::kNetworkPolicies}) {
      threads_.emplace_back([this, resource] { watch(*resource); });
    }
  }
  ~Arrivals() {
    stop_ = true;
    {
      std::lock_guard lock(mu_);
      for (auto* stream : streams_) stream->cancel();
    }
    for (auto& t : threads_) t.join();
  }

  // When the store's last object arrived, if all have.
  std::optional<Clock::time_point> complete(const std::string& store) {
    std::lock_guard lock(mu_);
    Clock::time_point last{};
    for (const auto& name : {"secret/" + store + "-redis-auth", "configmap/" + store + "-redis-config",
                             "service/" + store + "-redis", "service/" + store + "-redis-headless",
                             "statefulset/" + store + "-redis", "networkpolicy/" + store + "-redis"}) {
      const auto it = seen_.find(name);
      if (it == seen_.end()) return std::nullopt;
      last = std::max(last, it->second);
    }
    return last;
  }

 private:
  void watch(const ss::kube::Resource& resource) {
    std::string kind = resource.kind;
    std::transform(kind.begin(), kind.end(), kind.begin(), [](char c) {
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    std::string version;
    while (!stop_) {
      auto stream = client_.watch(resource, kNamespace,
                                  {.resourceVersion = version, .timeout = std::chrono::seconds(600)});
      if (!stream) {
        std::this_thread::sleep_for(100ms);
        continue;
      }
      {
        std::lock_guard lock(mu_);
        streams_.insert(stream->get());
      }
      while (!stop_) {
        auto event = (*stream)->next();
        if (!event || !event->has_value()) break;
        const auto& object = (**event).object;
        const auto meta = object.find("metadata");
        if (meta == object.end() || !meta->is_object()) continue;
        version = meta->value("resourceVersion", version);
        if ((**event).type != ss::kube::WatchEventType::kAdded) continue;
        const std::string name = meta->value("name", "");
        std::lock_guard lock(mu_);
        seen_.emplace(kind + "/" + name, Clock::now());
      }
      std::lock_guard lock(mu_);
      streams_.erase(stream->get());
    }
  }

  ss::kube::Client& client_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, Clock::time_point> seen_;   // GUARDED_BY(mu_)
  std::set<ss::kube::WatchStream*> streams_;         // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

Json storeObject(const std::string& name) {
  return {{"apiVersion", "sessionstore.io/v1alpha1"},
          {"kind", "SessionStore"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"target", {{"deployment", "app"}, {"service", "app"}}},
            {"store", {{"type", "Managed"}, {"managed", {{"persistence", {{"enabled", false}}}}}}}}}};
}

class Bench {
 public:
  explicit Bench(const Options& options) {
    dir_ = std::filesystem::temp_directory_path() /
           ("sessionstore-converge-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "audit-policy.yaml")
        << "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\n"
           "rules:\n- level: Metadata\n";
    audit_ = (dir_ / "audit.log").string();
    plane_ = ss::testing::ControlPlane::start(
        ss::testing::Profile::kApiServer,
        "--audit-policy-file=" + (dir_ / "audit-policy.yaml").string() + " --audit-log-path=" +
            audit_ + " --audit-log-maxsize=1000" +
            // Each store has a ClusterIP Service: the profile's /24 holds 254 of them.
            " --service-cluster-ip-range=10.0.0.0/16");
    must(plane_->kubectl({"apply", "-f", ss::testing::sourceDir() + "/crds/"}), "the CRD");
    must(plane_->kubectl({"wait", "--for=condition=Established", "--timeout=60s",
                          "crd/sessionstores.sessionstore.io"}),
         "the CRD");
    must(plane_->kubectl({"create", "namespace", kNamespace}), "the namespace");
    must(plane_->kubectl({"-n", kNamespace, "apply", "-f", "-"}, R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec: {containers: [{name: app, image: registry.example/app:1, resources: {requests: {cpu: 500m}}}]}
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {selector: {app: app}, ports: [{port: 80}]}
)"),
         "the target");
    auto config = ss::kube::loadKubeconfig(plane_->kubeconfig());
    if (!config) throw std::runtime_error(config.error().describe());
    auto client = ss::kube::RestClient::connect(*config);
    if (!client) throw std::runtime_error(client.error().describe());
    client_ = std::move(*client);

    // Every store's address maps to a closed port: probes fail at once, without DNS.
    const std::string map = (dir_ / "store-addresses").string();
    {
      std::ofstream out(map);
      for (int i = 0; i < std::max(options.runs, options.stores); ++i) {
        for (const char* prefix : {"c", "m"}) {
          out << prefix << i << "-redis." << kNamespace << ".svc:6379 127.0.0.1:1\n";
        }
      }
    }
    for (const int pid : plane_->pids()) {
      const std::string comm = procField(pid, "status", "Name:\t");
      if (comm == "kube-apiserver") apiserverPid_ = pid;
      if (comm == "etcd") etcdPid_ = pid;
    }
    if (apiserverPid_ == 0 || etcdPid_ == 0) throw std::runtime_error("no apiserver or etcd pid");
    operator_ = std::make_unique<ss::testing::ChildProcess>(
        std::vector<std::string>{OPERATOR_BINARY, "run", "--kubeconfig", plane_->kubeconfig(),
                                 "--leader-elect", "false", "--metrics-bind-address", "127.0.0.1:0",
                                 "--health-probe-bind-address", "127.0.0.1:0", "--namespaces",
                                 kNamespace, "--store-address-map", map, "--log-level", "info"},
        (dir_ / "operator.log").string());
    if (!ss::testing::eventually([&] { return (metricsPort_ = findMetricsPort()) != 0; }, 60s)) {
      fail("the operator never said where it serves /metrics");
    }
    arrivals_ = std::make_unique<Arrivals>(*client_);
  }
  ~Bench() {
    arrivals_.reset();
    operator_.reset();
    plane_.reset();
    std::filesystem::remove_all(dir_);
  }

  [[noreturn]] void fail(const std::string& what) const {
    const std::string log = operator_ ? operator_->output() : "";
    throw std::runtime_error(what + "\n--- operator log tail:\n" +
                             (log.size() > 4000 ? log.substr(log.size() - 4000) : log));
  }
  static void must(const ss::testing::ProcessResult& r, const std::string& what) {
    if (!r.ok()) throw std::runtime_error(what + ": " + r.describe());
  }

  std::uint16_t findMetricsPort() const {
    const std::string log = operator_->output();
    std::smatch m;
    static const std::regex serving("\"msg\":\"serving\".*\"metrics\":\"[^\"]*:([0-9]+)\"");
    if (!std::regex_search(log, m, serving)) return 0;
    return static_cast<std::uint16_t>(std::stoi(m[1].str()));
  }

  // The operator's requests so far: {all, writes}.
  std::pair<long, long> requests() const {
    const auto response = ss::testing::httpExchange(metricsPort_, "GET", "/metrics");
    if (!response || response->status != 200) fail("GET /metrics failed");
    long all = 0, writes = 0;
    static const std::regex sample(
        "^rest_client_requests_total\\{[^}]*method=\"([A-Z]+)\"[^}]*\\} ([0-9.e+]+)$");
    std::istringstream lines(response->body);
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (!std::regex_match(line, m, sample)) continue;
      const long n = std::lround(std::stod(m[2].str()));
      all += n;
      const std::string method = m[1].str();
      if (method != "GET" && method != "WATCH" && method != "LIST") writes += n;
    }
    return {all, writes};
  }

  // Write requests in the audit log after `offset` bytes: {count, new offset}.
  std::pair<long, std::size_t> auditWrites(std::size_t offset) const {
    std::ifstream in(audit_);
    in.seekg(static_cast<std::streamoff>(offset));
    long writes = 0;
    std::string line;
    std::size_t at = offset;
    while (std::getline(in, line)) {
      at += line.size() + 1;
      const Json event = Json::parse(line, nullptr, false);
      if (event.is_discarded() || event.value("stage", "") != "ResponseComplete") continue;
      const std::string verb = event.value("verb", "");
      if (verb != "create" && verb != "update" && verb != "patch" && verb != "delete") continue;
      // kube-apiserver renews its own identity Lease every 10 s: not the operator's doing.
      const Json user = event.value("user", Json::object());
      if (user.value("username", "") == "system:apiserver") continue;
      ++writes;
      const Json ref = event.value("objectRef", Json::object());
      std::fprintf(stderr, "  audit: %s %s %s/%s by %s\n", verb.c_str(),
                   ref.value("resource", "").c_str(), ref.value("namespace", "").c_str(),
                   ref.value("name", "").c_str(), user.value("username", "").c_str());
    }
    return {writes, at};
  }
  std::size_t auditSize() const {
    std::error_code ec;
    const auto size = std::filesystem::file_size(audit_, ec);
    return ec ? 0 : size;
  }

  void create(const std::string& name) {
    auto created = client_->create(ss::kube::resources::kSessionStores, kNamespace, storeObject(name));
    if (!created) fail("creating " + name + ": " + created.error().describe());
  }

  Arrivals& arrivals() { return *arrivals_; }
  int operatorPid() const { return operator_->pid(); }
  int apiserverPid() const { return apiserverPid_; }
  int etcdPid() const { return etcdPid_; }

 private:
  std::filesystem::path dir_;
  std::string audit_;
  std::unique_ptr<ss::testing::ControlPlane> plane_;
  std::unique_ptr<ss::kube::RestClient> client_;
  std::unique_ptr<ss::testing::ChildProcess> operator_;
  std::unique_ptr<Arrivals> arrivals_;
  std::uint16_t metricsPort_ = 0;
  int apiserverPid_ = 0;
  int etcdPid_ = 0;
};

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto at = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values.at(std::min(at, values.size() - 1));
}

}  // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  std::printf("converge benchmark: %d runs one by one, %d stores at once, %d s steady state\n",
              options.runs, options.stores, options.steadySeconds);
  std::printf("machine: %ld cores, load average %s at start\n", ::sysconf(_SC_NPROCESSORS_ONLN),
              loadAverage().c_str());
  Bench bench(options);
  std::this_thread::sleep_for(5s);
  const double idleRss = rssMiB(bench.operatorPid());
  std::printf("operator resident memory, idle: %.1f MiB\n", idleRss);

  // 1. One store at a time.
  std::vector<double> latencies;
  const auto before1 = bench.requests();
  for (int i = 0; i < options.runs; ++i) {
    const std::string name = "c" + std::to_string(i);
    const auto start = Clock::now();
    bench.create(name);
    std::optional<Clock::time_point> done;
    const auto deadline = start + 60s;
    while (!(done = bench.arrivals().complete(name)) && Clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    if (!done) bench.fail("store " + name + " did not converge in 60 s");
    latencies.push_back(std::chrono::duration<double, std::milli>(*done - start).count());
  }
  const auto after1 = bench.requests();
  std::printf("converge latency, one store at a time (%d runs): p50 %.1f ms, p99 %.1f ms, "
              "max %.1f ms (target p50 <= 50 ms)\n",
              options.runs, percentile(latencies, 0.5), percentile(latencies, 0.99),
              percentile(latencies, 1.0));
  std::printf("  operator requests during those runs: %.1f per store (%.1f writes), "
              "minimum %d writes\n",
              static_cast<double>(after1.first - before1.first) / options.runs,
              static_cast<double>(after1.second - before1.second) / options.runs, kMinimumWrites);

  // 2. Many at once.
  std::this_thread::sleep_for(3s);
  const auto before2 = bench.requests();
  const double op0 = cpuSeconds(bench.operatorPid());
  const double api0 = cpuSeconds(bench.apiserverPid());
  const double etcd0 = cpuSeconds(bench.etcdPid());
  const std::string load0 = loadAverage();
  const auto start = Clock::now();
  std::vector<std::thread> creators;
  std::atomic<int> next{0};
  for (int t = 0; t < 4; ++t) {
    creators.emplace_back([&] {
      for (int i; (i = next++) < options.stores;) bench.create("m" + std::to_string(i));
    });
  }
  for (auto& t : creators) t.join();
  const auto created = Clock::now();
  int converged = 0;
  const auto deadline = start + std::chrono::seconds(600);
  while (Clock::now() < deadline) {
    converged = 0;
    for (int i = 0; i < options.stores; ++i) {
      converged += bench.arrivals().complete("m" + std::to_string(i)).has_value();
    }
    if (converged == options.stores) break;
    std::this_thread::sleep_for(100ms);
  }
  if (converged != options.stores) {
    bench.fail(std::to_string(options.stores - converged) + " stores did not converge in 600 s");
  }
  Clock::time_point last{};
  for (int i = 0; i < options.stores; ++i) {
    last = std::max(last, *bench.arrivals().complete("m" + std::to_string(i)));
  }
  const double seconds = std::chrono::duration<double>(last - start).count();
  const double op = cpuSeconds(bench.operatorPid()) - op0;
  const double api = cpuSeconds(bench.apiserverPid()) - api0;
  const double etcd = cpuSeconds(bench.etcdPid()) - etcd0;
  const auto after2 = bench.requests();
  std::printf("%d stores at once: all objects written %.1f s after the first create (creates took "
              "%.1f s; target <= 60 s); load average %s -> %s\n",
              options.stores, seconds, std::chrono::duration<double>(created - start).count(),
              load0.c_str(), loadAverage().c_str());
  std::printf("  CPU seconds: operator %.2f, kube-apiserver %.2f, etcd %.2f; operator / "
              "apiserver = %.2f\n",
              op, api, etcd, api > 0 ? op / api : 0.0);
  std::printf("  operator requests: %.2f per store (%.2f writes); minimum %d writes; "
              "ratio %.2f (target <= 1.5)\n",
              static_cast<double>(after2.first - before2.first) / options.stores,
              static_cast<double>(after2.second - before2.second) / options.stores, kMinimumWrites,
              static_cast<double>(after2.second - before2.second) / options.stores / kMinimumWrites);

  // 3. Steady state.
  std::this_thread::sleep_for(35s);  // past the first resync of every store, as a warm cache
  const double busyRss = rssMiB(bench.operatorPid());
  const auto before3 = bench.requests();
  const std::size_t auditOffset = bench.auditSize();
  std::this_thread::sleep_for(std::chrono::seconds(options.steadySeconds));
  const auto after3 = bench.requests();
  const auto audit = bench.auditWrites(auditOffset);
  std::printf("steady state, %d unchanged stores for %d s: operator writes %ld (its metrics), "
              "writes in the audit log %ld; reads %ld (target 0 writes)\n",
              options.runs + options.stores, options.steadySeconds, after3.second - before3.second,
              audit.first, (after3.first - before3.first) - (after3.second - before3.second));
  std::printf("operator resident memory with %d stores and their children cached: %.1f MiB "
              "(idle %.1f MiB; targets 20 and 64 MiB)\n",
              options.runs + options.stores, busyRss, idleRss);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "converge_bench: %s\n", e.what());
  return 1;
}
