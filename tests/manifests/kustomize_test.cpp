// manifests/ as the pinned kubectl's kustomize renders it (patches applied, the CRD pulled in from
// crds/): both variants render, and what they render passes the same checks as the files do in
// manifests_test (RBAC exactly as the code calls it, no wildcard, no cluster-wide Secret read in
// the namespaced variant, the Deployment's security settings).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "control_plane.h"
#include "manifest_checks.h"
#include "process.h"

namespace sessionstore::testing::manifests {
namespace {

std::vector<YAML::Node> rendered(const std::string& dir) {
  const auto result = runProcess({controlPlaneBinary("kubectl"), "kustomize", sourceDir() + dir});
  EXPECT_TRUE(result.ok()) << "kubectl kustomize " << dir << ": " << result.describe();
  return result.ok() ? parseDocuments(result.out) : std::vector<YAML::Node>{};
}

std::vector<std::string> argsOf(const std::vector<YAML::Node>& objects) {
  std::vector<std::string> args;
  YAML::Node deployment = findObject(objects, "Deployment", "sessionstore-operator");
  if (!deployment) return args;
  for (YAML::Node arg : deployment["spec"]["template"]["spec"]["containers"][0]["args"]) {
    args.push_back(arg.as<std::string>());
  }
  return args;
}

TEST(Kustomize, ClusterWideVariantRendersAndPassesTheChecks) {
  const auto objects = rendered("/manifests");
  ASSERT_FALSE(objects.empty());
  EXPECT_TRUE(findObject(objects, "CustomResourceDefinition", "sessionstores.sessionstore.io"));
  EXPECT_TRUE(rbacProblems(objects).empty()) << join(rbacProblems(objects));
  auto grants = grantsOf(objects);
  EXPECT_EQ(grants[""], expectedWatchedGrants()) << describe(grants[""]);
  EXPECT_EQ(grants[kOperatorNamespace], expectedOperatorNamespaceGrants());
  EXPECT_TRUE(deploymentProblems(objects).empty()) << join(deploymentProblems(objects));
  for (const auto& arg : argsOf(objects)) {
    EXPECT_NE(arg.rfind("--namespaces", 0), 0u) << "the cluster-wide variant watches everything";
  }
}

TEST(Kustomize, NamespacedVariantRendersAndPassesTheChecks) {
  const auto objects = rendered("/manifests/namespaced");
  ASSERT_FALSE(objects.empty());
  EXPECT_TRUE(findObject(objects, "CustomResourceDefinition", "sessionstores.sessionstore.io"));
  EXPECT_TRUE(rbacProblems(objects).empty()) << join(rbacProblems(objects));
  EXPECT_TRUE(clusterWideSecretReads(objects).empty()) << join(clusterWideSecretReads(objects));
  auto grants = grantsOf(objects);
  EXPECT_EQ(grants.count(""), 0u) << describe(grants[""]);
  EXPECT_EQ(grants[kNamespacedExample], expectedWatchedGrants())
      << describe(grants[kNamespacedExample]);
  EXPECT_EQ(grants[kOperatorNamespace], expectedOperatorNamespaceGrants());
  EXPECT_TRUE(deploymentProblems(objects).empty()) << join(deploymentProblems(objects));
  // The patch made the operator watch the namespace its Role is in, and only that one.
  const auto args = argsOf(objects);
  EXPECT_EQ(std::count(args.begin(), args.end(), std::string("--namespaces=") + kNamespacedExample),
            1)
      << join(args, " ");
}

}  // namespace
}  // namespace sessionstore::testing::manifests
