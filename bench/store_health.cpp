// How fast a store's health reaches its SessionStore (issue 17's acceptance): on the `apiserver`
// control plane, the operator binary outside the cluster as its ServiceAccount, managed
// SessionStores whose Redis this process plays as the node would: a real redis-server started
// from the store's ConfigMap (its redis.conf and users.acl, so the store's own passwords and
// ACLs), reached through the operator's --store-address-map.
//
// 1. Stopping and resuming, --tries times each way, on one Ready store:
//    - paused: SIGSTOP (the server holds its connections and answers nothing, as a frozen node),
//      then SIGCONT;
//    - killed: SIGKILL (connections refused, as a crashed pod), then started again on its port.
//    From the signal's return to, seen on this process's watches: StoreReady False, phase
//    Degraded, and the target Service's sessionAffinity ClientIP ("sticky", the default
//    UntilStoreReady); then from SIGCONT's return (or the new server accepting) to phase Ready
//    and sessionAffinity None. Targets: Degraded and sticky <= 5 s, Ready <= 2 s.
// 2. Fresh stores, --fresh of them one after the other: the store is created, its address mapped
//    to a port nothing listens on yet (the pod starting), and after --pod-start seconds its
//    redis-server starts there; from the moment it accepts (checked every 2 ms) to StoreReady
//    True and phase Ready on the watch. Target: Ready <= 1 s.
// The moments of the stops, the resumes and the fresh starts are spread evenly over --spread
// seconds (try t of n waits 1 s + spread * (t + 0.5) / n, and --pod-start + the same for a fresh
// store), so the tries sample every phase of the operator's own schedule (its resync, its
// back-off, its probe timer) instead of always the same one.
// p50 and max of each, with met/missed. Fails only when something never happens (--timeout).
//
//   store_health_bench [--tries 10] [--fresh 10] [--pod-start 5] [--spread 10] [--timeout 120]
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "bench_support.h"

using namespace bench;
namespace res = sessionstore::kube::resources;
using sessionstore::kube::WatchEventType;

namespace {

const std::string kNamespace = "health";

struct Options {
  int tries = 10;
  int fresh = 10;
  int podStartSeconds = 5;
  int spreadSeconds = 10;
  int timeoutSeconds = 120;

  // How long try t of n waits before its action.
  std::chrono::milliseconds offset(int t, int n, int baseSeconds) const {
    return std::chrono::milliseconds(
        static_cast<long>(1000 * (baseSeconds + spreadSeconds * (t + 0.5) / std::max(n, 1))));
  }
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 == argc) throw std::invalid_argument("flag " + flag + " needs a value");
    const int value = std::stoi(argv[i + 1]);
    if (flag == "--tries") {
      o.tries = value;
    } else if (flag == "--fresh") {
      o.fresh = value;
    } else if (flag == "--pod-start") {
      o.podStartSeconds = value;
    } else if (flag == "--spread") {
      o.spreadSeconds = value;
    } else if (flag == "--timeout") {
      o.timeoutSeconds = value;
    } else {
      throw std::invalid_argument("unknown flag " + flag);
    }
  }
  return o;
}

std::string affinityOf(const Json& service) {
  const auto spec = service.find("spec");
  return spec == service.end() ? "" : spec->value("sessionAffinity", "");
}

struct Series {
  std::string what;
  double target;  // seconds
  std::vector<double> seconds;
  void print() const {
    std::printf("  %-58s n %zu: p50 %6.3f s, max %6.3f s (min %.3f) | p50 and max <= %.0f s: %s\n",
                what.c_str(), seconds.size(), percentile(seconds, 0.5), percentile(seconds, 1.0),
                percentile(seconds, 0.0), target, verdict(percentile(seconds, 1.0) <= target));
  }
  bool met() const { return percentile(seconds, 1.0) <= target; }
};

