// What a Redis store and its user give the operator: the INFO answer (redisclient::parseInfo) and
// the connection URL from the user's Secret (redisclient::parseRedisUrl). An error about a URL
// never repeats the URL's password; an accepted URL's database index is one Redis could have, and
// the URL the app is given (host, port, /db) reads back to the same endpoint.
#include <optional>
#include <utility>

#include "fuzz_input.h"
#include "redisclient/redis_client.h"

namespace {

// Where the password of redis://user:PASSWORD@host... is in `url`, when it has that shape.
std::optional<std::pair<std::size_t, std::size_t>> passwordSpan(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return std::nullopt;
  const auto start = scheme + 3;
  const auto slash = url.find('/', start);
  const auto end = slash == std::string::npos ? url.size() : slash;
  const auto at = url.rfind('@', end == 0 ? 0 : end - 1);
  if (at == std::string::npos || at < start) return std::nullopt;
  const auto colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return std::nullopt;
  return std::pair{colon + 1, at - colon - 1};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const std::string input = fuzz::text(data, size);
  const auto info = redisclient::parseInfo(input);
  for (const auto& [key, value] : info) {
    if (key.find('\n') != std::string::npos) fuzz::broken("an INFO key holds a newline");
  }
  const auto endpoint = redisclient::parseRedisUrl(input);
  if (endpoint && endpoint->host.empty()) fuzz::broken("an endpoint without a host");
  if (endpoint && (endpoint->database < 0 || endpoint->database > redisclient::kMaxDatabase)) {
    fuzz::broken("an accepted database index Redis cannot have");
  }
  if (endpoint) {
    // As wiring::redisUrl writes it for the app (credentials aside): it must read back the same.
    const bool v6 = endpoint->host.find(':') != std::string::npos;
    const std::string wired = std::string(endpoint->tls ? "rediss://" : "redis://") +
                              (v6 ? "[" + endpoint->host + "]" : endpoint->host) + ":" +
                              std::to_string(endpoint->port) + "/" +
                              std::to_string(endpoint->database);
    const auto again = redisclient::parseRedisUrl(wired);
    if (!again || again->host != endpoint->host || again->port != endpoint->port ||
        again->database != endpoint->database || again->tls != endpoint->tls) {
      fuzz::broken("the wired URL does not read back to the same endpoint");
    }
  }
  // The same URL with its password swapped for a marker no message could hold by chance: an
  // error that quotes the marker would quote a real password too.
  if (const auto span = passwordSpan(input)) {
    std::string marked = input;
    marked.replace(span->first, span->second, "Pw7mArKeR");
    const auto withMarker = redisclient::parseRedisUrl(marked);
    if (!withMarker && withMarker.error().find("Pw7mArKeR") != std::string::npos) {
      fuzz::broken("a URL error repeats the password");
    }
  }
  return 0;
}
