// The autoscaling sources' parsers, over answers shaped as the API server, metrics-server and
// Prometheus give them.
#include "autoscaling/sources.h"

#include <gtest/gtest.h>

namespace sessionstore::autoscaling {
namespace {

Json pod(const std::string& name, const std::string& phase, bool ready, const Json& containers,
         bool deleting = false) {
  Json p = {{"metadata", {{"name", name}}},
            {"spec", {{"containers", containers}}},
            {"status",
             {{"phase", phase},
              {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
  if (deleting) p["metadata"]["deletionTimestamp"] = "2026-11-22T00:00:00Z";
  return p;
}

Json container(const std::string& name, const std::string& cpu) {
  return {{"name", name}, {"resources", {{"requests", {{"cpu", cpu}, {"memory", "128Mi"}}}}}};
}

Json metrics(const std::string& name, const std::string& appCpu, const std::string& sidecarCpu) {
  return {{"metadata", {{"name", name}}},
          {"containers",
           {{{"name", "app"}, {"usage", {{"cpu", appCpu}, {"memory", "64Mi"}}}},
            {{"name", "sidecar"}, {"usage", {{"cpu", sidecarCpu}, {"memory", "1Mi"}}}}}}};
}

TEST(PodSample, SumsTheCountedContainersAndSortsPodsByState) {
  const Json containers = {container("app", "500m"), container("sidecar", "100m")};
  const Json pods = {
      {"items",
       {pod("a", "Running", true, containers), pod("b", "Running", true, containers),
        pod("c", "Pending", false, containers),
        pod("d", "Running", true, containers),  // no metrics yet
        pod("e", "Running", true, containers, true), pod("f", "Failed", false, containers)}}};
  const Json podMetrics = {
      {"items",
       {metrics("a", "400m", "50m"), metrics("b", "250m", "50m"), metrics("e", "1", "1")}}};
  const auto onlyApp = podSample(pods, podMetrics, "cpu", {"app"});
  ASSERT_TRUE(onlyApp) << onlyApp.error();
  ASSERT_EQ(onlyApp->ready.size(), 2u);
  EXPECT_EQ(onlyApp->ready[0].name, "a");
  EXPECT_DOUBLE_EQ(onlyApp->ready[0].usage, 0.4);
  EXPECT_DOUBLE_EQ(onlyApp->ready[0].request, 0.5);
  EXPECT_EQ(onlyApp->missing, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(onlyApp->ignored, (std::vector<std::string>{"e", "f"}));

  const auto all = podSample(pods, podMetrics, "cpu", {});
  ASSERT_TRUE(all);
  EXPECT_DOUBLE_EQ(all->ready[0].usage, 0.45);
  EXPECT_DOUBLE_EQ(all->ready[0].request, 0.6);

  const auto memory = podSample(pods, podMetrics, "memory", {"app"});
  ASSERT_TRUE(memory);
  EXPECT_DOUBLE_EQ(memory->ready[1].usage, 64.0 * 1024 * 1024);
}

TEST(PodSample, AContainerWithoutARequestIsAnErrorSayingWhatToSet) {
  const Json pods = {{"items", {pod("a", "Running", true, {{{"name", "app"}}})}}};
  const auto sample = podSample(pods, Json{{"items", Json::array()}}, "cpu", {});
  ASSERT_FALSE(sample);
  EXPECT_EQ(sample.error(),
            "container app of pod a has no cpu request: utilization needs one (set "
            "resources.requests.cpu)");
}

TEST(SelectorString, SpellsMatchLabelsAndExpressions) {
  EXPECT_EQ(selectorString(R"({"matchLabels": {"app": "web", "tier": "front"}})"_json).value(),
            "app=web,tier=front");
  EXPECT_EQ(selectorString(R"({"matchExpressions": [
                {"key": "env", "operator": "In", "values": ["a", "b"]},
                {"key": "x", "operator": "NotIn", "values": ["c"]},
                {"key": "y", "operator": "Exists"},
                {"key": "z", "operator": "DoesNotExist"}]})"_json)
                .value(),
            "env in (a,b),x notin (c),y,!z");
  EXPECT_FALSE(selectorString(R"({})"_json));
  EXPECT_FALSE(selectorString(R"({"matchExpressions": [{"key": "a", "operator": "Gt"}]})"_json));
}

TEST(PrometheusValue, ReadsAScalarOrASingleSample) {
  EXPECT_DOUBLE_EQ(parsePrometheusValue(R"({"status":"success","data":{"resultType":"vector",
      "result":[{"metric":{},"value":[1700000000.1,"2.5"]}]}})")
                       .value(),
                   2.5);
  EXPECT_DOUBLE_EQ(parsePrometheusValue(R"({"status":"success","data":{"resultType":"scalar",
      "result":[1700000000.1,"0.25"]}})")
                       .value(),
                   0.25);
}

TEST(PrometheusValue, SaysWhatIsWrongWithEveryOtherAnswer) {
  const auto error = [](const char* body) { return parsePrometheusValue(body).error(); };
  EXPECT_EQ(error("<html>"), "the answer is not JSON");
  EXPECT_EQ(error(R"({"status":"error","error":"parse error at char 3"})"),
            "the query failed: parse error at char 3");
  EXPECT_EQ(error(R"({"status":"success","data":{"resultType":"vector","result":[]}})"),
            "the query returned no sample (is the metric scraped?)");
  EXPECT_NE(error(R"({"status":"success","data":{"resultType":"vector","result":[
                      {"value":[1,"1"]},{"value":[1,"2"]}]}})")
                .find("returned 2 samples"),
            std::string::npos);
  EXPECT_EQ(error(R"({"status":"success","data":{"resultType":"vector","result":[
                      {"value":[1,"NaN"]}]}})"),
            "the query's value is NaN");
  EXPECT_EQ(error(R"({"status":"success","data":{"resultType":"matrix","result":[]}})"),
            "the query returned a matrix; it must return a scalar or one sample");
}

