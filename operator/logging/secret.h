// A redaction guard for credentials (the store's password, tokens, REDIS_URL with a password).
// A Secret holds the value but every way of formatting it (fmt and so spdlog, iostreams, JSON
// and so log fields) prints "<redacted>"; it has no conversion to a string. The value comes out
// only through reveal(), which is easy to find in review.
#pragma once

#include <fmt/format.h>

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace sessionstore::logging {

inline constexpr std::string_view kRedacted = "<redacted>";

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  // The secret itself, for the one place that must send or store it. Never log the result.
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

std::ostream& operator<<(std::ostream& out, const Secret& secret);

// nlohmann_json (found by ADL): a Secret as a JSON value, for instance a log field, is
// "<redacted>".
template <typename BasicJsonType>
void to_json(BasicJsonType& json, const Secret& /*secret*/) {
  json = std::string(kRedacted);
}

}  // namespace sessionstore::logging

// fmt (and so spdlog): "{}" with a Secret prints "<redacted>"; string format specs apply to it.
template <>
struct fmt::formatter<sessionstore::logging::Secret> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const sessionstore::logging::Secret& /*secret*/, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(sessionstore::logging::kRedacted, ctx);
  }
};
