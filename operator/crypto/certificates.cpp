#include "crypto/certificates.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <climits>
#include <ctime>
#include <memory>

namespace sessionstore::crypto {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using Names = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using Constraints =
    std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>>;

Cert readCert(std::string_view pem) {
  if (pem.size() > INT_MAX) return nullptr;
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

Key readKey(std::string_view pem) {
  if (pem.size() > INT_MAX) return nullptr;
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return Key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

std::string bioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::string certPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return {};
  return bioText(bio.get());
}

std::string keyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  return bioText(bio.get());
}

Key newKey() { return Key(EVP_EC_gen("P-256")); }

bool addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// A certificate with a random serial, the validity and `subject` as its common name, for `key`.
Cert newCert(EVP_PKEY* key, std::string_view commonName, TimePoint notBefore, TimePoint notAfter) {
  Cert cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return nullptr;
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return nullptr;
  serial[0] &= 0x7f;  // positive
  serial[0] |= 0x40;  // and of full length
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return nullptr;
  }
  const auto seconds = [](TimePoint t) {
    return static_cast<time_t>(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  };
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), seconds(notBefore)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), seconds(notAfter)) == nullptr) {
    return nullptr;
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (commonName.size() > 64 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(commonName.data()),
                                 static_cast<int>(commonName.size()), -1, 0) != 1) {
    return nullptr;
  }
  if (X509_set_pubkey(cert.get(), key) != 1) return nullptr;
  return cert;
}

std::expected<TimePoint, std::string> timeOf(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return std::unexpected(std::string("a validity time that does not parse"));
  }
  const time_t seconds = timegm(&tm);
  if (seconds == static_cast<time_t>(-1) && tm.tm_year != 69) {
    return std::unexpected(std::string("a validity time out of range"));
  }
  // A certificate may say any time from year 0 to 9999 (RFC 5280 even gives 9999-12-31 a
  // meaning); system_clock counts nanoseconds and ends in 2262. Times are clamped to
  // [1970, the clock's last whole second]: what matters here is only whether a time has come,
  // and neither end is reached by a renewal decision. It also keeps notAfter - notBefore
  // representable.
  using std::chrono::duration_cast;
  const auto last = duration_cast<std::chrono::seconds>(TimePoint::max().time_since_epoch());
  if (seconds < 0) return TimePoint{};
  if (seconds >= last.count()) return TimePoint(duration_cast<TimePoint::duration>(last));
  return TimePoint(duration_cast<TimePoint::duration>(std::chrono::seconds(seconds)));
}

// OpenSSL's error queue is per thread and read by whoever looks next (the TLS channel names the
// error it finds there): what these functions leave in it is cleared on the way out.
struct ClearErrors {
  ~ClearErrors() { ERR_clear_error(); }
};

}  // namespace

std::expected<KeyAndCertificate, std::string> makeCertificateAuthority(std::string_view commonName,
                                                                       TimePoint notBefore,
                                                                       TimePoint notAfter) {
  const ClearErrors clear;
  if (!(notBefore < notAfter))
    return std::unexpected(std::string("notBefore is not before notAfter"));
  Key key = newKey();
  if (!key) return std::unexpected(std::string("cannot generate the CA's key"));
  Cert cert = newCert(key.get(), commonName, notBefore, notAfter);
  if (!cert) return std::unexpected(std::string("cannot build the CA's certificate"));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1 ||
      !addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !addExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return std::unexpected(std::string("cannot sign the CA's certificate"));
  }
  KeyAndCertificate out{.certificatePem = certPem(cert.get()), .privateKeyPem = keyPem(key.get())};
  if (out.certificatePem.empty() || out.privateKeyPem.empty()) {
    return std::unexpected(std::string("cannot write the CA as PEM"));
  }
  return out;
}

