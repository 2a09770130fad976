#include "crypto/certificates.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace sessionstore::crypto {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

// A fixed instant (2026-12-01T00:00:00Z): certificates carry whole seconds.
const TimePoint kNow = std::chrono::system_clock::from_time_t(1796083200);

KeyAndCertificate ca(const std::string& name = "web-redis.shop CA") {
  auto made = makeCertificateAuthority(name, kNow, kNow + hours(24 * 3650));
  EXPECT_TRUE(made) << (made ? "" : made.error());
  return made.value_or(KeyAndCertificate{});
}

TEST(CertificateAuthorityTest, IsACaValidForItsLifetime) {
  const auto authority = ca();
  auto info = readCertificate(authority.certificatePem);
  ASSERT_TRUE(info) << info.error();
  EXPECT_TRUE(info->isCa);
  EXPECT_EQ(info->notBefore, kNow);
  EXPECT_EQ(info->notAfter, kNow + hours(24 * 3650));
  EXPECT_EQ(info->sha256.size(), 64u);
  EXPECT_TRUE(keyMatches(authority.certificatePem, authority.privateKeyPem));
  EXPECT_TRUE(signedBy(authority.certificatePem, authority.certificatePem));  // self-signed
  EXPECT_NE(authority.privateKeyPem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
}

TEST(CertificateAuthorityTest, EachIsNew) {
  const auto one = ca();
  const auto two = ca();
  EXPECT_NE(one.privateKeyPem, two.privateKeyPem);
  EXPECT_NE(readCertificate(one.certificatePem)->sha256,
            readCertificate(two.certificatePem)->sha256);
  EXPECT_FALSE(keyMatches(one.certificatePem, two.privateKeyPem));
}

TEST(CertificateAuthorityTest, RefusesAnEmptyLifetime) {
  EXPECT_FALSE(makeCertificateAuthority("x", kNow, kNow));
}

TEST(ServerCertificateTest, SignedByTheCaForTheNames) {
  const auto authority = ca();
  const std::vector<std::string> names = {"web-redis.shop.svc", "web-redis",
                                          "*.web-redis-headless.shop.svc"};
  auto server = issueServerCertificate(authority, names, kNow, kNow + seconds(30));
  ASSERT_TRUE(server) << server.error();
  auto info = readCertificate(server->certificatePem);
  ASSERT_TRUE(info) << info.error();
  EXPECT_FALSE(info->isCa);
  EXPECT_EQ(info->dnsNames, names);
  EXPECT_EQ(info->notBefore, kNow);
  EXPECT_EQ(info->notAfter, kNow + seconds(30));
  EXPECT_TRUE(signedBy(server->certificatePem, authority.certificatePem));
  EXPECT_FALSE(signedBy(server->certificatePem, ca("another").certificatePem));
  EXPECT_TRUE(keyMatches(server->certificatePem, server->privateKeyPem));
  EXPECT_FALSE(keyMatches(server->certificatePem, authority.privateKeyPem));
}

TEST(ServerCertificateTest, RefusesWhatCannotBeCertified) {
  const auto authority = ca();
  EXPECT_FALSE(issueServerCertificate(authority, {}, kNow, kNow + hours(1)));
  EXPECT_FALSE(issueServerCertificate(authority, {"a,DNS:evil.example"}, kNow, kNow + hours(1)));
  EXPECT_FALSE(issueServerCertificate(authority, {"a"}, kNow + hours(1), kNow));
  KeyAndCertificate mismatched = authority;
  mismatched.privateKeyPem = ca().privateKeyPem;
  auto refused = issueServerCertificate(mismatched, {"a"}, kNow, kNow + hours(1));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().find("PRIVATE"), std::string::npos);
}

TEST(ReadCertificateTest, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(readCertificate("").error(), "holds no PEM certificate");
  EXPECT_EQ(
      readCertificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").error(),
      "holds a certificate that does not parse");
  EXPECT_FALSE(signedBy("garbage", "garbage"));
  EXPECT_FALSE(keyMatches("garbage", "garbage"));
}

TEST(ReadCertificateTest, TheFirstOfABundle) {
  const auto one = ca("one");
  const auto two = ca("two");
  auto info = readCertificate(one.certificatePem + two.certificatePem);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->sha256, readCertificate(one.certificatePem)->sha256);
}

}  // namespace
}  // namespace sessionstore::crypto
