// The README's main-job command, run as a new user would on a machine where the control plane is
// already built: `scripts/demo --down` starts a local control plane with a real node, installs the
// operator in it, shows the first seed's failure (tokens failing across pods) and its end once the
// SessionStore is applied, and exits cleanly, leaving nothing running. `--kwok` is the faster form
// on kwok's nodes. What the runs took is printed, never asserted: times belong in bench/.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <regex>

#include "control_plane.h"
#include "process.h"

namespace sessionstore::testing {
namespace {

// Runs scripts/demo with `args` and returns what it printed; prints how long it took.
ProcessResult runDemo(const std::vector<std::string>& args) {
  std::vector<std::string> argv{sourceDir() + "/scripts/demo"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto started = std::chrono::steady_clock::now();
  auto demo = runProcess(argv, {.timeout = std::chrono::minutes(25)});
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  std::cout << "[ demo ] scripts/demo";
  for (const auto& arg : args) std::cout << ' ' << arg;
  std::cout << " took " << seconds << " s\n";
  return demo;
}

// The control plane's folder the demo printed is gone: nothing was left running.
void expectTornDown(const std::string& out) {
  std::smatch dir;
  ASSERT_TRUE(std::regex_search(out, dir, std::regex("(/tmp/sessionstore-cp\\.[A-Za-z0-9]+)")))
      << out;
  EXPECT_FALSE(std::filesystem::exists(dir[1].str())) << dir[1].str();
}

TEST(MainJob, OnARealNodeTokensFailAcrossPodsUntilTheSessionStoreWiresRedis) {
  const auto demo = runDemo({"--down"});
  ASSERT_TRUE(demo.ok()) << demo.describe() << "\n" << demo.out;
  std::smatch before;
  ASSERT_TRUE(std::regex_search(demo.out, before,
                                std::regex("before the SessionStore ([0-9]+) of 100 downloads "
                                           "failed; after it ([0-9]+) of 100")))
      << demo.out;
  EXPECT_GT(std::stoi(before[1].str()), 0) << "the failure the seed describes did not show";
  EXPECT_EQ(before[2].str(), "0");
  // The SessionStore line of `kubectl get sessionstores`: Ready, its store, 5 workers (CPU limit
  // 2, default formula).
  EXPECT_TRUE(std::regex_search(demo.out,
                                std::regex("web +Ready +web-redis\\.demo\\.svc:6379 +[23] +5")))
      << demo.out;
  EXPECT_NE(demo.out.find("REDIS_URL: web-session-store"), std::string::npos) << demo.out;
  EXPECT_NE(demo.out.find("WORKERS: 5"), std::string::npos) << demo.out;
  EXPECT_NE(demo.out.find("Tore the local control plane and its node down."), std::string::npos);
  expectTornDown(demo.out);
}

TEST(MainJob, OnKwokNodesTheExampleConvergesAndTheDemoExitsCleanly) {
  const auto demo = runDemo({"--kwok", "--down"});
  ASSERT_TRUE(demo.ok()) << demo.describe() << "\n" << demo.out;
  EXPECT_TRUE(std::regex_search(demo.out,
                                std::regex("web +Ready +web-redis\\.demo\\.svc:6379 +[23] +5")))
      << demo.out;
  EXPECT_NE(demo.out.find("REDIS_URL: web-session-store"), std::string::npos) << demo.out;
  EXPECT_NE(demo.out.find("WORKERS: 5"), std::string::npos) << demo.out;
  EXPECT_NE(demo.out.find("Tore the local control plane, the operator and Redis down."),
            std::string::npos);
  expectTornDown(demo.out);
}

}  // namespace
}  // namespace sessionstore::testing
