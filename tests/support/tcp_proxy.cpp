#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sessionstore::testing {

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// One proxied connection: two sockets and the bytes waiting to go each way.
struct Pair {
  int client = -1;
  int server = -1;
  std::string toServer;
  std::string toClient;
};

void closePair(Pair& p) {
  if (p.client >= 0) ::close(p.client);
  if (p.server >= 0) ::close(p.server);
  p.client = p.server = -1;
}

}  // namespace

TcpProxy::TcpProxy(int targetPort) : targetPort_(targetPort) {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto addr = loopback(0);
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listenFd_, 64) != 0) {
    throw std::runtime_error(std::string("proxy listen: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(wakeFd_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("proxy pipe");
  thread_ = std::thread([this] { loop(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  (void)!::write(wakeFd_[1], "x", 1);
  thread_.join();
  ::close(listenFd_);
  ::close(wakeFd_[0]);
  ::close(wakeFd_[1]);
}

void TcpProxy::cut() {
  cut_ = true;
  (void)!::write(wakeFd_[1], "x", 1);
}

void TcpProxy::restore() { cut_ = false; }

void TcpProxy::loop() {
  std::vector<Pair> pairs;
  char buf[65536];
  while (!stopping_) {
    if (cut_) {
      for (auto& p : pairs) closePair(p);
      pairs.clear();
    }
    std::vector<pollfd> fds{{listenFd_, POLLIN, 0}, {wakeFd_[0], POLLIN, 0}};
    for (const auto& p : pairs) {
      fds.push_back({p.client, static_cast<short>(POLLIN | (p.toClient.empty() ? 0 : POLLOUT)), 0});
      fds.push_back({p.server, static_cast<short>(POLLIN | (p.toServer.empty() ? 0 : POLLOUT)), 0});
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      while (::read(wakeFd_[0], buf, sizeof buf) > 0) {
      }
    }
    const size_t polled = pairs.size();
    if (fds[0].revents & POLLIN) {
      const int client = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        ++accepted_;
        const int server = cut_ ? -1 : ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        auto addr = loopback(targetPort_);
        if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          if (server >= 0) ::close(server);
          ::close(client);
        } else {
          pairs.push_back(Pair{client, server, {}, {}});
        }
      }
    }
    // Move bytes; a pair whose either side closes or fails is closed whole. Only the pairs that
    // were polled: one accepted above has no poll entry yet.
    for (size_t i = 0; i < polled; ++i) {
      auto& p = pairs[i];
      const auto& c = fds[2 + 2 * i];
      const auto& s = fds[3 + 2 * i];
      bool broken = false;
      auto pump = [&](int from, std::string& queue) {
        const ssize_t n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
          queue.append(buf, static_cast<size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          broken = true;
        }
      };
      auto flush = [&](int to, std::string& queue) {
        const ssize_t n = ::send(to, queue.data(), queue.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          queue.erase(0, static_cast<size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          broken = true;
        }
      };
      if (c.revents & (POLLIN | POLLHUP | POLLERR)) pump(p.client, p.toServer);
      if (s.revents & (POLLIN | POLLHUP | POLLERR)) pump(p.server, p.toClient);
      if (!p.toServer.empty()) flush(p.server, p.toServer);
      if (!p.toClient.empty()) flush(p.client, p.toClient);
      if (broken) closePair(p);
    }
    std::erase_if(pairs, [](const Pair& p) { return p.client < 0; });
  }
  for (auto& p : pairs) closePair(p);
}

}  // namespace sessionstore::testing
