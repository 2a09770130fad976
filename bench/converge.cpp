// What converging costs (issue 7's performance figures). On the `apiserver` control plane
// (etcd + kube-apiserver, with an audit log), the operator binary outside the cluster as its own
// ServiceAccount (the RBAC of manifests/), and this process watching what the operator writes.
// Each SessionStore <s> has its own target, Deployment and Service <s>-app, made beforehand.
//
// 1. Converge latency for one SessionStore: from the create call's return to the last of the
//    store's six objects (password Secret, ConfigMap, headless and client Services, StatefulSet,
//    NetworkPolicy: what reconcile/ and redis/ write for a managed store) arriving on this
//    process's watches (local receive time); p50 and p99 over --runs stores made one after the
//    other. Also to the first status write, which ends the reconcile.
// 2. --stores SessionStores created at once (4 threads): the time until all their objects have
//    arrived, and the CPU seconds of the operator, kube-apiserver and etcd over that time
//    (utime + stime from /proc/<pid>/stat).
// 3. API requests per SessionStore to converge: the operator's requests in the audit log that name
//    the store, its objects, its target or its Events, from its create up to its first status
//    write; against the minimum, the objects it must write with no Redis answering: the six
//    above, the affinity on the target Service (ClientIP until the store is ready), the finalizer
//    and the status (9). The connection Secret and the Deployment's wiring come only once the
//    store answers, so they are not part of it here. The operator's rest_client_requests_total
//    over the same window is printed beside it.
// 4. The stores made Ready (issue 17: at rest means converged with the probes included): one
//    real redis-server stands for every store's Redis (bench_support.h's SharedRedis): each
//    store's app and monitor passwords, read from its password Secret, are added to the server's
//    users `app` and `monitor` (a Redis user holds many passwords; the permissions of the ACL file
//    the operator renders, on every key), then the address map sends every store there. The
//    operator then wires each app (connection Secret, the Deployment's env) and sets the affinity
//    to None. The time until every store's phase is Ready is printed (not a target).
// 5. At rest: --steady seconds with nothing changing, after --settle seconds; the writes the
//    operator issues, from its own metrics and from the audit log (create/update/patch/delete by
//    its ServiceAccount at ResponseComplete; every write by anyone but kube-apiserver is
//    printed), its reads, its API requests a second from the audit log (watches opened
//    included), the CPU of the three processes, the operator's resident memory sampled every
//    second (first, last, min, max), and the connections the shared Redis holds.
// 6. The operator's resident memory (VmRSS) idle and with every store Ready.
//
// Parts 1 to 3 have no Redis: the stores' addresses map to a closed port (--store-address-map),
// so each probe fails at once, the app is not wired, and the figures are those of writing the
// store's objects, as issue 7 defines converging. Figures only, no assertion on time: the machine
// is shared; each target is printed as met or missed beside its figure. It fails when a store
// never converges or never becomes Ready.
//
//   converge_bench [--runs 200] [--stores 1000] [--steady 600] [--settle 30] [--keep]
// (1,200 stores at rest for 600 s: --runs 200 --stores 1000.)
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <ctime>
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

#include "bench_support.h"
#include "control_plane.h"
#include "eventually.h"
#include "http_client.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "process.h"
#include "service_account.h"

namespace ss = sessionstore;
using ss::kube::Json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

const std::string kNamespace = "bench";
// Who the operator is in the audit log (its ServiceAccount, see operatorKubeconfig).
const std::string kOperatorUser = "system:serviceaccount:sessionstore-system:sessionstore-operator";
constexpr int kObjectsPerStore = 6;
// The writes a store needs at least, with no Redis answering: its six objects, the affinity on
// its target Service (ClientIP while the store is not ready), the finalizer and one status.
constexpr int kMinimumWrites = kObjectsPerStore + 3;

struct Options {
  int runs = 200;
  int stores = 1000;
  int steadySeconds = 600;
  int settleSeconds = 30;  // between the last store converged and the steady-state window
  bool keep = false;  // keep the folder (audit log, operator log) for a look afterwards
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--keep") {
      o.keep = true;
      --i;
      continue;
    }
    if (i + 1 == argc) throw std::invalid_argument("flag " + flag + " needs a value");
    const int value = std::stoi(argv[i + 1]);
    if (flag == "--runs") {
      o.runs = value;
    } else if (flag == "--stores") {
      o.stores = value;
    } else if (flag == "--steady") {
      o.steadySeconds = value;
    } else if (flag == "--settle") {
      o.settleSeconds = value;
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

// VmRSS (resident now) or VmHWM (the peak) of a process, MiB.
double rssMiB(int pid, const std::string& field = "VmRSS:") {
  const std::string kb = procField(pid, "status", field);
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
          &ss::kube::resources::kNetworkPolicies, &ss::kube::resources::kSessionStores}) {
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
  // When the store's status was first seen written.
  // How many stores were last seen in this phase.
  int inPhase(const std::string& phase) {
    std::lock_guard lock(mu_);
    return static_cast<int>(std::count_if(phases_.begin(), phases_.end(),
                                          [&](const auto& p) { return p.second == phase; }));
  }
  std::optional<Clock::time_point> statusWritten(const std::string& store) {
    std::lock_guard lock(mu_);
    const auto it = seen_.find("status/" + store);
    if (it == seen_.end()) return std::nullopt;
    return it->second;
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
        const std::string name = meta->value("name", "");
        if (kind == "sessionstore") {
          // The operator's first status write ends its first reconcile of the store.
          if (!object.contains("status")) continue;
          std::lock_guard lock(mu_);
          seen_.emplace("status/" + name, Clock::now());
          phases_[name] = object["status"].is_object() ? object["status"].value("phase", "") : "";
          continue;
        }
        if ((**event).type != ss::kube::WatchEventType::kAdded) continue;
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
  std::map<std::string, std::string> phases_;        // GUARDED_BY(mu_): store -> phase
  std::set<ss::kube::WatchStream*> streams_;         // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

Json storeObject(const std::string& name) {
  return {{"apiVersion", "sessionstore.io/v1alpha1"},
          {"kind", "SessionStore"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"target", {{"deployment", name + "-app"}, {"service", name + "-app"}}},
            {"store", {{"type", "Managed"}, {"managed", {{"persistence", {{"enabled", false}}}}}}}}}};
}

