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


}  // namespace sessionstore::leaderelection
