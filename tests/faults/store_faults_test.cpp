// Faults of the operator and of the store (issue 7), on the cluster profile with the operator
// binary (tests/integration/operator_fixture.h). Each fault must leave every SessionStore
// converged, no duplicate or orphan object, no password regenerated and no data lost:
//  - SessionStores converging while the operator is SIGKILLed at random moments;
//  - two operator replicas, the leader SIGKILLed while work is pending, the other finishing it;
//  - the store's Redis SIGKILLed: StoreReady False, phase Degraded, the Service sticky under
//    affinity UntilStoreReady and a Warning Event; Redis back on the same data and port: Ready
//    again, affinity restored, the key written before the crash read back, and the app's wiring
//    untouched throughout.
//
// Converged, for a managed store: one each of the objects the reconciler writes (the password
// Secret, the ConfigMap, the client and headless Services, the StatefulSet, the NetworkPolicy,
// and once the store answers the connection Secret), each controlled by its SessionStore,
// status.observedGeneration current; a store that answers is Ready with its Deployment wired
// (REDIS_URL from the connection Secret, the connection-hash annotation). kwok runs no pods, so
// the test plays the node (a real redis-server) for a sample of the stores only; the rest must
// reach the fully written, not-yet-ready state (Provisioning, StoreReady False, ConnectionWired
// False, no connection Secret) — every object the operator writes for them is still checked.
//
// SESSIONSTORE_FAULTS=long (scripts/faults): 100 converging stores (5 of them answering) plus 5
// Ready ones, 10 kills; 40 stores under the leader. Otherwise: 15 (2 answering) plus 2 Ready,
// 3 kills; 10 under the leader.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "../integration/operator_fixture.h"
#include "crypto/crypto.h"
#include "managedstore/managed_store.h"

namespace sessionstore::testing {
namespace {

bool longForm() {
  const char* value = std::getenv("SESSIONSTORE_FAULTS");
  return value != nullptr && std::string(value) == "long";
}

std::string milliseconds(const std::vector<int>& values) {
  std::string out;
  for (const int ms : values) out += (out.empty() ? "" : ", ") + std::to_string(ms) + " ms";
  return out;
}

// The objects of one namespace, read with one request, by "Kind/name".
struct World {
  std::map<std::string, Json> objects;

  const Json* find(const std::string& kind, const std::string& name) const {
    const auto it = objects.find(kind + "/" + name);
    return it == objects.end() ? nullptr : &it->second;
  }
};

// What the test expects of one SessionStore.
struct Expectation {
  bool answers = false;  // the test plays its node: it must end Ready and wired
};

class StoreFaults : public OperatorFixture {
 protected:
  World world() {
    const auto listed = inNs({"get",
                              "secrets,configmaps,services,statefulsets.apps,"
                              "networkpolicies.networking.k8s.io,deployments.apps,"
                              "sessionstores.sessionstore.io",
                              "-o", "json"});
    if (!listed.ok()) throw std::runtime_error(listed.describe());
    World out;
    const Json items = Json::parse(listed.out)["items"];
    for (const auto& item : items) {
      out.objects[item.value("kind", "") + "/" + item["metadata"].value("name", "")] = item;
    }
    return out;
  }

  // The objects the operator writes for a managed store, by kind and name (operator/reconcile:
  // the password Secret, then desired.cpp's list; the connection Secret once wired).
  static std::vector<std::pair<std::string, std::string>> children(const std::string& store,
                                                                   bool wired) {
    std::vector<std::pair<std::string, std::string>> out = {
        {"Secret", store + "-redis-auth"}, {"ConfigMap", store + "-redis-config"},
        {"Service", store + "-redis"},     {"Service", store + "-redis-headless"},
        {"StatefulSet", store + "-redis"}, {"NetworkPolicy", store + "-redis"}};
    if (wired) out.emplace_back("Secret", store + "-session-store");
    return out;
  }

  static bool controlledBy(const Json& object, const std::string& uid) {
    const Json owners = object["metadata"].value("ownerReferences", Json::array());
    for (const auto& owner : owners) {
      if (owner.value("uid", "") == uid && owner.value("controller", false)) return true;
    }
    return false;
  }

