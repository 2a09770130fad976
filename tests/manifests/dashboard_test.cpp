// docs/grafana-dashboard.json queries only metrics the operator exports: the names are read from
// the exposition text of an OperatorMetrics rendered on a fresh Registry (one series in each
// family, so that each prints its # TYPE line), and compared with every metric name found in the
// dashboard's PromQL (panel targets' expr, and the templating variables' label_values queries);
// a histogram's _bucket, _sum and _count series count as the histogram. The dashboard also charts
// each figure issue 6 asks for.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "metrics/operator_metrics.h"
#include "metrics/registry.h"

namespace sessionstore::testing {
namespace {

using Json = nlohmann::json;

// One series in a family, so that the registry renders it (a family without series prints
// nothing, not even its # TYPE line).
template <typename Family>
void touch(Family& family) {
  family.withLabels(metrics::LabelValues(family.labelNames().size(), "x"));
}

// name -> type ("counter", "gauge", "histogram"), from the exposition text's # TYPE lines of the
// operator's metrics, each family given one series.
std::map<std::string, std::string> exportedMetrics() {
  metrics::Registry registry;
  metrics::OperatorMetrics m(registry);
  touch(m.reconcileTotal);
  touch(m.reconcileErrorsTotal);
  touch(m.reconcileTimeSeconds);
  touch(m.workqueueDepth);
  touch(m.workqueueAddsTotal);
  touch(m.workqueueRetriesTotal);
  touch(m.workqueueQueueDurationSeconds);
  touch(m.workqueueWorkDurationSeconds);
  touch(m.restClientRequestsTotal);
  touch(m.leaderElectionMasterStatus);
  touch(m.replicasDesired);
  touch(m.replicasCurrent);
  touch(m.workers);
  touch(m.storeReady);
  touch(m.storeConnectedClients);
  touch(m.storeKeys);
  touch(m.scaleEventsTotal);
  std::map<std::string, std::string> types;
  std::istringstream lines(registry.render());
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string hash, keyword, name, type;
    if (words >> hash >> keyword >> name >> type && hash == "#" && keyword == "TYPE") {
      types[name] = type;
    }
  }
  return types;
}

// How many families operator_metrics.cpp registers (registry.counter/gauge/histogram calls), so
// that a metric added there and not touched above fails the test instead of going unseen.
std::size_t registeredFamilies() {
  std::ifstream in(std::string(SESSIONSTORE_SOURCE_DIR) + "/operator/metrics/operator_metrics.cpp");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string source = text.str();
  const std::regex call(R"(registry\.(counter|gauge|histogram)\s*\()");
  return static_cast<std::size_t>(std::distance(
      std::sregex_iterator(source.begin(), source.end(), call), std::sregex_iterator()));
}

// The metric names a PromQL expression selects: identifiers that are not functions, aggregation
// operators, keywords, label names (inside {...} or by/without/on/ignoring/group_x (...)),
// strings, durations or $variables.
std::set<std::string> metricNames(std::string expr) {
  const auto erase = [&expr](const std::regex& pattern) {
    expr = std::regex_replace(expr, pattern, " ");
  };
  erase(std::regex(R"("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)"));  // strings
  erase(std::regex(R"(\{[^}]*\})"));                                    // label matchers
  erase(std::regex(R"(\[[^\]]*\])"));                                   // ranges, subqueries
  erase(std::regex(R"(\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\))"));
  erase(std::regex(R"(\$\{?\w+\}?)"));  // $__rate_interval, ${datasource}
  static const std::set<std::string> kKeywords = {
      "and",      "or",         "unless",      "bool", "offset", "by",  "without", "on",
      "ignoring", "group_left", "group_right", "inf",  "nan",    "Inf", "NaN",     "atan2"};
  std::set<std::string> names;
  const std::regex identifier(R"([A-Za-z_:][A-Za-z0-9_:]*)");
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), identifier);
       it != std::sregex_iterator(); ++it) {
    const auto begin = static_cast<std::size_t>(it->position());
    const std::string name = it->str();
    if (begin > 0) {
      const char before = expr[begin - 1];
      if (std::isalnum(static_cast<unsigned char>(before)) || before == '.') continue;  // 1e3
    }
    const auto after = expr.find_first_not_of(" \t\n", begin + name.size());
    if (after != std::string::npos && expr[after] == '(') continue;  // a function or aggregation
    if (kKeywords.contains(name)) continue;
    names.insert(name);
  }
  return names;
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every "expr" in the dashboard, and every label_values(...) metric of its variables.
void collect(const Json& node, std::vector<std::string>& exprs) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "expr" && value.is_string()) exprs.push_back(value.get<std::string>());
      collect(value, exprs);
    }
  } else if (node.is_array()) {
    for (const auto& item : node) collect(item, exprs);
  }
}

