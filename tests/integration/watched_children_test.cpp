// Drift is repaired because the operator watches what it made and the target, not because a
// resync came by: the operator runs with a one-hour resync (--store-resync-seconds 3600), so
// each repair below, well inside the test's wait, can only have started from a watch event
// (operator/cache, operator/app/main.cpp). On the `cluster` profile, as the SessionStore suite.
#include "operator_fixture.h"

namespace sessionstore::testing {
namespace {

class WatchedChildren : public OperatorFixture {
 protected:
  static void SetUpTestSuite() {
    extraFlags() = {"--store-resync-seconds", "3600"};
    OperatorFixture::SetUpTestSuite();
  }

  // A store that is Ready with the app wired; returns once it is.
  void converge() {
    apply(deploymentYaml("web"));
    apply(serviceYaml("web"));
    apply(managedStoreYaml("web", "web"));
    playNode("web");
    ASSERT_TRUE(eventually([&] { return phase("web") == "Ready"; }, 90s)) << describeStore("web");
    ASSERT_TRUE(eventually([&] { return hasEnv(mustGet("deployment", "web"), "REDIS_URL"); }))
        << describeStore("web");
  }

  bool hasEnv(const Json& deployment, const std::string& name) {
    const auto names = envNames(deployment);
    return std::find(names.begin(), names.end(), name) != names.end();
  }
  std::string uidOf(const std::string& kind, const std::string& name) {
    const auto object = get(kind, name);
    return object ? object->at("metadata").value("uid", "") : "";
  }
  // Deletes kind/name and waits for the operator to make it again (a new uid).
  void expectRecreated(const std::string& kind, const std::string& name) {
    const std::string before = uidOf(kind, name);
    ASSERT_FALSE(before.empty()) << kind << " " << name;
    const auto deleted = inNs({"delete", kind, name, "--wait=false"});
    ASSERT_TRUE(deleted.ok()) << deleted.describe();
    EXPECT_TRUE(eventually([&] {
      const std::string now = uidOf(kind, name);
      return !now.empty() && now != before;
    })) << kind
        << " " << name << " was not made again\n"
        << describeStore("web");
  }
};

TEST_F(WatchedChildren, DeletedOrChangedObjectsAreRepairedFromTheirWatch) {
  converge();

  expectRecreated("configmap", "web-redis-config");
  expectRecreated("networkpolicy", "web-redis");
  expectRecreated("service", "web-redis");
  // Secrets are watched as metadata only; the connection Secret is written again.
  expectRecreated("secret", "web-session-store");

  // The StatefulSet scaled by hand goes back to one replica.
  const auto scaled = inNs({"scale", "statefulset", "web-redis", "--replicas=3"});
  ASSERT_TRUE(scaled.ok()) << scaled.describe();
  EXPECT_TRUE(eventually([&] {
    return mustGet("statefulset", "web-redis")["spec"].value("replicas", 0) == 1;
  })) << describeStore("web");
}

TEST_F(WatchedChildren, TheWiringRemovedAndTheAffinityChangedByHandAreRepaired) {
  converge();
  // The target carries the label that maps it back to its store.
  EXPECT_EQ(mustGet("deployment", "web")["metadata"]["labels"]["sessionstore.io/wired-by"], "web");
  EXPECT_EQ(mustGet("service", "web")["metadata"]["labels"]["sessionstore.io/wired-by"], "web");

  // REDIS_URL removed from the Deployment (another field manager's JSON patch).
  const Json deployment = mustGet("deployment", "web");
  const auto& env = deployment["spec"]["template"]["spec"]["containers"][0]["env"];
  std::size_t index = 0;
  while (index < env.size() && env[index]["name"] != "REDIS_URL") ++index;
  ASSERT_LT(index, env.size());
  const auto removed = inNs({"patch", "deployment", "web", "--type=json", "-p",
                             R"([{"op": "remove", "path": "/spec/template/spec/containers/0/env/)" +
                                 std::to_string(index) + R"("}])"});
  ASSERT_TRUE(removed.ok()) << removed.describe();
  EXPECT_TRUE(eventually([&] { return hasEnv(mustGet("deployment", "web"), "REDIS_URL"); }))
      << describeStore("web");

  // The store is ready, so UntilStoreReady wants no affinity: ClientIP set by hand goes away.
  ASSERT_EQ(mustGet("service", "web")["spec"]["sessionAffinity"], "None");
  const auto sticky = inNs({"patch", "service", "web", "--type=merge", "-p",
                            R"({"spec": {"sessionAffinity": "ClientIP"}})"});
  ASSERT_TRUE(sticky.ok()) << sticky.describe();
  EXPECT_TRUE(eventually([&] {
    return mustGet("service", "web")["spec"]["sessionAffinity"] == "None";
  })) << describeStore("web");

  // Deleting the store releases every field it applied to the target, its label included.
  const auto deleted = inNs({"delete", "sessionstore", "web", "--wait=false"});
  ASSERT_TRUE(deleted.ok()) << deleted.describe();
  ASSERT_TRUE(eventually([&] { return !get("sessionstore", "web").has_value(); }))
      << describeStore("web");
  const Json unwired = mustGet("deployment", "web");
  EXPECT_FALSE(hasEnv(unwired, "REDIS_URL"));
  EXPECT_FALSE(
      unwired["metadata"].value("labels", Json::object()).contains("sessionstore.io/wired-by"));
  EXPECT_FALSE(mustGet("service", "web")["metadata"]
                   .value("labels", Json::object())
                   .contains("sessionstore.io/wired-by"));
}

}  // namespace
}  // namespace sessionstore::testing
