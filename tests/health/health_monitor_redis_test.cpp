// The health monitor against a real redis-server (kept connection, AUTH, the address map), with
// time on a fake clock: a killed store is told at its next probe, a store back at the faster
// interval, a forgotten store's connection is closed, new credentials reconnect.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

#include "api/conditions.h"
#include "health/health_monitor.h"
#include "mocks/clock/fake_clock.h"
#include "redisclient/redis_client.h"
#include "support/eventually.h"
#include "support/redis_server.h"
#include "support/test_ca.h"

namespace sessionstore::health {
namespace {

using namespace std::chrono_literals;
using sessionstore::testing::eventually;

constexpr const char* kAcl = R"(
user default off
user app on >app-password ~shop:web:* &* +@all -@admin -@dangerous
user monitor on >monitor-password ~* -@all +ping +info +client|list +config|get
maxclients 123
)";

class HealthMonitorOnRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_THROW(server_ = std::make_unique<testing::RedisServer>(kAcl));
    // The operator outside the cluster: the in-cluster address is mapped to the local server.
    mapPath_ = std::filesystem::temp_directory_path() /
               ("health-map-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::ofstream(mapPath_) << "web-redis.shop.svc:6379 127.0.0.1:" << server_->port() << "\n";
    auto map = AddressMap::open(mapPath_);
    ASSERT_TRUE(map) << map.error();
    HealthMonitorOptions options;
    options.threads = 1;
    monitor_ = std::make_unique<HealthMonitor>(
        redisLinks(*map, 1000ms),
        [this](const std::string& key) {
          std::lock_guard lock(mu_);
          changes_.push_back(key);
        },
        clock_, options);
  }
  void TearDown() override {
    monitor_.reset();
    std::filesystem::remove(mapPath_);
  }

  static wiring::StoreEndpoint app(const std::string& password = "app-password") {
    return {.host = "web-redis.shop.svc", .port = 6379, .username = "app", .password = password};
  }
  static wiring::StoreEndpoint monitor() {
    return {.host = "web-redis.shop.svc",
            .port = 6379,
            .username = "monitor",
            .password = "monitor-password"};
  }
  std::size_t changes() {
    std::lock_guard lock(mu_);
    return changes_.size();
  }
  // Clients connected to the server, counting the one that asks.
  int clients() {
    auto session = redisclient::Session::open({.host = "127.0.0.1",
                                               .port = server_->port(),
                                               .username = "monitor",
                                               .password = "monitor-password"});
    if (!session) return -1;
    auto list = (*session)->command({"CLIENT", "LIST"});
    if (!list) return -1;
    return static_cast<int>(std::count(list->begin(), list->end(), '\n'));
  }

  clock::FakeClock clock_;
  std::unique_ptr<testing::RedisServer> server_;
  std::filesystem::path mapPath_;
  std::unique_ptr<HealthMonitor> monitor_;
  std::mutex mu_;
  std::vector<std::string> changes_;  // GUARDED_BY(mu_)
};

TEST_F(HealthMonitorOnRedis, AKilledStoreIsToldAtItsNextProbeAndAStoreBackAtTheFasterOne) {
  const auto first = monitor_->check("shop/web", app(), monitor());
  ASSERT_TRUE(first.ok) << first.message;
  EXPECT_EQ(first.maxClients, 123);
  EXPECT_GE(first.connectedClients.value_or(0), 1);
  EXPECT_EQ(first.message.find("app-password"), std::string::npos);
  // One connection is kept: the asker's and the monitor's.
  ASSERT_TRUE(eventually([&] { return clients() == 2; }, 5s, 5ms)) << clients();
  monitor_->start();

  const int port = server_->port();
  server_->kill();
  clock_.advance(2s);
  ASSERT_TRUE(eventually([&] { return changes() == 1; }, 10s, 5ms));
  const auto down = monitor_->check("shop/web", app(), monitor());
  EXPECT_FALSE(down.ok);
  EXPECT_EQ(down.reason, api::kReasonStoreUnreachable);
  EXPECT_NE(down.message.find("web-redis.shop.svc:6379"), std::string::npos) << down.message;

  // Back at the same address: told at the next unhealthy-interval probe, after a new AUTH.
  ASSERT_NO_THROW(server_ = std::make_unique<testing::RedisServer>(kAcl, "", port));
  clock_.advance(500ms);
  ASSERT_TRUE(eventually([&] { return changes() == 2; }, 10s, 5ms));
  EXPECT_TRUE(monitor_->check("shop/web", app(), monitor()).ok);
  ASSERT_TRUE(eventually([&] { return clients() == 2; }, 5s, 5ms)) << clients();
}

TEST_F(HealthMonitorOnRedis, ForgetClosesTheKeptConnection) {
  ASSERT_TRUE(monitor_->check("shop/web", app(), monitor()).ok);
  ASSERT_TRUE(eventually([&] { return clients() == 2; }, 5s, 5ms)) << clients();
  monitor_->forget("shop/web");
  EXPECT_EQ(monitor_->watching(), 0u);
  ASSERT_TRUE(eventually([&] { return clients() == 1; }, 5s, 5ms)) << clients();
}

