// The managed store's TLS: what is rendered (redis.conf, the StatefulSet, the ACL), the objects
// holding the certificate, and the decisions to issue again and to replace the CA.
#include "managedstore/tls.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "crypto/crypto.h"
#include "managedstore/managed_store.h"

namespace sessionstore::managedstore {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const crypto::TimePoint kNow = std::chrono::system_clock::from_time_t(1796083200);

api::SessionStore store(const Json& tls) {
  Json object = {{"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "uid-1"}}},
                 {"spec",
                  {{"target", {{"deployment", "web"}}},
                   {"store", {{"type", "Managed"}, {"managed", {{"tls", tls}}}}}}}};
  auto parsed = api::parseSessionStore(object);
  EXPECT_TRUE(parsed.has_value()) << parsed.error();
  return parsed.value_or(api::SessionStore());
}

TEST(ManagedTlsRenderTest, RedisConfListensWithTlsOnly) {
  EXPECT_EQ(renderRedisConf(store({{"enabled", true}}).spec.store.managed),
            "# Rendered by sessionstore-operator; edits are overwritten.\n"
            "port 0\n"
            "tls-port 6379\n"
            "tls-cert-file /etc/redis-tls/tls.crt\n"
            "tls-key-file /etc/redis-tls/tls.key\n"
            "tls-ca-cert-file /etc/redis-tls/ca.crt\n"
            "tls-auth-clients no\n"
            "tls-protocols \"TLSv1.2 TLSv1.3\"\n"
            "bind 0.0.0.0\n"
            "protected-mode yes\n"
            "maxmemory 67108864\n"
            "maxmemory-policy volatile-lru\n"
            "maxclients 1000\n"
            "appendonly yes\n"
            "dir /data\n"
            "aclfile /etc/redis/users.acl\n");
}

TEST(ManagedTlsRenderTest, TheMonitorMayReloadTheCertificateOnlyWithTls) {
  const Passwords passwords{.app = "a", .monitor = "m"};
  const std::string withTls = configMap(store({{"enabled", true}}), passwords)["data"]["users.acl"];
  const std::string without =
      configMap(store({{"enabled", false}}), passwords)["data"]["users.acl"];
  EXPECT_NE(withTls.find("+config|get +config|set +acl|setuser\n"), std::string::npos) << withTls;
  EXPECT_EQ(without.find("config|set"), std::string::npos) << without;
}

TEST(ManagedTlsRenderTest, StatefulSetMountsTheSecretAndProbesOverTls) {
  const Json sts = statefulSet(store({{"enabled", true}}), "hash");
  const Json& pod = sts["spec"]["template"]["spec"];
  const Json& container = pod["containers"][0];
  EXPECT_EQ(container["volumeMounts"].back(),
            (Json{{"name", "tls"}, {"mountPath", "/etc/redis-tls"}, {"readOnly", true}}));
  EXPECT_EQ(pod["volumes"].back(),
            (Json{{"name", "tls"},
                  {"secret", {{"secretName", "web-redis-tls"}, {"defaultMode", 0440}}}}));
  const std::string probe = container["readinessProbe"]["exec"]["command"][2];
  EXPECT_TRUE(probe.starts_with("redis-cli --tls --cacert /etc/redis-tls/ca.crt --user monitor"))
      << probe;
  const Json plain = statefulSet(store({{"enabled", false}}), "hash");
  EXPECT_EQ(plain.dump().find("redis-tls"), std::string::npos);
}

TEST(ManagedTlsObjectsTest, NamesOfTheServices) {
  EXPECT_EQ(serverDnsNames(store({{"enabled", true}})),
            (std::vector<std::string>{
                "web-redis.shop.svc", "web-redis", "web-redis.shop",
                "web-redis.shop.svc.cluster.local", "web-redis-headless.shop.svc",
                "*.web-redis-headless.shop.svc", "*.web-redis-headless.shop.svc.cluster.local"}));
}

TEST(ManagedTlsObjectsTest, SecretsRoundTrip) {
  const auto s = store({{"enabled", true}});
  const crypto::KeyAndCertificate ca{.certificatePem = "CA PEM", .privateKeyPem = "CA KEY"};
  const Json caObject = caSecret(s, ca);
  EXPECT_EQ(caObject["metadata"]["name"], "web-redis-tls-ca");
  EXPECT_EQ(caObject["metadata"]["ownerReferences"][0]["uid"], "uid-1");
  auto back = caFromSecret(caObject);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->certificatePem, "CA PEM");
  EXPECT_EQ(back->privateKeyPem, "CA KEY");

  const Json server = tlsSecret(s, {.certificatePem = "C", .privateKeyPem = "K"}, "CA PEM");
  EXPECT_EQ(server["type"], "kubernetes.io/tls");
  auto read = serverTlsFromSecret(server);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->certificatePem, "C");
  EXPECT_EQ(read->privateKeyPem, "K");
  EXPECT_EQ(read->caPem, "CA PEM");

  Json broken = server;
  broken["data"].erase("tls.key");
  EXPECT_EQ(serverTlsFromSecret(broken).error(), "data.tls.key: missing");
  broken = caObject;
  broken["data"]["ca.key"] = "not base64!";
  EXPECT_EQ(caFromSecret(broken).error(), "data.ca.key: not valid base64");
}

