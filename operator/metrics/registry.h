// A Prometheus metrics registry: counter, gauge and histogram families, each with a name, help
// text and label names, holding one child series per combination of label values. Updating a
// child is lock-free (atomics); finding or creating a child takes its family's mutex, so a hot
// path can keep the shared_ptr a lookup returns. Registry::render() writes every family in the
// text exposition format 0.0.4 (what /metrics serves), families sorted by name and children by
// label values, so the output is deterministic. operator_metrics.h defines the operator's own
// metric set on top of this.
//
// Misuse (a bad metric or label name, the wrong number of label values, a counter decremented)
// is a bug in the caller and throws std::invalid_argument with a message naming the family.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace sessionstore::metrics {

// One value per label name of the family, in the same order.
using LabelValues = std::vector<std::string>;
// (label name, value) pairs selecting children by some of their labels (see removeMatching).
using LabelMatch = std::vector<std::pair<std::string, std::string>>;

// A value that only goes up (resets to zero when the process restarts).
class Counter {
 public:
  // REQUIRES: amount >= 0 (throws std::invalid_argument otherwise).
  void inc(double amount = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void inc(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into buckets by upper bound (le), plus their sum and count.
class Histogram {
 public:
  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0.0;
    std::uint64_t count = 0;
  };

  // REQUIRES: bounds strictly increasing, finite (Registry::histogram checks this).
  explicit Histogram(std::vector<double> bounds);

  // Counts `value` in the first bucket whose bound is >= value (+Inf for larger values or NaN).
  void observe(double value);
  // The buckets' cumulative counts. Taken without a lock: while observe() runs concurrently the
  // sum may lag the counts by the observations in flight; the +Inf bucket always equals count.
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0.0};
};

// Prometheus's default buckets (seconds): .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
std::vector<double> defaultBuckets();
// `count` bounds: start, start*factor, ... REQUIRES: start > 0, factor > 1, count >= 1.
std::vector<double> exponentialBuckets(double start, double factor, std::size_t count);
// `count` bounds: start, start+width, ... REQUIRES: width > 0, count >= 1.
std::vector<double> linearBuckets(double start, double width, std::size_t count);

// What every family has, whatever its type; Registry renders through it.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> labelNames);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labelNames() const { return labelNames_; }
  // "counter", "gauge" or "histogram".
  virtual const char* type() const = 0;
  // Appends the family's HELP, TYPE and sample lines; nothing when it has no child.
  virtual void render(std::string& out) const = 0;

 protected:
  // Throws std::invalid_argument unless values has one value per label name.
  void checkArity(const LabelValues& values) const;
  // The positions of `match`'s label names; throws std::invalid_argument for an unknown name.
  std::vector<std::pair<std::size_t, std::string>> resolve(const LabelMatch& match) const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> labelNames_;
};

// Sample lines of one child (defined in registry.cpp for each child type).
void renderChild(std::string& out, const FamilyBase& family, const LabelValues& values,
                 const Counter& child);
void renderChild(std::string& out, const FamilyBase& family, const LabelValues& values,
                 const Gauge& child);
void renderChild(std::string& out, const FamilyBase& family, const LabelValues& values,
                 const Histogram& child);
// "# HELP ...\n# TYPE ...\n" for a family.
void renderHeader(std::string& out, const FamilyBase& family);

template <typename Child>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), std::move(labels)),
        bounds_(std::move(bounds)) {
    // An unlabelled family has exactly one series, reported from the start (at zero).
    if (labelNames().empty()) withLabels({});
  }

  const char* type() const override;

  // The child for these label values, created at zero if new. Keep the pointer on hot paths: an
  // update through it is one atomic operation. A child removed meanwhile stays valid but is no
  // longer rendered. REQUIRES: values.size() == labelNames().size().
  std::shared_ptr<Child> withLabels(const LabelValues& values) {
    checkArity(values);
    std::lock_guard lock(mu_);
    auto it = children_.find(values);
    if (it == children_.end()) it = children_.emplace(values, makeChild()).first;
    return it->second;
  }

  // Removes one child; returns whether it existed. REQUIRES: as withLabels.
  bool remove(const LabelValues& values) {
    checkArity(values);
    std::lock_guard lock(mu_);
    return children_.erase(values) > 0;
  }

  // Removes every child whose labels have all the given values (for example every series of one
  // SessionStore, whatever its other labels); returns how many. REQUIRES: known label names.
  std::size_t removeMatching(const LabelMatch& match) {
    const auto positions = resolve(match);
    std::lock_guard lock(mu_);
    return std::erase_if(children_, [&](const auto& entry) {
      for (const auto& [index, value] : positions) {
        if (entry.first[index] != value) return false;
      }
      return true;
    });
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return children_.size();
  }

  void render(std::string& out) const override {
    std::vector<std::pair<LabelValues, std::shared_ptr<Child>>> children;
    {
      std::lock_guard lock(mu_);
      children.assign(children_.begin(), children_.end());
    }
    if (children.empty()) return;
    renderHeader(out, *this);
    for (const auto& [values, child] : children) renderChild(out, *this, values, *child);
  }

 private:
  std::shared_ptr<Child> makeChild() const {
    if constexpr (std::is_same_v<Child, Histogram>) {
      return std::make_shared<Histogram>(bounds_);
    } else {
      return std::make_shared<Child>();
    }
  }

  const std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<LabelValues, std::shared_ptr<Child>> children_;  // GUARDED_BY(mu_)
};

template <>
inline const char* Family<Counter>::type() const {
  return "counter";
}
template <>
inline const char* Family<Gauge>::type() const {
  return "gauge";
}
template <>
inline const char* Family<Histogram>::type() const {
  return "histogram";
}

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Owns families by name. The references it returns stay valid as long as the registry.
class Registry {
 public:
  // REQUIRES (else std::invalid_argument): name matches [a-zA-Z_:][a-zA-Z0-9_:]* and is not
  // registered yet; label names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__" and are
  // distinct.
  CounterFamily& counter(std::string name, std::string help,
                         std::vector<std::string> labelNames = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> labelNames = {});
  // REQUIRES: as counter(); bounds finite and strictly increasing (+Inf is implied and may be
  // given last); no label named "le".
  HistogramFamily& histogram(std::string name, std::string help,
                             std::vector<std::string> labelNames,
                             std::vector<double> bounds = defaultBuckets());

  // Every family in the text exposition format 0.0.4.
  std::string render() const;

 private:
  void add(std::unique_ptr<FamilyBase> family);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;  // GUARDED_BY(mu_)
};

// Text-format pieces, exposed for tests and other exporters.
// A sample value as Prometheus parses it: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string formatValue(double value);
// A label value between double quotes: backslash, double quote and newline escaped.
std::string escapeLabelValue(std::string_view value);
// HELP text: backslash and newline escaped.
std::string escapeHelp(std::string_view help);

}  // namespace sessionstore::metrics
