// The REST client against a real kube-apiserver (the `apiserver` profile): every verb on core,
// apps and the SessionStore CRD, server-side apply with two managers, optimistic concurrency,
// pagination, authentication and authorization errors, TLS that fails closed, and watches.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "control_plane.h"
#include "eventually.h"
#include "kube/config.h"
#include "kube/rest_client.h"

namespace sessionstore::kube {
namespace {

using testing::ControlPlane;
using testing::Profile;

class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      plane_ = ControlPlane::start(Profile::kApiServer).release();
    } catch (const std::exception& e) {
      error_ = e.what();
      return;
    }
    const auto crd = plane_->kubectl({"apply", "-f", testing::sourceDir() + "/crds/"});
    const auto established = plane_->waitForCrd("sessionstores.sessionstore.io");
    if (!crd.ok() || !established.ok()) error_ = "CRD: " + crd.describe() + established.describe();
  }
  static void TearDownTestSuite() {
    delete plane_;
    plane_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(error_.empty()) << error_;
    auto config = loadKubeconfig(plane_->kubeconfig());
    ASSERT_TRUE(config) << config.error().describe();
    config_ = *config;
    auto client = RestClient::connect(config_);
    ASSERT_TRUE(client) << client.error().describe();
    client_ = std::move(*client);
  }

  // A namespace of the test's own, so tests do not see each other's objects.
  std::string makeNamespace(const std::string& name) {
    auto created = client_->create(
        resources::kNamespaces, "",
        Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
    EXPECT_TRUE(created) << created.error().describe();
    return name;
  }

  static Json configMap(const std::string& name, Json data = Json::object(),
                        Json labels = Json::object()) {
    return Json{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", {{"name", name}, {"labels", labels}}},
                {"data", data}};
  }

  static inline ControlPlane* plane_ = nullptr;
  static inline std::string error_;
  ClusterConfig config_;
  std::unique_ptr<RestClient> client_;
};

TEST_F(ClientTest, CreateGetUpdatePatchAndDeleteAConfigMap) {
  const auto ns = makeNamespace("crud-core");
  auto created = client_->create(resources::kConfigMaps, ns, configMap("settings", {{"a", "1"}}));
  ASSERT_TRUE(created) << created.error().describe();
  const std::string uid = (*created)["metadata"]["uid"];

  auto again = client_->create(resources::kConfigMaps, ns, configMap("settings"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::kAlreadyExists);

  auto got = client_->get(resources::kConfigMaps, ns, "settings");
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ((*got)["data"]["a"], "1");

  (*got)["data"]["b"] = "2";
  auto updated = client_->update(resources::kConfigMaps, ns, *got);
  ASSERT_TRUE(updated) << updated.error().describe();
  EXPECT_EQ((*updated)["data"]["b"], "2");

  auto merged = client_->patch(resources::kConfigMaps, ns, "settings", PatchType::kMerge,
                               Json{{"data", {{"a", nullptr}, {"c", "3"}}}});
  ASSERT_TRUE(merged) << merged.error().describe();
  EXPECT_FALSE((*merged)["data"].contains("a"));
  EXPECT_EQ((*merged)["data"]["c"], "3");

  auto jsonPatched =
      client_->patch(resources::kConfigMaps, ns, "settings", PatchType::kJson,
                     Json::array({{{"op", "replace"}, {"path", "/data/c"}, {"value", "4"}}}));
  ASSERT_TRUE(jsonPatched) << jsonPatched.error().describe();
  EXPECT_EQ((*jsonPatched)["data"]["c"], "4");

  auto wrongUid = client_->remove(resources::kConfigMaps, ns, "settings",
                                  DeleteOptions{.preconditionUid = "not-the-uid"});
  ASSERT_FALSE(wrongUid);
  EXPECT_EQ(wrongUid.error().kind, ErrorKind::kConflict);

  auto removed =
      client_->remove(resources::kConfigMaps, ns, "settings",
                      DeleteOptions{.propagationPolicy = "Background", .preconditionUid = uid});
  ASSERT_TRUE(removed) << removed.error().describe();
  auto gone = client_->get(resources::kConfigMaps, ns, "settings");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::kNotFound);
}