TEST(ManagedTlsObjectsTest, CertManagerCertificate) {
  const auto s =
      store({{"enabled", true}, {"issuerRef", {{"name", "corp-ca"}, {"kind", "ClusterIssuer"}}}});
  const Json certificate = managedstore::certificate(s);
  EXPECT_EQ(certificate["apiVersion"], "cert-manager.io/v1");
  EXPECT_EQ(certificate["kind"], "Certificate");
  EXPECT_EQ(certificate["metadata"]["name"], "web-redis-tls");
  EXPECT_EQ(certificate["spec"]["secretName"], "web-redis-tls");
  EXPECT_EQ(certificate["spec"]["issuerRef"],
            (Json{{"name", "corp-ca"}, {"kind", "ClusterIssuer"}, {"group", "cert-manager.io"}}));
  EXPECT_EQ(certificate["spec"]["dnsNames"], Json(serverDnsNames(s)));
  EXPECT_EQ(certificate["spec"]["privateKey"]["rotationPolicy"], "Always");
}

class ReissueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = crypto::makeCertificateAuthority("ca", kNow, kNow + hours(24 * 3650));
    ASSERT_TRUE(made);
    ca_ = *made;
    auto issued = crypto::issueServerCertificate(ca_, names_, kNow, kNow + seconds(30));
    ASSERT_TRUE(issued);
    server_ = ServerTls{.certificatePem = issued->certificatePem,
                        .privateKeyPem = issued->privateKeyPem,
                        .caPem = ca_.certificatePem};
  }
  crypto::KeyAndCertificate ca_;
  std::vector<std::string> names_ = serverDnsNames(store({{"enabled", true}}));
  ServerTls server_;
};

TEST_F(ReissueTest, AtTwoThirdsOfTheLifetime) {
  auto info = crypto::readCertificate(server_.certificatePem);
  ASSERT_TRUE(info);
  EXPECT_EQ(renewalTime(*info), kNow + seconds(20));
  EXPECT_EQ(reissueReason(server_, ca_.certificatePem, names_, kNow), std::nullopt);
  EXPECT_EQ(reissueReason(server_, ca_.certificatePem, names_, kNow + seconds(19)), std::nullopt);
  EXPECT_EQ(reissueReason(server_, ca_.certificatePem, names_, kNow + seconds(20)),
            "the server certificate reached two thirds of its lifetime");
}

TEST(RenewalTimeTest, ALifetimeOfCenturiesDoesNotOverflow) {
  // What readCertificate gives for a certificate valid from 1970 to 9999 (clamped to the clock).
  crypto::CertificateInfo info{.notBefore = crypto::TimePoint{},
                               .notAfter = crypto::TimePoint::max()};
  const auto renewal = renewalTime(info);
  EXPECT_GT(renewal, info.notBefore);
  EXPECT_LT(renewal, info.notAfter);
  info.notAfter = info.notBefore;  // no lifetime: due at once
  EXPECT_EQ(renewalTime(info), info.notBefore);
}

TEST_F(ReissueTest, WhenItCannotServe) {
  EXPECT_EQ(reissueReason(std::nullopt, ca_.certificatePem, names_, kNow),
            "there is no server certificate yet");
  auto other = crypto::makeCertificateAuthority("other", kNow, kNow + hours(48));
  ASSERT_TRUE(other);
  EXPECT_EQ(reissueReason(server_, other->certificatePem, names_, kNow),
            "the server certificate was not signed by the store's CA");
  ServerTls wrongKey = server_;
  wrongKey.privateKeyPem = other->privateKeyPem;
  EXPECT_EQ(reissueReason(wrongKey, ca_.certificatePem, names_, kNow),
            "the server key is not the certificate's");
  EXPECT_EQ(reissueReason(server_, ca_.certificatePem, {"web-redis.other.svc"}, kNow),
            "the server certificate names other hosts");
  ServerTls garbage = server_;
  garbage.certificatePem = "nothing";
  EXPECT_EQ(reissueReason(garbage, ca_.certificatePem, names_, kNow),
            "the server certificate holds no PEM certificate");
}

TEST_F(ReissueTest, TheCaIsKeptWhileItOutlivesACertificate) {
  EXPECT_EQ(caReplaceReason(ca_, kNow, seconds(30)), std::nullopt);
  EXPECT_EQ(caReplaceReason(std::nullopt, kNow, seconds(30)), "there is no CA yet");
  EXPECT_EQ(caReplaceReason(ca_, kNow + hours(24 * 3650) - seconds(10), seconds(30)),
            "the CA expires before a certificate issued now would");
  crypto::KeyAndCertificate notCa{.certificatePem = server_.certificatePem,
                                  .privateKeyPem = server_.privateKeyPem};
  EXPECT_EQ(caReplaceReason(notCa, kNow, seconds(30)), "the CA certificate is not a CA");
  crypto::KeyAndCertificate wrongKey = ca_;
  wrongKey.privateKeyPem = server_.privateKeyPem;
  EXPECT_EQ(caReplaceReason(wrongKey, kNow, seconds(30)), "the CA key is not the CA certificate's");
}

}  // namespace
}  // namespace sessionstore::managedstore
