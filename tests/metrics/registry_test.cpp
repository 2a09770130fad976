// The registry's exposition text, byte for byte, and the behaviour behind it: escaping, bucket
// boundaries, concurrent updates, removal of children and the checks on names.
#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sessionstore::metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(Registry, RendersEachTypeWithEscapedLabelsExactly) {
  Registry registry;
  auto& requests =
      registry.counter("http_requests_total", "Requests served.\nBy path.", {"path", "code"});
  requests.withLabels({"/a\"b", "200"})->inc(3);
  requests.withLabels({"C:\\dir", "500"})->inc();
  requests.withLabels({"line1\nline2", "200"})->inc(0.5);

  auto& temperature = registry.gauge("room_temperature_celsius", "Back\\slash help.");
  temperature.withLabels({})->set(-2.5);

  auto& latency = registry.histogram("request_seconds", "Latency.", {"method"}, {0.25, 1, 10});
  auto get = latency.withLabels({"GET"});
  for (const double v : {0.125, 0.25, 5.0, 100.0}) get->observe(v);

  // A labelled family without children is not rendered at all (no HELP/TYPE either).
  registry.counter("unused_total", "Never touched.", {"x"});

  EXPECT_EQ(registry.render(),
            "# HELP http_requests_total Requests served.\\nBy path.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{path=\"/a\\\"b\",code=\"200\"} 3\n"
            "http_requests_total{path=\"C:\\\\dir\",code=\"500\"} 1\n"
            "http_requests_total{path=\"line1\\nline2\",code=\"200\"} 0.5\n"
            "# HELP request_seconds Latency.\n"
            "# TYPE request_seconds histogram\n"
            "request_seconds_bucket{method=\"GET\",le=\"0.25\"} 2\n"
            "request_seconds_bucket{method=\"GET\",le=\"1\"} 2\n"
            "request_seconds_bucket{method=\"GET\",le=\"10\"} 3\n"
            "request_seconds_bucket{method=\"GET\",le=\"+Inf\"} 4\n"
            "request_seconds_sum{method=\"GET\"} 105.375\n"
            "request_seconds_count{method=\"GET\"} 4\n"
            "# HELP room_temperature_celsius Back\\\\slash help.\n"
            "# TYPE room_temperature_celsius gauge\n"
            "room_temperature_celsius -2.5\n");
}

TEST(Registry, UnlabelledFamiliesAreReportedAtZeroFromTheStart) {
  Registry registry;
  registry.counter("starts_total", "Starts.");
  registry.histogram("wait_seconds", "Waits.", {}, {1});
  EXPECT_EQ(registry.render(),
            "# HELP starts_total Starts.\n"
            "# TYPE starts_total counter\n"
            "starts_total 0\n"
            "# HELP wait_seconds Waits.\n"
            "# TYPE wait_seconds histogram\n"
            "wait_seconds_bucket{le=\"1\"} 0\n"
            "wait_seconds_bucket{le=\"+Inf\"} 0\n"
            "wait_seconds_sum 0\n"
            "wait_seconds_count 0\n");
}

TEST(Registry, FamiliesAndChildrenAreSortedWhateverTheOrderOfCreation) {
  Registry registry;
  auto& b = registry.gauge("b_gauge", "B.", {"k"});
  auto& a = registry.gauge("a_gauge", "A.", {"k"});
  b.withLabels({"z"})->set(1);
  b.withLabels({"m"})->set(2);
  a.withLabels({"y"})->set(3);
  EXPECT_EQ(registry.render(),
            "# HELP a_gauge A.\n# TYPE a_gauge gauge\na_gauge{k=\"y\"} 3\n"
            "# HELP b_gauge B.\n# TYPE b_gauge gauge\nb_gauge{k=\"m\"} 2\nb_gauge{k=\"z\"} 1\n");
}

