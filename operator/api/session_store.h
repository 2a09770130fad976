// The SessionStore API (sessionstore.io/v1alpha1) as C++ types, and the parser that builds them
// from the object's JSON. Every field has the default that crds/sessionstore.io_sessionstores.yaml
// gives it, as a default member initializer, and parseSessionStore() applies those defaults
// itself when a field is absent or null: the API server applies them too, but `plan` reads
// SessionStores from files, without a server, and must see the same spec. A field of the wrong
// type is an error value naming the field path ("spec.workers.perCPU: must be a number"); so is
// what the code built from a spec relies on: enum values, the CRD's numeric ranges and
// cross-field rules, environment variable names (and the names reserved by api/env_names.h), the
// key prefix's characters (it becomes a Redis ACL pattern), the store image (an image reference,
// imageref/image_ref.h) and the latency format. Object-name patterns and string lengths are left to
// the API server. Parsing never throws; unknown fields are ignored, as the API server prunes them.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quantity/quantity.h"

namespace sessionstore::api {

using Json = nlohmann::json;

inline constexpr std::string_view kGroup = "sessionstore.io";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "sessionstore.io/v1alpha1";
inline constexpr std::string_view kKind = "SessionStore";

enum class StoreType { kManaged, kExternal };
enum class DeletionPolicy { kRetain, kDelete };
enum class AffinityMode { kClientIP, kNone, kUntilStoreReady };
enum class MetricType { kCPU, kMemory, kActiveSessions, kStoreClients, kLatency };

// The spelling of each value in the API ("Managed", "UntilStoreReady", "ActiveSessions", ...).
const char* toString(StoreType value);
const char* toString(DeletionPolicy value);
const char* toString(AffinityMode value);
const char* toString(MetricType value);

// spec.target.maxReplicas when it is not set: the default of autoscaling.maxReplicas, so that
// turning the operator's autoscaling on with its defaults keeps the pool size (and rolls nothing),
// and room for a plain Deployment of a few replicas to be scaled by hand without a roll.
inline constexpr int kDefaultTargetMaxReplicas = 10;

// spec.target: the workload whose replicas share sessions, in the SessionStore's namespace.
struct Target {
  std::string deployment;               // required, non-empty
  std::string service;                  // "": affinity is not managed
  std::vector<std::string> containers;  // empty: every container of the pod template
  // The most replicas the connection pools are sized for when nothing else bounds them (no
  // autoscaling, no HorizontalPodAutoscaler or ScaledObject): nullopt means
  // kDefaultTargetMaxReplicas. The parser refuses it together with autoscaling.enabled.
  std::optional<int> maxReplicas;
  bool operator==(const Target&) const = default;
};

// Resource name ("cpu", "memory", ...) to quantity.
using ResourceList = std::map<std::string, quantity::Quantity>;

struct ResourceRequirements {
  ResourceList limits;
  ResourceList requests;
  bool operator==(const ResourceRequirements&) const = default;
};

struct Persistence {
  bool enabled = true;
  quantity::Quantity size = quantity::Quantity::fromInt64(std::int64_t{1} << 30,
                                                          quantity::Format::kBinarySI);  // 1Gi
  std::string storageClassName;  // "": the cluster's default class
  bool operator==(const Persistence&) const = default;
};

// spec.store.managed.tls.issuerRef: a cert-manager issuer.
struct IssuerRef {
  std::string name;                   // required, non-empty
  std::string kind = "Issuer";        // Issuer | ClusterIssuer
  std::string group = "cert-manager.io";
  bool operator==(const IssuerRef&) const = default;
};

// spec.store.managed.tls: Redis serves TLS only. The certificate comes from cert-manager when
// issuerRef is set, else from a CA the operator keeps. The parser guarantees that issuerRef is
// set only when enabled.
struct ManagedTls {
  bool enabled = false;
  std::optional<IssuerRef> issuerRef;
  bool operator==(const ManagedTls&) const = default;
};

// The ladder that maxmemory climbs when it follows load (the seed's table: 64Mi, 128Mi, 256Mi,
// 512Mi, 1Gi), in bytes, lowest first.
inline constexpr std::int64_t kMemoryLadder[] = {std::int64_t{64} << 20, std::int64_t{128} << 20,
                                                 std::int64_t{256} << 20, std::int64_t{512} << 20,
                                                 std::int64_t{1} << 30};

// spec.store.managed.memory: maxmemory follows load, one ladder step at a time, from
// spec.store.managed.maxMemory (the floor: where it starts, and below which it never goes) up to
// `ceiling`, whenever used_memory stays above targetUtilization percent of it for windowSeconds.
// The parser guarantees maxMemory and ceiling are on kMemoryLadder, maxMemory <= ceiling, and no
// resources.limits.memory (the container's limit follows maxmemory).
struct MemoryScaling {
  quantity::Quantity ceiling =
      quantity::Quantity::fromInt64(std::int64_t{1} << 30, quantity::Format::kBinarySI);  // 1Gi
  int targetUtilization = 90;  // percent of maxmemory, 1 to 99
  int windowSeconds = 60;      // 0 to 3600
  bool operator==(const MemoryScaling&) const = default;
};

inline constexpr int kMinStoreReplicas = 1;
inline constexpr int kMaxStoreReplicas = 5;

// spec.store.managed: the Redis the operator runs. Meaningful only with StoreType::kManaged.
struct ManagedStore {
  std::string image = "redis:7.2-alpine";
  ResourceRequirements resources;
  quantity::Quantity maxMemory =
      quantity::Quantity::fromInt64(std::int64_t{64} << 20, quantity::Format::kBinarySI);  // 64Mi
  std::string evictionPolicy = "volatile-lru";  // one of the CRD's enum (Redis maxmemory-policy)
  int maxClients = 1000;
  Persistence persistence;
  DeletionPolicy deletionPolicy = DeletionPolicy::kRetain;
  ManagedTls tls;
  std::optional<MemoryScaling> memory;  // nullopt: maxmemory stays maxMemory
  // Redis pods: pod 0 starts as the primary, the others replicate from the primary, and the
  // operator fails over when the primary is lost. kMinStoreReplicas..kMaxStoreReplicas; with
  // `memory`, maxmemory is raised on every pod, so a promoted replica serves what the primary did.
  int replicas = 1;
  bool operator==(const ManagedStore&) const = default;
};

struct SecretKeySelector {
  std::string name;  // required
  std::string key = "url";
  bool operator==(const SecretKeySelector&) const = default;
};

// spec.store.external.tls: how the operator verifies a rediss:// store. Without it, a rediss://
// store is verified against the system's CAs and the URL's host. The parser guarantees that
// caSecretRef and insecureSkipVerify are not both set.
struct ExternalTls {
  std::optional<SecretKeySelector> caSecretRef;  // its key defaults to "ca.crt"
  std::string serverName;                        // "": the URL's host
  bool insecureSkipVerify = false;               // UNSAFE: no certificate verification
  bool operator==(const ExternalTls&) const = default;
};

// spec.store.external: a Redis the user already runs.
struct ExternalStore {
  SecretKeySelector urlSecretRef;
  std::optional<ExternalTls> tls;  // only with a rediss:// URL (checked when the URL is read)
  bool operator==(const ExternalStore&) const = default;
};

struct Store {
  StoreType type = StoreType::kManaged;
  ManagedStore managed;                   // defaults when absent
  std::optional<ExternalStore> external;  // set exactly when type is kExternal
  bool operator==(const Store&) const = default;
};

struct Connection {
  std::string secretName;  // "": see secretName()
  std::string urlEnvVar = "REDIS_URL";
  std::string keyPrefix;  // "": see keyPrefix()
  std::string poolSizeEnvVar = "REDIS_MAX_CONNECTIONS";
  int poolSize = 0;  // per worker process; 0: derived (wiring::poolSize)
  bool operator==(const Connection&) const = default;
};

struct Affinity {
  AffinityMode mode = AffinityMode::kUntilStoreReady;
  int timeoutSeconds = 3600;
  bool operator==(const Affinity&) const = default;
};

// workers = clamp(ceil(cpu * perCPU) + offset, min, max); the parser guarantees min <= max.
struct Workers {
  std::string envVar = "WORKERS";
  double perCPU = 2;
  int offset = 1;
  int min = 1;
  int max = 32;
  bool operator==(const Workers&) const = default;
};

struct PrometheusQuery {
  std::string url;
  std::string query;
  bool operator==(const PrometheusQuery&) const = default;
};

// One load signal. The parser guarantees that the target its type needs is set:
// targetAverageUtilization for kCPU and kMemory, targetPerReplica for kActiveSessions and
// kStoreClients, targetValue and prometheus for kLatency.
struct Metric {
  MetricType type = MetricType::kCPU;
  std::optional<int> targetAverageUtilization;  // percent of requests
  std::optional<int> targetPerReplica;
  std::optional<std::string> targetValue;  // a duration such as "250ms" or "2s"
  std::optional<PrometheusQuery> prometheus;
  bool operator==(const Metric&) const = default;
};

struct ScalingRules {
  int stabilizationWindowSeconds = 0;
  int maxReplicasPerStep = 1;
  bool operator==(const ScalingRules&) const = default;
};

struct Behavior {
  ScalingRules scaleUp{.stabilizationWindowSeconds = 0, .maxReplicasPerStep = 4};
  ScalingRules scaleDown{.stabilizationWindowSeconds = 300, .maxReplicasPerStep = 1};
  bool operator==(const Behavior&) const = default;
};

// The parser guarantees minReplicas <= maxReplicas, and at least one metric when enabled.
struct Autoscaling {
  bool enabled = false;
  int minReplicas = 2;
  int maxReplicas = 10;
  int pollIntervalSeconds = 15;
  std::vector<Metric> metrics;
  Behavior behavior;
  bool operator==(const Autoscaling&) const = default;
};

struct SessionStoreSpec {
  Target target;
  Store store;
  Connection connection;
  Affinity affinity;
  Workers workers;
  Autoscaling autoscaling;
  bool operator==(const SessionStoreSpec&) const = default;
};

// The part of metadata the operator reads.
struct ObjectMeta {
  std::string ns;  // metadata.namespace ("" when the object does not say, as in a plan file)
  std::string name;
  std::string uid;
  std::int64_t generation = 0;
  std::string resourceVersion;
  std::optional<std::string> deletionTimestamp;  // set once deletion has been requested
  std::vector<std::string> finalizers;
  bool operator==(const ObjectMeta&) const = default;
};

struct SessionStore {
  ObjectMeta metadata;
  SessionStoreSpec spec;
  bool operator==(const SessionStore&) const = default;
};

// Parses a SessionStore object (as the API server returns it, or as written in a file) and
// applies every default of the CRD. metadata.name and spec.target.deployment are required.
// Returns the first problem found, as "<field path>: <what is wrong>".
std::expected<SessionStore, std::string> parseSessionStore(const Json& object);

// A Latency metric's targetValue ("250ms", "2s": ^[0-9]+(\.[0-9]+)?(ms|s)$, the CRD's pattern) in
// seconds; the error says what the format is.
std::expected<double, std::string> latencySeconds(std::string_view text);

// The spec as JSON with every default spelled out (what `plan` prints as the effective spec):
// parseSessionStore of it gives `spec` back. Quantities are in canonical form; fields without a
// CRD default (target.service, target.containers, connection.secretName, connection.keyPrefix,
// persistence.storageClassName, a metric's unset targets) are left out when empty; managed is left
// out for an External store.
Json toJson(const SessionStoreSpec& spec);

// The Secret the connection is written to: spec.connection.secretName, else
// "<name>-session-store".
std::string secretName(const SessionStore& store);

// The prefix of every key the app may touch: spec.connection.keyPrefix, else
// "<namespace>:<name>:".
std::string keyPrefix(const SessionStore& store);

}  // namespace sessionstore::api
