// What the benchmarks of issue 17 share: the machine and command line printed with the figures,
// /proc readings (CPU, resident memory), percentiles and the "met/missed" verdict; a redis-server
// the benchmark runs as a Redis pod would (stopped, resumed, killed and started again on its
// port); one redis-server shared by many managed stores, fed each store's passwords as its
// password Secret appears; and a recorder of watch events to time what the operator does.
//
// Figures only: nothing here asserts on time. What throws is what never happens within a
// generous bound, or a step of the benchmark's own that fails.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "control_plane.h"
#include "crypto/crypto.h"
#include "eventually.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "process.h"
#include "redisclient/redis_client.h"
#include "service_account.h"

namespace bench {

namespace ss = sessionstore;
using ss::kube::Json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- The machine, the command, /proc ------------------------------------------------------

inline std::string procField(int pid, const std::string& file, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key)) return line.substr(key.size());
  }
  return "";
}

inline std::string fileField(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key)) {
      auto value = line.substr(key.size());
      value.erase(0, value.find_first_not_of(" \t:"));
      return value;
    }
  }
  return "";
}

// utime + stime of a process, seconds.
inline double cpuSeconds(int pid) {
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
inline double rssMiB(int pid, const std::string& field = "VmRSS:") {
  const std::string kb = procField(pid, "status", field);
  if (kb.empty()) throw std::runtime_error("no " + field + " for pid " + std::to_string(pid));
  return std::stod(kb) / 1024.0;
}

// The soft limit on open files of a running process.
inline std::string openFilesLimit(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("Max open files")) {
      std::istringstream words(line.substr(14));
      std::string soft, hard;
      words >> soft >> hard;
      return soft + " (hard " + hard + ")";
    }
  }
  return "?";
}

// Raises this process's soft limit on open files to its hard limit, so that the operator it
// starts inherits room for a kept connection per store (1,200 and more).
inline void raiseOpenFilesLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

inline int openFiles(int pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

// The TCP connections `pid` holds to `port` on any address (its sockets' inodes matched in
// /proc/<pid>/net/tcp and tcp6): an HTTP/1.1 client holds one per request under way, per watch
// and per pooled idle connection.
inline int connectionsTo(int pid, int port) {
  std::set<std::string> sockets;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::error_code readError;
    const std::string target = std::filesystem::read_symlink(it->path(), readError).string();
    if (!readError && target.starts_with("socket:[")) {
      sockets.insert(target.substr(8, target.size() - 9));
    }
  }
  char portHex[8];
  std::snprintf(portHex, sizeof portHex, "%04X", port);
  int n = 0;
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/net/" + table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode;
      if (state == "01" && remote.ends_with(std::string(":") + portHex) && sockets.contains(inode)) {
        ++n;
      }
    }
  }
  return n;
}

inline std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one;
}

inline std::string utcNow() {
  const std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  return date;
}

// The lines every benchmark starts with: the command as run, the machine, the date and the load.
inline void printHeader(int argc, char** argv) {
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  utsname u{};
  ::uname(&u);
  std::printf("command: %s\n", command.c_str());
  std::printf("machine: %ld cores (%s), MemTotal %s, %s %s; redis-server %s\n",
              ::sysconf(_SC_NPROCESSORS_ONLN), fileField("/proc/cpuinfo", "model name").c_str(),
              fileField("/proc/meminfo", "MemTotal").c_str(), u.sysname, u.release,
              [] {
                const auto r = ss::testing::runProcess({"redis-server", "--version"});
                const auto v = r.out.find("v=");
                return v == std::string::npos ? std::string("?")
                                              : r.out.substr(v + 2, r.out.find(' ', v) - v - 2);
              }()
                  .c_str());
  std::printf("date: %s; load average (1 min) %s at start\n", utcNow().c_str(),
              loadAverage().c_str());
  std::fflush(stdout);
}

inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto at = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values.at(std::min(at, values.size() - 1));
}

inline const char* verdict(bool met) { return met ? "met" : "missed"; }

inline double secondsSince(Clock::time_point from, Clock::time_point to = Clock::now()) {
  return std::chrono::duration<double>(to - from).count();
}

// ---- Redis, played ------------------------------------------------------------------------

inline bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

