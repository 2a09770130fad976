// Every request the operator's client sends names the operator: a real kube-apiserver, started
// with an audit log, records the User-Agent of each request, and each verb (create, get, list,
// server-side apply, update, delete, watch) must carry transport::userAgent(), never
// cpprestsdk's default.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <unistd.h>

#include "control_plane.h"
#include "eventually.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "transport/http_transport.h"

namespace sessionstore::kube {
namespace {

using testing::ControlPlane;
using testing::Profile;

// Metadata of every request, nothing of its body (no Secret data reaches the log).
constexpr const char* kAuditPolicy = R"(apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
)";

// verb -> every userAgent the audit log recorded for it, for requests in namespace `ns`.
std::map<std::string, std::set<std::string>> agentsByVerb(const std::string& logPath,
                                                          const std::string& ns) {
  std::map<std::string, std::set<std::string>> out;
  std::ifstream in(logPath);
  std::string line;
  while (std::getline(in, line)) {
    const Json entry = Json::parse(line, nullptr, false);
    if (!entry.is_object() || !entry.contains("objectRef")) continue;
    const Json& ref = entry["objectRef"];
    const bool inNamespace = ref.value("namespace", "") == ns ||
                             (ref.value("resource", "") == "namespaces" && ref.value("name", "") == ns);
    if (!inNamespace) continue;
    out[entry.value("verb", "")].insert(entry.value("userAgent", ""));
  }
  return out;
}

TEST(UserAgent, EveryVerbAndWatchNamesTheOperatorInTheAuditLog) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sessionstore-user-agent-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string policy = (dir / "audit-policy.yaml").string();
  const std::string log = (dir / "audit.log").string();
  std::ofstream(policy) << kAuditPolicy;
  auto plane = ControlPlane::start(Profile::kApiServer,
                                   "--audit-policy-file=" + policy + " --audit-log-path=" + log);

  auto config = loadKubeconfig(plane->kubeconfig());
  ASSERT_TRUE(config) << config.error().describe();
  auto connected = RestClient::connect(*config);
  ASSERT_TRUE(connected) << connected.error().describe();
  auto& client = **connected;

  const std::string ns = "user-agent";
  ASSERT_TRUE(client.create(resources::kNamespaces, "",
                            Json{{"apiVersion", "v1"},
                                 {"kind", "Namespace"},
                                 {"metadata", {{"name", ns}}}}));
  auto listed = client.list(resources::kConfigMaps, ns);
  ASSERT_TRUE(listed) << listed.error().describe();
  auto stream = client.watch(
      resources::kConfigMaps, ns,
      WatchOptions{.resourceVersion = listed->resourceVersion, .timeout = std::chrono::seconds(2)});
  ASSERT_TRUE(stream) << stream.error().describe();
  const Json cm = {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata", {{"name", "ua"}}},
                   {"data", {{"v", "1"}}}};
  ASSERT_TRUE(client.create(resources::kConfigMaps, ns, cm));
  auto got = client.get(resources::kConfigMaps, ns, "ua");
  ASSERT_TRUE(got) << got.error().describe();
  (*got)["data"]["v"] = "2";
  ASSERT_TRUE(client.update(resources::kConfigMaps, ns, *got));
  ASSERT_TRUE(client.apply(resources::kConfigMaps, ns, cm, "sessionstore-operator"));
  ASSERT_TRUE(client.remove(resources::kConfigMaps, ns, "ua"));
  // The watch saw the changes: it was served, and its audit entry is written once it ends.
  while (true) {
    auto event = (*stream)->next();
    ASSERT_TRUE(event) << event.error().describe();
    if (!event->has_value()) break;
  }

  const std::set<std::string> verbs = {"create", "get", "list", "watch", "update", "patch",
                                       "delete"};
  std::map<std::string, std::set<std::string>> seen;
  ASSERT_TRUE(testing::eventually(
      [&] {
        seen = agentsByVerb(log, ns);
        for (const auto& verb : verbs) {
          if (!seen.contains(verb)) return false;
        }
        return true;
      },
      std::chrono::seconds(30)))
      << "the audit log " << log << " lacks some verb";

  const std::string expected = transport::userAgent();
  EXPECT_TRUE(expected.starts_with("sessionstore-operator/" SESSIONSTORE_VERSION " ("))
      << expected;
  for (const auto& [verb, agents] : seen) {
    EXPECT_EQ(agents, std::set<std::string>{expected}) << verb;
  }
  plane->stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sessionstore::kube
