// The store probe: URL parsing and INFO parsing without a server, and every call against a real
// redis-server with ACL users like the operator's (a default user off, an app user limited to
// its key prefix, a read-only monitoring user).
#include "redisclient/redis_client.h"

#include <gtest/gtest.h>

#include "redis_server.h"

namespace sessionstore::redisclient {
namespace {

TEST(RedisUrl, ParsesEveryPart) {
  auto e = parseRedisUrl("redis://app:p%40ss%2Fw@web-redis.shop.svc:6380/0");
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ(e->host, "web-redis.shop.svc");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->username, "app");
  EXPECT_EQ(e->password, "p@ss/w");
  EXPECT_FALSE(e->tls);
  e = parseRedisUrl("rediss://:secret@[fd00::1]");
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ(e->host, "fd00::1");
  EXPECT_EQ(e->port, 6379);
  EXPECT_EQ(e->username, "");
  EXPECT_EQ(e->password, "secret");
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(parseRedisUrl("redis://cache")->port, 6379);
}

TEST(RedisUrl, SaysWhatIsWrongWithoutRepeatingThePassword) {
  const std::pair<std::string, const char*> cases[] = {
      {"http://cache:6379", "must start with redis:// or rediss://"},
      {"redis://:pw@", "has no host"},
      {"redis://u:hunter2@cache:99999", "port must be a number from 1 to 65535"},
      {"redis://u:hunter2@cache:6379/db", "database after the host must be a number"},
      {"redis://u:%zz@cache", "not percent-encoded properly"},
      {"redis://[fd00::1:6379", "closing ]"},
      {"redis://u:hunter2@cache\n.example:6379", "the host may only hold"},
      {"redis://u:hunter2@cache example:6379", "the host may only hold"},
      {"redis://u:hunter2@" + std::string(254, 'h') + ":6379", "longer than 253 characters"},
      {"", "must start with"}};
  for (const auto& [url, message] : cases) {
    auto e = parseRedisUrl(url);
    ASSERT_FALSE(e) << url;
    EXPECT_NE(e.error().find(message), std::string::npos) << url << ": " << e.error();
    EXPECT_EQ(e.error().find("hunter2"), std::string::npos) << e.error();
  }
}

TEST(Info, ParsesFieldsAndSkipsSections) {
  const auto fields = parseInfo(
      "# Clients\r\nconnected_clients:12\r\n\r\n# Memory\r\nused_memory:1048576\r\n"
      "db0:keys=3,expires=0\r\nnot a field\r\n:x\r\n");
  EXPECT_EQ(fields.at("connected_clients"), "12");
  EXPECT_EQ(fields.at("used_memory"), "1048576");
  EXPECT_EQ(fields.at("db0"), "keys=3,expires=0");
  EXPECT_EQ(fields.size(), 3u);
  EXPECT_TRUE(parseInfo("").empty());
}

TEST(PrefixPattern, EscapesGlobCharacters) {
  EXPECT_EQ(prefixPattern("shop:web:"), "shop:web:*");
  EXPECT_EQ(prefixPattern("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\*");
}

constexpr const char* kAcl = R"(
user default off
user app on >app-password ~shop:web:* &* +@all -@admin -@dangerous
user monitor on >monitor-password ~* -@all +ping +info +scan +config|get
user nocfg on >nocfg-password ~* -@all +ping
maxclients 123
)";

class StoreProbeOnRedis : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_THROW(server_ = std::make_unique<testing::RedisServer>(kAcl)); }
  Endpoint as(const std::string& user, const std::string& password) const {
    return Endpoint{
        .host = "127.0.0.1", .port = server_->port(), .username = user, .password = password};
  }
  std::unique_ptr<testing::RedisServer> server_;
};