inline int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A redis-server on a fixed loopback port, with the configuration given, that can be paused
// (SIGSTOP: it hangs, as a frozen node would), resumed, killed and started again on the same port
// (a pod restarted behind its Service). Unlike tests/support's RedisServer it keeps its pid.
class PlayedRedis {
 public:
  PlayedRedis(std::filesystem::path dir, std::string config, int port = 0)
      : dir_(std::move(dir)), config_(std::move(config)), port_(port ? port : freePort()) {
    std::filesystem::create_directories(dir_);
  }
  ~PlayedRedis() { kill(); }

  int port() const { return port_; }
  int pid() const { return process_ ? process_->pid() : 0; }
  bool running() const { return process_ != nullptr; }

  // Starts it and returns when it accepts connections (checked every 2 ms): the moment returned
  // is within 2 ms of the first connection it would have accepted.
  Clock::time_point start() {
    if (process_) throw std::runtime_error("redis-server already runs");
    std::ofstream(dir_ / "redis.conf")
        << config_ << "\nport " << port_ << "\nbind 127.0.0.1\ndir " << dir_.string()
        << "\nsave \"\"\nappendonly no\ndaemonize no\nlogfile \"\"\n";
    process_ = std::make_unique<ss::testing::ChildProcess>(
        std::vector<std::string>{"redis-server", (dir_ / "redis.conf").string()},
        (dir_ / "redis.log").string());
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      if (accepts(port_)) return Clock::now();
      if (process_->wait(0ms)) break;
      std::this_thread::sleep_for(2ms);
    }
    const std::string log = process_->output();
    process_.reset();
    throw std::runtime_error("redis-server did not start on port " + std::to_string(port_) + ": " +
                             log);
  }
  void pause() const { signal(SIGSTOP); }
  void resume() const { signal(SIGCONT); }
  void kill() {
    if (!process_) return;
    process_->signal(SIGCONT);
    process_->signal(SIGKILL);
    process_->wait(10s);
    process_.reset();
  }
  void setConfig(std::string config) { config_ = std::move(config); }

 private:
  void signal(int sig) const {
    if (!process_) throw std::runtime_error("redis-server is not running");
    process_->signal(sig);
  }
  std::filesystem::path dir_;
  std::string config_;
  int port_;
  std::unique_ptr<ss::testing::ChildProcess> process_;
};

// The ACL lines of a managed store's users.acl (managedstore::renderUsersAcl) for a server that
// many stores share: the same permissions, on every key instead of one store's prefix, and one
// password per store added as its Secret appears (a Redis user may hold many passwords).
inline const std::vector<std::string> kSharedAppRules = {"on", "~*", "&*", "+@all", "-@admin",
                                                         "-@dangerous"};
inline const std::vector<std::string> kSharedMonitorRules = {
    "on", "%R~*", "resetchannels", "-@all", "+ping", "+info", "+client|list", "+dbsize", "+scan",
    "+config|get"};

// One redis-server standing for every managed store's Redis: the address map sends each store's
// in-cluster address to it, and a thread watching the namespace's Secrets adds each store's app
// and monitor passwords (from <store>-redis-auth) to its users `app` and `monitor` as they
// appear. The benchmark's own connection is the default user (no password, loopback only).
class SharedRedis {
 public:
  SharedRedis(ss::kube::Client& client, std::string ns, std::filesystem::path dir)
      : client_(client), ns_(std::move(ns)), server_(std::move(dir), "maxclients 10000\n") {
    server_.start();
    admin_ = session();
    setUser("app", kSharedAppRules, {});
    setUser("monitor", kSharedMonitorRules, {});
    thread_ = std::thread([this] { watchSecrets(); });
  }
  ~SharedRedis() {
    stop_ = true;
    {
      std::lock_guard lock(mu_);
      if (stream_) stream_->cancel();
    }
    thread_.join();
  }

  int port() const { return server_.port(); }
  int pid() const { return server_.pid(); }
  PlayedRedis& server() { return server_; }
  // How many stores' passwords the server has.
  std::size_t stores() const {
    std::lock_guard lock(mu_);
    return added_.size();
  }
  bool has(const std::string& store) const {
    std::lock_guard lock(mu_);
    return added_.count(store) > 0;
  }
  // When the store's passwords were added (they answer from then on).
  std::optional<Clock::time_point> addedAt(const std::string& store) const {
    std::lock_guard lock(mu_);
    const auto it = added_.find(store);
    if (it == added_.end()) return std::nullopt;
    return it->second;
  }
  // Connections the server holds now (INFO clients), the benchmark's own included.
  long connectedClients() {
    std::lock_guard lock(adminMu_);
    const auto info = admin_->command({"INFO", "clients"});
    if (!info) return -1;
    const auto at = info->find("connected_clients:");
    return at == std::string::npos ? -1 : std::stol(info->substr(at + 18));
  }

