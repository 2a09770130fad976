// External stores over TLS and the URL's database index, end to end: the operator binary on the
// cluster profile, a real TLS-only redis-server (Debian's Redis 7, built with TLS) with a
// certificate from a CA the test makes (tests/support/test_ca.h). The store's name in the URL is
// mapped to the server's loopback port through the operator's --store-address-map, so the
// certificate is verified against the name in the URL, as in a cluster. Verified stores become
// Ready; a wrong CA and a wrong host name each fail closed with a condition that says which; the
// database index in the URL is where the app's keys land, and an index that cannot be one is
// refused.
#include <filesystem>

#include "operator_fixture.h"
#include "test_ca.h"

namespace sessionstore::testing {
namespace {

constexpr const char* kPassword = "tls-s3cr3t-value";

class ExternalTlsIntegration : public OperatorFixture {
 protected:
  static void SetUpTestSuite() {
    // The operator's "system" CAs: a bundle holding a CA the test makes, named by SSL_CERT_FILE
    // in the environment the operator process inherits, so a rediss:// store without a CA of its
    // own is verified against the system's CAs as in a real image.
    char pattern[] = "/tmp/sessionstore-systemca.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    systemDir_ = pattern;
    systemCa_ = new TestCa("the e2e system CA");
    writeTextFile(systemDir_ + "/bundle.pem", systemCa_->certPem());
    ::setenv("SSL_CERT_FILE", (systemDir_ + "/bundle.pem").c_str(), 1);
    ::setenv("SSL_CERT_DIR", (systemDir_ + "/none").c_str(), 1);
    OperatorFixture::SetUpTestSuite();
    ::unsetenv("SSL_CERT_FILE");
    ::unsetenv("SSL_CERT_DIR");
    ca_ = new TestCa("sessionstore e2e CA");
    otherCa_ = new TestCa("a CA nobody trusts");
    // The certificate names cache.tls.test only (no IP): a verification that used the mapped
    // address instead of the URL's name would fail.
    const auto issued = ca_->issue("cache.tls.test", {"cache.tls.test"}, {});
    const std::string dir = plane_->dir();
    writeTextFile(dir + "/tls-ca.crt", ca_->certPem());
    writeTextFile(dir + "/tls-other-ca.crt", otherCa_->certPem());
    writeTextFile(dir + "/tls.crt", issued.certPem);
    writeTextFile(dir + "/tls.key", issued.keyPem);
    const RedisTlsFiles files{
        .certFile = dir + "/tls.crt", .keyFile = dir + "/tls.key", .caFile = dir + "/tls-ca.crt"};
    server_ = new RedisServer(std::string("requirepass ") + kPassword + "\n", "", 0, &files);
    const auto systemIssued = systemCa_->issue("public.tls.test", {"public.tls.test"}, {});
    writeTextFile(dir + "/public.crt", systemIssued.certPem);
    writeTextFile(dir + "/public.key", systemIssued.keyPem);
    const RedisTlsFiles publicFiles{.certFile = dir + "/public.crt",
                                    .keyFile = dir + "/public.key",
                                    .caFile = systemDir_ + "/bundle.pem"};
    publicServer_ =
        new RedisServer(std::string("requirepass ") + kPassword + "\n", "", 0, &publicFiles);
    // Two names for the one server: the one its certificate holds, and one it does not.
    std::ofstream(addressMap_, std::ios::app)
        << "cache.tls.test:6380 127.0.0.1:" << server_->port() << "\n"
        << "wrong.tls.test:6380 127.0.0.1:" << server_->port() << "\n"
        << "public.tls.test:6380 127.0.0.1:" << publicServer_->port() << "\n";
  }
  static void TearDownTestSuite() {
    delete server_;
    delete publicServer_;
    delete ca_;
    delete systemCa_;
    std::filesystem::remove_all(systemDir_);
    delete otherCa_;
    OperatorFixture::TearDownTestSuite();
  }

  // A SessionStore for an external store whose URL is in Secret NAME-url; `tls` is the
  // spec.store.external.tls block (YAML flow), or "".
  void externalStore(const std::string& name, const std::string& url, const std::string& tls) {
    apply(deploymentYaml(name));
    ASSERT_TRUE(
        inNs({"create", "secret", "generic", name + "-url", "--from-literal=url=" + url}).ok());
    apply(R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: )" +
          name + R"(}
spec:
  target: {deployment: )" +
          name + R"(}
  store:
    type: External
    external:
      urlSecretRef: {name: )" +
          name + "-url}\n" + (tls.empty() ? "" : "      tls: " + tls + "\n"));
  }
  void caSecret(const std::string& name, const std::string& file) {
    ASSERT_TRUE(inNs({"create", "secret", "generic", name,
                      "--from-file=ca.crt=" + plane_->dir() + "/" + file})
                    .ok());
  }
  std::string message(const std::string& store) {
    auto c = condition(store, "StoreReady");
    return c ? c->value("message", "") : "";
  }
  // Fails closed: StoreReady False with `reason`, never Ready, the app left alone.
  void expectFailsClosed(const std::string& store, const std::string& reason) {
    ASSERT_TRUE(eventually([&] { return conditionIs(store, "StoreReady", "False", reason); }))
        << describeStore(store);
    EXPECT_NE(phase(store), "Ready");
    EXPECT_TRUE(conditionIs(store, "Ready", "False")) << describeStore(store);
    EXPECT_TRUE(envNames(mustGet("deployment", store)).empty());
    EXPECT_FALSE(get("secret", store + "-session-store").has_value());
  }