class Bench {
 public:
  explicit Bench(const Options& options)
      : options_(options),
        plane_(kNamespace, "store-health"),
        recorder_(plane_.client(), kNamespace,
                  {&res::kSessionStores, &res::kServices, &res::kStatefulSets, &res::kConfigMaps}) {
    plane_.startOperator(OPERATOR_BINARY);
  }

  OperatorPlane& plane() { return plane_; }
  Recorder& recorder() { return recorder_; }
  std::chrono::seconds timeout() const { return std::chrono::seconds(options_.timeoutSeconds); }

  // Creates the store and its target, waits for its StatefulSet and ConfigMap (a pod mounts the
  // ConfigMap as it is once its StatefulSet exists), maps its address to a free port and returns
  // the redis-server it will run, not started.
  std::unique_ptr<PlayedRedis> create(const std::string& store) {
    plane_.createTarget(store);
    plane_.createStore(store);
    const long mark = 0;
    const auto any = [](const Seen& s) { return s.type != WatchEventType::kDeleted; };
    if (!recorder_.waitFor("statefulsets/" + store + "-redis", mark, any, timeout())) {
      plane_.fail("no StatefulSet for " + store);
    }
    if (!recorder_.waitFor("configmaps/" + store + "-redis-config", mark, any, timeout())) {
      plane_.fail("no ConfigMap for " + store);
    }
    const Json config = *recorder_.latest("configmaps/" + store + "-redis-config");
    const auto data = config.value("data", Json::object());
    const std::filesystem::path dir = plane_.dir() / ("redis-" + store);
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "users.acl") << data.value("users.acl", "");
    std::string conf = data.value("redis.conf", "");
    conf = std::regex_replace(conf, std::regex("aclfile [^\n]*"),
                              "aclfile " + (dir / "users.acl").string());
    conf = std::regex_replace(conf, std::regex("(^|\n)(dir|bind|port|appendonly) [^\n]*"), "$1");
    auto redis = std::make_unique<PlayedRedis>(dir, conf);
    map_[plane_.storeAddress(store)] = "127.0.0.1:" + std::to_string(redis->port());
    writeAddressMap(plane_.addressMap(), map_);
    return redis;
  }

  // The first event after `mark` where the store (or its target Service) is as asked.
  std::optional<Seen> waitStore(const std::string& store, long mark,
                                const std::function<bool(const Json&)>& match) {
    return recorder_.waitFor(
        "sessionstores/" + store, mark,
        [&](const Seen& s) { return s.type != WatchEventType::kDeleted && match(s.object); },
        timeout());
  }
  std::optional<Seen> waitAffinity(const std::string& store, long mark,
                                   const std::string& affinity) {
    return recorder_.waitFor(
        "services/" + store + "-app", mark,
        [&](const Seen& s) {
          return s.type != WatchEventType::kDeleted && affinityOf(s.object) == affinity;
        },
        timeout());
  }

 private:
  Options options_;
  OperatorPlane plane_;
  Recorder recorder_;
  std::map<std::string, std::string> map_;
};

}  // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  printHeader(argc, argv);
  std::printf("store health benchmark: %d tries paused and %d killed on one store, %d fresh "
              "stores (Redis starting %d s after the store's objects); each action 1 s (or the "
              "pod start) plus an offset spread evenly over %d s after the previous step\n",
              options.tries, options.tries, options.fresh, options.podStartSeconds,
              options.spreadSeconds);
  Bench bench(options);

  // 1. Stopping and resuming.
  const std::string store = "h0";
  auto redis = bench.create(store);
  redis->start();
  const auto isReady = [](const Json& s) { return phaseOf(s) == "Ready"; };
  if (!bench.waitStore(store, 0, isReady)) bench.plane().fail(store + " never became Ready");
  std::printf("\n1. store %s Ready; stopping and resuming its redis-server\n", store.c_str());
  std::fflush(stdout);
  for (const bool kill : {false, true}) {
    const std::string how = kill ? "killed (SIGKILL)" : "paused (SIGSTOP)";
    Series storeFalse{how + ": to StoreReady False", 5, {}};
    Series degraded{how + ": to phase Degraded", 5, {}};
    Series sticky{how + ": to target Service affinity ClientIP", 5, {}};
    Series back{how + ", then back: to phase Ready", 2, {}};
    Series unsticky{how + ", then back: to affinity None", 2, {}};
    for (int t = 0; t < options.tries; ++t) {
      std::this_thread::sleep_for(options.offset(t, options.tries, 1));
      long mark = bench.recorder().mark();
      if (kill) {
        redis->kill();
      } else {
        redis->pause();
      }
      const auto stopped = Clock::now();
      const auto f = bench.waitStore(store, mark, [](const Json& s) {
        return conditionOf(s, "StoreReady") == "False";
      });
      const auto d = bench.waitStore(store, mark, [](const Json& s) {
        return phaseOf(s) == "Degraded";
      });
      const auto c = bench.waitAffinity(store, mark, "ClientIP");
      if (!f || !d || !c) bench.plane().fail(how + ": the store never went Degraded and sticky");
      storeFalse.seconds.push_back(secondsSince(stopped, f->at));
      degraded.seconds.push_back(secondsSince(stopped, d->at));
      sticky.seconds.push_back(secondsSince(stopped, c->at));
      std::this_thread::sleep_for(options.offset(t, options.tries, 1));
      mark = bench.recorder().mark();
      Clock::time_point resumed;
      if (kill) {
        resumed = redis->start();
      } else {
        redis->resume();
        resumed = Clock::now();
      }
      const auto r = bench.waitStore(store, mark, isReady);
      const auto n = bench.waitAffinity(store, mark, "None");
      if (!r || !n) bench.plane().fail(how + ": the store never came back to Ready");
      back.seconds.push_back(secondsSince(resumed, r->at));
      unsticky.seconds.push_back(secondsSince(resumed, n->at));
    }
    for (const Series* s : {&storeFalse, &degraded, &sticky, &back, &unsticky}) s->print();
    std::printf("  targets (%s): Degraded and sticky <= 5 s: %s; Ready <= 2 s: %s\n", how.c_str(),
                verdict(degraded.met() && sticky.met() && storeFalse.met()), verdict(back.met()));
    std::fflush(stdout);
  }

  // 2. Fresh stores.
  std::printf("\n2. fresh stores: Redis starts %d s (plus the spread offset) after the store's "
              "objects\n",
              options.podStartSeconds);
  Series storeTrue{"fresh: Redis answering to StoreReady True", 1, {}};
  Series ready{"fresh: Redis answering to phase Ready", 1, {}};
  std::vector<std::unique_ptr<PlayedRedis>> fresh;
  for (int i = 0; i < options.fresh; ++i) {
    const std::string name = "f" + std::to_string(i);
    auto server = bench.create(name);
    std::this_thread::sleep_for(options.offset(i, options.fresh, options.podStartSeconds));
    const long mark = bench.recorder().mark();
    const auto answering = server->start();
    const auto t = bench.waitStore(name, mark, [](const Json& s) {
      return conditionOf(s, "StoreReady") == "True";
    });
    const auto r = bench.waitStore(name, mark, isReady);
    if (!t || !r) bench.plane().fail(name + " never became Ready after its Redis started");
    storeTrue.seconds.push_back(secondsSince(answering, t->at));
    ready.seconds.push_back(secondsSince(answering, r->at));
    fresh.push_back(std::move(server));
  }
  storeTrue.print();
  ready.print();
  std::printf("  target: a fresh store Ready <= 1 s after its Redis answers: %s\n",
              verdict(ready.met()));
  std::printf("\nload average %s at the end\n", loadAverage().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "store_health_bench: %s\n", e.what());
  return 1;
}
