#include "autoscaling/scaling_controller.h"

#include <cmath>
#include <sstream>
#include <utility>

#include "api/conditions.h"
#include "clock/time_format.h"
#include "crypto/crypto.h"
#include "kube/config.h"
#include "kube/json_path.h"
#include "managedstore/managed_store.h"
#include "managedstore/tls.h"
#include "reconcile/desired.h"
#include "wiring/wiring.h"

namespace sessionstore::autoscaling {
namespace {

using kube::at;
using kube::ErrorKind;
using kube::integerAt;
using kube::Json;
using kube::splitKey;

std::string describe(const kube::Error& error) {
  return error.message.empty() ? "the API server answered " + std::to_string(error.httpStatus)
                               : error.message;
}

std::string number(double value) {
  std::ostringstream out;
  out.precision(3);
  out << value;
  return out.str();
}

// status.autoscaling.metrics[i]: what one source measured, against what, and what it asked for.
Json metricStatus(const api::Metric& metric, const scalepolicy::SourceResult& result) {
  Json out = {{"type", api::toString(metric.type)}};
  if (!result) {
    out["error"] = result.error().reason;
    return out;
  }
  const auto& r = *result;
  switch (metric.type) {
    case api::MetricType::kCPU:
    case api::MetricType::kMemory:
      out["current"] = std::to_string(std::lround(r.value)) + "%";
      out["target"] = std::to_string(std::lround(r.target)) + "%";
      break;
    case api::MetricType::kActiveSessions:
    case api::MetricType::kStoreClients:
      out["current"] = std::to_string(std::llround(r.value));
      out["target"] = std::to_string(std::lround(r.target)) + " per replica";
      break;
    case api::MetricType::kLatency:
      out["current"] = number(r.value) + "s";
      out["target"] = number(r.target) + "s";
      break;
  }
  out["recommendedReplicas"] = r.replicas;
  return out;
}

}  // namespace

struct ScalingController::StoreState {
  explicit StoreState(const clock::Clock& clock) : autoscaler(clock) {}
  scalepolicy::Autoscaler autoscaler;
  std::unique_ptr<StoreConnection> connection;
  std::string lastScaleTime;
  std::string lastScaleReason;
};

ScalingController::ScalingController(kube::Client& client, events::EventRecorder* recorder,
                                     std::shared_ptr<health::AddressMap> addresses,
                                     TransportFactory prometheus, ScalingOptions options,
                                     const clock::Clock& clock, metrics::OperatorMetrics* metrics)
    : client_(client),
      recorder_(recorder),
      addresses_(std::move(addresses)),
      prometheus_(std::move(prometheus)),
      options_(options),
      clock_(clock),
      metrics_(metrics),
      log_(logging::defaultLogger()),
      poller_([this](const std::string& key) { return poll(key); }, options.threads, clock) {}

ScalingController::~ScalingController() { stop(); }

void ScalingController::start() { poller_.start(); }
void ScalingController::stop() { poller_.stop(); }

void ScalingController::observe(const api::SessionStore& store) {
  const std::string key = store.metadata.ns + "/" + store.metadata.name;
  if (store.spec.autoscaling.enabled && !store.metadata.deletionTimestamp) {
    poller_.track(key);
  } else {
    forget(key);
  }
}

void ScalingController::forget(const std::string& key) {
  poller_.untrack(key);
  std::lock_guard lock(mu_);
  states_.erase(key);
}

ScalingController::StoreState& ScalingController::stateFor(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& state = states_[key];
  if (!state) state = std::make_unique<StoreState>(clock_);
  return *state;
}

std::optional<clock::Duration> ScalingController::poll(const std::string& key) {
  const auto [ns, name] = splitKey(key);
  const auto log = log_.forSessionStore(ns, name);
  auto raw = client_.get(kube::resources::kSessionStores, ns, name);
  if (!raw) {
    if (raw.error().kind == ErrorKind::kNotFound) {
      std::lock_guard lock(mu_);
      states_.erase(key);
      return std::nullopt;
    }
    return options_.retryAfterError;
  }
  auto parsed = api::parseSessionStore(*raw);
  if (!parsed || parsed->metadata.deletionTimestamp || !parsed->spec.autoscaling.enabled) {
    std::lock_guard lock(mu_);
    states_.erase(key);
    return std::nullopt;
  }
  const api::SessionStore& store = *parsed;
  const auto& spec = store.spec;
  const clock::Duration interval = std::chrono::seconds(spec.autoscaling.pollIntervalSeconds);
  StoreState& state = stateFor(key);
  const events::ObjectReference regarding{.apiVersion = std::string(api::kApiVersion),
                                          .kind = std::string(api::kKind),
                                          .ns = ns,
                                          .name = name,
                                          .uid = store.metadata.uid};

  // What the condition will say, and the status figures.
  bool active = false;
  std::string reason, message;
  std::optional<int> desiredReplicas;
  Json metricsStatus = Json::array();

  auto deployment = client_.get(kube::resources::kDeployments, ns, spec.target.deployment);
  if (!deployment) {
    if (deployment.error().kind != ErrorKind::kNotFound) return options_.retryAfterError;
    reason = std::string(api::kReasonDeploymentNotFound);
    message = "Deployment " + spec.target.deployment + " does not exist: nothing to scale";
  }

  // Neighbours that already scale the Deployment.
  if (reason.empty()) {
    const auto targets = [&](const Json& object) {
      const Json* ref = at(object, {"spec", "scaleTargetRef"});
      return ref != nullptr && ref->is_object() &&
             ref->value("name", "") == spec.target.deployment &&
             ref->value("kind", "Deployment") == "Deployment";
    };
    // Any recent version will do (resourceVersion "0"): the operator's client answers these
    // lists from its caches of HPAs and ScaledObjects, so a poll asks the server only for the
    // pods and their metrics.
    auto hpas = client_.list(kube::resources::kHorizontalPodAutoscalers, ns,
                             {.resourceVersion = "0"});
    if (!hpas && hpas.error().kind != ErrorKind::kNotFound) return options_.retryAfterError;
    if (hpas) {
      for (const Json& hpa : hpas->items) {
        if (!targets(hpa)) continue;
        reason = std::string(api::kReasonHorizontalPodAutoscalerPresent);
        message = "HorizontalPodAutoscaler " + hpa["metadata"].value("name", "") +
                  " already scales Deployment " + spec.target.deployment +
                  ": the operator does not scale it too; delete the HPA, or set "
                  "spec.autoscaling.enabled to false";
      }
    }
    // NotFound: KEDA is not installed.
    auto scaledObjects = client_.list(kScaledObjects, ns, {.resourceVersion = "0"});
    if (reason.empty() && scaledObjects) {
      for (const Json& scaled : scaledObjects->items) {
        if (!targets(scaled)) continue;
        reason = std::string(api::kReasonScaledObjectPresent);
        message = "KEDA ScaledObject " + scaled["metadata"].value("name", "") +
                  " already scales Deployment " + spec.target.deployment +
                  ": the operator does not scale it too; delete the ScaledObject, or set "
                  "spec.autoscaling.enabled to false";
      }
    }
  }

  std::optional<scalepolicy::Decision> decision;
  if (reason.empty()) {
    const int current = static_cast<int>(integerAt(*deployment, {"spec", "replicas"}).value_or(1));
    scalepolicy::Input input{.spec = spec.autoscaling, .currentReplicas = current};

    // Pods and their metrics, read once for CPU and Memory.
    std::optional<std::expected<std::pair<Json, Json>, std::string>> pods;
    const auto readPods = [&]() -> std::expected<std::pair<Json, Json>, std::string> {
      const Json* selector = at(*deployment, {"spec", "selector"});
      auto query = selector != nullptr ? selectorString(*selector)
                                       : std::expected<std::string, std::string>(
                                             std::unexpected("the Deployment has no selector"));
      if (!query) return std::unexpected(query.error());
      auto podList = client_.list(kube::resources::kPods, ns, {.labelSelector = *query});
      if (!podList) return std::unexpected("pods: " + describe(podList.error()));
      auto metricList = client_.list(kube::resources::kPodMetrics, ns, {.labelSelector = *query});
      if (!metricList) {
        return std::unexpected("metrics.k8s.io: " + describe(metricList.error()) +
                               " (is metrics-server running?)");
      }
      Json podsJson = {{"items", podList->items}};
      Json metricsJson = {{"items", metricList->items}};
      return std::pair{std::move(podsJson), std::move(metricsJson)};
    };

    // The store, for StoreClients, ActiveSessions and the capacity of an external store.
    std::optional<std::string> storeProblem;
    const auto connection = [&]() -> StoreConnection* {
      if (state.connection) return state.connection.get();
      redisclient::Endpoint endpoint{.connectTimeout = options_.storeTimeout,
                                     .commandTimeout = options_.storeTimeout};
      if (spec.store.type == api::StoreType::kManaged) {
        auto secret =
            client_.get(kube::resources::kSecrets, ns, managedstore::authSecretName(store));
        if (!secret) {
          storeProblem = "the store's password Secret: " + describe(secret.error());
          return nullptr;
        }
        auto passwords = managedstore::passwordsFromSecret(*secret);
        if (!passwords) {
          storeProblem = passwords.error();
          return nullptr;
        }
        const auto app = reconcile::managedEndpoint(store, *passwords);
        endpoint.host = app.host;
        endpoint.port = app.port;
        endpoint.username = std::string(managedstore::kMonitorUser);
        endpoint.password = passwords->monitor;
        if (spec.store.managed.tls.enabled) {
          // TLS only: verified against the store's CA (ca.crt of its certificate Secret, the
          // operator's or cert-manager's) by the Service's name, as the reconciler's probe does.
          auto tlsSecret =
              client_.get(kube::resources::kSecrets, ns, managedstore::tlsSecretName(store));
          auto served = tlsSecret ? managedstore::serverTlsFromSecret(*tlsSecret)
                                  : std::expected<managedstore::ServerTls, std::string>(
                                        std::unexpected(describe(tlsSecret.error())));
          if (!served || served->caPem.empty()) {
            storeProblem = "the store's certificate Secret " + managedstore::tlsSecretName(store) +
                           ": " + (served ? std::string("data.ca.crt: missing") : served.error());
            return nullptr;
          }
          endpoint.tls = true;
          endpoint.verification = {.serverName = app.host, .caPem = served->caPem};
        }
      } else {
        const auto& ref = spec.store.external->urlSecretRef;
        auto secret = client_.get(kube::resources::kSecrets, ns, ref.name);
        const Json* value = secret ? at(*secret, {"data", ref.key.c_str()}) : nullptr;
        const auto url = value != nullptr && value->is_string()
                             ? crypto::base64Decode(value->get<std::string>())
                             : std::unexpected(std::string("no such key"));
        auto parsedUrl = url ? redisclient::parseRedisUrl(*url)
                             : std::expected<redisclient::Endpoint, std::string>(
                                   std::unexpected("the URL Secret cannot be read"));
        if (!parsedUrl) {
          storeProblem = "the store's URL: " + parsedUrl.error();
          return nullptr;
        }
        endpoint.host = parsedUrl->host;
        endpoint.port = parsedUrl->port;
        endpoint.username = parsedUrl->username;
        endpoint.password = parsedUrl->password;
        endpoint.tls = parsedUrl->tls;
        endpoint.database = parsedUrl->database;
        // The same verification as the reconciler's probe (spec.store.external.tls); a CA that
        // cannot be read leaves the store's figures out, never unverified.
        if (const auto& tls = spec.store.external->tls; tls && endpoint.tls) {
          endpoint.verification.serverName = tls->serverName;
          endpoint.verification.insecureSkipVerify = tls->insecureSkipVerify;
          if (tls->caSecretRef) {
            auto caSecret = client_.get(kube::resources::kSecrets, ns, tls->caSecretRef->name);
            const Json* ca = caSecret ? at(*caSecret, {"data", tls->caSecretRef->key.c_str()})
                                      : nullptr;
            const auto pem = ca != nullptr && ca->is_string()
                                 ? crypto::base64Decode(ca->get<std::string>())
                                 : std::unexpected(std::string("no such key"));
            if (!pem) {
              storeProblem = "the store's CA (Secret " + tls->caSecretRef->name + " key \"" +
                             tls->caSecretRef->key + "\") cannot be read";
              return nullptr;
            }
            endpoint.verification.caPem = *pem;
          }
        }
      }
      StoreConnection::Resolve resolve;
      if (addresses_) {
        resolve = [addresses = addresses_](const std::string& host, int port) {
          return addresses->resolve(host, port);
        };
      }
      state.connection = std::make_unique<StoreConnection>(endpoint, std::move(resolve));
      return state.connection.get();
    };

    for (const api::Metric& metric : spec.autoscaling.metrics) {
      scalepolicy::SourceResult result = scalepolicy::failed(metric.type, "not measured");
      switch (metric.type) {
        case api::MetricType::kCPU:
        case api::MetricType::kMemory: {
          if (!pods) pods = readPods();
          if (!*pods) {
            result = scalepolicy::failed(metric.type, (*pods).error());
            break;
          }
          auto sample = podSample((*pods)->first, (*pods)->second,
                                  metric.type == api::MetricType::kCPU ? "cpu" : "memory",
                                  spec.target.containers);
          if (!sample) {
            result = scalepolicy::failed(metric.type, sample.error());
            break;
          }
          result = scalepolicy::utilizationRecommendation(
              current, sample->ready, sample->missing,
              static_cast<double>(metric.targetAverageUtilization.value_or(80)), metric.type);
          break;
        }
        case api::MetricType::kStoreClients:
        case api::MetricType::kActiveSessions: {
          StoreConnection* conn = connection();
          if (conn == nullptr) {
            result = scalepolicy::failed(metric.type, storeProblem.value_or("no store"));
            break;
          }
          std::expected<std::int64_t, std::string> total =
              metric.type == api::MetricType::kStoreClients
                  ? conn->connectedClients()
                  : conn->keysUnder(api::keyPrefix(store));
          // The operator's own connections are among the store's clients: this one and the
          // health monitor's kept one (health/health_monitor.h). Count the app's only.
          constexpr std::int64_t kOperatorConnections = 2;
          if (total && metric.type == api::MetricType::kStoreClients) {
            total = std::max<std::int64_t>(*total - kOperatorConnections, 0);
          }
          if (!total) {
            result = scalepolicy::failed(metric.type, "store: " + total.error());
            break;
          }
          result = scalepolicy::valueRecommendation(
              current, static_cast<double>(*total),
              static_cast<double>(metric.targetPerReplica.value_or(1)), metric.type);
          break;
        }
        case api::MetricType::kLatency: {
          const auto target = scalepolicy::latencySeconds(metric.targetValue.value_or(""));
          if (!target || !metric.prometheus) {
            result =
                scalepolicy::failed(metric.type, target ? "no prometheus query" : target.error());
            break;
          }
          // Checked now, right before the query: the addresses the host resolves to today.
          if (const std::string refused = options_.prometheusHosts.check(metric.prometheus->url);
              !refused.empty()) {
            const auto index = &metric - spec.autoscaling.metrics.data();
            result = scalepolicy::failed(metric.type, "spec.autoscaling.metrics[" +
                                                          std::to_string(index) +
                                                          "].prometheus.url refused: " + refused +
                                                          "; point it at the cluster's Prometheus");
            break;
          }
          auto http =
              prometheus_
                  ? prometheus_(metric.prometheus->url, options_.prometheusTimeout)
                  : transport::Result<std::unique_ptr<transport::Transport>>(std::unexpected(
                        transport::Failure{.message = "no HTTP client for Prometheus"}));
          if (!http) {
            result = scalepolicy::failed(metric.type, "prometheus: " + http.error().message);
            break;
          }
          auto answer = (*http)->send({.method = "GET",
                                       .target = prometheusQueryTarget(metric.prometheus->query),
                                       .headers = {{"Accept", "application/json"}}});
          if (!answer) {
            result = scalepolicy::failed(metric.type, "prometheus " + metric.prometheus->url +
                                                          ": " + answer.error().message);
            break;
          }
          auto value = parsePrometheusValue(answer->body);
          if (!value) {
            result = scalepolicy::failed(
                metric.type, "prometheus " + metric.prometheus->url + " (HTTP " +
                                 std::to_string(answer->status) + "): " + value.error());
            break;
          }
          result = scalepolicy::valueRecommendation(current, *value, *target, metric.type);
          break;
        }
      }
      metricsStatus.push_back(metricStatus(metric, result));
      input.sources.push_back(std::move(result));
    }

    // What the store can serve: workers and pool size as the reconciler wired them.
    const Json status = raw->contains("status") ? (*raw)["status"] : Json::object();
    input.capacity.workersPerReplica =
        static_cast<int>(integerAt(status, {"target", "workers"}).value_or(0));
    input.capacity.poolSize =
        static_cast<int>(integerAt(status, {"target", "poolSize"}).value_or(0));
    if (spec.store.type == api::StoreType::kManaged) {
      input.capacity.maxClients = spec.store.managed.maxClients;
    } else if (StoreConnection* conn = connection()) {
      if (auto maxClients = conn->maxClients(); maxClients && *maxClients) {
        input.capacity.maxClients = **maxClients;
      }
    }

    decision = state.autoscaler.decide(input);
    desiredReplicas = decision->desiredReplicas;
    if (!decision->active) {
      reason = std::string(api::kReasonScaledToZero);
      message = "Deployment " + spec.target.deployment +
                " has 0 replicas: autoscaling resumes when it is scaled up";
    } else {
      if (decision->desiredReplicas != current) {
        const Json scale = {{"apiVersion", "autoscaling/v1"},
                            {"kind", "Scale"},
                            {"metadata", {{"name", spec.target.deployment}, {"namespace", ns}}},
                            {"spec", {{"replicas", decision->desiredReplicas}}}};
        auto applied = client_.patch(kube::resources::kDeployments, ns, spec.target.deployment,
                                     kube::PatchType::kApply, scale,
                                     {.fieldManager = std::string(identity::kFieldManager),
                                      .force = true,
                                      .subresource = "scale"});
        if (!applied) {
          log.warn("cannot scale", {{"error", describe(applied.error())}});
          if (recorder_ != nullptr) {
            recorder_->record(regarding, events::EventType::kWarning, "ScaleFailed", "Scale",
                              "cannot scale Deployment " + spec.target.deployment + " to " +
                                  std::to_string(decision->desiredReplicas) + ": " +
                                  describe(applied.error()));
          }
          return options_.retryAfterError;
        }
        state.lastScaleTime = clock::formatTime(clock_.wallNow());
        state.lastScaleReason = decision->reason;
        log.info("scaled", {{"deployment", spec.target.deployment},
                            {"from", std::to_string(current)},
                            {"to", std::to_string(decision->desiredReplicas)},
                            {"reason", decision->reason}});
        if (recorder_ != nullptr) {
          recorder_->record(regarding, events::EventType::kNormal, "Scaled", "Scale",
                            "Deployment " + spec.target.deployment + ": " + decision->reason);
        }
        if (metrics_ != nullptr) {
          metrics_->scaleEventsTotal
              .withLabels({ns, name, decision->desiredReplicas > current ? "up" : "down"})
              ->inc();
        }
      }
      active = true;
      if (!decision->failed.empty()) {
        active = false;
        reason = std::string(api::kReasonMetricsUnavailable);
        message.clear();
        for (const auto& failure : decision->failed) {
          message += (message.empty() ? "" : "; ") +
                     std::string(scalepolicy::metricName(failure.type)) + ": " + failure.reason;
        }
        message += "; no scale-down until every source answers (" + decision->reason + ")";
      } else if (decision->capacity.binds) {
        reason = std::string(api::kReasonStoreCapacityLimited);
        message = decision->capacity.note + " (" + decision->reason + ")";
      } else {
        reason = std::string(api::kReasonScaling);
        message = decision->reason;
      }
    }
  }
  if (metrics_ != nullptr && desiredReplicas) {
    metrics_->replicasDesired.withLabels({ns, name})->set(*desiredReplicas);
  }

  // The status: the AutoscalingActive condition, status.target's scale fields and the metrics,
  // laid over the status as last read. The reconciler writes the same object: a conflict means
  // it wrote in between, so the write is made again over a fresh read (as client-go's
  // RetryOnConflict), else the scale just made would not show until the next poll.
  const auto withScaleStatus = [&](Json status) {
    Json condition = {{"type", api::kConditionAutoscalingActive},
                      {"status", active ? api::kStatusTrue : api::kStatusFalse},
                      {"reason", reason},
                      {"message", message},
                      {"observedGeneration", store.metadata.generation},
                      {"lastTransitionTime", clock::formatTime(clock_.wallNow())}};
    Json conditions = Json::array();
    bool placed = false;
    if (const Json* list = at(status, {"conditions"}); list != nullptr && list->is_array()) {
      for (const Json& c : *list) {
        if (c.value("type", "") == api::kConditionAutoscalingActive) {
          if (c.value("status", "") == condition["status"]) {
            condition["lastTransitionTime"] = c.value("lastTransitionTime", std::string());
          }
          conditions.push_back(condition);
          placed = true;
        } else {
          if (!placed && c.value("type", "") == api::kConditionReady) {
            conditions.push_back(condition);
            placed = true;
          }
          conditions.push_back(c);
        }
      }
    }
    if (!placed) conditions.push_back(condition);
    status["conditions"] = std::move(conditions);
    if (desiredReplicas) status["target"]["desiredReplicas"] = *desiredReplicas;
    if (!state.lastScaleTime.empty()) {
      status["target"]["lastScaleTime"] = state.lastScaleTime;
      status["target"]["lastScaleReason"] = state.lastScaleReason;
    }
    status["autoscaling"] = {{"metrics", metricsStatus}};
    return status;
  };
  constexpr int kWriteAttempts = 3;
  Json current = std::move(*raw);
  for (int attempt = 1; attempt <= kWriteAttempts; ++attempt) {
    const Json before = current.contains("status") ? current["status"] : Json::object();
    Json status = withScaleStatus(before);
    if (status == before) break;
    current["status"] = std::move(status);
    auto written = client_.update(kube::resources::kSessionStores, ns, current, "status");
    if (written) break;
    if (written.error().kind != ErrorKind::kConflict || attempt == kWriteAttempts) {
      // The next poll writes again.
      log.info("cannot write the autoscaling status, the next poll will",
               {{"error", describe(written.error())}, {"attempt", std::to_string(attempt)}});
      break;
    }
    // From the server (a cache may not hold the write that conflicted yet): the status
    // subresource answers with the whole object.
    auto fresh = client_.get(kube::resources::kSessionStores, ns, name, "status");
    if (!fresh) break;
    const auto uid = at(*fresh, {"metadata", "uid"});
    if (uid == nullptr || !uid->is_string() || uid->get<std::string>() != store.metadata.uid) {
      break;  // deleted and made again: the next poll starts over
    }
    current = std::move(*fresh);
  }
  return interval;
}

}  // namespace sessionstore::autoscaling
