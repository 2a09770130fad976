// Informers against a real kube-apiserver: label scoping, a watch that survives the API server
// restarting, and a relist after 410 Gone that loses no change made while the informer could
// not see the server (its connections cut by a proxy while etcd was compacted).
#include <gtest/gtest.h>

#include <regex>

#include "control_plane.h"
#include "eventually.h"
#include "informer/informer.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "tcp_proxy.h"

namespace sessionstore::informer {
namespace {

using kube::resources::kConfigMaps;
using testing::ControlPlane;
using testing::eventually;
using testing::Profile;

Json configMap(const std::string& name, Json labels = Json::object()) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"labels", labels}}},
              {"data", {{"v", "1"}}}};
}

std::unique_ptr<kube::RestClient> connect(const kube::ClusterConfig& config) {
  auto client = kube::RestClient::connect(config);
  if (!client) throw std::runtime_error(client.error().describe());
  return std::move(*client);
}

// Names the handlers heard about, by event.
struct Seen {
  std::mutex mu;
  std::set<std::string> added, deleted;
  std::map<std::string, std::string> updated;  // name -> data.v

  Handlers handlers() {
    return Handlers{.onAdd =
                        [this](const Json& o) {
                          std::lock_guard l(mu);
                          added.insert(o["metadata"]["name"]);
                        },
                    .onUpdate =
                        [this](const Json&, const Json& o) {
                          std::lock_guard l(mu);
                          updated[o["metadata"]["name"]] =
                              o.contains("data") ? o["data"].value("v", "") : "";
                        },
                    .onDelete =
                        [this](const Json& o) {
                          std::lock_guard l(mu);
                          deleted.insert(o["metadata"]["name"]);
                        }};
  }
  bool wasAdded(const std::string& n) {
    std::lock_guard l(mu);
    return added.contains(n);
  }
  bool wasDeleted(const std::string& n) {
    std::lock_guard l(mu);
    return deleted.contains(n);
  }
  std::string updatedTo(const std::string& n) {
    std::lock_guard l(mu);
    return updated.contains(n) ? updated[n] : "";
  }
};

TEST(InformerOnARealServer, HoldsOnlyMatchingObjectsAndSurvivesAnApiServerRestart) {
  std::unique_ptr<ControlPlane> plane;
  ASSERT_NO_THROW(plane = ControlPlane::start(Profile::kApiServer));
  auto config = kube::loadKubeconfig(plane->kubeconfig());
  ASSERT_TRUE(config) << config.error().describe();
  auto client = connect(*config);
  ASSERT_TRUE(client->create(kConfigMaps, "default", configMap("mine-1", {{"owner", "me"}})));
  ASSERT_TRUE(client->create(kConfigMaps, "default", configMap("theirs", {{"owner", "them"}})));
  ASSERT_TRUE(client->create(kConfigMaps, "default", configMap("unlabelled")));

  Seen seen;
  Informer informer(*client,
                    InformerOptions{.resource = kConfigMaps,
                                    .namespaces = {"default"},
                                    .labelSelector = "owner=me",
                                    .initialBackoff = std::chrono::milliseconds(200),
                                    .maxBackoff = std::chrono::seconds(2)},
                    seen.handlers());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(std::chrono::seconds(30)));
  EXPECT_EQ(informer.size(), 1u);
  EXPECT_TRUE(informer.get("default", "mine-1"));
  EXPECT_FALSE(informer.get("default", "theirs"));

  ASSERT_TRUE(client->create(kConfigMaps, "default", configMap("mine-2", {{"owner", "me"}})));
  ASSERT_TRUE(client->create(kConfigMaps, "default", configMap("theirs-2", {{"owner", "them"}})));
  ASSERT_TRUE(eventually([&] { return seen.wasAdded("mine-2"); }, std::chrono::seconds(20)));

  const auto restarted = plane->restart("kube-apiserver");
  ASSERT_TRUE(restarted.ok()) << restarted.describe();
  // A change after the restart reaches the informer through a new watch.
  ASSERT_TRUE(client->patch(kConfigMaps, "default", "mine-1", kube::PatchType::kMerge,
                            Json{{"data", {{"v", "after-restart"}}}}));
  ASSERT_TRUE(client->create(kConfigMaps, "default", configMap("mine-3", {{"owner", "me"}})));
  EXPECT_TRUE(eventually([&] { return seen.updatedTo("mine-1") == "after-restart"; },
                         std::chrono::seconds(60)));
  EXPECT_TRUE(eventually([&] { return seen.wasAdded("mine-3"); }, std::chrono::seconds(30)));
  EXPECT_EQ(informer.size(), 3u);
  EXPECT_GE(informer.stats().watches, 2u);
  informer.stop();
}

