// HttpServer on cpprestsdk's http_listener (Boost.Asio underneath). cpprestsdk's upstream is
// archived and its maintainers said http_listener is not meant for production; this
// implementation stays behind HttpServer so a soak benchmark can judge it and another transport
// can replace it. What http_listener imposes (cpprestsdk 2.10.18):
// - It cannot report the port it bound, so for port 0 start() picks a free port itself (binds a
//   socket to port 0, reads the port, closes it) and retries when another process takes that
//   port first (EADDRINUSE).
// - Hosts are IPv4 addresses or names: it splits "host:port" at the first colon.
// - It runs on cpprestsdk's process-wide thread pool (40 threads by default, created at first use
//   and kept until exit); stop() ends this server's work, not those threads.
// - Every listener of the process shares one Asio server, and a listening socket is closed only
//   when the last listener of the process closes: a stopped server's port stays bound (answering
//   404) while another listener of the process is open. The operator opens one.
// - A HEAD response says Content-Length: 0, not the length of the GET body.
// - Pipelined requests (sent before the previous response arrived) are dropped: it discards what
//   it read past the first request. Kubelet probes and Prometheus do not pipeline.
// - It has no idle or read timeout: a client that connects and sends nothing holds a connection
//   (and a file descriptor) until it leaves or stop() is called.
#pragma once

#include <memory>

#include "httpserver/http_server.h"

namespace sessionstore::httpserver {

std::unique_ptr<HttpServer> makeCpprestHttpServer();

}  // namespace sessionstore::httpserver