 private:
  std::unique_ptr<ss::redisclient::Session> session() const {
    auto s = ss::redisclient::Session::open({.host = "127.0.0.1", .port = server_.port()});
    if (!s) throw std::runtime_error("the shared redis-server: " + s.error());
    return std::move(*s);
  }
  void setUser(const std::string& user, const std::vector<std::string>& rules,
               const std::vector<std::string>& passwords) {
    std::vector<std::string> args{"ACL", "SETUSER", user};
    args.insert(args.end(), rules.begin(), rules.end());
    for (const auto& p : passwords) args.push_back(">" + p);
    std::lock_guard lock(adminMu_);
    const auto r = admin_->command(args);
    if (!r) throw std::runtime_error("ACL SETUSER " + user + ": " + r.error());
  }
  void add(const Json& secret) {
    const Json meta = secret.value("metadata", Json::object());
    const std::string name = meta.value("name", "");
    const std::string suffix = "-redis-auth";
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) return;
    const std::string store = name.substr(0, name.size() - suffix.size());
    const Json data = secret.value("data", Json::object());
    const auto app = ss::crypto::base64Decode(data.value("app-password", ""));
    const auto monitor = ss::crypto::base64Decode(data.value("monitor-password", ""));
    if (!app || !monitor || app->empty() || monitor->empty()) return;
    {
      std::lock_guard lock(mu_);
      const std::string digest = ss::crypto::sha256Hex(*app + "\n" + *monitor);
      if (digests_.count(digest)) return;
      digests_.insert(digest);
    }
    setUser("app", {}, {*app});
    setUser("monitor", {}, {*monitor});
    std::lock_guard lock(mu_);
    added_.emplace(store, Clock::now());
  }
  void watchSecrets() {
    std::string version;
    while (!stop_) {
      auto stream = client_.watch(ss::kube::resources::kSecrets, ns_,
                                  {.resourceVersion = version, .timeout = 600s});
      if (!stream) {
        std::this_thread::sleep_for(100ms);
        continue;
      }
      {
        std::lock_guard lock(mu_);
        stream_ = stream->get();
      }
      while (!stop_) {
        auto event = (*stream)->next();
        if (!event || !event->has_value()) break;
        const auto& e = **event;
        if (e.type == ss::kube::WatchEventType::kError) {
          version.clear();  // 410 Gone: from the current state again
          break;
        }
        if (const auto meta = e.object.find("metadata"); meta != e.object.end()) {
          version = meta->value("resourceVersion", version);
        }
        if (e.type == ss::kube::WatchEventType::kAdded ||
            e.type == ss::kube::WatchEventType::kModified) {
          try {
            add(e.object);
          } catch (const std::exception& ex) {
            std::fprintf(stderr, "shared redis: %s\n", ex.what());
          }
        }
      }
      std::lock_guard lock(mu_);
      stream_ = nullptr;
    }
  }

  ss::kube::Client& client_;
  const std::string ns_;
  PlayedRedis server_;
  std::mutex adminMu_;
  std::unique_ptr<ss::redisclient::Session> admin_;  // GUARDED_BY(adminMu_)
  mutable std::mutex mu_;
  std::map<std::string, Clock::time_point> added_;  // GUARDED_BY(mu_)
  std::set<std::string> digests_;                   // GUARDED_BY(mu_)
  ss::kube::WatchStream* stream_ = nullptr;         // GUARDED_BY(mu_)
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Writes the address map atomically (a new file renamed over the old: the operator re-reads it
// when its modification time changes, and never sees half of it).
inline void writeAddressMap(const std::filesystem::path& path,
                            const std::map<std::string, std::string>& entries) {
  const auto tmp = path.string() + ".new";
  {
    std::ofstream out(tmp);
    out << "# in-cluster address -> where the benchmark's redis-server listens\n";
    for (const auto& [from, to] : entries) out << from << " " << to << "\n";
  }
  std::filesystem::rename(tmp, path);
}

// ---- Watch events, recorded ---------------------------------------------------------------

// Every event of the given kinds in one namespace, with the time this process received it and a
// sequence number across kinds, kept by "<resource>/<name>" (e.g. "statefulsets/d3-redis").
// A benchmark marks the sequence before a change and waits for a later event that satisfies what
// it expects (the repair, a phase).
struct Seen {
  long seq = 0;
  Clock::time_point at;
  ss::kube::WatchEventType type;
  Json object;
};

class Recorder {
 public:
  Recorder(ss::kube::Client& client, std::string ns,
           std::vector<const ss::kube::Resource*> resources)
      : client_(client), ns_(std::move(ns)) {
    for (const auto* r : resources) threads_.emplace_back([this, r] { watch(*r); });
  }
  ~Recorder() {
    stop_ = true;
    {
      std::lock_guard lock(mu_);
      for (auto* s : streams_) s->cancel();
    }
    for (auto& t : threads_) t.join();
  }

  long mark() const {
    std::lock_guard lock(mu_);
    return seq_;
  }
  // The first event for `key` after sequence `after` that satisfies `match`, waiting up to
  // `timeout` for it.
  std::optional<Seen> waitFor(const std::string& key, long after,
                              const std::function<bool(const Seen&)>& match,
                              std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    const auto deadline = Clock::now() + timeout;
    std::size_t checked = 0;  // events of this key already looked at
    while (true) {
      if (const auto it = events_.find(key); it != events_.end()) {
        for (; checked < it->second.size(); ++checked) {
          const Seen& s = it->second[checked];
          if (s.seq > after && match(s)) return s;
        }
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && Clock::now() >= deadline) {
        return std::nullopt;
      }
    }
  }
  // The object as last seen (nullopt when never seen or last seen deleted).
  std::optional<Json> latest(const std::string& key) const {
    std::lock_guard lock(mu_);
    const auto it = events_.find(key);
    if (it == events_.end() || it->second.empty()) return std::nullopt;
    const Seen& s = it->second.back();
    if (s.type == ss::kube::WatchEventType::kDeleted) return std::nullopt;
    return s.object;
  }
  // Every key whose last event is not a deletion and satisfies `match`, counted.
  int count(const std::string& resource, const std::function<bool(const Json&)>& match) const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [key, seen] : events_) {
      if (!key.starts_with(resource + "/") || seen.empty()) continue;
      if (seen.back().type != ss::kube::WatchEventType::kDeleted && match(seen.back().object)) ++n;
    }
    return n;
  }
  // Drops what was recorded (a long run keeps only the last event of each object).
  void compact() {
    std::lock_guard lock(mu_);
    for (auto& [key, seen] : events_) {
      while (seen.size() > 1) seen.pop_front();
    }
  }

 private:
  void watch(const ss::kube::Resource& resource) {
    std::string version;
    while (!stop_) {
      auto stream = client_.watch(resource, ns_, {.resourceVersion = version, .timeout = 600s});
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
        auto& e = **event;
        if (e.type == ss::kube::WatchEventType::kError) {
          version.clear();
          break;
        }
        const auto meta = e.object.find("metadata");
        if (meta == e.object.end() || !meta->is_object()) continue;
        version = meta->value("resourceVersion", version);
        if (e.type == ss::kube::WatchEventType::kBookmark) continue;
        const std::string key = resource.resource + "/" + meta->value("name", "");
        e.object["metadata"].erase("managedFields");
        std::lock_guard lock(mu_);
        events_[key].push_back({++seq_, Clock::now(), e.type, std::move(e.object)});
        cv_.notify_all();
      }
      std::lock_guard lock(mu_);
      streams_.erase(stream->get());
    }
  }

  ss::kube::Client& client_;
  const std::string ns_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  long seq_ = 0;                                       // GUARDED_BY(mu_)
  std::map<std::string, std::deque<Seen>> events_;     // GUARDED_BY(mu_)
  std::set<ss::kube::WatchStream*> streams_;           // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

