// renderPlan on the examples, as whole documents: what is printed, in which order, with which
// comments and placeholders; determinism; and every input error with its message.
#include "plan/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "api/session_store.h"
#include "crypto/crypto.h"
#include "managedstore/managed_store.h"
#include "plan/yaml_json.h"
#include "reconcile/desired.h"
#include "wiring/connection.h"
#include "wiring/wiring.h"

namespace sessionstore::plan {
namespace {

namespace fs = std::filesystem;

std::string examplesDir() { return std::string(SESSIONSTORE_SOURCE_DIR) + "/examples"; }

std::string readText(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

InputFile exampleFile(const std::string& example, const std::string& file) {
  const std::string path = examplesDir() + "/" + example + "/" + file;
  return {.path = path, .text = readText(path)};
}

PlanInput exampleInput(const std::string& example, bool withDeployment = true,
                       bool withService = true, const std::string& ns = "shop") {
  PlanInput input{.sessionStore = exampleFile(example, "sessionstore.yaml"), .ns = ns};
  if (withDeployment) input.deployment = exampleFile(example, "deployment.yaml");
  if (withService) input.service = exampleFile(example, "service.yaml");
  return input;
}

std::string mustRender(const PlanInput& input) {
  auto plan = renderPlan(input);
  EXPECT_TRUE(plan.has_value()) << plan.error();
  return plan.value_or("");
}

std::vector<Json> documentsOf(const std::string& plan) {
  auto documents = parseYaml(plan);
  EXPECT_TRUE(documents.has_value()) << documents.error();
  return documents.value_or(std::vector<Json>{});
}

// "Kind name" of each document.
std::vector<std::string> kindsAndNames(const std::vector<Json>& documents) {
  std::vector<std::string> out;
  for (const auto& document : documents) {
    out.push_back(document["kind"].get<std::string>() + " " +
                  document["metadata"]["name"].get<std::string>());
  }
  return out;
}

// The comment lines just above the `index`-th document (0-based) of the plan.
std::string commentAbove(const std::string& plan, std::size_t index) {
  std::size_t at = 0;
  for (std::size_t i = 0; i <= index; ++i) {
    at = plan.find("---\n", at);
    if (at == std::string::npos) return "";
    at += 4;
  }
  std::string comment;
  std::istringstream lines(plan.substr(at));
  for (std::string line; std::getline(lines, line) && line.rfind("#", 0) == 0;) {
    comment += line + "\n";
  }
  return comment;
}

// The header: every line before the first document.
std::string header(const std::string& plan) { return plan.substr(0, plan.find("---\n")); }

// Comment lines as one text, "# " and indentation dropped, so that a phrase wrapped across
// lines is found whole.
std::string unwrap(const std::string& comment) {
  std::string out;
  std::istringstream lines(comment);
  for (std::string line; std::getline(lines, line);) {
    const std::size_t text = line.find_first_not_of("# ");
    if (text == std::string::npos) continue;
    out += (out.empty() ? "" : " ") + line.substr(text);
  }
  return out;
}

std::string decode(const Json& secret, const std::string& key) {
  const auto decoded = crypto::base64Decode(secret["data"][key].get<std::string>());
  EXPECT_TRUE(decoded) << key << ": " << decoded.error();
  return decoded.value_or("");
}

// The SessionStore of an example as plan sees it: namespace set, placeholder uid.
api::SessionStore exampleStore(const std::string& example, const std::string& ns) {
  auto documents = parseYaml(readText(examplesDir() + "/" + example + "/sessionstore.yaml"));
  EXPECT_TRUE(documents.has_value());
  auto store = api::parseSessionStore(documents->front());
  EXPECT_TRUE(store.has_value()) << store.error();
  store->metadata.ns = ns;
  store->metadata.uid = std::string(kPlaceholderUid);
  return *store;
}

Json exampleObject(const std::string& example, const std::string& file) {
  auto documents = parseYaml(readText(examplesDir() + "/" + example + "/" + file));
  EXPECT_TRUE(documents.has_value() && documents->size() == 1);
  return documents->front();
}

// Every env entry of every container of every document.
std::vector<Json> allEnv(const std::vector<Json>& documents) {
  std::vector<Json> env;
  for (const auto& document : documents) {
    if (!document.contains("spec") || !document["spec"].contains("template")) continue;
    for (const auto& container : document["spec"]["template"]["spec"]["containers"]) {
      if (!container.contains("env")) continue;
      for (const auto& entry : container["env"]) env.push_back(entry);
    }
  }
  return env;
}

const managedstore::Passwords kPlaceholders{.app = std::string(kPlaceholderPassword),
                                            .monitor = std::string(kPlaceholderPassword)};

TEST(RenderPlan, DownloadTokensHasEveryDocumentInOrder) {
  const auto documents = documentsOf(mustRender(exampleInput("download-tokens")));
  EXPECT_EQ(kindsAndNames(documents),
            (std::vector<std::string>{
                "Secret web-redis-auth", "ConfigMap web-redis-config", "Service web-redis-headless",
                "Service web-redis", "StatefulSet web-redis", "NetworkPolicy web-redis",
                "Secret web-session-store", "Deployment web", "Service web", "Service web"}));
  for (const auto& document : documents) {
    EXPECT_EQ(document["metadata"]["namespace"], "shop") << document.dump();
  }
}

TEST(RenderPlan, DownloadTokensStoreObjectsAreTheReconcilersWithPlaceholders) {
  const auto documents = documentsOf(mustRender(exampleInput("download-tokens")));
  const auto store = exampleStore("download-tokens", "shop");
  const auto expected = reconcile::managedStoreObjects(
      store, kPlaceholders,
      reconcile::podTemplateLabels(exampleObject("download-tokens", "deployment.yaml")),
      reconcile::operatorPeer(std::string(identity::kDefaultOperatorNamespace)));
  ASSERT_TRUE(expected.has_value()) << expected.error();
  ASSERT_EQ(expected->size(), 6u);
  for (std::size_t i = 0; i < expected->size(); ++i) {
    EXPECT_EQ(documents[i], (*expected)[i]) << "document " << i + 1;
    EXPECT_EQ(documents[i]["metadata"]["ownerReferences"][0]["uid"], kPlaceholderUid);
  }
  // The NetworkPolicy admits the Deployment's pods by their template labels.
  EXPECT_NE(documents[5]["spec"]["ingress"].dump().find(R"("app.kubernetes.io/name":"web")"),
            std::string::npos)
      << documents[5].dump();
}

TEST(RenderPlan, DownloadTokensDeploymentPatchWiresEnvBySecretKeyRef) {
  const auto documents = documentsOf(mustRender(exampleInput("download-tokens")));
  const Json& secret = documents[6];
  const Json& patch = documents[7];
  const Json expected = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata",
       {{"name", "web"}, {"namespace", "shop"}, {"labels", {{"sessionstore.io/wired-by", "web"}}}}},
      {"spec",
       {{"template",
         {{"metadata",
           {{"annotations",
             {{"sessionstore.io/connection-hash", wiring::connectionHash(secret)}}}}},
          {"spec",
           {{"containers",
             Json::array(
                 {{{"name", "app"},
                   {"env",
                    Json::array(
                        {{{"name", "REDIS_URL"},
                          {"valueFrom",
                           {{"secretKeyRef",
                             {{"name", "web-session-store"}, {"key", "REDIS_URL"}}}}}},
                         {{"name", "SESSION_KEY_PREFIX"},
                          {"valueFrom",
                           {{"secretKeyRef",
                             {{"name", "web-session-store"}, {"key", "SESSION_KEY_PREFIX"}}}}}},
                         // floor(0.9 * 1000 / (10 replicas * 5 workers)): the bound is
                         // spec.target.maxReplicas's default, not the 2 live replicas
                         {{"name", "REDIS_MAX_CONNECTIONS"}, {"value", "18"}},
                         // CPU limit 2: ceil(2 * 2) + 1
                         {{"name", "WORKERS"}, {"value", "5"}}})}}})}}}}}}}};
  EXPECT_EQ(patch, expected);
  EXPECT_EQ(patch["spec"]["template"]["metadata"]["annotations"]["sessionstore.io/connection-hash"]
                .get<std::string>()
                .size(),
            64u);

