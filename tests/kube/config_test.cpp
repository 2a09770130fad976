// Kubeconfig and in-cluster configuration: every way of naming credentials, and a clear error
// for every way of getting it wrong.
#include "kube/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace sessionstore::kube {
namespace {

constexpr const char* kTwoContexts = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: Q0EtUEVN
- name: prod-cluster
  cluster:
    server: https://prod.example:443
    insecure-skip-tls-verify: true
users:
- name: dev-user
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
- name: prod-user
  user:
    token: abc123
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: shop}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
)";

TEST(Kubeconfig, UsesTheCurrentContext) {
  auto config = parseKubeconfig(kTwoContexts, "/base");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");  // trailing slash removed
  EXPECT_EQ(config->tls.caPem, "CA-PEM");
  EXPECT_EQ(config->tls.clientCertPem, "CERT");
  EXPECT_EQ(config->tls.clientKeyPem, "KEY");
  EXPECT_FALSE(config->tls.insecureSkipVerify);
  EXPECT_EQ(config->defaultNamespace, "shop");
  EXPECT_TRUE(config->bearerToken.empty());
}

TEST(Kubeconfig, UsesANamedContext) {
  auto config = parseKubeconfig(kTwoContexts, "/base", "prod");
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->server, "https://prod.example:443");
  EXPECT_EQ(config->bearerToken, "abc123");
  EXPECT_TRUE(config->tls.insecureSkipVerify);
  EXPECT_EQ(config->defaultNamespace, "default");
}

TEST(Kubeconfig, ReadsFilesRelativeToTheKubeconfig) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "kubeconfig-files";
  std::filesystem::create_directories(dir / "pki");
  std::ofstream(dir / "pki" / "ca.crt") << "FILE-CA";
  std::ofstream(dir / "token") << "file-token\n";
  std::ofstream(dir / "config") << R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", certificate-authority: pki/ca.crt}}]
users: [{name: u, user: {tokenFile: token}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
  auto config = loadKubeconfig((dir / "config").string());
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->tls.caPem, "FILE-CA");
  EXPECT_EQ(config->bearerTokenFile, (dir / "token").string());
  std::filesystem::remove_all(dir);
}

struct BadKubeconfig {
  const char* name;
  const char* yaml;
  const char* context;
  const char* expected;  // a part of the message
};

class KubeconfigErrors : public ::testing::TestWithParam<BadKubeconfig> {};

TEST_P(KubeconfigErrors, SayWhatIsWrong) {
  const auto& c = GetParam();
  auto config = parseKubeconfig(c.yaml, "/base", c.context);
  ASSERT_FALSE(config) << c.name;
  EXPECT_EQ(config.error().kind, ErrorKind::kConfig);
  EXPECT_NE(config.error().message.find(c.expected), std::string::npos) << config.error().message;
}

constexpr const char* kExec = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
users: [{name: u, user: {exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
constexpr const char* kAuthProvider = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
users: [{name: u, user: {auth-provider: {name: gcp}}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
constexpr const char* kBadBase64 = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", certificate-authority-data: "@@@"}}]
contexts: [{name: c, context: {cluster: k}}]
)";
constexpr const char* kUnpaddedBase64 = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
users: [{name: u, user: {client-certificate-data: Q0VSVA, client-key-data: S0VZ}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
constexpr const char* kCertWithoutKey = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
constexpr const char* kMissingFile = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", certificate-authority: /nonexistent/ca.crt}}]
contexts: [{name: c, context: {cluster: k}}]
)";

INSTANTIATE_TEST_SUITE_P(
    All, KubeconfigErrors,
    ::testing::Values(
        BadKubeconfig{"not yaml", "a: [b", "", "not valid YAML"},
        BadKubeconfig{"a list", "- a\n- b\n", "", "not a YAML mapping"},
        BadKubeconfig{"no current context", "clusters: []\n", "", "no current-context"},
        BadKubeconfig{"unknown context", kTwoContexts, "staging", "no context named \"staging\""},
        BadKubeconfig{"exec plugin", kExec, "", "exec credential plugin, which is not supported"},
        BadKubeconfig{"auth provider", kAuthProvider, "", "auth provider, which is not supported"},
        BadKubeconfig{"bad base64", kBadBase64, "",
                      "certificate-authority-data is not valid base64"},
        // kubectl (Go's base64.StdEncoding) refuses it too: the same file works or fails in both.
        BadKubeconfig{"base64 without padding", kUnpaddedBase64, "",
                      "client-certificate-data is not valid base64"},
        BadKubeconfig{"cert without key", kCertWithoutKey, "", "without its key"},
        BadKubeconfig{"missing CA file", kMissingFile, "",
                      "cannot read certificate-authority file"},
        BadKubeconfig{
            "no server",
            "current-context: c\nclusters: [{name: k, cluster: {}}]\ncontexts: [{name: c, "
            "context: {cluster: k}}]\n",
            "", "has no server"},
        BadKubeconfig{"undefined cluster",
                      "current-context: c\ncontexts: [{name: c, context: {cluster: nope}}]\n", "",
                      "does not define"}),
    [](const auto& param) {
      std::string name = param.param.name;
      for (auto& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(InCluster, ReadsTheServiceAccount) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "serviceaccount";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "sa-token";
  std::ofstream(dir / "ca.crt") << "SA-CA";
  std::ofstream(dir / "namespace") << "operators\n";
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBERNETES_SERVICE_HOST") return "fd00::1";
    if (name == "KUBERNETES_SERVICE_PORT") return "443";
    return std::nullopt;
  };
  auto config = loadInCluster(env, InClusterPaths{.token = (dir / "token").string(),
                                                  .ca = (dir / "ca.crt").string(),
                                                  .ns = (dir / "namespace").string()});
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->server, "https://[fd00::1]:443");
  EXPECT_EQ(config->bearerTokenFile, (dir / "token").string());
  EXPECT_EQ(config->tls.caPem, "SA-CA");
  EXPECT_EQ(config->defaultNamespace, "operators");
  std::filesystem::remove_all(dir);
}

TEST(InCluster, OutsideAClusterSaysSo) {
  auto config = loadInCluster([](const std::string&) { return std::nullopt; });
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);
}


}  // namespace
}  // namespace sessionstore::kube