TEST_F(HealthMonitorOnRedis, ANewPasswordConnectsAgainAndAuthenticatesWithIt) {
  const auto refused = monitor_->check("shop/web", app("wrong"), std::nullopt);
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.reason, api::kReasonAuthenticationFailed);
  EXPECT_EQ(refused.message.find("wrong"), std::string::npos) << refused.message;
  const auto accepted = monitor_->check("shop/web", app(), std::nullopt);
  EXPECT_TRUE(accepted.ok) << accepted.message;
  // Without monitoring credentials the app's are tried for the figures: INFO is denied to the
  // app user, so they are left out, and health is unaffected.
  EXPECT_FALSE(accepted.connectedClients);
  ASSERT_TRUE(eventually([&] { return clients() == 2; }, 5s, 5ms)) << clients();
}

// A store's link over TLS, as the probe makes it: the name in the endpoint (mapped to the local
// TLS-only server) is the one verified, and each failure has the reason a user acts on.
TEST(StoreLinkOverTls, VerifiesTheNameInTheUrlAndSaysWhyItRefuses) {
  const sessionstore::testing::TestCa ca("health test CA");
  const sessionstore::testing::TestCa otherCa("another CA");
  const auto issued = ca.issue("web-redis.shop.svc", {"web-redis.shop.svc"}, {});
  const auto dir = std::filesystem::temp_directory_path() /
                   ("health-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  sessionstore::testing::writeTextFile(dir / "ca.crt", ca.certPem());
  sessionstore::testing::writeTextFile(dir / "tls.crt", issued.certPem);
  sessionstore::testing::writeTextFile(dir / "tls.key", issued.keyPem);
  const sessionstore::testing::RedisTlsFiles files{
      .certFile = dir / "tls.crt", .keyFile = dir / "tls.key", .caFile = dir / "ca.crt"};
  std::unique_ptr<sessionstore::testing::RedisServer> server;
  ASSERT_NO_THROW(server = std::make_unique<sessionstore::testing::RedisServer>(kAcl, "", 0, &files));
  std::ofstream(dir / "map") << "web-redis.shop.svc:6379 127.0.0.1:" << server->port() << "\n"
                             << "other.shop.svc:6379 127.0.0.1:" << server->port() << "\n";
  auto map = AddressMap::open(dir / "map");
  ASSERT_TRUE(map) << map.error();
  const auto links = redisLinks(*map, 1000ms);
  const auto probe = [&](wiring::StoreEndpoint e) { return links(e, std::nullopt)->ping(); };
  const wiring::StoreEndpoint base{.host = "web-redis.shop.svc",
                                   .port = 6379,
                                   .username = "app",
                                   .password = "app-password",
                                   .tls = true,
                                   .tlsCaPem = ca.certPem()};

  const auto ok = probe(base);
  EXPECT_TRUE(ok.ok) << ok.message;
  EXPECT_NE(ok.message.find("over TLS with the certificate verified"), std::string::npos)
      << ok.message;

  auto untrusted = base;
  untrusted.tlsCaPem = otherCa.certPem();
  const auto refusedCa = probe(untrusted);
  EXPECT_FALSE(refusedCa.ok);
  EXPECT_EQ(refusedCa.reason, api::kReasonTlsCertificateUntrusted) << refusedCa.message;

  auto otherHost = base;
  otherHost.host = "other.shop.svc";
  const auto refusedHost = probe(otherHost);
  EXPECT_FALSE(refusedHost.ok);
  EXPECT_EQ(refusedHost.reason, api::kReasonTlsHostMismatch) << refusedHost.message;
  EXPECT_NE(refusedHost.message.find("does not match host other.shop.svc"), std::string::npos)
      << refusedHost.message;
  otherHost.tlsServerName = "web-redis.shop.svc";  // spec.store.external.tls.serverName
  EXPECT_TRUE(probe(otherHost).ok);

  auto pastDatabases = base;
  pastDatabases.database = 16;
  const auto refusedDb = probe(pastDatabases);
  EXPECT_FALSE(refusedDb.ok);
  EXPECT_EQ(refusedDb.reason, api::kReasonDatabaseUnavailable) << refusedDb.message;

  auto insecure = base;
  insecure.tlsCaPem = "";
  insecure.tlsInsecureSkipVerify = true;
  const auto unverified = probe(insecure);
  EXPECT_TRUE(unverified.ok) << unverified.message;
  EXPECT_NE(unverified.message.find("WITHOUT certificate verification"), std::string::npos)
      << unverified.message;
  for (const auto* result : {&ok, &refusedCa, &refusedHost, &refusedDb, &unverified}) {
    EXPECT_EQ(result->message.find("app-password"), std::string::npos) << result->message;
  }
  server.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sessionstore::health
