// Times as the API and the logs write them.
#include "clock/time_format.h"

#include <gtest/gtest.h>

namespace sessionstore::clock {
namespace {

TEST(TimeFormat, Rfc3339InUtcTruncatedToTheUnit) {
  const SystemTime t =
      SystemTime(std::chrono::seconds(1'795'305'600)) + std::chrono::nanoseconds(123'456'789);
  EXPECT_EQ(formatMicroTime(t), "2026-11-22T00:00:00.123456Z");
  EXPECT_EQ(formatMilliTime(t), "2026-11-22T00:00:00.123Z");
  EXPECT_EQ(formatTime(t), "2026-11-22T00:00:00Z");
  EXPECT_EQ(formatMicroTime(SystemTime{}), "1970-01-01T00:00:00.000000Z");
  // A leap day, and a time before 1970.
  EXPECT_EQ(formatTime(SystemTime(std::chrono::seconds(1'709'164'799))), "2024-02-28T23:59:59Z");
  EXPECT_EQ(formatTime(SystemTime(std::chrono::seconds(1'709'251'199))), "2024-02-29T23:59:59Z");
  EXPECT_EQ(formatMilliTime(SystemTime(std::chrono::milliseconds(-1))), "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace sessionstore::clock