  // The connection Secret is the reconciler's, from the placeholder endpoint.
  const auto store = exampleStore("download-tokens", "shop");
  EXPECT_EQ(secret,
            wiring::connectionSecret(store, reconcile::managedEndpoint(store, kPlaceholders), 18));
  EXPECT_EQ(decode(secret, "REDIS_URL"),
            "redis://app:generated-by-the-operator-at-apply@web-redis.shop.svc:6379/0");
  EXPECT_EQ(decode(secret, "REDIS_HOST"), "web-redis.shop.svc");
  EXPECT_EQ(decode(secret, "SESSION_KEY_PREFIX"), "shop:web:");
  EXPECT_EQ(decode(secret, "REDIS_MAX_CONNECTIONS"), "18");
}

// Issue 18: `plan` with replicas: 2 and replicas: 4 gave pool 90 against 45 and a new hash, so a
// scale rolled every pod. The pools are sized for a stable bound now: same documents, same hash.
TEST(RenderPlan, AScaleWithinTheBoundChangesNothing) {
  const auto withReplicas = [](int replicas) {
    PlanInput input = exampleInput("download-tokens");
    const std::string from = "replicas: 2";
    const auto at = input.deployment->text.find(from);
    EXPECT_NE(at, std::string::npos);
    input.deployment->text.replace(at, from.size(), "replicas: " + std::to_string(replicas));
    return mustRender(input);
  };
  const std::string two = withReplicas(2);
  const auto documents = documentsOf(two);
  ASSERT_EQ(documents.size(), 10u);
  for (int replicas : {4, 10, 12}) {
    const std::string plan = withReplicas(replicas);
    EXPECT_EQ(documentsOf(plan), documents) << replicas << " replicas";
    const std::string top = unwrap(header(plan));
    EXPECT_NE(top.find("sized for 10 replicas (spec.target.maxReplicas, its default)"),
              std::string::npos)
        << top;
    const bool above = top.find("asks 12 replicas, above that bound") != std::string::npos;
    EXPECT_EQ(above, replicas == 12) << top;
  }
  EXPECT_EQ(decode(documents[6], "REDIS_MAX_CONNECTIONS"), "18");

  // Only the bound moves the pool: spec.target.maxReplicas 4 gives floor(900 / 20) = 45.
  PlanInput bounded = exampleInput("download-tokens");
  auto storeDocs = parseYaml(bounded.sessionStore.text);
  ASSERT_TRUE(storeDocs.has_value());
  Json store = storeDocs->front();
  store["spec"]["target"]["maxReplicas"] = 4;
  bounded.sessionStore.text = store.dump();  // JSON is YAML
  const auto boundedDocs = documentsOf(mustRender(bounded));
  ASSERT_EQ(boundedDocs.size(), 10u);
  EXPECT_EQ(decode(boundedDocs[6], "REDIS_MAX_CONNECTIONS"), "45");
  EXPECT_NE(boundedDocs[7], documents[7]) << "a new bound is a new hash (one roll)";
}

TEST(RenderPlan, NoUrlIsInlineAnywhere) {
  for (const char* example : {"download-tokens", "api-autoscaled", "external-redis"}) {
    const std::string plan = mustRender(exampleInput(example));
    // The URL exists only base64-encoded in the connection Secret's data.
    EXPECT_EQ(plan.find("redis://"), std::string::npos) << example;
    EXPECT_EQ(plan.find("rediss://"), std::string::npos) << example;
    for (const Json& entry : allEnv(documentsOf(plan))) {
      if (entry["name"] == "REDIS_URL" || entry["name"] == "SESSION_KEY_PREFIX") {
        EXPECT_FALSE(entry.contains("value")) << example << ": " << entry.dump();
        EXPECT_TRUE(entry["valueFrom"].contains("secretKeyRef")) << example << ": " << entry.dump();
      }
    }
  }
}

TEST(RenderPlan, TheOnlyPasswordIsThePlaceholder) {
  const std::string plan = mustRender(exampleInput("download-tokens"));
  const auto documents = documentsOf(plan);
  const Json& auth = documents[0];
  EXPECT_EQ(decode(auth, "app-password"), kPlaceholderPassword);
  EXPECT_EQ(decode(auth, "monitor-password"), kPlaceholderPassword);
  EXPECT_EQ(decode(documents[6], "REDIS_PASSWORD"), kPlaceholderPassword);
  // Every ACL hash is the placeholder's.
  const std::string acl = documents[1]["data"]["users.acl"].get<std::string>();
  const std::regex hash("#([0-9a-f]{64})");
  int hashes = 0;
  for (auto it = std::sregex_iterator(acl.begin(), acl.end(), hash); it != std::sregex_iterator();
       ++it) {
    EXPECT_EQ((*it)[1].str(), crypto::sha256Hex(kPlaceholderPassword));
    ++hashes;
  }
  EXPECT_EQ(hashes, 2);
  // Nothing looks like a generated password (43 URL-safe base64 characters) anywhere.
  const std::regex generated("[A-Za-z0-9_-]{43}");
  for (const auto& document : documents) {
    const Json data = document.value("data", Json::object());
    for (const auto& [key, value] : data.items()) {
      // A Secret's data is base64; a ConfigMap's is the text itself, less the ACL's hashes
      // (checked above), whose 64 hex digits would match.
      const std::string text = document.value("kind", "") == "Secret"
                                   ? decode(document, key)
                                   : std::regex_replace(value.get<std::string>(), hash, "#<hash>");
      EXPECT_FALSE(std::regex_search(text, generated))
          << document["metadata"]["name"] << " " << key;
    }
  }
}

TEST(RenderPlan, CommentsSayWhatEachDocumentIsAndHowItIsApplied) {
  const std::string plan = mustRender(exampleInput("download-tokens"));
  const std::string top = header(plan);
  EXPECT_NE(top.find("SessionStore shop/web"), std::string::npos) << top;
  EXPECT_NE(top.find("Effective spec"), std::string::npos) << top;
  // The defaults are spelled out.
  EXPECT_NE(top.find("#       evictionPolicy: volatile-lru"), std::string::npos) << top;
  EXPECT_NE(top.find("#     mode: UntilStoreReady"), std::string::npos) << top;
  EXPECT_NE(top.find("#     urlEnvVar: REDIS_URL"), std::string::npos) << top;
  EXPECT_NE(top.find(std::string(kPlaceholderUid)), std::string::npos) << top;

  const auto documents = documentsOf(plan);
  for (std::size_t i = 0; i < documents.size(); ++i) {
    const std::string raw = commentAbove(plan, i);
    const std::string comment = unwrap(raw);
    EXPECT_EQ(
        raw.rfind("# " + std::to_string(i + 1) + ". " + documents[i]["kind"].get<std::string>() +
                      " " + documents[i]["metadata"]["name"].get<std::string>(),
                  0),
        0u)
        << comment;
    const bool applied = comment.find("server-side apply, field manager sessionstore-operator") !=
                             std::string::npos ||
                         comment.find("created once") != std::string::npos;
    EXPECT_TRUE(applied) << comment;
  }
  for (std::size_t i : {0u, 1u}) {  // the password Secret and the ConfigMap
    const std::string comment = unwrap(commentAbove(plan, i));
    EXPECT_NE(comment.find("generates"), std::string::npos) << comment;
    EXPECT_NE(comment.find("32 bytes from a CSPRNG"), std::string::npos) << comment;
    EXPECT_NE(comment.find(std::string(kPlaceholderPassword)), std::string::npos) << comment;
  }
  EXPECT_NE(unwrap(commentAbove(plan, 8)).find("WHILE THE STORE IS NOT READY"), std::string::npos);
  EXPECT_NE(unwrap(commentAbove(plan, 9)).find("ONCE THE STORE IS READY"), std::string::npos);
  EXPECT_NE(unwrap(commentAbove(plan, 7)).find("Container app: WORKERS=5 from CPU 2"),
            std::string::npos)
      << commentAbove(plan, 7);
}

TEST(RenderPlan, AffinityUntilStoreReadyShowsBothStates) {
  const auto documents = documentsOf(mustRender(exampleInput("download-tokens")));
  const auto store = exampleStore("download-tokens", "shop");
  EXPECT_EQ(documents[8], wiring::serviceAffinityConfiguration(store, false));
  EXPECT_EQ(documents[8]["spec"],
            (Json{{"sessionAffinity", "ClientIP"},
                  {"sessionAffinityConfig", {{"clientIP", {{"timeoutSeconds", 3600}}}}}}));
  EXPECT_EQ(documents[9]["spec"], (Json{{"sessionAffinity", "None"}}));
}

TEST(RenderPlan, IsDeterministic) {
  for (const char* example : {"download-tokens", "api-autoscaled", "external-redis"}) {
    EXPECT_EQ(mustRender(exampleInput(example)), mustRender(exampleInput(example))) << example;
  }
}

TEST(RenderPlan, WithoutTheDeploymentShowsTheStoreAndSaysWhatIsMissing) {
  const std::string plan = mustRender(exampleInput("download-tokens", false, false));
  EXPECT_EQ(kindsAndNames(documentsOf(plan)),
            (std::vector<std::string>{"Secret web-redis-auth", "ConfigMap web-redis-config",
                                      "Service web-redis-headless", "Service web-redis",
                                      "StatefulSet web-redis", "Service web", "Service web"}));
  const std::string top = unwrap(header(plan));
  EXPECT_NE(top.find("- Secret web-session-store (the connection) and the patch of Deployment web"),
            std::string::npos)
      << top;
  EXPECT_NE(top.find("give --deployment FILE"), std::string::npos) << top;
  EXPECT_NE(top.find("- NetworkPolicy web-redis: it admits only the target's pods"),
            std::string::npos)
      << top;
}

TEST(RenderPlan, NamespaceDefaultsAsKubectl) {
  const std::string plan = mustRender(exampleInput("download-tokens", true, true, ""));
  for (const auto& document : documentsOf(plan)) {
    EXPECT_EQ(document["metadata"]["namespace"], "default");
  }
  EXPECT_NE(unwrap(header(plan))
                .find("does not set metadata.namespace, so, as kubectl, the "
                      "plan uses \"default\""),
            std::string::npos)
      << header(plan);

  PlanInput input = exampleInput("download-tokens");
  // A file that names its namespace: used as is, and -n must agree.
  input.sessionStore.text = R"(apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: web, namespace: shop}
spec:
  target: {deployment: web, service: web}
  store: {type: Managed}
)";
  input.ns = "";
  const std::string named = mustRender(input);
  EXPECT_EQ(header(named).find("metadata.namespace"), std::string::npos) << header(named);
  EXPECT_EQ(documentsOf(named)[0]["metadata"]["namespace"], "shop");
  input.ns = "other";
  auto conflict = renderPlan(input);
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error(), input.sessionStore.path +
                                  ": metadata.namespace is \"shop\" but -n asks for \"other\"; "
                                  "leave out one of them, or make them agree");
}

