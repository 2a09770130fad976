// The certificate metadata the operator reads (crypto::readCertificate, on OpenSSL's PEM and X.509
// readers) from the managed store's certificate Secret: the operator's own, or cert-manager's,
// which anyone allowed to edit Secrets in the namespace can change. Its validity decides when the
// certificate is issued again, its fingerprint which certificate Redis must serve. Besides no
// crash: the answer is the same when asked twice; an accepted certificate has a PEM certificate
// block, a 64-hex-digit fingerprint and a renewal time within its validity; an error says
// is one of a few fixed texts (never the input); and no error is left in the thread's OpenSSL error
// queue (a later TLS handshake on the same thread would read it as its own).
#include <openssl/err.h>

#include <set>
#include <string>

#include "crypto/certificates.h"
#include "fuzz_input.h"
#include "managedstore/tls.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const std::string input = fuzz::text(data, size);
  const auto first = crypto::readCertificate(input);
  if (ERR_peek_error() != 0) fuzz::broken("an OpenSSL error is left in the queue");
  const auto second = crypto::readCertificate(input);
  if (first.has_value() != second.has_value() || (first && !(*first == *second))) {
    fuzz::broken("the same certificate read twice gives two answers");
  }
  if (!first) {
    // Fixed texts: nothing of the input (a Secret's content) is ever repeated.
    static const std::set<std::string> kErrors = {
        "holds no PEM certificate", "holds a certificate that does not parse",
        "a validity time that does not parse", "a validity time out of range",
        "cannot digest the certificate"};
    if (!kErrors.contains(first.error()))
      fuzz::broken("an error that is not one of the fixed texts");
    return 0;
  }
  if (input.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    fuzz::broken("a certificate read from text without a certificate block");
  }
  if (first->sha256.size() != 64 ||
      first->sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    fuzz::broken("a fingerprint that is not 64 lower-case hex digits");
  }
  if (first->notBefore <= first->notAfter) {
    const auto renewal = managedstore::renewalTime(*first);
    if (renewal < first->notBefore || renewal > first->notAfter) {
      fuzz::broken("a renewal time outside the certificate's validity");
    }
  }
  // The checks the renewal decision makes on the same text.
  (void)crypto::signedBy(input, input);
  (void)crypto::keyMatches(input, input);
  if (ERR_peek_error() != 0) fuzz::broken("an OpenSSL error is left in the queue");
  return 0;
}
