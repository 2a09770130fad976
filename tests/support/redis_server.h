// A real redis-server for tests, on a loopback port chosen at start, with the configuration the
// test gives (ACL users, limits); stopped and its folder removed when the object goes.
#pragma once

#include <memory>
#include <string>

#include "process.h"

namespace sessionstore::testing {

class RedisServer {
 public:
  // Starts redis-server with `config` plus port, bind, dir and no snapshots. Throws
  // std::runtime_error with its log when it does not start.
  explicit RedisServer(const std::string& config = "");
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // SIGKILL, as a crash would.
  void kill();

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sessionstore::testing
