// Tear-down leaves no process and no file behind: after a normal stop, after a test that fails
// half-way (destructors run), and after a test process that crashes (the watchdog cleans up).
#include <dirent.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>

#include "control_plane.h"
#include "eventually.h"

namespace sessionstore::testing {
namespace {

bool pathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Pids of live processes whose command line mentions `needle`.
std::vector<int> processesMentioning(const std::string& needle) {
  std::vector<int> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (const dirent* entry = ::readdir(proc)) {
    const std::string name = entry->d_name;
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream file("/proc/" + name + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos) found.push_back(std::stoi(name));
  }
  ::closedir(proc);
  return found;
}

void expectNothingLeft(const std::string& dir, const std::vector<int>& pids) {
  ASSERT_FALSE(dir.empty());
  ASSERT_FALSE(pids.empty()) << "the control plane recorded no process";
  const bool gone = eventually(
      [&] {
        for (int pid : pids) {
          if (processExists(pid)) return false;
        }
        return processesMentioning(dir).empty() && !pathExists(dir);
      },
      std::chrono::seconds(60));
  for (int pid : pids) EXPECT_FALSE(processExists(pid)) << "pid " << pid << " still runs";
  EXPECT_TRUE(processesMentioning(dir).empty()) << "a process still names " << dir;
  EXPECT_FALSE(pathExists(dir)) << dir << " was not removed";
  EXPECT_TRUE(gone);
}

struct ChildRun {
  std::string dir;
  std::vector<int> pids;
  ProcessResult result;
};

ChildRun runChild(const std::string& mode, const std::string& profile) {
  ChildRun run;
  const std::string outFile = ::testing::TempDir() + "teardown-child-" + mode + "-" + profile;
  run.result = runProcess({TEARDOWN_CHILD, mode, profile, outFile},
                          {.timeout = std::chrono::minutes(5)});
  std::ifstream in(outFile);
  std::getline(in, run.dir);
  for (int pid; in >> pid;) run.pids.push_back(pid);
  std::remove(outFile.c_str());
  return run;
}

TEST(Teardown, StopLeavesNoProcessOrFileBehind) {
  std::unique_ptr<ControlPlane> plane;
  ASSERT_NO_THROW(plane = ControlPlane::start(Profile::kApiServer));
  const std::string dir = plane->dir();
  const auto pids = plane->pids();
  for (int pid : pids) EXPECT_TRUE(processExists(pid)) << "pid " << pid << " is not running";
  const auto stopped = plane->stop();
  EXPECT_TRUE(stopped.ok()) << stopped.describe();
  expectNothingLeft(dir, pids);
}

TEST(Teardown, ATestThatFailsHalfWayLeavesNothingBehind) {
  const auto run = runChild("fail", "apiserver");
  EXPECT_EQ(run.result.exitCode, 1) << run.result.describe();
  expectNothingLeft(run.dir, run.pids);
}

TEST(Teardown, ATestProcessThatCrashesLeavesNothingBehind) {
  const auto run = runChild("crash", "apiserver");
  EXPECT_EQ(run.result.exitCode, 128 + SIGABRT) << run.result.describe();
  expectNothingLeft(run.dir, run.pids);
}

TEST(Teardown, AClusterProfileTestThatCrashesLeavesNothingBehind) {
  const auto run = runChild("crash", "cluster");
  EXPECT_EQ(run.result.exitCode, 128 + SIGABRT) << run.result.describe();
  expectNothingLeft(run.dir, run.pids);
}

}  // namespace
}  // namespace sessionstore::testing
