// The README's main-job command, run as a new user would on a machine where the control plane is
// already built: `scripts/demo --down` starts the local control plane, runs the operator,
// converges examples/download-tokens to Ready with a wired Deployment in under a minute, and
// exits cleanly, leaving nothing running.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <regex>

#include "control_plane.h"
#include "process.h"

namespace sessionstore::testing {
namespace {

TEST(MainJob, TheDemoConvergesAnExampleInUnderAMinuteAndExitsCleanly) {
  const auto started = std::chrono::steady_clock::now();
  const auto demo = runProcess({sourceDir() + "/scripts/demo", "--down"},
                               {.timeout = std::chrono::minutes(5)});
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(demo.ok()) << demo.describe() << "\n" << demo.out;
  // The SessionStore line of `kubectl get sessionstores`: Ready, with its store, the replicas
  // (2, or 3 while the wiring's rollout surges) and 5 workers (CPU limit 2, default formula).
  EXPECT_TRUE(std::regex_search(demo.out,
                                std::regex("web +Ready +web-redis\\.demo\\.svc:6379 +[23] +5")))
      << demo.out;
  EXPECT_NE(demo.out.find("REDIS_URL: web-session-store"), std::string::npos) << demo.out;
  EXPECT_NE(demo.out.find("WORKERS: 5"), std::string::npos) << demo.out;
  EXPECT_NE(demo.out.find("Tore the local control plane, the operator and Redis down."),
            std::string::npos);
  // Everything built already: the whole run, control plane start and stop included.
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(took).count();
  std::cout << "[ demo ] scripts/demo --down took " << seconds << " s\n";
  EXPECT_LT(took, std::chrono::seconds(60)) << "took " << seconds << " s";
  // Nothing left running: the control plane's folder is gone.
  std::smatch dir;
  ASSERT_TRUE(std::regex_search(demo.out, dir, std::regex("(/tmp/sessionstore-cp\\.[A-Za-z0-9]+)")));
  EXPECT_FALSE(std::filesystem::exists(dir[1].str())) << dir[1].str();
}

}  // namespace
}  // namespace sessionstore::testing
