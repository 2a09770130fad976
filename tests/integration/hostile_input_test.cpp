// Issue 7, "Hostile and broken input": a catalogue of malformed or hostile SessionStores (schema
// and CEL violations, absurd sizes, names at the length limits, targets in other namespaces, URL
// Secrets holding garbage, key prefixes that would widen the Redis ACL, huge annotations, names
// already taken), submitted to one running operator on the `cluster` profile. Each case is either
// rejected by the API server with a message that says what to fix, or accepted and turned into a
// condition whose message says what to fix. After every case the operator is the same live
// process answering /healthz, and bystanders (a Deployment, Service, Secret and ConfigMap in the
// test's namespace and in another one) are exactly as they were. The catalogue prints as a table.
#include <algorithm>
#include <iomanip>

#include "operator_fixture.h"

namespace sessionstore::testing {
namespace {

std::string base64(std::string_view bytes) { return crypto::base64Encode(bytes); }

// What a case must end in.
struct Expect {
  bool rejected = false;
  std::string type;    // condition type (accepted cases)
  std::string status;  // "True" / "False"
  std::string reason;
  std::string message;  // a substring of the server's error, or of the condition's message
};

Expect rejected(std::string message) { return {.rejected = true, .message = std::move(message)}; }
Expect becomes(std::string type, std::string status, std::string reason, std::string message) {
  return {.type = std::move(type),
          .status = std::move(status),
          .reason = std::move(reason),
          .message = std::move(message)};
}

class HostileInput;

struct Case {
  std::string title;
  std::string store;     // metadata.name of the SessionStore
  std::string manifest;  // the SessionStore (YAML or JSON)
  Expect expect;
  std::string setup;  // objects created first (YAML documents), in the test's namespace
  bool node = false;  // play the node: start the store's Redis once its config is written
  std::vector<std::string> secrets;  // values that must appear in no status, Event or log line
  std::vector<std::pair<std::string, std::string>> untouchable;  // setup objects: kind, name
  std::function<void(HostileInput&, const Case&)> check;         // extra assertions
};

// A SessionStore manifest; `spec` is indented by two spaces, `metadata` is extra metadata YAML.
std::string storeYaml(const std::string& name, const std::string& spec,
                      const std::string& metadata = "") {
  return "apiVersion: sessionstore.io/v1alpha1\nkind: SessionStore\nmetadata:\n  name: " + name +
         "\n" + metadata + "spec:\n" + spec;
}

std::string externalSpec(const std::string& secret, const std::string& key = "url") {
  return "  target: {deployment: " + secret +
         "-app}\n  store:\n    type: External\n"
         "    external: {urlSecretRef: {name: " +
         secret + ", key: " + key + "}}\n";
}

// A Secret whose key "url" holds `bytes` exactly (base64 in data, so any byte goes).
std::string urlSecretYaml(const std::string& name, const std::string& bytes) {
  return Json{{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", {{"name", name}}},
              {"data", {{"url", base64(bytes)}}}}
      .dump();
}

std::string managedSpec(const std::string& target, const std::string& more = "") {
  return "  target: {deployment: " + target +
         "}\n  store:\n    type: Managed\n    managed:\n"
         "      persistence: {enabled: false}\n" +
         more;
}

// The parts of an object a writer could change (status left out: controllers own it).
std::string fingerprint(const Json& object) {
  Json out;
  const Json metadata = object.value("metadata", Json::object());
  for (const char* key : {"labels", "annotations", "ownerReferences", "finalizers", "generation",
                          "deletionTimestamp"}) {
    if (metadata.contains(key)) out[key] = metadata[key];
  }
  std::set<std::string> managers;
  const Json fields = metadata.value("managedFields", Json::array());
  for (const auto& entry : fields) managers.insert(entry.value("manager", ""));
  out["managers"] = managers;
  for (const char* key : {"spec", "data", "stringData", "type"}) {
    if (object.contains(key)) out[key] = object[key];
  }
  return out.dump();
}

std::string oneLine(std::string text, std::size_t limit) {
  for (auto& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  if (text.size() > limit) text = text.substr(0, limit - 3) + "...";
  return text;
}

// The admin's image allow-list the suite's operator runs with: Docker Hub's redis (the default
// image) and one private repository.
const char* const kAllowedImages = "redis, registry.example.com/redis";

class HostileInput : public OperatorFixture {
 public:
  static void SetUpTestSuite() {
    extraFlags() = {"--allowed-images", kAllowedImages};
    OperatorFixture::SetUpTestSuite();
  }

  std::string other() const { return ns_ + "-other"; }

  // The env entries of the Deployment's first container, as the API server has them.
  Json firstContainerEnv(const std::string& deployment) {
    return mustGet("deployment", deployment)["spec"]["template"]["spec"]["containers"][0].value(
        "env", Json::array());
  }
  // Whether the operator's field manager owns anything of `kind` `name`.
  bool operatorWrote(const std::string& kind, const std::string& name) {
    const auto object = getWithManagers(kind, name);
    if (!object) return false;
    for (const auto& entry : (*object)["metadata"].value("managedFields", Json::array())) {
      if (entry.value("manager", "") == "sessionstore-operator") return true;
    }
    return false;
  }
  std::string wiredBy(const std::string& kind, const std::string& name) {
    const auto object = get(kind, name);
    if (!object) return "";
    return (*object)["metadata"]
        .value("labels", Json::object())
        .value("sessionstore.io/wired-by", "");
  }

  // Bystanders: objects that no case may change, in the test's namespace and in another one.
  std::map<std::string, std::string> bystanders() {
    const auto listed = kubectl({"get", "deployments,services,secrets,configmaps", "-A", "-l",
                                 "hostile-bystander=true", "-o", "json", "--show-managed-fields"});
    EXPECT_TRUE(listed.ok()) << listed.describe();
    std::map<std::string, std::string> out;
    if (!listed.ok()) return out;
    const Json items = Json::parse(listed.out)["items"];
    for (const auto& item : items) {
      out[item["metadata"].value("namespace", "") + "/" + item.value("kind", "") + "/" +
          item["metadata"].value("name", "")] = fingerprint(item);
    }
    return out;
  }

  void createBystanders(const std::string& ns) {
    const std::string labels = "{hostile-bystander: \"true\", app: web}";
    const std::string yaml = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: )" +
                             labels + R"(}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: registry.example/web:1}]
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: )" +
                             labels + R"(}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Secret
metadata: {name: bystander, labels: )" +
                             labels + R"(}
stringData: {password: bystander-password-0123456789, url: "redis://:bystander-password-0123456789@cache.example:6379/0"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bystander, labels: )" +
                             labels + R"(}
data: {owner: "someone else"}
)";
    const auto applied = kubectl({"create", "-n", ns, "-f", "-"}, yaml);
    ASSERT_TRUE(applied.ok()) << applied.describe();
    // The Deployment controller annotates its revision; the baseline is taken after that.
    ASSERT_TRUE(eventually([&] {
      const auto got = kubectl({"get", "deployment", "web", "-n", ns, "-o", "json"});
      return got.ok() && Json::parse(got.out)["metadata"]
                             .value("annotations", Json::object())
                             .contains("deployment.kubernetes.io/revision");
    })) << "the bystander Deployment in "
        << ns << " was never observed";
  }

  // An object with its managedFields (kubectl hides them by default).
  std::optional<Json> getWithManagers(const std::string& kind, const std::string& name) {
    const auto result = inNs({"get", kind, name, "-o", "json", "--show-managed-fields"});
    if (!result.ok()) return std::nullopt;
    return Json::parse(result.out);
  }

  // Each bystander that differs from `before`, by key.
  static std::string differences(const std::map<std::string, std::string>& before,
                                 const std::map<std::string, std::string>& after) {
    std::string out;
    for (const auto& [key, value] : before) {
      const auto it = after.find(key);
      if (it == after.end()) {
        out += key + " is gone\n";
      } else if (it->second != value) {
        out += key + " changed:\n  before " + value + "\n  after  " + it->second + "\n";
      }
    }
    for (const auto& [key, value] : after) {
      if (!before.contains(key)) out += key + " appeared\n";
    }
    return out;
  }

