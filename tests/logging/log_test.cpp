// JSON log lines: exact output with a fake clock, escaping (quotes, newlines, control
// characters, invalid UTF-8 still giving valid JSON), level filtering and the level flag.
#include "logging/log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "logging/capture_sink.h"
#include "mocks/clock/fake_clock.h"

namespace sessionstore::logging {
namespace {

using std::chrono::milliseconds;

class LogTest : public ::testing::Test {
 protected:
  LogTest() { clock_.advance(milliseconds(250)); }

  // A logger at `level` writing to sink_ with clock_ (2023-11-14T23:13:20.250Z).
  Logger logger(Level level = Level::kDebug) { return Logger(level, {sink_}, clock_); }

  clock::FakeClock clock_;
  std::shared_ptr<CaptureSink> sink_ = std::make_shared<CaptureSink>();
};

TEST(Timestamp, IsRfc3339UtcWithMilliseconds) {
  using clock::SystemTime;
  EXPECT_EQ(formatTimestamp(SystemTime(milliseconds(1'700'000'000'123))),
            "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(formatTimestamp(SystemTime{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatTimestamp(SystemTime(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(formatTimestamp(SystemTime(std::chrono::microseconds(951'782'400'000'999))),
            "2000-02-29T00:00:00.000Z");
}

TEST_F(LogTest, WritesOneExactJsonObjectPerLine) {
  logger()
      .forSessionStore("shop", "web")
      .info("reconciled", {{"duration_ms", 12}, {"replicas", 3}});
  logger().warn("lease lost",
                {{"ok", false}, {"ratio", 0.5}, {"none", nullptr}, {"pods", {"web-0", "web-1"}}});
  EXPECT_EQ(sink_->lines(),
            (std::vector<std::string>{
                R"({"ts":"2023-11-14T23:13:20.250Z","level":"info","msg":"reconciled",)"
                R"("sessionstore":"shop/web","duration_ms":12,"replicas":3})",
                R"({"ts":"2023-11-14T23:13:20.250Z","level":"warn","msg":"lease lost",)"
                R"("ok":false,"ratio":0.5,"none":null,"pods":["web-0","web-1"]})",
            }));
}

TEST_F(LogTest, BoundFieldsComeFirstAndLaterKeysReplaceEarlierOnes) {
  const auto scoped = logger().forSessionStore("shop", "web").withFields({{"attempt", 1}});
  scoped.error("apply failed", {{"attempt", 2}, {"msg", "not the message"}, {"level", 0}});
  EXPECT_EQ(sink_->lines(),
            (std::vector<std::string>{
                R"({"ts":"2023-11-14T23:13:20.250Z","level":"error","msg":"apply failed",)"
                R"("sessionstore":"shop/web","attempt":2,"fields.msg":"not the message",)"
                R"("fields.level":0})"}));
}

TEST_F(LogTest, EscapesQuotesNewlinesAndControlCharacters) {
  const std::string tricky = "say \"hi\"\nback\\slash\ttab\x01\x1f end";
  logger().info(tricky, {{"value", tricky}, {tricky, "as a key"}});
  const auto lines = sink_->lines();
  ASSERT_EQ(lines.size(), 1u);
  const std::string escaped = R"(say \"hi\"\nback\\slash\ttab\u0001\u001f end)";
  EXPECT_EQ(lines[0], R"({"ts":"2023-11-14T23:13:20.250Z","level":"info","msg":")" + escaped +
                          R"(","value":")" + escaped + R"(",")" + escaped + R"(":"as a key"})");
  EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  const auto parsed = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(parsed["msg"], tricky);
  EXPECT_EQ(parsed["value"], tricky);
  EXPECT_EQ(parsed[tricky], "as a key");
}

TEST_F(LogTest, InvalidUtf8StillGivesValidJson) {
  const std::string invalid = "ok\xff\xfe|\xc3";  // stray bytes, then a truncated sequence
  const std::string valid =
      "gr\xc3\xbc\xc3\x9f"
      "e \xe6\x97\xa5";  // "grüße 日"
  logger().info(invalid, {{"value", invalid}, {"name\xc0", valid}});
  const auto lines = sink_->lines();
  ASSERT_EQ(lines.size(), 1u);
  nlohmann::json parsed;
  ASSERT_NO_THROW(parsed = nlohmann::json::parse(lines[0])) << lines[0];
  const std::string replacement = "\xef\xbf\xbd";  // U+FFFD
  EXPECT_EQ(parsed["msg"], "ok" + replacement + replacement + "|" + replacement);
  EXPECT_EQ(parsed["value"], parsed["msg"]);
  EXPECT_EQ(parsed["name" + replacement], valid);  // valid UTF-8 passes through unchanged
}

TEST_F(LogTest, LevelFiltersLinesAndIsSharedByDerivedLoggers) {
  auto base = logger(Level::kWarn);
  const auto scoped = base.forSessionStore("shop", "web");
  scoped.debug("d");
  scoped.info("i");
  scoped.warn("w");
  scoped.error("e");
  ASSERT_EQ(sink_->lines().size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(sink_->lines()[0])["level"], "warn");
  EXPECT_EQ(nlohmann::json::parse(sink_->lines()[1])["level"], "error");
  EXPECT_FALSE(scoped.enabled(Level::kInfo));

  base.setLevel(Level::kDebug);
  EXPECT_EQ(scoped.level(), Level::kDebug);
  scoped.debug("d");
  EXPECT_EQ(sink_->lines().size(), 3u);

  base.setLevel(Level::kError);
  scoped.warn("w");
  EXPECT_EQ(sink_->lines().size(), 3u);
}

TEST(ParseLevel, AcceptsTheFourNamesAndExplainsAnythingElse) {
  for (const Level level : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    const auto parsed = parseLevel(toString(level));
    ASSERT_TRUE(parsed.has_value()) << toString(level);
    EXPECT_EQ(*parsed, level);
  }
  for (const std::string_view bad : {"verbose", "INFO", "warning", ""}) {
    const auto parsed = parseLevel(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error(),
              "invalid log level \"" + std::string(bad) + "\": use debug, info, warn or error");
  }
}

TEST_F(LogTest, DefaultLoggerShorthands) {
  const auto previous = defaultLogger();
  setDefaultLogger(logger(Level::kInfo));
  log::debug("dropped");
  log::info("started", {{"version", "0.1.0"}});
  log::warn("slow", {sessionStore("shop", "web")});
  setDefaultLogger(previous);
  log::debug("not captured");
  EXPECT_EQ(sink_->lines(),
            (std::vector<std::string>{
                R"({"ts":"2023-11-14T23:13:20.250Z","level":"info","msg":"started",)"
                R"("version":"0.1.0"})",
                R"({"ts":"2023-11-14T23:13:20.250Z","level":"warn","msg":"slow",)"
                R"("sessionstore":"shop/web"})"}));
}

TEST_F(LogTest, LinesFromSeveralThreadsStayWhole) {
  const auto shared = logger();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&shared, t] {
      for (int i = 0; i < 250; ++i) shared.info("tick", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& thread : threads) thread.join();
  const auto lines = sink_->lines();
  ASSERT_EQ(lines.size(), 1000u);
  int sum = 0;
  for (const auto& line : lines) sum += nlohmann::json::parse(line)["i"].get<int>();
  EXPECT_EQ(sum, 4 * (249 * 250 / 2));
}

}  // namespace
}  // namespace sessionstore::logging
