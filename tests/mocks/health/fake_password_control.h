// A PasswordControl that keeps the password hashes of each user as a Redis would (no Redis): what
// the reconciler added and removed, and whether it may.
#pragma once

#include <expected>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "health/password_control.h"

namespace sessionstore::health {

class FakePasswordControl : public PasswordControl {
 public:
  std::expected<void, std::string> addPassword(const wiring::StoreEndpoint& monitor,
                                               std::string_view user,
                                               std::string_view sha256Hex) override {
    std::lock_guard lock(mu_);
    callers.push_back(monitor.username);
    hosts.push_back(monitor.host);
    if (refuse) return std::unexpected(std::string("connect: refused"));
    accepted[std::string(user)].insert(std::string(sha256Hex));
    return {};
  }
  std::expected<void, std::string> removePassword(const wiring::StoreEndpoint& monitor,
                                                  std::string_view user,
                                                  std::string_view sha256Hex) override {
    std::lock_guard lock(mu_);
    callers.push_back(monitor.username);
    hosts.push_back(monitor.host);
    if (refuse) return std::unexpected(std::string("connect: refused"));
    accepted[std::string(user)].erase(std::string(sha256Hex));
    removed.push_back(std::string(sha256Hex));
    return {};
  }

  bool refuse = false;
  std::map<std::string, std::set<std::string>> accepted;  // by user: the hashes Redis accepts
  std::vector<std::string> removed;                       // every hash removed, in order
  std::vector<std::string> callers;                       // who each call authenticated as
  std::vector<std::string> hosts;                         // where each call went

 private:
  std::mutex mu_;
};

}  // namespace sessionstore::health
