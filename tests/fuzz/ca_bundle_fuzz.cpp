// The CA bundle a user puts in the Secret that spec.store.external.tls.caSecretRef names, as
// redisclient::countPemCertificates reads it (OpenSSL's PEM and X.509 parsers) before the bundle
// is trusted. Besides no crash: a bundle counted as holding certificates has a PEM certificate
// block, the answer is the same when asked twice, and no error is left in the thread's OpenSSL
// error queue (a later TLS handshake on the same thread would read it as its own).
#include <openssl/err.h>

#include "fuzz_input.h"
#include "redisclient/channel.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const std::string input = fuzz::text(data, size);
  const auto first = redisclient::countPemCertificates(input);
  if (ERR_peek_error() != 0) fuzz::broken("an OpenSSL error is left in the queue");
  if (first && (*first < 1 || input.find("-----BEGIN CERTIFICATE-----") == std::string::npos)) {
    fuzz::broken("a bundle without a certificate block counted as holding certificates");
  }
  if (!first && first.error().empty()) fuzz::broken("an error that says nothing");
  const auto second = redisclient::countPemCertificates(input);
  if (first.has_value() != second.has_value() || (first && *first != *second)) {
    fuzz::broken("the same bundle read twice gives two answers");
  }
  return 0;
}
