#include "control_plane.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sessionstore::testing {

std::string sourceDir() { return SESSIONSTORE_SOURCE_DIR; }

std::string controlPlaneBinary(const std::string& name) {
  static const std::map<std::string, std::string> paths = [] {
    const auto result = runProcess({sourceDir() + "/scripts/build-controlplane", "--node", "--print-paths"},
                                   {.timeout = std::chrono::minutes(60)});
    if (!result.ok()) {
      throw std::runtime_error("build-controlplane failed: " + result.describe());
    }
    std::map<std::string, std::string> found;
    std::istringstream lines(result.out);
    for (std::string line; std::getline(lines, line);) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) found[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return found;
  }();
  const auto it = paths.find(name);
  if (it == paths.end()) throw std::runtime_error("no control-plane binary named " + name);
  return it->second;
}

std::unique_ptr<ControlPlane> ControlPlane::start(Profile profile,
                                                  const std::string& extraApiServerArgs) {
  const std::string name = profile == Profile::kApiServer ? "apiserver"
                           : profile == Profile::kCluster ? "cluster"
                                                          : "node";
  auto result = runProcess(
      {sourceDir() + "/scripts/controlplane", "up", name, "--owner-pid", std::to_string(::getpid())},
      {.env = {{"SESSIONSTORE_APISERVER_ARGS", extraApiServerArgs}},
       // The node profile may wait for another node profile to go, and builds missing images.
       .timeout = std::chrono::minutes(profile == Profile::kNode ? 30 : 5)});
  if (!result.ok()) {
    throw std::runtime_error("controlplane up " + name + " failed: " + result.describe());
  }
  std::string dir = result.out;
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) dir.pop_back();
  return std::unique_ptr<ControlPlane>(new ControlPlane(dir));
}

ControlPlane::ControlPlane(std::string dir) : dir_(std::move(dir)) {
  std::ifstream file(dir_ + "/env");
  for (std::string line; std::getline(file, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
}

ControlPlane::~ControlPlane() {
  if (!stopped_) stop();
}

std::string ControlPlane::env(const std::string& key) const {
  const auto it = env_.find(key);
  return it == env_.end() ? "" : it->second;
}

std::vector<int> ControlPlane::pids() const {
  std::vector<int> result;
  std::ifstream file(dir_ + "/pids");
  for (std::string pid, name; file >> pid >> name;) {
    if (!pid.empty() && pid.find_first_not_of("0123456789") == std::string::npos) {
      result.push_back(std::stoi(pid));
    }
  }
  return result;
}

ProcessResult ControlPlane::kubectl(const std::vector<std::string>& args,
                                    const std::string& input) const {
  std::vector<std::string> argv{controlPlaneBinary("kubectl"), "--kubeconfig", kubeconfig()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProcess(argv, {.input = input});
}

ProcessResult ControlPlane::waitForCrd(const std::string& crd) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto waited = kubectl({"wait", "--for=condition=Established", "--timeout=60s", "crd/" + crd});
    const bool noConditionsYet = waited.err.find("accessor error") != std::string::npos;
    if (waited.ok() || !noConditionsYet || std::chrono::steady_clock::now() >= deadline) {
      return waited;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

ProcessResult ControlPlane::restart(const std::string& component) const {
  return runProcess({sourceDir() + "/scripts/controlplane", "restart", dir_, component},
                    {.timeout = std::chrono::minutes(2)});
}

ProcessResult ControlPlane::stop() {
  stopped_ = true;
  return runProcess({sourceDir() + "/scripts/controlplane", "down", dir_},
                    {.timeout = std::chrono::minutes(2)});
}

}  // namespace sessionstore::testing
