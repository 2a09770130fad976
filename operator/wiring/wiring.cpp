#include "wiring/wiring.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

namespace sessionstore::wiring {

namespace {

// The member `key` of `object`, or nullptr when `object` is not an object, or the member is
// absent or null.
const Json* member(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(std::string(key));
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// resources.<list>.cpu of a container, or nullptr.
const Json* cpuOf(const Json& container, std::string_view list) {
  const Json* resources = member(container, "resources");
  if (resources == nullptr) return nullptr;
  const Json* quantities = member(*resources, list);
  if (quantities == nullptr) return nullptr;
  return member(*quantities, "cpu");
}

std::string containerName(const Json& container) {
  const Json* name = member(container, "name");
  return name != nullptr && name->is_string() ? name->get<std::string>() : std::string();
}

Json secretEnv(std::string_view name, std::string_view secret, std::string_view key) {
  return {{"name", name}, {"valueFrom", {{"secretKeyRef", {{"name", secret}, {"key", key}}}}}};
}

Json valueEnv(std::string_view name, int value) {
  return {{"name", name}, {"value", std::to_string(value)}};
}

}  // namespace

std::expected<quantity::Quantity, std::string> containerCpu(const Json& container) {
  for (std::string_view list : {"limits", "requests"}) {
    const Json* cpu = cpuOf(container, list);
    if (cpu == nullptr) continue;
    std::string path =
        "container \"" + containerName(container) + "\": resources." + std::string(list) + ".cpu";
    std::string text;
    if (cpu->is_string()) {
      text = cpu->get<std::string>();
    } else if (cpu->is_number()) {
      text = cpu->dump();
    } else {
      return std::unexpected(path + ": must be a quantity");
    }
    auto parsed = quantity::Quantity::parse(text);
    if (!parsed) return std::unexpected(path + ": " + parsed.error());
    return *parsed;
  }
  return quantity::Quantity::fromInt64(1);
}

int workerCount(const quantity::Quantity& cpu, double perCPU, int offset, int min, int max) {
  // perCPU is a decimal the user wrote (1.1) that a double holds only approximately: 0.7 * 10 is
  // 7.000000000000001, which must still give 7, so a product within 1e-9 of a whole number
  // counts as that number.
  double scaled = std::ceil(cpu.asDouble() * perCPU - 1e-9) + offset;
  // Clamp as a double first: an absurd CPU must not overflow the conversion.
  if (!(scaled >= min)) return min;
  if (scaled > max) return max;
  return static_cast<int>(scaled);
}

std::expected<int, std::string> workerCount(const Json& container, const api::Workers& workers) {
  auto cpu = containerCpu(container);
  if (!cpu) return std::unexpected(cpu.error());
  return workerCount(*cpu, workers.perCPU, workers.offset, workers.min, workers.max);
}

ReplicasBound specReplicasBound(const api::SessionStoreSpec& spec) {
  if (spec.autoscaling.enabled) {
    return {.replicas = std::max(spec.autoscaling.maxReplicas, 1),
            .source = BoundSource::kAutoscaling};
  }
  return {.replicas = std::max(spec.target.maxReplicas.value_or(api::kDefaultTargetMaxReplicas), 1),
          .source = BoundSource::kTargetMaxReplicas};
}

std::string describeBound(const ReplicasBound& bound) {
  switch (bound.source) {
    case BoundSource::kAutoscaling:
      return "spec.autoscaling.maxReplicas";
    case BoundSource::kHorizontalPodAutoscaler:
      return "HorizontalPodAutoscaler " + bound.scaler + "'s maxReplicas";
    case BoundSource::kScaledObject:
      return "KEDA ScaledObject " + bound.scaler + "'s maxReplicaCount";
    case BoundSource::kTargetMaxReplicas:
      break;
  }
  return "spec.target.maxReplicas";
}

std::string howToRaiseBound(const ReplicasBound& bound) {
  switch (bound.source) {
    case BoundSource::kAutoscaling:
      return "raise spec.autoscaling.maxReplicas";
    case BoundSource::kHorizontalPodAutoscaler:
      return "raise spec.maxReplicas of HorizontalPodAutoscaler " + bound.scaler;
    case BoundSource::kScaledObject:
      return "raise spec.maxReplicaCount of ScaledObject " + bound.scaler;
    case BoundSource::kTargetMaxReplicas:
      break;
  }
  return "set spec.target.maxReplicas of the SessionStore";
}

int poolSize(const api::SessionStoreSpec& spec, int replicasBound, int workers,
             std::optional<int> serverMaxClients) {
  if (spec.connection.poolSize > 0) return spec.connection.poolSize;
  std::int64_t maxClients = serverMaxClients.value_or(spec.store.managed.maxClients);
  std::int64_t processes =
      std::int64_t{std::max(replicasBound, 1)} * std::int64_t{std::max(workers, 1)};
  // floor(0.9 * maxClients / processes), in integers: floor(9 * maxClients / (10 * processes)).
  std::int64_t size = std::max<std::int64_t>(maxClients, 0) * 9 / (processes * 10);
  return static_cast<int>(std::clamp<std::int64_t>(size, 2, 1 << 30));
}

std::expected<DeploymentWiring, std::string> computeDeploymentWiring(
    const api::SessionStore& store, const Json& deployment, const std::string& connectionHash,
    int replicasBound, std::optional<int> serverMaxClients) {
  const api::SessionStoreSpec& spec = store.spec;
  const std::string name = spec.target.deployment;
  const Json* deploymentSpec = member(deployment, "spec");
  const Json* containers = nullptr;
  if (const Json* tmpl = deploymentSpec ? member(*deploymentSpec, "template") : nullptr) {
    if (const Json* podSpec = member(*tmpl, "spec")) containers = member(*podSpec, "containers");
  }
  if (containers == nullptr || !containers->is_array()) {
    return std::unexpected("Deployment " + name + ": spec.template.spec.containers is missing");
  }

  DeploymentWiring wiring{.ns = store.metadata.ns,
                          .store = store.metadata.name,
                          .deployment = name,
                          .secretName = api::secretName(store),
                          .urlEnvVar = spec.connection.urlEnvVar,
                          .poolSizeEnvVar = spec.connection.poolSizeEnvVar,
                          .workersEnvVar = spec.workers.envVar,
                          .connectionHash = connectionHash,
                          .containers = {}};
  const int bound = std::max(replicasBound, 1);
  const auto& wanted = spec.target.containers;
  for (const Json& container : *containers) {
    std::string containerNameValue = containerName(container);
    if (containerNameValue.empty()) {
      return std::unexpected("Deployment " + name + ": a container has no name");
    }
    if (!wanted.empty() &&
        std::find(wanted.begin(), wanted.end(), containerNameValue) == wanted.end()) {
      continue;
    }
    auto workers = workerCount(container, spec.workers);
    if (!workers) return std::unexpected("Deployment " + name + ": " + workers.error());
    wiring.containers.push_back({.name = containerNameValue,
                                 .workers = *workers,
                                 .poolSize = poolSize(spec, bound, *workers, serverMaxClients)});
  }
  for (const std::string& want : wanted) {
    bool found = std::any_of(wiring.containers.begin(), wiring.containers.end(),
                             [&](const ContainerWiring& c) { return c.name == want; });
    if (!found) {
      return std::unexpected("Deployment " + name + " has no container \"" + want +
                             "\" (named in spec.target.containers)");
    }
  }
  return wiring;
}

bool rolledOutWith(const Json& deployment, std::string_view connectionHash) {
  const auto number = [](const Json* object, std::string_view key) -> std::int64_t {
    const Json* value = object != nullptr ? member(*object, key) : nullptr;
    return value != nullptr && value->is_number_integer() ? value->get<std::int64_t>() : -1;
  };
  const Json* metadata = member(deployment, "metadata");
  const Json* spec = member(deployment, "spec");
  const Json* status = member(deployment, "status");
  const Json* tmpl = spec != nullptr ? member(*spec, "template") : nullptr;
  const Json* tmplMetadata = tmpl != nullptr ? member(*tmpl, "metadata") : nullptr;
  const Json* annotations = tmplMetadata != nullptr ? member(*tmplMetadata, "annotations") : nullptr;
  const Json* hash =
      annotations != nullptr ? member(*annotations, identity::kConnectionHashAnnotation) : nullptr;
  if (hash == nullptr || !hash->is_string() || *hash != connectionHash || status == nullptr) {
    return false;
  }
  const std::int64_t generation = number(metadata, "generation");
  // spec.replicas defaults to 1 when absent.
  const std::int64_t replicas = member(*spec, "replicas") != nullptr ? number(spec, "replicas") : 1;
  if (generation < 0 || replicas < 0 || number(status, "observedGeneration") < generation) {
    return false;
  }
  const auto counted = [&](std::string_view key) {
    // A count the controller leaves out is 0.
    return member(*status, key) == nullptr ? 0 : number(status, key);
  };
  return counted("updatedReplicas") == replicas && counted("replicas") == replicas &&
         counted("availableReplicas") == replicas;
}

Json deploymentApplyConfiguration(const DeploymentWiring& wiring) {
  Json containers = Json::array();
  for (const ContainerWiring& container : wiring.containers) {
    Json env = Json::array();
    env.push_back(secretEnv(wiring.urlEnvVar, wiring.secretName, kUrlSecretKey));
    env.push_back(secretEnv(kKeyPrefixEnvVar, wiring.secretName, kKeyPrefixSecretKey));
    env.push_back(valueEnv(wiring.poolSizeEnvVar, container.poolSize));
    env.push_back(valueEnv(wiring.workersEnvVar, container.workers));
    Json wired = {{"name", container.name}};
    if (wiring.caFile) {
      env.push_back({{"name", kCaFileEnvVar}, {"value", kCaFilePath}});
      wired["volumeMounts"] = Json::array(
          {{{"name", kCaVolumeName}, {"mountPath", kCaMountPath}, {"readOnly", true}}});
    }
    wired["env"] = std::move(env);
    containers.push_back(std::move(wired));
  }
  Json podSpec = {{"containers", std::move(containers)}};
  if (wiring.caFile) {
    // Only the CA: the Secret's other keys (the password among them) are not projected.
    podSpec["volumes"] = Json::array(
        {{{"name", kCaVolumeName},
          {"secret",
           {{"secretName", wiring.secretName},
            {"items", Json::array({{{"key", kCaSecretKey}, {"path", kCaSecretKey}}})},
            {"defaultMode", 0444}}}}});
  }
  Json annotations = Json::object();
  annotations[std::string(identity::kConnectionHashAnnotation)] = wiring.connectionHash;
  return {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata",
       {{"name", wiring.deployment},
        {"namespace", wiring.ns},
        {"labels", {{std::string(identity::kWiredByLabel), wiring.store}}}}},
      {"spec",
       {{"template",
         {{"metadata", {{"annotations", std::move(annotations)}}},
          {"spec", std::move(podSpec)}}}}},
  };
}

Json deploymentUnwireConfiguration(const std::string& ns, const std::string& deployment) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", deployment}, {"namespace", ns}}}};
}

}  // namespace sessionstore::wiring
