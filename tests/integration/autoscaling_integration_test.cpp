// Autoscaling end to end (issue 5's scenarios) on the `cluster` profile, each driving a real
// signal: kwok's simulated CPU read back through metrics-server, real client connections and
// keys in the real redis-server the test runs for the store, and a real Prometheus (Debian's)
// scraping an exporter in this process. operator_fixture.h says how the test plays the node.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "httpserver/beast_http_server.h"
#include "operator_fixture.h"

namespace sessionstore::testing {
namespace {

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
      annotations:
        kwok.x-k8s.io/usage-cpu: 100m
        kwok.x-k8s.io/usage-memory: 64Mi
    spec:
      containers:
      - name: app
        image: registry.example/shop/api:2.0
        resources:
          requests: {cpu: 500m, memory: 128Mi}
          limits: {cpu: "1", memory: 256Mi}
)";
}

std::string autoscaledStoreYaml(const std::string& name, int maxReplicas,
                                const std::string& metrics) {
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
    maxReplicas: )" +
         std::to_string(maxReplicas) + R"(
    pollIntervalSeconds: 5
    behavior:
      scaleUp: {stabilizationWindowSeconds: 0, maxReplicasPerStep: 4}
      scaleDown: {stabilizationWindowSeconds: 20, maxReplicasPerStep: 4}
    metrics:
)" + metrics;
}

// A CPU quantity of metrics.k8s.io ("1", "1000m", "998765432n") in millicores.
double milliCores(const std::string& quantity) {
  if (quantity.empty()) return 0;
  const char unit = quantity.back();
  const double value = std::stod(quantity);
  switch (unit) {
    case 'n':
      return value / 1e6;
    case 'u':
      return value / 1e3;
    case 'm':
      return value;
    default:
      return value * 1000;
  }
}

class AutoscalingIntegration : public OperatorFixture {
 protected:
  int replicas(const std::string& deployment) {
    return mustGet("deployment", deployment)["spec"].value("replicas", 0);
  }
  std::string scaleEvents() {
    const auto events = inNs({"get", "events.events.k8s.io", "-o", "json"});
    std::string notes;
    const Json items = Json::parse(events.out)["items"];
    for (const auto& e : items) {
      if (e.value("reason", "") == "Scaled") notes += e.value("note", "") + "\n";
    }
    return notes;
  }
  // Ready, with AutoscalingActive True (every source answered once).
  void readyAndMeasured(const std::string& name, const std::string& extraAcl = "") {
    playNode(name, extraAcl);
    ASSERT_TRUE(eventually([&] { return phase(name) == "Ready"; })) << describeStore(name);
    ASSERT_TRUE(eventually([&] { return conditionIs(name, "AutoscalingActive", "True"); }, 120s))
        << describeStore(name);
  }
};