std::vector<std::string> variableQueries(const Json& dashboard) {
  std::vector<std::string> queries;
  const std::regex labelValues(R"(label_values\(\s*([^,]+),)");
  for (const auto& variable : dashboard["templating"]["list"]) {
    if (variable.value("type", "") != "query") continue;
    const Json& query = variable["query"];
    const std::string text =
        query.is_string() ? query.get<std::string>() : query.value("query", "");
    std::smatch match;
    if (std::regex_search(text, match, labelValues)) queries.push_back(match[1].str());
  }
  return queries;
}

TEST(DashboardMetrics, TheParserFindsMetricNamesOnly) {
  EXPECT_EQ(
      metricNames(
          R"(sum by (le, name) (rate(a_seconds_bucket{name=~"$x", code!="5xx"}[$__rate_interval])))"),
      (std::set<std::string>{"a_seconds_bucket"}));
  EXPECT_EQ(metricNames("histogram_quantile(0.95, sum(rate(b_bucket[5m])) by (le)) / c offset 1h"),
            (std::set<std::string>{"b_bucket", "c"}));
  EXPECT_EQ(metricNames("max by (namespace) (d) > bool 1e3 and on (pod) e unless f"),
            (std::set<std::string>{"d", "e", "f"}));
  EXPECT_EQ(metricNames(R"x(label_replace(g, "dst", "$1", "src", "(.*)"))x"),
            (std::set<std::string>{"g"}));
}

TEST(DashboardMetrics, EveryQueriedMetricIsExported) {
  const auto exported = exportedMetrics();
  ASSERT_GE(exported.size(), 17u);
  ASSERT_EQ(exported.size(), registeredFamilies())
      << "operator_metrics.cpp registers a family exportedMetrics() does not touch: add it there";
  const Json dashboard =
      Json::parse(readText(std::string(SESSIONSTORE_SOURCE_DIR) + "/docs/grafana-dashboard.json"));

  std::vector<std::string> exprs;
  collect(dashboard, exprs);
  ASSERT_GE(exprs.size(), 15u);
  std::set<std::string> queried;
  for (const auto& expr : exprs) {
    const auto names = metricNames(expr);
    EXPECT_FALSE(names.empty()) << "no metric found in: " << expr;
    queried.insert(names.begin(), names.end());
  }
  const auto variables = variableQueries(dashboard);
  EXPECT_EQ(variables.size(), 2u);
  for (const auto& query : variables) {
    const auto names = metricNames(query);
    queried.insert(names.begin(), names.end());
  }

  std::set<std::string> charted;  // as exported: histograms without their suffix
  for (const auto& name : queried) {
    if (exported.contains(name)) {
      EXPECT_NE(exported.at(name), "histogram")
          << name << " is a histogram: query its _bucket, _sum or _count series";
      charted.insert(name);
      continue;
    }
    bool found = false;
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        const std::string base = name.substr(0, name.size() - suffix.size());
        if (exported.contains(base) && exported.at(base) == "histogram") {
          charted.insert(base);
          found = true;
        }
      }
    }
    EXPECT_TRUE(found) << "the dashboard queries " << name
                       << ", which the operator does not export (operator/metrics/"
                          "operator_metrics.cpp)";
  }

  // The figures the dashboard is for.
  for (const char* name :
       {"sessionstore_replicas_desired", "sessionstore_replicas_current", "sessionstore_workers",
        "sessionstore_store_connected_clients", "sessionstore_store_keys",
        "sessionstore_scale_events_total", "controller_runtime_reconcile_total",
        "controller_runtime_reconcile_errors_total", "controller_runtime_reconcile_time_seconds",
        "workqueue_depth"}) {
    EXPECT_TRUE(charted.contains(name)) << "the dashboard does not chart " << name;
  }
}

}  // namespace
}  // namespace sessionstore::testing