TEST(Histogram, CountsAValueInTheFirstBucketWhoseBoundIsAtLeastIt) {
  Histogram histogram({1, 2, 5});
  histogram.observe(-3);         // le=1
  histogram.observe(0);          // le=1
  histogram.observe(1);          // le=1: bounds are inclusive
  histogram.observe(1.0000001);  // le=2
  histogram.observe(5);          // le=5
  histogram.observe(5.5);        // +Inf
  histogram.observe(kInf);       // +Inf
  const auto snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.cumulative, (std::vector<std::uint64_t>{3, 4, 5, 7}));
  EXPECT_EQ(snapshot.count, 7u);
  EXPECT_EQ(snapshot.sum, kInf);
}

TEST(Histogram, NanLandsOnlyInTheInfBucket) {
  Histogram histogram({1});
  histogram.observe(std::nan(""));
  const auto snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.cumulative, (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(snapshot.count, 1u);
}

TEST(Histogram, BoundsAreCheckedAndATrailingInfIsDropped) {
  Registry registry;
  EXPECT_THROW(registry.histogram("h1", "h", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h2", "h", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h3", "h", {}, {1, std::nan("")}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h4", "h", {"le"}, {1}), std::invalid_argument);
  auto& family = registry.histogram("h5", "h", {}, {1, kInf});
  family.withLabels({})->observe(3);
  EXPECT_EQ(registry.render(),
            "# HELP h5 h\n# TYPE h5 histogram\n"
            "h5_bucket{le=\"1\"} 0\nh5_bucket{le=\"+Inf\"} 1\nh5_sum 3\nh5_count 1\n");
}

TEST(Histogram, BucketHelpers) {
  EXPECT_EQ(exponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(linearBuckets(0, 0.5, 3), (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(defaultBuckets().size(), 11u);
  EXPECT_THROW(exponentialBuckets(0, 2, 4), std::invalid_argument);
  EXPECT_THROW(linearBuckets(0, 0, 4), std::invalid_argument);
}

TEST(TextFormat, ValuesAreWrittenSoPrometheusParsesThemBack) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(1), "1");
  EXPECT_EQ(formatValue(-0.5), "-0.5");
  EXPECT_EQ(formatValue(0.1), "0.1");
  EXPECT_EQ(formatValue(1234567), "1234567");
  EXPECT_EQ(formatValue(1e-8), "1e-08");
  EXPECT_EQ(formatValue(1e21), "1e+21");
  EXPECT_EQ(formatValue(kInf), "+Inf");
  EXPECT_EQ(formatValue(-kInf), "-Inf");
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
  for (const double v : {0.1 + 0.2, 1.0 / 3.0, 123456789.125, 2.5e-300, 9007199254740993.0}) {
    EXPECT_EQ(std::stod(formatValue(v)), v) << formatValue(v);
  }
}

TEST(TextFormat, Escaping) {
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd\te"), "a\\\\b\\\"c\\nd\te");
  EXPECT_EQ(escapeHelp("a\\b\"c\nd"), "a\\\\b\"c\\nd");
}

TEST(Registry, ConcurrentUpdatesFromSeveralThreadsSumExactly) {
  Registry registry;
  auto& counter = registry.counter("ops_total", "Ops.", {"worker"});
  auto& gauge = registry.gauge("in_flight", "In flight.");
  auto& histogram = registry.histogram("op_seconds", "Op time.", {}, {0.5, 2});
  constexpr int kThreads = 8;
  constexpr int kIterations = 20000;

  std::atomic<bool> done{false};
  std::thread renderer([&] {
    while (!done.load()) ASSERT_FALSE(registry.render().empty());
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto gaugeChild = gauge.withLabels({});
      const auto histogramChild = histogram.withLabels({});
      for (int i = 0; i < kIterations; ++i) {
        // A lookup per update on purpose, half the threads sharing one child.
        counter.withLabels({std::to_string(t % 2)})->inc();
        gaugeChild->inc(2);
        gaugeChild->dec();
        histogramChild->observe(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  done = true;
  renderer.join();

  const double perChild = kThreads / 2.0 * kIterations;
  EXPECT_EQ(counter.withLabels({"0"})->value(), perChild);
  EXPECT_EQ(counter.withLabels({"1"})->value(), perChild);
  EXPECT_EQ(gauge.withLabels({})->value(), kThreads * kIterations);
  const auto snapshot = histogram.withLabels({})->snapshot();
  EXPECT_EQ(snapshot.count, static_cast<std::uint64_t>(kThreads * kIterations));
  EXPECT_EQ(snapshot.cumulative, (std::vector<std::uint64_t>{0, snapshot.count, snapshot.count}));
  EXPECT_EQ(snapshot.sum, kThreads * kIterations);
}

TEST(Family, RemoveDropsTheSeriesAndLeavesOthers) {
  Registry registry;
  auto& family = registry.gauge("store_keys", "Keys.", {"namespace", "name"});
  auto web = family.withLabels({"shop", "web"});
  web->set(10);
  family.withLabels({"shop", "api"})->set(20);

  EXPECT_TRUE(family.remove({"shop", "web"}));
  EXPECT_FALSE(family.remove({"shop", "web"}));
  EXPECT_EQ(registry.render(),
            "# HELP store_keys Keys.\n# TYPE store_keys gauge\n"
            "store_keys{namespace=\"shop\",name=\"api\"} 20\n");

  // A holder of the removed child can still update it; it is just no longer reported, and a
  // new lookup starts a fresh series at zero.
  web->set(11);
  EXPECT_EQ(family.size(), 1u);
  EXPECT_EQ(family.withLabels({"shop", "web"})->value(), 0);

  EXPECT_TRUE(family.remove({"shop", "web"}));
  EXPECT_TRUE(family.remove({"shop", "api"}));
  EXPECT_EQ(registry.render(), "");
}

TEST(Family, RemoveMatchingSelectsBySomeLabels) {
  Registry registry;
  auto& family = registry.counter("scale_total", "Scale.", {"namespace", "name", "direction"});
  family.withLabels({"shop", "web", "up"})->inc();
  family.withLabels({"shop", "web", "down"})->inc();
  family.withLabels({"shop", "webx", "up"})->inc();
  family.withLabels({"blog", "web", "up"})->inc();

  EXPECT_EQ(family.removeMatching({{"namespace", "shop"}, {"name", "web"}}), 2u);
  EXPECT_EQ(family.size(), 2u);
  EXPECT_EQ(family.removeMatching({{"namespace", "shop"}, {"name", "web"}}), 0u);
  EXPECT_THROW(family.removeMatching({{"nmespace", "shop"}}), std::invalid_argument);
}

TEST(Family, MisuseThrowsWithTheFamilyName) {
  Registry registry;
  auto& family = registry.counter("x_total", "X.", {"a", "b"});
  try {
    family.withLabels({"only-one"});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("x_total"), std::string::npos) << e.what();
  }
  EXPECT_THROW(family.remove({}), std::invalid_argument);
  EXPECT_THROW(family.withLabels({"1", "2"})->inc(-1), std::invalid_argument);
  EXPECT_THROW(family.withLabels({"1", "2"})->inc(std::nan("")), std::invalid_argument);
  EXPECT_EQ(family.withLabels({"1", "2"})->value(), 0);
}

TEST(Registry, NamesAreChecked) {
  Registry registry;
  registry.counter("ok:name_1", "fine", {"_label1"});
  EXPECT_THROW(registry.counter("ok:name_1", "twice"), std::invalid_argument);
  EXPECT_THROW(registry.counter("1starts_with_digit", "bad"), std::invalid_argument);
  EXPECT_THROW(registry.counter("has-dash", "bad"), std::invalid_argument);
  EXPECT_THROW(registry.counter("", "bad"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("g1", "bad", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.gauge("g2", "bad", {"a:b"}), std::invalid_argument);
  EXPECT_THROW(registry.gauge("g3", "bad", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(registry.gauge("g4", "bad", {""}), std::invalid_argument);
}

}  // namespace
}  // namespace sessionstore::metrics
