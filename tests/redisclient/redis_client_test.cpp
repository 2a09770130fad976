// The store probe: URL parsing and INFO parsing without a server, and every call against a real
// redis-server with ACL users like the operator's (a default user off, an app user limited to
// its key prefix, a read-only monitoring user).
#include "redisclient/redis_client.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "redis_server.h"
#include "test_ca.h"

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

TEST(RedisUrl, ReadsTheDatabaseIndex) {
  const std::pair<std::string, int> cases[] = {{"redis://cache", 0},
                                               {"redis://cache/", 0},
                                               {"redis://cache:6379/0", 0},
                                               {"redis://:pw@cache:6379/5", 5},
                                               {"rediss://cache/15", 15},
                                               {"redis://cache/007", 7},
                                               {"redis://cache/2147483646", 2147483646},
                                               {"redis://[::1]:6380/3", 3},
                                               {"redis://[fe80::1%25eth0]:6380/4", 4}};
  for (const auto& [url, db] : cases) {
    auto e = parseRedisUrl(url);
    ASSERT_TRUE(e) << url << ": " << e.error();
    EXPECT_EQ(e->database, db) << url;
  }
  EXPECT_EQ(parseRedisUrl("redis://u:p%2Fw@cache:6379/5")->password, "p/w");
}

TEST(RedisUrl, SaysWhatIsWrongWithoutRepeatingThePassword) {
  const std::pair<std::string, const char*> cases[] = {
      {"http://cache:6379", "must start with redis:// or rediss://"},
      {"redis://:pw@", "has no host"},
      {"redis://u:hunter2@cache:99999", "port must be a number from 1 to 65535"},
      {"redis://u:hunter2@cache:6379/db", "database after the host must be a number"},
      {"redis://u:hunter2@cache:6379/-1", "database after the host must be a number"},
      {"redis://u:hunter2@cache:6379/5/x", "database after the host must be a number"},
      {"redis://u:hunter2@cache:6379/ 5", "database after the host must be a number"},
      {"redis://u:hunter2@cache:6379/12345678901234567890", "database index must be from 0 to"},
      {"redis://u:hunter2@cache:6379/2147483647", "database index must be from 0 to"},
      {"rediss://u:hunter2@cache:6379/0?ssl_cert_reqs=none", "query parameters"},
      {"redis://u:hunter2@cache:6379?db=5", "query parameters"},
      {"redis://u:hunter2@cache:6379/1#x", "fragment"},
      {"redis://u:hun?ter2@cache:6379", "percent-encode"},
      {"redis://u:hunter2@[%40cache]:6379/3", "the host in [] must be an IPv6 address"},
      {"redis://u:hunter2@[cache.example]:6379", "the host in [] must be an IPv6 address"},
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

// A kept connection PINGed for a long time holds no more than one PING did: hiredis kept the
// bytes it had parsed until 1 KiB piled up, and the room it grew for them, so 1,200 stores
// probed every 2 s grew about a megabyte together at rest, in steps, for minutes.
TEST_F(StoreProbeOnRedis, AKeptConnectionsReadBufferStaysAsSmallAsOneReply) {
  auto monitor = Session::open(as("monitor", "monitor-password"));
  ASSERT_TRUE(monitor) << monitor.error();
  ASSERT_TRUE((*monitor)->ping());
  const std::size_t afterOne = (*monitor)->readBufferBytes();
  for (int i = 0; i < 400; ++i) ASSERT_TRUE((*monitor)->ping());  // 2.8 KB of replies
  EXPECT_EQ((*monitor)->readBufferBytes(), afterOne);
  EXPECT_LE(afterOne, 64u);
  // A large reply's room is not kept.
  auto info = (*monitor)->info();
  ASSERT_TRUE(info) << info.error();
  ASSERT_TRUE((*monitor)->ping());
  EXPECT_LE((*monitor)->readBufferBytes(), 512u);
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
  EXPECT_NE(tls.error().find("connect to 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << tls.error();
}

TEST_F(StoreProbeOnRedis, SelectsTheDatabaseOfTheEndpoint) {
  auto five = Session::open(Endpoint{.host = "127.0.0.1",
                                     .port = server_->port(),
                                     .username = "app",
                                     .password = "app-password",
                                     .database = 5});
  ASSERT_TRUE(five) << five.error();
  ASSERT_TRUE((*five)->command({"SET", "shop:web:in-five", "x"}));
  auto zero = Session::open(as("app", "app-password"));
  ASSERT_TRUE(zero) << zero.error();
  EXPECT_EQ(*(*zero)->command({"EXISTS", "shop:web:in-five"}), "0");
  ASSERT_TRUE((*zero)->command({"SELECT", "5"}));
  EXPECT_EQ(*(*zero)->command({"EXISTS", "shop:web:in-five"}), "1");
  // The server has 16 databases: index 16 is refused by SELECT, and open says so.
  auto past = Session::open(Endpoint{.host = "127.0.0.1",
                                     .port = server_->port(),
                                     .username = "app",
                                     .password = "app-password",
                                     .database = 16});
  ASSERT_FALSE(past);
  EXPECT_TRUE(past.error().starts_with(kErrorSelect)) << past.error();
  EXPECT_NE(past.error().find("SELECT 16: ERR DB index is out of range"), std::string::npos)
      << past.error();
}

TEST_F(StoreProbeOnRedis, ACommandThatGetsNoAnswerTimesOutAndLeavesTheSessionUnusable) {
  Endpoint endpoint = as("app", "app-password");
  endpoint.commandTimeout = std::chrono::milliseconds(200);
  auto app = Session::open(endpoint);
  ASSERT_TRUE(app) << app.error();
  // BLPOP on an empty list waits 5 s on the server: far past the command timeout.
  auto blocked = (*app)->command({"BLPOP", "shop:web:empty", "5"});
  ASSERT_FALSE(blocked);
  EXPECT_NE(blocked.error().find("no answer: timed out"), std::string::npos) << blocked.error();
  EXPECT_FALSE((*app)->usable());
  EXPECT_FALSE((*app)->ping());
}

// --- TLS against a real TLS-only redis-server ----------------------------------------------------

// The open file descriptors of this process (each Session holds a socket while it lives).
int openFds() {
  return static_cast<int>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                        std::filesystem::directory_iterator()));
}

class StoreOnTlsRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/sessionstore-tls.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    // The server's certificate names redis.test and 127.0.0.1; not "localhost".
    const auto issued = ca_.issue("redis.test", {"redis.test"}, {"127.0.0.1"});
    testing::writeTextFile(dir_ + "/ca.crt", ca_.certPem());
    testing::writeTextFile(dir_ + "/tls.crt", issued.certPem);
    testing::writeTextFile(dir_ + "/tls.key", issued.keyPem);
    const testing::RedisTlsFiles files{.certFile = dir_ + "/tls.crt",
                                       .keyFile = dir_ + "/tls.key",
                                       .caFile = dir_ + "/ca.crt"};
    ASSERT_NO_THROW(server_ = std::make_unique<testing::RedisServer>(kAcl, "", 0, &files));
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  // As the operator connects: to the address, verifying the name in the URL.
  Endpoint verified(const std::string& serverName, const std::string& caPem) const {
    return Endpoint{.host = "127.0.0.1",
                    .port = server_->port(),
                    .username = "app",
                    .password = "app-password",
                    .tls = true,
                    .verification = {.serverName = serverName, .caPem = caPem}};
  }
  testing::TestCa ca_{"sessionstore test CA"};
  testing::TestCa otherCa_{"another CA"};
  std::string dir_;
  std::unique_ptr<testing::RedisServer> server_;
};

TEST_F(StoreOnTlsRedis, AVerifiedConnectionAuthenticatesPingsAndCounts) {
  auto app = Session::open(verified("redis.test", ca_.certPem()));
  ASSERT_TRUE(app) << app.error();
  EXPECT_TRUE((*app)->ping());
  ASSERT_TRUE((*app)->command({"SET", "shop:web:over-tls", std::string(100000, 'v')}));
  EXPECT_EQ((*app)->command({"GET", "shop:web:over-tls"})->size(), 100000u);
  auto monitor = Session::open(Endpoint{.host = "127.0.0.1",
                                        .port = server_->port(),
                                        .username = "monitor",
                                        .password = "monitor-password",
                                        .tls = true,
                                        .verification = {.caPem = ca_.certPem()}});
  // No server name: the host, an IP literal, is checked against the certificate's IP SAN.
  ASSERT_TRUE(monitor) << monitor.error();
  auto info = (*monitor)->info();
  ASSERT_TRUE(info) << info.error();
  EXPECT_TRUE(info->contains("connected_clients"));
  auto count = (*monitor)->countKeys("shop:web:");
  ASSERT_TRUE(count) << count.error();
  EXPECT_EQ(*count, 1);
}

TEST_F(StoreOnTlsRedis, AnotherCaIsRefusedAsUntrusted) {
  auto refused = Session::open(verified("redis.test", otherCa_.certPem()));
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().starts_with(kErrorTlsUntrusted)) << refused.error();
  EXPECT_NE(refused.error().find("unknown CA"), std::string::npos) << refused.error();
  EXPECT_EQ(refused.error().find("app-password"), std::string::npos);
  // The system's CAs do not hold the test's CA either.
  auto system = Session::open(verified("redis.test", ""));
  ASSERT_FALSE(system);
  EXPECT_TRUE(system.error().starts_with(kErrorTlsUntrusted)) << system.error();
}

