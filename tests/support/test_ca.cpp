#include "test_ca.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <stdexcept>

namespace sessionstore::testing {

namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct ExtDeleter {
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("TestCa: ") + what + " failed");
}

std::unique_ptr<EVP_PKEY, PkeyDeleter> newKey() {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  check(key != nullptr, "EC key generation");
  return key;
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtDeleter> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  check(ext != nullptr, "extension");
  check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

// A certificate for `key` named `commonName`, valid from a minute ago for a day, with a random
// serial; signed later.
std::unique_ptr<X509, X509Deleter> newCertificate(EVP_PKEY* key, const std::string& commonName) {
  std::unique_ptr<X509, X509Deleter> cert(X509_new());
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
  unsigned char serial[16];
  check(RAND_bytes(serial, sizeof serial) == 1, "RAND_bytes");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  check(bn != nullptr, "BN_bin2bn");
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(commonName.c_str()), -1,
                                   -1, 0) == 1,
        "subject name");
  return cert;
}

std::string toPem(X509* cert) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string toPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace

struct TestCa::State {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey;
  std::unique_ptr<X509, X509Deleter> cert;
};

TestCa::TestCa(const std::string& commonName) : state_(new State{newKey(), nullptr}) {
  auto cert = newCertificate(state_->pkey.get(), commonName);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) == 1, "issuer");
  addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  addExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  check(X509_sign(cert.get(), state_->pkey.get(), EVP_sha256()) > 0, "X509_sign");
  certPem_ = toPem(cert.get());
  state_->cert = std::move(cert);
}

TestCa::~TestCa() = default;

IssuedCertificate TestCa::issue(const std::string& commonName,
                                const std::vector<std::string>& dnsNames,
                                const std::vector<std::string>& ipAddresses) const {
  X509* caCert = state_->cert.get();
  auto key = newKey();
  auto cert = newCertificate(key.get(), commonName);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(caCert)) == 1, "issuer");
  addExtension(cert.get(), caCert, NID_basic_constraints, "critical,CA:FALSE");
  addExtension(cert.get(), caCert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  addExtension(cert.get(), caCert, NID_ext_key_usage, "serverAuth");
  addExtension(cert.get(), caCert, NID_authority_key_identifier, "keyid");
  std::string sans;
  for (const auto& name : dnsNames) sans += (sans.empty() ? "" : ",") + ("DNS:" + name);
  for (const auto& ip : ipAddresses) sans += (sans.empty() ? "" : ",") + ("IP:" + ip);
  if (!sans.empty()) addExtension(cert.get(), caCert, NID_subject_alt_name, sans);
  check(X509_sign(cert.get(), state_->pkey.get(), EVP_sha256()) > 0, "X509_sign");
  return {.certPem = toPem(cert.get()), .keyPem = toPem(key.get())};
}

void writeTextFile(const std::string& path, const std::string& text) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  ::chmod(path.c_str(), 0600);
}

}  // namespace sessionstore::testing
