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

TEST_F(DecideManagedTls, AnUnusableCaIsMadeAgainAndTheCertificateWithItWhenNothingIsServed) {
  Json broken = caSecret_.object.value();
  broken["data"].erase("ca.key");
  auto decision =
      decideManagedTls(store_, Observed::missing(), Observed::found(broken), kNow, kLifetime);
  EXPECT_EQ(decision.newCa, "there is no CA yet");
  EXPECT_TRUE(decision.issue);
  EXPECT_EQ(decision.previousCaPem, "") << "it signs nothing served: nothing to keep trusting";
}

// A CA replaced without a failed request (the CA Secret deleted by mistake, or the CA expiring):
// 1. a new CA, the old one kept as previous-ca.crt and trusted beside it, the served certificate
//    kept; 2. once every pod of the app trusts the bundle, a certificate from the new CA; 3. the
//    old CA dropped once it signs nothing served.
class CaReplacement : public DecideManagedTls {
 protected:
  void SetUp() override {
    DecideManagedTls::SetUp();
    auto made = crypto::makeCertificateAuthority("new ca", kNow, kNow + hours(24 * 3650));
    ASSERT_TRUE(made);
    newCa_ = *made;
    rolling_ = Observed::found(
        ownedBy(managedstore::caSecret(store_, newCa_, ca_.certificatePem)));
  }
  std::string bundle() const {
    return managedstore::trustBundle(newCa_.certificatePem, ca_.certificatePem);
  }
  crypto::KeyAndCertificate newCa_;
  Observed rolling_;  // the CA Secret after step 1
};

TEST_F(CaReplacement, ALostCaSecretKeepsTheServedCertificateAndItsCaTrusted) {
  const auto decision = decideManagedTls(store_, tlsSecret_, Observed::missing(), kNow, kLifetime,
                                         std::string("anything"));
  EXPECT_EQ(decision.newCa, "there is no CA yet");
  EXPECT_FALSE(decision.issue) << "the app's pods trust only the old CA: its certificate stays";
  EXPECT_EQ(decision.previousCaPem, ca_.certificatePem);
  EXPECT_EQ(decision.certificateSha256, crypto::readCertificate(server_.certificatePem)->sha256);
  EXPECT_EQ(decision.renewAt, kNow + kLifetime) << "looked at again by its expiry at the latest";

  // The same with the server certificate expired: nothing worth keeping is served.
  const auto expired = decideManagedTls(store_, tlsSecret_, Observed::missing(),
                                        kNow + kLifetime, kLifetime, std::string());
  EXPECT_TRUE(expired.newCa);
  EXPECT_EQ(expired.issue, "the CA is new");
}

TEST_F(CaReplacement, TheCertificateMovesToTheNewCaOnlyOnceEveryPodTrustsIt) {
  // The app's rollout to the bundle is not complete: the old certificate stays, both CAs trusted.
  auto decision = decideManagedTls(store_, tlsSecret_, rolling_, kNow, kLifetime, std::string());
  EXPECT_FALSE(decision.newCa);
  EXPECT_FALSE(decision.issue);
  EXPECT_EQ(decision.caPem, bundle());
  EXPECT_EQ(decision.previousCaPem, ca_.certificatePem);
  EXPECT_FALSE(decision.dropPreviousCa);
  EXPECT_EQ(decision.certificateSha256, crypto::readCertificate(server_.certificatePem)->sha256);
  // Pods still on a connection that trusts only the old CA: the same.
  decision =
      decideManagedTls(store_, tlsSecret_, rolling_, kNow, kLifetime, ca_.certificatePem);
  EXPECT_FALSE(decision.issue);

  // Every pod runs with the bundle: a certificate from the new CA.
  decision = decideManagedTls(store_, tlsSecret_, rolling_, kNow, kLifetime, bundle());
  EXPECT_EQ(decision.issue, "every pod of the app now trusts the store's new CA");
  ASSERT_TRUE(decision.ca);
  EXPECT_EQ(decision.ca->certificatePem, newCa_.certificatePem);
  EXPECT_EQ(decision.caPem, bundle());
  // No pod depends on the store (no wired Deployment): at once.
  decision = decideManagedTls(store_, tlsSecret_, rolling_, kNow, kLifetime, std::nullopt);
  EXPECT_TRUE(decision.issue);

  // The old certificate expired while the app never rolled: issued anyway (nothing to keep).
  decision =
      decideManagedTls(store_, tlsSecret_, rolling_, kNow + kLifetime, kLifetime, std::string());
  EXPECT_TRUE(decision.issue);
}

TEST_F(CaReplacement, ThePreviousCaIsDroppedOnceItSignsNothingServed) {
  auto issued = crypto::issueServerCertificate(newCa_, managedstore::serverDnsNames(store_), kNow,
                                               kNow + kLifetime);
  ASSERT_TRUE(issued);
  const Observed fromNew =
      Observed::found(ownedBy(managedstore::tlsSecret(store_, *issued, bundle())));
  const auto decision = decideManagedTls(store_, fromNew, rolling_, kNow, kLifetime, bundle());
  EXPECT_FALSE(decision.issue);
  EXPECT_TRUE(decision.dropPreviousCa) << "once the store serves it (the reconciler checks)";
  EXPECT_EQ(decision.caPem, bundle()) << "until then the app keeps both";
  // Written without it, the next pass gives the app the new CA alone.
  const auto after = decideManagedTls(
      store_, fromNew, Observed::found(ownedBy(managedstore::caSecret(store_, newCa_))), kNow,
      kLifetime, bundle());
  EXPECT_FALSE(after.dropPreviousCa);
  EXPECT_FALSE(after.issue);
  EXPECT_EQ(after.caPem, newCa_.certificatePem);
}

TEST_F(CaReplacement, AnExpiringCaIsReplacedAndStaysTrustedUntilItExpires) {
  // A CA that ends before a certificate issued now would.
  auto shortCa = crypto::makeCertificateAuthority("short", kNow, kNow + seconds(20));
  ASSERT_TRUE(shortCa);
  auto issued = crypto::issueServerCertificate(*shortCa, managedstore::serverDnsNames(store_),
                                               kNow, kNow + seconds(15));
  ASSERT_TRUE(issued);
  const auto decision = decideManagedTls(
      store_,
      Observed::found(ownedBy(managedstore::tlsSecret(store_, *issued, shortCa->certificatePem))),
      Observed::found(ownedBy(managedstore::caSecret(store_, *shortCa))), kNow, kLifetime,
      std::string());
  EXPECT_EQ(decision.newCa, "the CA expires before a certificate issued now would");
  EXPECT_EQ(decision.previousCaPem, shortCa->certificatePem);
  EXPECT_FALSE(decision.issue);

  // An expired previous CA is not trusted any more (previousCaFromSecret).
  const Json secret = managedstore::caSecret(store_, newCa_, shortCa->certificatePem);
  EXPECT_EQ(managedstore::previousCaFromSecret(secret, kNow), shortCa->certificatePem);
  EXPECT_EQ(managedstore::previousCaFromSecret(secret, kNow + seconds(20)), "");
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
