// Scenario 10: every example's plan is accepted by a real kube-apiserver. With the SessionStore
// CRD installed and the example's app applied for real, the plan output piped into
// `kubectl apply --server-side --dry-run=server --field-manager=sessionstore-operator -f -`
// (with --force-conflicts, as the operator applies) succeeds for every document; the example
// itself applies (with -f DIR and -k DIR), and the server stores its SessionStore with the same
// effective spec that plan printed.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/session_store.h"
#include "control_plane.h"
#include "plan/yaml_json.h"
#include "process.h"

namespace sessionstore::testing {
namespace {

namespace fs = std::filesystem;

class PlanAgainstApiServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      plane_ = ControlPlane::start(Profile::kApiServer);
    } catch (const std::exception& e) {
      startError_ = e.what();
      return;
    }
    const auto applied = plane_->kubectl({"apply", "-f", sourceDir() + "/crds/"});
    if (!applied.ok()) {
      startError_ = "kubectl apply -f crds/: " + applied.describe();
      return;
    }
    const auto established = plane_->waitForCrd("sessionstores.sessionstore.io");
    if (!established.ok()) startError_ = "CRD not established: " + established.describe();
  }
  static void TearDownTestSuite() { plane_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(startError_.empty()) << startError_;
    ASSERT_NE(plane_, nullptr);
  }

  static std::unique_ptr<ControlPlane> plane_;
  static std::string startError_;
};

std::unique_ptr<ControlPlane> PlanAgainstApiServer::plane_;
std::string PlanAgainstApiServer::startError_;

std::vector<fs::path> examples() {
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(sourceDir() + "/examples")) {
    const std::string name = entry.path().filename().string();
    // The GitOps examples deploy another example (tests/manifests/apply_test.cpp applies them).
    if (entry.is_directory() && name != "argocd" && name != "flux") dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(PlanAgainstApiServer, EveryExamplesPlanPassesServerSideDryRun) {
  const auto dirs = examples();
  ASSERT_GE(dirs.size(), 3u) << "examples/ should hold at least 3 examples";
  for (const auto& dir : dirs) {
    const std::string name = dir.filename().string();
    SCOPED_TRACE("examples/" + name);
    const std::string ns = "plan-" + name;
    const auto created = plane_->kubectl({"create", "namespace", ns});
    ASSERT_TRUE(created.ok()) << created.describe();

    // The example as a user applies it, checked first by the server (-f DIR and -k DIR).
    for (const std::string how : {"-f", "-k"}) {
      const auto dry = plane_->kubectl({"apply", "-n", ns, how, dir.string(), "--dry-run=server"});
      EXPECT_TRUE(dry.ok()) << "kubectl apply " << how << ": " << dry.describe();
    }
    // The app for real: every file but the SessionStore.
    std::vector<std::string> apply = {"apply", "-n", ns};
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string file = entry.path().filename().string();
      if (entry.path().extension() == ".yaml" && file != "sessionstore.yaml") {
        apply.push_back("-f");
        apply.push_back(entry.path().string());
      }
    }
    const auto app = plane_->kubectl(apply);
    ASSERT_TRUE(app.ok()) << app.describe();

    const std::string store = (dir / "sessionstore.yaml").string();
    const std::vector<std::vector<std::string>> plans = {
        {OPERATOR_BINARY, "plan", "-n", ns, "-f", store, "--deployment",
         (dir / "deployment.yaml").string(), "--service", (dir / "service.yaml").string()},
        {OPERATOR_BINARY, "plan", "-n", ns, "-f", store}};
    for (const auto& argv : plans) {
      const auto planned = runProcess(argv);
      ASSERT_TRUE(planned.ok()) << planned.describe();
      const auto documents = plan::parseYaml(planned.out);
      ASSERT_TRUE(documents.has_value()) << documents.error();
      ASSERT_FALSE(documents->empty());
      // --force-conflicts as the operator applies (force = true): kubectl's client-side apply
      // of the app's Service owns its defaulted spec.sessionAffinity, which the affinity patch
      // takes over.
      const auto dryRun =
          plane_->kubectl({"apply", "--server-side", "--force-conflicts", "--dry-run=server",
                           "--field-manager=sessionstore-operator", "-f", "-"},
                          planned.out);
      EXPECT_TRUE(dryRun.ok()) << dryRun.describe() << "\nthe plan:\n" << planned.out;
      EXPECT_EQ(count(dryRun.out, "(server dry run)"), documents->size()) << dryRun.out;
    }

    // The SessionStore for real: the server accepts it and stores the spec plan printed.
    const auto applied = plane_->kubectl({"apply", "-n", ns, "-f", store});
    ASSERT_TRUE(applied.ok()) << applied.describe();
    const auto got = plane_->kubectl({"get", "-n", ns, "-f", store, "-o", "json"});
    ASSERT_TRUE(got.ok()) << got.describe();
    const auto stored = api::parseSessionStore(nlohmann::json::parse(got.out));
    ASSERT_TRUE(stored.has_value()) << stored.error();
    std::ifstream in(store);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto documents = plan::parseYaml(text);
    ASSERT_TRUE(documents.has_value() && documents->size() == 1u);
    const auto fromFile = api::parseSessionStore(documents->front());
    ASSERT_TRUE(fromFile.has_value()) << fromFile.error();
    EXPECT_EQ(api::toJson(stored->spec), api::toJson(fromFile->spec));
    EXPECT_EQ(stored->spec, fromFile->spec);
  }
}

}  // namespace
}  // namespace sessionstore::testing
