#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "crypto/crypto.h"

namespace sessionstore::kube {

namespace {

Result<ClusterConfig> configError(std::string message) {
  return makeError(ErrorKind::kConfig, std::move(message));
}

// The entry named `name` of a kubeconfig list (clusters, users, contexts), or an undefined node.
YAML::Node findNamed(const YAML::Node& list, const std::string& name) {
  if (!list || !list.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& entry : list) {
    if (entry.IsMap() && entry["name"] && entry["name"].IsScalar() &&
        entry["name"].as<std::string>() == name) {
      return entry;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string scalar(const YAML::Node& map, const char* key) {
  if (!map || !map.IsMap()) return "";
  const auto node = map[key];
  return node && node.IsScalar() ? node.as<std::string>() : "";
}

std::string resolve(const std::string& path, const std::string& baseDir) {
  if (path.empty() || path.front() == '/' || baseDir.empty()) return path;
  return baseDir + "/" + path;
}

// PEM material from FIELD-data (base64) or FIELD (a file); "" when neither is set.
Result<std::string> material(const YAML::Node& map, const std::string& field,
                             const std::string& baseDir, const std::string& what) {
  const auto data = scalar(map, (field + "-data").c_str());
  if (!data.empty()) {
    // As kubectl reads it (Go's base64.StdEncoding): padded, line breaks ignored.
    auto decoded = crypto::base64Decode(data);
    if (!decoded)
      return makeError(ErrorKind::kConfig,
                       what + ": " + field + "-data is not valid base64 (" + decoded.error() + ")");
    return *decoded;
  }
  const auto file = scalar(map, field.c_str());
  if (file.empty()) return std::string();
  auto content = readFile(resolve(file, baseDir));
  if (!content)
    return makeError(ErrorKind::kConfig,
                     what + ": cannot read " + field + " file " + resolve(file, baseDir));
  return *content;
}

}  // namespace

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Result<ClusterConfig> parseKubeconfig(const std::string& yaml, const std::string& baseDir,
                                      const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return configError(std::string("kubeconfig is not valid YAML: ") + e.what());
  }
  if (!root.IsMap()) return configError("kubeconfig is not a YAML mapping");

  const std::string contextName = context.empty() ? scalar(root, "current-context") : context;
  if (contextName.empty())
    return configError("kubeconfig has no current-context; pass a context name");
  const auto contextEntry = findNamed(root["contexts"], contextName);
  if (!contextEntry) return configError("kubeconfig has no context named \"" + contextName + "\"");
  const auto ctx = contextEntry["context"];
  const std::string clusterName = scalar(ctx, "cluster");
  const std::string userName = scalar(ctx, "user");

  const auto clusterEntry = findNamed(root["clusters"], clusterName);
  if (!clusterEntry)
    return configError("context \"" + contextName + "\" names cluster \"" + clusterName +
                       "\", which the kubeconfig does not define");
  const auto cluster = clusterEntry["cluster"];

  ClusterConfig config;
  config.source = "kubeconfig (context " + contextName + ")";
  config.server = scalar(cluster, "server");
  if (config.server.empty()) return configError("cluster \"" + clusterName + "\" has no server");
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return configError("cluster \"" + clusterName + "\" server \"" + config.server +
                       "\" is not an http(s) URL");
  }
  const std::string insecure = scalar(cluster, "insecure-skip-tls-verify");
  config.tls.insecureSkipVerify = insecure == "true";
  config.tls.serverName = scalar(cluster, "tls-server-name");
  auto ca = material(cluster, "certificate-authority", baseDir, "cluster \"" + clusterName + "\"");
  if (!ca) return std::unexpected(ca.error());
  config.tls.caPem = std::move(*ca);
  const std::string ns = scalar(ctx, "namespace");
  if (!ns.empty()) config.defaultNamespace = ns;

  if (!userName.empty()) {
    const auto userEntry = findNamed(root["users"], userName);
    if (!userEntry)
      return configError("context \"" + contextName + "\" names user \"" + userName +
                         "\", which the kubeconfig does not define");
    const auto user = userEntry["user"];
    const std::string who = "user \"" + userName + "\"";
    if (user && user.IsMap() && user["exec"]) {
      return configError(who +
                         " uses an exec credential plugin, which is not supported; use a token or "
                         "a client certificate");
    }
    if (user && user.IsMap() && user["auth-provider"]) {
      return configError(
          who +
          " uses an auth provider, which is not supported; use a token or a client certificate");
    }
    if (!scalar(user, "username").empty()) {
      return configError(who +
                         " uses basic authentication, which Kubernetes removed; use a token or a "
                         "client certificate");
    }
    auto cert = material(user, "client-certificate", baseDir, who);
    if (!cert) return std::unexpected(cert.error());
    auto key = material(user, "client-key", baseDir, who);
    if (!key) return std::unexpected(key.error());
    if (cert->empty() != key->empty()) {
      return configError(
          who + " has a client certificate without its key, or a key without its certificate");
    }
    config.tls.clientCertPem = std::move(*cert);
    config.tls.clientKeyPem = std::move(*key);
    config.bearerToken = scalar(user, "token");
    const auto tokenFile = scalar(user, "tokenFile");
    if (!tokenFile.empty()) config.bearerTokenFile = resolve(tokenFile, baseDir);
  }
  return config;
}

Result<ClusterConfig> loadKubeconfig(const std::string& path, const std::string& context) {
  const auto text = readFile(path);
  if (!text) return configError("cannot read kubeconfig " + path);
  const auto slash = path.find_last_of('/');
  const std::string baseDir = slash == std::string::npos ? "." : path.substr(0, slash);
  auto config = parseKubeconfig(*text, baseDir, context);
  if (!config) {
    auto error = config.error();
    error.message = path + ": " + error.message;
    return std::unexpected(error);
  }
  config->source = "kubeconfig " + path + config->source.substr(std::string("kubeconfig").size());
  return config;
}

Result<ClusterConfig> loadInCluster(
    const std::function<std::optional<std::string>(const std::string&)>& getenv,
    const InClusterPaths& paths) {
  const auto host = getenv("KUBERNETES_SERVICE_HOST");
  const auto port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return configError(
        "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  }
  ClusterConfig config;
  config.source = "in-cluster";
  // An IPv6 address needs brackets in a URL.
  const bool ipv6 = host->find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
  if (!readFile(paths.token))
    return configError("in-cluster: cannot read the service account token " + paths.token);
  config.bearerTokenFile = paths.token;
  const auto ca = readFile(paths.ca);
  if (!ca) return configError("in-cluster: cannot read the service account CA " + paths.ca);
  config.tls.caPem = *ca;
  if (const auto ns = readFile(paths.ns); ns && !ns->empty()) {
    std::string trimmed = *ns;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' '))
      trimmed.pop_back();
    config.defaultNamespace = trimmed;
  }
  return config;
}

Result<ClusterConfig> loadDefault(const std::string& kubeconfigPath, const std::string& context) {
  if (!kubeconfigPath.empty()) return loadKubeconfig(kubeconfigPath, context);
  auto env = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  };
  if (const auto list = env("KUBECONFIG"); list && !list->empty()) {
    return loadKubeconfig(list->substr(0, list->find(':')), context);
  }
  if (env("KUBERNETES_SERVICE_HOST")) return loadInCluster(env);
  if (const auto home = env("HOME")) return loadKubeconfig(*home + "/.kube/config", context);
  return configError("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
}

}  // namespace sessionstore::kube
