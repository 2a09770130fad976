// How the target Deployment is wired to its session store (PRODUCT.md, items 4 and 6): the
// worker count of each wired container from its CPU, the per-worker connection pool size, and the
// server-side-apply body that puts both, the store's URL and the key prefix (by secretKeyRef,
// never inline) and the connection-hash annotation on the Deployment. Pure functions: no client,
// no clock. The body holds only the fields the operator owns, so that a GitOps tool applying the
// same Deployment keeps its own, and removing them is applying a body without them.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/session_store.h"
#include "identity/identity.h"
#include "quantity/quantity.h"

namespace sessionstore::wiring {

using Json = nlohmann::json;

// Keys of the connection Secret the env entries refer to.
inline constexpr std::string_view kUrlSecretKey = "REDIS_URL";
inline constexpr std::string_view kKeyPrefixSecretKey = "SESSION_KEY_PREFIX";
// The env var that carries the key prefix (its name is fixed by the contract).
inline constexpr std::string_view kKeyPrefixEnvVar = "SESSION_KEY_PREFIX";
// A store whose certificate the app must verify against a CA it cannot know (a managed TLS store:
// the operator's CA, or the issuer's): the connection Secret's ca.crt reaches each wired container
// as a file, from a Secret volume mounted read-only, and the file's path in kCaFileEnvVar (a TLS
// client takes a CA as a file: redis-py's ssl_ca_certs, go-redis's tls.Config from a PEM file,
// node-redis's `tls.ca`). The names are fixed, as the key prefix's: a Deployment that already
// has a volume or mount or env entry by one of them is refused, not overwritten.
inline constexpr std::string_view kCaSecretKey = "ca.crt";
inline constexpr std::string_view kCaVolumeName = "sessionstore-ca";
inline constexpr std::string_view kCaMountPath = "/var/run/sessionstore";
inline constexpr std::string_view kCaFileEnvVar = "REDIS_CA_FILE";
inline constexpr std::string_view kCaFilePath = "/var/run/sessionstore/ca.crt";

// The CPU a container's workers are sized from: its resources.limits.cpu, else its
// resources.requests.cpu, else 1. `container` is one entry of a pod spec's containers; a
// quantity may be a string or a number, as the API server accepts. A malformed quantity is an
// error naming the field.
std::expected<quantity::Quantity, std::string> containerCpu(const Json& container);

// clamp(ceil(cpu * perCPU) + offset, min, max), whatever the magnitude of cpu.
// REQUIRES: min <= max (api::parseSessionStore guarantees it for a spec's workers).
int workerCount(const quantity::Quantity& cpu, double perCPU, int offset, int min, int max);

// workerCount with the CPU of `container` and the formula of `workers`.
std::expected<int, std::string> workerCount(const Json& container, const api::Workers& workers);

// Where the bound on the app's replicas that the connection pools are sized for comes from. The
// bound is stable by design: never the live spec.replicas, so that a scale (kubectl scale, a
// HorizontalPodAutoscaler step) within it changes nothing in the pod template and rolls no pod.
enum class BoundSource {
  kAutoscaling,              // spec.autoscaling.maxReplicas (the operator autoscales)
  kHorizontalPodAutoscaler,  // spec.maxReplicas of an HPA that targets the Deployment
  kScaledObject,             // spec.maxReplicaCount of a KEDA ScaledObject that targets it
  kTargetMaxReplicas,        // spec.target.maxReplicas, or api::kDefaultTargetMaxReplicas
};

struct ReplicasBound {
  int replicas = api::kDefaultTargetMaxReplicas;  // at least 1
  BoundSource source = BoundSource::kTargetMaxReplicas;
  std::string scaler;  // the HPA's or ScaledObject's name; "" for the other sources
  bool operator==(const ReplicasBound&) const = default;
};

// The bound from the spec alone, when no HorizontalPodAutoscaler or ScaledObject targets the
// Deployment: autoscaling.maxReplicas when autoscaling is enabled, else target.maxReplicas, else
// api::kDefaultTargetMaxReplicas.
ReplicasBound specReplicasBound(const api::SessionStoreSpec& spec);

// Where the bound comes from, for messages: "spec.target.maxReplicas",
// "HorizontalPodAutoscaler web's maxReplicas", ...
std::string describeBound(const ReplicasBound& bound);
// What a user changes to raise it, for messages.
std::string howToRaiseBound(const ReplicasBound& bound);

// Connections per worker process: spec.connection.poolSize when > 0, else
// floor(0.9 * maxClients / (replicasBound * workers)), at least 2. maxClients is
// `serverMaxClients` when given (an external store's maxclients, read from the server), else
// spec.store.managed.maxClients. replicasBound and workers below 1 count as 1.
int poolSize(const api::SessionStoreSpec& spec, int replicasBound, int workers,
             std::optional<int> serverMaxClients = std::nullopt);

// What one container of the target gets.
struct ContainerWiring {
  std::string name;
  int workers = 1;
  int poolSize = 2;
  bool operator==(const ContainerWiring&) const = default;
};

// Everything the apply body is built from.
struct DeploymentWiring {
  std::string ns;
  std::string store;  // the SessionStore's name, the value of identity::kWiredByLabel
  std::string deployment;
  std::string secretName;  // the connection Secret
  std::string urlEnvVar;
  std::string poolSizeEnvVar;
  std::string workersEnvVar;
  std::string connectionHash;
  // The connection Secret holds a CA the app must trust (kCaSecretKey): the pod gets the
  // kCaVolumeName volume, and each wired container its mount and kCaFileEnvVar.
  bool caFile = false;
  std::vector<ContainerWiring> containers;  // in the order of the pod template
  bool operator==(const DeploymentWiring&) const = default;
};

// Computes the wiring of `deployment` (the target, as read from the API server) for `store`:
// the containers named in spec.target.containers (all when empty), each with its workers from
// its CPU and its pool size for `replicasBound` replicas (ReplicasBound::replicas; the
// Deployment's own spec.replicas is not read, so a scale changes nothing here). Errors (with
// what to fix) when a named container is not in the pod template, or the Deployment or a
// container's CPU is malformed.
std::expected<DeploymentWiring, std::string> computeDeploymentWiring(
    const api::SessionStore& store, const Json& deployment, const std::string& connectionHash,
    int replicasBound, std::optional<int> serverMaxClients = std::nullopt);

// Whether every pod of `deployment` runs the pod template whose connection-hash annotation is
// `connectionHash`: the template carries it, the Deployment controller has seen that generation,
// and every replica is updated and available with no pod of an older template left (what
// `kubectl rollout status` waits for).
bool rolledOutWith(const Json& deployment, std::string_view connectionHash);

// The server-side-apply body for the target Deployment: apiVersion, kind, metadata.name and
// namespace, the identity::kWiredByLabel label naming the store, the connection-hash pod-template
// annotation and, for each wired container, its env entries: the URL and the key prefix by
// secretKeyRef to the connection Secret, the pool size and the worker count as values; with
// wiring.caFile, the CA's volume, its read-only mount and kCaFileEnvVar. Nothing else.
Json deploymentApplyConfiguration(const DeploymentWiring& wiring);

// The body that undoes the wiring (the finalizer's step): only apiVersion, kind and metadata.name
// and namespace. Applied under identity::kFieldManager, it releases every field the operator
// applied before (env entries, annotation and label), which the API server then removes unless
// another manager also owns them; nothing else of the Deployment changes.
Json deploymentUnwireConfiguration(const std::string& ns, const std::string& deployment);

}  // namespace sessionstore::wiring