TEST(RenderPlan, ApiAutoscaledWiresOnlyTheNamedContainer) {
  const std::string plan = mustRender(exampleInput("api-autoscaled"));
  const auto documents = documentsOf(plan);
  EXPECT_EQ(kindsAndNames(documents),
            (std::vector<std::string>{
                "Secret api-redis-auth", "ConfigMap api-redis-config", "Service api-redis-headless",
                "Service api-redis", "StatefulSet api-redis", "NetworkPolicy api-redis",
                "Secret api-session-store", "Deployment api", "Service api", "Service api"}));
  const Json& containers = documents[7]["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 1u) << containers.dump();
  EXPECT_EQ(containers[0]["name"], "api");
  // CPU limit 1500m: ceil(1.5 * 2) + 1 = 4 workers; pool floor(0.9 * 2000 / (8 * 4)) = 56.
  EXPECT_EQ(containers[0]["env"][2], (Json{{"name", "REDIS_MAX_CONNECTIONS"}, {"value", "56"}}));
  EXPECT_EQ(containers[0]["env"][3], (Json{{"name", "WORKERS"}, {"value", "4"}}));
  // No persistence: no volume claim.
  EXPECT_FALSE(documents[4]["spec"].contains("volumeClaimTemplates"));
  const std::string top = unwrap(header(plan));
  EXPECT_NE(top.find("scales it between 2 and 8 from measured load"), std::string::npos) << top;
  EXPECT_NE(top.find("(CPU 80% of requests, Latency 2s)"), std::string::npos) << top;
}

TEST(RenderPlan, ExternalRedisUsesAPlaceholderEndpoint) {
  const std::string plan = mustRender(exampleInput("external-redis"));
  const auto documents = documentsOf(plan);
  EXPECT_EQ(kindsAndNames(documents),
            (std::vector<std::string>{"Secret portal-session-store", "Deployment portal",
                                      "Service portal", "Service portal"}));
  const Json& secret = documents[0];
  EXPECT_EQ(decode(secret, "REDIS_HOST"), kExternalPlaceholderHost);
  EXPECT_EQ(decode(secret, "REDIS_PASSWORD"), kExternalPlaceholderPassword);
  EXPECT_EQ(decode(secret, "SESSION_KEY_PREFIX"), "portal:sessions:");
  // A bound of 10 replicas (the default), CPU limit 1: 3 workers; floor(0.9 * 1000 / 30) = 30.
  EXPECT_EQ(decode(secret, "REDIS_MAX_CONNECTIONS"), "30");
  const std::string top = unwrap(header(plan));
  EXPECT_NE(top.find("Secret portal-redis-url, key url"), std::string::npos) << top;
  EXPECT_NE(top.find(std::string(kExternalPlaceholderHost)), std::string::npos) << top;
  EXPECT_NE(unwrap(commentAbove(plan, 0)).find("PLACEHOLDERS: REDIS_URL, REDIS_HOST"),
            std::string::npos);
  // The real URL's placeholder from the example's Secret is never read.
  EXPECT_EQ(plan.find("CHANGE-ME"), std::string::npos);
}

TEST(RenderPlan, EveryExampleParsesAndPlans) {
  int examples = 0;
  for (const auto& entry : fs::directory_iterator(examplesDir())) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    // The GitOps examples deploy another example (tests/manifests/apply_test.cpp applies them).
    if (name == "argocd" || name == "flux") continue;
    ++examples;
    for (const char* file :
         {"sessionstore.yaml", "deployment.yaml", "service.yaml", "Kustomization"}) {
      EXPECT_TRUE(fs::exists(entry.path() / file)) << name << " has no " << file;
    }
    auto store = api::parseSessionStore(exampleObject(name, "sessionstore.yaml"));
    EXPECT_TRUE(store.has_value()) << name << ": " << store.error();
    auto plan = renderPlan(exampleInput(name));
    EXPECT_TRUE(plan.has_value()) << name << ": " << plan.error();
    // The first comment line of sessionstore.yaml names the example and its problem.
    const std::string text = readText((entry.path() / "sessionstore.yaml").string());
    EXPECT_EQ(text.rfind("# examples/" + name + ": ", 0), 0u) << name;
  }
  EXPECT_GE(examples, 3);
}

