#include "plan_command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "plan/plan.h"

namespace {

constexpr std::string_view kPlanUsage =
    "usage: sessionstore-operator plan -f SESSIONSTORE.yaml [--deployment FILE] [--service FILE]\n"
    "                                  [-n NAMESPACE] [--operator-namespace NAMESPACE]\n"
    "\n"
    "Prints, without a cluster, the objects and patches the operator would apply for the\n"
    "SessionStore, as multi-document YAML for review. Passwords and what only the cluster knows\n"
    "are placeholders, said so in comments.\n"
    "\n"
    "  -f, --filename FILE        the SessionStore (- for stdin)\n"
    "  --deployment FILE          the target Deployment: adds the connection Secret, the\n"
    "                             Deployment's patch and the NetworkPolicy\n"
    "  --service FILE             the target Service (checked against spec.target.service)\n"
    "  -n, --namespace NAMESPACE  when the SessionStore's file does not set one (default: "
    "default)\n"
    "  --operator-namespace NS    where the operator runs (default: sessionstore-system)\n";

int usageError(const std::string& message) {
  std::fprintf(stderr, "sessionstore-operator plan: %s\n\n%s", message.c_str(), kPlanUsage.data());
  return 2;
}

// The whole file (or stdin for "-"), or an error naming the path.
std::optional<std::string> readFile(const std::string& path, std::string& error) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    if (std::cin.bad()) {
      error = "cannot read stdin";
      return std::nullopt;
    }
    return text.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  text << file.rdbuf();
  if (file.bad()) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  return text.str();
}

}  // namespace

int runPlan(int argc, char** argv) {
  std::optional<std::string> storePath, deploymentPath, servicePath;
  std::string ns;
  std::string operatorNamespace(sessionstore::identity::kDefaultOperatorNamespace);
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kPlanUsage.data(), stdout);
      return 0;
    }
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    } else if (arg == "-f" || arg == "-n" || arg.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return usageError("flag " + arg + " needs a value");
      value = argv[++i];
    } else {
      return usageError("unexpected argument \"" + arg + "\"");
    }
    if (arg == "-f" || arg == "--filename") {
      storePath = value;
    } else if (arg == "--deployment") {
      deploymentPath = value;
    } else if (arg == "--service") {
      servicePath = value;
    } else if (arg == "-n" || arg == "--namespace") {
      if (value.empty()) return usageError("-n needs a namespace");
      ns = value;
    } else if (arg == "--operator-namespace") {
      if (value.empty()) return usageError("--operator-namespace needs a namespace");
      operatorNamespace = value;
    } else {
      return usageError("unknown flag " + arg);
    }
  }
  if (!storePath) return usageError("-f SESSIONSTORE.yaml is required");

  std::string error;
  auto load = [&](const std::string& path) -> std::optional<sessionstore::plan::InputFile> {
    auto text = readFile(path, error);
    if (!text) return std::nullopt;
    return sessionstore::plan::InputFile{.path = path == "-" ? "<stdin>" : path,
                                         .text = std::move(*text)};
  };
  sessionstore::plan::PlanInput input;
  input.ns = ns;
  input.operatorNamespace = operatorNamespace;
  auto store = load(*storePath);
  if (!store) {
    std::fprintf(stderr, "sessionstore-operator plan: %s\n", error.c_str());
    return 2;
  }
  input.sessionStore = std::move(*store);
  for (auto [path, slot] :
       {std::pair{&deploymentPath, &input.deployment}, std::pair{&servicePath, &input.service}}) {
    if (!*path) continue;
    if (**path == "-") return usageError("only -f can read stdin");
    *slot = load(**path);
    if (!*slot) {
      std::fprintf(stderr, "sessionstore-operator plan: %s\n", error.c_str());
      return 2;
    }
  }

  const auto plan = sessionstore::plan::renderPlan(input);
  if (!plan) {
    std::fprintf(stderr, "sessionstore-operator plan: %s\n", plan.error().c_str());
    return 2;
  }
  if (std::fwrite(plan->data(), 1, plan->size(), stdout) != plan->size() ||
      std::fflush(stdout) != 0) {
    std::fprintf(stderr, "sessionstore-operator plan: cannot write the plan: %s\n",
                 std::strerror(errno));
    return 1;
  }
  return 0;
}
