// Faults of the store and of the operator itself (issue 7), on the cluster profile with the
// operator binary (tests/integration/operator_fixture.h):
//  - the store's Redis is killed: StoreReady False, phase Degraded, the Service sticky
//    (UntilStoreReady) and a Warning Event; Redis back on the same data: Ready again, affinity
//    restored, the key written before the crash still there, the app's wiring untouched;
//  - SessionStores converging while the operator is SIGKILLed at random moments, and while the
//    leader of two replicas is SIGKILLed with work pending: afterwards one
//    of each object per store, each owned by its store, no password regenerated.
// SESSIONSTORE_FAULTS=long: 100 stores and 10 kills, 40 stores under the leader (scripts/faults);
// otherwise 15 and 3, and 10.
#include <gtest/gtest.h>

#include <openssl/sha.h>

#include <cstdlib>
#include <random>

#include "../integration/operator_fixture.h"

namespace sessionstore::testing {
namespace {

bool longForm() {
  const char* value = std::getenv("SESSIONSTORE_FAULTS");
  return value != nullptr && std::string(value) == "long";
}

// A digest to compare Secret data without ever printing it.
std::string digest(const std::string& text) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out);
  std::string hex;
  for (const unsigned char c : out) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 0xF]);
  }
  return hex;
}

class StoreFaults : public OperatorFixture {
 protected:
  // The objects the operator makes for a managed store, by kind and name.
  static std::vector<std::pair<std::string, std::string>> children(const std::string& store) {
    return {{"secret", store + "-redis-auth"},      {"configmap", store + "-redis-config"},
            {"service", store + "-redis"},          {"service", store + "-redis-headless"},
            {"statefulset", store + "-redis"},      {"networkpolicy", store + "-redis"}};
  }

  // Every object of `kind` in the namespace, by name.
  std::map<std::string, Json> all(const std::string& kind) {
    std::map<std::string, Json> out;
    const auto listed = inNs({"get", kind, "-o", "json"});
    if (!listed.ok()) throw std::runtime_error(listed.describe());
    const Json items = Json::parse(listed.out)["items"];
    for (const auto& item : items) out[item["metadata"]["name"].get<std::string>()] = item;
    return out;
  }

  // Converged: every object written, the status of the current generation (the stores have no
  // Redis: they wait for it, wired to nothing yet).
  bool converged(const std::string& prefix, int stores) {
    std::vector<std::string> names;
    for (int i = 0; i < stores; ++i) names.push_back(prefix + std::to_string(i));
    return converged(names);
  }
  bool converged(const std::vector<std::string>& names) {
    const auto objects = std::map<std::string, std::map<std::string, Json>>{
        {"secret", all("secrets")},        {"configmap", all("configmaps")},
        {"service", all("services")},      {"statefulset", all("statefulsets")},
        {"networkpolicy", all("networkpolicies")}};
    for (const auto& name : names) {
      for (const auto& [kind, child] : children(name)) {
        if (!objects.at(kind).contains(child)) return false;
      }
      auto store = get("sessionstore", name);
      if (!store || !store->contains("status")) return false;
      if ((*store)["status"].value("observedGeneration", 0) !=
          (*store)["metadata"].value("generation", -1)) {
        return false;
      }
    }
    return true;
  }

  // One of each, each owned by its store (controller), nothing managed without a store.
  // Returns how many managed objects there are.
  int expectOneOfEachOwned(int stores) {
    std::map<std::string, std::string> uids;
    for (const auto& [name, store] : all("sessionstores")) uids[name] = store["metadata"]["uid"];
    int checked = 0;
    for (const std::string kind :
         {"secrets", "configmaps", "services", "statefulsets", "networkpolicies"}) {
      for (const auto& [name, object] : all(kind)) {
        const Json labels = object["metadata"].value("labels", Json::object());
        if (labels.value("app.kubernetes.io/managed-by", "") != "sessionstore-operator") continue;
        const std::string owner = labels.value("sessionstore.io/name", "");
        EXPECT_TRUE(uids.contains(owner)) << kind << "/" << name << " is an orphan";
        const Json owners = object["metadata"].value("ownerReferences", Json::array());
        EXPECT_EQ(owners.size(), 1u) << kind << "/" << name;
        if (!owners.empty()) {
          EXPECT_EQ(owners[0].value("uid", ""), uids[owner]) << kind << "/" << name;
        }
        ++checked;
      }
    }
    // Names are unique per kind, so "one of each" is: exactly the expected count. (The
    // connection Secret comes when a store is wired; these have no Redis.)
    EXPECT_EQ(checked, stores * static_cast<int>(children("x").size()));
    return checked;
  }