std::expected<KeyAndCertificate, std::string> issueServerCertificate(
    const KeyAndCertificate& ca, const std::vector<std::string>& dnsNames, TimePoint notBefore,
    TimePoint notAfter) {
  const ClearErrors clear;
  if (dnsNames.empty()) return std::unexpected(std::string("no DNS name to certify"));
  if (!(notBefore < notAfter))
    return std::unexpected(std::string("notBefore is not before notAfter"));
  Cert caCert = readCert(ca.certificatePem);
  if (!caCert) return std::unexpected(std::string("the CA certificate does not parse"));
  Key caKey = readKey(ca.privateKeyPem);
  if (!caKey) return std::unexpected(std::string("the CA key does not parse"));
  if (X509_check_private_key(caCert.get(), caKey.get()) != 1) {
    return std::unexpected(std::string("the CA key is not the CA certificate's"));
  }
  Key key = newKey();
  if (!key) return std::unexpected(std::string("cannot generate the server key"));
  Cert cert = newCert(key.get(), dnsNames.front(), notBefore, notAfter);
  if (!cert) return std::unexpected(std::string("cannot build the server certificate"));
  std::string san;
  for (const std::string& name : dnsNames) {
    if (name.empty() || name.find_first_of(",:\n\r ") != std::string::npos) {
      return std::unexpected("not a DNS name: \"" + name + "\"");
    }
    san += (san.empty() ? "DNS:" : ",DNS:") + name;
  }
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(caCert.get())) != 1 ||
      !addExtension(cert.get(), caCert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(cert.get(), caCert.get(), NID_key_usage,
                    "critical,digitalSignature,keyEncipherment") ||
      !addExtension(cert.get(), caCert.get(), NID_ext_key_usage, "serverAuth") ||
      !addExtension(cert.get(), caCert.get(), NID_subject_alt_name, san.c_str()) ||
      !addExtension(cert.get(), caCert.get(), NID_authority_key_identifier, "keyid:always") ||
      X509_sign(cert.get(), caKey.get(), EVP_sha256()) == 0) {
    return std::unexpected(std::string("cannot sign the server certificate"));
  }
  KeyAndCertificate out{.certificatePem = certPem(cert.get()), .privateKeyPem = keyPem(key.get())};
  if (out.certificatePem.empty() || out.privateKeyPem.empty()) {
    return std::unexpected(std::string("cannot write the server certificate as PEM"));
  }
  return out;
}

std::expected<CertificateInfo, std::string> readCertificate(std::string_view pem) {
  const ClearErrors clear;
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string_view::npos) {
    return std::unexpected(std::string("holds no PEM certificate"));
  }
  Cert cert = readCert(pem);
  if (!cert) return std::unexpected(std::string("holds a certificate that does not parse"));
  CertificateInfo info;
  auto notBefore = timeOf(X509_get0_notBefore(cert.get()));
  if (!notBefore) return std::unexpected(notBefore.error());
  auto notAfter = timeOf(X509_get0_notAfter(cert.get()));
  if (!notAfter) return std::unexpected(notAfter.error());
  info.notBefore = *notBefore;
  info.notAfter = *notAfter;
  int critical = 0;
  Names names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, &critical, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
      if (name->type != GEN_DNS) continue;
      const ASN1_IA5STRING* text = name->d.dNSName;
      info.dnsNames.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                                 static_cast<std::size_t>(ASN1_STRING_length(text)));
    }
  }
  Constraints constraints(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, &critical, nullptr)));
  info.isCa = constraints && constraints->ca != 0;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest, &size) != 1) {
    return std::unexpected(std::string("cannot digest the certificate"));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < size; ++i) {
    info.sha256 += kHex[digest[i] >> 4];
    info.sha256 += kHex[digest[i] & 0xF];
  }
  return info;
}

bool signedBy(std::string_view certificatePem, std::string_view caPem) {
  const ClearErrors clear;
  Cert cert = readCert(certificatePem);
  Cert ca = readCert(caPem);
  if (!cert || !ca) return false;
  if (X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(ca.get())) != 0) {
    return false;
  }
  EVP_PKEY* caKey = X509_get0_pubkey(ca.get());
  return caKey != nullptr && X509_verify(cert.get(), caKey) == 1;
}

bool keyMatches(std::string_view certificatePem, std::string_view privateKeyPem) {
  const ClearErrors clear;
  Cert cert = readCert(certificatePem);
  Key key = readKey(privateKeyPem);
  return cert && key && X509_check_private_key(cert.get(), key.get()) == 1;
}

}  // namespace sessionstore::crypto
