// A spdlog sink that keeps every line it is given, for tests that assert on what was logged
// (a line's fields, or that a secret never reached any line).
#pragma once

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sessionstore::logging {

class CaptureSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  // The lines so far, without their newline, oldest first.
  std::vector<std::string> lines() const;
  // Whether any line contains `needle`.
  bool contains(std::string_view needle) const;
  void clear();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;  // GUARDED_BY(mu_)
};

}  // namespace sessionstore::logging
