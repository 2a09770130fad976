// A TCP proxy on loopback between a client under test and a real server, to cut connections
// the way a network does: cut() closes every open connection and refuses new ones (they are
// accepted and closed at once) until restore(). TLS passes through untouched.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace sessionstore::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 on a port the OS picks and forwards to 127.0.0.1:targetPort.
  explicit TcpProxy(int targetPort);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void cut();
  void restore();
  // Connections accepted so far (refused ones included).
  int accepted() const { return accepted_; }

 private:
  void loop();

  int targetPort_;
  int listenFd_ = -1;
  int port_ = 0;
  int wakeFd_[2] = {-1, -1};  // a pipe that wakes the loop for cut() and stop
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cut_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace sessionstore::testing
