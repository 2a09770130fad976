#include "httpserver/beast_http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/optional/optional.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace sessionstore::httpserver {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

// Bytes asked of the socket at once while waiting for a request to begin, and while draining a
// connection being closed.
constexpr std::size_t kReadChunk = 4096;
// How long a connection closed after a response (Connection: close, 400, 431, 413) reads and
// drops what the client still sends, so that unread bytes do not turn the close into a reset that
// could destroy the response before the client reads it.
constexpr std::chrono::milliseconds kLingerTimeout{1000};
// Pause before accepting again after accept failed (out of file descriptors, for instance).
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

// A request body that is counted against the parser's body limit and thrown away.
struct DiscardBody {
  struct value_type {};
  struct reader {
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type&) {}
    void init(const boost::optional<std::uint64_t>&, error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      ec = {};
      return net::buffer_size(buffers);
    }
    void finish(error_code& ec) { ec = {}; }
  };
};

// "host:port", with an IPv6 address in brackets.
std::string describe(const std::string& host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool isParseError(const error_code& ec) {
  static const auto& httpCategory = make_error_code(http::error::bad_target).category();
  return ec.category() == httpCategory && ec != http::error::end_of_stream &&
         ec != http::error::partial_message;
}

class Listener;

// One accepted connection. Its operations run on its own strand; it lives as long as one of them
// is pending.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Listener& listener);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Begins reading requests.
  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->awaitRequest(); });
  }

  // Closes the socket, which ends whatever operation is pending. Callable from any thread.
  void close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->stream_.close(); });
  }

 private:
  void awaitRequest();
  void readHeader();
  void onHeader(const error_code& ec);
  void respond();
  void fail(const error_code& ec);
  void reject(http::status status, std::string body);
  void write();
  void onWritten(const error_code& ec);
  void linger();

  beast::tcp_stream stream_;
  Listener& listener_;
  beast::flat_buffer buffer_;  // bytes read and not parsed yet (pipelined requests included)
  std::optional<http::request_parser<DiscardBody>> parser_;
  http::response<http::string_body> response_;
  bool keepAlive_ = false;
  char drain_[kReadChunk];
};

// What one start() creates and stop() tears down: the io_context, its threads, the listening
// socket and the open connections.
class Listener {
 public:
  Listener(const BeastServerOptions& options, const Router& router)
      : options_(options), router_(router) {}
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener() { shutdown(); }

  const BeastServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }

  // Binds and listens; returns the port bound.
  std::expected<std::uint16_t, std::string> listen(const tcp::endpoint& endpoint,
                                                   const std::string& name) {
    const auto where = [&] { return describe(name, endpoint.port()); };
    error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) return std::unexpected("cannot open a socket for " + where() + ": " + ec.message());
    acceptor_.bind(endpoint, ec);
    if (ec == net::error::address_in_use) {
      return std::unexpected("cannot listen on " + where() +
                             ": address already in use (another process or server holds the port)");
    }
    if (ec) return std::unexpected("cannot listen on " + where() + ": " + ec.message());
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    const auto bound = acceptor_.local_endpoint(ec);
    if (ec) return std::unexpected("cannot listen on " + where() + ": " + ec.message());
    return bound.port();
  }

  // Starts accepting, on `threads` new threads.
  void run(std::size_t threads) {
    accept();
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { runLoop(); });
  }

  // Closes the listening socket and every connection, then joins the threads: they return once
  // the handlers running have returned and the closed connections' operations have ended.
  void shutdown() {
    std::vector<std::weak_ptr<Connection>> open;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      for (const auto& [connection, weak] : connections_) open.push_back(weak);
    }
    net::post(strand_, [this] {
      error_code ignored;
      acceptor_.close(ignored);
      retry_.cancel();
    });
    for (const auto& weak : open) {
      if (const auto connection = weak.lock()) connection->close();
    }
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

  void forget(const Connection* connection) {
    std::lock_guard lock(mu_);
    connections_.erase(connection);
  }

 private:
  void accept() {
    acceptor_.async_accept(
        net::make_strand(ioc_),
        [this](const error_code& ec, tcp::socket socket) { onAccept(ec, std::move(socket)); });
  }

  void onAccept(const error_code& ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors, most likely: try again shortly rather than spin.
      retry_.expires_after(kAcceptRetryDelay);
      retry_.async_wait([this](const error_code& waited) {
        if (!waited && acceptor_.is_open()) accept();
      });
      return;
    }
    auto connection = std::make_shared<Connection>(std::move(socket), *this);
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;  // dropping `connection` closes its socket
      connections_.emplace(connection.get(), connection);
    }
    connection->start();
    accept();
  }

  void runLoop() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (...) {
        // Only allocation failures can get here (the Router catches what handlers throw): the
        // operation that threw is dropped with its connection, and the others go on.
      }
    }
  }

  const BeastServerOptions& options_;
  const Router& router_;
  // Declared before the io_context so that connections destroyed with it can still forget
  // themselves.
  std::mutex mu_;
  bool stopping_ = false;                                                         // GUARDED_BY(mu_)
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections_;  // GUARDED_BY(mu_)
  net::io_context ioc_;
  net::strand<net::io_context::executor_type> strand_ = net::make_strand(ioc_);
  tcp::acceptor acceptor_{strand_};  // used on strand_ once run() is called
  net::steady_timer retry_{strand_};
  std::vector<std::thread> threads_;
};

Connection::Connection(tcp::socket socket, Listener& listener)
    : stream_(std::move(socket)), listener_(listener) {}

Connection::~Connection() { listener_.forget(this); }

