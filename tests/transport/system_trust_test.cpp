// The system's CAs kept out of OpenSSL's default paths and loaded where asked. A process of its
// own (it changes the environment).
#include "transport/system_trust.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

namespace sessionstore::transport {
namespace {

struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using Ctx = std::unique_ptr<SSL_CTX, CtxFree>;

Ctx newCtx() { return Ctx(SSL_CTX_new(TLS_client_method())); }

// Certificates held in the context's store now (a hashed directory loads lazily: not counted).
int certificatesIn(SSL_CTX* ctx) {
  int n = 0;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    n += X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_X509;
  }
  return n;
}

TEST(SystemTrust, DefaultPathsNameNothingAfterTheStopAndTheSystemsCasLoadOnRequest) {
  const TrustPaths before = systemTrustPaths();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(before.file, ec)) {
    GTEST_FAIL() << "this test needs the system's CA bundle at " << before.file
                 << " (Debian: apt-get install ca-certificates; scripts/setup installs it)";
  }
  {
    const Ctx ctx = newCtx();
    ASSERT_EQ(SSL_CTX_set_default_verify_paths(ctx.get()), 1);
    EXPECT_GT(certificatesIn(ctx.get()), 10) << "the bundle loads before the stop";
  }
  EXPECT_FALSE(defaultTrustStopped());

  stopDefaultTrustLoading();

  EXPECT_TRUE(defaultTrustStopped());
  EXPECT_EQ(systemTrustPaths().file, before.file) << "remembered as the process started";
  EXPECT_EQ(systemTrustPaths().dir, before.dir);
  const Ctx defaults = newCtx();
  SSL_CTX_set_default_verify_paths(defaults.get());  // as cpprestsdk does for each connection
  EXPECT_EQ(certificatesIn(defaults.get()), 0);

  const Ctx loaded = newCtx();
  EXPECT_TRUE(loadSystemTrust(loaded.get()));
  EXPECT_GT(certificatesIn(loaded.get()), 10);
}

}  // namespace
}  // namespace sessionstore::transport
