#include "metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

namespace sessionstore::metrics {
namespace {

bool isNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool validMetricName(std::string_view name) {
  if (name.empty() || !(isNameStart(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isNameStart(c) || isDigit(c) || c == ':'; });
}

bool validLabelName(std::string_view name) {
  if (name.empty() || !isNameStart(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return isNameStart(c) || isDigit(c); });
}

void checkNames(const std::string& name, const std::vector<std::string>& labelNames) {
  if (!validMetricName(name)) {
    throw std::invalid_argument("metric name \"" + name +
                                "\" does not match [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  std::set<std::string_view> seen;
  for (const auto& label : labelNames) {
    if (!validLabelName(label)) {
      throw std::invalid_argument("metric " + name + ": label name \"" + label +
                                  "\" does not match [a-zA-Z_][a-zA-Z0-9_]* or starts with __");
    }
    if (!seen.insert(label).second) {
      throw std::invalid_argument("metric " + name + ": label name \"" + label + "\" repeated");
    }
  }
}

// Appends `{a="x",b="y"}` (with `extra` as a last label when given), or nothing without labels.
void appendLabels(std::string& out, const std::vector<std::string>& names,
                  const LabelValues& values, std::string_view extraName = {},
                  std::string_view extraValue = {}) {
  if (names.empty() && extraName.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escapeLabelValue(values[i]);
    out += '"';
  }
  if (!extraName.empty()) {
    if (!names.empty()) out += ',';
    out += extraName;
    out += "=\"";
    out += extraValue;
    out += '"';
  }
  out += '}';
}

void appendSample(std::string& out, std::string_view name, const FamilyBase& family,
                  const LabelValues& values, std::string_view value,
                  std::string_view extraName = {}, std::string_view extraValue = {}) {
  out += name;
  appendLabels(out, family.labelNames(), values, extraName, extraValue);
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

void Counter::inc(double amount) {
  if (!(amount >= 0.0)) {
    throw std::invalid_argument("counter increment " + formatValue(amount) + " is not >= 0");
  }
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}

void Histogram::observe(double value) {
  // NaN compares false with every bound and lands in +Inf, keeping +Inf == count.
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  const auto index =
      std::isnan(value) ? bounds_.size() : static_cast<std::size_t>(it - bounds_.begin());
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.cumulative.reserve(counts_.size());
  std::uint64_t total = 0;
  for (const auto& count : counts_) {
    total += count.load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(total);
  }
  snapshot.count = total;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> defaultBuckets() { return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}; }

std::vector<double> exponentialBuckets(double start, double factor, std::size_t count) {
  if (!(start > 0) || !(factor > 1) || count < 1) {
    throw std::invalid_argument("exponentialBuckets needs start > 0, factor > 1, count >= 1");
  }
  std::vector<double> bounds;
  bounds.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    bounds.push_back(start * std::pow(factor, static_cast<double>(i)));
  }
  return bounds;
}

std::vector<double> linearBuckets(double start, double width, std::size_t count) {
  if (!(width > 0) || count < 1) {
    throw std::invalid_argument("linearBuckets needs width > 0, count >= 1");
  }
  std::vector<double> bounds;
  bounds.reserve(count);
  for (std::size_t i = 0; i < count; ++i) bounds.push_back(start + width * static_cast<double>(i));
  return bounds;
}

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> labelNames)
    : name_(std::move(name)), help_(std::move(help)), labelNames_(std::move(labelNames)) {
  checkNames(name_, labelNames_);
}

void FamilyBase::checkArity(const LabelValues& values) const {
  if (values.size() != labelNames_.size()) {
    throw std::invalid_argument("metric " + name_ + ": " + std::to_string(values.size()) +
                                " label values for " + std::to_string(labelNames_.size()) +
                                " label names");
  }
}

std::vector<std::pair<std::size_t, std::string>> FamilyBase::resolve(
    const LabelMatch& match) const {
  std::vector<std::pair<std::size_t, std::string>> positions;
  for (const auto& [label, value] : match) {
    const auto it = std::find(labelNames_.begin(), labelNames_.end(), label);
    if (it == labelNames_.end()) {
      throw std::invalid_argument("metric " + name_ + " has no label \"" + label + "\"");
    }
    positions.emplace_back(static_cast<std::size_t>(it - labelNames_.begin()), value);
  }
  return positions;
}

void renderHeader(std::string& out, const FamilyBase& family) {
  out += "# HELP ";
  out += family.name();
  out += ' ';
  out += escapeHelp(family.help());
  out += "\n# TYPE ";
  out += family.name();
  out += ' ';
  out += family.type();
  out += '\n';
}

void renderChild(std::string& out, const FamilyBase& family, const LabelValues& values,
                 const Counter& child) {
  appendSample(out, family.name(), family, values, formatValue(child.value()));
}

void renderChild(std::string& out, const FamilyBase& family, const LabelValues& values,
                 const Gauge& child) {
  appendSample(out, family.name(), family, values, formatValue(child.value()));
}

void renderChild(std::string& out, const FamilyBase& family, const LabelValues& values,
                 const Histogram& child) {
  const auto snapshot = child.snapshot();
  const auto& bounds = child.bounds();
  const std::string bucket = family.name() + "_bucket";
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    const std::string le = i < bounds.size() ? formatValue(bounds[i]) : "+Inf";
    appendSample(out, bucket, family, values, std::to_string(snapshot.cumulative[i]), "le", le);
  }
  appendSample(out, family.name() + "_sum", family, values, formatValue(snapshot.sum));
  appendSample(out, family.name() + "_count", family, values, std::to_string(snapshot.count));
}

CounterFamily& Registry::counter(std::string name, std::string help,
                                 std::vector<std::string> labelNames) {
  auto family =
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(labelNames));
  auto& ref = *family;
  add(std::move(family));
  return ref;
}

GaugeFamily& Registry::gauge(std::string name, std::string help,
                             std::vector<std::string> labelNames) {
  auto family =
      std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(labelNames));
  auto& ref = *family;
  add(std::move(family));
  return ref;
}

HistogramFamily& Registry::histogram(std::string name, std::string help,
                                     std::vector<std::string> labelNames,
                                     std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      throw std::invalid_argument("histogram " + name +
                                  ": bucket bounds must be finite and strictly increasing");
    }
  }
  if (std::find(labelNames.begin(), labelNames.end(), "le") != labelNames.end()) {
    throw std::invalid_argument("histogram " + name + ": \"le\" is reserved for buckets");
  }
  auto family = std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                                  std::move(labelNames), std::move(bounds));
  auto& ref = *family;
  add(std::move(family));
  return ref;
}

void Registry::add(std::unique_ptr<FamilyBase> family) {
  std::lock_guard lock(mu_);
  const auto [it, inserted] = families_.try_emplace(family->name(), nullptr);
  if (!inserted) {
    throw std::invalid_argument("metric " + family->name() + " registered twice");
  }
  it->second = std::move(family);
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) family->render(out);
  return out;
}

std::string formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace sessionstore::metrics
