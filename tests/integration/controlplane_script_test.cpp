// The control-plane scripts use binaries people already have: SESSIONSTORE_CONTROLPLANE_BIN
// first, then setup-envtest's KUBEBUILDER_ASSETS, then the project's cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "control_plane.h"

namespace sessionstore::testing {
namespace {

std::map<std::string, std::string> printPaths(const std::map<std::string, std::string>& env) {
  const auto result = runProcess({sourceDir() + "/scripts/build-controlplane", "--print-paths"},
                                 {.env = env, .timeout = std::chrono::minutes(30)});
  EXPECT_TRUE(result.ok()) << result.describe();
  std::map<std::string, std::string> paths;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) paths[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return paths;
}

TEST(ControlPlaneScripts, UseKubebuilderAssetsAndTheirOwnFolderFirst) {
  const auto assets = std::filesystem::path(::testing::TempDir()) / "envtest-assets";
  const auto mine = std::filesystem::path(::testing::TempDir()) / "my-binaries";
  std::filesystem::remove_all(assets);
  std::filesystem::remove_all(mine);
  std::filesystem::create_directories(assets);
  std::filesystem::create_directories(mine);
  // setup-envtest's folder holds etcd, kube-apiserver and kubectl.
  for (const char* name : {"etcd", "kube-apiserver", "kubectl"}) {
    std::filesystem::create_symlink(controlPlaneBinary(name), assets / name);
  }
  std::filesystem::create_symlink(controlPlaneBinary("kubectl"), mine / "kubectl");

  auto paths =
      printPaths({{"KUBEBUILDER_ASSETS", assets.string()}, {"SESSIONSTORE_CONTROLPLANE_BIN", ""}});
  EXPECT_EQ(paths["etcd"], (assets / "etcd").string());
  EXPECT_EQ(paths["kube-apiserver"], (assets / "kube-apiserver").string());
  EXPECT_EQ(paths["kubectl"], (assets / "kubectl").string());
  EXPECT_NE(paths["kwok"].find("/kwok-"), std::string::npos) << "the rest comes from the cache";

  paths = printPaths(
      {{"KUBEBUILDER_ASSETS", assets.string()}, {"SESSIONSTORE_CONTROLPLANE_BIN", mine.string()}});
  EXPECT_EQ(paths["kubectl"], (mine / "kubectl").string());
  EXPECT_EQ(paths["etcd"], (assets / "etcd").string());
  std::filesystem::remove_all(assets);
  std::filesystem::remove_all(mine);
}

}  // namespace
}  // namespace sessionstore::testing
