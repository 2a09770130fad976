#include "health/store_prober.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <utility>

#include "health/store_link.h"

namespace sessionstore::health {
namespace {

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

// One probe is a link used once: connect, AUTH, PING, then the figures.
class RedisProber final : public StoreProber {
 public:
  RedisProber(std::shared_ptr<AddressMap> addresses, std::chrono::milliseconds timeout)
      : links_(redisLinks(std::move(addresses), timeout)) {}

  ProbeResult probe(const wiring::StoreEndpoint& app,
                    const std::optional<wiring::StoreEndpoint>& monitor) override {
    const auto link = links_(app, monitor);
    ProbeResult result = link->ping();
    if (result.ok) addFigures(result, link->figures());
    return result;
  }

 private:
  const StoreLinkFactory links_;
};

}  // namespace

std::expected<std::pair<std::string, int>, std::string> parseHostPort(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::unexpected("\"" + std::string(text) + "\" is not HOST:PORT");
  }
  std::string host(text.substr(0, colon));
  if (host.front() == '[') {
    if (host.back() != ']') return std::unexpected("\"" + std::string(text) + "\": missing ]");
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view portText = text.substr(colon + 1);
  int port = 0;
  const auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || port < 1 || port > 65535) {
    return std::unexpected("\"" + std::string(text) + "\": the port must be 1 to 65535");
  }
  return std::pair{host, port};
}

std::expected<std::shared_ptr<AddressMap>, std::string> AddressMap::open(
    std::filesystem::path path) {
  std::shared_ptr<AddressMap> map(new AddressMap(std::move(path)));
  if (!map->path_.empty()) {
    if (auto loaded = map->reload(); !loaded) return std::unexpected(loaded.error());
  }
  return map;
}

std::expected<void, std::string> AddressMap::reload() {
  std::error_code ec;
  const auto modified = std::filesystem::last_write_time(path_, ec);
  if (ec) return std::unexpected(path_.string() + ": " + ec.message());
  {
    std::lock_guard lock(mu_);
    if (modified == loadedAt_ && loadedAt_ != std::filesystem::file_time_type{}) return {};
  }
  std::ifstream in(path_);
  if (!in) return std::unexpected(path_.string() + ": cannot be read");
  std::map<std::string, std::pair<std::string, int>> entries;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    std::istringstream words(text);
    std::string from, to, extra;
    words >> from >> to >> extra;
    const std::string where = path_.string() + ":" + std::to_string(number) + ": ";
    if (to.empty() || !extra.empty()) {
      return std::unexpected(where + "expected \"IN-CLUSTER-HOST:PORT LOCAL-HOST:PORT\"");
    }
    auto key = parseHostPort(from);
    if (!key) return std::unexpected(where + key.error());
    auto value = parseHostPort(to);
    if (!value) return std::unexpected(where + value.error());
    entries[key->first + ":" + std::to_string(key->second)] = *value;
  }
  std::lock_guard lock(mu_);
  entries_ = std::move(entries);
  loadedAt_ = modified;
  error_.clear();
  return {};
}

redisclient::Endpoint sessionEndpoint(const wiring::StoreEndpoint& e, AddressMap* addresses,
                                      std::chrono::milliseconds timeout) {
  auto [host, port] =
      addresses != nullptr ? addresses->resolve(e.host, e.port) : std::pair{e.host, e.port};
  return {.host = host,
          .port = port,
          .username = e.username,
          .password = e.password,
          .tls = e.tls,
          .database = e.database,
          .verification = {.serverName = e.tlsServerName.empty() ? e.host : e.tlsServerName,
                           .caPem = e.tlsCaPem,
                           .insecureSkipVerify = e.tlsInsecureSkipVerify},
          .connectTimeout = timeout,
          .commandTimeout = timeout};
}

std::pair<std::string, int> AddressMap::resolve(const std::string& host, int port) {
  if (!path_.empty()) {
    if (auto loaded = reload(); !loaded) {
      std::lock_guard lock(mu_);
      error_ = loaded.error();
    }
  }
  std::lock_guard lock(mu_);
  const auto it = entries_.find(host + ":" + std::to_string(port));
  return it == entries_.end() ? std::pair{host, port} : it->second;
}

std::string AddressMap::lastError() const {
  std::lock_guard lock(mu_);
  return error_;
}

std::unique_ptr<StoreProber> makeRedisProber(std::shared_ptr<AddressMap> addresses,
                                             std::chrono::milliseconds timeout) {
  return std::make_unique<RedisProber>(std::move(addresses), timeout);
}

}  // namespace sessionstore::health
