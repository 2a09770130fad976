// Password rotation (issue 18's rotation test), end to end: the operator binary against a real
// API server with the controller-manager and kwok (the app's Deployment really rolls: a new
// ReplicaSet, new pods with the new connection hash, made Ready by kwok), and a real redis-server
// played from the store's own ConfigMap, reached through --store-address-map. The operator adds
// and removes the app's passwords in that very Redis (ACL SETUSER as its monitor user).
//
// The client plays the app: it authenticates as the app user with whatever password the
// connection Secret holds now (re-read as a new pod of the app would read it), opening a new
// connection (a new AUTH) every few commands, through the whole rotation and its rollout. Nothing
// here asserts how long anything took; the bounds are generous.
#include <atomic>
#include <cstdint>

#include "operator_fixture.h"

namespace sessionstore::testing {
namespace {

constexpr const char* kAnnotation = "sessionstore.io/rotate-password";

class RotationIntegration : public OperatorFixture {
 protected:
  // A user of the test's own (INFO is no app command) that reads the server's run_id.
  static constexpr const char* kTesterAcl = "user tester on >tester-password ~* &* +@all";
  static std::string runIdOf(int port) {
    auto session = redisclient::Session::open(
        {.host = "127.0.0.1", .port = port, .username = "tester", .password = "tester-password"});
    if (!session) throw std::runtime_error("tester: " + session.error());
    auto info = (*session)->info();
    if (!info) throw std::runtime_error("INFO: " + info.error());
    return info->at("run_id");
  }
  std::string connectionPassword(const std::string& store) {
    return decode(mustGet("secret", store + "-session-store"), "REDIS_PASSWORD");
  }
  Json rotation(const std::string& store) {
    const Json status = mustGet("sessionstore", store).value("status", Json::object());
    return status.value("store", Json::object()).value("passwordRotation", Json::object());
  }
  std::string eventReasons() {
    const auto events = inNs({"get", "events.events.k8s.io", "-o", "json"});
    std::string reasons;
    if (!events.ok()) return reasons;
    const Json items = Json::parse(events.out)["items"];
    for (const auto& e : items) reasons += e.value("reason", "") + "\n";
    return reasons;
  }
  std::expected<std::unique_ptr<redisclient::Session>, std::string> asApp(
      int port, const std::string& password) {
    return redisclient::Session::open(
        {.host = "127.0.0.1", .port = port, .username = "app", .password = password});
  }
};

TEST_F(RotationIntegration, NoFailedAuthDuringARotationAndTheOldPasswordIsRefusedAfter) {
  apply(deploymentYaml("rot"));
  apply(serviceYaml("rot"));
  apply(managedStoreYaml("rot", "rot"));
  RedisServer& redis = playNode("rot", kTesterAcl);
  ASSERT_TRUE(eventually([&] { return phase("rot") == "Ready"; }, 120s)) << describeStore("rot");
  const std::string oldPassword = connectionPassword("rot");
  const std::string hashBefore = hashOf("rot");
  const Json stsBefore = mustGet("statefulset", "rot-redis");
  const std::string configHashBefore =
      stsBefore["spec"]["template"]["metadata"]["annotations"].value("sessionstore.io/config-hash",
                                                                     "");
  const std::string runId = runIdOf(redis.port());

  // The app: a new connection every 20 commands with the password of the connection Secret,
  // re-read every 100 commands.
  std::atomic<bool> stop{false};
  std::atomic<long> commands{0}, authFailures{0}, commandFailures{0};
  std::string lastError;  // written by the client thread only until it is joined
  std::thread client([&] {
    std::string password = oldPassword;
    std::unique_ptr<redisclient::Session> session;
    for (long i = 0; !stop || commands < 10000; ++i) {
      if (i % 100 == 0) {
        try {
          password = connectionPassword("rot");
        } catch (const std::exception&) {
          // a failed kubectl: keep the password this pod has
        }
      }
      if (i % 20 == 0 || !session) {
        auto opened = asApp(redis.port(), password);
        if (!opened) {
          ++authFailures;
          lastError = opened.error().substr(0, 120);
          session.reset();
          continue;
        }
        session = std::move(*opened);
      }
      const auto set =
          session->command({"SET", ns_ + ":rot:key-" + std::to_string(i % 500), "v", "EX", "600"});
      ++commands;
      if (!set) {
        ++commandFailures;
        lastError = set.error().substr(0, 120);
        session.reset();
      }
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Join() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } joinAtTheEnd{stop, client};

  // Some commands before the rotation is asked for.
  ASSERT_TRUE(eventually([&] { return commands > 1000; }, 120s));
  inNs({"annotate", "sessionstore", "rot", std::string(kAnnotation) + "=first", "--overwrite"});
  ASSERT_TRUE(eventually(
      [&] {
        const Json r = rotation("rot");
        return r.value("requested", "") == "first" && r.value("phase", "") == "Completed";
      },
      300s))
      << describeStore("rot") << "\n"
      << rotation("rot").dump(1);
  stop = true;
  client.join();

  EXPECT_GE(commands.load(), 10000);
  EXPECT_EQ(authFailures.load(), 0) << lastError;
  EXPECT_EQ(commandFailures.load(), 0) << lastError;

  // The app runs with a new password; Redis refuses the old one now and accepts the new one.
  const std::string newPassword = connectionPassword("rot");
  EXPECT_NE(newPassword, oldPassword);
  EXPECT_NE(hashOf("rot"), hashBefore) << "the app rolled";
  auto refused = asApp(redis.port(), oldPassword);
  ASSERT_FALSE(refused) << "the old password is still accepted";
  EXPECT_NE(refused.error().find("WRONGPASS"), std::string::npos) << refused.error();
  auto accepted = asApp(redis.port(), newPassword);
  ASSERT_TRUE(accepted) << accepted.error();
  EXPECT_EQ(runIdOf(redis.port()), runId) << "Redis was not restarted";

  // The auth Secret and users.acl hold the new password alone; Redis's pod template did not move.
  const Json auth = mustGet("secret", "rot-redis-auth");
  EXPECT_EQ(decode(auth, "app-password"), newPassword);
  EXPECT_FALSE(auth["data"].contains("previous-app-password")) << auth["data"].dump();
  const std::string acl = mustGet("configmap", "rot-redis-config")["data"].value("users.acl", "");
  EXPECT_NE(acl.find("#" + crypto::sha256Hex(newPassword)), std::string::npos) << acl;
  EXPECT_EQ(acl.find("#" + crypto::sha256Hex(oldPassword)), std::string::npos) << acl;
  EXPECT_EQ(
      mustGet("statefulset", "rot-redis")["spec"]["template"]["metadata"]["annotations"].value(
          "sessionstore.io/config-hash", ""),
      configHashBefore);
  EXPECT_FALSE(rotation("rot").value("completedAt", "").empty());
  std::string reasons;
  EXPECT_TRUE(eventually([&] {
    reasons = eventReasons();
    return reasons.find("RotationStarted") != std::string::npos &&
           reasons.find("RotationCompleted") != std::string::npos;
  })) << reasons;
  EXPECT_EQ(reasons.find("RotationFailed"), std::string::npos) << reasons;
  expectNoSecretLeaks();
  const auto explained = kubectl({"explain", "sessionstore.status.store.passwordRotation"});
  ASSERT_TRUE(explained.ok()) << explained.describe();
  for (const char* field : {"requested", "phase", "startedAt", "completedAt", "message",
                            "sessionstore.io/rotate-password"}) {
    EXPECT_NE(explained.out.find(field), std::string::npos) << explained.out;
  }
}

TEST_F(RotationIntegration, ADeletedAuthSecretComesBackWithThePasswordsRedisAccepts) {
  apply(deploymentYaml("lost"));
  apply(serviceYaml("lost"));
  apply(managedStoreYaml("lost", "lost"));
  RedisServer& redis = playNode("lost");
  ASSERT_TRUE(eventually([&] { return phase("lost") == "Ready"; }, 120s)) << describeStore("lost");
  const Json before = mustGet("secret", "lost-redis-auth");
  const std::string appPassword = connectionPassword("lost");
  const std::string hashBefore = hashOf("lost");

  const auto deleted = inNs({"delete", "secret", "lost-redis-auth"});
  ASSERT_TRUE(deleted.ok()) << deleted.describe();
  std::optional<Json> after;
  ASSERT_TRUE(eventually(
      [&] {
        after = get("secret", "lost-redis-auth");
        return after &&
               (*after)["metadata"].value("uid", "") != before["metadata"].value("uid", "");
      },
      120s))
      << describeStore("lost");
  // Recovered, not new: the app password is the connection's, the monitor password the link's.
  EXPECT_EQ(decode(*after, "app-password"), appPassword);
  EXPECT_EQ(decode(*after, "monitor-password"), decode(before, "monitor-password"));
  // The app's URL keeps working, nothing rolled, and the store stays Ready.
  auto app = asApp(redis.port(), appPassword);
  ASSERT_TRUE(app) << app.error();
  EXPECT_EQ(connectionPassword("lost"), appPassword);
  EXPECT_EQ(hashOf("lost"), hashBefore);
  EXPECT_EQ(phase("lost"), "Ready") << describeStore("lost");
  std::string reasons;
  EXPECT_TRUE(eventually([&] {
    reasons = eventReasons();
    return reasons.find("PasswordsRecovered") != std::string::npos;
  })) << reasons;
  expectNoSecretLeaks();
}

}  // namespace
}  // namespace sessionstore::testing
