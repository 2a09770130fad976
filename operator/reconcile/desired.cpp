#include "reconcile/desired.h"

#include <algorithm>

#include "redisclient/redis_client.h"

namespace sessionstore::reconcile {

managedstore::Labels podTemplateLabels(const Json& deployment) {
  managedstore::Labels labels;
  const Json* node = &deployment;
  for (const char* key : {"spec", "template", "metadata", "labels"}) {
    if (!node->is_object() || !node->contains(key)) return labels;
    node = &(*node)[key];
  }
  if (!node->is_object()) return labels;
  for (const auto& [key, value] : node->items()) {
    if (value.is_string()) labels[key] = value.get<std::string>();
  }
  return labels;
}

managedstore::OperatorPeer operatorPeer(const std::string& operatorNamespace) {
  return {.namespaceLabels = {{"kubernetes.io/metadata.name", operatorNamespace}},
          .podLabels = {{std::string(identity::kOperatorPodNameLabel),
                         std::string(identity::kOperatorPodName)}}};
}

std::expected<std::vector<Json>, std::string> managedStoreObjects(
    const api::SessionStore& store, const managedstore::Passwords& passwords,
    const std::optional<managedstore::Labels>& targetPodLabels,
    const managedstore::OperatorPeer& operatorPeer, std::optional<std::int64_t> maxMemoryBytes) {
  std::vector<Json> objects;
  objects.push_back(managedstore::authSecret(store, passwords));
  api::SessionStore atLevel = store;
  if (maxMemoryBytes) {
    atLevel.spec.store.managed.maxMemory =
        quantity::Quantity::fromInt64(*maxMemoryBytes, quantity::Format::kBinarySI);
  }
  Json config = managedstore::configMap(atLevel, passwords);
  // The pods' config hash is the spec's (the floor's maxmemory): a raise, live already, changes
  // redis.conf for the next start of Redis but is no reason to restart it.
  const std::string hash =
      managedstore::configHash(maxMemoryBytes ? managedstore::configMap(store, passwords) : config);
  objects.push_back(std::move(config));
  objects.push_back(managedstore::headlessService(store));
  objects.push_back(managedstore::clientService(store));
  objects.push_back(managedstore::statefulSet(atLevel, hash));
  if (auto budget = managedstore::podDisruptionBudget(store)) objects.push_back(std::move(*budget));
  if (targetPodLabels && !targetPodLabels->empty()) {
    auto policy = managedstore::networkPolicy(store, *targetPodLabels, operatorPeer);
    if (!policy) return std::unexpected(policy.error());
    objects.push_back(std::move(*policy));
  }
  return objects;
}

wiring::StoreEndpoint managedEndpoint(const api::SessionStore& store,
                                      const managedstore::Passwords& passwords) {
  return {.host = managedstore::serviceName(store) + "." + store.metadata.ns + ".svc",
          .port = managedstore::kPort,
          .username = std::string(managedstore::kAppUser),
          .password = passwords.app,
          .tls = false};
}

std::expected<wiring::StoreEndpoint, std::string> externalEndpoint(std::string_view url) {
  const auto parsed = redisclient::parseRedisUrl(url);
  if (!parsed) return std::unexpected(parsed.error());
  return wiring::StoreEndpoint{.host = parsed->host,
                               .port = parsed->port,
                               .username = parsed->username,
                               .password = parsed->password,
                               .tls = parsed->tls,
                               .database = parsed->database};
}

std::expected<Wiring, std::string> desiredWiring(const api::SessionStore& store,
                                                 const wiring::StoreEndpoint& endpoint,
                                                 const Json& deployment, int replicasBound,
                                                 std::optional<int> serverMaxClients) {
  // The pool sizes come from the bound and each container's CPU; the hash
  // comes from the Secret, which holds the pool size: compute the sizes first.
  auto sizing =
      wiring::computeDeploymentWiring(store, deployment, "", replicasBound, serverMaxClients);
  if (!sizing) return std::unexpected(sizing.error());
  if (sizing->containers.empty()) {
    return std::unexpected("Deployment " + store.spec.target.deployment +
                           " has no container to wire");
  }
  int pool = sizing->containers.front().poolSize;
  for (const auto& container : sizing->containers) pool = std::min(pool, container.poolSize);

  Wiring out;
  out.connectionSecret = wiring::connectionSecret(store, endpoint, pool);
  out.connectionHash = wiring::connectionHash(out.connectionSecret);
  auto wired = wiring::computeDeploymentWiring(store, deployment, out.connectionHash, replicasBound,
                                               serverMaxClients);
  if (!wired) return std::unexpected(wired.error());
  out.deployment = std::move(*wired);
  const Json& secretData = out.connectionSecret["data"];
  out.deployment.caFile = secretData.contains(std::string(wiring::kCaSecretKey));
  out.deploymentApply = wiring::deploymentApplyConfiguration(out.deployment);
  return out;
}

}  // namespace sessionstore::reconcile