TEST_F(ClientTest, ADeploymentAndASessionStoreWithItsStatus) {
  const auto ns = makeNamespace("crud-apps");
  const Json deployment = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", "web"}}},
      {"spec",
       {{"replicas", 2},
        {"selector", {{"matchLabels", {{"app", "web"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "web"}}}}},
          {"spec", {{"containers", Json::array({{{"name", "app"}, {"image", "web:1"}}})}}}}}}}};
  auto created = client_->create(resources::kDeployments, ns, deployment);
  ASSERT_TRUE(created) << created.error().describe();
  auto scale = client_->get(resources::kDeployments, ns, "web", "scale");
  ASSERT_TRUE(scale) << scale.error().describe();
  EXPECT_EQ((*scale)["spec"]["replicas"], 2);

  const Json store = {{"apiVersion", "sessionstore.io/v1alpha1"},
                      {"kind", "SessionStore"},
                      {"metadata", {{"name", "web"}}},
                      {"spec", {{"target", {{"deployment", "web"}}}}}};
  auto createdStore = client_->create(resources::kSessionStores, ns, store);
  ASSERT_TRUE(createdStore) << createdStore.error().describe();
  EXPECT_EQ((*createdStore)["spec"]["store"]["type"], "Managed");  // the schema's default

  auto withStatus =
      client_->patch(resources::kSessionStores, ns, "web", PatchType::kMerge,
                     Json{{"status", {{"phase", "Pending"}, {"observedGeneration", 1}}}},
                     PatchOptions{.subresource = "status"});
  ASSERT_TRUE(withStatus) << withStatus.error().describe();
  EXPECT_EQ((*withStatus)["status"]["phase"], "Pending");
  // The main resource ignores status, the status subresource ignores spec.
  auto got = client_->get(resources::kSessionStores, ns, "web");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["status"]["phase"], "Pending");
  EXPECT_EQ((*got)["metadata"]["generation"], 1);

  auto invalid = client_->create(
      resources::kSessionStores, ns,
      Json{{"apiVersion", "sessionstore.io/v1alpha1"},
           {"kind", "SessionStore"},
           {"metadata", {{"name", "bad"}}},
           {"spec", {{"target", {{"deployment", "web"}}}, {"store", {{"type", "Memcached"}}}}}});
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().kind, ErrorKind::kInvalid);
  ASSERT_FALSE(invalid.error().causes.empty());
  EXPECT_EQ(invalid.error().causes[0].field, "spec.store.type");
}

TEST_F(ClientTest, ServerSideApplyKeepsEachManagersFields) {
  const auto ns = makeNamespace("ssa");
  auto first = client_->apply(resources::kConfigMaps, ns, configMap("shared", {{"gitops", "yes"}}),
                              "gitops-tool");
  ASSERT_TRUE(first) << first.error().describe();
  auto second = client_->apply(resources::kConfigMaps, ns,
                               configMap("shared", {{"operator", "yes"}}), "sessionstore-operator");
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ((*second)["data"]["gitops"], "yes");
  EXPECT_EQ((*second)["data"]["operator"], "yes");

  // The first manager re-applies its manifest: its field stays, the other manager's stays too.
  auto reapplied = client_->apply(resources::kConfigMaps, ns,
                                  configMap("shared", {{"gitops", "still"}}), "gitops-tool");
  ASSERT_TRUE(reapplied) << reapplied.error().describe();
  EXPECT_EQ((*reapplied)["data"]["gitops"], "still");
  EXPECT_EQ((*reapplied)["data"]["operator"], "yes");

  // Taking a field another manager owns is a conflict without force, and works with it.
  auto conflict =
      client_->apply(resources::kConfigMaps, ns, configMap("shared", {{"gitops", "mine"}}),
                     "sessionstore-operator", /*force=*/false);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().kind, ErrorKind::kConflict);

  // A manager that stops applying a field releases it: it is removed.
  auto released =
      client_->apply(resources::kConfigMaps, ns, configMap("shared"), "sessionstore-operator");
  ASSERT_TRUE(released) << released.error().describe();
  EXPECT_FALSE((*released)["data"].contains("operator"));
  EXPECT_EQ((*released)["data"]["gitops"], "still");
}

