// The process's limit on open files, raised at startup as Go's runtime does (since Go 1.19): the
// soft RLIMIT_NOFILE up to the hard limit. The health monitor keeps one connection per store, and
// 1,200 stores plus the API connections exceed the usual soft limit of 1024. The libraries here
// wait with poll() or epoll (hiredis 0.14, Boost.Asio), never select(), so descriptors above
// 1024 are safe. main calls raiseOpenFileLimit() once, before anything opens connections.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

namespace sessionstore::limits {

struct OpenFileLimit {
  std::uint64_t before = 0;  // the soft limit found
  std::uint64_t after = 0;   // the soft limit now
  std::uint64_t hard = 0;    // the hard limit (RLIM_INFINITY as UINT64_MAX)
};

// Raises the soft limit to the hard one (a no-op when they are equal). An error says which call
// failed and why; the limit is then unchanged, which is not fatal for a small installation.
std::expected<OpenFileLimit, std::string> raiseOpenFileLimit();

}  // namespace sessionstore::limits