  static std::uint16_t healthPort() {
    const std::string log = operator_->output();
    const auto at = log.rfind("\"msg\":\"serving\"");
    if (at == std::string::npos)
      throw std::runtime_error("the operator has not said where it serves");
    const std::string line = log.substr(at, log.find('\n', at) - at);
    std::smatch match;
    static const std::regex health("\"health\":\"[^\"]*:([0-9]+)\"");
    if (!std::regex_search(line, match, health))
      throw std::runtime_error("no health port: " + line);
    return static_cast<std::uint16_t>(std::stoi(match[1].str()));
  }

  // The operator's write requests so far, per rest_client_requests_total series (from /metrics).
  static std::map<std::string, long> writeSeries() {
    const std::string log = operator_->output();
    const auto at = log.rfind("\"msg\":\"serving\"");
    if (at == std::string::npos)
      throw std::runtime_error("the operator has not said where it serves");
    const std::string line = log.substr(at, log.find('\n', at) - at);
    std::smatch match;
    static const std::regex metrics("\"metrics\":\"[^\"]*:([0-9]+)\"");
    if (!std::regex_search(line, match, metrics))
      throw std::runtime_error("no metrics port: " + line);
    const auto response =
        httpExchange(static_cast<std::uint16_t>(std::stoi(match[1].str())), "GET", "/metrics");
    if (!response || response->status != 200) throw std::runtime_error("GET /metrics failed");
    static const std::regex sample(
        "^rest_client_requests_total(\\{[^}]*method=\"(POST|PUT|PATCH|DELETE)\"[^}]*\\}) "
        "([0-9.e+]+)$");
    std::map<std::string, long> out;
    std::istringstream lines(response->body);
    for (std::string text; std::getline(lines, text);) {
      std::smatch m;
      if (std::regex_match(text, m, sample)) out[m[1].str()] = std::lround(std::stod(m[3].str()));
    }
    return out;
  }

  // The operator is the process started for the suite, still running and answering /healthz.
  void expectOperatorAlive(int pid, const std::string& after) {
    EXPECT_EQ(operator_->pid(), pid);
    const auto exited = operator_->wait(std::chrono::milliseconds(0));
    ASSERT_FALSE(exited.has_value())
        << "the operator exited (status " << exited.value_or(-1) << ") after case " << after << "\n"
        << tail(operator_->output(), 4000);
    const auto response = httpExchange(healthPort(), "GET", "/healthz");
    ASSERT_TRUE(response.has_value()) << "/healthz does not answer after case " << after;
    EXPECT_EQ(response->status, 200) << "/healthz after case " << after;
  }

  // The names of the objects the operator makes for a SessionStore.
  static std::vector<std::pair<std::string, std::string>> children(const std::string& store) {
    return {{"Secret", store + "-redis-auth"},      {"Secret", store + "-session-store"},
            {"ConfigMap", store + "-redis-config"}, {"Service", store + "-redis"},
            {"Service", store + "-redis-headless"}, {"StatefulSet", store + "-redis"},
            {"NetworkPolicy", store + "-redis"}};
  }

  // No object of the namespace is one of `store`'s children or owned by it.
  void expectNoChildren(const std::string& store) {
    const auto listed =
        inNs({"get", "secrets,configmaps,services,statefulsets,networkpolicies", "-o", "json"});
    ASSERT_TRUE(listed.ok()) << listed.describe();
    const Json items = Json::parse(listed.out)["items"];
    const auto names = children(store);
    for (const auto& item : items) {
      const std::string kind = item.value("kind", "");
      const std::string name = item["metadata"].value("name", "");
      for (const auto& [k, n] : names) {
        EXPECT_FALSE(k == kind && n == name)
            << kind << " " << name << " exists for rejected " << store.substr(0, 60);
      }
      const Json owners = item["metadata"].value("ownerReferences", Json::array());
      for (const auto& owner : owners) {
        EXPECT_NE(owner.value("name", ""), store) << kind << " " << name << " is owned by it";
      }
    }
  }

  // The app user of a ready store may touch keys under `prefix` and nothing else.
  void expectAclConfinedTo(const std::string& store, const std::string& prefix) {
    ASSERT_TRUE(eventually([&] { return conditionIs(store, "Ready", "True"); }))
        << describeStore(store);
    const Json connection = mustGet("secret", store + "-session-store");
    EXPECT_EQ(decode(connection, "SESSION_KEY_PREFIX"), prefix);
    const auto url = redisclient::parseRedisUrl(decode(connection, "REDIS_URL"));
    ASSERT_TRUE(url.has_value());
    const auto& server = *stores_.at(ns_ + "/" + store);
    auto session = redisclient::Session::open({.host = "127.0.0.1",
                                               .port = server.port(),
                                               .username = url->username,
                                               .password = url->password});
    ASSERT_TRUE(session.has_value()) << session.error();
    EXPECT_TRUE((*session)->command({"SET", prefix + "session-1", "v"}).has_value())
        << "the app cannot write under its prefix " << prefix;
    for (const std::string outside : {"outside", "allkeys", "*", "~x", ""}) {
      if (outside.starts_with(prefix)) continue;
      const auto denied = (*session)->command({"SET", outside, "v"});
      EXPECT_FALSE(denied.has_value())
          << "the app may write key \"" << outside << "\" outside prefix \"" << prefix << "\"";
    }
    // The ACL line itself: one key pattern, the prefix with '*' after it, and no other rule
    // that a prefix could have smuggled in.
    const Json config = mustGet("configmap", store + "-redis-config");
    const std::string acl = config["data"]["users.acl"];
    std::istringstream lines(acl);
    int appLines = 0;
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with("user app ")) continue;
      ++appLines;
      std::istringstream tokens(line);
      int patterns = 0;
      for (std::string token; tokens >> token;) {
        if (token.starts_with("~") || token.starts_with("%")) {
          ++patterns;
          EXPECT_EQ(token, "~" + prefix + "*") << line;
        }
        EXPECT_NE(token, "allkeys") << line;
        EXPECT_NE(token, "allchannels") << line;
      }
      EXPECT_EQ(patterns, 1) << line;
    }
    EXPECT_EQ(appLines, 1) << acl;
  }

  std::vector<Case> catalogue();
  void submit(Case& c, std::string& outcome);
  std::string verify(const Case& c);
};

