#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace sessionstore::testing {

std::string httpRequest(std::string_view method, std::string_view path, bool keepAlive,
                        std::string_view body, std::string_view host) {
  std::string text = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\n";
  text += "Host: " + std::string(host) + "\r\n";
  if (!keepAlive) text += "Connection: close\r\n";
  if (!body.empty()) text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  text += "\r\n";
  text += body;
  return text;
}

namespace {

// Connects `fd` to address:port with the 10 s read and write timeouts (Linux applies the write
// timeout to connect too).
bool connectWithTimeouts(int fd, in_addr address, std::uint16_t port) {
  if (fd < 0) return false;
  const timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(port);
  target.sin_addr = address;
  return connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) == 0;
}

}  // namespace

HttpClient::HttpClient(std::uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  connected_ = connectWithTimeouts(fd_, in_addr{.s_addr = htonl(INADDR_LOOPBACK)}, port);
}

HttpClient::HttpClient(const std::string& ipv4, std::uint16_t port)
    : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  in_addr address{};
  if (inet_pton(AF_INET, ipv4.c_str(), &address) != 1) return;
  connected_ = connectWithTimeouts(fd_, address, port);
}

HttpClient::~HttpClient() {
  if (fd_ >= 0) close(fd_);
}

bool HttpClient::send(std::string_view data) {
  while (!data.empty()) {
    const auto sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

std::optional<HttpResponse> HttpClient::receive(bool head) {
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return std::nullopt;
  }
  std::istringstream lines(buffer_.substr(0, end));
  buffer_.erase(0, end + 4);
  HttpResponse response;
  std::string line;
  std::getline(lines, line);
  std::istringstream statusLine(line);
  std::string version;
  statusLine >> version >> response.status;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto valueStart = line.find_first_not_of(' ', colon + 1);
    response.headers[name] = valueStart == std::string::npos ? "" : line.substr(valueStart);
  }
  if (head) return response;
  if (response.header("content-length").empty()) return std::nullopt;  // chunked: not expected
  const auto length = std::stoul(response.header("content-length"));
  while (buffer_.size() < length) {
    if (!fill()) return std::nullopt;
  }
  response.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  return response;
}

bool HttpClient::closedByServer() {
  char byte;
  const auto n = recv(fd_, &byte, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

bool HttpClient::fill() {
  char chunk[4096];
  const auto n = recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::optional<HttpResponse> httpExchange(std::uint16_t port, std::string_view method,
                                         std::string_view path, std::string_view body) {
  HttpClient client(port);
  if (!client.connected() || !client.send(httpRequest(method, path, false, body))) {
    return std::nullopt;
  }
  return client.receive(method == "HEAD");
}

std::optional<HttpResponse> httpExchange(const std::string& ipv4, std::uint16_t port,
                                         std::string_view method, std::string_view path,
                                         std::string_view body) {
  HttpClient client(ipv4, port);
  if (!client.connected() || !client.send(httpRequest(method, path, false, body, ipv4))) {
    return std::nullopt;
  }
  return client.receive(method == "HEAD");
}

namespace {

int countEntries(const char* directory) {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(directory)) {
    ++count;
  }
  return count;
}

}  // namespace

int openFileDescriptors() { return countEntries("/proc/self/fd"); }
int threadCount() { return countEntries("/proc/self/task"); }

int threadCountSettledAt(int expected, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  int count = threadCount();
  while (count != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    count = threadCount();
  }
  return count;
}

long residentKiB() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

int closeWaitSockets(std::uint16_t port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // header
  int count = 0;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    const auto colon = local.find(':');
    if (colon == std::string::npos) continue;
    if (std::stoul(local.substr(colon + 1), nullptr, 16) == port && state == "08") ++count;
  }
  return count;
}

}  // namespace sessionstore::testing
