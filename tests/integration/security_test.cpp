// Security promises, shown on a live cluster (issue 7, "Security"):
//  - the store's passwords are 32 bytes from the CSPRNG, held only by Secrets that the
//    SessionStore owns and that carry the operator's labels, and never printed;
//  - the NetworkPolicy admits exactly the target's pods and the operator's pods, evaluated here
//    against every pod of the cluster with the policy's own selectors;
//  - an operator that does not trust the server's certificate fails closed: no request reaches
//    the API server, it never reports ready, and it says why.
// The unit side is in tests/managedstore/managed_store_test.cpp (the password is the URL-safe text
// of exactly 32 bytes of the injected source, which is OpenSSL's RAND_bytes in the binary) and
// tests/integration/client_test.cpp (TlsFailsClosedWithAWrongCertificateAuthority).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "crypto/crypto.h"
#include "kube/resource.h"
#include "operator_fixture.h"

namespace sessionstore::testing {
namespace {

class SecurityTest : public OperatorFixture {
 protected:
  // Decodes a Secret value; base64url of 32 bytes is 43 characters without padding.
  static std::vector<unsigned char> urlSafeBytes(const std::string& text) {
    if (text.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
        std::string::npos) {
      throw std::runtime_error("not base64url");
    }
    std::string standard = text;
    std::replace(standard.begin(), standard.end(), '-', '+');
    std::replace(standard.begin(), standard.end(), '_', '/');
    standard.append((4 - standard.size() % 4) % 4, '=');
    const auto decoded = crypto::base64Decode(standard);
    if (!decoded) throw std::runtime_error("not base64url: " + decoded.error());
    return {decoded->begin(), decoded->end()};
  }

