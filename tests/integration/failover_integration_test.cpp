// Replicas and failover (issue 18), end to end: the operator binary against a real API server,
// a SessionStore with replicas: 3, and three real redis-servers played from the store's own
// ConfigMap (redis.conf and users.acl as the operator rendered them, the replication user
// included), one for each of the StatefulSet's pods, reached through the operator's
// --store-address-map.
//
// Why played and not on the real node: the test must kill exactly the primary's Redis process,
// hold one replica behind, and read every Redis's role every 100 ms from the host; kwok's pods
// stand for the Redis pods (their labels are what the operator moves and what the client Service
// selects), the played redis-servers for the processes in them. The test also plays the two
// things a cluster would do for it: the pods' start script (each Redis starts as a replica of
// the client Service, authenticating as the replication user) and kube-proxy (the client
// Service's address follows the pod labelled primary: a sampler thread rewrites its line of the
// address map, and points it nowhere while no pod is labelled). kwok keeps the pods Ready, so
// the loss is seen only on the operator's connections, as a crashed Redis in a live pod is.
//
// At every sample (100 ms), from the first primary to the end: at most one pod labelled primary
// and at most one Redis answering role:master.
//
// The scale down (replicas 3 to 1 with the primary on pod 2) adds the kubelet's part for pods
// that go: the cluster's StatefulSet controller deletes them, and the test stops their Redis once
// their pod object is gone; and pod 0's rollout to the one-pod template, whose Redis the test
// starts again from the new ConfigMap, as that template's command does (no replica, no replication
// user). kube-proxy's part follows the client Service's selector: a one-pod store's selects pod 0
// without the role label.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>

#include "kube/config.h"
#include "kube/rest_client.h"
#include "operator_fixture.h"

namespace sessionstore::testing {
namespace {

constexpr int kPods = 3;
constexpr const char* kTesterAcl = "user tester on >tester-password ~* &* +@all";

class FailoverIntegration : public OperatorFixture {
 protected:
  void TearDown() override {
    stopSampler();
    std::lock_guard lock(serversMu_);
    for (auto& server : servers_) server.reset();
  }

  std::string podHost(int ordinal) const {
    return "fo-redis-" + std::to_string(ordinal) + ".fo-redis-headless." + ns_ + ".svc:6379";
  }
  std::string serviceHost() const { return "fo-redis." + ns_ + ".svc:6379"; }
  void mapAddress(const std::string& from, int port) {
    std::lock_guard lock(mapMu_);
    std::ofstream(addressMap_, std::ios::app) << from << " 127.0.0.1:" << port << "\n";
  }

  static std::unique_ptr<redisclient::Session> tester(int port) {
    auto session = redisclient::Session::open({.host = "127.0.0.1",
                                               .port = port,
                                               .username = "tester",
                                               .password = "tester-password",
                                               .connectTimeout = std::chrono::milliseconds(300),
                                               .commandTimeout = std::chrono::milliseconds(300)});
    if (!session) return nullptr;
    return std::move(*session);
  }
  // INFO replication's fields of the Redis on `port`; empty when it does not answer.
  static std::map<std::string, std::string> replication(int port) {
    auto session = tester(port);
    if (!session) return {};
    auto info = session->info();
    if (!info) return {};
    return *info;
  }

  // Plays pod `ordinal`'s Redis as its start script runs it: a replica of where the client
  // Service leads now (nowhere before a primary is labelled: port 1, refused).
  void startPod(int ordinal, int port = 0) {
    const std::string conf = "replicaof 127.0.0.1 " + std::to_string(servicePort_.load()) +
                             "\nmasteruser replication\nmasterauth " + replicationPassword_ +
                             "\n";
    servers_[ordinal] = startFromStoreConfig(
        config_, plane_->dir() + "/" + ns_ + "-pod" + std::to_string(ordinal) + "-users.acl",
        std::string(kTesterAcl) + "\n", conf, "", port);
    mapAddress(podHost(ordinal), servers_[ordinal]->port());
  }

