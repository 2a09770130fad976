// The allocator's freed pages go back to the system at once while the operator is quiet and a
// second later while it works (app/allocator.h), read back from jemalloc itself when the test
// runs on it, as the release binary does.
#include "app/allocator.h"

#include <gtest/gtest.h>

namespace sessionstore::app {
namespace {

TEST(QuietWatch, QuietWhenNothingWasAddedSinceTheLastLookAndBusyAgainOnTheNextAdd) {
  QuietWatch watch;
  EXPECT_FALSE(watch.look(5));  // the first look has nothing to compare with
  EXPECT_TRUE(watch.look(5));
  EXPECT_TRUE(watch.look(5));
  EXPECT_FALSE(watch.look(7));
  EXPECT_FALSE(watch.look(9));
  EXPECT_TRUE(watch.look(9));
  releaseFreedPagesAtOnce(false);  // as the operator starts
}

#if defined(SESSIONSTORE_JEMALLOC)
TEST(QuietWatch, SetsJemallocsDelayForFreedPagesOnEveryChange) {
  ASSERT_EQ(freedPagesDelayMs(), 1000);  // malloc_conf's
  QuietWatch watch;
  watch.look(1);
  EXPECT_EQ(freedPagesDelayMs(), 1000);
  watch.look(1);
  EXPECT_EQ(freedPagesDelayMs(), 0);
  watch.look(2);
  EXPECT_EQ(freedPagesDelayMs(), 1000);
}
#else
TEST(QuietWatch, AnotherAllocatorHasNoDelayToSet) {
  QuietWatch watch;
  watch.look(1);
  watch.look(1);
  EXPECT_EQ(freedPagesDelayMs(), std::nullopt);
}
#endif

}  // namespace
}  // namespace sessionstore::app
