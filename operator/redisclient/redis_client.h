// Talks to a session store the way the operator needs to (PRODUCT.md item 2, and the load
// signals of autoscaling): connect with a timeout, AUTH, PING, INFO, CONFIG GET maxclients, and
// count the keys under a prefix with SCAN (never KEYS, so Redis is not blocked). "StoreReady"
// means these answered, not that a pod exists. On hiredis; one connection per Session, not
// thread-safe, unusable after an error (open a new one), and it never logs the password.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;

namespace sessionstore::redisclient {

struct Endpoint {
  std::string host;
  int port = 6379;
  std::string username;  // "" authenticates as the default user (AUTH password)
  std::string password;  // "" skips AUTH
  bool tls = false;      // rediss://: not supported by hiredis 0.14 (an error says so)
  std::chrono::milliseconds connectTimeout{2000};
  std::chrono::milliseconds commandTimeout{2000};
};

// Parses redis[s]://[user[:password]@]host[:port][/db]; the error says what is wrong (and never
// repeats the password).
std::expected<Endpoint, std::string> parseRedisUrl(std::string_view url);

// INFO's "key:value" lines (sections and comments skipped).
std::map<std::string, std::string> parseInfo(std::string_view text);

// A glob pattern matching exactly the keys that start with `prefix` (glob characters escaped).
std::string prefixPattern(std::string_view prefix);

class Session {
 public:
  // Connects and authenticates. Errors: "connect: ...", "AUTH: WRONGPASS ...", "TLS ...".
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
  // or protocol error (a timeout, the server gone) does not (hiredis).
  bool usable() const;
  // Any command, for tests and tools; returns the reply rendered as text.
  std::expected<std::string, std::string> command(const std::vector<std::string>& args);

 private:
  explicit Session(redisContext* context) : context_(context) {}
  redisContext* context_;
};

}  // namespace sessionstore::redisclient
