// kube::Client over HTTP: builds each request's URL, headers and body, authenticates (bearer
// token, re-read from its file as it rotates, or the transport's client certificate), maps
// every answer to a value or an Error, and streams watches line by line.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "clock/clock.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/wire.h"
#include "transport/http_transport.h"

namespace sessionstore::kube {

// A bearer token from a file, re-read when older than a minute (service-account tokens rotate;
// the kubelet rewrites the file). A fixed token is returned as is.
class TokenSource {
 public:
  TokenSource(std::string fixedToken, std::string file, const clock::Clock& clock);
  // "" when there is no token.
  std::string token();

 private:
  const std::string fixed_;
  const std::string file_;
  const clock::Clock& clock_;
  std::mutex mu_;
  std::string cached_;             // GUARDED_BY(mu_)
  clock::MonotonicTime readAt_{};  // GUARDED_BY(mu_)
  bool read_ = false;              // GUARDED_BY(mu_)
};

// Called after every request with its verb (GET, LIST, WATCH, POST, PUT, PATCH, DELETE) and
// status code (0 when no response came).
using RequestObserver = std::function<void(const std::string& verb, int code)>;

class RestClient final : public Client {
 public:
  RestClient(std::unique_ptr<transport::Transport> transport, const ClusterConfig& config,
             const clock::Clock& clock = clock::systemClock(), RequestObserver observer = {});

  // A client for `config` on cpprestsdk; kConfig when the TLS material is unusable.
  // requestTimeout bounds the wait for each answer (leader election wants it well under its
  // renew deadline, since a hung renew delays stepping down).
  static Result<std::unique_ptr<RestClient>> connect(
      const ClusterConfig& config, RequestObserver observer = {},
      std::chrono::seconds requestTimeout = std::chrono::seconds(30));

  Result<Json> get(const Resource& r, const std::string& ns, const std::string& name,
                   const std::string& subresource = "") override;
  Result<ObjectList> list(const Resource& r, const std::string& ns,
                          const ListOptions& options = {}) override;
  Result<Json> create(const Resource& r, const std::string& ns, const Json& object,
                      const CreateOptions& options = {}) override;
  Result<Json> update(const Resource& r, const std::string& ns, const Json& object,
                      const std::string& subresource = "") override;
  Result<Json> remove(const Resource& r, const std::string& ns, const std::string& name,
                      const DeleteOptions& options = {}) override;
  Result<Json> patch(const Resource& r, const std::string& ns, const std::string& name,
                     PatchType type, const Json& body, const PatchOptions& options = {}) override;
  Result<std::unique_ptr<WatchStream>> watch(const Resource& r, const std::string& ns,
                                             const WatchOptions& options) override;

 private:
  Result<Json> call(const std::string& verb, transport::Request request);

  std::unique_ptr<transport::Transport> transport_;
  TokenSource tokens_;
  RequestObserver observer_;
};

}  // namespace sessionstore::kube