  // Passwords as first seen, by Secret name: they must never change.
  void notePasswords(std::map<std::string, std::string>& first) {
    for (const auto& [name, secret] : all("secrets")) {
      if (!name.ends_with("-redis-auth")) continue;
      const std::string seen = digest(secret.value("data", Json::object()).dump());
      const auto [it, fresh] = first.emplace(name, seen);
      EXPECT_EQ(it->second, seen) << name << ": a password was regenerated";
    }
  }
};

TEST_F(StoreFaults, TheStoresRedisKilledDegradesThenRecoversWithTheWiringUntouched) {
  const std::string data = plane_->dir() + "/" + ns_ + "-volume";
  std::filesystem::create_directories(data);
  apply(deploymentYaml("web"));
  apply(serviceYaml("web"));
  const std::string persistent = std::regex_replace(
      managedStoreYaml("web", "web"), std::regex("persistence: \\{enabled: false\\}"),
      "persistence: {enabled: true, size: 1Gi}");
  apply(persistent + "  affinity: {mode: UntilStoreReady}\n");

  // The test plays the node, with a data folder standing for the volume, so the Redis that
  // comes back finds what the killed one wrote (appendonly, as the operator configures it).
  const auto startRedis = [&] {
    Json config;
    EXPECT_TRUE(eventually([&] {
      auto object = get("configmap", "web-redis-config");
      if (object) config = *object;
      return object.has_value();
    }));
    const std::string acl = data + ".acl";
    std::ofstream(acl) << config["data"]["users.acl"].get<std::string>();
    std::string conf = config["data"]["redis.conf"].get<std::string>();
    EXPECT_NE(conf.find("appendonly yes"), std::string::npos);
    conf = std::regex_replace(conf, std::regex("aclfile [^\n]*"), "aclfile " + acl);
    conf = std::regex_replace(conf, std::regex("(^|\n)(dir|bind|port) [^\n]*"), "$1");
    conf += "\nappendfsync always\n";  // the test's key must be on disk before the SIGKILL
    auto server = std::make_unique<RedisServer>(conf, data);
    std::ofstream(addressMap_, std::ios::app)
        << "web-redis." << ns_ << ".svc:6379 127.0.0.1:" << server->port() << "\n";
    return server;
  };
  auto redis = startRedis();
  ASSERT_TRUE(eventually([&] { return phase("web") == "Ready"; })) << describeStore("web");
  ASSERT_TRUE(eventually([&] { return mustGet("service", "web")["spec"]["sessionAffinity"] == "None"; }));
  const Json connection = mustGet("secret", "web-session-store");
  const auto write = [&](int port, const std::vector<std::string>& command) {
    auto session = storeprobe::Session::open({.host = "127.0.0.1",
                                              .port = port,
                                              .username = "app",
                                              .password = decode(connection, "REDIS_PASSWORD")});
    if (!session) return std::string("no session: ") + session.error();
    auto reply = (*session)->command(command);
    return reply ? std::string("ok") : reply.error();
  };
  ASSERT_EQ(write(redis->port(), {"SET", ns_ + ":web:session-1", "alice"}), "ok");
  const Json deploymentBefore = mustGet("deployment", "web");
  const std::string authBefore = digest(mustGet("secret", "web-redis-auth")["data"].dump());
  const std::string connectionBefore = digest(connection["data"].dump());

  // Redis dies. The operator finds out at its next probe (at the latest the 30 s resync).
  redis->kill();
  const auto killedAt = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return conditionIs("web", "StoreReady", "False"); },
                         std::chrono::seconds(90)))
      << describeStore("web");
  const auto noticedAfter = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - killedAt);
  EXPECT_TRUE(eventually([&] { return phase("web") == "Degraded"; })) << describeStore("web");
  EXPECT_TRUE(eventually([&] {
    return mustGet("service", "web")["spec"].value("sessionAffinity", "") == "ClientIP";
  })) << "UntilStoreReady: clients stay sticky while the store is down";
  const auto storeCondition = condition("web", "StoreReady");
  ASSERT_TRUE(storeCondition);
  const std::string reason = storeCondition->value("reason", "");
  EXPECT_TRUE(eventually([&] {
    const Json events = Json::parse(inNs({"get", "events", "-o", "json"}).out)["items"];
    for (const auto& e : events) {
      if (e.value("type", "") == "Warning" && e.value("reason", "") == reason) return true;
    }
    return false;
  })) << "no Warning Event with reason " << reason;
  std::cout << "[ redis  ] killed: StoreReady False (" << reason << ") after "
            << noticedAfter.count() << " s, phase Degraded, Service ClientIP, a Warning Event\n";
  // The app stays wired: the Secret it reads, the env and the hash do not move while the store
  // is down (pods keep retrying the same URL; rewiring would restart them for nothing).
  const Json deploymentDown = mustGet("deployment", "web");
  EXPECT_EQ(deploymentDown["spec"]["template"], deploymentBefore["spec"]["template"]);
  EXPECT_EQ(deploymentDown["metadata"]["generation"], deploymentBefore["metadata"]["generation"]);

  // Redis comes back on the same data, at another address (a new pod IP).
  redis = startRedis();
  ASSERT_TRUE(eventually([&] { return phase("web") == "Ready"; }, std::chrono::seconds(90)))
      << describeStore("web");
  EXPECT_TRUE(eventually([&] {
    return mustGet("service", "web")["spec"].value("sessionAffinity", "") == "None";
  })) << "affinity restored once the store answers";
  auto session = storeprobe::Session::open({.host = "127.0.0.1",
                                            .port = redis->port(),
                                            .username = "app",
                                            .password = decode(connection, "REDIS_PASSWORD")});
  ASSERT_TRUE(session) << session.error();
  const auto value = (*session)->command({"GET", ns_ + ":web:session-1"});
  ASSERT_TRUE(value) << value.error();
  EXPECT_EQ(*value, "alice") << "the key written before the crash is lost";
  const Json deploymentAfter = mustGet("deployment", "web");
  EXPECT_EQ(deploymentAfter["spec"]["template"], deploymentBefore["spec"]["template"]);
  EXPECT_EQ(deploymentAfter["metadata"]["generation"], deploymentBefore["metadata"]["generation"]);
  EXPECT_EQ(digest(mustGet("secret", "web-redis-auth")["data"].dump()), authBefore);
  EXPECT_EQ(digest(mustGet("secret", "web-session-store")["data"].dump()), connectionBefore);
  std::cout << "[ redis  ] back: Ready, Service None, the key written before the crash read back, "
               "the Deployment's template and generation and both Secrets unchanged\n";
  expectNoSecretLeaks();
}

