#include "httpserver/http_server.h"

namespace sessionstore::httpserver {

void Router::handle(std::string path, Handler handler) {
  std::lock_guard lock(mu_);
  handlers_[std::move(path)] = std::move(handler);
}

Response Router::route(const Request& request) const {
  Handler handler;
  {
    std::lock_guard lock(mu_);
    const auto it = handlers_.find(request.path);
    if (it == handlers_.end()) return Response{.status = 404, .body = "not found\n"};
    handler = it->second;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    return Response{
        .status = 405, .body = "method not allowed\n", .headers = {{"Allow", "GET, HEAD"}}};
  }
  try {
    return handler(request);
  } catch (...) {
    // The exception's text stays out of the response: it may name internals.
    return Response{.status = 500, .body = "internal error\n"};
  }
}

}  // namespace sessionstore::httpserver
