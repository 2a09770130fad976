// tests/support/service_account.h against real control planes: the kubeconfig it writes
// authenticates as the operator's ServiceAccount with a TokenRequest token, and with it the API
// server's access reviews (`kubectl auth can-i`, or the SelfSubjectAccessReview it sends) say yes
// to every verb manifests/ grants (the table in manifest_checks.cpp, which is what the code
// calls) and no to the verbs it does not; the
// namespaced variant reads nothing outside its watched namespaces. Both variants on the cluster
// profile (one plane each: the second variant would add to the first), and the namespaced one on
// the apiserver profile, where TokenRequest works as well.
#include "service_account.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "control_plane.h"
#include "manifest_checks.h"
#include "process.h"

namespace sessionstore::testing {
namespace {

using manifests::Grants;

const std::vector<std::string> kAllVerbs = {"get",    "list",  "watch",  "create",
                                            "update", "patch", "delete", "deletecollection"};

// kubectl with the operator's kubeconfig.
ProcessResult asOperator(const OperatorAccount& account, const std::vector<std::string>& args,
                         const std::string& input = "") {
  std::vector<std::string> argv{controlPlaneBinary("kubectl"), "--kubeconfig", account.kubeconfig};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProcess(argv, {.input = input});
}

// "group/resource[/subresource]" -> its parts.
struct ResourceKey {
  std::string group, resource, subresource;
};
ResourceKey split(const std::string& key) {
  const auto slash = key.find('/');
  ResourceKey parts{key.substr(0, slash), key.substr(slash + 1), ""};
  if (const auto sub = parts.resource.find('/'); sub != std::string::npos) {
    parts.subresource = parts.resource.substr(sub + 1);
    parts.resource = parts.resource.substr(0, sub);
  }
  return parts;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// `kubectl auth can-i VERB RESOURCE[.GROUP] [--subresource S] -n NS`: "yes" or "no" (or
// kubectl's error). Only for resources the server serves: can-i resolves the name through
// discovery, and answers no for a resource it does not find (a CRD not installed).
std::string canI(const OperatorAccount& account, const std::string& verb, const std::string& key,
                 const std::string& ns) {
  const auto [group, resource, subresource] = split(key);
  std::vector<std::string> args{"auth", "can-i", verb,
                                group.empty() ? resource : resource + "." + group};
  if (!subresource.empty()) args.push_back("--subresource=" + subresource);
  if (ns.empty()) {
    args.push_back("--all-namespaces");
  } else {
    args.insert(args.end(), {"-n", ns});
  }
  const auto result = asOperator(account, args);
  const std::string answer = trimmed(result.out);
  if (answer != "yes" && answer != "no") return "error: " + result.describe();
  return answer;
}

// The same question as a SelfSubjectAccessReview, which is what can-i sends, without discovery:
// for every resource of the table, served or not (SessionStores, KEDA's ScaledObjects).
std::string review(const OperatorAccount& account, const std::string& verb, const std::string& key,
                   const std::string& ns) {
  const auto [group, resource, subresource] = split(key);
  const nlohmann::json body = {{"apiVersion", "authorization.k8s.io/v1"},
                               {"kind", "SelfSubjectAccessReview"},
                               {"spec",
                                {{"resourceAttributes",
                                  {{"namespace", ns},
                                   {"verb", verb},
                                   {"group", group},
                                   {"resource", resource},
                                   {"subresource", subresource}}}}}};
  const auto result = asOperator(
      account, {"create", "--validate=false", "-f", "-", "-o", "jsonpath={.status.allowed}"},
      body.dump());
  const std::string answer = trimmed(result.out);
  if (answer == "true") return "yes";
  if (answer == "false") return "no";
  return "error: " + result.describe();
}

// Every verb of `grants` answers yes in ns; with allVerbs, every other verb on those resources
// answers no.
void expectExactly(const OperatorAccount& account, const Grants& grants, const std::string& ns,
                   bool allVerbs) {
  for (const auto& [resource, verbs] : grants) {
    for (const auto& verb :
         allVerbs ? kAllVerbs : std::vector<std::string>(verbs.begin(), verbs.end())) {
      const std::string want = verbs.contains(verb) ? "yes" : "no";
      EXPECT_EQ(review(account, verb, resource, ns), want)
          << verb << " " << resource << " in " << (ns.empty() ? "all namespaces" : ns);
    }
  }
}

void expectNone(const OperatorAccount& account, const Grants& grants, const std::string& ns) {
  for (const auto& [resource, verbs] : grants) {
    for (const auto& verb : verbs) {
      EXPECT_EQ(review(account, verb, resource, ns), "no")
          << verb << " " << resource << " in " << (ns.empty() ? "all namespaces" : ns);
    }
  }
}

void expectIdentity(const OperatorAccount& account) {
  const auto whoami =
      asOperator(account, {"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"});
  ASSERT_TRUE(whoami.ok()) << whoami.describe();
  EXPECT_EQ(whoami.out, "system:serviceaccount:sessionstore-system:sessionstore-operator");
  // The kubeconfig is the bearer token only, against the plane's server and CA.
  EXPECT_TRUE(std::filesystem::exists(account.kubeconfig));
  EXPECT_FALSE(account.token.empty());
}

TEST(OperatorServiceAccount, ClusterWideVariantOnTheClusterProfile) {
  auto plane = ControlPlane::start(Profile::kCluster);
  const auto account = operatorServiceAccount(*plane);
  expectIdentity(account);

  // Everything the code calls, in any namespace and across all of them; nothing more.
  expectExactly(account, manifests::expectedWatchedGrants(), "default", /*allVerbs=*/true);
  expectExactly(account, manifests::expectedWatchedGrants(), "kube-system", false);
  expectExactly(account, manifests::expectedWatchedGrants(), "", false);
  // Leases in its own namespace only.
  expectExactly(account, manifests::expectedOperatorNamespaceGrants(), "sessionstore-system", true);
  expectNone(account, manifests::expectedOperatorNamespaceGrants(), "default");
  EXPECT_EQ(canI(account, "patch", "apps/deployments", "default"), "yes");
  EXPECT_EQ(canI(account, "patch", "apps/deployments/scale", "default"), "yes");
  EXPECT_EQ(canI(account, "get", "/secrets", "kube-system"), "yes");  // by name, cluster-wide
  EXPECT_EQ(canI(account, "delete", "apps/deployments", "default"), "no");
  // list and watch: the metadata-only informer (README, "Secrets"); RBAC cannot narrow them to
  // metadata, so the cluster-wide variant grants them in every namespace.
  EXPECT_EQ(canI(account, "watch", "/secrets", "default"), "yes");
  EXPECT_EQ(canI(account, "update", "/secrets", "default"), "no");
  EXPECT_EQ(canI(account, "create", "/pods", "default"), "no");

  // A server-side apply that creates an object needs create as well as patch (the API server
  // checks both): the store's objects are granted both, the target Deployment only patch.
  const auto configMap = asOperator(
      account, {"apply", "--server-side", "--field-manager", "sessionstore-operator", "-f", "-"},
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa-create, "
      "namespace: default}\ndata: {a: b}\n");
  EXPECT_TRUE(configMap.ok()) << configMap.describe();
  const auto deployment = asOperator(
      account, {"apply", "--server-side", "--field-manager", "sessionstore-operator", "-f", "-"},
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nobody, namespace: default}\n"
      "spec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n"
      "    spec: {containers: [{name: c, image: x}]}\n");
  EXPECT_FALSE(deployment.ok());
  EXPECT_NE(deployment.err.find("Forbidden"), std::string::npos) << deployment.describe();
}

TEST(OperatorServiceAccount, NamespacedVariantOnTheClusterProfile) {
  auto plane = ControlPlane::start(Profile::kCluster);
  const auto account = operatorServiceAccount(
      *plane, {.variant = RbacVariant::kNamespaced, .watchedNamespaces = {"team-a", "team-b"}});
  expectIdentity(account);

  expectExactly(account, manifests::expectedWatchedGrants(), "team-a", /*allVerbs=*/true);
  expectExactly(account, manifests::expectedWatchedGrants(), "team-b", false);
  expectExactly(account, manifests::expectedOperatorNamespaceGrants(), "sessionstore-system", true);
  // Nothing elsewhere, and nothing across namespaces: no Secret outside team-a and team-b.
  expectNone(account, manifests::expectedWatchedGrants(), "kube-system");
  expectNone(account, manifests::expectedWatchedGrants(), "default");
  expectNone(account, manifests::expectedWatchedGrants(), "");
  EXPECT_EQ(canI(account, "get", "/secrets", "kube-system"), "no");
  const auto secrets = asOperator(account, {"get", "secrets", "-n", "kube-system"});
  EXPECT_FALSE(secrets.ok());
  EXPECT_NE(secrets.err.find("Forbidden"), std::string::npos) << secrets.describe();
}

TEST(OperatorServiceAccount, TokenRequestWorksOnTheApiServerProfileToo) {
  auto plane = ControlPlane::start(Profile::kApiServer);
  const auto account = operatorServiceAccount(
      *plane, {.variant = RbacVariant::kNamespaced, .watchedNamespaces = {"team-c"}});
  expectIdentity(account);
  EXPECT_EQ(canI(account, "get", "/secrets", "team-c"), "yes");
  EXPECT_EQ(canI(account, "get", "/secrets", "kube-system"), "no");
  EXPECT_EQ(canI(account, "update", "coordination.k8s.io/leases", "sessionstore-system"), "yes");
  EXPECT_EQ(canI(account, "delete", "apps/deployments", "team-c"), "no");
}

}  // namespace
}  // namespace sessionstore::testing