  static bool labelled(const std::map<std::string, bool>& labels, const std::string& pod) {
    const auto it = labels.find(pod);
    return it != labels.end() && it->second;
  }
  // The pods' role labels, read directly from the API server (the sampler has a client of its
  // own).
  std::map<std::string, bool> labelledPrimary() { return labelledPrimary(*client_); }
  std::map<std::string, bool> labelledPrimary(kube::RestClient& client) {
    std::map<std::string, bool> out;
    auto pods = client.list(kube::resources::kPods, ns_,
                            {.labelSelector = "sessionstore.io/name=fo"});
    if (!pods) return out;
    for (const auto& pod : pods->items) {
      const Json labels = pod["metadata"].value("labels", Json::object());
      out[pod["metadata"]["name"]] = labels.value("sessionstore.io/role", "") == "primary";
    }
    return out;
  }

  // The two clients, the target and a SessionStore of three pods; returns once its objects for
  // three pods and the replication password are there (config_, replicationPassword_).
  void createThreePodStore() {
    auto kubeconfig = kube::loadKubeconfig(plane_->kubeconfig());
    ASSERT_TRUE(kubeconfig) << kubeconfig.error().describe();
    auto client = kube::RestClient::connect(*kubeconfig);
    ASSERT_TRUE(client);
    client_ = std::move(*client);
    auto samplerClient = kube::RestClient::connect(*kubeconfig);
    ASSERT_TRUE(samplerClient);
    samplerClient_ = std::move(*samplerClient);

    apply(deploymentYaml("fo"));
    apply(serviceYaml("fo"));
    apply(managedStoreYaml("fo", "fo", "      replicas: 3\n"));
    // The objects for three pods, and the replication password in the password Secret.
    ASSERT_TRUE(eventually([&] {
      auto sts = get("statefulset", "fo-redis");
      auto secret = get("secret", "fo-redis-auth");
      auto config = get("configmap", "fo-redis-config");
      if (!sts || !secret || !config || !(*secret)["data"].contains("replication-password")) {
        return false;
      }
      config_ = *config;
      return (*sts)["spec"]["replicas"] == 3;
    }, 60s)) << describeStore("fo");
    replicationPassword_ = decode(mustGet("secret", "fo-redis-auth"), "replication-password");
  }

  // Every 100 ms: the labels and the roles, the invariants counted, and the client Service's
  // address moved to the labelled pod (kube-proxy's part).
  void startSampler() {
    sampling_ = true;
    sampler_ = std::thread([this] {
      while (sampling_) {
        const auto labels = labelledPrimary(*samplerClient_);
        int labelledCount = 0;
        int primaryOrdinal = -1;
        for (const auto& [name, on] : labels) {
          if (!on) continue;
          ++labelledCount;
          primaryOrdinal = name.back() - '0';
        }
        int masters = 0;
        for (int i = 0; i < kPods; ++i) {
          int port = 0;
          {
            std::lock_guard lock(serversMu_);
            if (servers_[i]) port = servers_[i]->port();
          }
          if (port != 0 && replication(port)["role"] == "master") ++masters;
        }
        {
          std::lock_guard lock(samplesMu_);
          ++samples_;
          if (labelledCount > 1) twoLabelled_.push_back(samples_);
          if (masters > 1) twoMasters_.push_back(samples_);
        }
        // A one-pod store's client Service selects its pod without the role label.
        bool roleSelected = true;
        if (auto service = samplerClient_->get(kube::resources::kServices, ns_, "fo-redis")) {
          roleSelected = service->value("spec", Json::object())
                             .value("selector", Json::object())
                             .contains("sessionstore.io/role");
        }
        int port = 1;
        if (!roleSelected && labels.contains("fo-redis-0")) primaryOrdinal = 0;
        if ((labelledCount == 1 || !roleSelected) && primaryOrdinal >= 0 &&
            primaryOrdinal < kPods) {
          std::lock_guard lock(serversMu_);
          if (servers_[primaryOrdinal]) port = servers_[primaryOrdinal]->port();
        }
        if (port != servicePort_) {
          servicePort_ = port;
          mapAddress(serviceHost(), port);
        }
        std::this_thread::sleep_for(100ms);
      }
    });
  }
  void stopSampler() {
    sampling_ = false;
    if (sampler_.joinable()) sampler_.join();
  }
  long samples() {
    std::lock_guard lock(samplesMu_);
    return samples_;
  }

