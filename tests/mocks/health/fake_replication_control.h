// A ReplicationControl (health/replication_control.h) over Redis pods the test sets by host: each
// answers INFO replication from its fields while `up`, and REPLICAOF moves them as Redis does.
// Every command is recorded in order ("promote web-redis-2...", "replicaof web-redis-1... h:p").
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "health/replication_control.h"

namespace sessionstore::health {

class FakeReplicationControl : public ReplicationControl {
 public:
  struct Redis {
    bool up = true;
    bool master = true;
    std::int64_t offset = 0;
    std::string masterHost;
    int masterPort = 0;
  };

  std::expected<std::string, std::string> info(const wiring::StoreEndpoint& monitor) override {
    std::lock_guard lock(mu_);
    users.push_back(monitor.username);
    const auto it = redis.find(monitor.host);
    if (it == redis.end() || !it->second.up) return std::unexpected(std::string("connect: refused"));
    const Redis& r = it->second;
    if (r.master) return "# Replication\r\nrole:master\r\nmaster_repl_offset:" +
                         std::to_string(r.offset) + "\r\n";
    return "# Replication\r\nrole:slave\r\nmaster_host:" + r.masterHost +
           "\r\nmaster_port:" + std::to_string(r.masterPort) +
           "\r\nmaster_link_status:up\r\nslave_repl_offset:" + std::to_string(r.offset) + "\r\n";
  }
  std::expected<void, std::string> replicaOf(const wiring::StoreEndpoint& monitor,
                                             const std::string& host, int port) override {
    std::lock_guard lock(mu_);
    auto& r = redis[monitor.host];
    if (!r.up) return std::unexpected(std::string("connect: refused"));
    r.master = false;
    r.masterHost = host;
    r.masterPort = port;
    commands.push_back("replicaof " + monitor.host + " " + host + ":" + std::to_string(port));
    return {};
  }
  std::expected<void, std::string> promote(const wiring::StoreEndpoint& monitor) override {
    std::lock_guard lock(mu_);
    auto& r = redis[monitor.host];
    if (!r.up) return std::unexpected(std::string("connect: refused"));
    r.master = true;
    commands.push_back("promote " + monitor.host);
    return {};
  }
  std::pair<std::string, int> peerAddress(const std::string& host, int port) override {
    return {host, port};
  }

  std::map<std::string, Redis> redis;  // by the host the operator connects to
  std::vector<std::string> commands;
  std::vector<std::string> users;

 private:
  std::mutex mu_;
};

}  // namespace sessionstore::health
