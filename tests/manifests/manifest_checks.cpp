#include "manifest_checks.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sessionstore::testing::manifests {

namespace fs = std::filesystem;

namespace {

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string str(YAML::Node node, const std::string& fallback = "") {
  return node && node.IsScalar() ? node.as<std::string>() : fallback;
}

std::vector<std::string> strings(YAML::Node node) {
  std::vector<std::string> result;
  if (!node || !node.IsSequence()) return result;
  for (YAML::Node item : node) result.push_back(str(item));
  return result;
}

std::string kindOf(YAML::Node object) { return str(object["kind"]); }
std::string nameOf(YAML::Node object) { return str(object["metadata"]["name"]); }
std::string namespaceOf(YAML::Node object) { return str(object["metadata"]["namespace"]); }

std::string roleLabel(YAML::Node role) {
  const std::string ns = namespaceOf(role);
  return kindOf(role) + " " + (ns.empty() ? "" : ns + "/") + nameOf(role);
}

void addRules(YAML::Node role, Grants& grants) {
  YAML::Node rules = role["rules"];
  if (!rules || !rules.IsSequence()) return;
  for (YAML::Node rule : rules) {
    for (const auto& group : strings(rule["apiGroups"])) {
      for (const auto& resource : strings(rule["resources"])) {
        for (const auto& verb : strings(rule["verbs"])) grants[group + "/" + resource].insert(verb);
      }
    }
  }
}

// The Role or ClusterRole a binding refers to; null if it is not among the objects.
YAML::Node roleOf(const std::vector<YAML::Node>& objects, YAML::Node binding) {
  const std::string kind = str(binding["roleRef"]["kind"]);
  const std::string name = str(binding["roleRef"]["name"]);
  for (YAML::Node object : objects) {
    if (kindOf(object) != kind || nameOf(object) != name) continue;
    if (kind == "Role" && namespaceOf(object) != namespaceOf(binding)) continue;
    return object;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool bindsServiceAccount(YAML::Node binding, const std::string& ns, const std::string& name) {
  YAML::Node subjects = binding["subjects"];
  if (!subjects || !subjects.IsSequence()) return false;
  for (YAML::Node subject : subjects) {
    if (str(subject["kind"]) == "ServiceAccount" && str(subject["name"]) == name &&
        str(subject["namespace"]) == ns) {
      return true;
    }
  }
  return false;
}

bool isBinding(YAML::Node object) {
  const std::string kind = kindOf(object);
  return kind == "RoleBinding" || kind == "ClusterRoleBinding";
}

bool isRole(YAML::Node object) {
  const std::string kind = kindOf(object);
  return kind == "Role" || kind == "ClusterRole";
}

// One row of what the code calls.
struct Expected {
  std::string group;
  std::string resource;
  std::set<std::string> verbs;
};

void add(Grants& grants, const std::vector<Expected>& rows) {
  for (const auto& row : rows) {
    grants[row.group + "/" + row.resource].insert(row.verbs.begin(), row.verbs.end());
  }
}

}  // namespace

std::vector<YAML::Node> parseDocuments(const std::string& text) {
  std::vector<YAML::Node> result;
  for (const auto& document : YAML::LoadAll(text)) {
    if (document.IsMap()) result.push_back(document);
  }
  return result;
}

std::vector<YAML::Node> loadKustomization(const fs::path& dir) {
  fs::path file;
  for (const char* name : {"kustomization.yaml", "kustomization.yml", "Kustomization"}) {
    if (fs::exists(dir / name)) {
      file = dir / name;
      break;
    }
  }
  if (file.empty()) throw std::runtime_error(dir.string() + " holds no kustomization");
  YAML::Node kustomization = YAML::Load(readFile(file));
  std::vector<YAML::Node> objects;
  for (const auto& entry : strings(kustomization["resources"])) {
    const fs::path path = dir / entry;
    if (fs::is_directory(path)) {
      auto nested = loadKustomization(path);
      objects.insert(objects.end(), nested.begin(), nested.end());
    } else if (fs::is_regular_file(path)) {
      auto documents = parseDocuments(readFile(path));
      objects.insert(objects.end(), documents.begin(), documents.end());
    } else {
      throw std::runtime_error(file.string() + " lists " + entry + ", which does not exist");
    }
  }
  return objects;
}

std::map<std::string, Grants> grantsOf(const std::vector<YAML::Node>& objects,
                                       const std::string& ns, const std::string& name) {
  std::map<std::string, Grants> result;
  for (YAML::Node binding : objects) {
    if (!isBinding(binding) || !bindsServiceAccount(binding, ns, name)) continue;
    YAML::Node role = roleOf(objects, binding);
    if (!role) continue;
    const std::string scope = kindOf(binding) == "ClusterRoleBinding" ? "" : namespaceOf(binding);
    addRules(role, result[scope]);
  }
  return result;
}

Grants expectedWatchedGrants() {
  Grants grants;
  add(grants,
      {
          // operator/informer (list, watch), operator/app/main.cpp (list: the CRD probe),
          // operator/reconcile/reconciler.cpp: get, patch (finalizer, merge patch).
          {"sessionstore.io", "sessionstores", {"get", "list", "watch", "patch"}},
          // reconciler.cpp and scaling_controller.cpp: update(..., "status").
          {"sessionstore.io", "sessionstores/status", {"update"}},
          // No call: blockOwnerDeletion under OwnerReferencesPermissionEnforcement.
          {"sessionstore.io", "sessionstores/finalizers", {"update"}},
          // get; create (password Secret); apply (patch, create on first apply); remove;
          // list, watch: the metadata-only informer (operator/app/main.cpp).
          {"", "secrets", {"get", "list", "watch", "create", "patch", "delete"}},
          // Informers (list, watch); ensureOwned: get, then apply (patch; create when the
          // apply creates it).
          {"", "configmaps", {"get", "list", "watch", "create", "patch"}},
          {"", "services", {"get", "list", "watch", "create", "patch"}},
          {"apps", "statefulsets", {"get", "list", "watch", "create", "patch", "delete"}},
          {"networking.k8s.io", "networkpolicies", {"get", "list", "watch", "create", "patch"}},
          // Replicas above 1: the store's PodDisruptionBudget, like the objects above; deleted
          // on a scale down to one pod (operator/reconcile/reconciler.cpp, removeStaleBudget).
          {"policy", "poddisruptionbudgets",
           {"get", "list", "watch", "create", "patch", "delete"}},
          // The target: informer (list, watch), get, apply (wiring, release on deletion).
          {"apps", "deployments", {"get", "list", "watch", "patch"}},
          // finalize with deletionPolicy Delete: listAll by label, remove.
          {"", "persistentvolumeclaims", {"list", "delete"}},
          // operator/events/recorder.cpp: create, merge patch (series).
          {"events.k8s.io", "events", {"create", "patch"}},
          // Autoscaling, operator/autoscaling/scaling_controller.cpp.
          {"apps", "deployments/scale", {"patch"}},
          // ... and the Redis pods: informer (list, watch, operator/app/main.cpp), the role label
          // moved on failover (operator/reconcile/reconciler.cpp, stepFailover: patch).
          {"", "pods", {"get", "list", "watch", "patch"}},
          {"metrics.k8s.io", "pods", {"get", "list"}},
          // Memory that follows load: the Redis pod's limit resized in place
          // (operator/reconcile/apply.cpp, resizeMemoryLimit).
          {"", "pods/resize", {"patch"}},
          // A managed TLS store with an issuerRef: its cert-manager Certificate, applied (no cache).
          {"cert-manager.io", "certificates", {"create", "get", "patch"}},
          // The pools' replica bound too: informers (list, watch), operator/app/main.cpp.
          {"autoscaling", "horizontalpodautoscalers", {"list", "watch"}},
          {"keda.sh", "scaledobjects", {"list", "watch"}},
      });
  return grants;
}

Grants expectedOperatorNamespaceGrants() {
  Grants grants;
  // operator/leaderelection/leader_elector.cpp: get, create, update.
  add(grants, {{"coordination.k8s.io", "leases", {"get", "create", "update"}}});
  return grants;
}

std::vector<std::string> rbacProblems(const std::vector<YAML::Node>& objects) {
  std::vector<std::string> problems;
  for (YAML::Node object : objects) {
    if (isBinding(object) && !roleOf(objects, object)) {
      problems.push_back(kindOf(object) + " " + nameOf(object) + " refers to " +
                         str(object["roleRef"]["kind"]) + " " + str(object["roleRef"]["name"]) +
                         ", which the manifests do not define");
    }
    if (!isRole(object)) continue;
    YAML::Node rules = object["rules"];
    if (object["aggregationRule"]) {
      problems.push_back(roleLabel(object) + " aggregates other roles: its rules are not its own");
    }
    if (!rules || !rules.IsSequence()) continue;
    int index = 0;
    for (YAML::Node rule : rules) {
      for (const char* field : {"apiGroups", "resources", "verbs", "resourceNames"}) {
        for (const auto& value : strings(rule[field])) {
          if (value.find('*') != std::string::npos) {
            problems.push_back(roleLabel(object) + " rule " + std::to_string(index) + " has '" +
                               value + "' in " + field);
          }
        }
      }
      if (rule["nonResourceURLs"]) {
        problems.push_back(roleLabel(object) + " rule " + std::to_string(index) +
                           " grants nonResourceURLs");
      }
      ++index;
    }
  }
  return problems;
}

std::vector<std::string> clusterWideSecretReads(const std::vector<YAML::Node>& objects) {
  std::vector<std::string> problems;
  for (YAML::Node binding : objects) {
    if (kindOf(binding) != "ClusterRoleBinding") continue;
    YAML::Node role = roleOf(objects, binding);
    if (!role) continue;
    Grants grants;
    addRules(role, grants);
    for (const char* resource : {"/secrets", "/*", "*/secrets", "*/*"}) {
      const auto it = grants.find(resource);
      if (it == grants.end()) continue;
      for (const char* verb : {"get", "list", "watch", "*"}) {
        if (it->second.contains(verb)) {
          problems.push_back("ClusterRoleBinding " + nameOf(binding) + " grants '" + verb +
                             "' on Secrets in every namespace through " + roleLabel(role));
        }
      }
    }
  }
  return problems;
}

YAML::Node findObject(const std::vector<YAML::Node>& objects, const std::string& kind,
                      const std::string& name) {
  for (YAML::Node object : objects) {
    if (kindOf(object) == kind && (name.empty() || nameOf(object) == name)) return object;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::vector<std::string> deploymentProblems(const std::vector<YAML::Node>& objects) {
  std::vector<std::string> problems;
  YAML::Node deployment = findObject(objects, "Deployment", "sessionstore-operator");
  if (!deployment) return {"no Deployment named sessionstore-operator"};
  const auto expect = [&problems](bool ok, const std::string& what) {
    if (!ok) problems.push_back(what);
  };
  expect(namespaceOf(deployment) == kOperatorNamespace,
         "the Deployment is not in namespace sessionstore-system");
  expect(str(deployment["spec"]["replicas"]) == "2", "spec.replicas is not 2");
  YAML::Node pod = deployment["spec"]["template"]["spec"];
  expect(str(deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]) ==
             "sessionstore-operator",
         "the pod template lacks the label app.kubernetes.io/name: sessionstore-operator, which "
         "the stores' NetworkPolicies admit");
  expect(str(pod["serviceAccountName"]) == kServiceAccount,
         "serviceAccountName is not sessionstore-operator");
  YAML::Node containers = pod["containers"];
  if (!containers || !containers.IsSequence() || containers.size() != 1) {
    problems.push_back("the pod does not have exactly one container");
    return problems;
  }
  YAML::Node container = containers[0];
  const std::string name = "container " + str(container["name"]) + ": ";

  // run --leader-elect true --operator-namespace sessionstore-system
  const auto args = strings(container["args"]);
  const auto has = [&args](const std::string& flag, const std::string& value) {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == flag + "=" + value) return true;
      if (args[i] == flag && i + 1 < args.size() && args[i + 1] == value) return true;
    }
    return false;
  };
  expect(!args.empty() && args.front() == "run", name + "args do not start with run");
  expect(has("--leader-elect", "true"), name + "args lack --leader-elect true");
  expect(has("--operator-namespace", kOperatorNamespace),
         name + "args lack --operator-namespace sessionstore-system");

  bool podName = false;
  if (container["env"] && container["env"].IsSequence()) {
    for (YAML::Node env : container["env"]) {
      podName |= str(env["name"]) == "POD_NAME" &&
                 str(env["valueFrom"]["fieldRef"]["fieldPath"]) == "metadata.name";
    }
  }
  expect(podName, name + "POD_NAME does not come from the downward API's metadata.name");

  std::map<std::string, std::string> ports;  // name -> number
  if (container["ports"] && container["ports"].IsSequence()) {
    for (YAML::Node port : container["ports"]) {
      ports[str(port["name"])] = str(port["containerPort"]);
    }
  }
  expect(ports["metrics"] == "8080", name + "no port named metrics on 8080");
  const auto probe = [&](const char* field, const std::string& path) {
    YAML::Node get = container[field]["httpGet"];
    std::string port = str(get["port"]);
    if (ports.contains(port)) port = ports[port];
    expect(get && str(get["path"]) == path && port == "8081",
           name + field + " is not an httpGet of " + path + " on port 8081");
  };
  probe("livenessProbe", "/healthz");
  probe("readinessProbe", "/readyz");
  for (const char* kind : {"requests", "limits"}) {
    for (const char* resource : {"cpu", "memory"}) {
      expect(!str(container["resources"][kind][resource]).empty(),
             name + "resources." + kind + "." + resource + " is not set");
    }
  }

  YAML::Node podSecurity = pod["securityContext"];
  YAML::Node security = container["securityContext"];
  // A container setting wins over the pod's, as in the kubelet.
  const auto effective = [&](const char* field) {
    return security && security[field] ? security[field] : podSecurity[field];
  };
  expect(str(effective("runAsNonRoot")) == "true", name + "runAsNonRoot is not true");
  expect(str(security["readOnlyRootFilesystem"]) == "true",
         name + "readOnlyRootFilesystem is not true");
  expect(str(security["allowPrivilegeEscalation"]) == "false",
         name + "allowPrivilegeEscalation is not false");
  const auto dropped = strings(security["capabilities"]["drop"]);
  expect(std::find(dropped.begin(), dropped.end(), "ALL") != dropped.end(),
         name + "capabilities.drop does not hold ALL");
  expect(!security["capabilities"]["add"], name + "capabilities.add is set");
  expect(str(effective("seccompProfile")["type"]) == "RuntimeDefault",
         name + "seccompProfile is not RuntimeDefault");
  expect(str(effective("privileged"), "false") == "false", name + "runs privileged");
  const std::string user = str(effective("runAsUser"));
  expect(user != "0", name + "runAsUser is 0");
  return problems;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

std::string describe(const Grants& grants) {
  std::string text;
  for (const auto& [resource, verbs] : grants) {
    text += "\n  " + resource + ":";
    for (const auto& verb : verbs) text += " " + verb;
  }
  return text;
}

}  // namespace sessionstore::testing::manifests