  static std::string conditionStatus(const Json& store, const std::string& type) {
    const auto condition = conditionOf(store, type);
    return condition ? condition->value("status", "") : "";
  }

  // Whether the Deployment reads the store's connection Secret and carries the hash.
  static bool wiredTo(const Json& deployment, const std::string& store) {
    const Json& podTemplate = deployment["spec"]["template"];
    const Json annotations = podTemplate["metadata"].value("annotations", Json::object());
    if (annotations.value("sessionstore.io/connection-hash", "").empty()) return false;
    const Json containers = podTemplate["spec"]["containers"];
    for (const auto& container : containers) {
      const Json env = container.value("env", Json::array());
      for (const auto& e : env) {
        if (e.value("name", "") == "REDIS_URL" && e.contains("valueFrom") &&
            e["valueFrom"]["secretKeyRef"].value("name", "") == store + "-session-store") {
          return true;
        }
      }
    }
    return false;
  }

  // "" when `name` is converged as `expected` says, else what is missing.
  static std::string whyNot(const World& world, const std::string& name,
                            const Expectation& expected) {
    const Json* store = world.find("SessionStore", name);
    if (store == nullptr) return name + ": no SessionStore";
    const std::string uid = (*store)["metadata"].value("uid", "");
    const Json status = store->value("status", Json::object());
    if (status.value("observedGeneration", -1) != (*store)["metadata"].value("generation", -2)) {
      return name + ": status.observedGeneration is not current";
    }
    for (const auto& [kind, child] : children(name, expected.answers)) {
      const Json* object = world.find(kind, child);
      if (object == nullptr) return name + ": no " + kind + " " + child;
      if (!controlledBy(*object, uid)) return name + ": " + kind + " " + child + " not owned";
    }
    const std::string phase = status.value("phase", "");
    if (expected.answers) {
      if (phase != "Ready") return name + ": phase " + phase + ", not Ready";
      const std::string target = (*store)["spec"]["target"].value("deployment", "");
      const Json* deployment = world.find("Deployment", target);
      if (deployment == nullptr || !wiredTo(*deployment, name)) {
        return name + ": Deployment " + target + " not wired";
      }
    } else {
      if (phase != "Provisioning") return name + ": phase " + phase + ", not Provisioning";
      if (conditionStatus(*store, "StoreReady") != "False" ||
          conditionStatus(*store, "ConnectionWired") != "False") {
        return name + ": StoreReady/ConnectionWired not False while no Redis answers";
      }
      if (world.find("Secret", name + "-session-store") != nullptr) {
        return name + ": a connection Secret for a store that never answered";
      }
    }
    return "";
  }

  // "" when the deleted store `name` is gone with everything it owned, else what is left.
  static std::string whyNotGone(const World& world, const std::string& name) {
    if (world.find("SessionStore", name) != nullptr) return name + ": deleted, still there";
    for (const auto& [key, object] : world.objects) {
      const Json& metadata = object["metadata"];
      const Json labels = metadata.value("labels", Json::object());
      if (labels.value("app.kubernetes.io/managed-by", "") == "sessionstore-operator" &&
          labels.value("sessionstore.io/name", "") == name) {
        return key + " outlives its deleted SessionStore " + name;
      }
      const Json owners = metadata.value("ownerReferences", Json::array());
      for (const auto& owner : owners) {
        if (owner.value("kind", "") == "SessionStore" && owner.value("name", "") == name) {
          return key + " outlives its deleted SessionStore " + name;
        }
      }
    }
    return "";
  }

  // The stores the test plays the node for: started as soon as the operator made their
  // StatefulSet (a pod exists only then) and config.
  void playWhenConfigured(const World& world, const std::map<std::string, Expectation>& expected,
                          std::set<std::string>& played) {
    for (const auto& [name, e] : expected) {
      if (!e.answers || played.contains(name)) continue;
      if (world.find("StatefulSet", name + "-redis") == nullptr ||
          world.find("ConfigMap", name + "-redis-config") == nullptr) {
        continue;
      }
      playNode(name);
      played.insert(name);
    }
  }