// A SessionStore's phase and one condition's status, from the object as watched.
inline std::string phaseOf(const Json& store) {
  const auto status = store.find("status");
  if (status == store.end() || !status->is_object()) return "";
  return status->value("phase", "");
}
inline std::string conditionOf(const Json& store, const std::string& type) {
  const auto status = store.find("status");
  if (status == store.end() || !status->is_object() || !status->contains("conditions")) return "";
  for (const auto& c : (*status)["conditions"]) {
    if (c.value("type", "") == type) return c.value("status", "");
  }
  return "";
}

// ---- The objects a store needs ------------------------------------------------------------

// A managed SessionStore with its target <name>-app (Deployment and Service), no persistence.
inline Json managedStore(const std::string& name) {
  return {{"apiVersion", "sessionstore.io/v1alpha1"},
          {"kind", "SessionStore"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"target", {{"deployment", name + "-app"}, {"service", name + "-app"}}},
            {"store", {{"type", "Managed"}, {"managed", {{"persistence", {{"enabled", false}}}}}}}}}};
}
// The store's target, as tests/integration/operator_fixture.h's deploymentYaml/serviceYaml.
inline Json targetDeployment(const std::string& name) {
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
inline Json targetService(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"selector", {{"app", name}}},
            {"ports", Json::array({{{"port", 80}, {"targetPort", 8080}}})}}}};
}

