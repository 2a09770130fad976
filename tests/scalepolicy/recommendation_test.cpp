#include "scalepolicy/recommendation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

namespace sessionstore::scalepolicy {
namespace {

using api::MetricType;

// `n` ready pods, each using `percent` of a 1-core request.
std::vector<PodUsage> podsAt(int n, double percent) {
  std::vector<PodUsage> pods;
  for (int i = 0; i < n; ++i) {
    pods.push_back({.name = "web-" + std::to_string(i), .usage = percent / 100.0, .request = 1.0});
  }
  return pods;
}

std::vector<std::string> missing(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("web-new-" + std::to_string(i));
  return names;
}

struct UtilizationCase {
  std::string name;
  int current;
  std::vector<PodUsage> ready;
  std::vector<std::string> missing;
  double target;
  MetricType type;
  int replicas;
  bool withinTolerance;
  std::string description;  // exact
};

void PrintTo(const UtilizationCase& c, std::ostream* os) { *os << c.name; }

std::vector<UtilizationCase> utilizationCases() {
  return {
      {"AboveTargetScalesUp",
       3,
       podsAt(3, 92),
       {},
       80,
       MetricType::kCPU,
       4,
       false,
       "cpu 92% of requests > target 80%"},
      {"ExactlyTenPercentAboveIsWithinTolerance",
       4,
       podsAt(4, 88),
       {},
       80,
       MetricType::kCPU,
       4,
       true,
       "cpu 88% of requests, within 10% of target 80%"},
      {"ExactlyTenPercentBelowIsWithinTolerance",
       4,
       podsAt(4, 72),
       {},
       80,
       MetricType::kCPU,
       4,
       true,
       "cpu 72% of requests, within 10% of target 80%"},
      {"ElevenPercentAboveScalesUp",
       4,
       podsAt(4, 88.8),
       {},
       80,
       MetricType::kCPU,
       5,
       false,
       "cpu 89% of requests > target 80%"},
      {"ElevenPercentBelowScalesDown",
       10,
       podsAt(10, 71.2),
       {},
       80,
       MetricType::kCPU,
       9,
       false,
       "cpu 71% of requests < target 80%"},
      {"FarBelowTargetScalesDown",
       8,
       podsAt(8, 20),
       {},
       80,
       MetricType::kCPU,
       2,
       false,
       "cpu 20% of requests < target 80%"},
      {"IdlePodsRecommendZero",
       4,
       podsAt(4, 0),
       {},
       80,
       MetricType::kCPU,
       0,
       false,
       "cpu 0% of requests < target 80%"},
      {"MemoryIsNamedMemory",
       2,
       podsAt(2, 180),
       {},
       90,
       MetricType::kMemory,
       4,
       false,
       "memory 180% of requests > target 90%"},
      {"UnevenRequestsAreSummedNotAveraged",
       2,
       {{.name = "a", .usage = 0.4, .request = 0.5}, {.name = "b", .usage = 2.0, .request = 1.5}},
       {},
       80,
       MetricType::kCPU,
       3,
       false,
       "cpu 120% of requests > target 80%"},
      // The HPA's missing-pod rule. Scale up: missing pods count at 0 %.
      {"MissingPodsCountAtZeroOnScaleUp", 8, podsAt(6, 120), missing(2), 80, MetricType::kCPU, 9,
       false, "cpu 120% of requests > target 80%, 90% counting 2 pods without metrics at 0%"},
      {"MissingPodsFlipAScaleUpIntoNoChange", 4, podsAt(2, 90), missing(2), 80, MetricType::kCPU, 4,
       false,
       "cpu 90% of requests > target 80%, 45% counting 2 pods without metrics at 0% (the other "
       "way: no change)"},
      {"MissingPodsBringAScaleUpWithinTolerance", 4, podsAt(2, 160), missing(2), 80,
       MetricType::kCPU, 4, true,
       "cpu 160% of requests > target 80%, 80% counting 2 pods without metrics at 0% (within "
       "10%: no change)"},
      // Scale down: missing pods count at 100 % of their request (or the target when above).
      {"MissingPodsCountAtFullRequestOnScaleDown", 10, podsAt(8, 20), missing(2), 80,
       MetricType::kCPU, 5, false,
       "cpu 20% of requests < target 80%, 36% counting 2 pods without metrics at 100%"},
      {"MissingPodsFlipAScaleDownIntoNoChange", 4, podsAt(2, 40), missing(2), 50, MetricType::kCPU,
       4, false,
       "cpu 40% of requests < target 50%, 70% counting 2 pods without metrics at 100% (the other "
       "way: no change)"},
      {"MissingPodsCountAtTargetAboveHundredPercent", 6, podsAt(4, 100), missing(2), 200,
       MetricType::kCPU, 4, false,
       "cpu 100% of requests < target 200%, 133% counting 2 pods without metrics at 200%"},
      {"MissingPodsDoNotMatterWithinTolerance", 4, podsAt(3, 84), missing(1), 80, MetricType::kCPU,
       4, true, "cpu 84% of requests, within 10% of target 80%"},
  };
}

class UtilizationTest : public testing::TestWithParam<UtilizationCase> {};

TEST_P(UtilizationTest, Recommends) {
  const UtilizationCase& c = GetParam();
  const SourceResult result =
      utilizationRecommendation(c.current, c.ready, c.missing, c.target, c.type);
  ASSERT_TRUE(result.has_value()) << result.error().reason;
  EXPECT_EQ(result->type, c.type);
  EXPECT_EQ(result->currentReplicas, c.current);
  EXPECT_EQ(result->replicas, c.replicas);
  EXPECT_EQ(result->withinTolerance, c.withinTolerance);
  EXPECT_EQ(result->target, c.target);
  EXPECT_EQ(result->description, c.description);
}

INSTANTIATE_TEST_SUITE_P(Cases, UtilizationTest, testing::ValuesIn(utilizationCases()),
                         [](const auto& row) { return row.param.name; });

TEST(UtilizationTest, ReportsTheMeasuredUtilizationOfTheReadyPods) {
  const SourceResult result =
      utilizationRecommendation(4, podsAt(2, 90), missing(2), 80, MetricType::kCPU);
  ASSERT_TRUE(result.has_value());
  EXPECT_NEAR(result->value, 90.0, 1e-9);
}

TEST(UtilizationTest, ToleranceIsAParameter) {
  const SourceResult strict =
      utilizationRecommendation(4, podsAt(4, 88), {}, 80, MetricType::kCPU, 0.05);
  ASSERT_TRUE(strict.has_value());
  EXPECT_EQ(strict->replicas, 5);
  EXPECT_EQ(strict->description, "cpu 88% of requests > target 80%");
}

struct FailureCase {
  std::string name;
  int current;
  std::vector<PodUsage> ready;
  std::vector<std::string> missing;
  double target;
  MetricType type;
  std::string reason;
};

void PrintTo(const FailureCase& c, std::ostream* os) { *os << c.name; }

class UtilizationFailureTest : public testing::TestWithParam<FailureCase> {};

TEST_P(UtilizationFailureTest, FailsSayingWhy) {
  const FailureCase& c = GetParam();
  const SourceResult result =
      utilizationRecommendation(c.current, c.ready, c.missing, c.target, c.type);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().type, c.type);
  EXPECT_EQ(result.error().reason, c.reason);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, UtilizationFailureTest,
    testing::ValuesIn(std::vector<FailureCase>{
        {"NoPods", 3, {}, {}, 80, MetricType::kCPU, "no ready pod reports metrics"},
        {"OnlyMissingPods",
         3,
         {},
         missing(3),
         80,
         MetricType::kMemory,
         "no ready pod reports metrics"},
        {"NoRequests",
         2,
         {{.name = "a", .usage = 0.1, .request = 0}},
         {},
         80,
         MetricType::kCPU,
         "the ready pods request no cpu"},
        {"NegativeUsage",
         2,
         {{.name = "a", .usage = -1, .request = 1}},
         {},
         80,
         MetricType::kCPU,
         "pod a reports an invalid cpu usage (-1)"},
        {"NaNUsage",
         2,
         {{.name = "a", .usage = std::numeric_limits<double>::quiet_NaN(), .request = 1}},
         {},
         80,
         MetricType::kCPU,
         "pod a reports an invalid cpu usage (nan)"},
        {"ZeroReplicas",
         0,
         podsAt(1, 50),
         {},
         80,
         MetricType::kCPU,
         "current replicas is 0: no recommendation below 1 replica"},
        {"ZeroTarget",
         2,
         podsAt(2, 50),
         {},
         0,
         MetricType::kCPU,
         "target utilization must be positive, got 0"},
        {"NotAResource",
         2,
         podsAt(2, 50),
         {},
         80,
         MetricType::kLatency,
         "utilization applies to CPU and Memory only"},
    }),
    [](const auto& row) { return row.param.name; });

struct ValueCase {
  std::string name;
  MetricType type;
  int current;
  double value;
  double target;
  int replicas;
  bool withinTolerance;
  std::string description;
};

void PrintTo(const ValueCase& c, std::ostream* os) { *os << c.name; }

class ValueTest : public testing::TestWithParam<ValueCase> {};

TEST_P(ValueTest, Recommends) {
  const ValueCase& c = GetParam();
  const SourceResult result = valueRecommendation(c.current, c.value, c.target, c.type);
  ASSERT_TRUE(result.has_value()) << result.error().reason;
  EXPECT_EQ(result->type, c.type);
  EXPECT_EQ(result->value, c.value);
  EXPECT_EQ(result->target, c.target);
  EXPECT_EQ(result->replicas, c.replicas);
  EXPECT_EQ(result->withinTolerance, c.withinTolerance);
  EXPECT_EQ(result->description, c.description);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValueTest,
    testing::ValuesIn(std::vector<ValueCase>{
        {"SessionsAboveTarget", MetricType::kActiveSessions, 4, 2600, 500, 6, false,
         "active sessions 2600 / 500 per replica"},
        {"SessionsTenPercentAboveWithinTolerance", MetricType::kActiveSessions, 4, 2200, 500, 4,
         true, "active sessions 2200 / 500 per replica (550 each at 4, within 10%)"},
        {"SessionsElevenPercentAboveScalesUp", MetricType::kActiveSessions, 4, 2220, 500, 5, false,
         "active sessions 2220 / 500 per replica"},
        {"SessionsBelowTargetScaleDown", MetricType::kActiveSessions, 6, 900, 500, 2, false,
         "active sessions 900 / 500 per replica"},
        {"NoSessionsRecommendZero", MetricType::kActiveSessions, 3, 0, 500, 0, false,
         "active sessions 0 / 500 per replica"},
        {"StoreClientsWithinTolerance", MetricType::kStoreClients, 3, 130, 40, 3, true,
         "store clients 130 / 40 per replica (43.33 each at 3, within 10%)"},
        {"StoreClientsAboveTarget", MetricType::kStoreClients, 3, 200, 40, 5, false,
         "store clients 200 / 40 per replica"},
        {"LatencyAboveTarget", MetricType::kLatency, 3, 2.5, 2, 4, false,
         "latency 2.5s > target 2s"},
        {"LatencyBelowTarget", MetricType::kLatency, 4, 0.25, 2, 1, false,
         "latency 250ms < target 2s"},
        {"LatencyWithinTolerance", MetricType::kLatency, 4, 0.27, 0.25, 4, true,
         "latency 270ms, within 10% of target 250ms"},
        {"LatencyElevenPercentAbove", MetricType::kLatency, 10, 0.2775, 0.25, 12, false,
         "latency 277.5ms > target 250ms"},
    }),
    [](const auto& row) { return row.param.name; });

TEST(ValueTest, FailsOnNonsense) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(valueRecommendation(3, -1, 500, MetricType::kActiveSessions).error().reason,
            "active sessions is not a valid measurement (-1)");
  EXPECT_EQ(valueRecommendation(3, nan, 2, MetricType::kLatency).error().reason,
            "latency is not a valid measurement (nan)");
  EXPECT_EQ(valueRecommendation(3, inf, 2, MetricType::kLatency).error().reason,
            "latency is not a valid measurement (inf)");
  EXPECT_EQ(valueRecommendation(3, 1, 0, MetricType::kStoreClients).error().reason,
            "target must be positive, got 0");
  EXPECT_EQ(valueRecommendation(0, 1, 1, MetricType::kStoreClients).error().reason,
            "current replicas is 0: no recommendation below 1 replica");
  EXPECT_EQ(valueRecommendation(3, 1, 1, MetricType::kCPU).error().reason,
            "CPU and Memory are utilization metrics");
}

