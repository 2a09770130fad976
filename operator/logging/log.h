// JSON logs: one object per line, {"ts":...,"level":...,"msg":...,<fields>}, written through
// spdlog. `ts` is RFC 3339 UTC with milliseconds from an injected Clock, `msg` is a fixed message
// (what happened) and the fields carry the data, always naming the SessionStore as
// "sessionstore":"namespace/name" when there is one (forSessionStore()). Lines are built with
// nlohmann_json, so every string is escaped and invalid UTF-8 becomes U+FFFD: a line is always
// valid JSON. Pair with Secret (secret.h) so credentials print as "<redacted>".
//
//   auto logger = log::defaultLogger().forSessionStore("shop", "web");
//   logger.info("reconciled", {{"duration_ms", 12}});
//   log::warn("lease lost", {{"lease", "sessionstore-operator"}});
#pragma once

#include <spdlog/common.h>

#include <expected>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock.h"
#include "logging/secret.h"

namespace sessionstore::logging {

enum class Level { kDebug, kInfo, kWarn, kError };

// "debug", "info", "warn", "error".
std::string_view toString(Level level);
// The inverse of toString, for the --log-level flag; the error says which values are valid.
std::expected<Level, std::string> parseLevel(std::string_view text);

// Field values keep their insertion order in the line.
using Value = nlohmann::ordered_json;
struct Field {
  std::string key;
  Value value;
};
using Fields = std::vector<Field>;

// {"sessionstore", "namespace/name"}.
Field sessionStore(std::string_view ns, std::string_view name);

// "2023-11-14T22:13:20.123Z".
std::string formatTimestamp(clock::SystemTime time);
// One line without its newline: ts, level, msg, then `bound` and `fields` in order. A later field
// replaces an earlier one with the same key; a field named ts, level or msg is written as
// "fields.ts" (and so on) so it cannot hide the line's own.
std::string formatLine(clock::SystemTime time, Level level, std::string_view msg,
                       const Fields& bound, const Fields& fields);

// A handle on a log destination plus fields bound to every line. Cheap to copy; copies and
// loggers made by withFields() share the destination and its level. Thread-safe.
class Logger {
 public:
  // Writes to `sinks` (stderr when empty) lines at `level` or above.
  // REQUIRES: `clock` outlives this logger and every logger made from it.
  explicit Logger(Level level = Level::kInfo, std::vector<spdlog::sink_ptr> sinks = {},
                  const clock::Clock& clock = clock::systemClock());

  // A logger adding `fields` to every line, after this logger's own.
  Logger withFields(Fields fields) const;
  // withFields({sessionStore(ns, name)}).
  Logger forSessionStore(std::string_view ns, std::string_view name) const;

  // The level is shared with every copy and derived logger.
  void setLevel(Level level);
  Level level() const;
  bool enabled(Level level) const;

  void log(Level level, std::string_view msg, const Fields& fields = {}) const;
  void debug(std::string_view msg, const Fields& fields = {}) const;
  void info(std::string_view msg, const Fields& fields = {}) const;
  void warn(std::string_view msg, const Fields& fields = {}) const;
  void error(std::string_view msg, const Fields& fields = {}) const;

 private:
  struct Backend;
  std::shared_ptr<Backend> backend_;
  Fields bound_;
};

// The process-wide logger: info and above to stderr until setDefaultLogger() replaces it.
Logger defaultLogger();
void setDefaultLogger(Logger logger);

// Shorthands for defaultLogger().<level>(msg, fields).
void debug(std::string_view msg, const Fields& fields = {});
void info(std::string_view msg, const Fields& fields = {});
void warn(std::string_view msg, const Fields& fields = {});
void error(std::string_view msg, const Fields& fields = {});

}  // namespace sessionstore::logging

namespace sessionstore {
// log::info(...) reads better at call sites than logging::info(...).
namespace log = logging;
}  // namespace sessionstore
