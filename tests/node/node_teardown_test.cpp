// The node profile touches the machine itself (mounts, interfaces, iptables chains and ipsets,
// cgroups, IP forwarding, container processes): its tear-down leaves none of it behind, after a
// normal stop with a pod running (a Secret and a claimed volume mounted, NetworkPolicy enforced)
// and after a test process that crashes with the profile up (the watchdog cleans up).
#include <dirent.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "control_plane.h"
#include "eventually.h"
#include "process.h"

namespace sessionstore::testing {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream file(path);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

std::vector<std::string> mountsUnder(const std::string& dir) {
  std::vector<std::string> found;
  std::istringstream table(readFile("/proc/self/mountinfo"));
  for (std::string line; std::getline(table, line);) {
    std::istringstream fields(line);
    std::string field, mountPoint;
    for (int i = 0; i < 5 && fields >> field; ++i) mountPoint = field;
    if (mountPoint.starts_with(dir + "/")) found.push_back(mountPoint);
  }
  return found;
}

std::vector<int> processesMentioning(const std::string& needle) {
  std::vector<int> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (readFile("/proc/" + name + "/cmdline").find(needle) != std::string::npos) {
      found.push_back(std::stoi(name));
    }
  }
  return found;
}

// Lines of iptables-save and ipset that belong to a node profile.
std::string nodeRules() {
  std::string found;
  for (const auto& command : {std::vector<std::string>{"iptables-save"},
                              std::vector<std::string>{"ip6tables-save"},
                              std::vector<std::string>{"ipset", "list", "-n"}}) {
    std::istringstream lines(runProcess(command).out);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("KUBE-") != std::string::npos ||
          line.find("SESSIONSTORE-NODE") != std::string::npos) {
        found += command[0] + ": " + line + "\n";
      }
    }
  }
  return found;
}

std::vector<std::string> nodeCgroups() {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/cgroup", error)) {
    if (std::filesystem::exists(entry.path() / "sessionstore-node")) {
      found.push_back((entry.path() / "sessionstore-node").string());
    }
  }
  return found;
}

struct Machine {
  std::string forwarding = readFile("/proc/sys/net/ipv4/ip_forward");
};

// Everything a node profile in `dir` made is gone, and forwarding is as it was before.
void expectNothingLeft(const std::string& dir, const std::vector<int>& pids,
                       const Machine& before) {
  const bool gone = eventually(
      [&] {
        for (int pid : pids) {
          if (processExists(pid)) return false;
        }
        return processesMentioning(dir).empty() && !std::filesystem::exists(dir);
      },
      std::chrono::seconds(120));
  EXPECT_TRUE(gone) << dir;
  for (int pid : pids) EXPECT_FALSE(processExists(pid)) << "pid " << pid << " still runs";
  EXPECT_TRUE(processesMentioning(dir).empty()) << "a process still names " << dir;
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " was not removed";
  EXPECT_TRUE(mountsUnder(dir).empty()) << "still mounted: " << mountsUnder(dir).front();
  EXPECT_FALSE(std::filesystem::exists("/sys/class/net/ssn0")) << "the pods' bridge is left";
  EXPECT_FALSE(std::filesystem::exists("/sys/class/net/ssnode0")) << "the node's interface is left";
  EXPECT_EQ(nodeRules(), "") << "iptables chains or ipsets are left";
  EXPECT_TRUE(nodeCgroups().empty()) << "cgroups are left: " << nodeCgroups().front();
  EXPECT_EQ(readFile("/proc/sys/net/ipv4/ip_forward"), before.forwarding);
}

TEST(NodeTeardown, StopWithAPodRunningLeavesNothingOnTheMachine) {
  const Machine before;
  std::unique_ptr<ControlPlane> plane;
  ASSERT_NO_THROW(plane = ControlPlane::start(Profile::kNode));
  const std::string dir = plane->dir();
  // A pod with what a store's pod has: a Secret (tmpfs), a claimed volume, its own network.
  const auto applied = plane->kubectl({"apply", "-f", "-"}, R"(
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: default}
stringData: {k: v}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: c, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  containers:
  - name: c
    image: )" + plane->env("IMAGE_REDIS") + R"(
    imagePullPolicy: Never
    command: [sh, -c, "while :; do sleep 3600; done"]
    volumeMounts: [{name: s, mountPath: /s}, {name: c, mountPath: /c}]
  volumes:
  - {name: s, secret: {secretName: s}}
  - {name: c, persistentVolumeClaim: {claimName: c}}
)");
  ASSERT_TRUE(applied.ok()) << applied.describe();
  const auto ready =
      plane->kubectl({"wait", "--for=condition=Ready", "pod/p", "--timeout=180s"});
  ASSERT_TRUE(ready.ok()) << ready.describe();
  EXPECT_FALSE(mountsUnder(dir).empty()) << "a running pod mounts under the profile";
  EXPECT_FALSE(nodeCgroups().empty());
  EXPECT_NE(nodeRules(), "");
  // The container's processes live in the node's cgroups, which can go only once they are gone.
  const std::vector<int> pids = plane->pids();
  const auto stopped = plane->stop();
  EXPECT_TRUE(stopped.ok()) << stopped.describe();
  expectNothingLeft(dir, pids, before);
}

TEST(NodeTeardown, ATestProcessThatCrashesWithTheNodeUpLeavesNothingOnTheMachine) {
  const Machine before;
  const std::string outFile = ::testing::TempDir() + "teardown-child-crash-node";
  const auto result = runProcess({TEARDOWN_CHILD, "crash", "node", outFile},
                                 {.timeout = std::chrono::minutes(30)});
  EXPECT_EQ(result.exitCode, 128 + SIGABRT) << result.describe();
  std::ifstream in(outFile);
  std::string dir;
  std::getline(in, dir);
  std::vector<int> pids;
  for (int pid; in >> pid;) pids.push_back(pid);
  std::remove(outFile.c_str());
  ASSERT_FALSE(dir.empty());
  ASSERT_FALSE(pids.empty());
  expectNothingLeft(dir, pids, before);
}

}  // namespace
}  // namespace sessionstore::testing