// The store's target, as tests/integration/operator_fixture.h's deploymentYaml/serviceYaml.
Json targetDeployment(const std::string& name) {
  const Json labels = {{"app", name}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"replicas", 2},
            {"selector", {{"matchLabels", labels}}},
            {"template",
             {{"metadata", {{"labels", labels}}},
              {"spec",
               {{"containers",
                 Json::array({{{"name", "app"},
                               {"image", "registry.example/shop/web:1.4"},
                               {"resources",
                                {{"requests", {{"cpu", "500m"}, {"memory", "128Mi"}}},
                                 {"limits", {{"cpu", "2"}, {"memory", "256Mi"}}}}}}})}}}}}}}};
}
Json targetService(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"selector", {{"app", name}}},
            {"ports", Json::array({{{"port", 80}, {"targetPort", 8080}}})}}}};
}

// The store an object of the benchmark's belongs to: "m12" for m12, m12-redis-auth, m12-app and
// the Event m12.17f3...; empty for anything else.
std::string storeOf(const std::string& name) {
  const auto end = name.find_first_of(".-");
  const std::string store = name.substr(0, end);
  if (store.size() < 2 || (store[0] != 'c' && store[0] != 'm')) return "";
  if (store.find_first_not_of("0123456789", 1) != std::string::npos) return "";
  return store;
}

// What the operator asked of the API server for one store, from its create up to and including
// its first status write (the end of the reconcile that converged it).
struct StoreRequests {
  int requests = 0;
  int writes = 0;   // create/update/patch/delete, Events included
  int events = 0;   // Event creates and patches
  bool done = false;
  double doneAt = 0;   // when the first status write was received (seconds since the epoch)
  int readsAfter = 0;  // reads in the second after it (a store that waits is looked at after 3 s)
};

