// A MemoryControl (health/memory_control.h) whose Redis is a reading the test sets: CONFIG SET
// maxmemory moves the reading's maxMemory, as Redis does, and is recorded.
#pragma once

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "health/memory_control.h"

namespace sessionstore::health {

class FakeMemoryControl : public MemoryControl {
 public:
  std::expected<MemoryReading, std::string> read(const wiring::StoreEndpoint& monitor) override {
    std::lock_guard lock(mu_);
    users.push_back(monitor.username);
    overTls.push_back(monitor.tls);
    if (!reading) return std::unexpected(std::string("connect: refused"));
    return *reading;
  }
  std::expected<void, std::string> setMaxMemory(const wiring::StoreEndpoint& monitor,
                                                std::int64_t bytes) override {
    std::lock_guard lock(mu_);
    users.push_back(monitor.username);
    if (refuseSet || refuseHosts.contains(monitor.host)) {
      return std::unexpected(std::string("NOPERM"));
    }
    sets.push_back(bytes);
    setHosts.push_back(monitor.host);
    if (reading) reading->maxMemory = bytes;
    return {};
  }

  std::optional<MemoryReading> reading;  // nullopt: the store cannot be read
  bool refuseSet = false;
  std::set<std::string> refuseHosts;  // CONFIG SET refused there only
  std::vector<std::int64_t> sets;  // every CONFIG SET maxmemory, in order
  std::vector<std::string> setHosts;  // where each was set
  std::vector<std::string> users;  // who each call authenticated as
  std::vector<bool> overTls;  // whether each read went over TLS

 private:
  std::mutex mu_;
};

}  // namespace sessionstore::health
