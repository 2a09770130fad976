// GoogleMock mocks of the HTTP transport, for unit tests of the REST client.
#pragma once

#include <gmock/gmock.h>

#include "transport/http_transport.h"

namespace sessionstore::transport {

class MockTransport : public Transport {
 public:
  MOCK_METHOD(Result<Response>, send, (const Request&), (override));
  MOCK_METHOD(Result<std::unique_ptr<Stream>>, stream, (const Request&), (override));
};

// A stream that returns scripted lines, then ends (or fails with `endWith`).
class ScriptedStream : public Stream {
 public:
  ScriptedStream(int status, std::vector<std::string> lines,
                 std::optional<Failure> endWith = std::nullopt)
      : status_(status), lines_(std::move(lines)), endWith_(std::move(endWith)) {}
  int status() const override { return status_; }
  std::optional<std::string> header(const std::string&) const override { return std::nullopt; }
  Result<std::optional<std::string>> readLine() override {
    if (next_ < lines_.size()) return std::optional<std::string>(lines_[next_++]);
    if (endWith_) return std::unexpected(*endWith_);
    return std::optional<std::string>();
  }
  Result<std::string> readAll() override {
    std::string all;
    while (next_ < lines_.size()) all += lines_[next_++] + "\n";
    return all;
  }
  void cancel() override {}

 private:
  int status_;
  std::vector<std::string> lines_;
  std::optional<Failure> endWith_;
  size_t next_ = 0;
};

}  // namespace sessionstore::transport