  static inline TestCa* ca_ = nullptr;
  static inline TestCa* otherCa_ = nullptr;
  static inline RedisServer* server_ = nullptr;
  static inline TestCa* systemCa_ = nullptr;
  static inline RedisServer* publicServer_ = nullptr;  // its certificate is from systemCa_
  static inline std::string systemDir_;
};

TEST_F(ExternalTlsIntegration, ARedissStoreWithItsCaIsReadyAndTheAppsKeysLandInItsDatabase) {
  caSecret("store-ca", "tls-ca.crt");
  externalStore("web", std::string("rediss://:") + kPassword + "@cache.tls.test:6380/5",
                "{caSecretRef: {name: store-ca}}");
  ASSERT_TRUE(eventually([&] { return phase("web") == "Ready"; })) << describeStore("web");
  EXPECT_TRUE(conditionIs("web", "StoreReady", "True", "StoreAvailable"));
  EXPECT_NE(message("web").find("over TLS with the certificate verified"), std::string::npos)
      << message("web");
  EXPECT_NE(message("web").find("in database 5"), std::string::npos) << message("web");

  // The app is given the URL with its database.
  const Json connection = mustGet("secret", "web-session-store");
  const std::string url = decode(connection, "REDIS_URL");
  EXPECT_EQ(url, std::string("rediss://:") + kPassword + "@cache.tls.test:6380/5");

  // The app (played by the test: the wired URL, through the same address map) writes a key...
  auto wired = redisclient::parseRedisUrl(url);
  ASSERT_TRUE(wired) << wired.error();
  wired->host = "127.0.0.1";
  wired->port = server_->port();
  wired->verification = {.serverName = "cache.tls.test", .caPem = ca_->certPem()};
  auto app = redisclient::Session::open(*wired);
  ASSERT_TRUE(app) << app.error();
  ASSERT_TRUE((*app)->command({"SET", "web:session:1", "alice"}));
  // ...and a direct connection finds it in database 5, not in database 0.
  auto direct = redisclient::Session::open(
      {.host = "127.0.0.1",
       .port = server_->port(),
       .password = kPassword,
       .tls = true,
       .verification = {.serverName = "cache.tls.test", .caPem = ca_->certPem()}});
  ASSERT_TRUE(direct) << direct.error();
  EXPECT_EQ(*(*direct)->command({"EXISTS", "web:session:1"}), "0");
  ASSERT_TRUE((*direct)->command({"SELECT", "5"}));
  EXPECT_EQ(*(*direct)->command({"GET", "web:session:1"}), "alice");

  EXPECT_EQ(operator_->output().find(kPassword), std::string::npos);
  EXPECT_EQ(inNs({"get", "events", "-o", "json"}).out.find(kPassword), std::string::npos);
  EXPECT_EQ(inNs({"get", "sessionstore", "web", "-o", "json"}).out.find(kPassword),
            std::string::npos);
}

TEST_F(ExternalTlsIntegration, WithoutACaOfItsOwnAStoreIsVerifiedAgainstTheSystemsCas) {
  externalStore("public", std::string("rediss://:") + kPassword + "@public.tls.test:6380", "");
  ASSERT_TRUE(eventually([&] { return phase("public") == "Ready"; })) << describeStore("public");
  EXPECT_NE(message("public").find("over TLS with the certificate verified"), std::string::npos)
      << message("public");
}

TEST_F(ExternalTlsIntegration, AWrongCaFailsClosedAndSaysTheCaIsUnknown) {
  caSecret("other-ca", "tls-other-ca.crt");
  externalStore("wrongca", std::string("rediss://:") + kPassword + "@cache.tls.test:6380/0",
                "{caSecretRef: {name: other-ca}}");
  ASSERT_NO_FATAL_FAILURE(expectFailsClosed("wrongca", "TLSCertificateUntrusted"));
  EXPECT_NE(message("wrongca").find("certificate not trusted (unknown CA)"), std::string::npos)
      << message("wrongca");
  EXPECT_NE(message("wrongca").find("caSecretRef"), std::string::npos) << message("wrongca");
  // With no CA named, the system's CAs are used: the test's CA is not among them.
  externalStore("systemca", std::string("rediss://:") + kPassword + "@cache.tls.test:6380", "");
  ASSERT_NO_FATAL_FAILURE(expectFailsClosed("systemca", "TLSCertificateUntrusted"));
}

TEST_F(ExternalTlsIntegration, AHostTheCertificateDoesNotNameFailsClosedAndSaysWhich) {
  caSecret("store-ca", "tls-ca.crt");
  externalStore("wronghost", std::string("rediss://:") + kPassword + "@wrong.tls.test:6380",
                "{caSecretRef: {name: store-ca}}");
  ASSERT_NO_FATAL_FAILURE(expectFailsClosed("wronghost", "TLSHostMismatch"));
  EXPECT_NE(message("wronghost").find("certificate does not match host wrong.tls.test"),
            std::string::npos)
      << message("wronghost");
  // tls.serverName names what the certificate holds: then it verifies.
  apply(R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: wronghost}
spec:
  target: {deployment: wronghost}
  store:
    type: External
    external:
      urlSecretRef: {name: wronghost-url}
      tls: {caSecretRef: {name: store-ca}, serverName: cache.tls.test}
)");
  ASSERT_TRUE(eventually([&] { return phase("wronghost") == "Ready"; }))
      << describeStore("wronghost");
}