TEST_F(AutoscalingIntegration, CpuScalesUpToTheComputedCountAndDownOnlyAfterTheWindow) {
  apply(appYaml("cpu"));
  apply(autoscaledStoreYaml("cpu", 5, "    - {type: CPU, targetAverageUtilization: 80}\n"));
  ASSERT_NO_FATAL_FAILURE(readyAndMeasured("cpu"));
  EXPECT_EQ(replicas("cpu"), 2) << "20% of requests must not scale";

  // 1000m of a 500m request: 200% > 80%, desired = ceil(2 * 200 / 80) = 5.
  ASSERT_TRUE(
      inNs({"annotate", "pods", "-l", "app=cpu", "--overwrite", "kwok.x-k8s.io/usage-cpu=1000m"})
          .ok());
  ASSERT_TRUE(eventually([&] { return replicas("cpu") == 5; }, 180s)) << describeStore("cpu");
  // Events are sent in the background: wait for it.
  EXPECT_TRUE(eventually(
      [&] {
        return std::regex_search(scaleEvents(),
                                 std::regex("cpu [0-9]+% of requests > target 80%: 2 -> 5"));
      },
      20s))
      << scaleEvents() << inNs({"get", "events.events.k8s.io", "-o", "yaml"}).out;
  // The status is written after the scale, and again on a conflict with the reconciler's own
  // write of the same object: wait for it rather than read it once.
  Json status;
  EXPECT_TRUE(eventually(
      [&] {
        status = mustGet("sessionstore", "cpu")["status"];
        const Json target = status.value("target", Json::object());
        return target.value("desiredReplicas", 0) == 5 &&
               !target.value("lastScaleReason", "").empty();
      },
      60s))
      << status.dump(2);
  EXPECT_EQ(status["autoscaling"]["metrics"][0]["type"], "CPU");

  // Every pod back to 20%: down to minReplicas, but only once the 20 s window has passed.
  ASSERT_TRUE(
      inNs({"annotate", "pods", "-l", "app=cpu", "--overwrite", "kwok.x-k8s.io/usage-cpu=100m"})
          .ok());
  // The window holds the scale first: a poll sees the lower load (at most 40% of requests, a
  // recommendation below 5) and keeps desiredReplicas at 5, with the Deployment still at 5.
  // Then it goes down.
  const auto held = [&] {
    const Json now = mustGet("sessionstore", "cpu")["status"];
    const Json metrics = now.value("autoscaling", Json::object()).value("metrics", Json::array());
    return !metrics.empty() && std::atoi(metrics[0].value("current", "100%").c_str()) <= 40 &&
           metrics[0].value("recommendedReplicas", 5) < 5 &&
           now.value("target", Json::object()).value("desiredReplicas", 0) == 5;
  };
  EXPECT_EQ(consistentlyUntil([&] { return replicas("cpu") == 5; }, held, 180s),
            Held::kUntilTheMarker)
      << "scaled down inside the stabilization window\n"
      << describeStore("cpu");
  ASSERT_TRUE(eventually([&] { return replicas("cpu") == 2; }, 180s)) << describeStore("cpu");
  expectNoSecretLeaks();
}

TEST_F(AutoscalingIntegration, StoreClientsFollowRealConnections) {
  apply(appYaml("clients"));
  apply(autoscaledStoreYaml("clients", 6, "    - {type: StoreClients, targetPerReplica: 10}\n"));
  ASSERT_NO_FATAL_FAILURE(readyAndMeasured("clients"));
  const Json connection = mustGet("secret", "clients-session-store");
  const int port = stores_[ns_ + "/clients"]->port();
  std::vector<std::unique_ptr<redisclient::Session>> clients;
  for (int i = 0; i < 45; ++i) {
    auto session = redisclient::Session::open({.host = "127.0.0.1",
                                               .port = port,
                                               .username = "app",
                                               .password = decode(connection, "REDIS_PASSWORD")});
    ASSERT_TRUE(session) << session.error();
    clients.push_back(std::move(*session));
  }
  // 45 clients / 10 per replica: 5.
  ASSERT_TRUE(eventually([&] { return replicas("clients") == 5; }, 120s))
      << describeStore("clients");
  EXPECT_TRUE(
      eventually([&] { return scaleEvents().find("store clients 45") != std::string::npos; }, 20s))
      << scaleEvents();
  clients.clear();
  ASSERT_TRUE(eventually([&] { return replicas("clients") == 2; }, 120s))
      << describeStore("clients");
}

TEST_F(AutoscalingIntegration, ActiveSessionsCountOnlyKeysUnderThePrefix) {
  apply(appYaml("sessions"));
  apply(
      autoscaledStoreYaml("sessions", 10, "    - {type: ActiveSessions, targetPerReplica: 500}\n"));
  // The test gives itself a user that may write anywhere, for the keys outside the prefix.
  ASSERT_NO_FATAL_FAILURE(
      readyAndMeasured("sessions", "user tester on >tester-password ~* +@all\n"));
  auto writer = redisclient::Session::open({.host = "127.0.0.1",
                                            .port = stores_[ns_ + "/sessions"]->port(),
                                            .username = "tester",
                                            .password = "tester-password"});
  ASSERT_TRUE(writer) << writer.error();
  const std::string prefix = ns_ + ":sessions:";
  for (int i = 0; i < 2600; ++i) {
    ASSERT_TRUE((*writer)->command({"SET", prefix + "s" + std::to_string(i), "x"}));
  }
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE((*writer)->command({"SET", "other-app:s" + std::to_string(i), "x"}));
  }
  // ceil(2600 / 500) = 6; counting the 5000 others would ask for 16 (capped at 10).
  ASSERT_TRUE(eventually([&] { return replicas("sessions") == 6; }, 120s))
      << describeStore("sessions");
  // Two more polls, each known by the count it reports (status.autoscaling.metrics[0].current)
  // after one more key under the prefix: the 5000 others still count for nothing, it stays at 6.
  for (const int sessions : {2601, 2602}) {
    ASSERT_TRUE((*writer)->command({"SET", prefix + "s" + std::to_string(sessions - 1), "x"}));
    const auto polled = [&] {
      const Json metrics = mustGet("sessionstore", "sessions")["status"]
                               .value("autoscaling", Json::object())
                               .value("metrics", Json::array());
      return !metrics.empty() && metrics[0].value("current", "") == std::to_string(sessions) &&
             metrics[0].value("recommendedReplicas", 0) == 6;
    };
    EXPECT_EQ(consistentlyUntil([&] { return replicas("sessions") == 6; }, polled, 60s),
              Held::kUntilTheMarker)
        << describeStore("sessions");
  }
  EXPECT_TRUE(eventually(
      [&] { return scaleEvents().find("active sessions 2600") != std::string::npos; }, 20s))
      << scaleEvents();
}

