// `sessionstore-operator plan` as a user runs it: the built binary on every example (exit 0, the
// same bytes twice), and on bad input (exit 2, a message on stderr naming the file).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "control_plane.h"
#include "process.h"

namespace sessionstore::testing {
namespace {

namespace fs = std::filesystem;

ProcessResult plan(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), {OPERATOR_BINARY, "plan"});
  return runProcess(args, {.input = input});
}

std::string example(const std::string& name, const std::string& file) {
  return sourceDir() + "/examples/" + name + "/" + file;
}

// A file with `text` in a fresh temporary folder.
std::string writeTemp(const std::string& name, const std::string& text) {
  const fs::path dir = fs::path(::testing::TempDir()) / "plan_command_test";
  fs::create_directories(dir);
  const fs::path path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

std::vector<std::string> exampleNames() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(sourceDir() + "/examples")) {
    const std::string name = entry.path().filename().string();
    // The GitOps examples deploy another example (tests/manifests/apply_test.cpp applies them).
    if (entry.is_directory() && name != "argocd" && name != "flux") names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(PlanCommand, PlansEveryExample) {
  const auto names = exampleNames();
  ASSERT_GE(names.size(), 3u);
  for (const auto& name : names) {
    const std::vector<std::string> args = {"-n",
                                           "demo",
                                           "-f",
                                           example(name, "sessionstore.yaml"),
                                           "--deployment",
                                           example(name, "deployment.yaml"),
                                           "--service=" + example(name, "service.yaml")};
    const auto first = plan(args);
    ASSERT_TRUE(first.ok()) << name << ": " << first.describe();
    EXPECT_EQ(first.err, "") << name;
    EXPECT_EQ(first.out.rfind("# sessionstore-operator plan for SessionStore demo/", 0), 0u)
        << name << ":\n"
        << first.out;
    const auto second = plan(args);
    ASSERT_TRUE(second.ok()) << name << ": " << second.describe();
    EXPECT_EQ(first.out, second.out) << name << ": two runs printed different plans";

    const auto storeOnly = plan({"-f", example(name, "sessionstore.yaml")});
    EXPECT_TRUE(storeOnly.ok()) << name << ": " << storeOnly.describe();
  }
}

TEST(PlanCommand, ReadsTheSessionStoreFromStdin) {
  std::ifstream in(example("download-tokens", "sessionstore.yaml"));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto result = plan({"-f", "-"}, text);
  ASSERT_TRUE(result.ok()) << result.describe();
  EXPECT_NE(result.out.find("#   -f <stdin>\n"), std::string::npos) << result.out;
}

TEST(PlanCommand, HelpListsTheFlags) {
  const auto help = plan({"--help"});
  ASSERT_TRUE(help.ok()) << help.describe();
  EXPECT_NE(help.out.find("--deployment FILE"), std::string::npos) << help.out;
  const auto top = runProcess({OPERATOR_BINARY, "help"});
  ASSERT_TRUE(top.ok()) << top.describe();
  EXPECT_NE(top.out.find("  plan "), std::string::npos) << top.out;
}

void expectInputError(const ProcessResult& result, const std::string& message) {
  EXPECT_EQ(result.exitCode, 2) << result.describe();
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find(message), std::string::npos) << "stderr lacks \"" << message << "\":\n"
                                                         << result.err;
}

TEST(PlanCommand, BadInputExitsTwoWithTheMessage) {
  expectInputError(plan({}), "sessionstore-operator plan: -f SESSIONSTORE.yaml is required");
  expectInputError(plan({"-f", "/nonexistent/sessionstore.yaml"}),
                   "sessionstore-operator plan: cannot read /nonexistent/sessionstore.yaml: No "
                   "such file or directory");
  expectInputError(plan({"-f", example("download-tokens", "sessionstore.yaml"), "--deployment",
                         "/nonexistent/deployment.yaml"}),
                   "cannot read /nonexistent/deployment.yaml");
  expectInputError(plan({"-f", example("download-tokens", "sessionstore.yaml"), "--replicas", "3"}),
                   "unknown flag --replicas");
  expectInputError(plan({"-f"}), "flag -f needs a value");

  const std::string broken = writeTemp("broken.yaml", "kind: SessionStore\nspec: [\n");
  expectInputError(plan({"-f", broken}), broken + ": not valid YAML: line ");

  expectInputError(plan({"-f", example("download-tokens", "deployment.yaml")}),
                   example("download-tokens", "deployment.yaml") +
                       ": is a Deployment (apps/v1), not a SessionStore");

  const std::string invalid = writeTemp("invalid.yaml", R"(apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: web}
spec:
  target: {deployment: web}
  store: {type: Memcached}
)");
  expectInputError(plan({"-f", invalid}), invalid + ": spec.store.type: ");

  expectInputError(plan({"-f", example("download-tokens", "sessionstore.yaml"), "--deployment",
                         example("api-autoscaled", "deployment.yaml")}),
                   example("api-autoscaled", "deployment.yaml") +
                       ": is Deployment \"api\", but spec.target.deployment in ");
}

}  // namespace
}  // namespace sessionstore::testing