TEST(ValueTest, HugeTotalsAreCapped) {
  const SourceResult result = valueRecommendation(1, 1e300, 1, MetricType::kActiveSessions);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->replicas, kMaxRecommendation);
}

TEST(FailedTest, MakesAFailure) {
  const SourceResult result = failed(MetricType::kLatency, "prometheus: connection refused");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error(), (SourceFailure{.type = MetricType::kLatency,
                                           .reason = "prometheus: connection refused"}));
}

TEST(MetricNameTest, NamesEveryType) {
  EXPECT_EQ(metricName(MetricType::kCPU), "cpu");
  EXPECT_EQ(metricName(MetricType::kMemory), "memory");
  EXPECT_EQ(metricName(MetricType::kActiveSessions), "active sessions");
  EXPECT_EQ(metricName(MetricType::kStoreClients), "store clients");
  EXPECT_EQ(metricName(MetricType::kLatency), "latency");
}

TEST(LatencySecondsTest, ParsesTheCrdFormat) {
  EXPECT_EQ(latencySeconds("2s").value(), 2.0);
  EXPECT_EQ(latencySeconds("1.5s").value(), 1.5);
  EXPECT_DOUBLE_EQ(latencySeconds("250ms").value(), 0.25);
  EXPECT_EQ(latencySeconds("0ms").value(), 0.0);
  for (const char* bad : {"", "s", "ms", "2", "2m", "-1s", "1e3s", "abc", " 2s", "2 s"}) {
    EXPECT_FALSE(latencySeconds(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace sessionstore::scalepolicy
