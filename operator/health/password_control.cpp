#include "health/password_control.h"

#include <utility>
#include <vector>

#include "redisclient/redis_client.h"

namespace sessionstore::health {
namespace {

class RedisPasswordControl final : public PasswordControl {
 public:
  RedisPasswordControl(std::shared_ptr<AddressMap> addresses, std::chrono::milliseconds timeout)
      : addresses_(std::move(addresses)), timeout_(timeout) {}

  std::expected<void, std::string> addPassword(const wiring::StoreEndpoint& monitor,
                                               std::string_view user,
                                               std::string_view sha256Hex) override {
    return setUser(monitor, user, "#" + std::string(sha256Hex), "add a password");
  }

  std::expected<void, std::string> removePassword(const wiring::StoreEndpoint& monitor,
                                                  std::string_view user,
                                                  std::string_view sha256Hex) override {
    // "!<hash>" removes a hash ("<" would take a password in clear). Redis answers an error when
    // the user has no such password: that is what was wanted (a removal repeated), so no error.
    auto removed = setUser(monitor, user, "!" + std::string(sha256Hex), "remove a password");
    if (!removed && removed.error().find("does not exist") != std::string::npos) return {};
    return removed;
  }

 private:
  std::expected<void, std::string> setUser(const wiring::StoreEndpoint& monitor,
                                           std::string_view user, const std::string& rule,
                                           const std::string& what) {
    auto session = open(monitor);
    if (!session) return std::unexpected(session.error());
    // The error names the user and what was meant, never the rule (it holds a hash).
    auto set = (*session)->command({"ACL", "SETUSER", std::string(user), rule});
    if (!set)
      return std::unexpected("ACL SETUSER " + std::string(user) + " (" + what +
                             "): " + set.error());
    if (*set != "OK") {
      return std::unexpected("ACL SETUSER " + std::string(user) + " (" + what +
                             "): unexpected answer");
    }
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

std::unique_ptr<PasswordControl> redisPasswordControl(std::shared_ptr<AddressMap> addresses,
                                                      std::chrono::milliseconds timeout) {
  return std::make_unique<RedisPasswordControl>(std::move(addresses), timeout);
}

}  // namespace sessionstore::health
