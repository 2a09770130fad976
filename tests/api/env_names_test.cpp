// The env names the operator may not write (api/env_names.h): the operator's own check, the
// parser's refusal naming the field, and the CRD's CEL rule, which must hold exactly the same list.
#include "api/env_names.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <regex>
#include <string>
#include <vector>

#include "api/session_store.h"

namespace sessionstore::api {
namespace {

TEST(ReservedEnvVar, LoaderShellAndRuntimeNamesAreReservedInAnyCase) {
  for (const std::string name : {"LD_PRELOAD",
                                 "LD_LIBRARY_PATH",
                                 "LD_AUDIT",
                                 "ld_preload",
                                 "PATH",
                                 "path",
                                 "HOME",
                                 "SHELL",
                                 "IFS",
                                 "ENV",
                                 "BASH_ENV",
                                 "BASHOPTS",
                                 "PS4",
                                 "CDPATH",
                                 "PROMPT_COMMAND",
                                 "PYTHONPATH",
                                 "PYTHONSTARTUP",
                                 "PYTHONHOME",
                                 "PYTHONBREAKPOINT",
                                 "NODE_OPTIONS",
                                 "PERL5OPT",
                                 "PERL5LIB",
                                 "RUBYOPT",
                                 "JAVA_TOOL_OPTIONS",
                                 "_JAVA_OPTIONS",
                                 "JDK_JAVA_OPTIONS",
                                 "GCONV_PATH",
                                 "MALLOC_CHECK_",
                                 "GLIBC_TUNABLES",
                                 "DOTNET_STARTUP_HOOKS",
                                 "LUA_INIT",
                                 "OPENSSL_CONF",
                                 "HTTPS_PROXY",
                                 "http_proxy",
                                 "SSL_CERT_FILE",
                                 "KUBERNETES_SERVICE_HOST",
                                 "TMPDIR"}) {
    const auto entry = reservedEnvVar(name);
    EXPECT_TRUE(entry.has_value()) << name;
    const std::string problem = reservedEnvVarProblem(name);
    EXPECT_NE(problem.find("\"" + name + "\" may not be used"), std::string::npos) << problem;
  }
}

TEST(ReservedEnvVar, OrdinaryNamesAreFree) {
  for (const std::string name :
       {"REDIS_URL", "REDIS_MAX_CONNECTIONS", "WORKERS", "SESSION_URL", "WEB_CONCURRENCY",
        "CACHE_URL", "PATHS_URL", "MY_PATH", "XLD_PRELOAD", "HOMEPAGE_URL", "ENVIRONMENT_URL", "L",
        "LD", "NODE", "JAVA"}) {
    EXPECT_FALSE(reservedEnvVar(name).has_value()) << name;
    EXPECT_EQ(reservedEnvVarProblem(name), "") << name;
  }
}

TEST(ReservedEnvVar, ThePatternMatchesExactlyTheReservedNames) {
  // CEL's matches() is RE2; std::regex's ECMAScript grammar has no inline (?i), so the flag is
  // taken off and given as icase: the rest of the pattern is the same in both.
  const std::string pattern = reservedEnvVarPattern();
  ASSERT_TRUE(pattern.starts_with("(?i)"));
  const std::regex re(pattern.substr(4), std::regex::ECMAScript | std::regex::icase);
  for (const auto& entry : reservedEnvVars()) {
    const std::string name(entry.name);
    EXPECT_TRUE(std::regex_search(name + (entry.prefix ? "X" : ""), re)) << name;
    if (!entry.prefix) {
      EXPECT_FALSE(std::regex_search(name + "X", re)) << name << "X";
    }
    EXPECT_FALSE(std::regex_search("X" + name, re)) << "X" << name;
  }
  EXPECT_FALSE(std::regex_search(std::string("REDIS_URL"), re));
}

TEST(ReservedEnvVar, TheParserRefusesThemNamingTheField) {
  const Json base = {{"metadata", {{"name", "web"}}},
                     {"spec", {{"target", {{"deployment", "web"}}}}}};
  const std::vector<std::pair<Json::json_pointer, std::string>> fields = {
      {Json::json_pointer("/spec/connection/urlEnvVar"), "spec.connection.urlEnvVar"},
      {Json::json_pointer("/spec/connection/poolSizeEnvVar"), "spec.connection.poolSizeEnvVar"},
      {Json::json_pointer("/spec/workers/envVar"), "spec.workers.envVar"}};
  for (const auto& [pointer, path] : fields) {
    Json object = base;
    object[pointer] = "LD_PRELOAD";
    const auto parsed = parseSessionStore(object);
    ASSERT_FALSE(parsed.has_value()) << path;
    EXPECT_EQ(parsed.error(),
              path +
                  ": \"LD_PRELOAD\" may not be used: LD_* is reserved because the dynamic loader "
                  "reads it to load code into every process; choose a name the app reads for "
                  "this and nothing else (the defaults are REDIS_URL, REDIS_MAX_CONNECTIONS and "
                  "WORKERS)");
  }
}

// Every env field of the CRD carries the rule !self.matches('<reservedEnvVarPattern()>'): the CRD
// and the operator refuse the same names.
TEST(ReservedEnvVar, TheCrdHoldsTheSameRuleOnEveryEnvField) {
  const YAML::Node crd = YAML::LoadFile(std::string(SESSIONSTORE_SOURCE_DIR) +
                                        "/crds/sessionstore.io_sessionstores.yaml");
  const YAML::Node spec =
      crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
  const std::string wanted = "!self.matches('" + reservedEnvVarPattern() + "')";
  const std::vector<YAML::Node> fields = {spec["connection"]["properties"]["urlEnvVar"],
                                          spec["connection"]["properties"]["poolSizeEnvVar"],
                                          spec["workers"]["properties"]["envVar"]};
  for (const YAML::Node& field : fields) {
    ASSERT_TRUE(field.IsMap());
    bool found = false;
    for (const auto& rule : field["x-kubernetes-validations"]) {
      found = found || rule["rule"].as<std::string>() == wanted;
    }
    EXPECT_TRUE(found) << "an env field of the CRD lacks the rule " << wanted;
  }
}

// The CRD's pattern for spec.store.managed.image says what imageref::parse says (the API server
// refuses early what the operator would refuse later), on references valid and not.
TEST(ImagePattern, TheCrdAgreesWithTheOperatorsParser) {
  const YAML::Node crd = YAML::LoadFile(std::string(SESSIONSTORE_SOURCE_DIR) +
                                        "/crds/sessionstore.io_sessionstores.yaml");
  const YAML::Node image =
      crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
         ["store"]["properties"]["managed"]["properties"]["image"];
  ASSERT_TRUE(image["pattern"].IsScalar());
  const std::regex pattern(image["pattern"].as<std::string>());
  const std::string digest = "@sha256:" + std::string(64, 'a');
  for (const std::string& text : std::vector<std::string>{"redis",
                                                          "redis:7.2-alpine",
                                                          "bitnami/redis:7",
                                                          "registry.example.com:5000/team/redis:7",
                                                          "localhost/redis",
                                                          "Registry.Example.com/a__b.c---d/e",
                                                          "[::1]:5000/redis:7",
                                                          "redis" + digest,
                                                          "redis:7" + digest,
                                                          "Redis",
                                                          "team/Redis",
                                                          "redis:",
                                                          "redis:.7",
                                                          "redis:7\nFLUSHALL",
                                                          "redis:7 ",
                                                          "redis@sha256:abc",
                                                          "registry..example.com/redis",
                                                          "registry.example.com/",
                                                          "redis//x",
                                                          "a-/b",
                                                          "redis.",
                                                          "redis:7\r",
                                                          "-x.io/redis"}) {
    const Json store = {{"metadata", {{"name", "web"}}},
                        {"spec",
                         {{"target", {{"deployment", "web"}}},
                          {"store", {{"type", "Managed"}, {"managed", {{"image", text}}}}}}}};
    const bool operatorAccepts = parseSessionStore(store).has_value();
    EXPECT_EQ(std::regex_match(text, pattern), operatorAccepts) << text;
  }
  Json newline = {{"metadata", {{"name", "web"}}},
                  {"spec",
                   {{"target", {{"deployment", "web"}}},
                    {"store", {{"type", "Managed"}, {"managed", {{"image", "redis:7\nx"}}}}}}}};
  const auto parsed = parseSessionStore(newline);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(
      parsed.error(),
      "spec.store.managed.image: must be an image reference ([registry/]name[:tag][@digest]): "
      "the image has a space, control or non-ASCII character at position 8: an image "
      "reference has none");
}

}  // namespace
}  // namespace sessionstore::api
