#include "managedstore/managed_store.h"

#include <array>
#include <cctype>
#include <climits>
#include <cstdint>
#include <optional>
#include <span>

#include "crypto/crypto.h"
#include "managedstore/tls.h"

namespace sessionstore::managedstore {
namespace {

constexpr std::string_view kConfigVolume = "config";
constexpr std::string_view kDataVolume = "data";
constexpr std::string_view kTlsVolume = "tls";

Json labelsJson(const Labels& labels) {
  Json out = Json::object();
  for (const auto& [key, value] : labels) out[key] = value;
  return out;
}

Json metadata(const api::SessionStore& store, const std::string& name) {
  return {{"name", name},
          {"namespace", store.metadata.ns},
          {"labels", labelsJson(managedLabels(store))},
          {"ownerReferences", Json::array({ownerReference(store)})}};
}

std::string yesNo(bool value) { return value ? "yes" : "no"; }

std::string probeCommand(bool tls) {
  // With TLS only, redis-cli connects over TLS and verifies the certificate against the CA.
  const std::string tlsFlags =
      tls ? "--tls --cacert " + std::string(kTlsDir) + "/" + std::string(kCaCertKey) + " " : "";
  return "redis-cli " + tlsFlags + "--user " + std::string(kMonitorUser) + " --pass \"$" +
         std::string(kMonitorPasswordEnvVar) + "\" --no-auth-warning ping | grep -q PONG";
}

Json probe(bool tls, int initialDelaySeconds, int periodSeconds, int timeoutSeconds,
           int failureThreshold) {
  return {{"exec", {{"command", {"sh", "-c", probeCommand(tls)}}}},
          {"initialDelaySeconds", initialDelaySeconds},
          {"periodSeconds", periodSeconds},
          {"timeoutSeconds", timeoutSeconds},
          {"failureThreshold", failureThreshold}};
}

Json resourcesJson(const api::ManagedStore& managed) {
  Json limits = Json::object();
  for (const auto& [name, value] : managed.resources.limits) limits[name] = value.toString();
  if (!limits.contains("memory"))
    limits["memory"] = derivedMemoryLimit(managed.maxMemory).toString();
  Json out = {{"limits", limits}};
  if (!managed.resources.requests.empty()) {
    Json requests = Json::object();
    for (const auto& [name, value] : managed.resources.requests) {
      requests[name] = value.toString();
    }
    out["requests"] = requests;
  }
  return out;
}

// The command of a replicated store's Redis container: redis-server as a replica of the client
// Service, authenticating as the replication user with the password from the environment (the
// shell expands it; it is never written to a file or to the pod's spec).
std::string replicaStartScript(const api::SessionStore& store) {
  const bool tls = store.spec.store.managed.tls.enabled;
  const std::string conf = std::string(kConfigDir) + "/" + std::string(kRedisConfKey);
  std::string script = "exec redis-server " + conf + " --replicaof " + serviceName(store) + " " +
                       std::to_string(kPort) + " --masteruser " + std::string(kReplicationUser) +
                       " --masterauth \"$" + std::string(kReplicationPasswordEnvVar) + "\"";
  if (tls) script += " --tls-replication yes";
  return script;
}

Json servicePorts() {
  return Json::array(
      {{{"name", kPortName}, {"port", kPort}, {"targetPort", kPortName}, {"protocol", "TCP"}}});
}

}  // namespace

std::expected<std::string, std::string> generatePassword(const RandomBytes& random) {
  std::array<unsigned char, kPasswordBytes> bytes{};
  if (!random || !random(bytes)) {
    return std::unexpected(std::string("the random source failed to give password bytes"));
  }
  return crypto::base64UrlEncode(bytes);
}

std::expected<Passwords, std::string> generatePasswords(const RandomBytes& random) {
  auto app = generatePassword(random);
  if (!app) return std::unexpected(app.error());
  auto monitor = generatePassword(random);
  if (!monitor) return std::unexpected(monitor.error());
  return Passwords{.app = *app, .monitor = *monitor};
}

std::expected<Passwords, std::string> passwordsFromSecret(const Json& secret) {
  auto read = [&](std::string_view key) -> std::expected<std::string, std::string> {
    const std::string where = "secret data." + std::string(key);
    if (!secret.is_object() || !secret.contains("data") || !secret["data"].is_object() ||
        !secret["data"].contains(key)) {
      return std::unexpected(where + ": missing");
    }
    const Json& value = secret["data"][std::string(key)];
    if (!value.is_string()) return std::unexpected(where + ": must be a string");
    auto decoded = crypto::base64Decode(value.get<std::string>());
    if (!decoded) return std::unexpected(where + ": not valid base64");
    if (decoded->empty()) return std::unexpected(where + ": empty");
    return *decoded;
  };
  auto app = read(kAppPasswordKey);
  if (!app) return std::unexpected(app.error());
  auto monitor = read(kMonitorPasswordKey);
  if (!monitor) return std::unexpected(monitor.error());
  Passwords out{.app = *app, .monitor = *monitor};
  if (secret["data"].contains(kReplicationPasswordKey)) {
    auto value = read(kReplicationPasswordKey);
    if (!value) return std::unexpected(value.error());
    out.replication = *value;
  }
  if (secret["data"].contains(kPreviousAppPasswordKey)) {
    auto previous = read(kPreviousAppPasswordKey);
    if (!previous) return std::unexpected(previous.error());
    out.previousApp = *previous;
  }
  return out;
}

std::string authSecretName(const api::SessionStore& store) {
  return store.metadata.name + "-redis-auth";
}
std::string configMapName(const api::SessionStore& store) {
  return store.metadata.name + "-redis-config";
}
std::string statefulSetName(const api::SessionStore& store) {
  return store.metadata.name + "-redis";
}
std::string headlessServiceName(const api::SessionStore& store) {
  return store.metadata.name + "-redis-headless";
}
std::string serviceName(const api::SessionStore& store) { return store.metadata.name + "-redis"; }
std::string networkPolicyName(const api::SessionStore& store) {
  return store.metadata.name + "-redis";
}
std::string podDisruptionBudgetName(const api::SessionStore& store) {
  return store.metadata.name + "-redis";
}
std::string podName(const api::SessionStore& store, int ordinal) {
  return statefulSetName(store) + "-" + std::to_string(ordinal);
}

bool replicated(const api::SessionStore& store) {
  return store.spec.store.type == api::StoreType::kManaged && store.spec.store.managed.replicas > 1;
}

Labels managedLabels(const api::SessionStore& store) {
  Labels labels = selectorLabels(store);
  labels[std::string(identity::kManagedByLabel)] = std::string(identity::kName);
  return labels;
}

Labels selectorLabels(const api::SessionStore& store) {
  return {{"app.kubernetes.io/name", "redis"},
          {"app.kubernetes.io/instance", store.metadata.name},
          {std::string(identity::kStoreLabel), store.metadata.name}};
}

Json ownerReference(const api::SessionStore& store) {
  return {{"apiVersion", api::kApiVersion}, {"kind", api::kKind}, {"name", store.metadata.name},
          {"uid", store.metadata.uid},      {"controller", true}, {"blockOwnerDeletion", true}};
}

quantity::Quantity derivedMemoryLimit(const quantity::Quantity& maxMemory) {
  std::int64_t bytes = maxMemory.value();
  // bytes * 1.25 rounded up, without overflowing.
  std::int64_t quarter = bytes / 4 + (bytes % 4 != 0 ? 1 : 0);
  std::int64_t limit = bytes > INT64_MAX - quarter ? INT64_MAX : bytes + quarter;
  return quantity::Quantity::fromInt64(limit, quantity::Format::kBinarySI);
}

std::string renderRedisConf(const api::ManagedStore& managed) {
  std::string out;
  out += "# Rendered by sessionstore-operator; edits are overwritten.\n";
  if (managed.tls.enabled) {
    // TLS only: no plain port. Clients are not asked for certificates (they authenticate with
    // AUTH); the CA file is there for Redis's own checks of its configuration.
    const std::string dir = std::string(kTlsDir) + "/";
    out += "port 0\n";
    out += "tls-port " + std::to_string(kPort) + "\n";
    out += "tls-cert-file " + dir + std::string(kTlsCertKey) + "\n";
    out += "tls-key-file " + dir + std::string(kTlsKeyKey) + "\n";
    out += "tls-ca-cert-file " + dir + std::string(kCaCertKey) + "\n";
    out += "tls-auth-clients no\n";
    out += "tls-protocols \"TLSv1.2 TLSv1.3\"\n";
  } else {
    out += "port " + std::to_string(kPort) + "\n";
  }
  out += "bind 0.0.0.0\n";
  out += "protected-mode yes\n";
  out += "maxmemory " + std::to_string(managed.maxMemory.value()) + "\n";
  out += "maxmemory-policy " + managed.evictionPolicy + "\n";
  out += "maxclients " + std::to_string(managed.maxClients) + "\n";
  out += "appendonly " + yesNo(managed.persistence.enabled) + "\n";
  out += "dir " + std::string(kDataDir) + "\n";
  out += "aclfile " + std::string(kConfigDir) + "/" + std::string(kUsersAclKey) + "\n";
  return out;
}

std::string renderUsersAcl(std::string_view keyPrefix, std::string_view appPasswordSha256Hex,
                           std::string_view monitorPasswordSha256Hex, bool maySetConfig,
                           bool mayMovePrimary, std::string_view previousAppPasswordSha256Hex) {
  const std::string prefix(keyPrefix);
  std::string appPasswords = "#" + std::string(appPasswordSha256Hex);
  if (!previousAppPasswordSha256Hex.empty()) {
    appPasswords += " #" + std::string(previousAppPasswordSha256Hex);
  }
  std::string out;
  out += "user default off resetpass resetkeys resetchannels -@all\n";
  out += "user " + std::string(kAppUser) + " on " + appPasswords + " ~" + prefix + "* &" + prefix +
         "* +@all -@admin -@dangerous\n";
  out += "user " + std::string(kMonitorUser) + " on #" + std::string(monitorPasswordSha256Hex) +
         " %R~" + prefix + "* resetchannels -@all +ping +info +client|list +dbsize +scan" +
         " +config|get" + (maySetConfig ? " +config|set" : "") + " +acl|setuser" +
         (mayMovePrimary ? " +replicaof" : "") + "\n";
  return out;
}

std::string renderReplicationAcl(std::string_view replicationPasswordSha256Hex) {
  return "user " + std::string(kReplicationUser) + " on #" +
         std::string(replicationPasswordSha256Hex) +
         " resetkeys resetchannels -@all +psync +replconf +ping\n";
}

Json authSecret(const api::SessionStore& store, const Passwords& passwords) {
  Json out = {{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", metadata(store, authSecretName(store))},
              {"type", "Opaque"},
              {"data",
               {{kAppPasswordKey, crypto::base64Encode(passwords.app)},
                {kMonitorPasswordKey, crypto::base64Encode(passwords.monitor)}}}};
  if (!passwords.replication.empty()) {
    out["data"][std::string(kReplicationPasswordKey)] = crypto::base64Encode(passwords.replication);
  }
  if (!passwords.previousApp.empty()) {
    out["data"][std::string(kPreviousAppPasswordKey)] = crypto::base64Encode(passwords.previousApp);
  }
  return out;
}

Json configMap(const api::SessionStore& store, const Passwords& passwords) {
  Json out = {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", metadata(store, configMapName(store))},
          {"data",
           {{kRedisConfKey, renderRedisConf(store.spec.store.managed)},
            {kUsersAclKey, renderUsersAcl(api::keyPrefix(store), crypto::sha256Hex(passwords.app),
                                          crypto::sha256Hex(passwords.monitor),
                                          store.spec.store.managed.tls.enabled ||
                                              store.spec.store.managed.memory.has_value(),
                                          replicated(store),
                                          passwords.previousApp.empty()
                                              ? std::string()
                                              : crypto::sha256Hex(passwords.previousApp))}}}};
  if (replicated(store)) {
    out["data"][kUsersAclKey] = out["data"][kUsersAclKey].get<std::string>() +
                                renderReplicationAcl(crypto::sha256Hex(passwords.replication));
  }
  return out;
}

std::string configHash(const Json& configMap) {
  Json data = configMap.contains("data") ? configMap["data"] : Json::object();
  if (data.is_object() && data.contains(kUsersAclKey) && data[kUsersAclKey].is_string()) {
    // Every " #<hex>" password token out: what is left are the users and their rights.
    std::string acl = data[kUsersAclKey].get<std::string>();
    std::string rules;
    std::size_t at = 0;
    while (at < acl.size()) {
      const std::size_t token = acl.find(" #", at);
      if (token == std::string::npos) {
        rules.append(acl, at, std::string::npos);
        break;
      }
      rules.append(acl, at, token - at);
      std::size_t end = token + 2;
      while (end < acl.size() && std::isxdigit(static_cast<unsigned char>(acl[end]))) ++end;
      at = end;
    }
    data[std::string(kUsersAclKey)] = rules;
  }
  return crypto::sha256Hex(data.dump());
}

Json statefulSet(const api::SessionStore& store, std::string_view configHash) {
  const api::ManagedStore& managed = store.spec.store.managed;
  Json container = {
      {"name", kContainerName},
      {"image", managed.image},
      {"command", {"redis-server", std::string(kConfigDir) + "/" + std::string(kRedisConfKey)}},
      {"ports",
       Json::array({{{"name", kPortName}, {"containerPort", kPort}, {"protocol", "TCP"}}})},
      {"env",
       Json::array({{{"name", kMonitorPasswordEnvVar},
                     {"valueFrom",
                      {{"secretKeyRef",
                        {{"name", authSecretName(store)}, {"key", kMonitorPasswordKey}}}}}}})},
      {"resources", resourcesJson(managed)},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"runAsNonRoot", true},
        {"runAsUser", kRedisUid},
        {"runAsGroup", kRedisUid},
        {"capabilities", {{"drop", {"ALL"}}}}}},
      {"readinessProbe", probe(managed.tls.enabled, 5, 5, 2, 3)},
      {"livenessProbe", probe(managed.tls.enabled, 15, 10, 5, 6)},
      {"volumeMounts",
       Json::array({{{"name", kConfigVolume}, {"mountPath", kConfigDir}, {"readOnly", true}},
                    {{"name", kDataVolume}, {"mountPath", kDataDir}}})},
  };
  Json volumes =
      Json::array({{{"name", kConfigVolume}, {"configMap", {{"name", configMapName(store)}}}}});
  if (!managed.persistence.enabled) {
    volumes.push_back({{"name", kDataVolume}, {"emptyDir", Json::object()}});
  }
  if (managed.tls.enabled) {
    // The certificate Secret (the operator's or cert-manager's): the kubelet updates the files
    // when it is renewed, and the operator has Redis reload them (no restart).
    container["volumeMounts"].push_back(
        {{"name", kTlsVolume}, {"mountPath", kTlsDir}, {"readOnly", true}});
    volumes.push_back({{"name", kTlsVolume},
                       {"secret", {{"secretName", tlsSecretName(store)}, {"defaultMode", 0440}}}});
  }
  Json podSpec = {
      {"automountServiceAccountToken", false},
      {"securityContext",
       {{"runAsUser", kRedisUid},
        {"runAsGroup", kRedisUid},
        {"runAsNonRoot", true},
        {"fsGroup", kRedisUid},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"containers", Json::array({container})},
      {"volumes", volumes},
  };
  if (replicated(store)) {
    // Every pod starts as a replica of the client Service, which selects only the pod labelled
    // primary: a pod never takes writes before the operator has chosen it (REPLICAOF NO ONE,
    // then the label), and a primary whose Redis restarts comes back as a replica (fenced) while
    // the operator fails over. Nothing here asks the API server; the app's REDIS_URL is the
    // Service's and never changes.
    podSpec["containers"][0]["command"] = {"sh", "-c", replicaStartScript(store)};
    podSpec["containers"][0]["env"].push_back(
        {{"name", kReplicationPasswordEnvVar},
         {"valueFrom",
          {{"secretKeyRef", {{"name", authSecretName(store)}, {"key", kReplicationPasswordKey}}}}}});
    // One node's loss or drain should not take every replica: spread by hostname when the
    // cluster can (preferred, so a one-node cluster still runs every pod).
    podSpec["affinity"] = {
        {"podAntiAffinity",
         {{"preferredDuringSchedulingIgnoredDuringExecution",
           Json::array({{{"weight", 100},
                         {"podAffinityTerm",
                          {{"topologyKey", "kubernetes.io/hostname"},
                           {"labelSelector",
                            {{"matchLabels", labelsJson(selectorLabels(store))}}}}}}})}}}};
  }
  Json spec = {
      {"replicas", managed.replicas},
      {"serviceName", headlessServiceName(store)},
      {"selector", {{"matchLabels", labelsJson(selectorLabels(store))}}},
      {"template",
       {{"metadata",
         {{"labels", labelsJson(managedLabels(store))},
          {"annotations", {{identity::kConfigHashAnnotation, configHash}}}}},
        {"spec", podSpec}}},
  };
  if (managed.memory) {
    // maxmemory follows load: a raise changes the template's memory limit, and must not roll
    // Redis (it is resized in place); the next pod made from the template has the raised limit.
    spec["updateStrategy"] = {{"type", "OnDelete"}};
  }
  if (managed.persistence.enabled) {
    Json claimSpec = {
        {"accessModes", {"ReadWriteOnce"}},
        {"resources", {{"requests", {{"storage", managed.persistence.size.toString()}}}}}};
    if (!managed.persistence.storageClassName.empty()) {
      claimSpec["storageClassName"] = managed.persistence.storageClassName;
    }
    spec["volumeClaimTemplates"] = Json::array(
        {{{"metadata", {{"name", kDataVolume}, {"labels", labelsJson(managedLabels(store))}}},
          {"spec", claimSpec}}});
    const char* whenDeleted =
        managed.deletionPolicy == api::DeletionPolicy::kDelete ? "Delete" : "Retain";
    spec["persistentVolumeClaimRetentionPolicy"] = {{"whenDeleted", whenDeleted},
                                                    {"whenScaled", "Retain"}};
  }
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", metadata(store, statefulSetName(store))},
          {"spec", spec}};
}

