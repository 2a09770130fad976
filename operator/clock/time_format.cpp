#include "clock/time_format.h"

#include <cstdio>

namespace sessionstore::clock {

namespace {

// RFC 3339 UTC with `digits` (0, 3 or 6) fractional digits, truncated.
std::string format(SystemTime t, int digits) {
  using namespace std::chrono;
  const auto micros = floor<microseconds>(t);
  const auto day = floor<days>(micros);
  const year_month_day date{day};
  const hh_mm_ss time{micros - day};
  long long fraction = time.subseconds().count();
  for (int d = 6; d > digits; --d) fraction /= 10;
  char text[64];
  const int n = std::snprintf(
      text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
      static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
      static_cast<int>(time.seconds().count()));
  std::string out(text, static_cast<size_t>(n));
  if (digits > 0) {
    std::snprintf(text, sizeof text, ".%0*lld", digits, fraction);
    out += text;
  }
  return out + "Z";
}

}  // namespace

std::string formatMicroTime(SystemTime t) { return format(t, 6); }
std::string formatMilliTime(SystemTime t) { return format(t, 3); }
std::string formatTime(SystemTime t) { return format(t, 0); }

}  // namespace sessionstore::clock

namespace sessionstore::clock {

std::optional<SystemTime> parseTime(std::string_view text) {
  using namespace std::chrono;
  int y = 0;
  unsigned mo = 0, d = 0;
  int h = 0, mi = 0, s = 0;
  char z = 0;
  int consumed = 0;
  const std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2u-%2uT%2d:%2d:%2d%c%n", &y, &mo, &d, &h, &mi, &s, &z,
                  &consumed) != 7 ||
      z != 'Z' || static_cast<std::size_t>(consumed) != copy.size()) {
    return std::nullopt;
  }
  const year_month_day date{year{y}, month{mo}, day{d}};
  if (!date.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return SystemTime{sys_days{date} + hours{h} + minutes{mi} + seconds{s}};
}

}  // namespace sessionstore::clock
