// The connection Secret, its hash and the Service affinity, as whole objects.
#include "wiring/connection.h"

#include <gtest/gtest.h>

#include "crypto/crypto.h"
#include "managedstore/managed_store.h"

namespace sessionstore::wiring {
namespace {

api::SessionStore store(const Json& spec = Json::object()) {
  Json object = {{"apiVersion", "sessionstore.io/v1alpha1"},
                 {"kind", "SessionStore"},
                 {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "u-1"}}},
                 {"spec", {{"target", {{"deployment", "web"}, {"service", "web"}}}}}};
  object["spec"].update(spec);
  auto parsed = api::parseSessionStore(object);
  EXPECT_TRUE(parsed) << parsed.error();
  return *parsed;
}

TEST(RedisUrl, KeepsTheDatabaseIndex) {
  StoreEndpoint endpoint{.host = "cache.example.com", .port = 6380, .password = "p w", .tls = true,
                         .database = 5};
  EXPECT_EQ(redisUrl(endpoint), "rediss://:p%20w@cache.example.com:6380/5");
  endpoint.database = 0;
  EXPECT_EQ(redisUrl(endpoint), "rediss://:p%20w@cache.example.com:6380/0");
  // How the operator verifies the store is not part of the app's URL.
  endpoint.tlsServerName = "other.example.com";
  endpoint.tlsInsecureSkipVerify = true;
  EXPECT_EQ(redisUrl(endpoint), "rediss://:p%20w@cache.example.com:6380/0");
}

TEST(RedisUrl, WritesAnIpv6AddressInBrackets) {
  // Found by redis_fuzz: without brackets the app read "fd00::1:6380" as host fd00:: and more.
  EXPECT_EQ(redisUrl({.host = "fd00::1", .port = 6380, .database = 2}), "redis://[fd00::1]:6380/2");
  EXPECT_EQ(redisUrl({.host = "10.0.0.7", .port = 6380}), "redis://10.0.0.7:6380/0");
}

TEST(RedisUrl, EncodesTheCredentials) {
  EXPECT_EQ(
      redisUrl(
          {.host = "web-redis.shop.svc", .port = 6379, .username = "app", .password = "a/b:c@d"}),
      "redis://app:a%2Fb%3Ac%40d@web-redis.shop.svc:6379/0");
  EXPECT_EQ(redisUrl({.host = "cache.example", .port = 6380, .tls = true}),
            "rediss://cache.example:6380/0");
}

TEST(ConnectionSecret, HoldsEveryKeyBase64AndIsOwned) {
  const auto secret = connectionSecret(
      store(), {.host = "web-redis.shop.svc", .port = 6379, .username = "app", .password = "pw"},
      18);
  const Json expected = {
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata",
       {{"name", "web-session-store"},
        {"namespace", "shop"},
        {"labels",
         {{"app.kubernetes.io/managed-by", "sessionstore-operator"},
          {"app.kubernetes.io/instance", "web"},
          {"sessionstore.io/name", "web"}}},
        {"ownerReferences", Json::array({{{"apiVersion", "sessionstore.io/v1alpha1"},
                                          {"kind", "SessionStore"},
                                          {"name", "web"},
                                          {"uid", "u-1"},
                                          {"controller", true},
                                          {"blockOwnerDeletion", true}}})}}},
      {"type", "Opaque"},
      {"data",
       {{"REDIS_URL", crypto::base64Encode("redis://app:pw@web-redis.shop.svc:6379/0")},
        {"REDIS_HOST", crypto::base64Encode("web-redis.shop.svc")},
        {"REDIS_PORT", crypto::base64Encode("6379")},
        {"REDIS_PASSWORD", crypto::base64Encode("pw")},
        {"SESSION_KEY_PREFIX", crypto::base64Encode("shop:web:")},
        {"REDIS_MAX_CONNECTIONS", crypto::base64Encode("18")}}}};
  EXPECT_EQ(secret, expected) << secret.dump(2);
  EXPECT_EQ(secret.dump().find("\"pw\""), std::string::npos) << "the password appears in clear";
}

TEST(ConnectionHash, ChangesWithTheConnectionOnly) {
  const StoreEndpoint endpoint{.host = "h", .port = 6379, .username = "app", .password = "pw"};
  const auto a = connectionSecret(store(), endpoint, 18);
  EXPECT_EQ(connectionHash(a), connectionHash(connectionSecret(store(), endpoint, 18)));
  EXPECT_EQ(connectionHash(a).size(), 64u);
  auto b = a;
  b["metadata"]["labels"]["extra"] = "x";  // metadata does not roll pods
  EXPECT_EQ(connectionHash(a), connectionHash(b));
  auto other = endpoint;
  other.password = "pw2";
  EXPECT_NE(connectionHash(a), connectionHash(connectionSecret(store(), other, 18)));
  EXPECT_NE(connectionHash(a), connectionHash(connectionSecret(store(), endpoint, 19)));
  EXPECT_NE(connectionHash(a), connectionHash(connectionSecret(
                                   store({{"connection", {{"keyPrefix", "p:"}}}}), endpoint, 18)));
}

struct AffinityCase {
  const char* mode;
  bool ready;
  const char* affinity;
};

TEST(ServiceAffinity, FollowsTheModeAndTheStore) {
  for (const auto& c :
       {AffinityCase{"ClientIP", true, "ClientIP"}, AffinityCase{"ClientIP", false, "ClientIP"},
        AffinityCase{"None", false, "None"}, AffinityCase{"None", true, "None"},
        AffinityCase{"UntilStoreReady", false, "ClientIP"},
        AffinityCase{"UntilStoreReady", true, "None"}}) {
    const auto body = serviceAffinityConfiguration(
        store({{"affinity", {{"mode", c.mode}, {"timeoutSeconds", 600}}}}), c.ready);
    Json expected = {{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"metadata",
                      {{"name", "web"},
                       {"namespace", "shop"},
                       {"labels", {{"sessionstore.io/wired-by", "web"}}}}},
                     {"spec", {{"sessionAffinity", c.affinity}}}};
    if (std::string(c.affinity) == "ClientIP") {
      expected["spec"]["sessionAffinityConfig"] = {{"clientIP", {{"timeoutSeconds", 600}}}};
    }
    EXPECT_EQ(body, expected) << c.mode << " ready=" << c.ready;
  }
}

}  // namespace
}  // namespace sessionstore::wiring
