// What a SessionStore should make exist, as pure functions of the spec and of what was read from
// the cluster: the managed store's objects in the order they are applied, the endpoint a client
// reaches, the connection Secret and the Deployment's apply body. The reconciler compares these
// with what it observes; `plan` prints them. No client, no clock, no randomness (the passwords
// are an input).
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/session_store.h"
#include "identity/identity.h"
#include "managedstore/managed_store.h"
#include "wiring/connection.h"
#include "wiring/wiring.h"

namespace sessionstore::reconcile {

using Json = nlohmann::json;

// The labels of a Deployment's pod template (spec.template.metadata.labels); empty when absent.
managedstore::Labels podTemplateLabels(const Json& deployment);

// The operator's pods in `operatorNamespace`, as the NetworkPolicy admits them (the probes and
// the monitor user's reads come from there).
managedstore::OperatorPeer operatorPeer(const std::string& operatorNamespace);

// The managed store's objects, in the order they are applied: the password Secret, the config
// ConfigMap, the headless and the client Service, the StatefulSet, the PodDisruptionBudget when
// the store has more than one replica, and the NetworkPolicy when
// `targetPodLabels` is given and not empty (without the target's labels no policy can admit
// exactly its pods, so none is written yet). `maxMemoryBytes`: the maxmemory the store has
// reached (spec.store.managed.memory, decideMemory), rendered into redis.conf and the container's
// memory limit instead of spec maxMemory; the pod template's config hash stays the spec's, so a
// raise restarts nothing.
// REQUIRES: store.spec.store.type is kManaged.
std::expected<std::vector<Json>, std::string> managedStoreObjects(
    const api::SessionStore& store, const managedstore::Passwords& passwords,
    const std::optional<managedstore::Labels>& targetPodLabels,
    const managedstore::OperatorPeer& operatorPeer,
    std::optional<std::int64_t> maxMemoryBytes = std::nullopt);

// Where clients of the managed store connect: its client Service's cluster DNS name
// (<name>-redis.<namespace>.svc:6379), as the app user.
wiring::StoreEndpoint managedEndpoint(const api::SessionStore& store,
                                      const managedstore::Passwords& passwords);

// The external store's endpoint from its URL (redis:// or rediss://); the error says what is wrong
// with the URL and never repeats its password.
std::expected<wiring::StoreEndpoint, std::string> externalEndpoint(std::string_view url);

// Everything that wires the target Deployment to its store.
struct Wiring {
  Json connectionSecret;       // the Secret the env entries refer to
  std::string connectionHash;  // of the Secret's data
  wiring::DeploymentWiring deployment;
  Json deploymentApply;  // the server-side-apply body for the Deployment
};

// The connection Secret and the Deployment's apply body for `deployment` (as read from the API
// server, or from a file for `plan`), with pools sized for `replicasBound` replicas (see
// wiring::ReplicasBound: never the live replicas). The Secret's REDIS_MAX_CONNECTIONS is the
// smallest pool size of the wired containers, so no container is told more than its share.
// Errors (with what to fix) when a named container is missing or the Deployment is malformed.
std::expected<Wiring, std::string> desiredWiring(const api::SessionStore& store,
                                                 const wiring::StoreEndpoint& endpoint,
                                                 const Json& deployment, int replicasBound,
                                                 std::optional<int> serverMaxClients = {});

}  // namespace sessionstore::reconcile
