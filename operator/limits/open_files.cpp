#include "limits/open_files.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace sessionstore::limits {

std::expected<OpenFileLimit, std::string> raiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return std::unexpected(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  OpenFileLimit result{.before = limit.rlim_cur, .after = limit.rlim_cur, .hard = limit.rlim_max};
  if (limit.rlim_cur == limit.rlim_max) return result;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return std::unexpected(std::string("setrlimit(RLIMIT_NOFILE) to the hard limit ") +
                           std::to_string(limit.rlim_max) + ": " + std::strerror(errno));
  }
  result.after = limit.rlim_cur;
  return result;
}

}  // namespace sessionstore::limits
