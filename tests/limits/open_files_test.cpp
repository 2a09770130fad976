// The open-file limit is raised to the hard limit, and raising it again changes nothing.
#include "limits/open_files.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace sessionstore::limits {
namespace {

TEST(OpenFileLimit, TheSoftLimitIsRaisedToTheHardOne) {
  rlimit lowered{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lowered), 0);
  const auto hard = lowered.rlim_max;
  // Start from a soft limit below the hard one, as a container's usual 1024 would be.
  if (hard > 256) {
    lowered.rlim_cur = 256;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  }
  const auto raised = raiseOpenFileLimit();
  ASSERT_TRUE(raised) << raised.error();
  EXPECT_EQ(raised->hard, hard);
  EXPECT_EQ(raised->after, hard);
  rlimit now{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, hard);

  const auto again = raiseOpenFileLimit();
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->before, hard);
  EXPECT_EQ(again->after, hard);
}

}  // namespace
}  // namespace sessionstore::limits
