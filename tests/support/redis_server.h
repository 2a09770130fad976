// A real redis-server for tests, on a loopback port chosen at start, with the configuration the
// test gives (ACL users, limits); stopped and its folder removed when the object goes.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "process.h"

namespace sessionstore::testing {

// A TLS-only redis-server's files (PEM): its certificate and key, and the CA it names (Redis
// wants one even with tls-auth-clients no).
struct RedisTlsFiles {
  std::string certFile;
  std::string keyFile;
  std::string caFile;
};

class RedisServer {
 public:
  // Starts redis-server with `config` plus port, bind, dir and no snapshots. Throws
  // std::runtime_error with its log when it does not start.
  // dataDir: where Redis keeps its data (AOF, RDB) instead of its own folder; the caller owns it
  // and it is kept when the server goes, as a volume outlives its pod.
  // port: listen on this port (a restart at the same address) instead of one the OS picks.
  // tls: listen with TLS only (port 0, tls-port on the chosen port, no client certificates).
  explicit RedisServer(const std::string& config = "", const std::string& dataDir = "",
                       int port = 0, const RedisTlsFiles* tls = nullptr);
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

// A redis-server as a managed store's pod runs it: redis.conf and users.acl from the store's
// ConfigMap (as the API server returns it), with the folder, address and port lines replaced by
// the test's. The ACL goes to `aclPath`, followed by `extraAcl`; `extraConf` ends the config;
// dataDir and port as for RedisServer. Throws std::runtime_error when a key is missing.
// A pod exists only once its StatefulSet does, and mounts the ConfigMap as it is then: read the
// ConfigMap after the StatefulSet is seen (before that, the operator may still correct it).
std::unique_ptr<RedisServer> startFromStoreConfig(const nlohmann::json& configMap,
                                                  const std::string& aclPath,
                                                  const std::string& extraAcl = "",
                                                  const std::string& extraConf = "",
                                                  const std::string& dataDir = "", int port = 0);

}  // namespace sessionstore::testing
