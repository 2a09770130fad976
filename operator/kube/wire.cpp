#include "kube/wire.h"

#include <charconv>

namespace sessionstore::kube {

namespace {

bool isString(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string();
}

std::string stringField(const Json& j, const char* key) {
  return isString(j, key) ? j[key].get<std::string>() : "";
}

ErrorKind kindForStatus(int status, const std::string& reason) {
  switch (status) {
    case 400:
      return ErrorKind::kBadRequest;
    case 401:
      return ErrorKind::kUnauthorized;
    case 403:
      return ErrorKind::kForbidden;
    case 404:
      return ErrorKind::kNotFound;
    case 409:
      return reason == "AlreadyExists" ? ErrorKind::kAlreadyExists : ErrorKind::kConflict;
    case 410:
      return ErrorKind::kGone;
    case 422:
      return ErrorKind::kInvalid;
    case 429:
      return ErrorKind::kTooManyRequests;
    case 500:
      return ErrorKind::kInternal;
    case 504:
      return ErrorKind::kTimeout;
    default:
      break;
  }
  if (status > 500 && status < 600) return ErrorKind::kUnavailable;
  if (status == 412) return ErrorKind::kConflict;  // a failed precondition
  return ErrorKind::kInternal;
}

}  // namespace

std::string escapeQueryValue(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

Error errorFromResponse(int status, const std::string& body,
                        const std::optional<std::string>& retryAfter) {
  Error error;
  error.httpStatus = status;
  const Json parsed = Json::parse(body, nullptr, false);
  if (!parsed.is_discarded() && parsed.is_object() && stringField(parsed, "kind") == "Status") {
    error.message = stringField(parsed, "message");
    error.reason = stringField(parsed, "reason");
    if (parsed.contains("details") && parsed["details"].is_object()) {
      const auto& details = parsed["details"];
      if (details.contains("causes") && details["causes"].is_array()) {
        for (const auto& cause : details["causes"]) {
          error.causes.push_back(Cause{.field = stringField(cause, "field"),
                                       .reason = stringField(cause, "reason"),
                                       .message = stringField(cause, "message")});
        }
      }
      if (details.contains("retryAfterSeconds") &&
          details["retryAfterSeconds"].is_number_integer() &&
          details["retryAfterSeconds"].get<int64_t>() >= 0) {
        error.retryAfter = std::chrono::seconds(details["retryAfterSeconds"].get<int64_t>());
      }
    }
  } else {
    error.message = body.substr(0, 512);
  }
  if (retryAfter) {
    int64_t seconds = 0;
    const auto* end = retryAfter->data() + retryAfter->size();
    if (std::from_chars(retryAfter->data(), end, seconds).ptr == end && seconds >= 0) {
      error.retryAfter = std::chrono::seconds(seconds);
    }
  }
  error.kind = kindForStatus(status, error.reason);
  if (error.message.empty()) error.message = "HTTP " + std::to_string(status);
  return error;
}

Error errorFromFailure(const transport::Failure& failure) {
  Error error;
  error.message = failure.message;
  switch (failure.kind) {
    case transport::FailureKind::kTimeout:
      error.kind = ErrorKind::kTimeout;
      break;
    case transport::FailureKind::kTls:
      // A TLS failure will not fix itself: a wrong CA or certificate is a configuration error.
      error.kind = ErrorKind::kConfig;
      error.message = "TLS: " + failure.message;
      break;
    default:
      error.kind = ErrorKind::kUnavailable;
      break;
  }
  return error;
}

Result<WatchEvent> parseWatchLine(const std::string& line) {
  const Json parsed = Json::parse(line, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !isString(parsed, "type") ||
      !parsed.contains("object") || !parsed["object"].is_object()) {
    return makeError(ErrorKind::kMalformed, "malformed watch event: " + line.substr(0, 200));
  }
  const std::string type = parsed["type"].get<std::string>();
  WatchEvent event{WatchEventType::kAdded, parsed["object"]};
  if (type == "ADDED") {
    event.type = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    event.type = WatchEventType::kModified;
  } else if (type == "DELETED") {
    event.type = WatchEventType::kDeleted;
  } else if (type == "BOOKMARK") {
    event.type = WatchEventType::kBookmark;
  } else if (type == "ERROR") {
    const auto& status = event.object;
    const int code = status.contains("code") && status["code"].is_number_integer()
                         ? status["code"].get<int>()
                         : 500;
    return std::unexpected(errorFromResponse(code, status.dump(), std::nullopt));
  } else {
    return makeError(ErrorKind::kMalformed, "unknown watch event type " + type.substr(0, 64));
  }
  if (event.type != WatchEventType::kBookmark) {
    const auto& meta = event.object.contains("metadata") ? event.object["metadata"] : Json();
    if (!meta.is_object() || !isString(meta, "resourceVersion")) {
      return makeError(ErrorKind::kMalformed, "watch event object has no metadata.resourceVersion");
    }
  }
  return event;
}

}  // namespace sessionstore::kube
