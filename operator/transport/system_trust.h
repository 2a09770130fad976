// The system's trusted certificate authorities, loaded only where they are wanted.
//
// cpprestsdk loads OpenSSL's default verify paths into every connection's context before the
// operator's callback can say otherwise. On Debian that parses the whole ca-certificates bundle
// (/usr/lib/ssl/cert.pem, about 140 certificates) for each connection, and every watch holds a
// connection: measured idle, with nine watches, 22.5 to 23.0 MiB resident against 18.1 to 18.3
// MiB when the defaults name nothing (README, "What the watches cost"). Connections to the API
// server trust its CA alone, so the system bundle was parsed to be thrown away.
//
// OpenSSL reads the default paths from SSL_CERT_FILE and SSL_CERT_DIR each time it loads them,
// which is the one hook cpprestsdk leaves: stopDefaultTrustLoading() points both at nothing for
// the process, after remembering where they pointed, and connections that do want the system's
// CAs (an API server or a Prometheus without a CA of its own, a rediss:// store) load them from
// systemTrustPaths() with loadSystemTrust().
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace sessionstore::transport {

struct TrustPaths {
  std::string file;  // a PEM bundle
  std::string dir;   // a hashed directory (c_rehash)
};

// Where the system's CAs are, as the process started: SSL_CERT_FILE and SSL_CERT_DIR when set,
// else OpenSSL's built-in defaults.
const TrustPaths& systemTrustPaths();

// Makes OpenSSL's default verify paths name nothing, for the whole process.
// REQUIRES: called once, before any thread that uses OpenSSL or reads the environment starts.
void stopDefaultTrustLoading();

// Whether stopDefaultTrustLoading() ran: only then must a context load the system's CAs itself.
bool defaultTrustStopped();

// Adds the system's CAs (systemTrustPaths()) to ctx's trust store. Returns false when neither
// the bundle nor the directory could be used.
bool loadSystemTrust(SSL_CTX* ctx);

}  // namespace sessionstore::transport
