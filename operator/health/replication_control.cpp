#include "health/replication_control.h"

#include <utility>
#include <vector>

#include "redisclient/redis_client.h"

namespace sessionstore::health {
namespace {

class RedisReplicationControl final : public ReplicationControl {
 public:
  RedisReplicationControl(std::shared_ptr<AddressMap> addresses, std::chrono::milliseconds timeout)
      : addresses_(std::move(addresses)), timeout_(timeout) {}

  std::expected<std::string, std::string> info(const wiring::StoreEndpoint& monitor) override {
    auto session = open(monitor);
    if (!session) return std::unexpected(session.error());
    auto answer = (*session)->command({"INFO", "replication"});
    if (!answer) return std::unexpected("INFO replication: " + answer.error());
    return *answer;
  }

  std::expected<void, std::string> replicaOf(const wiring::StoreEndpoint& monitor,
                                             const std::string& host, int port) override {
    return run(monitor, {"REPLICAOF", host, std::to_string(port)});
  }

  std::expected<void, std::string> promote(const wiring::StoreEndpoint& monitor) override {
    return run(monitor, {"REPLICAOF", "NO", "ONE"});
  }

  std::pair<std::string, int> peerAddress(const std::string& host, int port) override {
    return addresses_ ? addresses_->resolve(host, port) : std::pair<std::string, int>{host, port};
  }

 private:
  std::expected<void, std::string> run(const wiring::StoreEndpoint& monitor,
                                       const std::vector<std::string>& args) {
    auto session = open(monitor);
    if (!session) return std::unexpected(session.error());
    auto answer = (*session)->command(args);
    const std::string what = args.size() == 3 && args[1] == "NO" ? "REPLICAOF NO ONE" : "REPLICAOF";
    if (!answer) return std::unexpected(what + ": " + answer.error());
    // "OK", or "OK Already connected to specified master".
    if (!answer->starts_with("OK")) return std::unexpected(what + ": unexpected answer");
    return {};
  }

  std::expected<std::unique_ptr<redisclient::Session>, std::string> open(
      const wiring::StoreEndpoint& e) {
    return redisclient::Session::open(sessionEndpoint(e, addresses_.get(), timeout_));
  }

  const std::shared_ptr<AddressMap> addresses_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<ReplicationControl> redisReplicationControl(std::shared_ptr<AddressMap> addresses,
                                                            std::chrono::milliseconds timeout) {
  return std::make_unique<RedisReplicationControl>(std::move(addresses), timeout);
}

}  // namespace sessionstore::health