// Found by the prometheus fuzz target: {"status": {...}} threw nlohmann's type_error out of the
// parser, on the poller's thread, which ends the operator. Fields of the wrong type are errors.
TEST(PrometheusValue, FieldsOfTheWrongTypeAreErrorsNotExceptions) {
  for (const char* body : {R"({"status": {"resultType": "vector", "result": []}})",
                           R"({"status": "success", "data": {"resultType": 7, "result": []}})",
                           R"({"status": "error", "error": ["x"]})"}) {
    std::expected<double, std::string> value;
    ASSERT_NO_THROW(value = parsePrometheusValue(body)) << body;
    EXPECT_FALSE(value.has_value()) << body;
  }
}

TEST(PodSample, FieldsOfTheWrongTypeAreSkippedOrErrorsNotExceptions) {
  const Json pods = Json::parse(R"({"items": [{"metadata": {"name": "a"},
      "spec": {"containers": [7, {"name": ["x"]}]},
      "status": {"phase": "Running", "conditions": ["Ready", {"type": 1, "status": {}}]}}]})");
  const Json podMetrics = Json::parse(R"({"items": [{"metadata": {"name": "a"},
      "containers": [null, {"name": 3, "usage": {"cpu": "1m"}}]}]})");
  EXPECT_NO_THROW((void)podSample(pods, podMetrics, "cpu", {"app"}));
  EXPECT_NO_THROW((void)podSample(pods, podMetrics, "cpu", {}));
  EXPECT_NO_THROW((void)selectorString(
      Json::parse(R"({"matchExpressions": [{"key": 1, "operator": [], "values": "a"}, 5]})")));
}

TEST(PrometheusQueryTarget, PercentEncodesTheQuery) {
  EXPECT_EQ(prometheusQueryTarget("histogram_quantile(0.95, sum by (le) (rate(x[1m])))"),
            "/api/v1/query?query=histogram_quantile%280.95%2C%20sum%20by%20%28le%29%20%28rate%"
            "28x%5B1m%5D%29%29%29");
}

}  // namespace
}  // namespace sessionstore::autoscaling
