#include "redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <stdexcept>
#include <thread>

namespace sessionstore::testing {

namespace {

bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A port nobody listens on now (bind to 0, read it, close); redis-server may still lose a race
// for it, and then the start is retried with another.
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

RedisServer::RedisServer(const std::string& config, const std::string& dataDir, int port,
                         const RedisTlsFiles* tls) {
  char pattern[] = "/tmp/sessionstore-redis.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  std::string log;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = port != 0 ? port : freePort();
    {
      std::ofstream conf(dir_ + "/redis.conf");
      conf << config;
      if (tls != nullptr) {
        conf << "\nport 0\ntls-port " << port_ << "\ntls-cert-file " << tls->certFile
             << "\ntls-key-file " << tls->keyFile << "\ntls-ca-cert-file " << tls->caFile
             << "\ntls-auth-clients no";
      } else {
        conf << "\nport " << port_;
      }
      conf << "\nbind 127.0.0.1\ndir " << (dataDir.empty() ? dir_ : dataDir)
           << "\nsave \"\"\ndaemonize no\nlogfile \"\"\n";
    }
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"redis-server", dir_ + "/redis.conf"}, dir_ + "/redis.log");
    for (int i = 0; i < 200; ++i) {
      if (accepts(port_)) return;
      if (process_->wait(std::chrono::milliseconds(0))) break;  // it exited: bad config or port
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    log = process_->output();
    process_.reset();
  }
  std::filesystem::remove_all(dir_);
  throw std::runtime_error("redis-server did not start: " + log);
}

RedisServer::~RedisServer() {
  if (process_) {
    process_->signal(SIGTERM);
    if (!process_->wait(std::chrono::seconds(10))) process_->signal(SIGKILL);
    process_.reset();
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void RedisServer::kill() {
  if (process_) {
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(10));
  }
}

std::unique_ptr<RedisServer> startFromStoreConfig(const nlohmann::json& configMap,
                                                  const std::string& aclPath,
                                                  const std::string& extraAcl,
                                                  const std::string& extraConf,
                                                  const std::string& dataDir, int port) {
  const auto text = [&](const char* key) {
    const auto data = configMap.find("data");
    if (data == configMap.end() || !data->contains(key) || !(*data)[key].is_string()) {
      throw std::runtime_error(std::string("the store's ConfigMap has no data.") + key);
    }
    return (*data)[key].get<std::string>();
  };
  std::ofstream(aclPath) << text("users.acl") << extraAcl;
  std::string conf = text("redis.conf");
  conf = std::regex_replace(conf, std::regex("aclfile [^\n]*"), "aclfile " + aclPath);
  conf = std::regex_replace(conf, std::regex("(^|\n)(dir|bind|port) [^\n]*"), "$1");
  return std::make_unique<RedisServer>(conf + extraConf, dataDir, port);
}

}  // namespace sessionstore::testing
