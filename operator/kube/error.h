// Errors of the Kubernetes client, as values (LevelDB's Status): every call returns
// std::expected<T, Error>; nothing throws across the client's interface. Each kind maps to one
// outcome for the caller: retry now (Conflict), retry with backoff (transient kinds), report and
// wait for a change (Invalid, Forbidden), or treat as an answer (NotFound, AlreadyExists).
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <vector>

namespace sessionstore::kube {

enum class ErrorKind {
  kNotFound,         // 404
  kAlreadyExists,    // 409 reason AlreadyExists
  kConflict,         // 409: stale resourceVersion or a failed precondition
  kInvalid,          // 422, with the server's causes
  kBadRequest,       // 400
  kUnauthorized,     // 401
  kForbidden,        // 403
  kGone,             // 410: resourceVersion too old (watch, continue token)
  kTooManyRequests,  // 429, honouring Retry-After
  kUnavailable,      // 5xx, connection refused or reset
  kTimeout,          // no answer in time (client side) or 504
  kMalformed,        // the response could not be understood
  kConfig,           // kubeconfig or in-cluster configuration unusable
  kInternal,         // any other status code
};

// One entry of a Status's details.causes (422 Invalid).
struct Cause {
  std::string field;
  std::string reason;
  std::string message;
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  int httpStatus = 0;  // 0 when no response came
  std::string message;
  std::string reason;  // metav1.Status.reason, when the server sent one
  std::vector<Cause> causes;
  std::optional<std::chrono::seconds> retryAfter;  // from Retry-After or details.retryAfterSeconds

  // Worth retrying with backoff: the same request may succeed later without a change.
  bool transient() const {
    return kind == ErrorKind::kTooManyRequests || kind == ErrorKind::kUnavailable ||
           kind == ErrorKind::kTimeout;
  }
  // "Conflict (409): the object has been modified..." for logs and conditions.
  std::string describe() const;
};

const char* toString(ErrorKind kind);

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> makeError(ErrorKind kind, std::string message, int httpStatus = 0) {
  return std::unexpected(
      Error{.kind = kind, .httpStatus = httpStatus, .message = std::move(message)});
}

}  // namespace sessionstore::kube
