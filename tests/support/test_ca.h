// A certificate authority made by a test, with OpenSSL's C API (no shell, no openssl command):
// an EC P-256 key and a self-signed CA certificate valid for a day, and server certificates it
// signs with the subject alternative names the test chooses. For TLS tests against a real
// redis-server: the right CA, a wrong CA (another TestCa), a certificate for the wrong name.
// Throws std::runtime_error when OpenSSL fails.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace sessionstore::testing {

struct IssuedCertificate {
  std::string certPem;
  std::string keyPem;  // unencrypted PKCS#8; a test key, never a real one
};

class TestCa {
 public:
  explicit TestCa(const std::string& commonName);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& certPem() const { return certPem_; }
  // A server certificate (serverAuth) for `dnsNames` and `ipAddresses` (its SANs), signed by
  // this CA.
  IssuedCertificate issue(const std::string& commonName, const std::vector<std::string>& dnsNames,
                          const std::vector<std::string>& ipAddresses) const;

 private:
  struct State;  // the key and the certificate (OpenSSL objects, freed with it)
  std::unique_ptr<State> state_;
  std::string certPem_;
};

// Writes `text` to `path` (mode 0600); throws when it cannot.
void writeTextFile(const std::string& path, const std::string& text);

}  // namespace sessionstore::testing
