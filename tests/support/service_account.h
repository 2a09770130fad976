// The operator as its own ServiceAccount, for tests that prove the RBAC of manifests/: apply what
// the manifests grant (kustomize-rendered: the Namespace, the ServiceAccount, the Roles,
// ClusterRoles and bindings; not the operator's Deployment, its PodDisruptionBudget, the metrics
// Service or the CRD, which the tests install from crds/ as they always do) to a control plane, get
// a token for the ServiceAccount from the TokenRequest API, and write a kubeconfig that
// authenticates with it. An operator started with that kubeconfig can do exactly what the manifests
// allow, and a call they do not allow fails with 403.
//
// Works on both profiles: TokenRequest needs only kube-apiserver's service-account issuer and
// signing key, which both set (the apiserver profile disables the ServiceAccount admission
// plugin, which concerns pods, not tokens).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "control_plane.h"

namespace sessionstore::testing {

enum class RbacVariant {
  kClusterWide,  // manifests/: a ClusterRole bound cluster-wide
  kNamespaced,   // manifests/namespaced/: a Role and RoleBinding per watched namespace
};

struct OperatorAccountOptions {
  RbacVariant variant = RbacVariant::kClusterWide;
  // kNamespaced only: the namespaces the operator watches (start it with --namespaces set to
  // the same list). The overlay's Role and RoleBinding, shipped for namespace `shop`, are
  // applied in each of these instead; a namespace that does not exist is created.
  // REQUIRES: not empty for kNamespaced.
  std::vector<std::string> watchedNamespaces;
  std::chrono::seconds tokenDuration = std::chrono::hours(2);
};

// What operatorServiceAccount() made.
struct OperatorAccount {
  std::string kubeconfig;  // path, in the plane's folder (removed with the plane)
  std::string token;       // the bearer token in it
};

// Applies the namespace sessionstore-system, the ServiceAccount sessionstore-operator and the
// RBAC of the variant (server-side apply, field manager sessionstore-test), then returns the
// rendered objects that were applied, as YAML. Throws std::runtime_error with kubectl's answer.
// Applying a second variant to the same plane adds to the first (nothing is removed).
std::string applyOperatorRbac(const ControlPlane& plane, const OperatorAccountOptions& options);

// applyOperatorRbac, then a token from the TokenRequest API
// (kubectl create token sessionstore-operator -n sessionstore-system --duration=...), and a
// kubeconfig with the plane's server and CA (as in the plane's own kubeconfig) and that bearer
// token; namespace sessionstore-system, so that the operator's Lease lands there. Throws
// std::runtime_error on failure.
OperatorAccount operatorServiceAccount(const ControlPlane& plane,
                                       const OperatorAccountOptions& options = {});

// The path of that kubeconfig alone.
inline std::string operatorKubeconfig(const ControlPlane& plane,
                                      const OperatorAccountOptions& options = {}) {
  return operatorServiceAccount(plane, options).kubeconfig;
}

}  // namespace sessionstore::testing