  // Waits until every store is converged; plays the answering ones' nodes on the way. Returns
  // what is still missing ("" when converged) and the last World seen.
  std::string waitConverged(const std::map<std::string, Expectation>& expected,
                            std::set<std::string>& played, std::chrono::seconds timeout,
                            World& last) {
    std::string missing;
    eventually(
        [&] {
          last = world();
          playWhenConfigured(last, expected, played);
          missing.clear();
          for (const auto& [name, e] : expected) {
            missing = whyNot(last, name, e);
            if (!missing.empty()) return false;
          }
          for (const auto& name : deleted_) {
            missing = whyNotGone(last, name);
            if (!missing.empty()) return false;
          }
          return true;
        },
        timeout, std::chrono::milliseconds(1000));
    return missing;
  }

  static int fullyWritten(const World& world, const std::map<std::string, Expectation>& expected) {
    int done = 0;
    for (const auto& [name, e] : expected) done += whyNot(world, name, e).empty() ? 1 : 0;
    return done;
  }

  // No duplicate, no orphan: every object that names a SessionStore as its owner or says the
  // operator manages it is one of the expected children of a living store, controlled by it and
  // by nothing else, and each store has exactly its children. Returns how many were checked.
  int expectOneOfEachOwned(const World& world, const std::map<std::string, Expectation>& expected) {
    std::map<std::string, std::string> uids;              // living stores
    std::map<std::string, std::set<std::string>> wanted;  // store -> "Kind/name"
    for (const auto& [key, object] : world.objects) {
      if (object.value("kind", "") != "SessionStore") continue;
      const std::string name = object["metadata"].value("name", "");
      uids[name] = object["metadata"].value("uid", "");
      const auto e = expected.find(name);
      for (const auto& [kind, child] : children(name, e != expected.end() && e->second.answers)) {
        wanted[name].insert(kind + "/" + child);
      }
    }
    EXPECT_EQ(uids.size(), expected.size()) << "SessionStores in the namespace";
    std::map<std::string, int> found;
    int checked = 0;
    for (const auto& [key, object] : world.objects) {
      const Json& metadata = object["metadata"];
      const Json labels = metadata.value("labels", Json::object());
      const Json owners = metadata.value("ownerReferences", Json::array());
      std::vector<Json> storeOwners;
      for (const auto& owner : owners) {
        if (owner.value("kind", "") == "SessionStore") storeOwners.push_back(owner);
      }
      const bool managed =
          labels.value("app.kubernetes.io/managed-by", "") == "sessionstore-operator";
      if (!managed && storeOwners.empty()) continue;
      ++checked;
      EXPECT_EQ(storeOwners.size(), 1u) << key << ": owners " << owners.dump();
      const std::string owner = storeOwners.empty() ? labels.value("sessionstore.io/name", "")
                                                    : storeOwners[0].value("name", "");
      if (!uids.contains(owner)) {
        ADD_FAILURE() << key << " is an orphan: its SessionStore " << owner << " does not exist";
        continue;
      }
      EXPECT_TRUE(controlledBy(object, uids[owner])) << key << ": not controlled by " << owner;
      EXPECT_TRUE(wanted[owner].contains(key))
          << key << ": an object the operator should not have written for " << owner;
      ++found[owner];
    }
    for (const auto& [name, children] : wanted) {
      EXPECT_EQ(found[name], static_cast<int>(children.size()))
          << name << ": not exactly one of each child";
    }
    return checked;
  }

  // Password and connection Secrets as first seen, by name: they must never change.
  // Returns how many comparisons with an earlier sighting were made.
  static int notePasswords(const World& world, std::map<std::string, std::string>& first) {
    int compared = 0;
    for (const auto& [key, object] : world.objects) {
      if (!key.starts_with("Secret/")) continue;
      if (!key.ends_with("-redis-auth") && !key.ends_with("-session-store")) continue;
      const std::string seen = crypto::sha256Hex(object.value("data", Json::object()).dump());
      const auto [it, fresh] = first.emplace(key, seen);
      if (!fresh) {
        ++compared;
        EXPECT_EQ(it->second, seen) << key << ": the password was regenerated";
      }
    }
    return compared;
  }