  std::string eventNotes(const std::string& reason) {
    const auto events = inNs({"get", "events.events.k8s.io", "-o", "json"});
    std::string notes;
    if (!events.ok()) return notes;
    const Json items = Json::parse(events.out)["items"];
    for (const auto& e : items) {
      if (e.value("reason", "") == reason) notes += e.value("note", "") + "\n";
    }
    return notes;
  }
  Json storeStatus() {
    return mustGet("sessionstore", "fo").value("status", Json::object()).value("store",
                                                                                 Json::object());
  }

  Json config_;
  std::string replicationPassword_;
  std::mutex serversMu_;
  std::unique_ptr<RedisServer> servers_[kPods];  // GUARDED_BY(serversMu_) for the sampler
  std::mutex mapMu_;
  std::atomic<int> servicePort_{1};
  std::unique_ptr<kube::RestClient> client_;
  std::unique_ptr<kube::RestClient> samplerClient_;
  std::atomic<bool> sampling_{false};
  std::thread sampler_;
  std::mutex samplesMu_;
  long samples_ = 0;               // GUARDED_BY(samplesMu_)
  std::vector<long> twoLabelled_;  // GUARDED_BY(samplesMu_)
  std::vector<long> twoMasters_;   // GUARDED_BY(samplesMu_)
};

TEST_F(FailoverIntegration, TheReplicaWithMostDataIsPromotedAndTheOldPrimaryReturnsAsAReplica) {
  ASSERT_NO_FATAL_FAILURE(createThreePodStore());
  const std::string acl = config_["data"]["users.acl"];
  EXPECT_NE(acl.find("user replication on #"), std::string::npos) << "hashes only in the ACL";
  EXPECT_EQ(acl.find(replicationPassword_), std::string::npos);
  EXPECT_EQ(mustGet("service", "fo-redis")["spec"]["selector"].value("sessionstore.io/role", ""),
            "primary");
  EXPECT_EQ(mustGet("poddisruptionbudget", "fo-redis")["spec"]["maxUnavailable"], 1);
  {
    std::lock_guard lock(serversMu_);
    for (int i = 0; i < kPods; ++i) startPod(i);
  }
  startSampler();

  // The first primary: every pod equal (no data), so the lowest ordinal.
  ASSERT_TRUE(eventually([&] { return storeStatus().value("primary", "") == "fo-redis-0"; }, 120s))
      << describeStore("fo");
  ASSERT_TRUE(eventually([&] { return labelled(labelledPrimary(), "fo-redis-0"); }));
  ASSERT_TRUE(eventually([&] { return phase("fo") == "Ready"; }, 120s)) << describeStore("fo");
  EXPECT_TRUE(eventually([&] { return !eventNotes("PrimaryElected").empty(); }));
  const int port0 = servers_[0]->port();
  for (int i : {1, 2}) {
    ASSERT_TRUE(eventually([&] {
      auto info = replication(servers_[i]->port());
      return info["role"] == "slave" && info["master_port"] == std::to_string(port0) &&
             info["master_link_status"] == "up";
    }, 60s)) << "pod " << i << " replicates from the primary\n"
             << describeStore("fo");
  }

  // Writes through the primary (the client Service's address) as the app's user.
  const Json connection = mustGet("secret", "fo-session-store");
  const std::string appPassword = decode(connection, "REDIS_PASSWORD");
  auto app = redisclient::Session::open(
      {.host = "127.0.0.1", .port = servicePort_.load(), .username = "app",
       .password = appPassword});
  ASSERT_TRUE(app) << app.error();
  const std::string prefix = ns_ + ":fo:";
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*app)->command({"SET", prefix + "a" + std::to_string(i), "v"}));
  }
  auto waited = (*app)->command({"WAIT", "2", "5000"});
  ASSERT_TRUE(waited) << waited.error();
  EXPECT_EQ(*waited, "2") << "both replicas have the first writes";

  // Replica 1 is held behind: its link to the primary broken and its password to it wrong, as a
  // replica cut off by the network would be. Writes acknowledged by one replica (WAIT 1) then
  // reach replica 2 only.
  auto behind = tester(servers_[1]->port());
  ASSERT_TRUE(behind);
  ASSERT_TRUE(behind->command({"CONFIG", "SET", "masterauth", "wrong"}));
  ASSERT_TRUE(behind->command({"CLIENT", "KILL", "TYPE", "master"}));
  ASSERT_TRUE(eventually([&] {
    return replication(servers_[1]->port())["master_link_status"] == "down";
  }));
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*app)->command({"SET", prefix + "b" + std::to_string(i), "v"}));
  }
  waited = (*app)->command({"WAIT", "1", "5000"});
  ASSERT_TRUE(waited) << waited.error();
  ASSERT_EQ(*waited, "1");
  const auto offset1 = std::stoll(replication(servers_[1]->port())["slave_repl_offset"]);
  const auto offset2 = std::stoll(replication(servers_[2]->port())["slave_repl_offset"]);
  ASSERT_LT(offset1, offset2) << "replica 2 has more data";

  // The primary's Redis crashes (its pod stays Ready: only the operator's connection sees it).
  {
    std::lock_guard lock(serversMu_);
    servers_[0]->kill();
  }
  const auto killedAt = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return storeStatus().value("primary", "") == "fo-redis-2"; }, 60s))
      << describeStore("fo");
  const auto promotedAfter = std::chrono::steady_clock::now() - killedAt;
  EXPECT_TRUE(eventually([&] {
    const auto labels = labelledPrimary();
    return labels.size() == 3 && labelled(labels, "fo-redis-2") &&
           !labelled(labels, "fo-redis-0") && !labelled(labels, "fo-redis-1");
  }));
  EXPECT_EQ(replication(servers_[2]->port())["role"], "master");
  std::cout << "[ failover ] from the kill to the new primary in status: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(promotedAfter).count()
            << " ms\n";
  // Every write acknowledged by WAIT 1 is there on the new primary.
  auto promoted = tester(servers_[2]->port());
  ASSERT_TRUE(promoted);
  for (int i = 0; i < 100; ++i) {
    for (const char* batch : {"a", "b"}) {
      auto got = promoted->command({"GET", prefix + batch + std::to_string(i)});
      ASSERT_TRUE(got) << got.error();
      EXPECT_EQ(*got, "v") << batch << i << " was acknowledged by WAIT and is lost";
    }
  }
  const Json failover = storeStatus().value("lastFailover", Json::object());
  EXPECT_EQ(failover.value("from", ""), "fo-redis-0") << failover.dump();
  EXPECT_EQ(failover.value("to", ""), "fo-redis-2") << failover.dump();
  EXPECT_GE(failover.value("durationMs", -1), 0) << failover.dump();
  EXPECT_TRUE(eventually([&] { return !eventNotes("FailoverStarted").empty(); }));
  std::string completed;
  EXPECT_TRUE(eventually([&] {
    completed = eventNotes("FailoverCompleted");
    return completed.find("from fo-redis-0 to fo-redis-2") != std::string::npos;
  })) << completed;

  // Replica 1 may reach the primary again: the operator has pointed it at the new one.
  ASSERT_TRUE(behind->command({"CONFIG", "SET", "masterauth", replicationPassword_}));
  const int port2 = servers_[2]->port();
  EXPECT_TRUE(eventually([&] {
    auto info = replication(servers_[1]->port());
    return info["role"] == "slave" && info["master_port"] == std::to_string(port2) &&
           info["master_link_status"] == "up";
  }, 60s)) << describeStore("fo");

  // The old primary's Redis comes back (empty: no persistence) as its start script starts it:
  // it is made a replica of the new primary and is never labelled.
  ASSERT_TRUE(eventually([&] { return servicePort_.load() == port2; }));
  {
    std::lock_guard lock(serversMu_);
    startPod(0, port0);
  }
  EXPECT_TRUE(eventually([&] {
    auto info = replication(port0);
    return info["role"] == "slave" && info["master_port"] == std::to_string(port2) &&
           info["master_link_status"] == "up";
  }, 60s)) << describeStore("fo");
  auto returned = tester(port0);
  ASSERT_TRUE(returned);
  EXPECT_TRUE(eventually([&] {
    auto got = returned->command({"GET", prefix + "b99"});
    return got && *got == "v";
  })) << "the returning pod has the data written before and after it left";
  EXPECT_EQ(storeStatus().value("primary", ""), "fo-redis-2");

  // The marker that the sampler ran through all of it, then the invariants.
  const long seen = samples();
  ASSERT_TRUE(eventually([&] { return samples() > seen + 3; }));
  stopSampler();
  EXPECT_GT(samples(), 50);
  std::lock_guard lock(samplesMu_);
  EXPECT_TRUE(twoLabelled_.empty()) << twoLabelled_.size() << " samples with two pods labelled";
  EXPECT_TRUE(twoMasters_.empty()) << twoMasters_.size() << " samples with two masters";
  expectNoSecretLeaks();
}

