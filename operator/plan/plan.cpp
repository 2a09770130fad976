#include "plan/plan.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "identity/identity.h"
#include "managedstore/managed_store.h"
#include "managedstore/tls.h"
#include "plan/yaml_json.h"
#include "quantity/quantity.h"
#include "reconcile/decide.h"
#include "wiring/connection.h"
#include "wiring/wiring.h"

namespace sessionstore::plan {
namespace {

constexpr std::string_view kSsa =
    "Applied: server-side apply, field manager sessionstore-operator (force).";

// One document of the plan: what it is (for the header's list), its comment lines, the object.
struct Document {
  std::string summary;
  std::vector<std::string> comment;
  Json object;
};

// What spec.store.managed.memory does to the store, for the ConfigMap's note.
std::string memoryNote(const api::ManagedStore& managed) {
  if (!managed.memory) return "";
  return " maxmemory follows load: from " + managed.maxMemory.toString() + " (the floor) up to " +
         managed.memory->ceiling.toString() +
         " one step of the ladder 64Mi, 128Mi, 256Mi, 512Mi, 1Gi at a time, whenever used_memory "
         "stays above " +
         std::to_string(managed.memory->targetUtilization) + "% for " +
         std::to_string(managed.memory->windowSeconds) +
         "s; raised live (CONFIG SET, no restart) and written here so a restart keeps it; never "
         "lowered. The pods' config hash is of the floor's redis.conf: a raise restarts nothing.";
}

std::string inQuotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

// A number as a person writes it: 2, not 2.0.
std::string number(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  return Json(value).dump();
}

const Json* member(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(std::string(key));
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string stringAt(const Json& object, std::string_view key) {
  const Json* value = member(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

std::string metadataString(const Json& object, std::string_view key) {
  const Json* metadata = member(object, "metadata");
  return metadata != nullptr ? stringAt(*metadata, key) : std::string();
}

// "a Deployment (apps/v1)", "a document without kind".
std::string describe(const Json& object) {
  const std::string kind = stringAt(object, "kind");
  if (kind.empty()) return "a document without kind";
  const std::string article =
      std::string("AEIOU").find(kind.front()) != std::string::npos ? "an" : "a";
  const std::string apiVersion = stringAt(object, "apiVersion");
  return article + " " + kind + " (" + (apiVersion.empty() ? "no apiVersion" : apiVersion) + ")";
}

// The one object of `file`, of kind `kind` in `apiVersion`; `flag` says where it came from.
std::expected<Json, std::string> readObject(const InputFile& file, std::string_view apiVersion,
                                            std::string_view kind, std::string_view flag) {
  const std::string expected = std::string(kind) + " (apiVersion " + std::string(apiVersion) + ")";
  auto documents = parseYaml(file.text);
  if (!documents) {
    return std::unexpected(file.path + ": not valid YAML: " + documents.error());
  }
  if (documents->empty()) {
    return std::unexpected(file.path + ": holds no object; " + std::string(flag) + " takes a " +
                           expected);
  }
  if (documents->size() > 1) {
    return std::unexpected(file.path + ": holds " + std::to_string(documents->size()) +
                           " YAML documents; " + std::string(flag) +
                           " takes a file with one object, a " + expected);
  }
  Json object = std::move(documents->front());
  if (!object.is_object()) {
    return std::unexpected(file.path + ": the document is not a mapping; " + std::string(flag) +
                           " takes a " + expected);
  }
  if (stringAt(object, "kind") != kind || stringAt(object, "apiVersion") != apiVersion) {
    return std::unexpected(file.path + ": is " + describe(object) + ", not a " + expected + "; " +
                           std::string(flag) + " takes the " + std::string(kind) + "'s file");
  }
  if (const Json* metadata = member(object, "metadata"); metadata && !metadata->is_object()) {
    return std::unexpected(file.path + ": metadata must be a mapping");
  }
  return object;
}

// A Deployment or Service file that must be the target `wanted` in namespace `ns`.
std::expected<Json, std::string> readTarget(const InputFile& file, std::string_view apiVersion,
                                            std::string_view kind, std::string_view flag,
                                            const std::string& wanted, std::string_view specField,
                                            const std::string& storePath, const std::string& ns) {
  auto object = readObject(file, apiVersion, kind, flag);
  if (!object) return object;
  const std::string name = metadataString(*object, "name");
  if (name != wanted) {
    return std::unexpected(file.path + ": is " + std::string(kind) + " " + inQuotes(name) +
                           ", but " + std::string(specField) + " in " + storePath + " names " +
                           inQuotes(wanted) + "; give the file of " + std::string(kind) + " " +
                           inQuotes(wanted) + " to " + std::string(flag));
  }
  const std::string objectNs = metadataString(*object, "namespace");
  if (!objectNs.empty() && objectNs != ns) {
    return std::unexpected(file.path + ": " + std::string(kind) + " " + inQuotes(name) +
                           " is in namespace " + inQuotes(objectNs) +
                           ", but the SessionStore is in " + inQuotes(ns) +
                           "; the target must be in the SessionStore's namespace");
  }
  return object;
}

// The container of the Deployment's pod template called `name`, or null.
Json containerNamed(const Json& deployment, const std::string& name) {
  const Json* node = &deployment;
  for (const char* key : {"spec", "template", "spec", "containers"}) {
    node = member(*node, key);
    if (node == nullptr) return nullptr;
  }
  if (!node->is_array()) return nullptr;
  for (const Json& container : *node) {
    if (stringAt(container, "name") == name) return container;
  }
  return nullptr;
}

int deploymentReplicas(const Json& deployment) {
  const Json* spec = member(deployment, "spec");
  const Json* replicas = spec != nullptr ? member(*spec, "replicas") : nullptr;
  if (replicas == nullptr || !replicas->is_number_integer()) return 1;
  return static_cast<int>(std::clamp<std::int64_t>(replicas->get<std::int64_t>(), 0, 1 << 30));
}

std::string labelsText(const managedstore::Labels& labels) {
  std::string out;
  for (const auto& [key, value] : labels) out += (out.empty() ? "" : ",") + key + "=" + value;
  return out;
}

std::string metricsText(const api::Autoscaling& autoscaling) {
  std::string out;
  for (const api::Metric& metric : autoscaling.metrics) {
    std::string one = api::toString(metric.type);
    if (metric.targetAverageUtilization) {
      one += " " + std::to_string(*metric.targetAverageUtilization) + "% of requests";
    } else if (metric.targetPerReplica) {
      one += " " + std::to_string(*metric.targetPerReplica) + " per replica";
    } else if (metric.targetValue) {
      one += " " + *metric.targetValue;
    }
    out += (out.empty() ? "" : ", ") + one;
  }
  return out;
}

// The comment of each object of the managed store, by its kind and name: one paragraph a line.
std::vector<std::string> storeObjectComment(const api::SessionStore& store, const Json& object,
                                            const std::optional<managedstore::Labels>& targetLabels,
                                            const std::string& operatorNamespace) {
  const std::string name = metadataString(object, "name");
  const std::string kind = stringAt(object, "kind");
  const api::ManagedStore& managed = store.spec.store.managed;
  const std::string placeholder = inQuotes(kPlaceholderPassword);
  if (kind == "Secret" && name == managedstore::authSecretName(store)) {
    return {"Secret " + name + ": the passwords of the store's users app and monitor" +
                (managedstore::replicated(store) ? " and replication" : "") + ".",
            "Applied: created once, when it does not exist, and then kept as it is (never "
            "applied again).",
            "PLACEHOLDERS: the operator generates each password (32 bytes from a CSPRNG) once, at "
            "apply, and never prints it; the data below is the placeholder " +
                placeholder + "."};
  }
  if (kind == "ConfigMap") {
    return {"ConfigMap " + name + ": redis.conf (maxmemory " + managed.maxMemory.toString() + ", " +
                managed.evictionPolicy + ", maxclients " + std::to_string(managed.maxClients) +
                ", appendonly " + (managed.persistence.enabled ? "yes" : "no") +
                ") and the ACL (the default user off; app limited to keys under " +
                api::keyPrefix(store) + " without dangerous commands; monitor read-only" +
                (managed.memory ? ", but for CONFIG SET (maxmemory is raised live)" : "") + ")." +
                memoryNote(managed),
            std::string(kSsa),
            "PLACEHOLDERS: the operator generates the passwords (32 bytes from a CSPRNG each) "
            "once, at apply; the ACL's SHA-256 hashes below are of the placeholder " +
                placeholder +
                ", and so is the StatefulSet's sessionstore.io/config-hash "
                "annotation."};
  }
  if (kind == "Service" && name == managedstore::headlessServiceName(store)) {
    return {"Service " + name + ": the StatefulSet's headless Service (stable pod DNS names).",
            std::string(kSsa)};
  }
  if (kind == "Service") {
    return {"Service " + name + ": where the app connects, " + name + "." + store.metadata.ns +
                ".svc:" + std::to_string(managedstore::kPort) + "." +
                (managedstore::replicated(store)
                     ? " It selects only the pod labelled " + std::string(identity::kRoleLabel) +
                           "=" + std::string(identity::kRolePrimary) +
                           ", which the operator moves on failover; the replicas reach the "
                           "primary through it too."
                     : std::string()),
            std::string(kSsa)};
  }
  if (kind == "StatefulSet") {
    const std::string storage =
        managed.persistence.enabled
            ? "a " + managed.persistence.size.toString() +
                  " volume (kept or deleted with the SessionStore by deletionPolicy " +
                  api::toString(managed.deletionPolicy) + ")"
            : "no volume (persistence disabled: the data lives in memory)";
    const std::string pods =
        managed.replicas == 1
            ? "one Redis pod ("
            : std::to_string(managed.replicas) +
                  " Redis pods, each started as a replica of Service " +
                  managedstore::serviceName(store) +
                  " (the operator promotes one and labels it primary), spread across nodes "
                  "where it can (";
    return {"StatefulSet " + name + ": " + pods + managed.image +
                "), non-root, read-only root filesystem, probes that authenticate as monitor, " +
                storage + "." +
                (managed.memory
                     ? " Memory limit " +
                           managedstore::derivedMemoryLimit(managed.maxMemory).toString() +
                           " (maxmemory plus 25%), raised with maxmemory: in place on the running "
                           "pod, and here for the next pod; updateStrategy OnDelete, so a raise "
                           "rolls nothing."
                     : std::string()),
            std::string(kSsa)};
  }
  if (kind == "NetworkPolicy") {
    return {"NetworkPolicy " + name + ": Redis accepts TCP " + std::to_string(managedstore::kPort) +
                " only from the pods of Deployment " + store.spec.target.deployment + " (" +
                labelsText(targetLabels.value_or(managedstore::Labels{})) +
                ") and from the operator's pods in namespace " + operatorNamespace +
                " (--operator-namespace).",
            std::string(kSsa)};
  }
  if (kind == "PodDisruptionBudget") {
    return {"PodDisruptionBudget " + name +
                ": a drain or an eviction takes at most one Redis pod at a time (maxUnavailable 1).",
            std::string(kSsa)};
  }
  return {kind + " " + name + ".", std::string(kSsa)};
}

// One line for each wired container: its workers and pool size, and where they come from.
std::vector<std::string> containerLines(const api::SessionStore& store, const Json& deployment,
                                        const wiring::DeploymentWiring& wired, bool external) {
  const api::SessionStoreSpec& spec = store.spec;
  const wiring::ReplicasBound bound = wiring::specReplicasBound(spec);
  const std::string boundText =
      std::to_string(bound.replicas) + " replicas (" + wiring::describeBound(bound) +
      (bound.source == wiring::BoundSource::kTargetMaxReplicas && !spec.target.maxReplicas
           ? ", its default"
           : "") +
      ")";
  std::vector<std::string> lines;
  for (const auto& container : wired.containers) {
    const auto cpu = wiring::containerCpu(containerNamed(deployment, container.name));
    const std::string cpuText = cpu ? cpu->toString() : std::string("?");
    std::string line = "Container " + container.name + ": " + wired.workersEnvVar + "=" +
                       std::to_string(container.workers) + " from CPU " + cpuText + " (ceil(" +
                       cpuText + " * " + number(spec.workers.perCPU) + ") + " +
                       std::to_string(spec.workers.offset) + ", within [" +
                       std::to_string(spec.workers.min) + ", " + std::to_string(spec.workers.max) +
                       "]); " + wired.poolSizeEnvVar + "=" + std::to_string(container.poolSize);
    if (spec.connection.poolSize > 0) {
      line += " (spec.connection.poolSize).";
    } else {
      line += " connections per worker (floor(0.9 * " +
              std::to_string(spec.store.managed.maxClients) + " maxclients / (" + boundText +
              " * " + std::to_string(container.workers) + " workers)), at least 2)";
      line += external ? "; the operator uses the external store's own maxclients instead when "
                         "the server tells it."
                       : ".";
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

constexpr std::size_t kWidth = 100;

// `lines` as YAML comment lines. A line longer than the width is wrapped at spaces, its
// continuation indented two more than it (so "- note" paragraphs read as lists); with
// wrap = false lines are kept whole (the effective spec, which is YAML).
std::string commentBlock(const std::vector<std::string>& lines, bool wrap = true) {
  std::string out;
  for (const auto& line : lines) {
    if (line.empty()) {
      out += "#\n";
      continue;
    }
    const std::size_t indent = line.find_first_not_of(' ');
    const std::string continuation = "# " + std::string(indent + 2, ' ');
    std::string prefix = "# ";
    std::string_view rest = line;
    while (wrap && prefix.size() + rest.size() > kWidth) {
      const std::size_t room = kWidth - prefix.size();
      std::size_t cut = rest.rfind(' ', room);
      if (cut == std::string_view::npos || cut <= indent) break;  // a word longer than the line
      out += prefix + std::string(rest.substr(0, cut)) + "\n";
      rest.remove_prefix(cut + 1);
      prefix = continuation;
    }
    out += prefix + std::string(rest) + "\n";
  }
  return out;
}

}  // namespace

std::expected<std::string, std::string> renderPlan(const PlanInput& input) {
  const std::string& storePath = input.sessionStore.path;
  if (input.operatorNamespace.empty()) {
    return std::unexpected(std::string("the operator's namespace (--operator-namespace) is empty"));
  }

  // 1. The SessionStore, its namespace and its effective spec.
  auto object = readObject(input.sessionStore, api::kApiVersion, api::kKind, "-f");
  if (!object) return std::unexpected(object.error());
  const std::string fileNs = metadataString(*object, "namespace");
  if (!fileNs.empty() && !input.ns.empty() && fileNs != input.ns) {
    return std::unexpected(storePath + ": metadata.namespace is " + inQuotes(fileNs) +
                           " but -n asks for " + inQuotes(input.ns) +
                           "; leave out one of them, or make them agree");
  }
  auto parsed = api::parseSessionStore(*object);
  if (!parsed) return std::unexpected(storePath + ": " + parsed.error());
  api::SessionStore store = std::move(*parsed);
  std::string nsNote;
  if (!fileNs.empty()) {
    store.metadata.ns = fileNs;
  } else if (!input.ns.empty()) {
    store.metadata.ns = input.ns;
    nsNote = "Namespace " + inQuotes(input.ns) + " from -n (" + storePath +
             " does not set metadata.namespace).";
  } else {
    store.metadata.ns = std::string(kDefaultNamespace);
    nsNote = "Namespace " + inQuotes(kDefaultNamespace) + ": " + storePath +
             " does not set metadata.namespace, so, as kubectl, the plan uses " +
             inQuotes(kDefaultNamespace) + " (-n NS to choose).";
  }
  const bool placeholderUid = store.metadata.uid.empty();
  if (placeholderUid) store.metadata.uid = std::string(kPlaceholderUid);
  const api::SessionStoreSpec& spec = store.spec;
  const std::string& ns = store.metadata.ns;
  const bool managed = spec.store.type == api::StoreType::kManaged;

  // 2. The target's files, checked against the spec.
  std::optional<Json> deployment;
  if (input.deployment) {
    auto read = readTarget(*input.deployment, "apps/v1", "Deployment", "--deployment",
                           spec.target.deployment, "spec.target.deployment", storePath, ns);
    if (!read) return std::unexpected(read.error());
    deployment = std::move(*read);
  }
  if (input.service) {
    if (spec.target.service.empty()) {
      return std::unexpected(input.service->path + ": " + storePath +
                             " does not name a Service (spec.target.service is not set), so the "
                             "operator leaves every Service alone; set spec.target.service or "
                             "leave out --service");
    }
    auto read = readTarget(*input.service, "v1", "Service", "--service", spec.target.service,
                           "spec.target.service", storePath, ns);
    if (!read) return std::unexpected(read.error());
  }

  std::vector<Document> documents;
  std::vector<std::string> notes;  // what the plan could not show, one paragraph each

  // 3. The managed store's objects, with placeholder passwords.
  const managedstore::Passwords placeholders{
      .app = std::string(kPlaceholderPassword),
      .monitor = std::string(kPlaceholderPassword),
      .replication =
          managedstore::replicated(store) ? std::string(kPlaceholderPassword) : std::string()};
  std::optional<managedstore::Labels> targetLabels;
  if (deployment) targetLabels = reconcile::podTemplateLabels(*deployment);
  if (managed) {
    auto objects = reconcile::managedStoreObjects(store, placeholders, targetLabels,
                                                  reconcile::operatorPeer(input.operatorNamespace));
    if (!objects) {
      return std::unexpected((input.deployment ? input.deployment->path : storePath) + ": " +
                             objects.error());
    }
    for (Json& item : *objects) {
      documents.push_back(
          {.summary = stringAt(item, "kind") + " " + metadataString(item, "name") + " (store)",
           .comment = storeObjectComment(store, item, targetLabels, input.operatorNamespace),
           .object = std::move(item)});
    }
    if (spec.store.managed.tls.enabled) {
      if (spec.store.managed.tls.issuerRef) {
        const auto& issuer = *spec.store.managed.tls.issuerRef;
        documents.push_back(
            {.summary = "Certificate " + managedstore::certificateName(store) + " (store TLS)",
             .comment = {"Certificate " + managedstore::certificateName(store) +
                             ": cert-manager issues the store's server certificate from " +
                             issuer.kind + " " + issuer.name + " into Secret " +
                             managedstore::tlsSecretName(store) +
                             " (tls.crt, tls.key, ca.crt), which the StatefulSet mounts, and "
                             "renews it; the operator has Redis reload it.",
                         std::string(kSsa) +
                             " Without cert-manager's CRD StoreReady is CertManagerMissing."},
             .object = managedstore::certificate(store)});
      } else {
        const crypto::KeyAndCertificate placeholderPem{
            .certificatePem = std::string(kPlaceholderPem),
            .privateKeyPem = std::string(kPlaceholderPem)};
        documents.push_back(
            {.summary = "Secret " + managedstore::tlsCaSecretName(store) + " (store CA)",
             .comment = {"Secret " + managedstore::tlsCaSecretName(store) +
                             ": the operator's CA for this store (ca.crt, ca.key), made once and "
                             "kept; the app is given its ca.crt.",
                         "PLACEHOLDERS: the operator makes the key and certificate at apply and "
                         "never prints them; the data below is " +
                             inQuotes(kPlaceholderPem) + "."},
             .object = managedstore::caSecret(store, placeholderPem)});
        documents.push_back(
            {.summary = "Secret " + managedstore::tlsSecretName(store) + " (store certificate)",
             .comment = {"Secret " + managedstore::tlsSecretName(store) +
                             ": the server certificate for " +
                             managedstore::serverDnsNames(store).front() +
                             " and the Services' other names, issued from the CA and issued "
                             "again at two thirds of its lifetime; mounted at " +
                             std::string(managedstore::kTlsDir) + ".",
                         "PLACEHOLDERS: the data below is " + inQuotes(kPlaceholderPem) + "."},
             .object = managedstore::tlsSecret(store, placeholderPem, kPlaceholderPem)});
      }
    }
    if (!deployment) {
      notes.push_back("NetworkPolicy " + managedstore::networkPolicyName(store) +
                      ": it admits only the target's pods, so it is written once the "
                      "Deployment's pod-template labels are known: give --deployment FILE.");
    } else if (targetLabels->empty()) {
      notes.push_back("NetworkPolicy " + managedstore::networkPolicyName(store) + ": Deployment " +
                      spec.target.deployment +
                      "'s pod template has no labels, so no policy could admit exactly its "
                      "pods; none is written until it has some.");
    }
  }

  // 4. The connection Secret and the Deployment's patch.
  wiring::StoreEndpoint endpoint =
      managed ? reconcile::managedEndpoint(store, placeholders)
              : wiring::StoreEndpoint{.host = std::string(kExternalPlaceholderHost),
                                      .port = managedstore::kPort,
                                      .username = "",
                                      .password = std::string(kExternalPlaceholderPassword),
                                      .tls = false};
  if (managed && spec.store.managed.tls.enabled) {
    // rediss://, and the CA (a placeholder here) beside it as ca.crt.
    reconcile::StoreEndpoints endpoints{.app = endpoint};
    reconcile::useManagedTls(endpoints, std::string(kPlaceholderPem), "");
    endpoint = endpoints.app;
  }
  if (!managed) {
    const auto& ref = spec.store.external->urlSecretRef;
    notes.push_back("The store's URL is in Secret " + ref.name + ", key " + ref.key +
                    ", which plan cannot read: the operator reads it at apply and checks the "
                    "store (connect, AUTH, PING) before it wires anything. The connection below "
                    "uses the placeholder host " +
                    std::string(kExternalPlaceholderHost) + ", port " +
                    std::to_string(managedstore::kPort) + ", password " +
                    inQuotes(kExternalPlaceholderPassword) + ".");
  }
  if (deployment) {
    const wiring::ReplicasBound bound = wiring::specReplicasBound(spec);
    auto wired = reconcile::desiredWiring(store, endpoint, *deployment, bound.replicas);
    if (!wired) return std::unexpected(input.deployment->path + ": " + wired.error());
    const std::string secret = api::secretName(store);
    int pool = wired->deployment.containers.front().poolSize;
    for (const auto& container : wired->deployment.containers) {
      pool = std::min(pool, container.poolSize);
    }
    std::vector<std::string> secretComment = {
        "Secret " + secret +
            ": the connection the app's pods read by secretKeyRef (REDIS_URL, REDIS_HOST, "
            "REDIS_PORT, REDIS_PASSWORD, SESSION_KEY_PREFIX, REDIS_MAX_CONNECTIONS).",
        std::string(kSsa) + " Written once the store answers (StoreReady).",
        "Decoded: REDIS_HOST=" + endpoint.host + " REDIS_PORT=" + std::to_string(endpoint.port) +
            " SESSION_KEY_PREFIX=" + api::keyPrefix(store) +
            " REDIS_MAX_CONNECTIONS=" + std::to_string(pool) + "."};
    if (managed) {
      secretComment.push_back(
          "PLACEHOLDERS: REDIS_PASSWORD and the password in REDIS_URL are " +
          inQuotes(kPlaceholderPassword) +
          ": the operator generates the password (32 bytes from a CSPRNG) once, at apply. The "
          "Deployment's connection-hash annotation below is a hash of this placeholder data.");
    } else {
      const auto& ref = spec.store.external->urlSecretRef;
      secretComment.push_back(
          "PLACEHOLDERS: REDIS_URL, REDIS_HOST, REDIS_PORT and REDIS_PASSWORD; at apply they "
          "come from the URL in Secret " +
          ref.name + " (key " + ref.key +
          "). The Deployment's connection-hash annotation below is a hash of this placeholder "
          "data.");
    }
    documents.push_back({.summary = "Secret " + secret + " (connection)",
                         .comment = std::move(secretComment),
                         .object = wired->connectionSecret});

    std::vector<std::string> patchComment = {
        "Deployment " + spec.target.deployment +
            " (patch): only the fields below; every other field stays the app's own.",
        std::string(kSsa) +
            " Written once the store answers (StoreReady); pods roll when the connection-hash "
            "annotation changes.",
        "The URL and the key prefix come by secretKeyRef from Secret " + secret +
            ", never inline."};
    for (auto& line : containerLines(store, *deployment, wired->deployment, !managed)) {
      patchComment.push_back(std::move(line));
    }
    documents.push_back({.summary = "Deployment " + spec.target.deployment + " (patch)",
                         .comment = std::move(patchComment),
                         .object = wired->deploymentApply});
  } else {
    notes.push_back("Secret " + api::secretName(store) +
                    " (the connection) and the patch of Deployment " + spec.target.deployment +
                    " (env by secretKeyRef, " + spec.workers.envVar + ", " +
                    spec.connection.poolSizeEnvVar +
                    ", the connection-hash annotation) need the Deployment: give --deployment "
                    "FILE.");
  }

  // 5. The Service's affinity.
  if (!spec.target.service.empty()) {
    const std::string& service = spec.target.service;
    const std::string timeout = std::to_string(spec.affinity.timeoutSeconds);
    const std::string scope =
        "Only spec.sessionAffinity and spec.sessionAffinityConfig; every other field stays the "
        "app's own.";
    switch (spec.affinity.mode) {
      case api::AffinityMode::kUntilStoreReady:
        documents.push_back(
            {.summary = "Service " + service + " (patch, while the store is not ready)",
             .comment = {"Service " + service +
                             " (patch), affinity UntilStoreReady, WHILE THE STORE IS NOT READY: "
                             "ClientIP for " +
                             timeout +
                             " s, so a client keeps reaching the pod that holds its session.",
                         std::string(kSsa), scope},
             .object = wiring::serviceAffinityConfiguration(store, false)});
        documents.push_back(
            {.summary = "Service " + service + " (patch, once the store is ready)",
             .comment = {"Service " + service +
                             " (patch), affinity UntilStoreReady, ONCE THE STORE IS READY: None, "
                             "every pod shares the store.",
                         "The same object as the document above in its other state: the "
                         "operator applies one or the other.",
                         std::string(kSsa), scope},
             .object = wiring::serviceAffinityConfiguration(store, true)});
        break;
      case api::AffinityMode::kClientIP:
        documents.push_back(
            {.summary = "Service " + service + " (patch)",
             .comment = {"Service " + service + " (patch), affinity ClientIP: ClientIP for " +
                             timeout + " s, whether the store is ready or not.",
                         std::string(kSsa), scope},
             .object = wiring::serviceAffinityConfiguration(store, true)});
        break;
      case api::AffinityMode::kNone:
        documents.push_back(
            {.summary = "Service " + service + " (patch)",
             .comment = {"Service " + service +
                             " (patch), affinity None: no session affinity, whether the store is "
                             "ready or not.",
                         std::string(kSsa), scope},
             .object = wiring::serviceAffinityConfiguration(store, true)});
        break;
    }
  } else {
    notes.push_back(
        "Session affinity: spec.target.service is not set, so the operator leaves "
        "every Service alone.");
  }

  if (spec.connection.poolSize == 0) {
    const wiring::ReplicasBound bound = wiring::specReplicasBound(spec);
    std::string note =
        "Pool size: sized for " + std::to_string(bound.replicas) + " replicas (" +
        wiring::describeBound(bound) +
        (bound.source == wiring::BoundSource::kTargetMaxReplicas && !spec.target.maxReplicas
             ? ", its default"
             : "") +
        "), never for the Deployment's live spec.replicas, so a scale within that bound changes "
        "nothing in the pod template and replaces no pod.";
    if (!spec.autoscaling.enabled) {
      note += " When a HorizontalPodAutoscaler or a KEDA ScaledObject targets Deployment " +
              spec.target.deployment +
              ", the operator sizes for its maxReplicas (maxReplicaCount) instead; plan does not "
              "read them.";
    }
    if (deployment) {
      const int replicas = deploymentReplicas(*deployment);
      if (replicas > bound.replicas) {
        note += " Deployment " + spec.target.deployment + " asks " + std::to_string(replicas) +
                " replicas, above that bound: the operator reports it in WorkersSized "
                "(ReplicasAboveBound) and does not roll the pods; " +
                wiring::howToRaiseBound(bound) + " to at least " + std::to_string(replicas) + ".";
      }
    }
    notes.push_back(std::move(note));
  }

  if (spec.autoscaling.enabled) {
    notes.push_back("spec.replicas of Deployment " + spec.target.deployment +
                    ": the operator scales it between " +
                    std::to_string(spec.autoscaling.minReplicas) + " and " +
                    std::to_string(spec.autoscaling.maxReplicas) + " from measured load (" +
                    metricsText(spec.autoscaling) +
                    "), by server-side apply of spec.replicas alone; the value depends on load.");
  }

  // 6. The header, then the documents.
  std::vector<std::string> header = {
      "sessionstore-operator plan for SessionStore " + ns + "/" + store.metadata.name,
      "What the operator would apply for it, computed from files without a cluster, for review. "
      "An object of these names that exists and is not this SessionStore's is never "
      "overwritten: the operator reports it in a condition.",
      "Inputs:", "  -f " + storePath};
  if (input.deployment) header.push_back("  --deployment " + input.deployment->path);
  if (input.service) header.push_back("  --service " + input.service->path);
  if (!nsNote.empty()) header.push_back(nsNote);
  if (placeholderUid) {
    header.push_back("ownerReferences: uid " + std::string(kPlaceholderUid) +
                     " stands for the SessionStore's uid, known once it is created.");
  }
  header.push_back("");
  header.push_back("Effective spec: the file's spec with every default of the CRD filled in.");
  std::vector<std::string> specLines;
  const std::string specYaml = toYaml(api::toJson(spec));
  for (std::size_t start = 0; start < specYaml.size();) {
    const std::size_t end = specYaml.find('\n', start);
    specLines.push_back("  " + specYaml.substr(start, end - start));
    start = end == std::string::npos ? specYaml.size() : end + 1;
  }
  std::vector<std::string> contents = {"", "Documents, in the order the operator applies them:"};
  for (std::size_t i = 0; i < documents.size(); ++i) {
    contents.push_back("  " + std::to_string(i + 1) + ". " + documents[i].summary);
  }
  if (!notes.empty()) {
    contents.push_back("");
    contents.push_back("Not shown, or shown with placeholders:");
    for (const auto& note : notes) contents.push_back("- " + note);
  }

  std::string out = commentBlock(header) + commentBlock(specLines, false) + commentBlock(contents);
  for (std::size_t i = 0; i < documents.size(); ++i) {
    auto comment = documents[i].comment;
    comment.front() = std::to_string(i + 1) + ". " + comment.front();
    out += "---\n" + commentBlock(comment) + toYaml(documents[i].object);
  }
  return out;
}

}  // namespace sessionstore::plan