// An exporter in this process: a request-duration histogram whose observations all take
// `seconds`, growing at every scrape, as a real app's would under steady load.
class Exporter {
 public:
  explicit Exporter(double seconds) : seconds_(seconds) {
    server_->handle("/metrics", [this](const httpserver::Request&) {
      const long n = (count_ += 50);
      const double bounds[] = {0.5, 1, 2.5, 5};
      std::string text = "# TYPE app_request_duration_seconds histogram\n";
      for (const double le : bounds) {
        text += "app_request_duration_seconds_bucket{le=\"" + number(le) + "\"} " +
                std::to_string(seconds_ <= le ? n : 0) + "\n";
      }
      text += "app_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(n) + "\n";
      text +=
          "app_request_duration_seconds_sum " + number(seconds_ * static_cast<double>(n)) + "\n";
      text += "app_request_duration_seconds_count " + std::to_string(n) + "\n";
      return httpserver::Response{.contentType = "text/plain; version=0.0.4", .body = text};
    });
    port_ = server_->start("127.0.0.1", 0).value();
  }
  std::uint16_t port() const { return port_; }

 private:
  static std::string number(double v) {
    std::ostringstream out;
    out << v;
    return out.str();
  }
  const double seconds_;
  std::atomic<long> count_{0};
  std::unique_ptr<httpserver::HttpServer> server_ = httpserver::makeBeastHttpServer();
  std::uint16_t port_ = 0;
};

