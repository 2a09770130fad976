// The redaction guard: every way of formatting a Secret prints "<redacted>", and a Secret given
// to a logger, by field or through spdlog directly, never reaches a line.
#include "logging/secret.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include "logging/capture_sink.h"
#include "logging/log.h"

namespace sessionstore::logging {
namespace {

constexpr std::string_view kPassword = "hunter2-s3cr3t";

// No implicit way to a string: passing a Secret where text is expected does not compile.
static_assert(!std::is_convertible_v<Secret, std::string>);
static_assert(!std::is_convertible_v<Secret, std::string_view>);
static_assert(!std::is_convertible_v<Secret, const char*>);
static_assert(!std::is_convertible_v<std::string, Secret>);

TEST(Secret, EveryFormattingPrintsRedacted) {
  const Secret secret{std::string(kPassword)};
  EXPECT_EQ(fmt::format("{}", secret), "<redacted>");
  EXPECT_EQ(fmt::format("[{:>12}]", secret), "[  <redacted>]");
  std::ostringstream stream;
  stream << secret;
  EXPECT_EQ(stream.str(), "<redacted>");
  EXPECT_EQ(nlohmann::json(secret), "<redacted>");
  EXPECT_EQ(nlohmann::ordered_json({{"password", secret}}).dump(), R"({"password":"<redacted>"})");
  EXPECT_EQ(secret.reveal(), kPassword);
}

TEST(Secret, NeverReachesALogLine) {
  auto sink = std::make_shared<CaptureSink>();
  const Secret secret{std::string(kPassword)};

  Logger logger(Level::kDebug, {sink});
  logger.forSessionStore("shop", "web").info("store password rotated", {{"password", secret}});
  logger.debug("auth", {{"nested", {{"secret", secret}}}});

  spdlog::logger raw("raw", sink);  // a direct spdlog call formats with fmt
  raw.error("connecting with password {}", secret);

  const auto lines = sink->lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find(R"("password":"<redacted>")"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(R"("nested":{"secret":"<redacted>"})"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[2], "connecting with password <redacted>");
  EXPECT_FALSE(sink->contains(kPassword));
}

}  // namespace
}  // namespace sessionstore::logging