  // One Redis command as the app (its user is limited to the key prefix), on the store the
  // test plays; "ok:<reply>" or the error.
  std::string asApp(const std::string& store, const std::vector<std::string>& command) {
    const Json connection = mustGet("secret", store + "-session-store");
    auto session = redisclient::Session::open({.host = "127.0.0.1",
                                               .port = stores_.at(ns_ + "/" + store)->port(),
                                               .username = "app",
                                               .password = decode(connection, "REDIS_PASSWORD")});
    if (!session) return "no session: " + session.error();
    auto reply = (*session)->command(command);
    return reply ? "ok:" + *reply : reply.error();
  }

  // Stores made Ready before the faults, a key written into each: read back after them, with
  // the Deployment's pod template unchanged.
  struct Sample {
    std::string name;
    Json podTemplate;
  };
  std::vector<Sample> readySamples(const std::string& prefix, int count,
                                   std::map<std::string, Expectation>& expected) {
    std::vector<Sample> out;
    for (int i = 0; i < count; ++i) {
      const std::string name = prefix + std::to_string(i);
      readyStore(name);
      EXPECT_EQ(asApp(name, {"SET", ns_ + ":" + name + ":session-1", "alice-" + name}), "ok:OK");
      expected[name] = {.answers = true};
      out.push_back({name, mustGet("deployment", name)["spec"]["template"]});
    }
    return out;
  }
  // Returns how many keys were read back.
  int expectSamplesKept(const std::vector<Sample>& samples) {
    int read = 0;
    for (const auto& sample : samples) {
      EXPECT_EQ(asApp(sample.name, {"GET", ns_ + ":" + sample.name + ":session-1"}),
                "ok:alice-" + sample.name)
          << sample.name << ": the key written before the faults";
      EXPECT_EQ(mustGet("deployment", sample.name)["spec"]["template"], sample.podTemplate)
          << sample.name << ": the Deployment's pod template changed";
      ++read;
    }
    return read;
  }

  // SessionStores <prefix><from> to <prefix><to - 1> in one apply: those numbered below
  // `answering` get a Deployment and Service of their own (the test plays their node), the rest
  // share the target `app` and never answer.
  void applyStores(const std::string& prefix, int from, int to, int answering,
                   std::map<std::string, Expectation>& expected) {
    std::string yaml = deploymentYaml("app") + "---\n" + serviceYaml("app");
    for (int i = from; i < to; ++i) {
      const std::string name = prefix + std::to_string(i);
      const bool answers = i < answering;
      if (answers) yaml += "---\n" + deploymentYaml(name) + "---\n" + serviceYaml(name);
      yaml += "---\n" + managedStoreYaml(name, answers ? name : "app");
      expected[name] = {.answers = answers};
    }
    apply(yaml);
  }

  // No password of this namespace's Secrets in `text` (a replica's log). Returns how many
  // passwords were looked for.
  int expectNoPasswordIn(const std::string& text, const std::string& what) {
    int passwords = 0;
    for (const auto& [key, object] : world().objects) {
      if (!key.starts_with("Secret/")) continue;
      const Json data = object.value("data", Json::object());
      for (const auto& [field, value] : data.items()) {
        if (field.find("password") == std::string::npos && field != "REDIS_PASSWORD") continue;
        const auto password = crypto::base64Decode(value.get<std::string>());
        if (!password || password->size() < 20) continue;
        ++passwords;
        EXPECT_EQ(text.find(*password), std::string::npos) << "a password is in " << what;
      }
    }
    return passwords;
  }

  // Deletes a SessionStore without waiting: its finalizer and the garbage collection of what
  // it owned are work left for the operator and the cluster.
  void deleteStore(const std::string& name, std::map<std::string, Expectation>& expected) {
    const auto result = inNs({"delete", "sessionstore", name, "--wait=false"});
    ASSERT_TRUE(result.ok()) << result.describe();
    expected.erase(name);
    deleted_.insert(name);
  }
  std::set<std::string> deleted_;  // SessionStores the test deleted: nothing of theirs may stay

