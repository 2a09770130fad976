// manifests/ as written, with no cluster: the RBAC of both variants grants exactly what the
// operator's code calls (manifest_checks.cpp says where each verb comes from), no wildcard, no
// cluster-wide read of Secrets in the namespaced variant; the Deployment keeps its security
// settings. The checks themselves are tested on small broken manifests first, so that a check
// that finds nothing cannot pass by accident.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "manifest_checks.h"

namespace sessionstore::testing::manifests {
namespace {

const std::string kRoot = SESSIONSTORE_SOURCE_DIR;

std::vector<YAML::Node> clusterWide() { return loadKustomization(kRoot + "/manifests"); }
std::vector<YAML::Node> namespaced() { return loadKustomization(kRoot + "/manifests/namespaced"); }

// --- the checks, on manifests made to fail them ----------------------------------------------

constexpr const char* kBinding = R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}
subjects: [{kind: ServiceAccount, name: sessionstore-operator, namespace: sessionstore-system}]
)";

TEST(ManifestChecks, FindWildcardsInEveryField) {
  for (const char* rule : {R"({apiGroups: ["*"], resources: [pods], verbs: [get]})",
                           R"({apiGroups: [""], resources: ["*"], verbs: [get]})",
                           R"({apiGroups: [apps], resources: ["deployments/*"], verbs: [get]})",
                           R"({apiGroups: [""], resources: [pods], verbs: ["*"]})"}) {
    const auto objects =
        parseDocuments(std::string("kind: ClusterRole\nmetadata: {name: r}\nrules:\n- ") + rule +
                       "\n---" + kBinding);
    EXPECT_EQ(rbacProblems(objects).size(), 1u) << rule;
  }
  const auto clean = parseDocuments(
      std::string("kind: ClusterRole\nmetadata: {name: r}\nrules:\n- {apiGroups: [\"\"], "
                  "resources: [pods], verbs: [get]}\n---") +
      kBinding);
  EXPECT_TRUE(rbacProblems(clean).empty()) << join(rbacProblems(clean));
}

TEST(ManifestChecks, FindASecretReadBoundClusterWide) {
  for (const char* verb : {"get", "list", "watch"}) {
    const auto objects = parseDocuments(
        std::string("kind: ClusterRole\nmetadata: {name: r}\nrules:\n- {apiGroups: [\"\"], "
                    "resources: [configmaps, secrets], verbs: [") +
        verb + "]}\n---" + kBinding);
    EXPECT_EQ(clusterWideSecretReads(objects).size(), 1u) << verb;
  }
  // The same ClusterRole bound in one namespace only is not a cluster-wide read.
  const auto roleBound = parseDocuments(R"(
kind: ClusterRole
metadata: {name: r}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list, watch]}]
---
kind: RoleBinding
metadata: {name: b, namespace: shop}
roleRef: {kind: ClusterRole, name: r}
subjects: [{kind: ServiceAccount, name: sessionstore-operator, namespace: sessionstore-system}]
)");
  EXPECT_TRUE(clusterWideSecretReads(roleBound).empty());
  EXPECT_EQ(grantsOf(roleBound).count(""), 0u);
  EXPECT_EQ(grantsOf(roleBound)["shop"]["/secrets"],
            (std::set<std::string>{"get", "list", "watch"}));
}

TEST(ManifestChecks, FindAMissingSecuritySetting) {
  auto objects = clusterWide();
  ASSERT_TRUE(deploymentProblems(objects).empty()) << join(deploymentProblems(objects));
  YAML::Node container =
      findObject(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0];
  container["securityContext"]["readOnlyRootFilesystem"] = false;
  container["securityContext"]["capabilities"]["drop"] = YAML::Load("[NET_RAW]");
  const auto problems = deploymentProblems(objects);
  EXPECT_EQ(problems.size(), 2u) << join(problems);
}

// --- the shipped manifests --------------------------------------------------------------------

TEST(Manifests, NoWildcardInEitherVariant) {
  for (const auto& objects : {clusterWide(), namespaced()}) {
    const auto problems = rbacProblems(objects);
    EXPECT_TRUE(problems.empty()) << join(problems);
  }
}

TEST(Manifests, ClusterWideVariantGrantsExactlyWhatTheOperatorCalls) {
  const auto objects = clusterWide();
  auto grants = grantsOf(objects);
  EXPECT_EQ(grants[""], expectedWatchedGrants())
      << "granted cluster-wide:" << describe(grants[""])
      << "\nthe code calls:" << describe(expectedWatchedGrants());
  EXPECT_EQ(grants[kOperatorNamespace], expectedOperatorNamespaceGrants())
      << describe(grants[kOperatorNamespace]);
  EXPECT_EQ(grants.size(), 2u) << "grants in namespaces other than sessionstore-system";
}

TEST(Manifests, NamespacedVariantGrantsTheSameOnlyInTheWatchedNamespace) {
  const auto objects = namespaced();
  auto grants = grantsOf(objects);
  EXPECT_EQ(grants.count(""), 0u) << "cluster-wide grants:" << describe(grants[""]);
  EXPECT_EQ(grants[kNamespacedExample], expectedWatchedGrants())
      << "granted in shop:" << describe(grants[kNamespacedExample])
      << "\nthe code calls:" << describe(expectedWatchedGrants());
  EXPECT_EQ(grants[kOperatorNamespace], expectedOperatorNamespaceGrants())
      << describe(grants[kOperatorNamespace]);
  EXPECT_EQ(grants.size(), 2u);
  const auto reads = clusterWideSecretReads(objects);
  EXPECT_TRUE(reads.empty()) << join(reads);
  EXPECT_FALSE(findObject(objects, "ClusterRole")) << "the namespaced variant has a ClusterRole";
  EXPECT_FALSE(findObject(objects, "ClusterRoleBinding"));
}

TEST(Manifests, DeploymentKeepsItsSecuritySettings) {
  for (const auto& objects : {clusterWide(), namespaced()}) {
    const auto problems = deploymentProblems(objects);
    EXPECT_TRUE(problems.empty()) << join(problems);
  }
}

TEST(Manifests, EveryPieceIsThere) {
  const auto objects = clusterWide();
  for (const auto& [kind, name] : std::vector<std::pair<std::string, std::string>>{
           {"Namespace", "sessionstore-system"},
           {"ServiceAccount", "sessionstore-operator"},
           {"CustomResourceDefinition", "sessionstores.sessionstore.io"},
           {"PodDisruptionBudget", "sessionstore-operator"},
           {"Service", "sessionstore-operator-metrics"},
           {"Deployment", "sessionstore-operator"}}) {
    YAML::Node object = findObject(objects, kind, name);
    ASSERT_TRUE(object) << kind << " " << name;
    if (kind != "Namespace" && kind != "CustomResourceDefinition") {
      EXPECT_EQ(object["metadata"]["namespace"].as<std::string>(""), kOperatorNamespace) << kind;
    }
  }
  // The PDB and the metrics Service select the operator's pods; the Service exposes 8080.
  for (const char* kind : {"PodDisruptionBudget", "Service"}) {
    YAML::Node object = findObject(objects, kind);
    YAML::Node selector = std::string(kind) == "Service"
                              ? object["spec"]["selector"]
                              : object["spec"]["selector"]["matchLabels"];
    EXPECT_EQ(selector["app.kubernetes.io/name"].as<std::string>(""), "sessionstore-operator")
        << kind;
  }
  EXPECT_EQ(findObject(objects, "Service")["spec"]["ports"][0]["targetPort"].as<std::string>(""),
            "metrics");
}

}  // namespace
}  // namespace sessionstore::testing::manifests
