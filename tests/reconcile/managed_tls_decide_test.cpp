// decideManagedTls and useManagedTls (reconcile/decide.h): where the managed store's certificate
// comes from, when it is issued again, and what the endpoints become. No client, no clock.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "crypto/certificates.h"
#include "managedstore/tls.h"
#include "reconcile/decide.h"
#include "reconcile/fixtures.h"

namespace sessionstore::reconcile {
namespace {

using namespace testing;  // NOLINT: the fixtures
using std::chrono::hours;
using std::chrono::seconds;

const crypto::TimePoint kNow = std::chrono::system_clock::from_time_t(1796083200);
constexpr seconds kLifetime{30};

api::SessionStore tlsStore(const Json& tls = {{"enabled", true}}) {
  Json spec = kManagedSpec;
  spec["store"]["managed"] = {{"tls", tls}};
  return store(spec);
}

class DecideManagedTls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = crypto::makeCertificateAuthority("ca", kNow, kNow + hours(24 * 3650));
    ASSERT_TRUE(made);
    ca_ = *made;
    auto issued = crypto::issueServerCertificate(ca_, managedstore::serverDnsNames(store_), kNow,
                                                 kNow + kLifetime);
    ASSERT_TRUE(issued);
    server_ = *issued;
    caSecret_ = Observed::found(ownedBy(managedstore::caSecret(store_, ca_)));
    tlsSecret_ =
        Observed::found(ownedBy(managedstore::tlsSecret(store_, server_, ca_.certificatePem)));
  }
  api::SessionStore store_ = tlsStore();
  crypto::KeyAndCertificate ca_;
  crypto::KeyAndCertificate server_;
  Observed caSecret_;
  Observed tlsSecret_;
};

TEST_F(DecideManagedTls, AFreshStoreGetsACaAndACertificate) {
  const auto decision =
      decideManagedTls(store_, Observed::missing(), Observed::missing(), kNow, kLifetime);
  EXPECT_EQ(decision.newCa, "there is no CA yet");
  EXPECT_EQ(decision.issue, "the CA is new");
  EXPECT_FALSE(decision.problem);
  EXPECT_FALSE(decision.certificate);
}

TEST_F(DecideManagedTls, AValidCertificateIsUsedAsIsUntilTwoThirds) {
  auto decision = decideManagedTls(store_, tlsSecret_, caSecret_, kNow, kLifetime);
  EXPECT_FALSE(decision.newCa);
  EXPECT_FALSE(decision.issue);
  EXPECT_EQ(decision.caPem, ca_.certificatePem);
  EXPECT_EQ(decision.certificateSha256, crypto::readCertificate(server_.certificatePem)->sha256);
  EXPECT_EQ(decision.renewAt, kNow + seconds(20));

  decision = decideManagedTls(store_, tlsSecret_, caSecret_, kNow + seconds(20), kLifetime);
  EXPECT_FALSE(decision.newCa) << "the CA is kept across renewals";
  EXPECT_EQ(decision.issue, "the server certificate reached two thirds of its lifetime");
  EXPECT_EQ(decision.caPem, ca_.certificatePem);
}

TEST_F(DecideManagedTls, SomeoneElsesSecretsAreNeverReplaced) {
  Json unowned = managedstore::caSecret(store_, ca_);
  unowned["metadata"].erase("ownerReferences");
  Observed foreign = Observed::found(unowned);
  auto decision = decideManagedTls(store_, tlsSecret_, foreign, kNow, kLifetime);
  ASSERT_TRUE(decision.problem);
  EXPECT_EQ(decision.problem->reason, "NameTaken");
  EXPECT_FALSE(decision.newCa);
  EXPECT_FALSE(decision.issue);
}

TEST_F(DecideManagedTls, AnUnusableCaIsMadeAgainAndTheCertificateWithIt) {
  Json broken = caSecret_.object.value();
  broken["data"].erase("ca.key");
  auto decision = decideManagedTls(store_, tlsSecret_, Observed::found(broken), kNow, kLifetime);
  EXPECT_EQ(decision.newCa, "there is no CA yet");
  EXPECT_TRUE(decision.issue);
}

TEST_F(DecideManagedTls, CertManagerIssuesThroughACertificate) {
  const auto s =
      tlsStore({{"enabled", true}, {"issuerRef", {{"name", "corp-ca"}, {"kind", "Issuer"}}}});
  auto decision = decideManagedTls(s, Observed::missing(), Observed::notRead(), kNow, kLifetime);
  ASSERT_TRUE(decision.certificate);
  EXPECT_EQ((*decision.certificate)["kind"], "Certificate");
  ASSERT_TRUE(decision.problem);
  EXPECT_EQ(decision.problem->reason, "CertificatePending");
  EXPECT_FALSE(decision.newCa);

  // cert-manager's Secret: not owned by the store, with ca.crt.
  decision =
      decideManagedTls(s, Observed::found(managedstore::tlsSecret(s, server_, ca_.certificatePem)),
                       Observed::notRead(), kNow, kLifetime);
  EXPECT_FALSE(decision.problem);
  EXPECT_EQ(decision.caPem, ca_.certificatePem);
  EXPECT_FALSE(decision.issue) << "cert-manager renews, not the operator";

  // Without ca.crt the app could not verify the store.
  decision = decideManagedTls(s, Observed::found(managedstore::tlsSecret(s, server_, "")),
                              Observed::notRead(), kNow, kLifetime);
  ASSERT_TRUE(decision.problem);
  EXPECT_EQ(decision.problem->reason, "TLSSecretInvalid");
  EXPECT_EQ(decision.problem->message.find("PRIVATE KEY"), std::string::npos);
}

TEST(UseManagedTls, RedissVerifiedAgainstTheCaAndTheCaGivenToTheApp) {
  StoreEndpoints endpoints = managedEndpoints(tlsStore(), {.app = "a", .monitor = "m"});
  useManagedTls(endpoints, "CA PEM", "abc");
  EXPECT_TRUE(endpoints.app.tls);
  EXPECT_EQ(endpoints.app.tlsCaPem, "CA PEM");
  EXPECT_EQ(endpoints.app.caPemForApp, "CA PEM");
  EXPECT_EQ(endpoints.app.tlsServerName, "");  // the Service's name, which the certificate holds
  EXPECT_EQ(endpoints.app.tlsExpectedCertificateSha256, "")
      << "a renewal must not change the app's endpoint (its pods would roll)";
  ASSERT_TRUE(endpoints.monitor);
  EXPECT_TRUE(endpoints.monitor->tls);
  EXPECT_EQ(endpoints.monitor->tlsExpectedCertificateSha256, "abc");
  EXPECT_EQ(wiring::redisUrl(endpoints.app).substr(0, 9), "rediss://");
  const Json secret = wiring::connectionSecret(tlsStore(), endpoints.app, 10);
  EXPECT_EQ(secret["data"]["ca.crt"], crypto::base64Encode("CA PEM"));
}

}  // namespace
}  // namespace sessionstore::reconcile