TEST_F(StoreFaults, StoresConvergeWhileTheOperatorIsKilledAtRandomMoments) {
  const int stores = longForm() ? 100 : 15;
  const int kills = longForm() ? 10 : 3;
  // The stores share one target: the faults are the operator's, not the app's, and a hundred
  // Deployments would cost kwok more than they tell.
  apply(deploymentYaml("app"));
  apply(serviceYaml("app"));
  std::string all;
  for (int i = 0; i < stores; ++i) {
    all += "---\n" + managedStoreYaml("s" + std::to_string(i), "app");
  }
  apply(all);

  std::map<std::string, std::string> firstPasswords;
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pause(100, 2500);
  std::vector<int> moments;
  for (int k = 0; k < kills; ++k) {
    const int ms = pause(random);
    moments.push_back(ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    notePasswords(firstPasswords);
    operator_->signal(SIGKILL);
    operator_->wait(std::chrono::seconds(5));
    delete operator_;
    operator_ = nullptr;
    startOperator();
  }
  std::string when;
  for (const int ms : moments) when += (when.empty() ? "" : ", ") + std::to_string(ms) + " ms";
  std::cout << "[ kill   ] " << stores << " SessionStores; the operator SIGKILLed " << kills
            << " times, after " << when << "\n";

  ASSERT_TRUE(eventually([&] { return converged("s", stores); }, std::chrono::seconds(longForm() ? 300 : 120)))
      << tail(operator_->output(), 4000);
  notePasswords(firstPasswords);

  const int checked = expectOneOfEachOwned(stores);
  std::cout << "[ kill   ] converged: " << checked << " managed objects, each owned by its store, "
            << firstPasswords.size() << " password Secrets unchanged since first seen\n";
}

TEST_F(StoreFaults, TheLeaderKilledWithWorkPendingTheOtherFinishesIt) {
  const int stores = longForm() ? 40 : 10;
  // The fixture's operator steps aside; two replicas elect a leader on a Lease.
  delete operator_;
  operator_ = nullptr;
  const auto replica = [&](const std::string& identity) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{OPERATOR_BINARY, "run", "--kubeconfig", kubeconfig(),
                                 "--identity", identity, "--leader-election-namespace", ns_,
                                 "--metrics-bind-address", "127.0.0.1:0",
                                 "--health-probe-bind-address", "127.0.0.1:0",
                                 "--store-address-map", addressMap_},
        plane_->dir() + "/" + identity + ".log");
  };
  std::map<std::string, std::unique_ptr<ChildProcess>> replicas;
  replicas["replica-a"] = replica("replica-a");
  replicas["replica-b"] = replica("replica-b");
  const auto holder = [&] {
    return inNs({"get", "lease", "sessionstore-operator", "-o",
                 "jsonpath={.spec.holderIdentity}"}).out;
  };
  ASSERT_TRUE(eventually([&] { return replicas.contains(holder()); })) << holder();
  const std::string leader = holder();

  apply(deploymentYaml("app"));
  apply(serviceYaml("app"));
  std::string all;
  for (int i = 0; i < stores; ++i) all += "---\n" + managedStoreYaml("l" + std::to_string(i), "app");
  apply(all);
  // Killed while the work is pending: as soon as the first store's objects appear.
  ASSERT_TRUE(eventually([&] { return get("configmap", "l0-redis-config").has_value(); },
                         std::chrono::seconds(60), std::chrono::milliseconds(50)));
  replicas[leader]->signal(SIGKILL);
  replicas[leader]->wait(std::chrono::seconds(5));
  int done = 0;
  for (int i = 0; i < stores; ++i) done += converged(std::vector{"l" + std::to_string(i)});
  const auto killedAt = std::chrono::steady_clock::now();
  std::map<std::string, std::string> firstPasswords;
  notePasswords(firstPasswords);

  ASSERT_TRUE(eventually([&] { const auto h = holder(); return !h.empty() && h != leader; },
                         std::chrono::seconds(60)))
      << "no replica took over the Lease from " << leader;
  const std::string successor = holder();
  const auto tookOver = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - killedAt);
  ASSERT_TRUE(eventually([&] { return converged("l", stores); }, std::chrono::seconds(120)))
      << tail(replicas[successor]->output(), 4000);
  notePasswords(firstPasswords);
  const int checked = expectOneOfEachOwned(stores);
  std::cout << "[ leader ] " << leader << " SIGKILLed with " << (stores - done) << " of " << stores
            << " stores not converged; " << successor << " took the Lease after "
            << tookOver.count() << " s and finished them: " << checked
            << " managed objects, one of each, owned, passwords unchanged\n";
  replicas.clear();
  startOperator();
}

}  // namespace
}  // namespace sessionstore::testing