// --- input errors ---------------------------------------------------------------------------

std::string errorOf(const PlanInput& input) {
  auto plan = renderPlan(input);
  EXPECT_FALSE(plan.has_value()) << "rendered a plan:\n" << plan.value_or("");
  return plan.has_value() ? "" : plan.error();
}

PlanInput withStore(const std::string& text) {
  PlanInput input = exampleInput("download-tokens");
  input.sessionStore = {.path = "bad.yaml", .text = text};
  return input;
}

TEST(RenderPlanErrors, YamlThatDoesNotParseNamesTheFileAndLine) {
  const std::string error = errorOf(withStore("apiVersion: sessionstore.io/v1alpha1\nspec: [\n"));
  EXPECT_EQ(error.rfind("bad.yaml: not valid YAML: line ", 0), 0u) << error;
}

TEST(RenderPlanErrors, ADocumentThatIsNotASessionStore) {
  PlanInput input = exampleInput("download-tokens");
  input.sessionStore = exampleFile("download-tokens", "deployment.yaml");
  EXPECT_EQ(errorOf(input), input.sessionStore.path +
                                ": is a Deployment (apps/v1), not a SessionStore (apiVersion "
                                "sessionstore.io/v1alpha1); -f takes the SessionStore's file");
  EXPECT_EQ(errorOf(withStore("apiVersion: sessionstore.io/v1beta9\nkind: SessionStore\n")),
            "bad.yaml: is a SessionStore (sessionstore.io/v1beta9), not a SessionStore "
            "(apiVersion sessionstore.io/v1alpha1); -f takes the SessionStore's file");
  EXPECT_EQ(errorOf(withStore("- a\n- b\n")),
            "bad.yaml: the document is not a mapping; -f takes a SessionStore (apiVersion "
            "sessionstore.io/v1alpha1)");
  EXPECT_EQ(errorOf(withStore("# nothing here\n")),
            "bad.yaml: holds no object; -f takes a SessionStore (apiVersion "
            "sessionstore.io/v1alpha1)");
  EXPECT_EQ(errorOf(withStore(readText(examplesDir() + "/download-tokens/sessionstore.yaml") +
                              "---\n" + readText(examplesDir() + "/download-tokens/service.yaml"))),
            "bad.yaml: holds 2 YAML documents; -f takes a file with one object, a SessionStore "
            "(apiVersion sessionstore.io/v1alpha1)");
}

