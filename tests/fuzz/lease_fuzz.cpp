// A coordination.k8s.io/v1 Lease as the API server returns it: any replica (or anyone allowed to
// write Leases in the namespace) wrote it. leaderelection::recordOf reads missing or mistyped
// fields as their defaults and never throws; writing a record back with withRecord keeps the
// resourceVersion and reads back as the same record.
#include <nlohmann/json.hpp>

#include "fuzz_input.h"
#include "leaderelection/lease.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const auto lease = nlohmann::json::parse(fuzz::text(data, size), nullptr, false);
  if (lease.is_discarded()) return 0;
  const auto record = leaderelection::recordOf(lease);
  const auto written = leaderelection::withRecord(lease, record);
  if (leaderelection::recordOf(written) != record) fuzz::broken("a record does not read back");
  if (leaderelection::resourceVersionOf(written) != leaderelection::resourceVersionOf(lease)) {
    fuzz::broken("withRecord lost the resourceVersion");
  }
  return 0;
}
