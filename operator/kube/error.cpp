#include "kube/error.h"

namespace sessionstore::kube {

const char* toString(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
      return "NotFound";
    case ErrorKind::kAlreadyExists:
      return "AlreadyExists";
    case ErrorKind::kConflict:
      return "Conflict";
    case ErrorKind::kInvalid:
      return "Invalid";
    case ErrorKind::kBadRequest:
      return "BadRequest";
    case ErrorKind::kUnauthorized:
      return "Unauthorized";
    case ErrorKind::kForbidden:
      return "Forbidden";
    case ErrorKind::kGone:
      return "Gone";
    case ErrorKind::kTooManyRequests:
      return "TooManyRequests";
    case ErrorKind::kUnavailable:
      return "Unavailable";
    case ErrorKind::kTimeout:
      return "Timeout";
    case ErrorKind::kMalformed:
      return "Malformed";
    case ErrorKind::kConfig:
      return "Config";
    case ErrorKind::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Error::describe() const {
  std::string text = toString(kind);
  if (httpStatus != 0) text += " (" + std::to_string(httpStatus) + ")";
  if (!message.empty()) text += ": " + message;
  for (const auto& cause : causes) {
    text += "; " + (cause.field.empty() ? "" : cause.field + ": ") + cause.message;
  }
  return text;
}

}  // namespace sessionstore::kube
