// The cpprestsdk transport's stream, read line by line in blocks: against a plain HTTP server on
// loopback that sends a chunked body the way a watch does (lines split across chunks, a line
// alone and then nothing until told, CRLF, a last line without its newline).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "transport/http_transport.h"

namespace sessionstore::transport {
namespace {

// One connection: answers its first request with a chunked 200 whose chunks come from `send`,
// which may wait between chunks.
class ChunkedServer {
 public:
  using Script = std::function<void(const std::function<void(const std::string&)>& chunk)>;

  explicit ChunkedServer(Script script) : script_(std::move(script)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 1) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ChunkedServer() {
    thread_.join();
    ::close(listener_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    const int connection = ::accept(listener_, nullptr, nullptr);
    if (connection < 0) return;
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::read(connection, buffer, sizeof buffer);
      if (n <= 0) break;
      request.append(buffer, static_cast<std::size_t>(n));
    }
    auto write = [connection](const std::string& bytes) {
      std::size_t sent = 0;
      while (sent < bytes.size()) {
        const ssize_t n = ::write(connection, bytes.data() + sent, bytes.size() - sent);
        if (n <= 0) return;
        sent += static_cast<std::size_t>(n);
      }
    };
    write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    script_([&write](const std::string& chunk) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
      write(size + chunk + "\r\n");
    });
    write("0\r\n\r\n");
    ::shutdown(connection, SHUT_WR);
    while (::read(connection, buffer, sizeof buffer) > 0) {
    }
    ::close(connection);
  }

  Script script_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// A latch the server waits on, released by the test (or, so that a failing read cannot hang the
// test, after a bound; `released` then says which).
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  bool byTest = false;
  void release() {
    std::lock_guard lock(mu);
    open = true;
    byTest = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(20), [this] { return open; });
    open = true;
  }
};

struct Opened {
  std::unique_ptr<Transport> transport;
  std::unique_ptr<Stream> stream;  // destroyed first
  Stream* operator->() { return stream.get(); }
  Stream& operator*() { return *stream; }
};

Opened openStream(const std::string& url) {
  auto transport = makeCppRestTransport({.baseUrl = url});
  if (!transport) throw std::runtime_error(transport.error().message);
  auto stream = (*transport)->stream({.method = "GET", .target = "/watch"});
  if (!stream) throw std::runtime_error(stream.error().message);
  return {std::move(*transport), std::move(*stream)};
}

std::string lineOf(Stream& stream) {
  auto line = stream.readLine();
  if (!line) return "<failure: " + line.error().message + ">";
  if (!line->has_value()) return "<end>";
  return **line;
}

TEST(CppRestStream, LinesSplitAcrossChunksAndSeveralInOneComeWhole) {
  ChunkedServer server([](const auto& chunk) {
    chunk("{\"type\":\"ADDED\",\"object\":{\"a\"");
    chunk(":1}}\n{\"type\":\"MODIFIED\"}\n{\"type\":");
    chunk("\"DELETED\"}\n");
  });
  auto stream = openStream(server.url());
  EXPECT_EQ(stream->status(), 200);
  EXPECT_EQ(lineOf(*stream), "{\"type\":\"ADDED\",\"object\":{\"a\":1}}");
  EXPECT_EQ(lineOf(*stream), "{\"type\":\"MODIFIED\"}");
  EXPECT_EQ(lineOf(*stream), "{\"type\":\"DELETED\"}");
  EXPECT_EQ(lineOf(*stream), "<end>");
}

TEST(CppRestStream, ALineIsGivenAsSoonAsItIsWholeWithoutWaitingForMore) {
  Gate gate;
  ChunkedServer server([&gate](const auto& chunk) {
    chunk("{\"type\":\"BOOKMARK\"}\n");
    gate.wait();  // nothing more until the test has its line
    chunk("{\"type\":\"ADDED\"}\n");
  });
  auto stream = openStream(server.url());
  EXPECT_EQ(lineOf(*stream), "{\"type\":\"BOOKMARK\"}");
  {
    std::lock_guard lock(gate.mu);
    EXPECT_FALSE(gate.open) << "the line came only once the server sent more";
  }
  gate.release();
  EXPECT_EQ(lineOf(*stream), "{\"type\":\"ADDED\"}");
  EXPECT_EQ(lineOf(*stream), "<end>");
}

TEST(CppRestStream, CarriageReturnsAreNotPartOfALineAndALastLineNeedsNoNewline) {
  ChunkedServer server([](const auto& chunk) {
    chunk("first\r\n\nthird");
    chunk(" part\n");
    chunk("last");
  });
  auto stream = openStream(server.url());
  EXPECT_EQ(lineOf(*stream), "first");
  EXPECT_EQ(lineOf(*stream), "") << "an empty line is a line";
  EXPECT_EQ(lineOf(*stream), "third part");
  EXPECT_EQ(lineOf(*stream), "last");
  EXPECT_EQ(lineOf(*stream), "<end>");
}

TEST(CppRestStream, ALargeEventInManyChunksComesWhole) {
  std::string big(300 * 1024, 'x');
  ChunkedServer server([&big](const auto& chunk) {
    for (std::size_t at = 0; at < big.size(); at += 7000) chunk(big.substr(at, 7000));
    chunk("\nafter\n");
  });
  auto stream = openStream(server.url());
  EXPECT_EQ(lineOf(*stream), big);
  EXPECT_EQ(lineOf(*stream), "after");
  EXPECT_EQ(lineOf(*stream), "<end>");
}

TEST(CppRestStream, CancelUnblocksAReadWaitingForBytes) {
  Gate gate;
  ChunkedServer server([&gate](const auto& chunk) {
    chunk("{\"type\":\"BOOKMARK\"}\n");
    gate.wait();
  });
  auto stream = openStream(server.url());
  EXPECT_EQ(lineOf(*stream), "{\"type\":\"BOOKMARK\"}");
  std::thread canceller([&stream] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stream->cancel();
  });
  auto line = stream->readLine();
  canceller.join();
  gate.release();
  ASSERT_FALSE(line.has_value());
  EXPECT_EQ(line.error().kind, FailureKind::kCancelled);
}

}  // namespace
}  // namespace sessionstore::transport
