#include "logging/capture_sink.h"

#include <algorithm>

namespace sessionstore::logging {

std::vector<std::string> CaptureSink::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

bool CaptureSink::contains(std::string_view needle) const {
  std::lock_guard lock(mu_);
  return std::any_of(lines_.begin(), lines_.end(), [&](const std::string& line) {
    return line.find(needle) != std::string::npos;
  });
}

void CaptureSink::clear() {
  std::lock_guard lock(mu_);
  lines_.clear();
}

void CaptureSink::sink_it_(const spdlog::details::log_msg& msg) {
  // The payload is the message as logged (the JSON line); the sink's pattern does not apply.
  std::lock_guard lock(mu_);
  lines_.emplace_back(msg.payload.data(), msg.payload.size());
}

}  // namespace sessionstore::logging