std::vector<Case> HostileInput::catalogue() {
  std::vector<Case> cases;
  const auto add = [&](Case c) { cases.push_back(std::move(c)); };
  const std::string target = "  target: {deployment: web}\n";

  // --- Schema: types, enums, ranges, absurd sizes.
  add({.title = "integer field given a string",
       .store = "type-string",
       .manifest = storeYaml("type-string", target + "  workers: {min: \"two\"}\n"),
       .expect = rejected("spec.workers.min in body must be of type integer")});
  add({.title = "object field given a list",
       .store = "type-list",
       .manifest = storeYaml("type-list", target + "  affinity: [ClientIP]\n"),
       .expect = rejected("spec.affinity in body must be of type object")});
  add({.title = "affinity.mode outside its enum",
       .store = "enum-mode",
       .manifest = storeYaml("enum-mode", target + "  affinity: {mode: Sticky}\n"),
       .expect = rejected("Unsupported value: \"Sticky\"")});
  add({.title = "evictionPolicy outside its enum",
       .store = "enum-evict",
       .manifest = storeYaml("enum-evict",
                             managedSpec("web", "      evictionPolicy: allkeys-everything\n")),
       .expect = rejected("Unsupported value: \"allkeys-everything\"")});
  add({.title = "maxClients below its minimum",
       .store = "range-clients",
       .manifest = storeYaml("range-clients", managedSpec("web", "      maxClients: 10\n")),
       .expect = rejected(
           "spec.store.managed.maxClients in body should be greater than or equal to 16")});
  add({.title = "maxReplicas of a million",
       .store = "huge-replicas",
       .manifest = storeYaml("huge-replicas",
                             target + "  autoscaling: {minReplicas: 1, maxReplicas: 1000000}\n"),
       .expect =
           rejected("spec.autoscaling.maxReplicas in body should be less than or equal to 1000")});
  add({.title = "poolSize beyond int64",
       .store = "int-overflow",
       .manifest = storeYaml("int-overflow",
                             target + "  connection: {poolSize: 99999999999999999999999}\n"),
       .expect = rejected("spec.connection.poolSize")});
  add({.title = "workers.perCPU of 1e308",
       .store = "huge-percpu",
       .manifest = storeYaml("huge-percpu", target + "  workers: {perCPU: 1.0e308}\n"),
       .expect = rejected("spec.workers.perCPU in body should be less than or equal to 64")});
  add({.title = "workers.offset negative",
       .store = "neg-offset",
       .manifest = storeYaml("neg-offset", target + "  workers: {offset: -1}\n"),
       .expect = rejected("spec.workers.offset in body should be greater than or equal to 0")});
  add({.title = "maxMemory that is not a quantity",
       .store = "mem-garbage",
       .manifest =
           storeYaml("mem-garbage", managedSpec("web", "      maxMemory: \"64 MB; rm -rf /\"\n")),
       .expect = rejected("spec.store.managed.maxMemory in body should match")});
  add({.title = "maxMemory 1Ei",
       .store = "mem-exa",
       .manifest = storeYaml("mem-exa", managedSpec("web", "      maxMemory: 1Ei\n")),
       .expect = rejected("maxMemory must be between 1Mi and 1Ti")});
  add({.title = "maxMemory negative",
       .store = "mem-negative",
       .manifest = storeYaml("mem-negative", managedSpec("web", "      maxMemory: -64Mi\n")),
       .expect = rejected("maxMemory must be between 1Mi and 1Ti")});
  add({.title = "maxMemory 0 (Redis: unlimited)",
       .store = "mem-zero",
       .manifest = storeYaml("mem-zero", managedSpec("web", "      maxMemory: 0\n")),
       .expect = rejected("maxMemory must be between 1Mi and 1Ti")});
  add({.title = "persistence.size garbage",
       .store = "size-garbage",
       .manifest = storeYaml("size-garbage",
                             "  target: {deployment: web}\n  store:\n    type: Managed\n"
                             "    managed: {persistence: {enabled: true, size: \"ten gigs\"}}\n"),
       .expect = rejected("spec.store.managed.persistence.size in body should match")});
  add({.title = "env var name starting with a digit",
       .store = "env-digit",
       .manifest = storeYaml("env-digit", target + "  connection: {urlEnvVar: 1REDIS}\n"),
       .expect = rejected("spec.connection.urlEnvVar in body should match")});
  add({.title = "Prometheus URL with file://",
       .store = "prom-file",
       .manifest =
           storeYaml("prom-file", target + "  autoscaling:\n    enabled: true\n    metrics:\n"
                                           "    - {type: Latency, targetValue: 2s, prometheus: "
                                           "{url: \"file:///etc/passwd\", query: up}}\n"),
       .expect = rejected("should match '^https?://'")});

  // --- Every CEL rule of the CRD.
  add({.title = "CEL: managed with type External",
       .store = "cel-managed",
       .manifest = storeYaml(
           "cel-managed",
           target +
               "  store: {type: External, managed: {}, external: {urlSecretRef: {name: r}}}\n"),
       .expect = rejected("store.managed is only allowed with store.type Managed")});
  add({.title = "CEL: external with type Managed",
       .store = "cel-external",
       .manifest =
           storeYaml("cel-external",
                     target + "  store: {type: Managed, external: {urlSecretRef: {name: r}}}\n"),
       .expect = rejected("store.external is only allowed with store.type External")});
  add({.title = "CEL: External without external",
       .store = "cel-noexternal",
       .manifest = storeYaml("cel-noexternal", target + "  store: {type: External}\n"),
       .expect = rejected("store.type External needs store.external.urlSecretRef")});
  add({.title = "CEL: workers.min > workers.max",
       .store = "cel-workers",
       .manifest = storeYaml("cel-workers", target + "  workers: {min: 1024, max: 1}\n"),
       .expect = rejected("workers.min must not be greater than workers.max")});
  add({.title = "CEL: minReplicas > maxReplicas",
       .store = "cel-replicas",
       .manifest = storeYaml("cel-replicas",
                             target + "  autoscaling: {minReplicas: 1000, maxReplicas: 1}\n"),
       .expect =
           rejected("autoscaling.minReplicas must not be greater than autoscaling.maxReplicas")});
  add({.title = "CEL: target.maxReplicas with autoscaling",
       .store = "cel-bound",
       .manifest = storeYaml(
           "cel-bound",
           "  target: {deployment: web, maxReplicas: 4}\n"
           "  autoscaling: {enabled: true, metrics: [{type: CPU, targetAverageUtilization: 80}]}\n"),
       .expect = rejected("target.maxReplicas is not allowed with autoscaling.enabled")});
  add({.title = "target.maxReplicas of 0",
       .store = "bound-zero",
       .manifest = storeYaml("bound-zero", "  target: {deployment: web, maxReplicas: 0}\n"),
       .expect = rejected("spec.target.maxReplicas")});
  add({.title = "CEL: autoscaling without metrics",
       .store = "cel-nometrics",
       .manifest =
           storeYaml("cel-nometrics", target + "  autoscaling: {enabled: true, metrics: []}\n"),
       .expect = rejected("autoscaling.enabled needs at least one entry in autoscaling.metrics")});
  add({.title = "CEL: CPU metric without a target",
       .store = "cel-cpu",
       .manifest = storeYaml("cel-cpu",
                             target + "  autoscaling: {enabled: true, metrics: [{type: CPU}]}\n"),
       .expect = rejected("CPU and Memory metrics need targetAverageUtilization")});
  add({.title = "CEL: ActiveSessions without a target",
       .store = "cel-sessions",
       .manifest =
           storeYaml("cel-sessions", target + "  autoscaling: {enabled: true, metrics: [{type: "
                                              "ActiveSessions, targetAverageUtilization: 50}]}\n"),
       .expect = rejected("ActiveSessions and StoreClients metrics need targetPerReplica")});
  add({.title = "CEL: Latency without prometheus",
       .store = "cel-latency",
       .manifest = storeYaml(
           "cel-latency",
           target +
               "  autoscaling: {enabled: true, metrics: [{type: Latency, targetValue: 2s}]}\n"),
       .expect = rejected("Latency metrics need targetValue (such as 2s) and prometheus")});

  // --- Names at the limits. The longest name keeps NAME-redis-headless and the StatefulSet
  // pod's controller-revision-hash label (NAME-redis-<10 chars>) within 63.
  const std::string longest = "limit-" + std::string(45 - 6, 'n');
  add({.title = "name of 253 characters",
       .store = std::string(253, 'a'),
       .manifest = storeYaml(std::string(253, 'a'), target),
       .expect = rejected("metadata.name must be at most 45 characters")});
  add({.title = "name one over the limit (46)",
       .store = longest + "x",
       .manifest = storeYaml(longest + "x", target),
       .expect = rejected("metadata.name must be at most 45 characters")});
  add({.title = "name at the limit (45): provisioned",
       .store = longest,
       .manifest = storeYaml(longest, managedSpec(longest)),
       .expect = becomes("Ready", "True", "Ready", "the store answers and the app is wired"),
       .setup = deploymentYaml(longest),
       .node = true,
       .check = [](HostileInput& t, const Case& c) {
         for (const auto& [kind, name] : children(c.store)) {
           EXPECT_TRUE(t.get(kind, name).has_value()) << kind << " " << name;
         }
         // The StatefulSet controller could make its pod: every derived name is valid.
         EXPECT_TRUE(eventually([&] { return t.get("pod", c.store + "-redis-0").has_value(); }))
             << "no pod " << c.store << "-redis-0";
       }});
  add({.title = "name with a dot (Service names cannot have one)",
       .store = "web.v2",
       .manifest = storeYaml("web.v2", target),
       .expect = rejected("metadata.name must start with a letter")});
  add({.title = "name starting with a digit",
       .store = "1web",
       .manifest = storeYaml("1web", target),
       .expect = rejected("metadata.name must start with a letter")});
  add({.title = "label value of 64 characters",
       .store = "label-long",
       .manifest =
           storeYaml("label-long", target, "  labels: {tier: " + std::string(64, 'v') + "}\n"),
       .expect = rejected("must be no more than 63 characters")});

  // --- Key prefixes that would widen the ACL.
  const auto prefixCase = [&](const std::string& title, const std::string& store,
                              const std::string& prefix) {
    add({.title = title,
         .store = store,
         .manifest =
             storeYaml(store, target + "  connection: {keyPrefix: " + Json(prefix).dump() + "}\n"),
         .expect = rejected("would widen the Redis ACL key pattern")});
  };
  prefixCase("keyPrefix *", "prefix-star", "*");
  prefixCase("keyPrefix ~ (a second pattern)", "prefix-tilde", "app:~*");
  prefixCase("keyPrefix ?", "prefix-question", "app?");
  prefixCase("keyPrefix [", "prefix-bracket", "app[a-z]");
  prefixCase("keyPrefix with a space (a second rule)", "prefix-space", "app: allkeys");
  prefixCase("keyPrefix %R~ (a read pattern)", "prefix-percent", "%R~app");
  prefixCase("keyPrefix with a newline (a second user)", "prefix-newline",
             "app:\nuser evil on nopass ~* +@all");
  prefixCase("keyPrefix with a backslash", "prefix-backslash", "app\\*");
  add({.title = "keyPrefix of 129 characters",
       .store = "prefix-129",
       .manifest = storeYaml("prefix-129",
                             target + "  connection: {keyPrefix: " + std::string(129, 'k') + "}\n"),
       .expect = rejected("spec.connection.keyPrefix: Too long")});
  const auto confined = [](const std::string& prefix) {
    return [prefix](HostileInput& t, const Case& c) {
      t.expectAclConfinedTo(c.store, prefix.empty() ? t.ns_ + ":" + c.store + ":" : prefix);
    };
  };
  add({.title = "keyPrefix 'allkeys' (a word, not the rule)",
       .store = "prefix-allkeys",
       .manifest = storeYaml("prefix-allkeys", managedSpec("prefix-allkeys") +
                                                   "  connection: {keyPrefix: allkeys}\n"),
       .expect = becomes("Ready", "True", "Ready", "the store answers"),
       .setup = deploymentYaml("prefix-allkeys"),
       .node = true,
       .check = confined("allkeys")});
  add({.title = "keyPrefix empty: the default",
       .store = "prefix-empty",
       .manifest = storeYaml("prefix-empty",
                             managedSpec("prefix-empty") + "  connection: {keyPrefix: \"\"}\n"),
       .expect = becomes("Ready", "True", "Ready", "the store answers"),
       .setup = deploymentYaml("prefix-empty"),
       .node = true,
       .check = confined("")});
  const std::string prefix128 = "p:" + std::string(126, 'k');
  add({.title = "keyPrefix of 128 characters (the limit)",
       .store = "prefix-128",
       .manifest =
           storeYaml("prefix-128", managedSpec("prefix-128") + "  connection: {keyPrefix: \"" +
                                       prefix128 + "\"}\n"),
       .expect = becomes("Ready", "True", "Ready", "the store answers"),
       .setup = deploymentYaml("prefix-128"),
       .node = true,
       .check = confined(prefix128)});

  // --- Targets: other namespaces, missing, not a Deployment.
  add({.title = "target.deployment namespace-qualified",
       .store = "target-qualified",
       .manifest = storeYaml("target-qualified", "  target: {deployment: " + other() + "/web}\n"),
       .expect = rejected("spec.target.deployment in body should match")});
  add({.title = "target with a namespace field",
       .store = "target-namespace",
       .manifest = storeYaml("target-namespace",
                             "  target: {deployment: web, namespace: " + other() + "}\n"),
       .expect = rejected("unknown field \"spec.target.namespace\"")});
  add({.title = "target with a kind field",
       .store = "target-kind",
       .manifest = storeYaml("target-kind", "  target: {deployment: web, kind: StatefulSet}\n"),
       .expect = rejected("unknown field \"spec.target.kind\"")});
  add({.title = "target.service with upper case",
       .store = "target-upper",
       .manifest = storeYaml("target-upper", "  target: {deployment: web, service: Web}\n"),
       .expect = rejected("spec.target.service in body should match")});
  add({.title = "target Deployment missing",
       .store = "target-missing",
       .manifest = storeYaml("target-missing", managedSpec("ghost")),
       .expect = becomes("ConnectionWired", "False", "DeploymentNotFound",
                         "Deployment ghost does not exist in namespace " + ns_ +
                             ": create it, or correct spec.target.deployment")});
  add({.title = "target names a ConfigMap, not a Deployment",
       .store = "target-configmap",
       .manifest = storeYaml("target-configmap", managedSpec("not-a-deployment")),
       .expect = becomes("ConnectionWired", "False", "DeploymentNotFound",
                         "create it, or correct spec.target.deployment"),
       .setup =
           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: not-a-deployment}\ndata: {a: b}\n",
       .untouchable = {{"configmap", "not-a-deployment"}}});
  const std::string longTarget = std::string(63, 'd') + "." + std::string(63, 'd') + "." +
                                 std::string(63, 'd') + "." + std::string(61, 'd');
  add({.title = "target.deployment of 253 characters",
       .store = "target-253",
       .manifest = storeYaml("target-253", managedSpec(longTarget)),
       .expect = becomes("ConnectionWired", "False", "DeploymentNotFound",
                         "create it, or correct spec.target.deployment")});
  add({.title = "target.containers names a missing container",
       .store = "target-container",
       .manifest =
           storeYaml("target-container",
                     "  target: {deployment: target-container, containers: [sidecar]}\n"
                     "  store: {type: Managed, managed: {persistence: {enabled: false}}}\n"),
       .expect = becomes("ConnectionWired", "False", "ContainerNotFound",
                         "correct spec.target.containers"),
       .setup = deploymentYaml("target-container"),
       .node = true,
       .check = [](HostileInput& t, const Case& c) {
         EXPECT_TRUE(t.envNames(t.mustGet("deployment", c.store)).empty()) << "wired anyway";
       }});
  add({.title = "target Deployment asks for 4 million CPUs",
       .store = "target-cpu",
       .manifest = storeYaml("target-cpu", managedSpec("target-cpu")),
       .expect = becomes("WorkersSized", "True", "Sized", "app: 32 workers"),
       .setup = std::regex_replace(deploymentYaml("target-cpu"), std::regex("cpu: \"2\""),
                                   "cpu: \"4000000\""),
       .node = true,
       .check = [](HostileInput& t, const Case& c) {
         EXPECT_EQ(t.envValue(c.store, "WORKERS"), "32");
       }});

  // --- URL Secrets holding garbage (an External store reads the URL from a Secret).
  const auto urlCase = [&](const std::string& title, const std::string& store,
                           const std::string& bytes, const std::string& reason,
                           const std::string& message, std::vector<std::string> secrets = {}) {
    add({.title = title,
         .store = store,
         .manifest = storeYaml(store, externalSpec(store + "-url")),
         .expect = becomes("StoreReady", "False", reason, message),
         .setup = urlSecretYaml(store + "-url", bytes),
         .secrets = std::move(secrets),
         .untouchable = {{"secret", store + "-url"}}});
  };
  urlCase("URL Secret empty", "url-empty", "", "InvalidUrl",
          "must start with redis:// or rediss://; set it to redis://");
  urlCase("URL Secret binary bytes", "url-binary", std::string("\x00\xff\xfe\x01redis\x80", 10),
          "InvalidUrl", "must start with redis:// or rediss://");
  urlCase("URL Secret of 1 MB (one huge host)", "url-huge",
          "redis://" + std::string(1000000, 'h') + ":6379/0", "InvalidUrl", "the host");
  urlCase("URL without a scheme", "url-noscheme", "cache.example:6379", "InvalidUrl",
          "must start with redis:// or rediss://");
  urlCase("URL with http://", "url-http", "http://:hostile-http-SECRET@cache.example:6379",
          "InvalidUrl", "must start with redis:// or rediss://", {"hostile-http-SECRET"});
  urlCase("URL with a newline in the host", "url-newline", "redis://cache\n.example:6379/0",
          "InvalidUrl", "the host");
  urlCase("URL with a newline before a command", "url-inject", "redis://127.0.0.1:1\r\nFLUSHALL",
          "InvalidUrl", "the port must be a number from 1 to 65535");
  urlCase("URL with an unresolvable host", "url-unresolvable",
          "redis://:hostile-dns-SECRET@no-such-host.invalid:6379/0", "StoreUnreachable",
          "check the host and port in Secret url-unresolvable-url", {"hostile-dns-SECRET"});
  urlCase("URL with port 70000", "url-port", "redis://cache.example:70000/0", "InvalidUrl",
          "the port must be a number from 1 to 65535");
  urlCase("URL password holding '@' and ':'", "url-at",
          "redis://app:p@ss:w0rd@SECRET@127.0.0.1:1/0", "StoreUnreachable", "127.0.0.1:1",
          {"p@ss:w0rd@SECRET", "w0rd@SECRET"});
  urlCase("URL password badly percent-encoded", "url-percent",
          "redis://app:%zzHOSTILEpw@cache.example:6379/0", "InvalidUrl",
          "the credentials are not percent-encoded properly", {"zzHOSTILEpw"});
  urlCase("URL with a database index of 20 digits", "url-db-huge",
          "redis://:hostile-db-SECRET@cache.example:6379/12345678901234567890", "InvalidUrl",
          "the database index must be from 0 to 2147483646", {"hostile-db-SECRET"});
  urlCase("URL with a negative database index", "url-db-negative",
          "redis://cache.example:6379/-1", "InvalidUrl", "the database after the host must be");
  urlCase("URL with query parameters turning verification off", "url-query",
          "rediss://:hostile-query-SECRET@cache.example:6379/0?ssl_cert_reqs=none", "InvalidUrl",
          "query parameters (?...) are not supported", {"hostile-query-SECRET"});
  const auto tlsSpec = [](const std::string& secret, const std::string& tls) {
    return "  target: {deployment: " + secret +
           "-app}\n  store:\n    type: External\n"
           "    external: {urlSecretRef: {name: " +
           secret + "}, tls: " + tls + "}\n";
  };
  add({.title = "TLS: insecureSkipVerify together with a CA",
       .store = "tls-contradictory",
       .manifest = storeYaml("tls-contradictory",
                             tlsSpec("tls-contradictory-url",
                                     "{insecureSkipVerify: true, caSecretRef: {name: x}}")),
       .expect = rejected("insecureSkipVerify cannot be true with tls.caSecretRef")});
  add({.title = "TLS: serverName holding a newline",
       .store = "tls-servername",
       .manifest = storeYaml("tls-servername",
                             tlsSpec("tls-servername-url", "{serverName: \"a.example\\nb\"}")),
       .expect = rejected("spec.store.external.tls.serverName in body should match")});
  add({.title = "TLS: caSecretRef to a bystander Secret without the key",
       .store = "tls-ca-nokey",
       .manifest = storeYaml("tls-ca-nokey",
                             tlsSpec("tls-ca-nokey-url", "{caSecretRef: {name: bystander}}")),
       .expect = becomes("StoreReady", "False", "TLSCASecretInvalid",
                         "Secret bystander has no key \"ca.crt\""),
       .setup = urlSecretYaml("tls-ca-nokey-url", "rediss://cache.example:6379/0")});
  add({.title = "urlSecretRef in another namespace",
       .store = "url-other-ns",
       .manifest = storeYaml("url-other-ns", externalSpec(other() + "/bystander")),
       .expect = rejected("spec.store.external.urlSecretRef.name in body should match")});
  add({.title = "urlSecretRef to a user Secret without the key",
       .store = "url-nokey",
       .manifest = storeYaml("url-nokey", externalSpec("bystander", "redis-url")),
       .expect = becomes("StoreReady", "False", "UrlSecretMissing",
                         "has no key \"redis-url\" (its keys: password, url): add it, or set "
                         "spec.store.external.urlSecretRef.key")});

  // --- Huge annotations and odd labels.
  const std::string big(255 * 1024, 'a');
  {
    Json store = Json::parse(R"({"apiVersion": "sessionstore.io/v1alpha1", "kind": "SessionStore",
      "spec": {"target": {"deployment": "ghost"}, "store": {"type": "Managed",
               "managed": {"persistence": {"enabled": false}}}}})");
    store["metadata"] = {{"name", "annotated"}, {"annotations", {{"example.com/blob", big}}}};
    add({.title = "SessionStore with 255 KiB of annotations",
         .store = "annotated",
         .manifest = store.dump(),
         .expect = becomes("ConnectionWired", "False", "DeploymentNotFound", "create it")});
    store["metadata"] = {{"name", "annotated-over"},
                         {"annotations", {{"example.com/blob", std::string(256 * 1024, 'a')}}}};
    add({.title = "SessionStore with 256 KiB + key of annotations",
         .store = "annotated-over",
         .manifest = store.dump(),
         .expect = rejected("metadata.annotations: Too long")});
  }
  {
    std::string yaml = deploymentYaml("big-deploy");
    add({.title = "target Deployment with 255 KiB of annotations",
         .store = "big-deploy",
         .manifest = storeYaml("big-deploy", managedSpec("big-deploy")),
         .expect = becomes("Ready", "True", "Ready", "the store answers"),
         .setup = std::regex_replace(
             yaml, std::regex("metadata: \\{name: big-deploy\\}"),
             "metadata: {name: big-deploy, annotations: {example.com/blob: " + big + "}}"),
         .node = true});
    // Pod-template annotations that leave no room for the connection hash: the apply fails and
    // the condition carries the server's reason.
    const std::string full(256 * 1024 - 64, 'f');
    add({.title = "target pod template with no room for an annotation",
         .store = "full-template",
         .manifest = storeYaml("full-template", managedSpec("full-template")),
         .expect =
             becomes("ConnectionWired", "False", "ApplyFailed",
                     "the operator adds env entries and the pod-template annotation "
                     "sessionstore.io/connection-hash: change the Deployment so that they fit"),
         .setup = std::regex_replace(
             deploymentYaml("full-template"), std::regex("labels: \\{app: full-template\\}"),
             "labels: {app: full-template}\n      annotations: {example.com/blob: " + full + "}"),
         .node = true,
         .check = [](HostileInput& t, const Case& c) {
           const auto wired = t.condition(c.store, "ConnectionWired");
           EXPECT_NE(wired->value("message", "").find("spec.template.annotations: Too long"),
                     std::string::npos)
               << "the server's reason is not in the message";
           EXPECT_TRUE(t.envNames(t.mustGet("deployment", c.store)).empty()) << "half-wired";
         }});
  }
  add({.title = "target pod labels with odd values",
       .store = "odd-labels",
       .manifest = storeYaml("odd-labels", managedSpec("odd-labels"),
                             "  labels: {example.com/empty: \"\", v: A-b_c.9}\n"),
       .expect = becomes("Ready", "True", "Ready", "the store answers"),
       .setup = std::regex_replace(
           deploymentYaml("odd-labels"), std::regex("labels: \\{app: odd-labels\\}"),
           "labels: {app: odd-labels, example.com/empty: \"\", v: " + std::string(62, 'z') + "9}"),
       .node = true,
       .check = [](HostileInput& t, const Case& c) {
         const Json policy = t.mustGet("networkpolicy", c.store + "-redis");
         const Json from = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"];
         EXPECT_EQ(from, Json({{"app", "odd-labels"},
                               {"example.com/empty", ""},
                               {"v", std::string(62, 'z') + "9"}}))
             << policy.dump(1);
       }});

  // --- Names already taken by objects the store does not own.
  add({.title = "ConfigMap NAME-redis-config already exists",
       .store = "taken-config",
       .manifest = storeYaml("taken-config", managedSpec("ghost")),
       .expect = becomes("StoreReady", "False", "NameTaken",
                         "ConfigMap taken-config-redis-config exists and is not owned by this "
                         "SessionStore: rename or remove it"),
       .setup = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: taken-config-redis-config}\n"
                "data: {redis.conf: \"user default on nopass ~* +@all\"}\n",
       .untouchable = {{"configmap", "taken-config-redis-config"}},
       .check = [](HostileInput& t, const Case& c) {
         // A Redis started from someone else's config is not this store's: no StatefulSet.
         EXPECT_FALSE(t.get("statefulset", c.store + "-redis").has_value())
             << "a StatefulSet mounts the ConfigMap the store does not own";
       }});
  add({.title = "Secret NAME-redis-auth already exists",
       .store = "taken-auth",
       .manifest = storeYaml("taken-auth", managedSpec("ghost")),
       .expect = becomes("StoreReady", "False", "NameTaken",
                         "Secret taken-auth-redis-auth exists and is not owned by this "
                         "SessionStore; the operator keeps its passwords there: rename or remove"),
       .setup = "apiVersion: v1\nkind: Secret\nmetadata: {name: taken-auth-redis-auth}\n"
                "stringData: {note: mine}\n",
       .untouchable = {{"secret", "taken-auth-redis-auth"}}});
  add({.title = "connection.secretName names a user's Secret",
       .store = "taken-connection",
       .manifest = storeYaml("taken-connection", managedSpec("taken-connection") +
                                                     "  connection: {secretName: bystander}\n"),
       .expect = becomes("ConnectionWired", "False", "NameTaken",
                         "Secret bystander exists and is not owned by this SessionStore: rename "
                         "or remove it, or set spec.connection.secretName"),
       .setup = deploymentYaml("taken-connection"),
       .node = true,
       .check = [](HostileInput& t, const Case& c) {
         EXPECT_TRUE(t.envNames(t.mustGet("deployment", c.store)).empty()) << "wired anyway";
       }});

  // --- Environment variable names that collide (a CEL rule of the whole spec).
  const std::string envCollide =
      "connection.urlEnvVar, connection.poolSizeEnvVar and workers.envVar must differ";
  add({.title = "urlEnvVar equal to workers.envVar",
       .store = "env-collide",
       .manifest =
           storeYaml("env-collide", managedSpec("ghost") + "  connection: {urlEnvVar: WORKERS}\n"),
       .expect = rejected(envCollide)});
  add({.title = "poolSizeEnvVar equal to urlEnvVar",
       .store = "env-collide-pool",
       .manifest = storeYaml(
           "env-collide-pool",
           managedSpec("ghost") + "  connection: {urlEnvVar: APP_DB, poolSizeEnvVar: APP_DB}\n"),
       .expect = rejected(envCollide)});
  add({.title = "urlEnvVar SESSION_KEY_PREFIX (reserved)",
       .store = "env-reserved",
       .manifest = storeYaml("env-reserved", managedSpec("ghost") +
                                                 "  connection: {urlEnvVar: SESSION_KEY_PREFIX}\n"),
       .expect = rejected("and from SESSION_KEY_PREFIX (the key prefix's variable)")});

  // --- Env names the loader, a shell or a runtime reads (issue 19): the CRD refuses them.
  const auto envNameCase = [&](const std::string& store, const std::string& field,
                               const std::string& name) {
    const std::string yaml = field == "workers.envVar"
                                 ? "  workers: {envVar: " + name + "}\n"
                                 : "  connection: {" + field.substr(11) + ": " + name + "}\n";
    add({.title = field + " " + name,
         .store = store,
         .manifest = storeYaml(store, managedSpec(store) + yaml),
         .expect = rejected(field + " may not be a name that the dynamic loader, a shell")});
  };
  envNameCase("env-ld-preload", "connection.urlEnvVar", "LD_PRELOAD");
  envNameCase("env-ld-lower", "connection.urlEnvVar", "ld_preload");
  envNameCase("env-ld-audit", "connection.urlEnvVar", "LD_AUDIT");
  envNameCase("env-path", "connection.poolSizeEnvVar", "PATH");
  envNameCase("env-home", "connection.poolSizeEnvVar", "HOME");
  envNameCase("env-node", "workers.envVar", "NODE_OPTIONS");
  envNameCase("env-bash", "connection.urlEnvVar", "BASH_ENV");
  envNameCase("env-ifs", "workers.envVar", "IFS");
  envNameCase("env-python", "connection.urlEnvVar", "PYTHONSTARTUP");
  envNameCase("env-java", "connection.urlEnvVar", "JAVA_TOOL_OPTIONS");
  envNameCase("env-java-underscore", "connection.urlEnvVar", "_JAVA_OPTIONS");
  envNameCase("env-perl", "connection.urlEnvVar", "PERL5OPT");
  envNameCase("env-tunables", "workers.envVar", "GLIBC_TUNABLES");
  envNameCase("env-proxy", "connection.urlEnvVar", "HTTPS_PROXY");
  envNameCase("env-kubernetes", "connection.urlEnvVar", "KUBERNETES_SERVICE_HOST");

  // --- Env entries the app set itself: never replaced, the Deployment untouched.
  const auto userEnvCase = [&](const std::string& store, const std::string& name,
                               const std::string& field) {
    add({.title = "target already sets " + name + " itself",
         .store = store,
         .manifest = storeYaml(store, managedSpec(store)),
         .expect = becomes("ConnectionWired", "False", "EnvVarInUse",
                           "container \"app\" of Deployment " + store + " already sets " + name +
                               " and the operator did not write it"),
         .setup = deploymentYaml(store,
                                 "        env: [{name: " + name + ", value: \"the-app-s-own\"}]\n"),
         .node = true,
         .check = [name, field](HostileInput& t, const Case& c) {
           EXPECT_NE(t.condition(c.store, "ConnectionWired")->value("message", "").find(field),
                     std::string::npos);
           EXPECT_EQ(t.firstContainerEnv(c.store),
                     Json::parse(R"([{"name": ")" + name + R"(", "value": "the-app-s-own"}])"));
           EXPECT_FALSE(t.operatorWrote("deployment", c.store)) << "the Deployment was written";
           EXPECT_EQ(t.wiredBy("deployment", c.store), "");
         }});
  };
  userEnvCase("env-user-url", "REDIS_URL", "set spec.connection.urlEnvVar to another name");
  userEnvCase("env-user-workers", "WORKERS", "set spec.workers.envVar to another name");
  userEnvCase("env-user-prefix", "SESSION_KEY_PREFIX", "remove it from the Deployment");

  // --- One SessionStore per target Deployment and Service. claim-a is older (or, created in
  // the same second, first by name): it keeps the target; claim-b names claim-a and writes
  // nothing of it, and deleting claim-b leaves claim-a's wiring as it was.
  add({.title = "first SessionStore on a Deployment",
       .store = "claim-a",
       .manifest = storeYaml("claim-a",
                             "  target: {deployment: claim-a, service: claim-a}\n"
                             "  store: {type: Managed, managed: {persistence: "
                             "{enabled: false}}}\n"),
       .expect = becomes("Ready", "True", "Ready", "the store answers"),
       .setup = deploymentYaml("claim-a") + "---\n" + serviceYaml("claim-a"),
       .node = true});
  add({.title = "second SessionStore on the same Deployment",
       .store = "claim-b",
       .manifest = storeYaml("claim-b",
                             "  target: {deployment: claim-a, service: claim-a}\n"
                             "  store: {type: Managed, managed: {persistence: "
                             "{enabled: false}}}\n"),
       .expect = becomes("ConnectionWired", "False", "TargetClaimed",
                         "Deployment claim-a is already wired by SessionStore claim-a"),
       .check = [](HostileInput& t, const Case& c) {
         const auto affinity = t.condition(c.store, "AffinityApplied");
         ASSERT_TRUE(affinity.has_value());
         EXPECT_EQ(affinity->value("reason", ""), "TargetClaimed");
         ASSERT_TRUE(eventually([&] { return t.conditionIs("claim-a", "Ready", "True"); }));
         EXPECT_EQ(t.wiredBy("deployment", "claim-a"), "claim-a");
         EXPECT_EQ(t.wiredBy("service", "claim-a"), "claim-a");
         const Json before = t.mustGet("deployment", "claim-a");
         const auto deleted = t.inNs({"delete", "sessionstore", c.store, "--wait=true"});
         ASSERT_TRUE(deleted.ok()) << deleted.describe();
         const Json after = t.mustGet("deployment", "claim-a");
         EXPECT_EQ(after["spec"], before["spec"])
             << "deleting the second changed the first's wiring";
         EXPECT_EQ(after["metadata"]["labels"], before["metadata"]["labels"]);
         EXPECT_EQ(t.wiredBy("service", "claim-a"), "claim-a");
         EXPECT_NE(t.envValue("claim-a", "WORKERS"), "") << "the first store's wiring is gone";
       }});
  // claim-e wires a Deployment of its own, but names claim-a's Service: the affinity stays
  // claim-a's, claim-e's own Deployment is wired.
  add({.title = "second SessionStore on the same Service only",
       .store = "claim-e",
       .manifest = storeYaml("claim-e",
                             "  target: {deployment: claim-e, service: claim-a}\n"
                             "  store: {type: Managed, managed: {persistence: "
                             "{enabled: false}}}\n"),
       .expect = becomes("AffinityApplied", "False", "TargetClaimed",
                         "Service claim-a is already wired by SessionStore claim-a"),
       .setup = deploymentYaml("claim-e"),
       .node = true,
       .check = [](HostileInput& t, const Case& c) {
         EXPECT_TRUE(eventually([&] { return t.conditionIs(c.store, "ConnectionWired", "True"); }))
             << oneLine(t.describeStore(c.store), 4000);
         EXPECT_EQ(t.wiredBy("deployment", c.store), c.store);
         EXPECT_EQ(t.wiredBy("service", "claim-a"), "claim-a");
       }});
  // claim-d waits for claim-c's Deployment and takes it over once claim-c is deleted.
  add({.title = "first SessionStore, deleted while a second waits",
       .store = "claim-c",
       .manifest = storeYaml("claim-c", managedSpec("claim-c")),
       .expect = becomes("Ready", "True", "Ready", "the store answers"),
       .setup = deploymentYaml("claim-c"),
       .node = true});
  add({.title = "second SessionStore takes over when the first goes",
       .store = "claim-d",
       .manifest = storeYaml("claim-d", managedSpec("claim-c")),
       .expect = becomes("ConnectionWired", "False", "TargetClaimed",
                         "Deployment claim-c is already wired by SessionStore claim-c"),
       .node = true,
       .check = [](HostileInput& t, const Case& c) {
         ASSERT_TRUE(eventually([&] { return t.conditionIs("claim-c", "Ready", "True"); }));
         const auto deleted = t.inNs({"delete", "sessionstore", "claim-c", "--wait=true"});
         ASSERT_TRUE(deleted.ok()) << deleted.describe();
         EXPECT_TRUE(eventually([&] {
           return t.conditionIs(c.store, "ConnectionWired", "True") &&
                  t.wiredBy("deployment", "claim-c") == c.store;
         })) << oneLine(t.describeStore(c.store), 4000);
       }});

  // --- Store images: a newline or a space never reaches the StatefulSet; the admin's list holds.
  const auto imageCase = [&](const std::string& title, const std::string& store,
                             const std::string& image, Expect expect) {
    add({.title = title,
         .store = store,
         .manifest =
             storeYaml(store, managedSpec("ghost", "      image: " + Json(image).dump() + "\n")),
         .expect = std::move(expect),
         .check = [](HostileInput& t, const Case& c) {
           EXPECT_FALSE(t.get("statefulset", c.store + "-redis").has_value());
           EXPECT_FALSE(t.get("secret", c.store + "-redis-auth").has_value());
         }});
  };
  const std::string badImage = "spec.store.managed.image in body should match";
  imageCase("image with a newline", "image-newline", "redis:7\nFLUSHALL", rejected(badImage));
  imageCase("image with a space", "image-space", "redis:7 --loadmodule /tmp/x.so",
            rejected(badImage));
  imageCase("image with a carriage return", "image-cr", "redis:7\r", rejected(badImage));
  imageCase("image in upper case", "image-upper", "Redis:7", rejected(badImage));
  imageCase("image with a bad digest", "image-digest", "redis@sha256:abc", rejected(badImage));
  imageCase("image of 600 characters", "image-long", "r" + std::string(599, 'x'),
            rejected("spec.store.managed.image: Too long"));
  const std::string notAllowed = std::string(
                                     "is not allowed: this operator runs store images only "
                                     "from its --allowed-images list (") +
                                 kAllowedImages + ")";
  imageCase("image from a registry not allowed", "image-registry", "evil.example.com/redis:7",
            becomes("Ready", "False", "InvalidSpec", notAllowed));
  imageCase("image beside an allowed prefix", "image-prefix", "registry.example.com/redis-evil:7",
            becomes("Ready", "False", "InvalidSpec", notAllowed));
  imageCase("image under another Docker Hub user", "image-hub", "evil/redis:7",
            becomes("Ready", "False", "InvalidSpec", notAllowed));
  // The control: under an allowed prefix, by digest, the store is provisioned with that image.
  const std::string pinned = "registry.example.com/redis/server:7.2@sha256:" + std::string(64, 'e');
  add({.title = "image under an allowed prefix, by digest",
       .store = "image-allowed",
       .manifest = storeYaml("image-allowed",
                             managedSpec("image-allowed", "      image: \"" + pinned + "\"\n")),
       .expect = becomes("Ready", "True", "Ready", "the store answers"),
       .setup = deploymentYaml("image-allowed"),
       .node = true,
       .check = [pinned](HostileInput& t, const Case& c) {
         const Json sts = t.mustGet("statefulset", c.store + "-redis");
         EXPECT_EQ(sts["spec"]["template"]["spec"]["containers"][0].value("image", ""), pinned);
       }});

  // --- Latency queries to cloud metadata or the API server: refused before any request.
  const auto latencyCase = [&](const std::string& title, const std::string& store,
                               const std::string& url, const std::string& why) {
    add({.title = title,
         .store = store,
         .manifest = storeYaml(store, managedSpec(store) +
                                          "  autoscaling:\n    enabled: true\n    metrics:\n"
                                          "    - {type: Latency, targetValue: 2s, prometheus: "
                                          "{url: " +
                                          Json(url).dump() + ", query: up}}\n"),
         .expect = becomes("AutoscalingActive", "False", "MetricsUnavailable",
                           "spec.autoscaling.metrics[0].prometheus.url refused: host "),
         .setup = deploymentYaml(store),
         .node = true,
         .check = [why](HostileInput& t, const Case& c) {
           const auto active = t.condition(c.store, "AutoscalingActive");
           ASSERT_TRUE(active.has_value());
           EXPECT_NE(active->value("message", "").find(why), std::string::npos)
               << active->value("message", "");
         }});
  };
  latencyCase("Latency URL at cloud metadata", "prom-metadata",
              "http://169.254.169.254/latest/meta-data/iam", "link-local");
  latencyCase("Latency URL at metadata in decimal", "prom-decimal", "http://2852039166/",
              "resolves to 169.254.169.254, link-local");
  latencyCase("Latency URL at metadata in octal", "prom-octal", "http://0251.0376.0251.0376/",
              "resolves to 169.254.169.254, link-local");
  latencyCase("Latency URL at metadata, IPv4-mapped IPv6", "prom-mapped",
              "http://[::ffff:169.254.169.254]/", "resolves to 169.254.169.254, link-local");
  latencyCase("Latency URL at IPv6 link-local", "prom-fe80", "http://[fe80::a9fe:a9fe]:80/",
              "link-local");
  latencyCase("Latency URL at the kubernetes Service", "prom-kubernetes",
              "https://kubernetes.default.svc/api/v1/secrets", "is the Kubernetes API server");
  latencyCase("Latency URL at metadata in hex", "prom-hex", "http://0xa9fea9fe/",
              "resolves to 169.254.169.254, link-local");
  latencyCase("Latency URL at the API server the operator uses", "prom-apiserver",
              plane_->env("APISERVER_URL") + "/api/v1/namespaces/kube-system/secrets",
              "is the Kubernetes API server");
  {
    // Credentials in the URL: refused, and never repeated.
    const std::string url = "http://scraper:hostile-prom-SECRET@169.254.169.254/";
    add({.title = "Latency URL with credentials at metadata",
         .store = "prom-credentials",
         .manifest = storeYaml("prom-credentials",
                               managedSpec("prom-credentials") +
                                   "  autoscaling:\n    enabled: true\n    metrics:\n"
                                   "    - {type: Latency, targetValue: 2s, prometheus: {url: " +
                                   Json(url).dump() + ", query: up}}\n"),
         .expect = becomes("AutoscalingActive", "False", "MetricsUnavailable",
                           "prometheus.url refused: host 169.254.169.254 resolves to "
                           "169.254.169.254, link-local"),
         .setup = deploymentYaml("prom-credentials"),
         .node = true,
         .secrets = {"hostile-prom-SECRET"}});
  }
  return cases;
}

