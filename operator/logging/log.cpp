#include "logging/log.h"

#include "clock/time_format.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <utility>

namespace sessionstore::logging {
namespace {

constexpr std::array<std::string_view, 4> kLevelNames = {"debug", "info", "warn", "error"};

spdlog::level::level_enum toSpdlog(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

Level fromSpdlog(spdlog::level::level_enum level) {
  if (level <= spdlog::level::debug) return Level::kDebug;
  if (level == spdlog::level::info) return Level::kInfo;
  if (level == spdlog::level::warn) return Level::kWarn;
  return Level::kError;
}

bool reservedKey(std::string_view key) { return key == "ts" || key == "level" || key == "msg"; }

std::mutex& defaultMutex() {
  static std::mutex mu;
  return mu;
}

Logger& defaultSlot() {  // GUARDED_BY(defaultMutex())
  static Logger logger;
  return logger;
}

}  // namespace

std::string_view toString(Level level) { return kLevelNames[static_cast<std::size_t>(level)]; }

std::expected<Level, std::string> parseLevel(std::string_view text) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (text == kLevelNames[i]) return static_cast<Level>(i);
  }
  return std::unexpected("invalid log level \"" + std::string(text) +
                         "\": use debug, info, warn or error");
}

Field sessionStore(std::string_view ns, std::string_view name) {
  std::string value;
  value.reserve(ns.size() + 1 + name.size());
  value.append(ns).append("/").append(name);
  return Field{"sessionstore", std::move(value)};
}

std::string formatTimestamp(clock::SystemTime time) { return clock::formatMilliTime(time); }

std::string formatLine(clock::SystemTime time, Level level, std::string_view msg,
                       const Fields& bound, const Fields& fields) {
  Value line = Value::object();
  line["ts"] = formatTimestamp(time);
  line["level"] = std::string(toString(level));
  line["msg"] = std::string(msg);
  for (const Fields* group : {&bound, &fields}) {
    for (const auto& field : *group) {
      line[reservedKey(field.key) ? "fields." + field.key : field.key] = field.value;
    }
  }
  // replace: invalid UTF-8 becomes U+FFFD instead of an exception, so the line is valid JSON.
  return line.dump(-1, ' ', false, Value::error_handler_t::replace);
}

struct Logger::Backend {
  std::shared_ptr<spdlog::logger> logger;
  const clock::Clock* clock;
};

Logger::Logger(Level level, std::vector<spdlog::sink_ptr> sinks, const clock::Clock& clock) {
  if (sinks.empty()) sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>("sessionstore", sinks.begin(), sinks.end());
  logger->set_pattern("%v");  // the line is complete JSON already
  logger->set_level(toSpdlog(level));
  backend_ = std::make_shared<Backend>(Backend{std::move(logger), &clock});
}

Logger Logger::withFields(Fields fields) const {
  Logger derived = *this;
  derived.bound_.insert(derived.bound_.end(), std::make_move_iterator(fields.begin()),
                        std::make_move_iterator(fields.end()));
  return derived;
}

Logger Logger::forSessionStore(std::string_view ns, std::string_view name) const {
  return withFields({sessionStore(ns, name)});
}

void Logger::setLevel(Level level) { backend_->logger->set_level(toSpdlog(level)); }

Level Logger::level() const { return fromSpdlog(backend_->logger->level()); }

bool Logger::enabled(Level level) const { return backend_->logger->should_log(toSpdlog(level)); }

void Logger::log(Level level, std::string_view msg, const Fields& fields) const {
  if (!enabled(level)) return;
  const auto now = backend_->clock->wallNow();
  const auto line = formatLine(now, level, msg, bound_, fields);
  backend_->logger->log(std::chrono::time_point_cast<spdlog::log_clock::duration>(now),
                        spdlog::source_loc{}, toSpdlog(level),
                        spdlog::string_view_t(line.data(), line.size()));
}

void Logger::debug(std::string_view msg, const Fields& fields) const {
  log(Level::kDebug, msg, fields);
}
void Logger::info(std::string_view msg, const Fields& fields) const {
  log(Level::kInfo, msg, fields);
}
void Logger::warn(std::string_view msg, const Fields& fields) const {
  log(Level::kWarn, msg, fields);
}
void Logger::error(std::string_view msg, const Fields& fields) const {
  log(Level::kError, msg, fields);
}

Logger defaultLogger() {
  std::lock_guard lock(defaultMutex());
  return defaultSlot();
}

void setDefaultLogger(Logger logger) {
  std::lock_guard lock(defaultMutex());
  defaultSlot() = std::move(logger);
}

void debug(std::string_view msg, const Fields& fields) { defaultLogger().debug(msg, fields); }
void info(std::string_view msg, const Fields& fields) { defaultLogger().info(msg, fields); }
void warn(std::string_view msg, const Fields& fields) { defaultLogger().warn(msg, fields); }
void error(std::string_view msg, const Fields& fields) { defaultLogger().error(msg, fields); }

}  // namespace sessionstore::logging