Json headlessService(const api::SessionStore& store) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", metadata(store, headlessServiceName(store))},
          {"spec",
           {{"clusterIP", "None"},
            {"publishNotReadyAddresses", true},
            {"selector", labelsJson(selectorLabels(store))},
            {"ports", servicePorts()}}}};
}

Json clientService(const api::SessionStore& store) {
  Labels selector = selectorLabels(store);
  if (replicated(store)) {
    selector[std::string(identity::kRoleLabel)] = std::string(identity::kRolePrimary);
  }
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", metadata(store, serviceName(store))},
          {"spec",
           {{"type", "ClusterIP"}, {"selector", labelsJson(selector)}, {"ports", servicePorts()}}}};
}

std::optional<Json> podDisruptionBudget(const api::SessionStore& store) {
  if (!replicated(store)) return std::nullopt;
  return Json{{"apiVersion", "policy/v1"},
              {"kind", "PodDisruptionBudget"},
              {"metadata", metadata(store, podDisruptionBudgetName(store))},
              {"spec",
               {{"maxUnavailable", 1},
                {"selector", {{"matchLabels", labelsJson(selectorLabels(store))}}}}}};
}

std::expected<Json, std::string> networkPolicy(const api::SessionStore& store,
                                               const Labels& targetPodLabels,
                                               const OperatorPeer& operatorPeer) {
  if (targetPodLabels.empty()) {
    return std::unexpected(std::string(
        "the target's pod template has no labels: a NetworkPolicy could not single its pods out"));
  }
  if (operatorPeer.namespaceLabels.empty() || operatorPeer.podLabels.empty()) {
    return std::unexpected(std::string(
        "the operator's namespace and pod labels must both be set for the NetworkPolicy"));
  }
  Json from = Json::array(
      {{{"podSelector", {{"matchLabels", labelsJson(targetPodLabels)}}}},
       {{"namespaceSelector", {{"matchLabels", labelsJson(operatorPeer.namespaceLabels)}}},
        {"podSelector", {{"matchLabels", labelsJson(operatorPeer.podLabels)}}}}});
  // Replicas connect to the primary (the client Service) and are reached by it.
  if (replicated(store)) {
    from.push_back({{"podSelector", {{"matchLabels", labelsJson(selectorLabels(store))}}}});
  }
  return Json{
      {"apiVersion", "networking.k8s.io/v1"},
      {"kind", "NetworkPolicy"},
      {"metadata", metadata(store, networkPolicyName(store))},
      {"spec",
       {{"podSelector", {{"matchLabels", labelsJson(selectorLabels(store))}}},
        {"policyTypes", {"Ingress"}},
        {"ingress",
         Json::array({{{"from", from},
                       {"ports", Json::array({{{"protocol", "TCP"}, {"port", kPort}}})}}})}}}};
}

}  // namespace sessionstore::managedstore