TEST_F(ClientTest, AStaleUpdateIsAConflict) {
  const auto ns = makeNamespace("stale");
  auto created = client_->create(resources::kConfigMaps, ns, configMap("c", {{"v", "1"}}));
  ASSERT_TRUE(created);
  Json stale = *created;
  Json fresh = *created;
  fresh["data"]["v"] = "2";
  ASSERT_TRUE(client_->update(resources::kConfigMaps, ns, fresh));
  stale["data"]["v"] = "3";
  auto conflict = client_->update(resources::kConfigMaps, ns, stale);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(conflict.error().httpStatus, 409);
  EXPECT_EQ((*client_->get(resources::kConfigMaps, ns, "c"))["data"]["v"], "2");
}

TEST_F(ClientTest, PaginatesOver1200ConfigMaps) {
  const auto ns = makeNamespace("pages");
  for (int i = 0; i < 1200; ++i) {
    auto created =
        client_->create(resources::kConfigMaps, ns,
                        configMap("cm-" + std::to_string(i), Json::object(), {{"page", "test"}}));
    ASSERT_TRUE(created) << i << ": " << created.error().describe();
  }
  auto first = client_->list(resources::kConfigMaps, ns,
                             ListOptions{.labelSelector = "page=test", .limit = 500});
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(first->items.size(), 500u);
  EXPECT_FALSE(first->continueToken.empty());

  int pages = 0;
  std::set<std::string> names;
  ListOptions options{.labelSelector = "page=test", .limit = 500};
  while (true) {
    auto page = client_->list(resources::kConfigMaps, ns, options);
    ASSERT_TRUE(page) << page.error().describe();
    ++pages;
    for (const auto& item : page->items) names.insert(item["metadata"]["name"]);
    if (page->continueToken.empty()) break;
    options.continueToken = page->continueToken;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.size(), 1200u);

  auto all = client_->listAll(resources::kConfigMaps, ns,
                              ListOptions{.labelSelector = "page=test", .limit = 500});
  ASSERT_TRUE(all) << all.error().describe();
  EXPECT_EQ(all->items.size(), 1200u);
  EXPECT_FALSE(all->resourceVersion.empty());

  auto expired = client_->list(resources::kConfigMaps, ns,
                               ListOptions{.limit = 500, .continueToken = "garbage"});
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().kind, ErrorKind::kBadRequest);
}

TEST_F(ClientTest, WrongCredentialsAreUnauthorizedAndMissingRightsForbidden) {
  std::ifstream tokens(plane_->dir() + "/tokens.csv");
  std::string adminLine, nobodyLine;
  std::getline(tokens, adminLine);
  std::getline(tokens, nobodyLine);
  const auto nobodyToken = nobodyLine.substr(0, nobodyLine.find(','));

  ClusterConfig nobody = config_;
  nobody.tls.clientCertPem.clear();
  nobody.tls.clientKeyPem.clear();
  nobody.bearerToken = nobodyToken;
  auto nobodyClient = RestClient::connect(nobody);
  ASSERT_TRUE(nobodyClient);
  auto forbidden = (*nobodyClient)->list(resources::kSecrets, "default");
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().kind, ErrorKind::kForbidden);
  EXPECT_NE(forbidden.error().message.find("token-nobody"), std::string::npos);

  ClusterConfig stranger = nobody;
  stranger.bearerToken = "not-a-token";
  auto strangerClient = RestClient::connect(stranger);
  ASSERT_TRUE(strangerClient);
  auto unauthorized = (*strangerClient)->list(resources::kSecrets, "default");
  ASSERT_FALSE(unauthorized);
  EXPECT_EQ(unauthorized.error().kind, ErrorKind::kUnauthorized);
}

