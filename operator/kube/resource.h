// Which API resource a call is about: group, version, plural resource name, and whether it
// lives in namespaces. The client builds every URL from this, so it can talk to any resource.
#pragma once

#include <string>

namespace sessionstore::kube {

struct Resource {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural, lower case: "deployments"
  std::string kind;      // "Deployment", for the objects the client builds (Events, Leases)
  bool namespaced = true;

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // /api/v1/namespaces/NS/pods/NAME/SUBRESOURCE, /apis/apps/v1/deployments, ...
  // Empty ns on a namespaced resource means all namespaces; empty name means the collection.
  std::string path(const std::string& ns = "", const std::string& name = "",
                   const std::string& subresource = "") const;

  bool operator==(const Resource&) const = default;
};

namespace resources {
inline const Resource kNamespaces{"", "v1", "namespaces", "Namespace", false};
inline const Resource kConfigMaps{"", "v1", "configmaps", "ConfigMap"};
inline const Resource kSecrets{"", "v1", "secrets", "Secret"};
inline const Resource kServices{"", "v1", "services", "Service"};
inline const Resource kPods{"", "v1", "pods", "Pod"};
inline const Resource kPersistentVolumeClaims{"", "v1", "persistentvolumeclaims",
                                              "PersistentVolumeClaim"};
inline const Resource kServiceAccounts{"", "v1", "serviceaccounts", "ServiceAccount"};
inline const Resource kDeployments{"apps", "v1", "deployments", "Deployment"};
inline const Resource kStatefulSets{"apps", "v1", "statefulsets", "StatefulSet"};
inline const Resource kNetworkPolicies{"networking.k8s.io", "v1", "networkpolicies",
                                       "NetworkPolicy"};
inline const Resource kPodDisruptionBudgets{"policy", "v1", "poddisruptionbudgets",
                                            "PodDisruptionBudget"};
inline const Resource kLeases{"coordination.k8s.io", "v1", "leases", "Lease"};
inline const Resource kEvents{"events.k8s.io", "v1", "events", "Event"};
inline const Resource kHorizontalPodAutoscalers{"autoscaling", "v2", "horizontalpodautoscalers",
                                                "HorizontalPodAutoscaler"};
// KEDA's ScaledObject: a custom resource, not served when KEDA is not installed.
inline const Resource kCertificates{"cert-manager.io", "v1", "certificates", "Certificate"};
inline const Resource kScaledObjects{"keda.sh", "v1alpha1", "scaledobjects", "ScaledObject"};
inline const Resource kPodMetrics{"metrics.k8s.io", "v1beta1", "pods", "PodMetrics"};
inline const Resource kSessionStores{"sessionstore.io", "v1alpha1", "sessionstores",
                                     "SessionStore"};
}  // namespace resources

}  // namespace sessionstore::kube