TEST(InformerOnARealServer, RelistsAfterGoneWithoutLosingAChangeMadeWhileCutOff) {
  // No watch cache: watches are served from etcd, so a compacted revision answers 410.
  std::unique_ptr<ControlPlane> plane;
  ASSERT_NO_THROW(plane = ControlPlane::start(Profile::kApiServer,
                                              "--watch-cache=false --etcd-compaction-interval=1s"));
  auto config = kube::loadKubeconfig(plane->kubeconfig());
  ASSERT_TRUE(config) << config.error().describe();
  auto direct = connect(*config);

  // The informer reaches the server through a proxy the test can cut.
  std::smatch port;
  ASSERT_TRUE(std::regex_search(config->server, port, std::regex(":([0-9]+)$")));
  testing::TcpProxy proxy(std::stoi(port[1]));
  auto viaProxy = *config;
  viaProxy.server = "https://127.0.0.1:" + std::to_string(proxy.port());
  auto proxied = connect(viaProxy);

  ASSERT_TRUE(direct->create(kConfigMaps, "default", configMap("keep")));
  ASSERT_TRUE(direct->create(kConfigMaps, "default", configMap("doomed")));
  Seen seen;
  Informer informer(*proxied,
                    InformerOptions{.resource = kConfigMaps,
                                    .namespaces = {"default"},
                                    .initialBackoff = std::chrono::milliseconds(500),
                                    .maxBackoff = std::chrono::seconds(1)},
                    seen.handlers());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(std::chrono::seconds(30)));
  ASSERT_EQ(informer.size(), 2u);  // keep and doomed
  const auto listsBefore = informer.stats().lists;
  // The newest revision now: the informer's resourceVersion is not newer.
  auto latest = direct->list(kConfigMaps, "default");
  ASSERT_TRUE(latest) << latest.error().describe();
  const std::string informerVersionAtMost = latest->resourceVersion;

  // Cut off: changes happen and etcd compacts past the informer's resourceVersion.
  proxy.cut();
  ASSERT_TRUE(direct->remove(kConfigMaps, "default", "doomed"));
  ASSERT_TRUE(direct->patch(kConfigMaps, "default", "keep", kube::PatchType::kMerge,
                            Json{{"data", {{"v", "2"}}}}));
  ASSERT_TRUE(direct->create(kConfigMaps, "default", configMap("born")));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(direct->patch(kConfigMaps, "default", "born", kube::PatchType::kMerge,
                              Json{{"data", {{"n", std::to_string(i)}}}}));
  }
  // A watch from an old revision now answers 410 (the compactor runs every second): wait until
  // the server says so (a paged list at a revision reads exactly it, from etcd, as
  // --watch-cache=false has it). A watch from revision R reads from R + 1, so it is R + 1 that
  // must be compacted away: a compaction that stopped at R + 1 refuses a list at R but lets the
  // watch resume without a 410 (which CI once met: every change seen, no relist).
  const std::string firstWatched = std::to_string(std::stoll(informerVersionAtMost) + 1);
  ASSERT_TRUE(eventually(
      [&] {
        auto old = direct->list(kConfigMaps, "default",
                                {.limit = 1, .resourceVersion = firstWatched});
        return !old && old.error().kind == kube::ErrorKind::kGone;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200)))
      << "etcd did not compact past revision " << firstWatched;
  proxy.restore();

  EXPECT_TRUE(eventually([&] { return seen.wasDeleted("doomed"); }, std::chrono::seconds(60)));
  EXPECT_TRUE(eventually([&] { return seen.updatedTo("keep") == "2"; }, std::chrono::seconds(30)));
  EXPECT_TRUE(eventually([&] { return seen.wasAdded("born"); }, std::chrono::seconds(30)));
  EXPECT_GE(informer.stats().gone, 1u) << "no 410 was seen: the test did not force a relist";
  EXPECT_GT(informer.stats().lists, listsBefore);
  EXPECT_FALSE(informer.get("default", "doomed"));
  EXPECT_EQ(informer.size(), 2u);  // keep and born
  informer.stop();
}

}  // namespace
}  // namespace sessionstore::informer