// Seconds since the epoch of a MicroTime ("2026-11-22T11:05:01.123456Z"); 0 if unreadable.
double seconds(const std::string& microTime) {
  std::tm tm{};
  const char* rest = ::strptime(microTime.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return 0;
  double fraction = 0;
  if (*rest == '.') fraction = std::strtod(rest, nullptr);
  return static_cast<double>(::timegm(&tm)) + fraction;
}

// The audit log's time format (metav1.MicroTime, UTC).
std::string microTime(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", std::gmtime(&seconds));
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", text, static_cast<long long>(micros % 1000000));
  return out;
}

class Bench {
 public:
  explicit Bench(const Options& options) : keep_(options.keep) {
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
    must(plane_->waitForCrd("sessionstores.sessionstore.io"), "the CRD");
    must(plane_->kubectl({"create", "namespace", kNamespace}), "the namespace");
    auto config = ss::kube::loadKubeconfig(plane_->kubeconfig());
    if (!config) throw std::runtime_error(config.error().describe());
    apiserverPort_ = std::stoi(config->server.substr(config->server.rfind(':') + 1));
    auto client = ss::kube::RestClient::connect(*config);
    if (!client) throw std::runtime_error(client.error().describe());
    client_ = std::move(*client);

    // The operator runs as its own ServiceAccount (the RBAC of manifests/), so that its requests
    // are told apart from this process's in the audit log.
    const std::string operatorKubeconfig = ss::testing::operatorKubeconfig(*plane_);
    // Every store's address maps to a closed port: probes fail at once, without DNS.
    const std::string map = (dir_ / "store-addresses").string();
    map_ = map;
    {
      std::map<std::string, std::string> entries;
      for (const auto& store : storeNames(options)) entries[address(store)] = "127.0.0.1:1";
      bench::writeAddressMap(map_, entries);
    }
    for (const int pid : plane_->pids()) {
      const std::string comm = procField(pid, "status", "Name:\t");
      if (comm == "kube-apiserver") apiserverPid_ = pid;
      if (comm == "etcd") etcdPid_ = pid;
    }
    if (apiserverPid_ == 0 || etcdPid_ == 0) throw std::runtime_error("no apiserver or etcd pid");
    operator_ = std::make_unique<ss::testing::ChildProcess>(
        std::vector<std::string>{OPERATOR_BINARY, "run", "--kubeconfig", operatorKubeconfig,
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
    redis_.reset();
    arrivals_.reset();
    operator_.reset();
    plane_.reset();
    if (keep_) {
      std::printf("kept %s (audit.log, operator.log)\n", dir_.c_str());
    } else {
      std::filesystem::remove_all(dir_);
    }
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

  // The operator's heap figures, MiB: sessionstore_heap_allocated_bytes (what it has allocated
  // and not freed, as its allocator counts) and sessionstore_heap_resident_bytes (the allocator's
  // pages in memory); nullopt when it does not publish them (a sanitizer build).
  struct Heap {
    double allocated = 0;
    double resident = 0;
  };
  std::optional<Heap> heapMiB() const {
    const auto response = ss::testing::httpExchange(metricsPort_, "GET", "/metrics");
    if (!response || response->status != 200) fail("GET /metrics failed");
    static const std::regex sample("^sessionstore_heap_(allocated|resident)_bytes ([0-9.e+]+)$");
    std::istringstream lines(response->body);
    std::optional<double> allocated, resident;
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (!std::regex_match(line, m, sample)) continue;
      (m[1].str() == "allocated" ? allocated : resident) = std::stod(m[2].str()) / (1 << 20);
    }
    if (!allocated || !resident) return std::nullopt;
    return Heap{*allocated, *resident};
  }

  // The requests the audit log holds after `offset` bytes (ResponseComplete stage).
  struct AuditCount {
    long operatorRequests = 0;  // by the operator's ServiceAccount, watches left out
    long operatorWrites = 0;    // of those, create/update/patch/delete
    long otherWrites = 0;       // by anyone else but kube-apiserver itself
    long operatorWatches = 0;   // watches the operator opened (their ResponseStarted)
    std::size_t end = 0;        // the offset read up to
  };
  // Only requests received within [from, to) (wall clock, as the audit log's
  // requestReceivedTimestamp) are counted.
  AuditCount audit(std::size_t offset, std::chrono::system_clock::time_point from,
                   std::chrono::system_clock::time_point to, bool printWrites) const {
    std::ifstream in(audit_);
    in.seekg(static_cast<std::streamoff>(offset));
    AuditCount count{.end = offset};
    const std::string first = microTime(from), end = microTime(to);
    for (std::string line; std::getline(in, line);) {
      count.end += line.size() + 1;
      const Json event = Json::parse(line, nullptr, false);
      if (event.is_discarded()) continue;
      if (event.value("stage", "") == "ResponseStarted" && event.value("verb", "") == "watch" &&
          event.value("user", Json::object()).value("username", "") == kOperatorUser) {
        const std::string received = event.value("requestReceivedTimestamp", "");
        if (received >= first && received < end) ++count.operatorWatches;
        continue;
      }
      if (event.value("stage", "") != "ResponseComplete") continue;
      // MicroTime, always "YYYY-MM-DDTHH:MM:SS.uuuuuuZ": ordered as strings.
      const std::string received = event.value("requestReceivedTimestamp", "");
      if (received < first || received >= end) continue;
      const std::string verb = event.value("verb", "");
      const bool write = verb == "create" || verb == "update" || verb == "patch" || verb == "delete";
      const Json user = event.value("user", Json::object());
      const std::string username = user.value("username", "");
      if (username == kOperatorUser) {
        if (verb != "watch") ++count.operatorRequests;
        if (write) ++count.operatorWrites;
        // At rest, each read is a finding: say what it was (the first 40).
        if (!write && verb != "watch" && printWrites && count.operatorRequests <= 40) {
          const Json ref = event.value("objectRef", Json::object());
          std::fprintf(stderr, "  audit: %s %s %s/%s by the operator\n", verb.c_str(),
                       ref.value("resource", "").c_str(), ref.value("namespace", "").c_str(),
                       ref.value("name", "").c_str());
        }
      } else if (write && username != "system:apiserver") {
        // (kube-apiserver renews its own identity Lease every 10 s.)
        ++count.otherWrites;
      }
      if (write && printWrites && username != "system:apiserver") {
        const Json ref = event.value("objectRef", Json::object());
        std::fprintf(stderr, "  audit: %s %s %s/%s by %s\n", verb.c_str(),
                     ref.value("resource", "").c_str(), ref.value("namespace", "").c_str(),
                     ref.value("name", "").c_str(), username.c_str());
      }
    }
    return count;
  }
  // The user agents of the operator's requests in the audit log between two offsets, counted.
  std::map<std::string, long> operatorUserAgents(std::size_t from, std::size_t to) const {
    std::ifstream in(audit_);
    in.seekg(static_cast<std::streamoff>(from));
    std::map<std::string, long> out;
    std::size_t at = from;
    for (std::string line; at < to && std::getline(in, line);) {
      at += line.size() + 1;
      const Json event = Json::parse(line, nullptr, false);
      if (event.is_discarded() || event.value("stage", "") != "ResponseComplete") continue;
      if (event.value("user", Json::object()).value("username", "") != kOperatorUser) continue;
      ++out[event.value("userAgent", "(none)")];
    }
    return out;
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
  // The store's target Deployment and Service, <name>-app.
  void createTarget(const std::string& name) {
    auto deployment = client_->create(ss::kube::resources::kDeployments, kNamespace,
                                      targetDeployment(name + "-app"));
    if (!deployment) fail("creating Deployment " + name + "-app: " + deployment.error().describe());
    auto service =
        client_->create(ss::kube::resources::kServices, kNamespace, targetService(name + "-app"));
    if (!service) fail("creating Service " + name + "-app: " + service.error().describe());
  }

  // Where one store's converge time goes, from the audit log (server clock, microseconds): from
  // the create's response to the operator's first request about the store (the watch, the
  // informer, the queue), then the operator's requests up to the last of its objects: how many,
  // and how much of that time was spent inside the API server.
  struct PathTiming {
    double toFirstRequestMs = 0;
    double firstToLastObjectMs = 0;
    double insideServerMs = 0;
    int requests = 0;
  };
  std::map<std::string, PathTiming> criticalPaths(std::size_t offset, char prefix) const {
    struct Request {
      double received, completed;
      std::string verb, resource, name, username;
    };
    std::map<std::string, std::vector<Request>> byStore;
    std::ifstream in(audit_);
    in.seekg(static_cast<std::streamoff>(offset));
    for (std::string line; std::getline(in, line);) {
      const Json event = Json::parse(line, nullptr, false);
      if (event.is_discarded() || event.value("stage", "") != "ResponseComplete") continue;
      const Json ref = event.value("objectRef", Json::object());
      const std::string name = ref.value("name", "");
      const std::string store = storeOf(name);
      if (store.empty() || store[0] != prefix) continue;
      const Json user = event.value("user", Json::object());
      byStore[store].push_back({seconds(event.value("requestReceivedTimestamp", "")),
                                seconds(event.value("stageTimestamp", "")),
                                event.value("verb", ""), ref.value("resource", ""), name,
                                user.value("username", "")});
    }
    std::map<std::string, PathTiming> out;
    for (auto& [store, requests] : byStore) {
      std::sort(requests.begin(), requests.end(),
                [](const Request& a, const Request& b) { return a.received < b.received; });
      // The last of the store's objects is the last written before the first status write
      // (they are written side by side: which one is last varies).
      static const std::set<std::string> kStoreObjects = {
          "secrets", "configmaps", "services", "networkpolicies", "statefulsets"};
      double created = -1, first = -1, last = -1;
      for (const auto& r : requests) {
        if (r.resource == "sessionstores" && r.verb == "create" && r.username != kOperatorUser) {
          created = r.completed;
        }
        if (r.username != kOperatorUser || r.verb == "watch" || created < 0) continue;
        if (first < 0) first = r.received;
        if (r.resource == "sessionstores" && r.verb == "update") break;  // the status
        if (kStoreObjects.contains(r.resource) && r.verb != "get" &&
            r.name.find("-redis") != std::string::npos) {
          last = std::max(last, r.completed);
        }
      }
      if (created < 0 || first < 0 || last < 0) continue;
      PathTiming t{.toFirstRequestMs = 1000 * (first - created),
                   .firstToLastObjectMs = 1000 * (last - first)};
      // Requests side by side overlap: the time inside the server is that of their union.
      double coveredUpTo = first;
      for (const auto& r : requests) {  // by the time they were received
        if (r.username != kOperatorUser || r.received < first || r.completed > last) continue;
        if (r.resource == "events") continue;  // sent by the recorder's own thread
        ++t.requests;
        const double from = std::max(r.received, coveredUpTo);
        if (r.completed > from) t.insideServerMs += 1000 * (r.completed - from);
        coveredUpTo = std::max(coveredUpTo, r.completed);
      }
      out[store] = t;
    }
    return out;
  }

  // The operator's requests in the audit log after `offset`, by store (see StoreRequests).
  std::map<std::string, StoreRequests> requestsByStore(std::size_t offset) const {
    std::ifstream in(audit_);
    in.seekg(static_cast<std::streamoff>(offset));
    std::map<std::string, StoreRequests> out;
    for (std::string line; std::getline(in, line);) {
      const Json event = Json::parse(line, nullptr, false);
      if (event.is_discarded() || event.value("stage", "") != "ResponseComplete") continue;
      const std::string verb = event.value("verb", "");
      if (verb == "watch" || verb == "list") continue;
      const Json user = event.value("user", Json::object());
      if (user.value("username", "") != kOperatorUser) continue;
      const Json ref = event.value("objectRef", Json::object());
      const std::string store = storeOf(ref.value("name", ""));
      if (store.empty()) continue;
      StoreRequests& r = out[store];
      const double received = seconds(event.value("requestReceivedTimestamp", ""));
      if (r.done) {
        if (verb == "get" && received - r.doneAt < 1.0) ++r.readsAfter;
        continue;
      }
      ++r.requests;
      const bool write = verb == "create" || verb == "update" || verb == "patch" || verb == "delete";
      if (write) ++r.writes;
      if (ref.value("resource", "") == "events") ++r.events;
      if (ref.value("resource", "") == "sessionstores" && ref.value("subresource", "") == "status" &&
          write) {
        r.done = true;
        r.doneAt = received;
      }
    }
    return out;
  }

  static std::vector<std::string> storeNames(const Options& options) {
    std::vector<std::string> names;
    for (int i = 0; i < options.runs; ++i) names.push_back("c" + std::to_string(i));
    for (int i = 0; i < options.stores; ++i) names.push_back("m" + std::to_string(i));
    return names;
  }
  static std::string address(const std::string& store) {
    return store + "-redis." + kNamespace + ".svc:6379";
  }
  // Part 4: one redis-server for every store, fed their passwords as their Secrets are seen.
  bench::SharedRedis& startRedis() {
    redis_ = std::make_unique<bench::SharedRedis>(*client_, kNamespace, dir_ / "redis");
    return *redis_;
  }
  // Every store's address to the shared redis-server.
  void mapStoresToRedis(const Options& options) {
    std::map<std::string, std::string> entries;
    for (const auto& store : storeNames(options)) {
      entries[address(store)] = "127.0.0.1:" + std::to_string(redis_->port());
    }
    bench::writeAddressMap(map_, entries);
  }
  bench::SharedRedis* redis() { return redis_.get(); }

  Arrivals& arrivals() { return *arrivals_; }
  int operatorPid() const { return operator_->pid(); }
  // Waits until the operator's connections to the API server have held still for 65 s (at
  // most `longest`): cpprestsdk closes a pooled connection once it went unused through a whole
  // 30 s epoch of its pool, so the connections a burst opened go within about a minute, and
  // with them the memory each holds (its own TLS context and buffers). Returns the seconds
  // waited and the connections left (the watches, and any request under way).
  std::pair<double, int> waitForConnectionsToSettle(std::chrono::seconds longest) const {
    const auto begun = Clock::now();
    int count = bench::connectionsTo(operatorPid(), apiserverPort_);
    auto since = begun;
    while (Clock::now() - since < 65s && Clock::now() - begun < longest) {
      std::this_thread::sleep_for(1s);
      const int now = bench::connectionsTo(operatorPid(), apiserverPort_);
      if (now != count) {
        count = now;
        since = Clock::now();
      }
    }
    return {std::chrono::duration<double>(Clock::now() - begun).count(), count};
  }
  int apiserverPid() const { return apiserverPid_; }
  int etcdPid() const { return etcdPid_; }

 private:
  bool keep_ = false;
  std::filesystem::path dir_;
  std::string audit_;
  std::unique_ptr<ss::testing::ControlPlane> plane_;
  std::unique_ptr<ss::kube::RestClient> client_;
  std::unique_ptr<ss::testing::ChildProcess> operator_;
  std::unique_ptr<Arrivals> arrivals_;
  std::unique_ptr<bench::SharedRedis> redis_;
  std::filesystem::path map_;
  std::uint16_t metricsPort_ = 0;
  int apiserverPort_ = 0;
  int apiserverPid_ = 0;
  int etcdPid_ = 0;
};

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto at = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values.at(std::min(at, values.size() - 1));
}

struct Cpu {
  double op, api, etcd;
};

// Prints the requests per store to converge, from the audit log, against the minimum.
// Returns all requests per store over the minimum (0 when none could be counted).
double printRequests(const std::map<std::string, StoreRequests>& byStore, char prefix, int stores) {
  long requests = 0, writes = 0, events = 0, readsAfter = 0;
  int counted = 0;
  std::vector<double> each;
  for (const auto& [store, r] : byStore) {
    if (store[0] != prefix || !r.done) continue;
    ++counted;
    requests += r.requests;
    writes += r.writes;
    events += r.events;
    readsAfter += r.readsAfter;
    each.push_back(r.requests);
  }
  if (counted == 0) {
    std::printf("  audit log: no store of this phase has its status write logged\n");
    return 0;
  }
  const double n = counted;
  std::printf("  requests per store to converge (audit log, create to first status write, %d of %d "
              "stores): %.1f (%.1f writes, of which %.1f Events; %.1f reads); min %.0f, max %.0f\n",
              counted, stores, static_cast<double>(requests) / n, static_cast<double>(writes) / n,
              static_cast<double>(events) / n, static_cast<double>(requests - writes) / n,
              percentile(each, 0.0), percentile(each, 1.0));
  std::printf("  against the minimum of %d writes: all requests %.2fx, without Events %.2fx, "
              "writes alone %.2fx (target <= 1.5x)\n",
              kMinimumWrites, static_cast<double>(requests) / n / kMinimumWrites,
              static_cast<double>(requests - events) / n / kMinimumWrites,
              static_cast<double>(writes - events) / n / kMinimumWrites);
  std::printf("  reads per store in the second after its first status write (a pass for the "
              "operator's own writes coming back on its watch): %.1f\n",
              static_cast<double>(readsAfter) / n);
  return static_cast<double>(requests) / n / kMinimumWrites;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  bench::printHeader(argc, argv);
  bench::raiseOpenFilesLimit();
  std::printf("converge benchmark: %d runs one by one, %d stores at once, %d s at rest with all "
              "%d Ready\n",
              options.runs, options.stores, options.steadySeconds, options.runs + options.stores);
  const auto begun = Clock::now();
  Bench bench(options);
  // Every store's target Deployment and Service first (the operator does not watch them).
  {
    std::vector<std::thread> creators;
    std::atomic<int> next{0};
    const int total = options.runs + options.stores;
    for (int t = 0; t < 4; ++t) {
      creators.emplace_back([&] {
        for (int i; (i = next++) < total;) {
          bench.createTarget(i < options.runs ? "c" + std::to_string(i)
                                              : "m" + std::to_string(i - options.runs));
        }
      });
    }
    for (auto& t : creators) t.join();
  }
  // Idle: once the connections of the start (each informer's first list) are closed.
  const auto [idleWait, idleConnections] = bench.waitForConnectionsToSettle(180s);
  const double idleRss = rssMiB(bench.operatorPid());
  std::printf("operator resident memory, idle (no SessionStore, %.0f s after start, its "
              "connections to the API server settled at %d after %.0f s): %.1f MiB (target <= 20 "
              "MiB)\n",
              std::chrono::duration<double>(Clock::now() - begun).count(), idleConnections,
              idleWait, idleRss);
  const auto cpu = [&] {
    return Cpu{cpuSeconds(bench.operatorPid()), cpuSeconds(bench.apiserverPid()),
               cpuSeconds(bench.etcdPid())};
  };

  // 1. One store at a time: each created 100 ms after the previous one's status was written (the
  // operator looks at a store once more right after its own writes come back on its watch).
  std::printf("\n1. converge latency, one store at a time: load average %s before\n",
              loadAverage().c_str());
  std::vector<double> latencies, statusLatencies;
  const std::size_t audit1 = bench.auditSize();
  for (int i = 0; i < options.runs; ++i) {
    const std::string name = "c" + std::to_string(i);
    const auto start = Clock::now();
    bench.create(name);
    std::optional<Clock::time_point> done, status;
    const auto deadline = start + 60s;
    while (!((done = bench.arrivals().complete(name)) &&
             (status = bench.arrivals().statusWritten(name))) &&
           Clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    if (!done || !status) bench.fail("store " + name + " did not converge in 60 s");
    latencies.push_back(std::chrono::duration<double, std::milli>(*done - start).count());
    statusLatencies.push_back(std::chrono::duration<double, std::milli>(*status - start).count());
    std::this_thread::sleep_for(100ms);
  }
  std::printf("  create to the last of the %d store objects: p50 %.1f ms, p99 %.1f ms, min %.1f, "
              "max %.1f ms over %d runs (target p50 <= 30 ms; issue 7's 50 ms)\n",
              kObjectsPerStore, percentile(latencies, 0.5), percentile(latencies, 0.99),
              percentile(latencies, 0.0), percentile(latencies, 1.0), options.runs);
  std::printf("  create to the first status write: p50 %.1f ms, p99 %.1f ms\n",
              percentile(statusLatencies, 0.5), percentile(statusLatencies, 0.99));
  std::printf("  load average %s after\n", loadAverage().c_str());
  std::this_thread::sleep_for(2s);
  printRequests(bench.requestsByStore(audit1), 'c', options.runs);
  {
    std::vector<double> toFirst, path, inside, operatorSide, requests;
    for (const auto& [store, t] : bench.criticalPaths(audit1, 'c')) {
      toFirst.push_back(t.toFirstRequestMs);
      path.push_back(t.firstToLastObjectMs);
      inside.push_back(t.insideServerMs);
      operatorSide.push_back(t.firstToLastObjectMs - t.insideServerMs);
      requests.push_back(t.requests);
    }
    if (!path.empty()) {
      std::printf("  where the time goes (audit log, server clock; medians over %zu stores): create "
                  "answered to the operator's first request %.1f ms; then %.0f requests, some "
                  "side by side, up to the last store object, %.1f ms, of which %.1f ms with one "
                  "inside the API server and %.1f ms with none (the operator and the way)\n",
                  path.size(), percentile(toFirst, 0.5), percentile(requests, 0.5),
                  percentile(path, 0.5), percentile(inside, 0.5), percentile(operatorSide, 0.5));
    }
  }

  // 2. Many at once.
  std::this_thread::sleep_for(3s);
  std::printf("\n2. %d stores created at once (4 threads): load average %s before\n",
              options.stores, loadAverage().c_str());
  const std::size_t audit2 = bench.auditSize();
  const auto before2 = bench.requests();
  const Cpu cpu0 = cpu();
  const auto start = Clock::now();
  std::vector<Clock::time_point> createdAt(static_cast<std::size_t>(options.stores));
  {
    std::vector<std::thread> creators;
    std::atomic<int> next{0};
    for (int t = 0; t < 4; ++t) {
      creators.emplace_back([&] {
        for (int i; (i = next++) < options.stores;) {
          bench.create("m" + std::to_string(i));
          createdAt[static_cast<std::size_t>(i)] = Clock::now();
        }
      });
    }
    for (auto& t : creators) t.join();
  }
  const auto created = Clock::now();
  int converged = 0;
  const auto deadline = start + std::chrono::seconds(600);
  while (Clock::now() < deadline) {
    converged = 0;
    for (int i = 0; i < options.stores; ++i) {
      converged += bench.arrivals().complete("m" + std::to_string(i)).has_value();
    }
    if (converged == options.stores) break;
    std::this_thread::sleep_for(50ms);
  }
  if (converged != options.stores) {
    bench.fail(std::to_string(options.stores - converged) + " stores did not converge in 600 s");
  }
  const Cpu cpu1 = cpu();
  const auto after2 = bench.requests();
  Clock::time_point last{};
  std::vector<double> each;
  for (int i = 0; i < options.stores; ++i) {
    const auto done = *bench.arrivals().complete("m" + std::to_string(i));
    last = std::max(last, done);
    each.push_back(std::chrono::duration<double>(done - createdAt[static_cast<std::size_t>(i)])
                       .count());
  }
  const double seconds = std::chrono::duration<double>(last - start).count();
  std::printf("  all objects of all %d stores written %.2f s after the first create (the creates "
              "took %.2f s; target <= 30 s; issue 7's 60 s); load average %s after\n",
              options.stores, seconds, std::chrono::duration<double>(created - start).count(),
              loadAverage().c_str());
  std::printf("  each store, its create to its last object: p50 %.2f s, p99 %.2f s, max %.2f s\n",
              percentile(each, 0.5), percentile(each, 0.99), percentile(each, 1.0));
  const double op = cpu1.op - cpu0.op, api = cpu1.api - cpu0.api, etcd = cpu1.etcd - cpu0.etcd;
  std::printf("  CPU seconds over those %.1f s: operator %.2f, kube-apiserver %.2f, etcd %.2f; "
              "operator / kube-apiserver = %.2f, operator / (kube-apiserver + etcd) = %.2f\n",
              seconds, op, api, etcd, api > 0 ? op / api : 0.0,
              api + etcd > 0 ? op / (api + etcd) : 0.0);
  std::printf("  operator requests over that time (its rest_client_requests_total): %.2f per "
              "store (%.2f writes)\n",
              static_cast<double>(after2.first - before2.first) / options.stores,
              static_cast<double>(after2.second - before2.second) / options.stores);
  std::this_thread::sleep_for(5s);  // the last status writes
  const double ratio = printRequests(bench.requestsByStore(audit2), 'm', options.stores);

  // Requests identify the operator (issue 17): the user agents of its requests in parts 2 and 3.
  {
    const auto agents = bench.operatorUserAgents(audit2, bench.auditSize());
    bool named = !agents.empty();
    std::printf("  the operator's user agents (audit log, part 2):");
    for (const auto& [agent, n] : agents) {
      std::printf(" \"%s\" (%ld requests)", agent.c_str(), n);
      named = named && agent.starts_with("sessionstore-operator/");
    }
    std::printf(" (target sessionstore-operator/VERSION: %s)\n", bench::verdict(named));
  }

  // 4. The stores made Ready: one redis-server answers for all of them.
  const int total = options.runs + options.stores;
  std::printf("\n4. the %d stores made Ready: one redis-server for all, their passwords added as "
              "their Secrets are seen, then every address mapped to it\n",
              total);
  std::fflush(stdout);
  const auto readyFrom = Clock::now();
  bench::SharedRedis& redis = bench.startRedis();
  if (!ss::testing::eventually([&] { return static_cast<int>(redis.stores()) >= total; }, 300s,
                               100ms)) {
    bench.fail("the passwords of " + std::to_string(total - static_cast<int>(redis.stores())) +
               " stores were not found in 300 s");
  }
  const double passwordsAfter = std::chrono::duration<double>(Clock::now() - readyFrom).count();
  bench.mapStoresToRedis(options);
  const auto mapped = Clock::now();
  int ready = 0;
  while (Clock::now() < mapped + 900s && (ready = bench.arrivals().inPhase("Ready")) < total) {
    std::this_thread::sleep_for(200ms);
  }
  if (ready < total) {
    bench.fail(std::to_string(total - ready) + " stores were not Ready 900 s after their Redis "
               "answered");
  }
  std::printf("  passwords of %d stores on the server after %.1f s; every store Ready %.1f s "
              "after the address map pointed to it; load average %s\n",
              total, passwordsAfter, std::chrono::duration<double>(Clock::now() - mapped).count(),
              loadAverage().c_str());

  // 5. At rest.
  // Past the first looks again at every store (the operator's own writes coming back).
  std::this_thread::sleep_for(std::chrono::seconds(options.settleSeconds));
  // At rest once the connections the stores' passes opened are closed again.
  const auto [restWait, restConnections] = bench.waitForConnectionsToSettle(300s);
  const double busyRss = rssMiB(bench.operatorPid());
  std::printf("\n5. at rest (steady state), %d unchanged Ready stores for %d s, from %d s after "
              "they were Ready (the operator's connections to the API server settled at %d after "
              "%.0f s): load average %s before; the operator's open files %d, limit %s; the "
              "shared Redis holds %ld connections\n",
              total, options.steadySeconds,
              options.settleSeconds + static_cast<int>(restWait), restConnections, restWait,
              loadAverage().c_str(),
              bench::openFiles(bench.operatorPid()), bench::openFilesLimit(bench.operatorPid()).c_str(),
              redis.connectedClients());
  std::fflush(stdout);
  const auto before3 = bench.requests();
  const std::size_t audit3 = bench.auditSize();
  const auto from3 = std::chrono::system_clock::now();
  const Cpu cpu2 = cpu();
  const auto window = Clock::now();
  std::vector<double> rss, heap;
  // Every 10 s, to tell apart what moves: the process's anonymous and file-backed resident
  // memory, and the allocator's resident pages.
  std::vector<std::array<double, 4>> breakdown;
  long clientsMin = redis.connectedClients(), clientsMax = clientsMin;
  for (int i = 0; i <= options.steadySeconds; ++i) {
    std::this_thread::sleep_until(window + std::chrono::seconds(i));
    rss.push_back(rssMiB(bench.operatorPid()));
    if (i % 10 == 0) {
      const long clients = redis.connectedClients();
      clientsMin = std::min(clientsMin, clients);
      clientsMax = std::max(clientsMax, clients);
      const auto figures = bench.heapMiB();
      if (figures) heap.push_back(figures->allocated);
      breakdown.push_back({rssMiB(bench.operatorPid(), "RssAnon:"),
                           rssMiB(bench.operatorPid(), "RssFile:"),
                           figures ? figures->resident : 0.0, figures ? figures->allocated : 0.0});
    }
  }
  const Cpu cpu3 = cpu();
  const auto after3 = bench.requests();
  const auto to3 = std::chrono::system_clock::now();
  const double steady = std::chrono::duration<double>(Clock::now() - window).count();
  std::this_thread::sleep_for(1s);
  const auto audit = bench.audit(audit3, from3, to3, /*printWrites=*/true);
  const long reads = (after3.first - before3.first) - (after3.second - before3.second);
  std::printf("  writes by the operator: %ld (its rest_client_requests_total), %ld (the audit log, "
              "user %s) (target 0); writes by others but kube-apiserver: %ld\n",
              after3.second - before3.second, audit.operatorWrites, kOperatorUser.c_str(),
              audit.otherWrites);
  std::printf("  reads by the operator: %ld (%.1f per second; %ld requests in the audit log)\n",
              reads, static_cast<double>(reads) / steady, audit.operatorRequests);
  const double requestRate =
      static_cast<double>(audit.operatorRequests + audit.operatorWatches) / steady;
  std::printf("  API requests by the operator (audit log, watches opened included): %ld in %.0f s, "
              "%.3f per second (%ld watches opened) (target <= 0.1 per second: %s)\n",
              audit.operatorRequests + audit.operatorWatches, steady, requestRate,
              audit.operatorWatches, bench::verdict(requestRate <= 0.1));
  const double operatorCpu = 100 * (cpu3.op - cpu2.op) / steady;
  std::printf("  CPU seconds: operator %.2f, kube-apiserver %.2f, etcd %.2f (%.1f %%, %.1f %%, "
              "%.1f %% of one core); load average %s after (operator target <= 2 %%: %s)\n",
              cpu3.op - cpu2.op, cpu3.api - cpu2.api, cpu3.etcd - cpu2.etcd, operatorCpu,
              100 * (cpu3.api - cpu2.api) / steady, 100 * (cpu3.etcd - cpu2.etcd) / steady,
              loadAverage().c_str(), bench::verdict(operatorCpu <= 2.0));
  const double rssMin = *std::min_element(rss.begin(), rss.end());
  const double rssMax = *std::max_element(rss.begin(), rss.end());
  std::printf("  operator resident memory over the window (%zu samples, one a second): first %.2f "
              "MiB, last %.2f, min %.2f, max %.2f; max - min %.2f MiB, last - first %+.2f MiB "
              "(target flat within 1 MiB: %s)\n",
              rss.size(), rss.front(), rss.back(), rssMin, rssMax, rssMax - rssMin,
              rss.back() - rss.front(), bench::verdict(rssMax - rssMin <= 1.0));
  // Where it moved: each minute's range, so a step (a watch re-opened, a resync) is seen apart
  // from a drift.
  std::printf("  resident memory each minute (MiB, min to max):");
  for (std::size_t from = 0; from + 1 < rss.size(); from += 60) {
    const auto begin = rss.begin() + static_cast<std::ptrdiff_t>(from);
    const auto end = rss.begin() + static_cast<std::ptrdiff_t>(std::min(rss.size(), from + 61));
    std::printf(" %zu-%zus %.2f-%.2f;", from, std::min(rss.size() - 1, from + 60),
                *std::min_element(begin, end), *std::max_element(begin, end));
  }
  std::printf("\n  the min at %td s, the max at %td s\n",
              std::min_element(rss.begin(), rss.end()) - rss.begin(),
              std::max_element(rss.begin(), rss.end()) - rss.begin());
  if (!heap.empty()) {
    // Told apart from the resident memory: what the program holds against the allocator's pages.
    std::printf("  the operator's heap in use over the window (its sessionstore_heap_allocated_bytes, "
                "every 10 s): first %.2f MiB, last %.2f, min %.2f, max %.2f; max - min %.2f MiB\n",
                heap.front(), heap.back(), *std::min_element(heap.begin(), heap.end()),
                *std::max_element(heap.begin(), heap.end()),
                *std::max_element(heap.begin(), heap.end()) -
                    *std::min_element(heap.begin(), heap.end()));
  }
  std::printf("  each minute, MiB (anonymous resident / file-backed resident / the allocator's "
              "resident pages / heap in use):");
  for (std::size_t i = 0; i < breakdown.size(); i += 6) {
    std::printf(" %zus %.2f/%.2f/%.2f/%.2f;", i * 10, breakdown[i][0], breakdown[i][1],
                breakdown[i][2], breakdown[i][3]);
  }
  std::printf("\n");
  std::printf("  connections the shared Redis held (every 10 s): %ld to %ld (the benchmark's own "
              "included)\n",
              clientsMin, clientsMax);
  std::printf("\n6. operator resident memory with %d stores Ready: %.1f MiB (target <= 48 MiB: "
              "%s); idle %.1f MiB (target <= 20 MiB: %s); peak (VmHWM) %.1f MiB\n",
              total, busyRss, bench::verdict(busyRss <= 48), idleRss,
              bench::verdict(idleRss <= 20), rssMiB(bench.operatorPid(), "VmHWM:"));
  const auto verdict = bench::verdict;
  const long steadyWrites = std::max(after3.second - before3.second, audit.operatorWrites);
  std::printf("\ntargets (issue 17; issue 7's in brackets): converge p50 <= 30 ms [50]: %s (%.1f "
              "ms); %d at once <= 30 s [60]: %s (%.1f s); requests per store <= 1.5x the minimum: "
              "%s (%.2fx); at rest: writes 0: %s (%ld), API requests <= 0.1/s: %s (%.3f), "
              "operator CPU <= 2 %%: %s (%.1f %%), memory flat within 1 MiB: %s (%.2f); memory "
              "<= 20 MiB idle: %s (%.1f), <= 48 MiB [64] with %d stores Ready: %s (%.1f)\n",
              verdict(percentile(latencies, 0.5) <= 30), percentile(latencies, 0.5),
              options.stores, verdict(seconds <= 30), seconds, verdict(ratio > 0 && ratio <= 1.5),
              ratio, verdict(steadyWrites == 0), steadyWrites, verdict(requestRate <= 0.1),
              requestRate, verdict(operatorCpu <= 2.0), operatorCpu,
              verdict(rssMax - rssMin <= 1.0), rssMax - rssMin, verdict(idleRss <= 20), idleRss,
              total, verdict(busyRss <= 48), busyRss);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "converge_bench: %s\n", e.what());
  return 1;
}
