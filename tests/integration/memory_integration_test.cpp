// Memory that follows load (issue 18's memory test), end to end: the operator binary against a
// real API server, and a real redis-server played from the store's own ConfigMap (redis.conf and
// users.acl as the operator rendered them), reached through the operator's --store-address-map.
// The real node shows the raise as a user meets it (tests/node/seeds_node_test.cpp, scenario 9:
// the container resized in place by the kubelet, Redis not restarted); this test keeps what needs
// the Redis process at hand on the host: its pid as well as its run_id, the raise to the ceiling
// and no raise after it however full, and the CRD's refusals. kwok's pod stands for the Redis pod
// (its in-place resize is checked on the pod's spec), the played redis-server for the process in
// it. A window of 2 s keeps the test quick; nothing here
// asserts how long anything took, only what happened, with generous bounds.
#include <cstdint>

#include "clock/time_format.h"
#include "operator_fixture.h"

namespace sessionstore::testing {
namespace {

constexpr std::int64_t kMi = std::int64_t{1} << 20;

class MemoryIntegration : public OperatorFixture {
 protected:
  // A user of the test's own (not the operator's, not the app's) that may read everything.
  static constexpr const char* kTesterAcl = "user tester on >tester-password ~* &* +@all";

  std::unique_ptr<redisclient::Session> tester(int port) {
    auto session = redisclient::Session::open(
        {.host = "127.0.0.1", .port = port, .username = "tester", .password = "tester-password"});
    if (!session) throw std::runtime_error("tester: " + session.error());
    return std::move(*session);
  }
  static std::map<std::string, std::string> info(redisclient::Session& s) {
    auto answered = s.info();
    if (!answered) throw std::runtime_error("INFO: " + answered.error());
    return *answered;
  }
  static std::int64_t number(redisclient::Session& s, const std::string& key) {
    return std::stoll(info(s).at(key));
  }
  static std::int64_t configMaxMemory(redisclient::Session& s) {
    auto answer = s.command({"CONFIG", "GET", "maxmemory"});
    if (!answer) throw std::runtime_error("CONFIG GET: " + answer.error());
    return std::stoll(answer->substr(answer->find('\n') + 1));
  }
  // Session keys (with a TTL, as sessions have: evictable under volatile-lru) of 64 KiB each, as
  // the app writes them, until used_memory is above `percent` of `maxMemory`.
  void fillPast(redisclient::Session& app, redisclient::Session& probe, std::int64_t maxMemory,
                int percent) {
    const std::string value(64 * 1024, 'x');
    while (number(probe, "used_memory") <= maxMemory / 100 * percent) {
      for (int i = 0; i < 16; ++i) {
        const auto set = app.command(
            {"SET", ns_ + ":mem:session-" + std::to_string(keys_++), value, "EX", "3600"});
        ASSERT_TRUE(set) << set.error();
      }
    }
  }
  std::string eventNotes(const std::string& reason) {
    const auto events = inNs({"get", "events.events.k8s.io", "-o", "json"});
    std::string notes;
    if (!events.ok()) return notes;
    const Json items = Json::parse(events.out)["items"];  // held: the loop outlives parse()'s
    for (const auto& e : items) {
      if (e.value("reason", "") == reason) notes += e.value("note", "") + "\n";
    }
    return notes;
  }
  Json memoryStatus() {
    const Json status = mustGet("sessionstore", "mem").value("status", Json::object());
    return status.value("store", Json::object()).value("memory", Json::object());
  }
  int keys_ = 0;
};

TEST_F(MemoryIntegration, AFullStoreIsRaisedOneStepLiveAndStopsAtTheCeiling) {
  apply(deploymentYaml("mem"));
  apply(serviceYaml("mem"));
  apply(managedStoreYaml(
      "mem", "mem", "      memory: {ceiling: 128Mi, targetUtilization: 90, windowSeconds: 2}\n"));
  RedisServer& redis = playNode("mem", kTesterAcl);
  ASSERT_TRUE(eventually([&] { return phase("mem") == "Ready"; }, 120s)) << describeStore("mem");
  ASSERT_TRUE(eventually([&] { return memoryStatus().value("maxMemory", "") == "64Mi"; }))
      << describeStore("mem");
  EXPECT_TRUE(conditionIs("mem", "MemoryAtCeiling", "False", "BelowCeiling"))
      << describeStore("mem");

  const Json stsBefore = mustGet("statefulset", "mem-redis");
  EXPECT_EQ(stsBefore["spec"]["updateStrategy"]["type"], "OnDelete");
  const Json templateBefore = stsBefore["spec"]["template"]["metadata"];
  const std::optional<Json> podBefore = get("pod", "mem-redis-0");

  auto probe = tester(redis.port());
  const Json connection = mustGet("secret", "mem-session-store");
  auto app = redisclient::Session::open({.host = "127.0.0.1",
                                         .port = redis.port(),
                                         .username = "app",
                                         .password = decode(connection, "REDIS_PASSWORD")});
  ASSERT_TRUE(app) << app.error();
  ASSERT_EQ(configMaxMemory(*probe), 64 * kMi);
  const auto server = info(*probe);
  const std::string runId = server.at("run_id");
  const std::string pid = server.at("process_id");
  const std::int64_t evicted = number(*probe, "evicted_keys");

  // Past 90 % of 64Mi (and below 64Mi itself: nothing is evicted by the filling).
  ASSERT_NO_FATAL_FAILURE(fillPast(**app, *probe, 64 * kMi, 91));
  ASSERT_LT(number(*probe, "used_memory"), 64 * kMi);

  ASSERT_TRUE(eventually([&] { return memoryStatus().value("maxMemory", "") == "128Mi"; }, 120s))
      << describeStore("mem") << "\n"
      << memoryStatus().dump();
  // Events are sent in the background: waited for.
  std::string raised;
  EXPECT_TRUE(eventually([&] {
    raised = eventNotes("MemoryRaised");
    return raised.find("64Mi -> 128Mi") != std::string::npos;
  })) << raised
      << "\n"
      << inNs({"get", "events.events.k8s.io"}).out;
  EXPECT_EQ(configMaxMemory(*probe), 128 * kMi) << "exactly one step";
  const auto after = info(*probe);
  EXPECT_EQ(after.at("run_id"), runId) << "Redis was not restarted";
  EXPECT_EQ(after.at("process_id"), pid);
  EXPECT_EQ(number(*probe, "evicted_keys"), evicted) << "nothing evicted by the change";
  EXPECT_EQ(memoryStatus().value("step", -1), 1);

  // A restart keeps the raise (redis.conf), and the next pod has the raised limit; the pod
  // template's config hash did not move, so nothing rolls.
  ASSERT_TRUE(eventually([&] {
    const auto conf = mustGet("configmap", "mem-redis-config")["data"].value("redis.conf", "");
    return conf.find("maxmemory 134217728\n") != std::string::npos;
  })) << mustGet("configmap", "mem-redis-config").dump(1);
  const Json stsAfter = mustGet("statefulset", "mem-redis");
  EXPECT_EQ(stsAfter["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "160Mi");
  EXPECT_EQ(stsAfter["spec"]["template"]["metadata"]["annotations"], templateBefore["annotations"]);
  if (podBefore) {
    const Json pod = mustGet("pod", "mem-redis-0");
    EXPECT_EQ(pod["metadata"]["uid"], (*podBefore)["metadata"]["uid"])
        << "the pod was not replaced";
    if (raised.find("resized in place") != std::string::npos) {
      EXPECT_EQ(pod["spec"]["containers"][0]["resources"]["limits"]["memory"], "160Mi")
          << pod["spec"].dump(1);
    }
  }
  // 128Mi is the ceiling: it says so.
  ASSERT_TRUE(eventually([&] {
    return conditionIs("mem", "MemoryAtCeiling", "True", "CeilingReached");
  })) << describeStore("mem");

  // Past 90 % of 128Mi now: the operator looks after the window and raises nothing.
  ASSERT_NO_FATAL_FAILURE(fillPast(**app, *probe, 128 * kMi, 91));
  std::string since;
  ASSERT_TRUE(eventually(
      [&] {
        since = memoryStatus().value("aboveTargetSince", "");
        return !since.empty();
      },
      120s))
      << describeStore("mem");
  const auto sinceTime = clock::parseTime(since);
  ASSERT_TRUE(sinceTime) << since;
  // The marker: a pass that began once the window (2 s) had run out has ended.
  ASSERT_TRUE(eventually([&] { return std::chrono::system_clock::now() > *sinceTime + 3s; }));
  const Passes mark = passes();
  ASSERT_NO_FATAL_FAILURE(nudge("mem"));
  ASSERT_TRUE(eventually([&] { return aPassEndedSince(mark); })) << describeStore("mem");
  EXPECT_EQ(configMaxMemory(*probe), 128 * kMi) << "not past the ceiling";
  EXPECT_EQ(memoryStatus().value("maxMemory", ""), "128Mi");
  EXPECT_TRUE(conditionIs("mem", "MemoryAtCeiling", "True", "CeilingReached"))
      << describeStore("mem");
  EXPECT_EQ(info(*probe).at("run_id"), runId);
  const std::string notes = eventNotes("MemoryRaised");
  EXPECT_EQ(std::count(notes.begin(), notes.end(), '\n'), 1) << notes;
  EXPECT_TRUE(eventually([&] { return !eventNotes("MemoryAtCeiling").empty(); }))
      << "the Warning when it reached the ceiling";
  expectNoSecretLeaks();
}

TEST_F(MemoryIntegration, TheCrdRefusesImpossibleCombinations) {
  apply(deploymentYaml("bad"));
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"      memory: {ceiling: 768Mi}\n", "memory.ceiling must be on the ladder"},
      {"      maxMemory: 100Mi\n      memory: {}\n", "maxMemory is the floor"},
      {"      maxMemory: 512Mi\n      memory: {ceiling: 256Mi}\n",
       "memory.ceiling must not be below maxMemory"},
      {"      resources: {limits: {memory: 1Gi}}\n      memory: {}\n",
       "resources.limits.memory is not allowed with memory"},
      {"      memory: {targetUtilization: 100}\n", "targetUtilization"},
      // Replicas (issue 18): 1 to 5.
      {"      replicas: 6\n", "replicas"},
  };
  for (const auto& [extra, want] : rows) {
    const auto applied = inNs({"apply", "-f", "-"}, managedStoreYaml("bad", "bad", extra));
    EXPECT_FALSE(applied.ok()) << extra;
    EXPECT_NE(applied.err.find(want), std::string::npos) << extra << applied.describe();
  }
  const auto fine =
      inNs({"apply", "-f", "-"},
           managedStoreYaml("bad", "bad",
                            "      maxMemory: 128Mi\n      memory: {}\n      replicas: 2\n"));
  EXPECT_TRUE(fine.ok()) << "memory with replicas (raised on every pod): " << fine.describe();
  const Json memory = mustGet("sessionstore", "bad")["spec"]["store"]["managed"]["memory"];
  EXPECT_EQ(memory,
            Json::parse(R"({"ceiling": "1Gi", "targetUtilization": 90, "windowSeconds": 60})"));
  const auto explained = kubectl({"explain", "sessionstore.spec.store.managed.memory"});
  ASSERT_TRUE(explained.ok()) << explained.describe();
  for (const char* field : {"ceiling", "targetUtilization", "windowSeconds"}) {
    EXPECT_NE(explained.out.find(field), std::string::npos) << explained.out;
  }
  const auto replicas = kubectl({"explain", "sessionstore.spec.store.managed.replicas"});
  ASSERT_TRUE(replicas.ok()) << replicas.describe();
  EXPECT_NE(replicas.out.find("sessionstore.io/role=primary"), std::string::npos) << replicas.out;
}

}  // namespace
}  // namespace sessionstore::testing