TEST_F(StoreProbeOnRedis, AuthenticatesPingsAndReadsInfo) {
  auto app = Session::open(as("app", "app-password"));
  ASSERT_TRUE(app) << app.error();
  EXPECT_TRUE((*app)->ping());
  // INFO is a dangerous command: the app user may not, the monitoring user may.
  auto denied = (*app)->info();
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().find("NOPERM"), std::string::npos) << denied.error();
  EXPECT_TRUE((*app)->usable());  // a refusal leaves the connection usable
  EXPECT_TRUE((*app)->ping());
  auto monitor = Session::open(as("monitor", "monitor-password"));
  ASSERT_TRUE(monitor) << monitor.error();
  auto info = (*monitor)->info();
  ASSERT_TRUE(info) << info.error();
  EXPECT_GE(std::stoi(info->at("connected_clients")), 1);
  EXPECT_TRUE(info->contains("used_memory"));
}

TEST_F(StoreProbeOnRedis, AWrongPasswordOrADisabledUserIsRefusedWithoutEchoingIt) {
  auto wrong = Session::open(as("app", "not-the-password"));
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().find("AUTH: WRONGPASS"), std::string::npos) << wrong.error();
  EXPECT_EQ(wrong.error().find("not-the-password"), std::string::npos);
  auto anonymous = Session::open(as("", ""));
  ASSERT_TRUE(anonymous);  // connecting needs no AUTH, but the default user is off:
  auto ping = (*anonymous)->ping();
  ASSERT_FALSE(ping);
  EXPECT_NE(ping.error().find("NOAUTH"), std::string::npos) << ping.error();
}

TEST_F(StoreProbeOnRedis, CountsOnlyTheKeysUnderThePrefixWithScan) {
  auto app = Session::open(as("app", "app-password"));
  ASSERT_TRUE(app) << app.error();
  for (int i = 0; i < 2500; ++i) {
    ASSERT_TRUE((*app)->command({"SET", "shop:web:session:" + std::to_string(i), "x"}));
  }
  // The app user cannot write outside its prefix.
  auto outside = (*app)->command({"SET", "other:key", "x"});
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().find("NOPERM"), std::string::npos) << outside.error();

  auto admin = Session::open(as("monitor", "monitor-password"));
  ASSERT_TRUE(admin) << admin.error();
  auto count = (*admin)->countKeys("shop:web:", 100);
  ASSERT_TRUE(count) << count.error();
  EXPECT_EQ(*count, 2500);
  auto none = (*admin)->countKeys("shop:api:");
  ASSERT_TRUE(none) << none.error();
  EXPECT_EQ(*none, 0);
}

TEST_F(StoreProbeOnRedis, ReadsMaxClientsWhenAllowedAndSaysUnknownOtherwise) {
  auto monitor = Session::open(as("monitor", "monitor-password"));
  ASSERT_TRUE(monitor) << monitor.error();
  auto max = (*monitor)->maxClients();
  ASSERT_TRUE(max) << max.error();
  ASSERT_TRUE(max->has_value());
  EXPECT_EQ(**max, 123);
  auto restricted = Session::open(as("nocfg", "nocfg-password"));
  ASSERT_TRUE(restricted) << restricted.error();
  auto unknown = (*restricted)->maxClients();
  ASSERT_TRUE(unknown) << unknown.error();
  EXPECT_FALSE(unknown->has_value());
}

TEST_F(StoreProbeOnRedis, AStoreThatGoesAwayIsAnErrorNotACrash) {
  auto app = Session::open(as("app", "app-password"));
  ASSERT_TRUE(app) << app.error();
  const int port = server_->port();
  server_->kill();
  EXPECT_FALSE((*app)->ping());
  EXPECT_FALSE((*app)->usable());
  auto refused = Session::open(Endpoint{.host = "127.0.0.1", .port = port});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("connect to 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << refused.error();
  auto tls = Session::open(Endpoint{.host = "127.0.0.1", .port = port, .tls = true});
  ASSERT_FALSE(tls);
  EXPECT_NE(tls.error().find("not supported"), std::string::npos);
}

}  // namespace
}  // namespace sessionstore::redisclient
