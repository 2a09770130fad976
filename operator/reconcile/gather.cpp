#include "reconcile/gather.h"

#include <future>
#include <utility>
#include <vector>

#include "identity/identity.h"
#include "kube/json_path.h"
#include "managedstore/managed_store.h"
#include "managedstore/tls.h"

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

kube::Result<std::vector<Json>> listServed(kube::Client& client, const kube::Resource& resource,
                                           const std::string& ns) {
  auto listed = client.list(resource, ns, {.resourceVersion = "0"});
  if (listed) return std::move(listed->items);
  if (listed.error().kind == kube::ErrorKind::kNotFound) return std::vector<Json>{};
  return std::unexpected(listed.error());
}

kube::Result<Gathered> gather(kube::Client& client, const api::SessionStore& store, bool fresh) {
  const std::string& ns = store.metadata.ns;
  struct Read {
    const kube::Resource* resource;
    std::string name;
    Observed* into;
  };
  Gathered out;
  Observed deployment;
  Observed service;
  std::vector<Read> reads = {
      {&kube::resources::kDeployments, store.spec.target.deployment, &deployment}};
  if (!store.spec.target.service.empty()) {
    reads.push_back({&kube::resources::kServices, store.spec.target.service, &service});
  }
  if (store.spec.store.type == api::StoreType::kExternal) {
    reads.push_back(
        {&kube::resources::kSecrets, store.spec.store.external->urlSecretRef.name, &out.urlSecret});
    if (const auto& tls = store.spec.store.external->tls; tls && tls->caSecretRef) {
      reads.push_back({&kube::resources::kSecrets, tls->caSecretRef->name, &out.caSecret});
    }
  }
  if (store.spec.store.type == api::StoreType::kManaged && store.spec.store.managed.tls.enabled) {
    // Read even on a fresh store: certificates are made only where none is.
    reads.push_back(
        {&kube::resources::kSecrets, managedstore::tlsSecretName(store), &out.tlsSecret});
    if (store.spec.store.managed.tls.issuerRef) {
      const std::string name = managedstore::certificateName(store);
      reads.push_back({&kube::resources::kCertificates, name, &out.owned["Certificate " + name]});
    } else {
      reads.push_back(
          {&kube::resources::kSecrets, managedstore::tlsCaSecretName(store), &out.tlsCaSecret});
    }
  }
  if (!fresh) {
    if (store.spec.store.type == api::StoreType::kManaged) {
      reads.push_back(
          {&kube::resources::kSecrets, managedstore::authSecretName(store), &out.passwordSecret});
      const std::pair<const kube::Resource*, std::string> owned[] = {
          {&kube::resources::kConfigMaps, managedstore::configMapName(store)},
          {&kube::resources::kServices, managedstore::headlessServiceName(store)},
          {&kube::resources::kServices, managedstore::serviceName(store)},
          {&kube::resources::kStatefulSets, managedstore::statefulSetName(store)},
          {&kube::resources::kNetworkPolicies, managedstore::networkPolicyName(store)}};
      for (const auto& [resource, name] : owned) {
        reads.push_back({resource, name, &out.owned[resource->kind + " " + name]});
      }
      // Read whatever the replicas: a store scaled down to one pod still has the budget it
      // had, which the reconciler removes (it would block every drain of that node for good).
      const std::string budget = managedstore::podDisruptionBudgetName(store);
      reads.push_back({&kube::resources::kPodDisruptionBudgets, budget,
                       &out.owned["PodDisruptionBudget " + budget]});
    }
    const std::string connection = api::secretName(store);
    reads.push_back({&kube::resources::kSecrets, connection, &out.owned["Secret " + connection]});
  }
  // The reads do not depend on each other: side by side (against the server, one round trip
  // instead of one each; from a cache they cost nothing either way). Each returns its value.
  std::vector<std::future<kube::Result<Observed>>> running;
  for (std::size_t i = 1; i < reads.size(); ++i) {
    running.push_back(std::async(std::launch::async, [&client, &ns, read = reads[i]] {
      return readObserved(client, *read.resource, ns, read.name);
    }));
  }
  std::optional<kube::Error> failed;
  // The autoscalers that may bound the replicas (cheap: from a cache in production).
  for (auto [resource, into] :
       {std::pair{&kube::resources::kHorizontalPodAutoscalers, &out.horizontalPodAutoscalers},
        std::pair{&kube::resources::kScaledObjects, &out.scaledObjects}}) {
    auto items = listServed(client, *resource, ns);
    if (items) {
      *into = std::move(*items);
    } else if (!failed) {
      failed = items.error();
    }
  }
  auto first = readObserved(client, *reads[0].resource, ns, reads[0].name);
  if (first) {
    *reads[0].into = std::move(*first);
  } else {
    failed = first.error();
  }
  for (std::size_t i = 1; i < reads.size(); ++i) {
    auto result = running[i - 1].get();
    if (result) {
      *reads[i].into = std::move(*result);
    } else if (!failed) {
      failed = result.error();
    }
  }
  if (failed) return std::unexpected(*failed);
  out.deployment = std::move(deployment.object);
  out.service = std::move(service.object);
  // Who keeps the targets. Most passes read nothing here: a wired target names this store.
  // Otherwise the stores that name the same target, by a field selector (the CRD's
  // selectableFields; answered from the SessionStores' cache, indexed by these fields): never a
  // list of every store of the namespace, which made each new store's pass cost as much as
  // the namespace holds.
  const auto claimants = [&](const std::optional<Json>& target, std::string_view field,
                             std::vector<Json>& into) -> std::optional<kube::Error> {
    if (!target) return std::nullopt;
    const std::string wiredBy = wiredByLabel(*target);
    if (wiredBy == store.metadata.name) return std::nullopt;
    if (!wiredBy.empty()) {
      auto holder = client.get(kube::resources::kSessionStores, ns, wiredBy);
      if (holder && namesTarget(*holder, field, targetName(*target))) {
        into.push_back(std::move(*holder));
        return std::nullopt;
      }
      if (!holder && holder.error().kind != kube::ErrorKind::kNotFound) return holder.error();
    }
    auto listed = client.listAll(kube::resources::kSessionStores, ns,
                                 {.fieldSelector = targetFieldSelector(field, targetName(*target))});
    if (!listed) return listed.error();
    into = std::move(listed->items);
    return std::nullopt;
  };
  if (auto error = claimants(out.deployment, "deployment", out.deploymentClaimants)) {
    return std::unexpected(*error);
  }
  if (auto error = claimants(out.service, "service", out.serviceClaimants)) {
    return std::unexpected(*error);
  }
  return out;
}

std::string wiredByLabel(const Json& object) {
  const Json* label = kube::at(object, {"metadata", "labels", identity::kWiredByLabel.data()});
  return label != nullptr && label->is_string() ? label->get<std::string>() : std::string();
}

std::string targetName(const Json& object) {
  const Json* name = kube::at(object, {"metadata", "name"});
  return name != nullptr && name->is_string() ? name->get<std::string>() : std::string();
}

std::string targetFieldSelector(std::string_view field, const std::string& name) {
  return "spec.target." + std::string(field) + "=" + name;
}

bool namesTarget(const Json& sessionStore, std::string_view field, const std::string& name) {
  const Json* named = kube::at(sessionStore, {"spec", "target", std::string(field).c_str()});
  return named != nullptr && named->is_string() && !name.empty() && *named == name;
}

health::ProbeResult gatherHealth(health::StoreHealth& health, const std::string& key,
                                 const wiring::StoreEndpoint& app,
                                 const std::optional<wiring::StoreEndpoint>& monitor) {
  return health.check(key, app, monitor);
}

}  // namespace sessionstore::reconcile
