#include "health/memory_control.h"

#include <charconv>
#include <map>
#include <utility>
#include <vector>

#include "redisclient/redis_client.h"

namespace sessionstore::health {
namespace {

std::expected<std::int64_t, std::string> number(const std::map<std::string, std::string>& info,
                                                const std::string& key) {
  const auto it = info.find(key);
  if (it == info.end()) return std::unexpected("INFO has no " + key);
  std::int64_t value = 0;
  const auto [end, ec] =
      std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  if (ec != std::errc() || end != it->second.data() + it->second.size()) {
    return std::unexpected("INFO " + key + " is not a number");
  }
  return value;
}

class RedisMemoryControl final : public MemoryControl {
 public:
  RedisMemoryControl(std::shared_ptr<AddressMap> addresses, std::chrono::milliseconds timeout)
      : addresses_(std::move(addresses)), timeout_(timeout) {}

  std::expected<MemoryReading, std::string> read(const wiring::StoreEndpoint& monitor) override {
    auto session = open(monitor);
    if (!session) return std::unexpected(session.error());
    auto info = (*session)->info();
    if (!info) return std::unexpected("INFO: " + info.error());
    auto used = number(*info, "used_memory");
    if (!used) return std::unexpected(used.error());
    auto max = number(*info, "maxmemory");
    if (!max) return std::unexpected(max.error());
    return MemoryReading{.usedMemory = *used, .maxMemory = *max};
  }

  std::expected<void, std::string> setMaxMemory(const wiring::StoreEndpoint& monitor,
                                                std::int64_t bytes) override {
    auto session = open(monitor);
    if (!session) return std::unexpected(session.error());
    auto set = (*session)->command({"CONFIG", "SET", "maxmemory", std::to_string(bytes)});
    if (!set) return std::unexpected("CONFIG SET maxmemory: " + set.error());
    if (*set != "OK") return std::unexpected("CONFIG SET maxmemory: unexpected answer");
    return {};
  }

 private:
  std::expected<std::unique_ptr<redisclient::Session>, std::string> open(
      const wiring::StoreEndpoint& e) {
    return redisclient::Session::open(sessionEndpoint(e, addresses_.get(), timeout_));
  }

  const std::shared_ptr<AddressMap> addresses_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<MemoryControl> redisMemoryControl(std::shared_ptr<AddressMap> addresses,
                                                  std::chrono::milliseconds timeout) {
  return std::make_unique<RedisMemoryControl>(std::move(addresses), timeout);
}

}  // namespace sessionstore::health
