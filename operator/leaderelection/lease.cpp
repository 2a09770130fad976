#include "leaderelection/lease.h"

#include <chrono>
#include <cstdio>

namespace sessionstore::leaderelection {

namespace {

std::string stringField(const kube::Json& spec, const char* name) {
  const auto it = spec.find(name);
  return it != spec.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t integerField(const kube::Json& spec, const char* name) {
  const auto it = spec.find(name);
  return it != spec.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

void setTime(kube::Json& spec, const char* name, const std::string& value) {
  if (value.empty()) {
    spec.erase(name);
  } else {
    spec[name] = value;
  }
}

}  // namespace

LeaseRecord recordOf(const kube::Json& lease) {
  if (!lease.is_object()) return {};
  const auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return {};
  return LeaseRecord{
      .holderIdentity = stringField(*spec, "holderIdentity"),
      .leaseDurationSeconds = integerField(*spec, "leaseDurationSeconds"),
      .acquireTime = stringField(*spec, "acquireTime"),
      .renewTime = stringField(*spec, "renewTime"),
      .leaseTransitions = integerField(*spec, "leaseTransitions"),
  };
}

kube::Json withRecord(kube::Json lease, const LeaseRecord& record) {
  if (!lease.is_object()) lease = kube::Json::object();
  if (!lease.contains("spec") || !lease["spec"].is_object()) lease["spec"] = kube::Json::object();
  auto& spec = lease["spec"];
  spec["holderIdentity"] = record.holderIdentity;
  spec["leaseDurationSeconds"] = record.leaseDurationSeconds;
  setTime(spec, "acquireTime", record.acquireTime);
  setTime(spec, "renewTime", record.renewTime);
  spec["leaseTransitions"] = record.leaseTransitions;
  return lease;
}

kube::Json newLease(const std::string& ns, const std::string& name, const LeaseRecord& record) {
  const auto& r = kube::resources::kLeases;
  return withRecord(kube::Json{{"apiVersion", r.apiVersion()},
                               {"kind", r.kind},
                               {"metadata", {{"name", name}, {"namespace", ns}}}},
                    record);
}

std::string resourceVersionOf(const kube::Json& lease) {
  if (!lease.is_object()) return {};
  const auto metadata = lease.find("metadata");
  if (metadata == lease.end() || !metadata->is_object()) return {};
  return stringField(*metadata, "resourceVersion");
}

std::string formatMicroTime(clock::SystemTime t) {
  using namespace std::chrono;
  const auto micros = floor<microseconds>(t);
  const auto day = floor<days>(micros);
  const year_month_day date{day};
  const hh_mm_ss time{micros - day};
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()),
                static_cast<long long>(time.subseconds().count()));
  return text;
}

}  // namespace sessionstore::leaderelection
