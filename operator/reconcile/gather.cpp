#include "reconcile/gather.h"

#include <utility>

#include "managedstore/managed_store.h"

namespace sessionstore::reconcile {
namespace {

const Observed kNotRead;

}  // namespace

const Observed& Gathered::ownedObject(const std::string& what) const {
  const auto it = owned.find(what);
  return it == owned.end() ? kNotRead : it->second;
}

std::string describeObject(const Json& object) {
  std::string name;
  if (const auto metadata = object.find("metadata");
      metadata != object.end() && metadata->is_object()) {
    name = metadata->value("name", "");
  }
  return object.value("kind", "") + " " + name;
}

kube::Result<Observed> readObserved(kube::Client& client, const kube::Resource& resource,
                                    const std::string& ns, const std::string& name) {
  auto object = client.get(resource, ns, name);
  if (object) return Observed::found(std::move(*object));
  if (object.error().kind == kube::ErrorKind::kNotFound) return Observed::missing();
  return std::unexpected(object.error());
}

kube::Result<Gathered> gather(kube::Client& client, const api::SessionStore& store, bool fresh) {
  const std::string& ns = store.metadata.ns;
  Gathered out;
  auto deployment =
      readObserved(client, kube::resources::kDeployments, ns, store.spec.target.deployment);
  if (!deployment) return std::unexpected(deployment.error());
  out.deployment = std::move(deployment->object);
  if (!store.spec.target.service.empty()) {
    auto service = readObserved(client, kube::resources::kServices, ns, store.spec.target.service);
    if (!service) return std::unexpected(service.error());
    out.service = std::move(service->object);
  }
  if (store.spec.store.type == api::StoreType::kExternal) {
    auto secret = readObserved(client, kube::resources::kSecrets, ns,
                               store.spec.store.external->urlSecretRef.name);
    if (!secret) return std::unexpected(secret.error());
    out.urlSecret = std::move(*secret);
  }
  if (fresh) return out;

  struct Read {
    const kube::Resource* resource;
    std::string kind;
    std::string name;
  };
  std::vector<Read> reads;
  if (store.spec.store.type == api::StoreType::kManaged) {
    auto secret =
        readObserved(client, kube::resources::kSecrets, ns, managedstore::authSecretName(store));
    if (!secret) return std::unexpected(secret.error());
    out.passwordSecret = std::move(*secret);
    reads = {{&kube::resources::kConfigMaps, "ConfigMap", managedstore::configMapName(store)},
             {&kube::resources::kServices, "Service", managedstore::headlessServiceName(store)},
             {&kube::resources::kServices, "Service", managedstore::serviceName(store)},
             {&kube::resources::kStatefulSets, "StatefulSet", managedstore::statefulSetName(store)},
             {&kube::resources::kNetworkPolicies, "NetworkPolicy",
              managedstore::networkPolicyName(store)}};
  }
  reads.push_back({&kube::resources::kSecrets, "Secret", api::secretName(store)});
  for (const Read& read : reads) {
    auto observed = readObserved(client, *read.resource, ns, read.name);
    if (!observed) return std::unexpected(observed.error());
    out.owned[read.kind + " " + read.name] = std::move(*observed);
  }
  return out;
}

health::ProbeResult gatherHealth(health::StoreHealth& health, const std::string& key,
                                 const wiring::StoreEndpoint& app,
                                 const std::optional<wiring::StoreEndpoint>& monitor) {
  return health.check(key, app, monitor);
}

}  // namespace sessionstore::reconcile
