// Two sessionstore-operator processes against one kube-apiserver: exactly one leads; SIGKILL of
// the leader hands the Lease to the other once the lease expires as the other observed it;
// SIGTERM releases it, so the other takes over at its next try.
#include <gtest/gtest.h>

#include <csignal>

#include "control_plane.h"
#include "eventually.h"
#include "kube/config.h"
#include "kube/rest_client.h"

namespace sessionstore::testing {
namespace {

using Clock = std::chrono::steady_clock;

// client-go's defaults, which the operator uses.
constexpr auto kLeaseDuration = std::chrono::seconds(15);
constexpr auto kRetryPeriod = std::chrono::seconds(2);
constexpr double kJitterFactor = 1.2;

class LeaderElection : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_THROW(plane_ = ControlPlane::start(Profile::kApiServer));
    auto config = kube::loadKubeconfig(plane_->kubeconfig());
    ASSERT_TRUE(config) << config.error().describe();
    auto client = kube::RestClient::connect(*config);
    ASSERT_TRUE(client);
    client_ = std::move(*client);
  }

  // The operator refuses to start without the SessionStore CRD (see below).
  void installCrd() {
    const auto applied = plane_->kubectl({"apply", "-f", sourceDir() + "/crds/"});
    ASSERT_TRUE(applied.ok()) << applied.describe();
    const auto established = plane_->waitForCrd("sessionstores.sessionstore.io");
    ASSERT_TRUE(established.ok()) << established.describe();
  }

  std::unique_ptr<ChildProcess> startReplica(const std::string& identity) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{OPERATOR_BINARY, "run", "--kubeconfig", plane_->kubeconfig(),
                                 "--identity", identity, "--metrics-bind-address", "127.0.0.1:0",
                                 "--health-probe-bind-address", "127.0.0.1:0"},
        plane_->dir() + "/" + identity + ".log");
  }

  std::string holder() {
    auto lease = client_->get(kube::resources::kLeases, "default", "sessionstore-operator");
    if (!lease) return "";
    return (*lease)["spec"].value("holderIdentity", "");
  }

  static int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }

  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<kube::RestClient> client_;
};

TEST_F(LeaderElection, WithoutTheCrdTheOperatorExitsAndSaysHowToInstallIt) {
  auto replica = startReplica("no-crd");
  const auto code = replica->wait(std::chrono::seconds(60));  // it waits 30 s for the CRD
  ASSERT_TRUE(code.has_value()) << "still running without the CRD:\n" << replica->output();
  EXPECT_EQ(*code, 1);
  EXPECT_NE(replica->output().find("the SessionStore CRD is not installed"), std::string::npos)
      << replica->output();
  EXPECT_NE(replica->output().find("kubectl apply -f crds/"), std::string::npos);
}

TEST_F(LeaderElection, OneLeadsAndKillOrTerminateHandsOver) {
  ASSERT_NO_FATAL_FAILURE(installCrd());
  auto a = startReplica("replica-a");
  ASSERT_TRUE(eventually([&] { return holder() == "replica-a"; }, std::chrono::seconds(30)))
      << a->output();
  auto b = startReplica("replica-b");
  // b runs as a candidate for several of its retry periods and never leads.
  std::this_thread::sleep_for(3 * kRetryPeriod);
  EXPECT_EQ(holder(), "replica-a");
  EXPECT_EQ(count(a->output(), R"("msg":"started leading")"), 1) << a->output();
  EXPECT_EQ(count(b->output(), R"("msg":"started leading")"), 0) << b->output();

  // SIGKILL: no release. b takes over once the lease has expired as b observed it: at most a
  // lease duration after b last saw it renewed, plus b's next jittered try. b sees a renew at
  // most one jittered retry period after it happens.
  const auto killed = Clock::now();
  a->signal(SIGKILL);
  ASSERT_TRUE(eventually([&] { return holder() == "replica-b"; }, std::chrono::seconds(60),
                         std::chrono::milliseconds(100)))
      << b->output();
  const auto handover = Clock::now() - killed;
  const auto maxTry = std::chrono::duration<double>(kRetryPeriod) * (1 + kJitterFactor);
  const auto bound = std::chrono::duration<double>(kLeaseDuration) + 2 * maxTry;
  std::printf("handover after SIGKILL: %.1f s (lease %lld s, retry %lld s, bound %.1f s)\n",
              std::chrono::duration<double>(handover).count(),
              static_cast<long long>(kLeaseDuration.count()),
              static_cast<long long>(kRetryPeriod.count()), bound.count());
  EXPECT_GE(handover, kLeaseDuration - kRetryPeriod) << "b took a lease that had not expired";
  EXPECT_LE(std::chrono::duration<double>(handover), bound);
  // b writes the Lease, then logs that it leads.
  EXPECT_TRUE(eventually([&] { return count(b->output(), R"("msg":"started leading")") == 1; },
                         std::chrono::seconds(10)))
      << b->output();

  // SIGTERM: b stops its controllers, releases the lease and exits 0; a new replica c takes
  // over at its next try instead of waiting for the lease to expire.
  auto c = startReplica("replica-c");
  ASSERT_TRUE(eventually([&] { return count(c->output(), R"("msg":"new leader")") >= 1; },
                         std::chrono::seconds(30)))
      << c->output();
  const auto terminated = Clock::now();
  b->signal(SIGTERM);
  const auto exit = b->wait(std::chrono::seconds(20));
  ASSERT_TRUE(exit.has_value()) << "replica-b did not exit after SIGTERM";
  EXPECT_EQ(*exit, 0) << b->output();
  ASSERT_TRUE(eventually([&] { return holder() == "replica-c"; }, std::chrono::seconds(30),
                         std::chrono::milliseconds(100)))
      << c->output();
  const auto release = Clock::now() - terminated;
  std::printf("handover after SIGTERM: %.1f s\n", std::chrono::duration<double>(release).count());
  EXPECT_LE(std::chrono::duration<double>(release), maxTry + std::chrono::seconds(1));
  EXPECT_NE(b->output().find(R"("msg":"stopped leading")"), std::string::npos) << b->output();
}

}  // namespace
}  // namespace sessionstore::testing