// ---- The control plane and the operator ---------------------------------------------------

// The `apiserver` profile (etcd + kube-apiserver), the CRD, one namespace, a client with the
// plane's admin credentials, and the operator binary outside the cluster as its own
// ServiceAccount (the RBAC of manifests/), watching that namespace, with an address map the
// benchmark writes (start it with operatorStart once the map holds what it should).
class OperatorPlane {
 public:
  OperatorPlane(std::string ns, const std::string& name) : ns_(std::move(ns)) {
    dir_ = std::filesystem::temp_directory_path() /
           ("sessionstore-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    plane_ = ss::testing::ControlPlane::start(ss::testing::Profile::kApiServer,
                                              " --service-cluster-ip-range=10.0.0.0/16");
    must(plane_->kubectl({"apply", "-f", ss::testing::sourceDir() + "/crds/"}), "the CRD");
    must(plane_->waitForCrd("sessionstores.sessionstore.io"), "the CRD");
    must(plane_->kubectl({"create", "namespace", ns_}), "the namespace");
    auto config = ss::kube::loadKubeconfig(plane_->kubeconfig());
    if (!config) throw std::runtime_error(config.error().describe());
    auto client = ss::kube::RestClient::connect(*config);
    if (!client) throw std::runtime_error(client.error().describe());
    client_ = std::move(*client);
    addressMap_ = dir_ / "store-addresses";
    writeAddressMap(addressMap_, {});
  }
  ~OperatorPlane() {
    operator_.reset();
    plane_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  ss::kube::Client& client() { return *client_; }
  const std::string& ns() const { return ns_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& addressMap() const { return addressMap_; }
  int operatorPid() const { return operator_->pid(); }
  // "<store>-redis.<ns>.svc:6379": the in-cluster address of a managed store.
  std::string storeAddress(const std::string& store) const {
    return store + "-redis." + ns_ + ".svc:6379";
  }

  void startOperator(const std::string& binary) {
    const std::string kubeconfig = ss::testing::operatorKubeconfig(*plane_);
    operator_ = std::make_unique<ss::testing::ChildProcess>(
        std::vector<std::string>{binary, "run", "--kubeconfig", kubeconfig, "--leader-elect",
                                 "false", "--metrics-bind-address", "127.0.0.1:0",
                                 "--health-probe-bind-address", "127.0.0.1:0", "--namespaces", ns_,
                                 "--store-address-map", addressMap_.string(), "--log-level",
                                 "info"},
        (dir_ / "operator.log").string());
  }

  [[noreturn]] void fail(const std::string& what) const {
    const std::string log = operator_ ? operator_->output() : "";
    throw std::runtime_error(what + "\n--- operator log tail:\n" +
                             (log.size() > 4000 ? log.substr(log.size() - 4000) : log));
  }
  static void must(const ss::testing::ProcessResult& r, const std::string& what) {
    if (!r.ok()) throw std::runtime_error(what + ": " + r.describe());
  }

  void createTarget(const std::string& store) {
    auto d = client_->create(ss::kube::resources::kDeployments, ns_, targetDeployment(store + "-app"));
    if (!d) fail("creating Deployment " + store + "-app: " + d.error().describe());
    auto s = client_->create(ss::kube::resources::kServices, ns_, targetService(store + "-app"));
    if (!s) fail("creating Service " + store + "-app: " + s.error().describe());
  }
  void createStore(const std::string& store) {
    auto c = client_->create(ss::kube::resources::kSessionStores, ns_, managedStore(store));
    if (!c) fail("creating SessionStore " + store + ": " + c.error().describe());
  }

 private:
  std::string ns_;
  std::filesystem::path dir_;
  std::filesystem::path addressMap_;
  std::unique_ptr<ss::testing::ControlPlane> plane_;
  std::unique_ptr<ss::kube::RestClient> client_;
  std::unique_ptr<ss::testing::ChildProcess> operator_;
};

}  // namespace bench