TEST(RenderPlanErrors, ASpecErrorNamesTheField) {
  const std::string error = errorOf(withStore(R"(apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: web}
spec:
  target: {deployment: web}
  store: {type: Managed}
  autoscaling: {maxReplicas: "many"}
)"));
  EXPECT_EQ(error.rfind("bad.yaml: spec.autoscaling.maxReplicas: ", 0), 0u) << error;
  const std::string missing = errorOf(withStore(R"(apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: web}
spec:
  store: {type: Managed}
)"));
  EXPECT_EQ(missing.rfind("bad.yaml: spec.target", 0), 0u) << missing;
}

TEST(RenderPlanErrors, TheDeploymentMustBeTheTarget) {
  PlanInput input = exampleInput("download-tokens");
  input.deployment = exampleFile("download-tokens", "service.yaml");
  EXPECT_EQ(errorOf(input), input.deployment->path +
                                ": is a Service (v1), not a Deployment (apiVersion apps/v1); "
                                "--deployment takes the Deployment's file");

  input = exampleInput("download-tokens");
  input.deployment = exampleFile("api-autoscaled", "deployment.yaml");
  EXPECT_EQ(errorOf(input), input.deployment->path + ": is Deployment \"api\", but " +
                                "spec.target.deployment in " + input.sessionStore.path +
                                " names \"web\"; give the file of Deployment \"web\" to "
                                "--deployment");

  input = exampleInput("download-tokens");
  input.deployment->text = std::regex_replace(input.deployment->text, std::regex("\nmetadata:\n"),
                                              "\nmetadata:\n  namespace: elsewhere\n");
  EXPECT_EQ(errorOf(input), input.deployment->path +
                                ": Deployment \"web\" is in namespace \"elsewhere\", but the "
                                "SessionStore is in \"shop\"; the target must be in the "
                                "SessionStore's namespace");
}

TEST(RenderPlanErrors, TheDeploymentMustHaveTheNamedContainers) {
  PlanInput input = exampleInput("api-autoscaled");
  input.deployment->text =
      std::regex_replace(input.deployment->text, std::regex("- name: api\n"), "- name: server\n");
  const std::string error = errorOf(input);
  EXPECT_EQ(error, input.deployment->path +
                       ": Deployment api has no container \"api\" (named in "
                       "spec.target.containers)");
}

TEST(RenderPlanErrors, TheServiceMustBeTheTarget) {
  PlanInput input = exampleInput("download-tokens");
  input.service = exampleFile("download-tokens", "deployment.yaml");
  EXPECT_EQ(errorOf(input), input.service->path +
                                ": is a Deployment (apps/v1), not a Service (apiVersion v1); "
                                "--service takes the Service's file");
  input.service = exampleFile("api-autoscaled", "service.yaml");
  EXPECT_EQ(errorOf(input), input.service->path + ": is Service \"api\", but " +
                                "spec.target.service in " + input.sessionStore.path +
                                " names \"web\"; give the file of Service \"web\" to --service");

  input = withStore(R"(apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: web}
spec:
  target: {deployment: web}
  store: {type: Managed}
)");
  EXPECT_EQ(errorOf(input), input.service->path +
                                ": bad.yaml does not name a Service (spec.target.service is not "
                                "set), so the operator leaves every Service alone; set "
                                "spec.target.service or leave out --service");
}

}  // namespace
}  // namespace sessionstore::plan

