// Two sessionstore-operator processes against one kube-apiserver: exactly one leads; SIGKILL of
// the leader hands the Lease to the other once the lease expires as the other observed it;
// SIGTERM releases it, so the other takes over at its next try.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <set>
#include <sstream>

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

  // The Lease's spec, or {} while it cannot be read.
  nlohmann::json spec() {
    auto lease = client_->get(kube::resources::kLeases, "default", "sessionstore-operator");
    if (!lease) return nlohmann::json::object();
    return (*lease).value("spec", nlohmann::json::object());
  }
  // A MicroTime ("2026-12-05T07:48:24.123456Z") in seconds since the epoch.
  static double secondsOf(const std::string& microTime) {
    std::tm tm{};
    double seconds = 0;
    if (std::sscanf(microTime.c_str(), "%d-%d-%dT%d:%d:%lf", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &seconds) != 6) {
      ADD_FAILURE() << "not a MicroTime: \"" << microTime << "\"";
      return 0;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<double>(timegm(&tm)) + seconds;
  }

  std::string holder() {
    auto lease = client_->get(kube::resources::kLeases, "default", "sessionstore-operator");
    if (!lease) return "";
    return (*lease)["spec"].value("holderIdentity", "");
  }

  // Lines of `text` that hold both `first` and `second`.
  static int linesWith(const std::string& text, const std::string& first,
                       const std::string& second) {
    int n = 0;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(first) != std::string::npos && line.find(second) != std::string::npos) ++n;
    }
    return n;
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
  // b runs as a candidate for several of its retry periods and never leads: b has read the
  // Lease and found a holding it (its "new leader" line), and a has renewed it three times
  // since, each renew a retry period on which b found it held again.
  ASSERT_TRUE(eventually(
      [&] {
        return linesWith(b->output(), R"("msg":"new leader")", R"("leader":"replica-a")") >= 1;
      },
      std::chrono::seconds(30)))
      << b->output();
  std::set<std::string> renewals;
  ASSERT_TRUE(eventually(
      [&] {
        auto lease = client_->get(kube::resources::kLeases, "default", "sessionstore-operator");
        if (lease) renewals.insert((*lease)["spec"].value("renewTime", ""));
        return renewals.size() > 3;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(100)))
      << a->output();
  EXPECT_EQ(holder(), "replica-a");
  EXPECT_EQ(count(a->output(), R"("msg":"started leading")"), 1) << a->output();
  EXPECT_EQ(count(b->output(), R"("msg":"started leading")"), 0) << b->output();

  // SIGKILL: no release. b takes over once the lease has expired as b observed it: b saw a's
  // last renew no sooner than a wrote it and waits a lease duration from then, so the Lease b
  // writes says it was acquired at least a lease duration after a's last renewTime (both
  // stamped by this machine's clock). How soon is the elector's unit tests' to say, on a fake
  // clock; here it is printed.
  const auto killed = Clock::now();
  a->signal(SIGKILL);
  const auto aLastRenew = spec().value("renewTime", "");  // a renew still in flight comes later
  ASSERT_TRUE(eventually([&] { return holder() == "replica-b"; }, std::chrono::seconds(60),
                         std::chrono::milliseconds(100)))
      << b->output();
  const auto handover = Clock::now() - killed;
  std::printf("handover after SIGKILL: %.1f s (lease %lld s, retry %lld s)\n",
              std::chrono::duration<double>(handover).count(),
              static_cast<long long>(kLeaseDuration.count()),
              static_cast<long long>(kRetryPeriod.count()));
  const auto bAcquired = spec().value("acquireTime", "");
  EXPECT_GE(secondsOf(bAcquired) - secondsOf(aLastRenew), kLeaseDuration.count())
      << "b took a lease that had not expired: a renewed at " << aLastRenew << ", b acquired at "
      << bAcquired;
  // b writes the Lease, then logs that it leads.
  EXPECT_TRUE(eventually([&] { return count(b->output(), R"("msg":"started leading")") == 1; },
                         std::chrono::seconds(10)))
      << b->output();

  // SIGTERM: b stops its controllers, releases the lease and exits 0; a new replica c takes
  // over at its next try instead of waiting for the lease to expire: the Lease c writes says it
  // was acquired before a lease duration had passed since b's last renew (watched from before
  // the SIGTERM until c holds the Lease, often enough to see each of b's renews).
  auto c = startReplica("replica-c");
  ASSERT_TRUE(eventually([&] { return count(c->output(), R"("msg":"new leader")") >= 1; },
                         std::chrono::seconds(30)))
      << c->output();
  std::string bLastRenew;
  const auto watchB = [&] {
    const nlohmann::json held = spec();
    if (held.value("holderIdentity", "") == "replica-b") bLastRenew = held.value("renewTime", "");
    return held.value("holderIdentity", "") == "replica-c";
  };
  watchB();
  const auto terminated = Clock::now();
  b->signal(SIGTERM);
  eventually(
      [&] {
        watchB();  // b may renew while it stops
        return b->wait(std::chrono::milliseconds(0)).has_value();
      },
      std::chrono::seconds(20), std::chrono::milliseconds(100));
  const auto exit = b->wait(std::chrono::milliseconds(0));
  ASSERT_TRUE(exit.has_value()) << "replica-b did not exit after SIGTERM";
  EXPECT_EQ(*exit, 0) << b->output();
  ASSERT_TRUE(eventually(watchB, std::chrono::seconds(30), std::chrono::milliseconds(100)))
      << c->output();
  const auto release = Clock::now() - terminated;
  std::printf("handover after SIGTERM: %.1f s\n", std::chrono::duration<double>(release).count());
  const auto cAcquired = spec().value("acquireTime", "");
  ASSERT_FALSE(bLastRenew.empty());
  EXPECT_LT(secondsOf(cAcquired) - secondsOf(bLastRenew), kLeaseDuration.count())
      << "c waited for the lease to expire: b renewed at " << bLastRenew << ", c acquired at "
      << cAcquired;
  EXPECT_NE(b->output().find(R"("msg":"stopped leading")"), std::string::npos) << b->output();
}

}  // namespace
}  // namespace sessionstore::testing