void Connection::awaitRequest() {
  if (buffer_.size() > 0) return readHeader();  // the next pipelined request is already here
  stream_.expires_after(listener_.options().idleTimeout);
  stream_.async_read_some(
      buffer_.prepare(kReadChunk),
      [self = shared_from_this()](const error_code& ec, std::size_t received) {
        if (ec) return self->stream_.close();  // the client left, timed out, or stop()
        self->buffer_.commit(received);
        self->readHeader();
      });
}

void Connection::readHeader() {
  const auto& options = listener_.options();
  parser_.emplace();
  parser_->header_limit(options.maxHeaderBytes);
  parser_->body_limit(options.maxBodyBytes);
  stream_.expires_after(options.readHeaderTimeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](const error_code& ec, std::size_t) { self->onHeader(ec); });
}

void Connection::onHeader(const error_code& ec) {
  if (ec) return fail(ec);
  if (parser_->is_done()) return respond();
  stream_.expires_after(listener_.options().idleTimeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const error_code& read, std::size_t) {
                     if (read) return self->fail(read);
                     self->respond();
                   });
}

void Connection::respond() {
  const auto& request = parser_->get();
  const std::string_view target(request.target().data(), request.target().size());
  const Request in{.method = std::string(request.method_string()),
                   .path = std::string(target.substr(0, target.find('?')))};
  Response out = listener_.router().route(in);
  keepAlive_ = request.keep_alive();

  response_ = {};
  response_.version(request.version());
  response_.result(static_cast<unsigned>(out.status));
  for (const auto& [name, value] : out.headers) response_.insert(name, value);
  response_.set(http::field::content_type, out.contentType);
  // HEAD: the length of the body GET would have, and no body.
  response_.content_length(out.body.size());
  if (in.method != "HEAD") response_.body() = std::move(out.body);
  response_.keep_alive(keepAlive_);
  parser_.reset();
  write();
}

void Connection::fail(const error_code& ec) {
  if (ec == http::error::header_limit) {
    return reject(http::status::request_header_fields_too_large, "request header too large\n");
  }
  if (ec == http::error::body_limit) {
    return reject(http::status::payload_too_large, "request body too large\n");
  }
  if (isParseError(ec)) return reject(http::status::bad_request, "bad request\n");
  stream_.close();  // the client left, timed out, or stop()
}

void Connection::reject(http::status status, std::string body) {
  parser_.reset();
  keepAlive_ = false;
  response_ = {};
  response_.version(11);
  response_.result(status);
  response_.set(http::field::content_type, "text/plain; charset=utf-8");
  response_.body() = std::move(body);
  response_.prepare_payload();
  response_.keep_alive(false);
  write();
}

void Connection::write() {
  stream_.expires_after(listener_.options().writeTimeout);
  http::async_write(
      stream_, response_,
      [self = shared_from_this()](const error_code& ec, std::size_t) { self->onWritten(ec); });
}

void Connection::onWritten(const error_code& ec) {
  if (ec) return stream_.close();
  if (keepAlive_) return awaitRequest();
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::min(kLingerTimeout, listener_.options().idleTimeout));
  linger();
}

void Connection::linger() {
  stream_.async_read_some(net::buffer(drain_),
                          [self = shared_from_this()](const error_code& ec, std::size_t) {
                            if (ec) return self->stream_.close();  // the client's FIN, or timeout
                            self->linger();
                          });
}

class BeastHttpServer final : public HttpServer {
 public:
  explicit BeastHttpServer(BeastServerOptions options) : options_(options) {
    options_.threads = std::max<std::size_t>(options_.threads, 1);
  }
  ~BeastHttpServer() override { stop(); }

  void handle(std::string path, Handler handler) override {
    router_.handle(std::move(path), std::move(handler));
  }

  std::expected<std::uint16_t, std::string> start(const std::string& host,
                                                  std::uint16_t port) override {
    std::lock_guard lock(mu_);
    if (listener_) return std::unexpected("already listening on port " + std::to_string(port_));
    // "[::1]" as written in a "host:port" address.
    std::string name = host;
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
      name = name.substr(1, name.size() - 2);
    }
    const auto endpoint = resolve(name, port);
    if (!endpoint) return std::unexpected(endpoint.error());
    auto listener = std::make_unique<Listener>(options_, router_);
    const auto bound = listener->listen(*endpoint, name);
    if (!bound) return std::unexpected(bound.error());
    listener->run(options_.threads);
    listener_ = std::move(listener);
    port_ = *bound;
    return *bound;
  }

  void stop() override {
    std::lock_guard lock(mu_);
    if (!listener_) return;
    listener_->shutdown();
    listener_.reset();
    port_ = 0;
  }

  std::uint16_t port() const override { return port_; }

 private:
  // An IP address as is; a host name resolved, keeping its first address.
  static std::expected<tcp::endpoint, std::string> resolve(const std::string& name,
                                                           std::uint16_t port) {
    error_code ec;
    const auto address = net::ip::make_address(name, ec);
    if (!ec) return tcp::endpoint(address, port);
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    const auto found =
        resolver.resolve(name, std::to_string(port), tcp::resolver::numeric_service, ec);
    if (ec) return std::unexpected("cannot resolve " + name + ": " + ec.message());
    if (found.empty()) return std::unexpected("cannot resolve " + name + ": no address");
    return found.begin()->endpoint();
  }

  BeastServerOptions options_;
  Router router_;
  std::mutex mu_;                       // serializes start() and stop()
  std::unique_ptr<Listener> listener_;  // GUARDED_BY(mu_)
  std::atomic<std::uint16_t> port_{0};  // written under mu_; read without it (from handlers too)
};

}  // namespace

std::unique_ptr<HttpServer> makeBeastHttpServer(BeastServerOptions options) {
  return std::make_unique<BeastHttpServer>(options);
}

}  // namespace sessionstore::httpserver