  static void killOperator() {
    operator_->signal(SIGKILL);
    const auto status = operator_->wait(std::chrono::seconds(10));
    EXPECT_EQ(status, std::optional<int>(128 + SIGKILL)) << "the operator did not die of SIGKILL";
    delete operator_;
    operator_ = nullptr;
  }
};

TEST_F(StoreFaults, StoresConvergeWhileTheOperatorIsKilledAtRandomMoments) {
  const int stores = longForm() ? 100 : 15;
  const int answering = longForm() ? 5 : 2;
  const int ready = longForm() ? 5 : 2;
  const int kills = longForm() ? 10 : 3;
  std::map<std::string, Expectation> expected;
  std::set<std::string> played;
  std::map<std::string, std::string> passwords;

  // Before the faults: Ready stores with data in them.
  const auto samples = readySamples("ready", ready, expected);
  for (const auto& sample : samples) played.insert(sample.name);
  notePasswords(world(), passwords);

  // The stores come in one batch per operator run, applied while the operator is down (the
  // first batch: while it runs), so that it starts on a backlog and every kill lands while work
  // is pending; every store then lives through the later kills too. A new store converges in
  // tens of milliseconds: the moments are drawn from the operator's first second.
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pause(0, longForm() ? 1000 : 600);
  std::vector<int> moments;
  std::vector<std::string> atKill;
  int compared = 0;
  int pendingAtKills = 0;
  applyStores("s", 0, stores / kills, answering, expected);
  for (int k = 0; k < kills; ++k) {
    // From the second batch on, one store of the previous batch was deleted with it: its
    // finalizer is pending work too.
    const int ms = pause(random);
    // The fault's schedule: a kill at a random moment, not a wait for anything.
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    operator_->signal(SIGKILL);
    moments.push_back(ms);
    // The world as the dead operator left it. Stores the test has not played yet wait for the
    // test, not for the operator: only the others count as the operator's pending work.
    const World w = world();
    compared += notePasswords(w, passwords);
    int pending = 0;
    for (const auto& [name, e] : expected) {
      if ((!e.answers || played.contains(name)) && !whyNot(w, name, e).empty()) ++pending;
    }
    pendingAtKills += pending;
    atKill.push_back(std::to_string(pending) + "/" + std::to_string(expected.size()));
    playWhenConfigured(w, expected, played);
    if (k + 1 < kills) {
      killOperator();
      applyStores("s", (k + 1) * stores / kills, (k + 2) * stores / kills, answering, expected);
      deleteStore("s" + std::to_string((k + 1) * stores / kills - 1), expected);
      startOperator();
    } else {
      killOperator();
      startOperator();
    }
  }
  std::cout << "[ kill   ] " << stores << " converging SessionStores (" << answering
            << " answering, the rest without Redis) in " << kills << " batches, " << deleted_.size()
            << " of them deleted during the kills, and " << ready
            << " Ready ones with a key; the operator SIGKILLed " << kills << " times, each "
            << milliseconds(moments) << " after its start and its batch's apply; stores of the "
            << "operator's still pending at each kill: ";
  for (const auto& s : atKill) std::cout << s << " ";
  std::cout << "\n";
  EXPECT_GT(pendingAtKills, 0) << "every kill came after the work was done: nothing was proved";

  World last;
  const std::string missing =
      waitConverged(expected, played, std::chrono::seconds(longForm() ? 420 : 150), last);
  ASSERT_EQ(missing, "") << tail(operator_->output(), 4000);
  compared += notePasswords(last, passwords);
  const int checked = expectOneOfEachOwned(last, expected);
  const int read = expectSamplesKept(samples);
  std::cout << "[ kill   ] converged: " << expected.size() << " stores, " << played.size()
            << " of them Ready and wired; the " << deleted_.size()
            << " deleted ones gone with all they owned; " << checked
            << " managed objects, one of each, each controlled by its store, no orphan; "
            << passwords.size() << " password/connection Secrets, " << compared
            << " comparisons with their first sighting, none changed; " << read
            << " keys written before the faults read back, those Deployments' pod templates "
               "unchanged\n";
  expectNoSecretLeaks();
}

TEST_F(StoreFaults, TheLeaderKilledWithWorkPendingTheOtherFinishesIt) {
  const int stores = longForm() ? 40 : 10;
  const int answering = longForm() ? 3 : 1;
  // The fixture's operator steps aside; two replicas elect a leader on a Lease.
  delete operator_;
  operator_ = nullptr;
  const auto replica = [&](const std::string& identity) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{
            OPERATOR_BINARY, "run", "--kubeconfig", kubeconfig(), "--identity", identity,
            "--leader-election-namespace", ns_, "--metrics-bind-address", "127.0.0.1:0",
            "--health-probe-bind-address", "127.0.0.1:0", "--store-address-map", addressMap_},
        plane_->dir() + "/" + ns_ + "-" + identity + ".log");
  };
  std::map<std::string, std::unique_ptr<ChildProcess>> replicas;
  replicas["replica-a"] = replica("replica-a");
  replicas["replica-b"] = replica("replica-b");
  const auto holder = [&] {
    return inNs({"get", "lease", "sessionstore-operator", "-o", "jsonpath={.spec.holderIdentity}"})
        .out;
  };
  ASSERT_TRUE(eventually([&] { return replicas.contains(holder()); })) << holder();
  const std::string leader = holder();
  const std::string successor = leader == "replica-a" ? "replica-b" : "replica-a";

