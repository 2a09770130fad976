// Where the API server is and how to authenticate to it: from a kubeconfig file (current or a
// named context; bearer token, client certificate and key, CA as data or file) or from inside a
// pod (KUBERNETES_SERVICE_HOST/PORT and the service account's token and CA). TLS is verified
// unless the kubeconfig says insecure-skip-tls-verify.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "kube/error.h"
#include "transport/http_transport.h"

namespace sessionstore::kube {

struct ClusterConfig {
  std::string server;  // https://host:port
  transport::TlsConfig tls;
  std::string bearerToken;      // fixed token, or
  std::string bearerTokenFile;  // re-read as it rotates (service account tokens)
  std::string defaultNamespace = "default";
  std::string
      source;  // where it came from, for logs: "kubeconfig /path (context x)" or "in-cluster"
};

// Reads a kubeconfig. `context` empty means current-context. Relative file paths are relative
// to the kubeconfig's folder. exec plugins and auth providers fail with kConfig "not supported".
Result<ClusterConfig> loadKubeconfig(const std::string& path, const std::string& context = "");

// The same from text; `baseDir` resolves relative paths.
Result<ClusterConfig> parseKubeconfig(const std::string& yaml, const std::string& baseDir,
                                      const std::string& context = "");

struct InClusterPaths {
  std::string token = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string ns = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// REQUIRES: getenv returns the environment (injected for tests).
Result<ClusterConfig> loadInCluster(
    const std::function<std::optional<std::string>(const std::string&)>& getenv,
    const InClusterPaths& paths = {});

// The usual order: an explicit kubeconfig path, else $KUBECONFIG (its first entry), else
// in-cluster when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
Result<ClusterConfig> loadDefault(const std::string& kubeconfigPath = "",
                                  const std::string& context = "");

// The whole file, or nullopt.
std::optional<std::string> readFile(const std::string& path);

}  // namespace sessionstore::kube
