#include "events/token_bucket.h"

#include <gtest/gtest.h>

namespace sessionstore::events {
namespace {

using namespace std::chrono_literals;

const clock::MonotonicTime kT0{std::chrono::hours(1)};

TEST(TokenBucketTest, AllowsTheBurstThenRefillsOnePerPeriod) {
  TokenBucket bucket(3, 5s, kT0);
  EXPECT_TRUE(bucket.tryTake(kT0));
  EXPECT_TRUE(bucket.tryTake(kT0));
  EXPECT_TRUE(bucket.tryTake(kT0));
  EXPECT_FALSE(bucket.tryTake(kT0));
  EXPECT_FALSE(bucket.tryTake(kT0 + 4999ms));
  EXPECT_TRUE(bucket.tryTake(kT0 + 5s));
  EXPECT_FALSE(bucket.tryTake(kT0 + 5s));
  // Partial progress is kept: the next token comes 5 s after the previous one, not after 5 s
  // from this attempt.
  EXPECT_FALSE(bucket.tryTake(kT0 + 9s));
  EXPECT_TRUE(bucket.tryTake(kT0 + 10s));
}

TEST(TokenBucketTest, NeverHoldsMoreThanTheBurst) {
  TokenBucket bucket(2, 1s, kT0);
  EXPECT_EQ(bucket.available(kT0 + 1h), 2);
  EXPECT_TRUE(bucket.full(kT0 + 1h));
  EXPECT_TRUE(bucket.tryTake(kT0 + 1h));
  EXPECT_FALSE(bucket.full(kT0 + 1h));
  EXPECT_TRUE(bucket.full(kT0 + 1h + 1s));
}

TEST(TokenBucketTest, TimeGoingBackwardsGivesNothing) {
  TokenBucket bucket(1, 1s, kT0);
  EXPECT_TRUE(bucket.tryTake(kT0 + 10s));
  EXPECT_FALSE(bucket.tryTake(kT0));
  EXPECT_TRUE(bucket.tryTake(kT0 + 11s));
}

}  // namespace
}  // namespace sessionstore::events