// Creates the case's setup objects and its SessionStore; `outcome` gets kubectl's answer for a
// rejected case.
void HostileInput::submit(Case& c, std::string& outcome) {
  if (!c.setup.empty()) {
    const auto created = inNs({"create", "-f", "-"}, c.setup);
    ASSERT_TRUE(created.ok()) << c.title << ": setup\n" << created.describe();
  }
  // create, not apply: a client-side apply would copy the object into an annotation.
  const auto created = inNs({"create", "-f", "-"}, c.manifest);
  if (c.expect.rejected) {
    EXPECT_FALSE(created.ok()) << c.title << ": the server accepted it";
    outcome = created.err;
  } else {
    EXPECT_TRUE(created.ok()) << c.title << ": " << created.describe();
  }
  if (c.node && created.ok()) playNode(c.store);
}

// Checks the case's outcome; returns the message shown in the table.
std::string HostileInput::verify(const Case& c) {
  const Expect& e = c.expect;
  if (e.rejected) {
    expectNoChildren(c.store);
    EXPECT_FALSE(inNs({"get", "sessionstore", c.store}).ok()) << c.title << ": it exists";
    return "";
  }
  std::optional<Json> found;
  const bool met = eventually([&] {
    found = condition(c.store, e.type);
    return found && found->value("status", "") == e.status &&
           found->value("reason", "") == e.reason &&
           found->value("message", "").find(e.message) != std::string::npos;
  });
  EXPECT_TRUE(met) << c.title << ": wanted " << e.type << "=" << e.status << " (" << e.reason
                   << ") with \"" << e.message << "\"\n"
                   << oneLine(describeStore(c.store), 8000);
  if (!found) return "(no condition " + e.type + ")";
  const Json store = mustGet("sessionstore", c.store);
  EXPECT_EQ(found->value("observedGeneration", std::int64_t{-1}),
            store["metadata"].value("generation", std::int64_t{0}))
      << c.title;
  const std::string text = store.contains("status") ? store["status"].dump() : "";
  for (const auto& secret : c.secrets) {
    EXPECT_EQ(text.find(secret), std::string::npos) << c.title << ": the status echoes a secret";
  }
  if (c.check) c.check(*this, c);
  return found->value("message", "");
}