namespace sessionstore::plan {
namespace {

// Issue 19: a managed TLS store's plan shows where its certificate comes from (the operator's CA
// and certificate Secrets, with placeholders, or the cert-manager Certificate), a StatefulSet that
// mounts it, and a rediss:// connection with the CA beside it; no key material.
TEST(RenderPlan, AManagedTlsStoreShowsItsCertificateObjects) {
  for (const bool certManager : {false, true}) {
    PlanInput input = exampleInput("download-tokens");
    std::string text = input.sessionStore.text;
    const std::string at = "      maxMemory: 128Mi\n";
    ASSERT_NE(text.find(at), std::string::npos);
    text.replace(text.find(at), at.size(),
                 at + (certManager ? "      tls: {enabled: true, issuerRef: {name: corp-ca}}\n"
                                   : "      tls: {enabled: true}\n"));
    input.sessionStore.text = text;
    const std::string plan = mustRender(input);
    std::map<std::string, Json> byName;
    for (const Json& document : documentsOf(plan)) {
      byName[document.value("kind", "") + " " + document["metadata"].value("name", "")] = document;
    }
    if (certManager) {
      ASSERT_TRUE(byName.contains("Certificate web-redis-tls")) << plan;
      EXPECT_EQ(byName["Certificate web-redis-tls"]["spec"]["issuerRef"]["name"], "corp-ca");
      EXPECT_FALSE(byName.contains("Secret web-redis-tls-ca"));
    } else {
      ASSERT_TRUE(byName.contains("Secret web-redis-tls-ca")) << plan;
      ASSERT_TRUE(byName.contains("Secret web-redis-tls")) << plan;
      EXPECT_EQ(*crypto::base64Decode(
                    byName["Secret web-redis-tls"]["data"]["tls.key"].get<std::string>()),
                kPlaceholderPem);
    }
    EXPECT_EQ(plan.find("PRIVATE KEY"), std::string::npos);
    const Json& config = byName["ConfigMap web-redis-config"];
    EXPECT_NE(config["data"]["redis.conf"].get<std::string>().find("tls-port 6379"),
              std::string::npos);
    EXPECT_NE(byName["StatefulSet web-redis"].dump().find("web-redis-tls"), std::string::npos);
    const Json& connection = byName["Secret web-session-store"];
    EXPECT_TRUE(crypto::base64Decode(connection["data"]["REDIS_URL"].get<std::string>())
                    ->starts_with("rediss://"));
    EXPECT_EQ(*crypto::base64Decode(connection["data"]["ca.crt"].get<std::string>()),
              kPlaceholderPem);
  }
}

// Issue 18, memory that follows load: plan says what memory does, and the objects are those of
// the floor (the level is the cluster's to reach), with the updateStrategy that keeps a raise from
// rolling Redis and the monitor user allowed to CONFIG SET.
TEST(RenderPlan, MemoryThatFollowsLoadIsShownOnTheStoreObjects) {
  PlanInput input = exampleInput("download-tokens");
  auto storeDocs = parseYaml(input.sessionStore.text);
  ASSERT_TRUE(storeDocs.has_value());
  Json store = storeDocs->front();
  store["spec"]["store"]["managed"]["memory"] = {{"ceiling", "512Mi"}, {"windowSeconds", 120}};
  input.sessionStore.text = store.dump();
  const std::string plan = mustRender(input);
  const std::string text = unwrap(plan);
  EXPECT_NE(text.find("maxmemory follows load: from 128Mi (the floor) up to 512Mi"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("above 90% for 120s"), std::string::npos) << text;
  EXPECT_NE(text.find("updateStrategy OnDelete, so a raise rolls nothing"), std::string::npos)
      << text;
  const auto documents = documentsOf(plan);
  ASSERT_EQ(documents.size(), 10u);
  EXPECT_EQ(documents[4]["spec"]["updateStrategy"]["type"], "OnDelete");
  EXPECT_EQ(
      documents[4]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
      "160Mi");  // the example's maxMemory 128Mi plus 25%
  EXPECT_NE(documents[1]["data"]["users.acl"].get<std::string>().find("+config|set"),
            std::string::npos);
  // Without memory: none of it.
  const std::string plain = unwrap(mustRender(exampleInput("download-tokens")));
  EXPECT_EQ(plain.find("follows load"), std::string::npos);
}

// Issue 18, replicas: plan shows the PodDisruptionBudget after the StatefulSet, the client
// Service selecting the primary only, the StatefulSet of N pods that start as replicas, and the
// replication user in the ACL and its placeholder password in the Secret.
TEST(RenderPlan, ReplicasShowThePrimarySelectorAndTheBudget) {
  PlanInput input = exampleInput("download-tokens");
  auto storeDocs = parseYaml(input.sessionStore.text);
  ASSERT_TRUE(storeDocs.has_value());
  Json store = storeDocs->front();
  store["spec"]["store"]["managed"]["replicas"] = 3;
  input.sessionStore.text = store.dump();
  const std::string plan = mustRender(input);
  std::map<std::string, Json> byName;
  std::vector<std::string> order;
  for (const Json& document : documentsOf(plan)) {
    order.push_back(document.value("kind", "") + " " + document["metadata"].value("name", ""));
    byName[order.back()] = document;
  }
  const auto statefulSet = std::find(order.begin(), order.end(), "StatefulSet web-redis");
  ASSERT_NE(statefulSet, order.end()) << plan;
  ASSERT_NE(statefulSet + 1, order.end());
  EXPECT_EQ(*(statefulSet + 1), "PodDisruptionBudget web-redis") << plan;
  EXPECT_EQ(byName["PodDisruptionBudget web-redis"]["spec"]["maxUnavailable"], 1);
  EXPECT_EQ(byName["Service web-redis"]["spec"]["selector"]["sessionstore.io/role"], "primary");
  EXPECT_EQ(byName["StatefulSet web-redis"]["spec"]["replicas"], 3);
  EXPECT_TRUE(byName["Secret web-redis-auth"]["data"].contains("replication-password"));
  EXPECT_NE(byName["ConfigMap web-redis-config"]["data"]["users.acl"].get<std::string>().find(
                "user replication on #" + crypto::sha256Hex(kPlaceholderPassword)),
            std::string::npos);
  const std::string text = unwrap(plan);
  EXPECT_NE(text.find("3 Redis pods, each started as a replica of Service web-redis"),
            std::string::npos)
      << text;
  // A single-pod store has none of it.
  const std::string single = mustRender(exampleInput("download-tokens"));
  EXPECT_EQ(single.find("PodDisruptionBudget"), std::string::npos);
  EXPECT_EQ(single.find("sessionstore.io/role"), std::string::npos);
  EXPECT_EQ(single.find("replication"), std::string::npos);
}

}  // namespace
}  // namespace sessionstore::plan
