// HttpServer on Boost.Beast and Boost.Asio. Each server owns its io_context and threads: start()
// creates them, stop() closes the listening socket and every connection (idle keep-alive ones and
// requests half sent included), waits for running handlers and joins the threads. It speaks
// HTTP/1.0 and 1.1 with keep-alive; pipelined requests are answered in order; request bodies are
// read and thrown away; a HEAD response carries the Content-Length of the GET response and no
// body. Every method reaches the Router (which answers 405 to all but GET and HEAD).
//
// A connection is closed when it waits longer than `idleTimeout` for a request to begin, when a
// begun request's header takes longer than `readHeaderTimeout` to arrive, or when a response
// takes longer than `writeTimeout` to be sent. A request that cannot be parsed is answered 400,
// one whose header exceeds `maxHeaderBytes` 431, one whose body exceeds `maxBodyBytes` 413; the
// connection is closed after each of these answers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "httpserver/http_server.h"

namespace sessionstore::httpserver {

struct BeastServerOptions {
  // Longest wait for the first byte of a request, on a new connection or between requests; also
  // the longest a request body may take once its header has arrived.
  std::chrono::milliseconds idleTimeout = std::chrono::seconds(30);
  // Longest a request header may take, from its first byte to its blank line.
  std::chrono::milliseconds readHeaderTimeout = std::chrono::seconds(10);
  // Longest a response may take to be written.
  std::chrono::milliseconds writeTimeout = std::chrono::seconds(10);
  // Request line and header fields together.
  std::uint32_t maxHeaderBytes = 16 * 1024;
  std::uint64_t maxBodyBytes = 1024 * 1024;
  // Threads running the server's io_context (handlers run on them). At least 1.
  std::size_t threads = 1;
};

std::unique_ptr<HttpServer> makeBeastHttpServer(BeastServerOptions options = {});

}  // namespace sessionstore::httpserver