TEST_F(StoreOnTlsRedis, ANameTheCertificateDoesNotHoldIsRefusedAsAMismatch) {
  auto refused = Session::open(verified("cache.example.com", ca_.certPem()));
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().starts_with(kErrorTlsHostMismatch)) << refused.error();
  EXPECT_NE(refused.error().find("cache.example.com"), std::string::npos) << refused.error();
  // An IP the certificate does not name: checked as an IP, and refused.
  auto ip = Session::open(verified("127.0.0.2", ca_.certPem()));
  ASSERT_FALSE(ip);
  EXPECT_TRUE(ip.error().starts_with(kErrorTlsHostMismatch)) << ip.error();
  // A wildcard does not stand for a name the certificate lacks.
  auto sub = Session::open(verified("a.redis.test", ca_.certPem()));
  ASSERT_FALSE(sub);
  EXPECT_TRUE(sub.error().starts_with(kErrorTlsHostMismatch)) << sub.error();
}

TEST_F(StoreOnTlsRedis, InsecureSkipVerifyAcceptsAnyCertificate) {
  Endpoint endpoint = verified("cache.example.com", "");
  endpoint.verification.insecureSkipVerify = true;
  auto app = Session::open(endpoint);
  ASSERT_TRUE(app) << app.error();
  EXPECT_TRUE((*app)->ping());
}

