#include "service_account.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

namespace sessionstore::testing {

namespace {

constexpr const char* kOperatorNamespace = "sessionstore-system";
constexpr const char* kServiceAccount = "sessionstore-operator";

std::string field(YAML::Node node, const std::string& name) {
  YAML::Node value = node[name];
  return value && value.IsScalar() ? value.as<std::string>() : "";
}

// The manifests of the variant as kustomize renders them, with the pinned kubectl.
std::vector<YAML::Node> render(RbacVariant variant) {
  const std::string dir =
      sourceDir() + (variant == RbacVariant::kClusterWide ? "/manifests" : "/manifests/namespaced");
  const auto rendered = runProcess({controlPlaneBinary("kubectl"), "kustomize", dir});
  if (!rendered.ok()) {
    throw std::runtime_error("kubectl kustomize " + dir + ": " + rendered.describe());
  }
  std::vector<YAML::Node> objects;
  for (YAML::Node document : YAML::LoadAll(rendered.out)) {
    if (document.IsMap()) objects.push_back(document);
  }
  return objects;
}

std::string toYaml(const std::vector<YAML::Node>& objects) {
  std::string text;
  for (const auto& object : objects) text += "---\n" + YAML::Dump(object) + "\n";
  return text;
}

// The plane's cluster entry (server, CA) for its current context, with a relative CA path made
// absolute.
YAML::Node planeCluster(const ControlPlane& plane) {
  YAML::Node config = YAML::LoadFile(plane.kubeconfig());
  const std::string context = field(config, "current-context");
  std::string clusterName;
  for (YAML::Node entry : config["contexts"]) {
    if (field(entry, "name") == context) clusterName = field(entry["context"], "cluster");
  }
  for (YAML::Node entry : config["clusters"]) {
    if (field(entry, "name") != clusterName) continue;
    YAML::Node cluster = YAML::Clone(entry["cluster"]);
    const std::string ca = field(cluster, "certificate-authority");
    if (!ca.empty() && ca.front() != '/') {
      cluster["certificate-authority"] =
          (std::filesystem::path(plane.kubeconfig()).parent_path() / ca).string();
    }
    return cluster;
  }
  throw std::runtime_error(plane.kubeconfig() + ": no cluster for context '" + context + "'");
}

}  // namespace

std::string applyOperatorRbac(const ControlPlane& plane, const OperatorAccountOptions& options) {
  const bool namespaced = options.variant == RbacVariant::kNamespaced;
  if (namespaced && options.watchedNamespaces.empty()) {
    throw std::invalid_argument(
        "applyOperatorRbac: the namespaced variant needs watchedNamespaces");
  }
  static const std::set<std::string> kKinds = {
      "Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"};
  std::vector<YAML::Node> applied;
  for (const auto& ns : options.watchedNamespaces) {
    YAML::Node object;
    object["apiVersion"] = "v1";
    object["kind"] = "Namespace";
    object["metadata"]["name"] = ns;
    applied.push_back(object);
  }
  for (YAML::Node object : render(options.variant)) {
    const std::string kind = field(object, "kind");
    if (!kKinds.contains(kind)) continue;
    const std::string ns = field(object["metadata"], "namespace");
    // The namespaced overlay's Role and RoleBinding for its example namespace stand for "one per
    // watched namespace": the same objects in each namespace asked for.
    if (namespaced && (kind == "Role" || kind == "RoleBinding") && ns != kOperatorNamespace) {
      for (const auto& watched : options.watchedNamespaces) {
        YAML::Node copy = YAML::Clone(object);
        copy["metadata"]["namespace"] = watched;
        applied.push_back(copy);
      }
      continue;
    }
    applied.push_back(object);
  }
  const std::string text = toYaml(applied);
  const auto result = plane.kubectl(
      {"apply", "--server-side", "--field-manager=sessionstore-test", "-f", "-"}, text);
  if (!result.ok()) {
    throw std::runtime_error("applying the operator's RBAC: " + result.describe() + "\n" + text);
  }
  return text;
}

OperatorAccount operatorServiceAccount(const ControlPlane& plane,
                                       const OperatorAccountOptions& options) {
  applyOperatorRbac(plane, options);
  const auto token =
      plane.kubectl({"create", "token", kServiceAccount, "-n", kOperatorNamespace,
                     "--duration=" + std::to_string(options.tokenDuration.count()) + "s"});
  if (!token.ok() || token.out.empty()) {
    throw std::runtime_error("TokenRequest for " + std::string(kServiceAccount) + ": " +
                             token.describe());
  }
  OperatorAccount account;
  account.token = token.out;
  while (!account.token.empty() && (account.token.back() == '\n' || account.token.back() == '\r')) {
    account.token.pop_back();
  }

  YAML::Node config;
  config["apiVersion"] = "v1";
  config["kind"] = "Config";
  YAML::Node cluster;
  cluster["name"] = "sessionstore-test";
  cluster["cluster"] = planeCluster(plane);
  config["clusters"].push_back(cluster);
  YAML::Node user;
  user["name"] = kServiceAccount;
  user["user"]["token"] = account.token;
  config["users"].push_back(user);
  YAML::Node context;
  context["name"] = kServiceAccount;
  context["context"]["cluster"] = "sessionstore-test";
  context["context"]["user"] = kServiceAccount;
  context["context"]["namespace"] = kOperatorNamespace;
  config["contexts"].push_back(context);
  config["current-context"] = kServiceAccount;

  account.kubeconfig = plane.dir() +
                       (options.variant == RbacVariant::kClusterWide ? "/operator-cluster-wide"
                                                                     : "/operator-namespaced") +
                       ".kubeconfig";
  {
    std::ofstream out(account.kubeconfig, std::ios::trunc);
    out << YAML::Dump(config) << "\n";
    if (!out) throw std::runtime_error("cannot write " + account.kubeconfig);
  }
  ::chmod(account.kubeconfig.c_str(), 0600);
  return account;
}

}  // namespace sessionstore::testing
