// rediss:// with no CA named trusts the system's CAs. The system's bundle is where OpenSSL's
// environment says (SSL_CERT_FILE) when the process starts using it, so this binary points it at
// a CA the test makes, before any TLS connection, and needs a binary of its own: the paths are
// read once per process (transport/system_trust.h).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "redis_server.h"
#include "redisclient/redis_client.h"
#include "test_ca.h"

namespace sessionstore::redisclient {
namespace {

TEST(SystemTrust, ARedissStoreSignedByASystemCaIsVerifiedWithoutACaOfItsOwn) {
  char pattern[] = "/tmp/sessionstore-systrust.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  const testing::TestCa systemCa("a CA the system trusts");
  const testing::TestCa otherCa("a CA the system does not trust");
  testing::writeTextFile(dir + "/system.pem", systemCa.certPem());
  ASSERT_EQ(::setenv("SSL_CERT_FILE", (dir + "/system.pem").c_str(), 1), 0);
  ASSERT_EQ(::setenv("SSL_CERT_DIR", (dir + "/no-such-dir").c_str(), 1), 0);

  const auto start = [&](const testing::TestCa& ca, const std::string& name) {
    const auto issued = ca.issue("redis.test", {"redis.test"}, {});
    testing::writeTextFile(dir + "/" + name + ".crt", issued.certPem);
    testing::writeTextFile(dir + "/" + name + ".key", issued.keyPem);
    testing::writeTextFile(dir + "/" + name + "-ca.crt", ca.certPem());
    const testing::RedisTlsFiles files{.certFile = dir + "/" + name + ".crt",
                                       .keyFile = dir + "/" + name + ".key",
                                       .caFile = dir + "/" + name + "-ca.crt"};
    return std::make_unique<testing::RedisServer>("", "", 0, &files);
  };
  auto trusted = start(systemCa, "trusted");
  auto untrusted = start(otherCa, "untrusted");
  const auto open = [](int port) {
    return Session::open({.host = "127.0.0.1",
                          .port = port,
                          .tls = true,
                          .verification = {.serverName = "redis.test"}});
  };
  auto ok = open(trusted->port());
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_TRUE((*ok)->ping());
  auto refused = open(untrusted->port());
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().starts_with(kErrorTlsUntrusted)) << refused.error();
  // Many connections share the one system store: each still verifies.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(open(trusted->port()));
    EXPECT_FALSE(open(untrusted->port()));
  }
  ok->reset();
  trusted.reset();
  untrusted.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sessionstore::redisclient