TEST_F(StoreOnTlsRedis, ACaBundleWithoutACertificateIsRefusedBeforeConnecting) {
  auto refused = Session::open(verified("redis.test", "not a certificate"));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("holds no PEM certificate"), std::string::npos) << refused.error();
  auto broken = Session::open(
      verified("redis.test", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().find("does not parse"), std::string::npos) << broken.error();
}

TEST_F(StoreOnTlsRedis, PlainAndTlsOnTheWrongPortFailWithinTheirTimeouts) {
  // Plain to the TLS port: the server waits for a ClientHello and drops the connection, or AUTH
  // gets no answer: either way an error, not a hang past the timeout.
  auto plain = Session::open(Endpoint{.host = "127.0.0.1",
                                      .port = server_->port(),
                                      .username = "app",
                                      .password = "app-password",
                                      .connectTimeout = std::chrono::milliseconds(300),
                                      .commandTimeout = std::chrono::milliseconds(300)});
  ASSERT_FALSE(plain);
  // TLS to a port that accepts TCP and never answers (a listening socket nobody accepts from:
  // the kernel completes the TCP handshake): the TLS handshake times out.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  auto silent = Session::open(Endpoint{.host = "127.0.0.1",
                                       .port = ntohs(addr.sin_port),
                                       .tls = true,
                                       .connectTimeout = std::chrono::milliseconds(300)});
  ::close(fd);
  ASSERT_FALSE(silent);
  EXPECT_NE(silent.error().find("TLS handshake with 127.0.0.1: no answer before the connect "
                                "timeout"),
            std::string::npos)
      << silent.error();
}

TEST_F(StoreOnTlsRedis, ACommandTimesOutOverTls) {
  Endpoint endpoint = verified("redis.test", ca_.certPem());
  endpoint.commandTimeout = std::chrono::milliseconds(200);
  auto app = Session::open(endpoint);
  ASSERT_TRUE(app) << app.error();
  auto blocked = (*app)->command({"BLPOP", "shop:web:empty", "5"});
  ASSERT_FALSE(blocked);
  EXPECT_NE(blocked.error().find("no answer: timed out"), std::string::npos) << blocked.error();
  EXPECT_FALSE((*app)->usable());
}

TEST_F(StoreOnTlsRedis, SelectsTheDatabaseOverTls) {
  Endpoint endpoint = verified("redis.test", ca_.certPem());
  endpoint.database = 7;
  auto seven = Session::open(endpoint);
  ASSERT_TRUE(seven) << seven.error();
  ASSERT_TRUE((*seven)->command({"SET", "shop:web:k", "7"}));
  auto zero = Session::open(verified("redis.test", ca_.certPem()));
  ASSERT_TRUE(zero) << zero.error();
  EXPECT_EQ(*(*zero)->command({"EXISTS", "shop:web:k"}), "0");
}

TEST_F(StoreOnTlsRedis, NoSocketIsLeftOpenByFailedOrClosedSessions) {
  const int before = openFds();
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(Session::open(verified("redis.test", otherCa_.certPem())));
    EXPECT_FALSE(Session::open(verified("other.test", ca_.certPem())));
    auto wrongPassword = verified("redis.test", ca_.certPem());
    wrongPassword.password = "wrong";
    EXPECT_FALSE(Session::open(wrongPassword));
    auto ok = Session::open(verified("redis.test", ca_.certPem()));
    ASSERT_TRUE(ok) << ok.error();
    EXPECT_EQ(openFds(), before + 1);  // the live session's socket, and nothing else
  }
  EXPECT_EQ(openFds(), before);
}

TEST_F(StoreOnTlsRedis, AStoreThatGoesAwayIsAnErrorNotACrash) {
  auto app = Session::open(verified("redis.test", ca_.certPem()));
  ASSERT_TRUE(app) << app.error();
  server_->kill();
  // Writing to a closed TLS connection raises SIGPIPE inside OpenSSL; this test process does
  // not ignore SIGPIPE, so it would end here if the client let it through.
  EXPECT_FALSE((*app)->ping());
  EXPECT_FALSE((*app)->usable());
  EXPECT_FALSE((*app)->ping());
}

}  // namespace
}  // namespace sessionstore::redisclient
