#include "workqueue/backoff.h"

#include <gtest/gtest.h>

#include <chrono>

namespace sessionstore::workqueue {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ItemExponentialBackoffTest, DoublesFrom5msUpTo1000s) {
  ItemExponentialBackoff backoff;
  clock::Duration expected = milliseconds(5);
  for (int failure = 1; failure <= 18; ++failure) {
    SCOPED_TRACE(failure);
    EXPECT_EQ(backoff.when("ns/web"), expected);
    expected *= 2;
  }
  // The 18th failure waited 5ms * 2^17 = 655.36s; doubling again would pass 1000s.
  EXPECT_EQ(expected, milliseconds(1'310'720));
  for (int failure = 19; failure <= 30; ++failure) EXPECT_EQ(backoff.when("ns/web"), seconds(1000));
  EXPECT_EQ(backoff.numRequeues("ns/web"), 30u);
}

TEST(ItemExponentialBackoffTest, StaysCappedAfterManyFailures) {
  ItemExponentialBackoff backoff;
  for (int i = 0; i < 100'000; ++i) backoff.when("k");
  EXPECT_EQ(backoff.when("k"), seconds(1000));
  EXPECT_EQ(backoff.numRequeues("k"), 100'001u);
}

TEST(ItemExponentialBackoffTest, ForgetStartsOver) {
  ItemExponentialBackoff backoff;
  backoff.when("k");
  backoff.when("k");
  EXPECT_EQ(backoff.when("k"), milliseconds(20));
  EXPECT_EQ(backoff.numRequeues("k"), 3u);
  backoff.forget("k");
  EXPECT_EQ(backoff.numRequeues("k"), 0u);
  EXPECT_EQ(backoff.when("k"), milliseconds(5));
  EXPECT_EQ(backoff.numRequeues("k"), 1u);
}

TEST(ItemExponentialBackoffTest, KeysBackOffIndependently) {
  ItemExponentialBackoff backoff;
  EXPECT_EQ(backoff.when("a"), milliseconds(5));
  EXPECT_EQ(backoff.when("a"), milliseconds(10));
  EXPECT_EQ(backoff.when("b"), milliseconds(5));
  EXPECT_EQ(backoff.when("a"), milliseconds(20));
  backoff.forget("a");
  EXPECT_EQ(backoff.when("b"), milliseconds(10));
  EXPECT_EQ(backoff.numRequeues("a"), 0u);
  EXPECT_EQ(backoff.numRequeues("b"), 2u);
  EXPECT_EQ(backoff.numRequeues("never-failed"), 0u);
}

TEST(ItemExponentialBackoffTest, HonoursOtherBaseAndMax) {
  ItemExponentialBackoff backoff(seconds(1), seconds(5));
  EXPECT_EQ(backoff.when("k"), seconds(1));
  EXPECT_EQ(backoff.when("k"), seconds(2));
  EXPECT_EQ(backoff.when("k"), seconds(4));
  EXPECT_EQ(backoff.when("k"), seconds(5));
  EXPECT_EQ(backoff.when("k"), seconds(5));

  ItemExponentialBackoff none(clock::Duration::zero(), seconds(5));
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(none.when("k"), clock::Duration::zero());
}

}  // namespace
}  // namespace sessionstore::workqueue