// Issue 18's scale down: replicas 3 to 1 with the primary on pod 2, a write acknowledged by one
// replica only (pod 1, which goes) when the scale is asked. The operator keeps the StatefulSet
// until pod 0 has caught up, moves the primary to it (pod 2 fenced first), then lowers the
// StatefulSet and deletes the budget; the client Service selects pod 0 without the role.
TEST_F(FailoverIntegration, ScaleDownToOnePodMovesThePrimaryToPodZeroFirstAndLosesNoWrite) {
  ASSERT_NO_FATAL_FAILURE(createThreePodStore());
  ASSERT_TRUE(get("poddisruptionbudget", "fo-redis"));
  {
    std::lock_guard lock(serversMu_);
    for (int i = 0; i < kPods; ++i) startPod(i);
  }
  startSampler();
  ASSERT_TRUE(eventually([&] { return storeStatus().value("primary", "") == "fo-redis-0"; }, 120s))
      << describeStore("fo");
  // Pod 0's object as made for three pods: the one-pod template replaces it later (rollout).
  const Json pod0Uid = mustGet("pod", "fo-redis-0")["metadata"]["uid"];
  const int port0 = servers_[0]->port();
  const int port1 = servers_[1]->port();
  const int port2 = servers_[2]->port();
  const auto replicates = [&](int port, int from) {
    auto info = replication(port);
    return info["role"] == "slave" && info["master_port"] == std::to_string(from) &&
           info["master_link_status"] == "up";
  };
  for (int port : {port1, port2}) {
    ASSERT_TRUE(eventually([&] { return replicates(port, port0); }, 60s)) << describeStore("fo");
  }

  const std::string appPassword = decode(mustGet("secret", "fo-session-store"), "REDIS_PASSWORD");
  const std::string prefix = ns_ + ":fo:";
  // `count` writes of `batch` through the client Service's address, acknowledged by `replicas`.
  const auto write = [&](const std::string& batch, int replicas) {
    auto app = redisclient::Session::open({.host = "127.0.0.1",
                                           .port = servicePort_.load(),
                                           .username = "app",
                                           .password = appPassword});
    ASSERT_TRUE(app) << app.error();
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE((*app)->command({"SET", prefix + batch + std::to_string(i), "v"}));
    }
    auto waited = (*app)->command({"WAIT", std::to_string(replicas), "5000"});
    ASSERT_TRUE(waited) << waited.error();
    ASSERT_EQ(*waited, std::to_string(replicas)) << batch;
  };
  // Holds the replica on `port` behind: its link broken and its password to the primary wrong.
  const auto holdBehind = [&](int port) {
    auto behind = tester(port);
    ASSERT_TRUE(behind);
    ASSERT_TRUE(behind->command({"CONFIG", "SET", "masterauth", "wrong"}));
    ASSERT_TRUE(behind->command({"CLIENT", "KILL", "TYPE", "master"}));
    ASSERT_TRUE(eventually([&] { return replication(port)["master_link_status"] == "down"; }));
  };
  const auto letCatchUp = [&](int port) {
    auto behind = tester(port);
    ASSERT_TRUE(behind);
    ASSERT_TRUE(behind->command({"CONFIG", "SET", "masterauth", replicationPassword_}));
  };

  // The primary onto pod 2: pod 1 behind, pod 0's Redis crashes, pod 2 has the most data.
  ASSERT_NO_FATAL_FAILURE(write("a", 2));
  ASSERT_NO_FATAL_FAILURE(holdBehind(port1));
  ASSERT_NO_FATAL_FAILURE(write("b", 1));
  {
    std::lock_guard lock(serversMu_);
    servers_[0]->kill();
  }
  ASSERT_TRUE(eventually([&] { return storeStatus().value("primary", "") == "fo-redis-2"; }, 60s))
      << describeStore("fo");
  ASSERT_NO_FATAL_FAILURE(letCatchUp(port1));
  ASSERT_TRUE(eventually([&] { return servicePort_.load() == port2; }));
  {
    std::lock_guard lock(serversMu_);
    startPod(0, port0);
  }
  for (int port : {port0, port1}) {
    ASSERT_TRUE(eventually([&] { return replicates(port, port2); }, 60s)) << describeStore("fo");
  }

  // Pod 0 (the one that stays) held behind; "d" acknowledged by pod 1 alone, which goes.
  ASSERT_NO_FATAL_FAILURE(write("c", 2));
  ASSERT_NO_FATAL_FAILURE(holdBehind(port0));
  ASSERT_NO_FATAL_FAILURE(write("d", 1));
  const auto scaled = inNs({"patch", "sessionstore", "fo", "--type=merge", "-p",
                            R"({"spec":{"store":{"managed":{"replicas":1}}}})"});
  ASSERT_TRUE(scaled.ok()) << scaled.describe();

  // Held: the operator says so, the StatefulSet keeps its pods, pod 2 keeps the primary.
  std::string waiting;
  ASSERT_TRUE(eventually([&] {
    waiting = eventNotes("ScaleDownWaiting");
    return !waiting.empty();
  }, 60s)) << describeStore("fo");
  EXPECT_NE(waiting.find("down to 1 pod"), std::string::npos) << waiting;
  EXPECT_EQ(mustGet("statefulset", "fo-redis")["spec"]["replicas"], 3);
  EXPECT_TRUE(labelled(labelledPrimary(), "fo-redis-2"));
  EXPECT_EQ(replication(port2)["role"], "master");

  // Pod 0 may catch up: the primary moves to it, then the StatefulSet goes down.
  ASSERT_NO_FATAL_FAILURE(letCatchUp(port0));
  std::string switched;
  ASSERT_TRUE(eventually([&] {
    switched = eventNotes("Switchover");
    return switched.find("from fo-redis-2 to fo-redis-0") != std::string::npos;
  }, 60s)) << switched << describeStore("fo");
  EXPECT_NE(switched.find("fo-redis-0 is the primary now"), std::string::npos) << switched;
  ASSERT_TRUE(eventually([&] {
    auto sts = get("statefulset", "fo-redis");
    return sts && (*sts)["spec"]["replicas"] == 1;
  }, 60s)) << describeStore("fo");
  EXPECT_TRUE(eventually([&] { return !get("poddisruptionbudget", "fo-redis"); }))
      << "a one-pod store keeps no budget";
  EXPECT_TRUE(eventually([&] {
    return !mustGet("service", "fo-redis")["spec"]["selector"].contains("sessionstore.io/role");
  }));
  EXPECT_EQ(replication(port0)["role"], "master");

  // The kubelet's part: the Redis of a pod the StatefulSet controller deleted stops.
  for (int i : {2, 1}) {
    ASSERT_TRUE(eventually([&] { return !get("pod", "fo-redis-" + std::to_string(i)); }, 120s))
        << "pod " << i << " deleted by the StatefulSet controller\n" << describeStore("fo");
    std::lock_guard lock(serversMu_);
    servers_[i].reset();
  }

  // Every acknowledged write is on pod 0, read through the client Service's address.
  ASSERT_TRUE(eventually([&] { return servicePort_.load() == port0; }));
  {
    auto through = tester(servicePort_.load());
    ASSERT_TRUE(through);
    for (const char* batch : {"a", "b", "c", "d"}) {
      for (int i = 0; i < 50; ++i) {
        auto got = through->command({"GET", prefix + batch + std::to_string(i)});
        ASSERT_TRUE(got) << got.error();
        EXPECT_EQ(*got, "v") << batch << i << " was acknowledged by WAIT and is lost";
      }
    }
  }
  EXPECT_TRUE(eventually([&] { return !labelled(labelledPrimary(), "fo-redis-0"); }))
      << "a one-pod store's pod carries no role";

  // Pod 0's rollout to the one-pod template: its Redis starts again from the new ConfigMap, a
  // master of its own. (Without persistence, as here, that start is empty: any restart of a
  // one-pod store without persistence is.)
  ASSERT_TRUE(eventually([&] {
    auto now = get("pod", "fo-redis-0");
    return now && (*now)["metadata"]["uid"] != pod0Uid;
  }, 120s)) << "pod 0 rolled by the StatefulSet controller\n" << describeStore("fo");
  const Json oneConfig = mustGet("configmap", "fo-redis-config");
  EXPECT_EQ(oneConfig["data"]["users.acl"].get<std::string>().find("user replication"),
            std::string::npos);
  {
    std::lock_guard lock(serversMu_);
    servers_[0].reset();
    servers_[0] = startFromStoreConfig(oneConfig, plane_->dir() + "/" + ns_ + "-one-users.acl",
                                       std::string(kTesterAcl) + "\n", "", "", port0);
  }
  EXPECT_EQ(replication(port0)["role"], "master");
  ASSERT_TRUE(eventually([&] { return phase("fo") == "Ready"; }, 120s)) << describeStore("fo");
  auto app = redisclient::Session::open({.host = "127.0.0.1",
                                         .port = servicePort_.load(),
                                         .username = "app",
                                         .password = appPassword});
  ASSERT_TRUE(app) << app.error();
  auto set = (*app)->command({"SET", prefix + "after", "v"});
  ASSERT_TRUE(set) << set.error();
  EXPECT_EQ(*set, "OK") << "pod 0 takes writes through the client Service";
  EXPECT_FALSE(get("poddisruptionbudget", "fo-redis"));

  const long seen = samples();
  ASSERT_TRUE(eventually([&] { return samples() > seen + 3; }));
  stopSampler();
  std::lock_guard lock(samplesMu_);
  EXPECT_TRUE(twoLabelled_.empty()) << twoLabelled_.size() << " samples with two pods labelled";
  EXPECT_TRUE(twoMasters_.empty()) << twoMasters_.size() << " samples with two masters";
  expectNoSecretLeaks();
}

}  // namespace
}  // namespace sessionstore::testing
