# Pinned versions of everything the project builds or runs from outside Debian.
# Sourced by the other scripts; change a pin here and the cache key changes with it.

KUBERNETES_VERSION=v1.34.4   # kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
ETCD_VERSION=v3.6.16         # go.etcd.io/etcd/server/v3 (Debian's 3.4 is too old for 1.34)
KWOK_VERSION=v0.7.0          # kwok, kwokctl (v0.8.0 needs Go 1.26 and an explicit stages config)
METRICS_SERVER_VERSION=v0.9.0
KUBE_ROUTER_VERSION=v2.1.0   # the node profile's NetworkPolicy enforcement (its network policy controller only)
COREDNS_VERSION=v1.12.4      # the node profile's cluster DNS (its client-go is 0.34, as Kubernetes above)
CERT_MANAGER_VERSION=v1.21.2 # its CRDs only (deploy/crds of the library module): the Go module
                             # proxy does not serve the controller's module (cmd/controller)

# Where built binaries live: outside the repository, keyed by component and version.
SESSIONSTORE_CACHE=${SESSIONSTORE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sessionstore-operator}
