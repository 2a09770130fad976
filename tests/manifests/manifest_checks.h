// Static checks of manifests/: what the operator's ServiceAccount is granted (computed from the
// Roles, ClusterRoles and their bindings), compared with what the operator's code calls; no
// wildcard; no cluster-wide read of Secrets in the namespaced variant; the Deployment's security
// settings. The same checks run on the files as written (a small kustomize reader, unit tests) and
// on what the pinned kubectl's kustomize renders (integration tests).
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sessionstore::testing::manifests {

inline constexpr const char* kOperatorNamespace = "sessionstore-system";
inline constexpr const char* kServiceAccount = "sessionstore-operator";
// The watched namespace of manifests/namespaced/ as shipped (rbac-shop.yaml).
inline constexpr const char* kNamespacedExample = "shop";

// Every document of a YAML stream that is a map (empty documents are skipped).
std::vector<YAML::Node> parseDocuments(const std::string& text);

// The objects a kustomization lists under `resources:` (files, and folders holding a
// `kustomization.yaml` or `Kustomization`, recursively), in order. Patches, generators and
// transformers are not applied: the unit tests only need what the files say; kubectl's kustomize
// renders the rest (kustomize_test). Throws std::runtime_error naming what it cannot read.
std::vector<YAML::Node> loadKustomization(const std::filesystem::path& dir);

// "group/resource" (core group: "/secrets") -> verbs.
using Grants = std::map<std::string, std::set<std::string>>;

// What the operator's ServiceAccount may do, by scope: "" for cluster-wide (ClusterRoleBinding),
// else the namespace of the RoleBinding. Rules from every Role or ClusterRole a binding of the
// ServiceAccount refers to; a binding to a role that is not in `objects` is reported by
// rbacProblems, not here.
std::map<std::string, Grants> grantsOf(const std::vector<YAML::Node>& objects,
                                       const std::string& ns = kOperatorNamespace,
                                       const std::string& name = kServiceAccount);

// What the operator's code calls, as grants: for the SessionStores' namespaces (all of them in
// the cluster-wide variant), and for its own namespace (leader election's Lease).
Grants expectedWatchedGrants();
Grants expectedOperatorNamespaceGrants();

// Every rule (of any Role or ClusterRole) with "*" in apiGroups, resources, verbs or
// resourceNames, or with nonResourceURLs; each problem names the role. Also bindings whose role
// is missing from `objects`.
std::vector<std::string> rbacProblems(const std::vector<YAML::Node>& objects);

// ClusterRoles bound cluster-wide (by a ClusterRoleBinding) that grant get, list or watch on
// Secrets: in the namespaced variant, each is a problem.
std::vector<std::string> clusterWideSecretReads(const std::vector<YAML::Node>& objects);

// The operator Deployment's settings that are missing or wrong: 2 replicas, the run arguments,
// POD_NAME from the downward API, probes on 8081 (/healthz, /readyz), metrics port 8080,
// requests and limits, runAsNonRoot, readOnlyRootFilesystem, capabilities drop ALL,
// allowPrivilegeEscalation false, seccompProfile RuntimeDefault (pod or container), the pod label
// the stores' NetworkPolicies admit, the ServiceAccount.
std::vector<std::string> deploymentProblems(const std::vector<YAML::Node>& objects);

// The first object of this kind (and name, when given); an undefined node (false) if none.
YAML::Node findObject(const std::vector<YAML::Node>& objects, const std::string& kind,
                      const std::string& name = "");

// "a, b, c" for messages.
std::string join(const std::vector<std::string>& items, const std::string& separator = "\n  ");
std::string describe(const Grants& grants);

}  // namespace sessionstore::testing::manifests