TEST_F(ClientTest, TlsFailsClosedWithAWrongCertificateAuthority) {
  // A real certificate, but not the server's issuer.
  ClusterConfig wrongCa = config_;
  wrongCa.tls.caPem = config_.tls.clientCertPem;
  auto client = RestClient::connect(wrongCa);
  ASSERT_TRUE(client) << client.error().describe();
  auto got = (*client)->get(resources::kNamespaces, "", "default");
  ASSERT_FALSE(got) << "a server signed by another CA was trusted";
  EXPECT_EQ(got.error().kind, ErrorKind::kConfig);
  EXPECT_NE(got.error().message.find("TLS"), std::string::npos) << got.error().message;

  // Only an explicit insecure-skip-tls-verify turns verification off.
  wrongCa.tls.insecureSkipVerify = true;
  auto insecure = RestClient::connect(wrongCa);
  ASSERT_TRUE(insecure);
  EXPECT_TRUE((*insecure)->get(resources::kNamespaces, "", "default"));
}

TEST_F(ClientTest, AWatchSeesChangesInOrderAndResumesAfterTheServerEndsIt) {
  const auto ns = makeNamespace("watch");
  auto listed = client_->list(resources::kConfigMaps, ns);
  ASSERT_TRUE(listed);
  auto stream = client_->watch(
      resources::kConfigMaps, ns,
      WatchOptions{.resourceVersion = listed->resourceVersion, .timeout = std::chrono::seconds(3)});
  ASSERT_TRUE(stream) << stream.error().describe();

  ASSERT_TRUE(client_->create(resources::kConfigMaps, ns, configMap("w", {{"v", "1"}})));
  ASSERT_TRUE(client_->patch(resources::kConfigMaps, ns, "w", PatchType::kMerge,
                             Json{{"data", {{"v", "2"}}}}));
  ASSERT_TRUE(client_->remove(resources::kConfigMaps, ns, "w"));

  std::vector<WatchEventType> seen;
  std::string lastVersion = listed->resourceVersion;
  while (true) {
    auto event = (*stream)->next();
    ASSERT_TRUE(event) << event.error().describe();
    if (!event->has_value()) break;  // the server ended the stream after timeoutSeconds
    lastVersion = (*event)->object["metadata"]["resourceVersion"];
    if ((*event)->type != WatchEventType::kBookmark) seen.push_back((*event)->type);
  }
  EXPECT_EQ(seen, (std::vector<WatchEventType>{WatchEventType::kAdded, WatchEventType::kModified,
                                               WatchEventType::kDeleted}));

  // A change made between two streams is seen by the next one, started from the last version.
  ASSERT_TRUE(client_->create(resources::kConfigMaps, ns, configMap("between")));
  auto resumed = client_->watch(
      resources::kConfigMaps, ns,
      WatchOptions{.resourceVersion = lastVersion, .timeout = std::chrono::seconds(2)});
  ASSERT_TRUE(resumed) << resumed.error().describe();
  auto event = (*resumed)->next();
  ASSERT_TRUE(event && event->has_value());
  EXPECT_EQ((*event)->type, WatchEventType::kAdded);
  EXPECT_EQ((*event)->object["metadata"]["name"], "between");
}

TEST_F(ClientTest, CancelEndsABlockedWatchAtOnce) {
  auto stream = client_->watch(resources::kConfigMaps, "default",
                               WatchOptions{.timeout = std::chrono::seconds(300)});
  ASSERT_TRUE(stream) << stream.error().describe();
  // The reader drains what the server sends at once (initial ADDED events), then blocks in
  // next() until cancelled. It says when it enters next(); the test cancels once it has entered
  // it with nothing left to read (no event came back for 200 ms: it waits on the server).
  std::atomic<int> entered{0};
  std::atomic<int> returned{0};
  std::atomic<bool> ended{false};
  std::thread reader([&] {
    while (true) {
      ++entered;
      auto event = (*stream)->next();
      ++returned;
      if (!event || !event->has_value()) break;
    }
    ended = true;
  });
  int lastReturned = -1;
  const bool waiting = testing::eventually(
      [&] {
        const int now = returned;
        const bool inside = entered > now && now == lastReturned;
        lastReturned = now;
        return inside;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200));
  (*stream)->cancel();
  // Ended by the cancel, long before the server's 300 s would end it.
  EXPECT_TRUE(testing::eventually([&] { return ended.load(); }, std::chrono::seconds(30),
                                  std::chrono::milliseconds(10)));
  reader.join();
  EXPECT_TRUE(waiting) << "the reader never waited in next()";
}

}  // namespace
}  // namespace sessionstore::kube