  std::map<std::string, Expectation> expected;
  std::set<std::string> played;
  std::map<std::string, std::string> passwords;
  const auto samples = readySamples("ready", 1, expected);
  for (const auto& sample : samples) played.insert(sample.name);
  notePasswords(world(), passwords);

  applyStores("l", 0, stores, answering, expected);
  // Killed while the work is pending: as soon as the first new store's objects appear.
  ASSERT_TRUE(eventually([&] { return get("configmap", "l0-redis-config").has_value(); },
                         std::chrono::seconds(60), std::chrono::milliseconds(50)));
  replicas[leader]->signal(SIGKILL);
  const auto killedAt = std::chrono::steady_clock::now();
  EXPECT_EQ(replicas[leader]->wait(std::chrono::seconds(10)), std::optional<int>(128 + SIGKILL));
  const World atKill = world();
  int compared = notePasswords(atKill, passwords);
  const int done = fullyWritten(atKill, expected);
  ASSERT_LT(done, static_cast<int>(expected.size()))
      << "all the work was done before the leader was killed: the scenario proved nothing";
  playWhenConfigured(atKill, expected, played);

  ASSERT_TRUE(eventually([&] { return holder() == successor; }, std::chrono::seconds(60)))
      << "no replica took over the Lease from " << leader << ": " << holder();
  const auto tookOver =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - killedAt);
  World last;
  const std::string missing = waitConverged(expected, played, std::chrono::seconds(150), last);
  ASSERT_EQ(missing, "") << tail(replicas[successor]->output(), 4000);
  compared += notePasswords(last, passwords);
  const int checked = expectOneOfEachOwned(last, expected);
  const int read = expectSamplesKept(samples);
  // The successor did the rest: Events it reported for stores that were not done at the kill.
  std::set<std::string> finishedBySuccessor;
  const auto events = inNs({"get", "events.events.k8s.io", "-o", "json"});
  ASSERT_TRUE(events.ok()) << events.describe();
  const Json items = Json::parse(events.out)["items"];
  for (const auto& e : items) {
    const std::string name = e.value("regarding", Json::object()).value("name", "");
    if (e.value("reportingInstance", "") == successor && expected.contains(name) &&
        !whyNot(atKill, name, expected.at(name)).empty()) {
      finishedBySuccessor.insert(name);
    }
  }
  EXPECT_FALSE(finishedBySuccessor.empty())
      << "no Event from " << successor << " for a store left pending by " << leader;
  std::cout << "[ leader ] " << leader << " SIGKILLed with "
            << (static_cast<int>(expected.size()) - done) << " of " << expected.size()
            << " stores not converged; " << successor << " took the Lease after "
            << tookOver.count() << " s and finished them (its Events name "
            << finishedBySuccessor.size() << " of them): " << checked
            << " managed objects, one of each, owned, no orphan; " << passwords.size()
            << " password/connection Secrets, " << compared << " comparisons, none changed; "
            << read << " key read back, its pod template unchanged\n";
  int lookedFor = 0;  // the same passwords, looked for in each replica's log
  for (const auto& [identity, process] : replicas) {
    lookedFor = expectNoPasswordIn(process->output(), identity + "'s log");
  }
  EXPECT_GT(lookedFor, 0);
  std::cout << "[ leader ] " << lookedFor << " passwords looked for in each of the "
            << replicas.size() << " replicas' logs: none\n";
  replicas.clear();
  startOperator();
}