// A free loopback port (bound, read, released).
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(AutoscalingIntegration, LatencyFromARealPrometheusAboveTheTargetScalesUp) {
  Exporter exporter(3.0);  // every request takes 3 s: p95 well above the 2 s target
  const std::string dir = plane_->dir() + "/prometheus-" + ns_;
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/prometheus.yml")
      << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
         "scrape_configs:\n"
         "- job_name: app\n"
         "  static_configs: [{targets: ['127.0.0.1:"
      << exporter.port() << "']}]\n";
  const int port = freePort();
  ChildProcess prometheus({"prometheus", "--config.file=" + dir + "/prometheus.yml",
                           "--storage.tsdb.path=" + dir + "/data",
                           "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                          dir + "/prometheus.log");
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::string query =
      "histogram_quantile(0.95, sum by (le) (rate(app_request_duration_seconds_bucket[10s])))";
  ASSERT_TRUE(eventually(
      [&] {
        const auto r = runProcess(
            {"curl", "-sf", url + "/api/v1/query", "--data-urlencode", "query=" + query});
        return r.ok() && r.out.find("\"value\"") != std::string::npos;
      },
      60s))
      << "Prometheus does not answer the query:\n"
      << prometheus.output();

  apply(appYaml("latency"));
  apply(autoscaledStoreYaml(
      "latency", 4,
      "    - type: Latency\n      targetValue: 2s\n      prometheus:\n        url: " + url +
          "\n        query: '" + query + "'\n"));
  ASSERT_NO_FATAL_FAILURE(readyAndMeasured("latency"));
  // p95 about 4.9 s against 2 s: ceil(2 * 4.9 / 2) = 5, capped at maxReplicas 4.
  ASSERT_TRUE(eventually([&] { return replicas("latency") == 4; }, 120s))
      << describeStore("latency");
  EXPECT_TRUE(eventually([&] { return scaleEvents().find("latency") != std::string::npos; }, 20s))
      << scaleEvents();
  const Json metric = mustGet("sessionstore", "latency")["status"]["autoscaling"]["metrics"][0];
  EXPECT_EQ(metric["type"], "Latency");
  EXPECT_EQ(metric["target"], "2s");
}

TEST_F(AutoscalingIntegration, AnHpaOnTheDeploymentMeansNoScalingAndAConditionSaysWhy) {
  apply(appYaml("neighbour"));
  apply(R"(
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: neighbour-hpa}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: neighbour}
  minReplicas: 2
  maxReplicas: 2
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
)");
  apply(autoscaledStoreYaml("neighbour", 5, "    - {type: CPU, targetAverageUtilization: 80}\n"));
  playNode("neighbour");
  ASSERT_TRUE(eventually(
      [&] {
        return conditionIs("neighbour", "AutoscalingActive", "False",
                           "HorizontalPodAutoscalerPresent");
      },
      60s))
      << describeStore("neighbour");
  EXPECT_NE(condition("neighbour", "AutoscalingActive")->value("message", "").find("neighbour-hpa"),
            std::string::npos);
  // The condition can come before the Deployment's pods exist: wait for them to annotate them,
  // and for the pods of the wired Deployment (wiring rolls it; new pods would not carry the
  // load annotated on the old ones).
  ASSERT_TRUE(eventually([&] { return phase("neighbour") == "Ready"; }))
      << describeStore("neighbour");
  const auto rolled = inNs({"rollout", "status", "deployment/neighbour", "--timeout=90s"});
  ASSERT_TRUE(rolled.ok()) << rolled.describe();
  ASSERT_TRUE(eventually(
      [&] { return mustGet("deployment", "neighbour")["status"].value("readyReplicas", 0) == 2; },
      90s))
      << inNs({"get", "pods", "-o", "wide"}).out;
  const auto annotated = inNs(
      {"annotate", "pods", "-l", "app=neighbour", "--overwrite", "kwok.x-k8s.io/usage-cpu=1000m"});
  ASSERT_TRUE(annotated.ok()) << annotated.describe();
  // The load is there for anyone who asks (metrics.k8s.io shows each pod near 1000m, which
  // would ask for 5), and the operator has polled since: a spec change that changes nothing it
  // scales by (workers.max) is seen in AutoscalingActive's observedGeneration, which only a poll
  // writes. Until then and after it, the Deployment stays at 2.
  ASSERT_TRUE(eventually(
      [&] {
        const auto listed = kubectl({"get", "--raw",
                                     "/apis/metrics.k8s.io/v1beta1/namespaces/" + ns_ +
                                         "/pods?labelSelector=app%3Dneighbour"});
        if (!listed.ok()) return false;
        const Json items = Json::parse(listed.out).value("items", Json::array());
        if (items.size() != 2) return false;
        for (const auto& pod : items) {
          for (const auto& container : pod.value("containers", Json::array())) {
            if (milliCores(container["usage"].value("cpu", "0")) < 900) return false;
          }
        }
        return true;
      },
      180s))  // as long as the CPU test gives the same path (kwok, metrics-server) to scale
      << kubectl({"get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/" + ns_ + "/pods"}).out;
  const auto generation0 = mustGet("sessionstore", "neighbour")["metadata"].value("generation", 0);
  ASSERT_TRUE(inNs({"patch", "sessionstore", "neighbour", "--type=merge", "-p",
                    R"({"spec":{"workers":{"max":31}}})"})
                  .ok());
  const auto polledSince = [&] {
    const auto active = condition("neighbour", "AutoscalingActive");
    return active && active->value("observedGeneration", 0) > generation0 &&
           active->value("reason", "") == "HorizontalPodAutoscalerPresent";
  };
  EXPECT_EQ(consistentlyUntil([&] { return replicas("neighbour") == 2; }, polledSince, 60s),
            Held::kUntilTheMarker)
      << describeStore("neighbour");
  EXPECT_EQ(scaleEvents(), "");
  EXPECT_EQ(phase("neighbour"), "Ready") << "an HPA must not make the SessionStore unready";
}

}  // namespace
}  // namespace sessionstore::testing