TEST_F(HostileInput, EveryHostileSessionStoreIsRejectedOrReportedWithWhatToFix) {
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(kubectl({"create", "namespace", other()}).ok());
  ASSERT_NO_FATAL_FAILURE(createBystanders(ns_));
  ASSERT_NO_FATAL_FAILURE(createBystanders(other()));
  const auto bystandersBefore = bystanders();
  ASSERT_EQ(bystandersBefore.size(), 8u);
  const int pid = operator_->pid();
  expectOperatorAlive(pid, "(none)");

  auto cases = catalogue();
  ASSERT_GE(cases.size(), 30u);

  // Everything is submitted first, so the operator works on all of it at once.
  std::vector<std::string> outcomes(cases.size());
  std::vector<std::map<std::string, std::string>> untouched(cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto& c = cases[i];
    ASSERT_NO_FATAL_FAILURE(submit(c, outcomes[i])) << c.title;
    for (const auto& [kind, name] : c.untouchable) {
      const auto object = getWithManagers(kind, name);
      ASSERT_TRUE(object.has_value()) << c.title << ": " << kind << " " << name;
      untouched[i][kind + "/" + name] = fingerprint(*object);
    }
  }

  std::cout << "\n  #  | case                                               | outcome              "
               "                     | message\n"
            << std::string(200, '-') << "\n";
  int rejectedCount = 0;
  int conditionCount = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const Expect& e = c.expect;
    std::string message;
    std::string outcome;
    if (e.rejected) {
      ++rejectedCount;
      outcome = "Rejected";
      EXPECT_NE(outcomes[i].find(e.message), std::string::npos)
          << c.title << ": the server said:\n"
          << oneLine(outcomes[i], 2000) << "\nwanted: " << e.message;
      const auto at = outcomes[i].find(e.message);
      message = at == std::string::npos ? outcomes[i] : outcomes[i].substr(at);
      verify(c);
    } else {
      ++conditionCount;
      outcome = e.type + "=" + e.status + " " + e.reason;
      message = verify(c);
    }
    for (const auto& [key, version] : untouched[i]) {
      const auto slash = key.find('/');
      const auto now = getWithManagers(key.substr(0, slash), key.substr(slash + 1));
      EXPECT_TRUE(now.has_value()) << c.title << ": " << key << " is gone";
      if (now) {
        EXPECT_EQ(fingerprint(*now), version) << c.title << ": " << key << " changed";
      }
    }
    std::cout << std::setw(4) << i + 1 << " | " << std::left << std::setw(50)
              << oneLine(c.title, 50) << " | " << std::setw(41) << oneLine(outcome, 41) << " | "
              << oneLine(message, 150) << std::right << "\n"
              << std::flush;
    ASSERT_NO_FATAL_FAILURE(expectOperatorAlive(pid, c.title));
    const std::string changes = differences(bystandersBefore, bystanders());
    EXPECT_EQ(changes, "") << "after case " << c.title;
  }
  std::cout << std::string(200, '-') << "\n  " << cases.size() << " cases: " << rejectedCount
            << " rejected by the API server, " << conditionCount << " turned into conditions\n";

  // No loop: over a quiet stretch, with every store settled, the operator makes few writes. The
  // stretch lasts until the operator has looked at every store again: each is nudged (an
  // annotation of the test's own on the store and on its ConfigMap, nothing the operator acts
  // on), and as many passes as there are stores began after the nudge and ended.
  const auto listed = inNs({"get", "sessionstores", "-o", "name"});
  ASSERT_TRUE(listed.ok()) << listed.describe();
  const long storeCount = std::count(listed.out.begin(), listed.out.end(), '\n');
  ASSERT_GT(storeCount, 0);
  const auto writesBefore = writeSeries();
  const Passes mark = passes();
  for (const auto& which : std::vector<std::vector<std::string>>{
           {"sessionstores", "--all"},
           {"configmaps", "-l", "app.kubernetes.io/managed-by=sessionstore-operator"}}) {
    std::vector<std::string> args = {"annotate", "--overwrite"};
    args.insert(args.end(), which.begin(), which.end());
    args.push_back("test.sessionstore.io/nudge=quiet");
    const auto nudged = inNs(args);
    ASSERT_TRUE(nudged.ok()) << nudged.describe();
  }
  ASSERT_TRUE(eventually([&] { return aPassEndedSince(mark, storeCount); }))
      << storeCount << " stores; passes begun before the nudge " << mark.begun << ", ended now "
      << passes().ended;
  long quietWrites = 0;
  for (const auto& [series, count] : writeSeries()) {
    const auto before = writesBefore.find(series);
    const long made = count - (before == writesBefore.end() ? 0 : before->second);
    if (made == 0) continue;
    quietWrites += made;
    std::cout << "    " << made << " x " << series << "\n";
  }
  std::cout << "  writes by the operator while it looked at " << storeCount
            << " stores again: " << quietWrites << "\n";
  EXPECT_LE(quietWrites, 5) << "the operator keeps writing: a reconcile loop";
  expectOperatorAlive(pid, "the quiet stretch");

  // No secret of any case in the operator's log or an Event.
  const std::string log = operator_->output();
  const std::string events = inNs({"get", "events", "-o", "json"}).out;
  for (const auto& c : cases) {
    for (const auto& secret : c.secrets) {
      EXPECT_EQ(log.find(secret), std::string::npos) << c.title << ": a secret is in the log";
      EXPECT_EQ(events.find(secret), std::string::npos) << c.title << ": a secret is in an Event";
    }
  }
  expectNoSecretLeaks();
  std::cout << "  catalogue took "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                started)
                   .count()
            << " s\n";
}

}  // namespace
}  // namespace sessionstore::testing
