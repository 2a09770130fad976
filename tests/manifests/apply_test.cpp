// Every file of manifests/ and examples/ accepted by a real kube-apiserver (apiserver profile):
// both variants of manifests/ applied for real with `kubectl apply --server-side -k`; the GitOps
// examples (examples/argocd, examples/flux) with server-side dry-run, against stand-ins for Argo
// CD's and Flux's CRDs (testdata/gitops-crds.yaml); and every other example as its kustomize
// rendering, with server-side dry-run. plan_apiserver_test covers the app examples' plans.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "control_plane.h"
#include "process.h"

namespace sessionstore::testing {
namespace {

namespace fs = std::filesystem;

// The examples that deploy another example with a GitOps tool: objects of Argo CD's and Flux's
// kinds, applied with -f (no kustomization of their own).
const std::vector<std::string> kGitOpsExamples = {"argocd/application.yaml",
                                                  "flux/kustomization.yaml"};

std::string readText(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class ApplyToApiServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      plane_ = ControlPlane::start(Profile::kApiServer);
    } catch (const std::exception& e) {
      startError_ = e.what();
      return;
    }
    for (const std::string& file :
         {sourceDir() + "/crds/", sourceDir() + "/tests/manifests/testdata/gitops-crds.yaml"}) {
      const auto applied = plane_->kubectl({"apply", "-f", file});
      if (!applied.ok()) {
        startError_ = "kubectl apply -f " + file + ": " + applied.describe();
        return;
      }
    }
    for (const char* crd : {"sessionstores.sessionstore.io", "applications.argoproj.io",
                            "kustomizations.kustomize.toolkit.fluxcd.io",
                            "gitrepositories.source.toolkit.fluxcd.io"}) {
      const auto established = plane_->waitForCrd(crd);
      if (!established.ok()) {
        startError_ = std::string("CRD ") + crd + " not established: " + established.describe();
        return;
      }
    }
  }
  static void TearDownTestSuite() { plane_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(startError_.empty()) << startError_;
    ASSERT_NE(plane_, nullptr);
  }

  static void createNamespace(const std::string& ns) {
    const auto created = plane_->kubectl({"create", "namespace", ns});
    ASSERT_TRUE(created.ok() || created.err.find("AlreadyExists") != std::string::npos)
        << created.describe();
  }

  static std::unique_ptr<ControlPlane> plane_;
  static std::string startError_;
};

std::unique_ptr<ControlPlane> ApplyToApiServer::plane_;
std::string ApplyToApiServer::startError_;

TEST_F(ApplyToApiServer, BothVariantsOfTheManifestsApply) {
  const auto clusterWide =
      plane_->kubectl({"apply", "--server-side", "-k", sourceDir() + "/manifests/"});
  ASSERT_TRUE(clusterWide.ok()) << clusterWide.describe();
  // sessionstore-system enforces the "restricted" Pod Security Standard; the API server warns
  // when a Deployment's pod template would violate it.
  EXPECT_EQ(clusterWide.err.find("PodSecurity"), std::string::npos) << clusterWide.err;
  for (const std::string object :
       {"deployment/sessionstore-operator", "poddisruptionbudget/sessionstore-operator",
        "service/sessionstore-operator-metrics", "serviceaccount/sessionstore-operator",
        "role/sessionstore-operator-leader-election"}) {
    const auto got = plane_->kubectl({"get", "-n", "sessionstore-system", object});
    EXPECT_TRUE(got.ok()) << object << ": " << got.describe();
  }
  EXPECT_TRUE(plane_->kubectl({"get", "clusterrolebinding/sessionstore-operator"}).ok());

  // The namespaced variant's Role lives in the namespace it watches, which must exist.
  createNamespace("shop");
  const auto namespaced =
      plane_->kubectl({"apply", "--server-side", "-k", sourceDir() + "/manifests/namespaced/"});
  ASSERT_TRUE(namespaced.ok()) << namespaced.describe();
  EXPECT_TRUE(plane_->kubectl({"get", "-n", "shop", "role/sessionstore-operator"}).ok());
  const auto args =
      plane_->kubectl({"get", "-n", "sessionstore-system", "deployment/sessionstore-operator", "-o",
                       "jsonpath={.spec.template.spec.containers[0].args}"});
  ASSERT_TRUE(args.ok()) << args.describe();
  EXPECT_NE(args.out.find("--namespaces=shop"), std::string::npos) << args.out;
}

TEST_F(ApplyToApiServer, GitOpsExamplesPassServerSideDryRun) {
  createNamespace("argocd");
  createNamespace("flux-system");
  for (const auto& file : kGitOpsExamples) {
    SCOPED_TRACE("examples/" + file);
    const fs::path path = fs::path(sourceDir()) / "examples" / file;
    const std::string text = readText(path);
    // The first comment line names the example and the problem it solves.
    const std::string name = fs::path(file).parent_path().string();
    EXPECT_EQ(text.rfind("# examples/" + name + ": ", 0), 0u) << text.substr(0, 80);
    const auto dry =
        plane_->kubectl({"apply", "--server-side", "--dry-run=server", "-f", path.string()});
    EXPECT_TRUE(dry.ok()) << dry.describe();
    EXPECT_EQ(count(dry.out, "(server dry run)"), count(text, "\nkind: ")) << dry.out;
    // It deploys an example that exists.
    const auto at = text.find("path: ");
    ASSERT_NE(at, std::string::npos);
    std::string target = text.substr(at + 6, text.find_first_of(" \n", at + 6) - at - 6);
    if (target.rfind("./", 0) == 0) target = target.substr(2);
    EXPECT_TRUE(fs::exists(fs::path(sourceDir()) / target / "Kustomization")) << target;
  }
}

TEST_F(ApplyToApiServer, EveryOtherExampleRendersAndPassesServerSideDryRun) {
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(sourceDir() + "/examples")) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory()) continue;
    if (std::any_of(kGitOpsExamples.begin(), kGitOpsExamples.end(),
                    [&name](const std::string& file) { return file.rfind(name + "/", 0) == 0; })) {
      continue;
    }
    dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  ASSERT_GE(dirs.size(), 3u);
  for (const auto& dir : dirs) {
    const std::string name = dir.filename().string();
    SCOPED_TRACE("examples/" + name);
    const auto rendered = runProcess({controlPlaneBinary("kubectl"), "kustomize", dir.string()});
    ASSERT_TRUE(rendered.ok()) << rendered.describe();
    const std::string ns = "apply-" + name;
    createNamespace(ns);
    const auto dry = plane_->kubectl(
        {"apply", "--server-side", "--dry-run=server", "-n", ns, "-f", "-"}, rendered.out);
    EXPECT_TRUE(dry.ok()) << dry.describe() << "\n" << rendered.out;
    EXPECT_EQ(count(dry.out, "(server dry run)"), count(rendered.out, "\nkind: ")) << dry.out;
  }
}

}  // namespace
}  // namespace sessionstore::testing