TEST_F(StoreFaults, TheStoresRedisKilledDegradesThenRecoversWithTheWiringUntouched) {
  const std::string data = plane_->dir() + "/" + ns_ + "-volume";
  std::filesystem::create_directories(data);
  apply(deploymentYaml("web"));
  apply(serviceYaml("web"));
  const std::string persistent = std::regex_replace(managedStoreYaml("web", "web"),
                                                    std::regex("persistence: \\{enabled: false\\}"),
                                                    "persistence: {enabled: true, size: 1Gi}");
  apply(persistent + "  affinity: {mode: UntilStoreReady}\n");

  // The test plays the node, with a data folder standing for the volume, so the Redis that
  // comes back (same port: the Service's address) finds what the killed one wrote (appendonly,
  // as the operator configures a persistent store).
  const auto startRedis = [&](int port) {
    Json config;
    EXPECT_TRUE(eventually([&] {
      if (!get("statefulset", "web-redis")) return false;
      auto object = get("configmap", "web-redis-config");
      if (object) config = *object;
      return object.has_value();
    }));
    EXPECT_NE(config["data"].value("redis.conf", "").find("appendonly yes"), std::string::npos);
    // The test's key must be on disk before the SIGKILL.
    auto server =
        startFromStoreConfig(config, data + ".acl", "", "\nappendfsync always\n", data, port);
    if (port == 0) {
      std::ofstream(addressMap_, std::ios::app)
          << "web-redis." << ns_ << ".svc:6379 127.0.0.1:" << server->port() << "\n";
    }
    return server;
  };
  auto redis = startRedis(0);
  const int port = redis->port();
  ASSERT_TRUE(eventually([&] { return phase("web") == "Ready"; })) << describeStore("web");
  ASSERT_TRUE(
      eventually([&] { return mustGet("service", "web")["spec"]["sessionAffinity"] == "None"; }));
  const Json connection = mustGet("secret", "web-session-store");
  const auto command = [&](const std::vector<std::string>& args) {
    auto session = redisclient::Session::open({.host = "127.0.0.1",
                                               .port = port,
                                               .username = "app",
                                               .password = decode(connection, "REDIS_PASSWORD")});
    if (!session) return std::string("no session: ") + session.error();
    auto reply = (*session)->command(args);
    return reply ? "ok:" + *reply : reply.error();
  };
  ASSERT_EQ(command({"SET", ns_ + ":web:session-1", "alice"}), "ok:OK");

  // The app's wiring, watched at every look from here on: the pod template (env, annotation),
  // the generation and what the operator owns of the Deployment must not move.
  const auto operatorFields = [](const Json& deployment) {
    const Json entries = deployment["metadata"].value("managedFields", Json::array());
    for (const auto& entry : entries) {
      if (entry.value("manager", "") == "sessionstore-operator") return entry;
    }
    return Json();
  };
  const auto deployment = [&] {  // with managedFields, which kubectl hides by default
    const auto got = inNs({"get", "deployment", "web", "-o", "json", "--show-managed-fields"});
    if (!got.ok()) throw std::runtime_error(got.describe());
    return Json::parse(got.out);
  };
  const Json deploymentBefore = deployment();
  ASSERT_TRUE(wiredTo(deploymentBefore, "web"));
  ASSERT_FALSE(operatorFields(deploymentBefore).is_null());
  int wiringLooks = 0;
  const auto wiringUntouched = [&] {
    const Json now = deployment();
    ++wiringLooks;
    EXPECT_EQ(now["spec"]["template"], deploymentBefore["spec"]["template"]);
    EXPECT_EQ(now["metadata"]["generation"], deploymentBefore["metadata"]["generation"]);
    EXPECT_EQ(operatorFields(now), operatorFields(deploymentBefore))
        << "the operator applied to the Deployment again";
    return now;
  };
  // Digests, to compare the Secrets' data without ever printing it.
  const std::string authBefore =
      crypto::sha256Hex(mustGet("secret", "web-redis-auth")["data"].dump());
  const std::string connectionBefore = crypto::sha256Hex(connection["data"].dump());
  const auto storeEvents = [&](const std::string& type, const std::string& reason) {
    const auto listed = inNs({"get", "events.events.k8s.io", "-o", "json"});
    if (!listed.ok()) throw std::runtime_error(listed.describe());
    const Json items = Json::parse(listed.out)["items"];
    int count = 0;
    for (const auto& e : items) {
      const Json regarding = e.value("regarding", Json::object());
      if (regarding.value("kind", "") == "SessionStore" && regarding.value("name", "") == "web" &&
          e.value("type", "") == type && e.value("reason", "") == reason) {
        ++count;
      }
    }
    return count;
  };

  // Redis dies. The operator finds out at its next probe (at the latest the 30 s resync).
  redis->kill();
  const auto killedAt = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] {
        wiringUntouched();
        return conditionIs("web", "StoreReady", "False");
      },
      std::chrono::seconds(90), std::chrono::milliseconds(500)))
      << describeStore("web");
  const auto noticedAfter =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - killedAt);
  EXPECT_TRUE(eventually([&] { return phase("web") == "Degraded"; })) << describeStore("web");
  EXPECT_TRUE(eventually([&] {
    return mustGet("service", "web")["spec"].value("sessionAffinity", "") == "ClientIP";
  })) << "UntilStoreReady: clients stay sticky while the store is down";
  const auto storeCondition = condition("web", "StoreReady");
  ASSERT_TRUE(storeCondition);
  const std::string reason = storeCondition->value("reason", "");
  EXPECT_TRUE(eventually([&] { return storeEvents("Warning", reason) > 0; }))
      << "no events.k8s.io Warning Event with reason " << reason;
  EXPECT_EQ(conditionStatus(mustGet("sessionstore", "web"), "ConnectionWired"), "True")
      << "the app keeps its wiring while the store is down";
  wiringUntouched();
  std::cout << "[ redis  ] SIGKILLed: StoreReady False (" << reason << ") after "
            << noticedAfter.count() << " s, phase Degraded, Service ClientIP, a Warning Event "
            << "(events.k8s.io) with reason " << reason << ", ConnectionWired still True\n";

  // Redis comes back on the same data and the same port.
  redis.reset();
  redis = startRedis(port);
  const auto restartedAt = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] {
        wiringUntouched();
        return phase("web") == "Ready";
      },
      std::chrono::seconds(90), std::chrono::milliseconds(500)))
      << describeStore("web");
  const auto recoveredAfter = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - restartedAt);
  EXPECT_TRUE(eventually([&] {
    return mustGet("service", "web")["spec"].value("sessionAffinity", "") == "None";
  })) << "affinity restored once the store answers";
  EXPECT_EQ(command({"GET", ns_ + ":web:session-1"}), "ok:alice")
      << "the key written before the crash";
  const Json deploymentAfter = wiringUntouched();
  EXPECT_EQ(crypto::sha256Hex(mustGet("secret", "web-redis-auth")["data"].dump()), authBefore);
  EXPECT_EQ(crypto::sha256Hex(mustGet("secret", "web-session-store")["data"].dump()),
            connectionBefore);
  const bool versionMoved = deploymentAfter["metadata"]["resourceVersion"] !=
                            deploymentBefore["metadata"]["resourceVersion"];
  std::cout << "[ redis  ] back on port " << port << " and the same data: Ready after "
            << recoveredAfter.count() << " s, Service None again, the key "
            << "written before the crash read back; the Deployment looked at " << wiringLooks
            << " times: pod template, generation and the operator's managed fields unchanged "
            << "(resourceVersion "
            << (versionMoved ? "moved: status written by the cluster" : "unchanged")
            << "); both Secrets unchanged\n";
  expectNoSecretLeaks();
}

}  // namespace
}  // namespace sessionstore::testing