TEST_F(ExternalTlsIntegration, InsecureSkipVerifyConnectsAndTheStatusSaysVerificationIsOff) {
  externalStore("insecure", std::string("rediss://:") + kPassword + "@wrong.tls.test:6380",
                "{insecureSkipVerify: true}");
  ASSERT_TRUE(eventually([&] { return phase("insecure") == "Ready"; }))
      << describeStore("insecure");
  EXPECT_NE(message("insecure").find("WITHOUT certificate verification"), std::string::npos)
      << message("insecure");
  EXPECT_NE(message("insecure").find("insecureSkipVerify"), std::string::npos);
  // insecureSkipVerify with a CA is refused by the API server (the CRD's rule).
  const auto refused = inNs({"apply", "-f", "-"}, R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: contradictory}
spec:
  target: {deployment: insecure}
  store:
    type: External
    external:
      urlSecretRef: {name: insecure-url}
      tls: {insecureSkipVerify: true, caSecretRef: {name: store-ca}}
)");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.describe().find("insecureSkipVerify cannot be true with tls.caSecretRef"),
            std::string::npos)
      << refused.describe();
}

TEST_F(ExternalTlsIntegration, ADatabaseIndexThatCannotBeOneOrThatTheStoreLacksIsACondition) {
  caSecret("store-ca", "tls-ca.crt");
  externalStore("hugeindex",
                std::string("rediss://:") + kPassword + "@cache.tls.test:6380/12345678901234567890",
                "{caSecretRef: {name: store-ca}}");
  ASSERT_NO_FATAL_FAILURE(expectFailsClosed("hugeindex", "InvalidUrl"));
  EXPECT_NE(message("hugeindex").find("database index must be from 0 to"), std::string::npos)
      << message("hugeindex");
  // An index the server does not have (it has 16): SELECT is refused, and the condition says so.
  externalStore("pastindex", std::string("rediss://:") + kPassword + "@cache.tls.test:6380/16",
                "{caSecretRef: {name: store-ca}}");
  ASSERT_NO_FATAL_FAILURE(expectFailsClosed("pastindex", "DatabaseUnavailable"));
  EXPECT_NE(message("pastindex").find("SELECT 16"), std::string::npos) << message("pastindex");
  // TLS settings with a redis:// URL: refused, not silently sent in the clear.
  externalStore("plainurl", std::string("redis://:") + kPassword + "@cache.tls.test:6380",
                "{caSecretRef: {name: store-ca}}");
  ASSERT_NO_FATAL_FAILURE(expectFailsClosed("plainurl", "InvalidUrl"));
  EXPECT_NE(message("plainurl").find("use rediss://"), std::string::npos) << message("plainurl");
  for (const auto* store : {"hugeindex", "pastindex", "plainurl"}) {
    EXPECT_EQ(message(store).find(kPassword), std::string::npos) << message(store);
  }
}

TEST_F(ExternalTlsIntegration, ACaSecretThatIsMissingOrHoldsNoCertificateIsACondition) {
  externalStore("noca", std::string("rediss://:") + kPassword + "@cache.tls.test:6380",
                "{caSecretRef: {name: missing-ca}}");
  ASSERT_NO_FATAL_FAILURE(expectFailsClosed("noca", "TLSCASecretInvalid"));
  EXPECT_NE(message("noca").find("Secret missing-ca does not exist"), std::string::npos)
      << message("noca");
  ASSERT_TRUE(
      inNs({"create", "secret", "generic", "missing-ca", "--from-literal=ca.crt=not a PEM"}).ok());
  ASSERT_TRUE(eventually([&] {
    return message("noca").find("holds no PEM certificate") != std::string::npos;
  })) << describeStore("noca");
  EXPECT_TRUE(conditionIs("noca", "StoreReady", "False", "TLSCASecretInvalid"));
}

}  // namespace
}  // namespace sessionstore::testing
