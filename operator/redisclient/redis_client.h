// Talks to a session store the way the operator needs to (PRODUCT.md item 2, and the load
// signals of autoscaling): connect with a timeout, over TLS for rediss://, AUTH, SELECT the URL's
// database, PING, INFO, CONFIG GET maxclients, and count the keys under a prefix with SCAN (never
// KEYS, so Redis is not blocked). "StoreReady" means these answered, not that a pod exists.
//
// No Redis protocol is written here: hiredis encodes the commands (redisFormatCommandArgv) and
// parses the replies (redisReader); the bytes go through a Channel (channel.h), a socket with
// OpenSSL over it for TLS, because Debian's hiredis 0.14 has no TLS of its own. Plain and TLS
// connections are one Session with the same timeouts. One connection per Session, not
// thread-safe, unusable after an I/O or protocol error (open a new one), and it never logs the
// password.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionstore::redisclient {

// The largest database index a URL may name: Redis keeps the number of databases in an int and
// SELECT takes an index below it. A server configured with fewer refuses SELECT (an error that
// starts with kErrorSelect).
inline constexpr std::int64_t kMaxDatabase = 2147483646;

// How a rediss:// connection is verified. Verification is on unless insecureSkipVerify.
struct TlsVerification {
  std::string serverName;  // the name SNI carries and the certificate must match; "" = host
  std::string caPem;       // the CAs to trust (PEM); "" = the system's CAs
  bool insecureSkipVerify = false;  // UNSAFE: any certificate is accepted
  bool operator==(const TlsVerification&) const = default;
};

struct Endpoint {
  std::string host;
  int port = 6379;
  std::string username;  // "" authenticates as the default user (AUTH password)
  std::string password;  // "" skips AUTH
  bool tls = false;      // rediss://
  int database = 0;      // SELECTed after AUTH when not 0
  TlsVerification verification;  // with tls only
  std::chrono::milliseconds connectTimeout{2000};  // TCP connect and TLS handshake
  std::chrono::milliseconds commandTimeout{2000};  // each command (AUTH and SELECT included)
  bool operator==(const Endpoint&) const = default;
};

// How open()'s errors start, for a caller that maps them to a condition's reason. Every TLS
// failure starts with kErrorTls; the two a user fixes differently have their own prefixes.
inline constexpr std::string_view kErrorAuth = "AUTH: ";
inline constexpr std::string_view kErrorSelect = "SELECT ";
inline constexpr std::string_view kErrorTls = "TLS";
inline constexpr std::string_view kErrorTlsUntrusted = "TLS: certificate not trusted";
inline constexpr std::string_view kErrorTlsHostMismatch = "TLS: certificate does not match";
inline constexpr std::string_view kErrorTlsVerify = "TLS: certificate verification failed";

// Parses redis[s]://[user[:password]@]host[:port][/db]: db a decimal number from 0 to
// kMaxDatabase ("" or "/" is 0). Query parameters and fragments are refused (TLS settings live in
// the SessionStore's spec, not in the URL). The error says what is wrong (and never repeats the
// password).
std::expected<Endpoint, std::string> parseRedisUrl(std::string_view url);

// INFO's "key:value" lines (sections and comments skipped).
std::map<std::string, std::string> parseInfo(std::string_view text);

// A glob pattern matching exactly the keys that start with `prefix` (glob characters escaped).
std::string prefixPattern(std::string_view prefix);

class Session {
 public:
  // Connects (TLS for endpoint.tls, verified as endpoint.verification says), authenticates and
  // selects the database. Errors: "connect to H:P: ...", "AUTH: WRONGPASS ...", "SELECT 5: ...",
  // and "TLS..." (the prefixes above).
  static std::expected<std::unique_ptr<Session>, std::string> open(const Endpoint& endpoint);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  std::expected<void, std::string> ping();
  std::expected<std::map<std::string, std::string>, std::string> info();
  // CONFIG GET maxclients; nullopt when the server does not allow it (managed services often
  // deny CONFIG).
  std::expected<std::optional<int64_t>, std::string> maxClients();
  // Keys that start with `prefix`, counted with SCAN MATCH in batches of `batch`.
  std::expected<int64_t, std::string> countKeys(std::string_view prefix, int batch = 1000);
  // Whether the connection can still be used: an error reply (NOPERM) leaves it usable, an I/O
  // or protocol error (a timeout, the server gone) does not.
  bool usable() const;
  // The room the connection keeps to read replies into (for tests: it stays as small as the
  // replies between commands).
  std::size_t readBufferBytes() const;
  // The SHA-256 (hex) of the certificate the server showed when this connection was opened; ""
  // without TLS.
  std::string peerCertificateSha256() const;
  // Any command, for tests and tools; returns the reply rendered as text.
  std::expected<std::string, std::string> command(const std::vector<std::string>& args);

 private:
  struct Connection;  // the channel, hiredis's reader and the broken flag (redis_client.cpp)
  explicit Session(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> connection_;
};

}  // namespace sessionstore::redisclient
