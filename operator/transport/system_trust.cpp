#include "transport/system_trust.h"

#include <openssl/x509.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

namespace sessionstore::transport {

namespace {

// A path that cannot exist: a file under a regular file's name would need /dev/null to be a
// directory.
constexpr const char* kNowhere = "/dev/null/sessionstore-operator-loads-its-trust-explicitly";

std::atomic<bool> stopped{false};

std::string fromEnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::string(fallback);
}

}  // namespace

const TrustPaths& systemTrustPaths() {
  static const TrustPaths paths{
      .file = fromEnvOr(X509_get_default_cert_file_env(), X509_get_default_cert_file()),
      .dir = fromEnvOr(X509_get_default_cert_dir_env(), X509_get_default_cert_dir())};
  return paths;
}

void stopDefaultTrustLoading() {
  systemTrustPaths();  // remembered before they are changed
  ::setenv(X509_get_default_cert_file_env(), kNowhere, 1);
  ::setenv(X509_get_default_cert_dir_env(), kNowhere, 1);
  stopped = true;
}

bool defaultTrustStopped() { return stopped; }

bool loadSystemTrust(SSL_CTX* ctx) {
  const TrustPaths& paths = systemTrustPaths();
  std::error_code ec;
  const bool file = !paths.file.empty() && std::filesystem::is_regular_file(paths.file, ec) &&
                    SSL_CTX_load_verify_file(ctx, paths.file.c_str()) == 1;
  const bool dir = !paths.dir.empty() && std::filesystem::is_directory(paths.dir, ec) &&
                   SSL_CTX_load_verify_dir(ctx, paths.dir.c_str()) == 1;
  return file || dir;
}

}  // namespace sessionstore::transport