  void expectOwnedAndLabelled(const Json& object, const Json& store) {
    const std::string what =
        object["kind"].get<std::string>() + " " + object["metadata"]["name"].get<std::string>();
    const Json owners = object["metadata"].value("ownerReferences", Json::array());
    ASSERT_EQ(owners.size(), 1u) << what;
    EXPECT_EQ(owners[0].value("uid", ""), store["metadata"]["uid"]) << what;
    EXPECT_EQ(owners[0].value("kind", ""), "SessionStore") << what;
    EXPECT_TRUE(owners[0].value("controller", false)) << what;
    const Json labels = object["metadata"].value("labels", Json::object());
    EXPECT_EQ(labels.value("app.kubernetes.io/managed-by", ""), "sessionstore-operator") << what;
    EXPECT_EQ(labels.value("sessionstore.io/name", ""), store["metadata"]["name"]) << what;
    std::cout << "[ secret ] " << what << ": owned by SessionStore "
              << store["metadata"]["name"].get<std::string>() << " (controller), labelled\n";
  }
};

// A label selector (matchLabels and matchExpressions) against a label map, as the API defines it.
bool selects(const Json& selector, const Json& labels) {
  const Json matchLabels = selector.value("matchLabels", Json::object());
  for (const auto& [key, value] : matchLabels.items()) {
    if (!labels.contains(key) || labels[key] != value) return false;
  }
  const Json expressions = selector.value("matchExpressions", Json::array());
  for (const auto& e : expressions) {
    const std::string key = e.value("key", "");
    const std::string op = e.value("operator", "");
    const Json values = e.value("values", Json::array());
    const bool has = labels.contains(key);
    const bool in = has && std::find(values.begin(), values.end(), labels[key]) != values.end();
    if (op == "In" && !in) return false;
    if (op == "NotIn" && in) return false;
    if (op == "Exists" && !has) return false;
    if (op == "DoesNotExist" && has) return false;
    if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist") {
      throw std::runtime_error("unknown selector operator " + op);
    }
  }
  return true;
}

TEST_F(SecurityTest, PasswordsAre32RandomBytesInOwnedLabelledSecretsOnly) {
  readyStore("web");
  // A second store: its passwords must share nothing with the first one's.
  apply(deploymentYaml("api"));
  apply(serviceYaml("api"));
  apply(managedStoreYaml("api", "api"));
  ASSERT_TRUE(eventually([&] { return get("secret", "api-redis-auth").has_value(); }))
      << describeStore("api");

  std::set<std::string> passwords;
  for (const std::string name : {"web", "api"}) {
    const Json store = mustGet("sessionstore", name);
    const Json auth = mustGet("secret", name + "-redis-auth");
    expectOwnedAndLabelled(auth, store);
    const Json data = auth.value("data", Json::object());
    int found = 0;
    for (const auto& [key, value] : data.items()) {
      if (key.find("password") == std::string::npos) continue;
      const std::string password = *crypto::base64Decode(value.get<std::string>());
      ASSERT_EQ(password.size(), 43u) << name << " " << key << ": not 32 bytes as base64url";
      const auto bytes = urlSafeBytes(password);
      ASSERT_EQ(bytes.size(), 32u) << name << " " << key;
      // Not a constant or a counter: 32 random bytes have many distinct values.
      EXPECT_GE(std::set<unsigned char>(bytes.begin(), bytes.end()).size(), 16u)
          << name << " " << key;
      EXPECT_TRUE(passwords.insert(password).second) << name << " " << key << " repeats a password";
      ++found;
    }
    EXPECT_EQ(found, 2) << name << ": the app and monitor passwords";
    std::cout << "[ secret ] " << name << ": " << found
              << " passwords, each 32 bytes (43 base64url characters), all distinct\n";
  }
  // The connection Secret the app reads holds the URL with the app's password.
  const Json webStore = mustGet("sessionstore", "web");
  expectOwnedAndLabelled(mustGet("secret", "web-session-store"), webStore);
  // No password anywhere else in the namespace: not in a ConfigMap, an annotation or env value.
  for (const std::string kind : {"configmaps", "deployments", "statefulsets", "services"}) {
    const std::string all = inNs({"get", kind, "-o", "json"}).out;
    for (const auto& password : passwords) {
      EXPECT_EQ(all.find(password), std::string::npos) << "a password is in a " << kind;
    }
  }
  std::cout << "[ secret ] no password in configmaps, deployments, statefulsets or services\n";
  expectNoSecretLeaks();
}

TEST_F(SecurityTest, TheNetworkPolicyAdmitsOnlyTheTargetsPodsAndTheOperator) {
  // The operator's pods as manifests/ deploy them (kwok runs them), so the policy is checked
  // against the labels a real installation has.
  const auto installed = kubectl({"apply", "-k", sourceDir() + "/manifests/base"});
  ASSERT_TRUE(installed.ok()) << installed.describe();
  readyStore("web");
  // Intruders: a pod of the namespace with other labels, and a pod with exactly the target's
  // labels in another namespace.
  const std::string other = ns_ + "-other";
  ASSERT_TRUE(kubectl({"create", "namespace", other}).ok());
  const auto pod = [](const std::string& name, const std::string& app) {
    return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
           "\n  labels:\n    app: " + app +
           "\nspec:\n  containers:\n  - name: c\n    image: busybox\n";
  };
  apply(pod("intruder", "intruder"));
  ASSERT_TRUE(kubectl({"-n", other, "apply", "-f", "-"}, pod("lookalike", "web")).ok());
  const Json deployment = mustGet("deployment", "web");
  const Json targetSelector = deployment["spec"]["selector"];
  ASSERT_TRUE(eventually([&] {
    const auto pods = inNs({"get", "pods", "-l", "app=web", "-o", "json"});
    return pods.ok() && Json::parse(pods.out)["items"].size() >= 2;
  })) << "the target Deployment's pods did not appear";
  ASSERT_TRUE(eventually([&] {
    const auto pods = kubectl({"-n", "sessionstore-system", "get", "pods", "-l",
                               "app.kubernetes.io/name=sessionstore-operator", "-o", "json"});
    return pods.ok() && !Json::parse(pods.out)["items"].empty();
  })) << "the operator Deployment of manifests/ made no pod";

  const Json policy = mustGet("networkpolicy", "web-redis");
  const Json spec = policy["spec"];
  const Json redisPodLabels =
      mustGet("statefulset", "web-redis")["spec"]["template"]["metadata"]["labels"];
  ASSERT_TRUE(selects(spec["podSelector"], redisPodLabels))
      << "the policy does not cover the Redis pods";
  const Json types = spec.value("policyTypes", Json::array());
  ASSERT_NE(std::find(types.begin(), types.end(), "Ingress"), types.end());
  const Json rules = spec.value("ingress", Json::array());
  ASSERT_FALSE(rules.empty());

  Json namespaceLabels = Json::object();
  const Json namespaces = Json::parse(kubectl({"get", "namespaces", "-o", "json"}).out)["items"];
  for (const auto& n : namespaces) {
    namespaceLabels[n["metadata"]["name"].get<std::string>()] =
        n["metadata"].value("labels", Json::object());
  }
  const std::string policyNamespace = policy["metadata"]["namespace"];
  // Who the rules admit to port 6379, peer by peer, as a CNI plugin reads them.
  const auto admitted = [&](const std::string& podNamespace, const Json& podLabels) {
    for (const auto& rule : rules) {
      const Json from = rule.value("from", Json::array());
      if (from.empty()) throw std::runtime_error("a rule without `from` admits every source");
      const Json ports = rule.value("ports", Json::array());
      bool reaches6379 = ports.empty();
      for (const auto& port : ports) reaches6379 = reaches6379 || port.value("port", 0) == 6379;
      if (!reaches6379) continue;
      for (const auto& peer : from) {
        if (peer.contains("ipBlock")) throw std::runtime_error("an ipBlock peer: " + peer.dump());
        const bool namespaceOk =
            peer.contains("namespaceSelector")
                ? selects(peer["namespaceSelector"], namespaceLabels[podNamespace])
                : podNamespace == policyNamespace;
        const bool podOk = !peer.contains("podSelector") || selects(peer["podSelector"], podLabels);
        if (namespaceOk && podOk) return true;
      }
    }
    return false;
  };

  const Json pods = Json::parse(kubectl({"get", "pods", "-A", "-o", "json"}).out)["items"];
  int targetPods = 0, operatorPods = 0, refused = 0;
  std::set<std::string> refusedNames;
  for (const auto& p : pods) {
    const std::string podNamespace = p["metadata"]["namespace"];
    const std::string name = podNamespace + "/" + p["metadata"]["name"].get<std::string>();
    const Json labels = p["metadata"].value("labels", Json::object());
    const bool isTarget = podNamespace == ns_ && selects(targetSelector, labels);
    const bool isOperator = podNamespace == "sessionstore-system" &&
                            labels.value("app.kubernetes.io/name", "") == "sessionstore-operator";
    EXPECT_EQ(admitted(podNamespace, labels), isTarget || isOperator)
        << name << " " << labels.dump();
    targetPods += isTarget;
    operatorPods += isOperator;
    if (!isTarget && !isOperator) {
      ++refused;
      refusedNames.insert(name);
    }
  }
  EXPECT_GE(targetPods, 2);
  EXPECT_GE(operatorPods, 1);
  EXPECT_TRUE(refusedNames.contains(ns_ + "/intruder"));
  EXPECT_TRUE(refusedNames.contains(other + "/lookalike"));
  std::cout << "[ policy ] " << pods.size() << " pods in the cluster: admitted " << targetPods
            << " of the target and " << operatorPods << " of the operator; refused " << refused
            << " (among them " << ns_ << "/intruder and " << other
            << "/lookalike, which has the target's labels in another namespace)\n";
  ASSERT_TRUE(kubectl({"delete", "-k", sourceDir() + "/manifests/base", "--wait=false"}).ok());
}

TEST_F(SecurityTest, AnOperatorThatDoesNotTrustTheServerFailsClosed) {
  // A kubeconfig like the admin one, but trusting a certificate authority that never signed the
  // API server's certificate.
  const std::string dir = plane_->dir() + "/wrong-ca";
  std::filesystem::create_directories(dir);
  const auto ca =
      runProcess({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                  "/CN=not-the-cluster-ca", "-keyout", dir + "/ca.key", "-out", dir + "/ca.crt"});
  ASSERT_TRUE(ca.ok()) << ca.describe();
  const std::string kubeconfigCopy = dir + "/kubeconfig";
  std::filesystem::copy_file(kubeconfig(), kubeconfigCopy,
                             std::filesystem::copy_options::overwrite_existing);
  const auto cluster = kubectl(
      {"config", "view", "--kubeconfig", kubeconfigCopy, "-o", "jsonpath={.clusters[0].name}"});
  ASSERT_TRUE(cluster.ok() && !cluster.out.empty()) << cluster.describe();
  const auto set = kubectl({"config", "set-cluster", cluster.out, "--kubeconfig", kubeconfigCopy,
                            "--certificate-authority", dir + "/ca.crt", "--embed-certs=true"});
  ASSERT_TRUE(set.ok()) << set.describe();

  ChildProcess untrusting({OPERATOR_BINARY, "run", "--kubeconfig", kubeconfigCopy, "--leader-elect",
                           "false", "--metrics-bind-address", "127.0.0.1:0",
                           "--health-probe-bind-address", "127.0.0.1:0", "--log-level", "debug"},
                          dir + "/operator.log");
  const auto port = [&](const std::string& field) -> std::optional<std::uint16_t> {
    const std::string log = untrusting.output();
    const auto at = log.rfind("\"msg\":\"serving\"");
    if (at == std::string::npos) return std::nullopt;
    const std::string line = log.substr(at, log.find('\n', at) - at);
    std::smatch match;
    if (!std::regex_search(line, match, std::regex("\"" + field + "\":\"[^\"]*:([0-9]+)\""))) {
      return std::nullopt;
    }
    return static_cast<std::uint16_t>(std::stoi(match[1].str()));
  };
  // It may start serving probes; it must never be ready and never get an answer from the server,
  // however often it tries: watched until it has failed to list three times (each try after a
  // back-off), or has exited.
  int readyAnswers = 0, probes = 0;
  const auto neverReady = [&] {
    if (const auto health = port("health")) {
      if (const auto ready = httpExchange(*health, "GET", "/readyz")) {
        ++probes;
        readyAnswers += ready->status == 200;
      }
    }
    return readyAnswers == 0;
  };
  const auto triedThrice = [&] {
    if (untrusting.wait(std::chrono::milliseconds(0))) return true;
    const std::string log = untrusting.output();
    int failures = 0;
    for (auto at = log.find("\"msg\":\"cannot list\""); at != std::string::npos;
         at = log.find("\"msg\":\"cannot list\"", at + 1)) {
      ++failures;
    }
    return failures >= 3;
  };
  EXPECT_NE(consistentlyUntil(neverReady, triedThrice, std::chrono::seconds(60),
                              std::chrono::milliseconds(500)),
            Held::kNoMarker)
      << "it neither tried three times nor exited:\n"
      << tail(untrusting.output(), 3000);
  const std::string log = untrusting.output();
  EXPECT_EQ(readyAnswers, 0) << "an operator that trusts no one became ready:\n" << tail(log, 3000);
  // Every request it made has no status code from the server: rest_client_requests_total only
  // counts answers it received, so any sample with a 1xx-5xx code is a request that got through.
  if (const auto metrics = port("metrics")) {
    const auto response = httpExchange(*metrics, "GET", "/metrics");
    ASSERT_TRUE(response && response->status == 200);
    static const std::regex answered("^rest_client_requests_total\\{[^}]*code=\"[1-5][0-9][0-9]\"");
    static const std::regex refused("^rest_client_requests_total\\{[^}]*code=\"<error>\"");
    int tried = 0;
    std::istringstream lines(response->body);
    for (std::string line; std::getline(lines, line);) {
      EXPECT_FALSE(std::regex_search(line, answered)) << "a request got an answer: " << line;
      tried += std::regex_search(line, refused);
    }
    EXPECT_GT(tried, 0) << "no failed request counted: did it try at all?\n" << response->body;
  }
  EXPECT_TRUE(std::regex_search(log, std::regex("certificate|handshake|verif", std::regex::icase)))
      << "the operator did not say the server's certificate is not trusted:\n"
      << tail(log, 3000);
  // The reason is in the log, once per retry, naming what could not be read.
  const auto warning = log.find("\"msg\":\"cannot list\"");
  ASSERT_NE(warning, std::string::npos) << "no \"cannot list\" warning:\n" << tail(log, 3000);
  std::cout << "[ tls    ] the operator says: "
            << log.substr(warning, log.find('\n', warning) - warning) << "\n";
  const auto exited = untrusting.wait(std::chrono::milliseconds(0));
  std::cout << "[ tls    ] wrong CA: " << probes << " readiness probes, none ready; "
            << (exited ? "exited with " + std::to_string(*exited) : std::string("still retrying"))
            << "; no request answered by the API server\n";
}

}  // namespace
}  // namespace sessionstore::testing
