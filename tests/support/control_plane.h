// A real control plane for integration tests, started with scripts/controlplane and torn down
// when the object goes (and by the script's watchdog if this test process dies first).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "process.h"

namespace sessionstore::testing {

enum class Profile {
  kApiServer,  // etcd + kube-apiserver
  kCluster,    // kwokctl: + controller-manager, scheduler, kwok nodes, metrics-server
  kNode,       // + one real node: containerd, runc, kubelet, kube-proxy, CoreDNS; the project's
               // images imported (env IMAGE_OPERATOR, IMAGE_REDIS, IMAGE_DEMO_APP, IMAGE_PAUSE)
};

// The repository's root (for crds/, examples/, scripts/).
std::string sourceDir();
// Path of a pinned control-plane binary ("kubectl", "etcd", ...), as build-controlplane says.
std::string controlPlaneBinary(const std::string& name);

class ControlPlane {
 public:
  // Starts a profile. Throws std::runtime_error with the script's output when it cannot.
  // extraApiServerArgs: added to kube-apiserver's flags (apiserver profile only).
  static std::unique_ptr<ControlPlane> start(Profile profile,
                                             const std::string& extraApiServerArgs = "");
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  const std::string& dir() const { return dir_; }
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }
  // A value written by the script to DIR/env (KUBECONFIG, APISERVER_URL, ETCD_URL, ...).
  std::string env(const std::string& key) const;
  // Pids the script recorded for the processes it started.
  std::vector<int> pids() const;

  // kubectl with this plane's kubeconfig.
  ProcessResult kubectl(const std::vector<std::string>& args, const std::string& input = "") const;

  // Waits (up to 60 s) until the CustomResourceDefinition `crd` (e.g.
  // "sessionstores.sessionstore.io") is Established. `kubectl wait --for=condition=...` fails at
  // once, with ".status.conditions accessor error: <nil> is of the type <nil>", when it reads the
  // CRD before the API server has written any condition; that answer is waited through here.
  ProcessResult waitForCrd(const std::string& crd) const;

  // Stops a component (etcd, kube-apiserver) of the apiserver profile and starts it again.
  ProcessResult restart(const std::string& component) const;

  // Tears down now; the destructor does it otherwise. Returns the script's result.
  ProcessResult stop();

 private:
  explicit ControlPlane(std::string dir);
  std::string dir_;
  std::map<std::string, std::string> env_;
  bool stopped_ = false;
};

}  // namespace sessionstore::testing
