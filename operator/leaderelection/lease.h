// The leader-election record as it lives in a coordination.k8s.io/v1 Lease: reading it from the
// Lease's spec, writing it back, and the MicroTime format the API expects. Times read from the
// server are kept as the strings it returned: this component never interprets another
// machine's clock (see decision.h).
#pragma once

#include <cstdint>
#include <string>

#include "clock/clock.h"
#include "clock/time_format.h"
#include "kube/client.h"

namespace sessionstore::leaderelection {

// client-go's LeaderElectionRecord, restricted to what a Lease holds.
struct LeaseRecord {
  std::string holderIdentity;  // "" when nobody holds the lease (after a release)
  int64_t leaseDurationSeconds = 0;
  std::string acquireTime;  // MicroTime, "" when absent
  std::string renewTime;    // MicroTime, "" when absent
  int64_t leaseTransitions = 0;

  bool operator==(const LeaseRecord&) const = default;
};

// The record in `lease`'s spec. Missing or mistyped fields read as their defaults; never throws.
LeaseRecord recordOf(const kube::Json& lease);

// `lease` with its spec fields set from `record` (other spec fields and metadata, including
// resourceVersion, are kept).
kube::Json withRecord(kube::Json lease, const LeaseRecord& record);

// A new Lease object holding `record`.
kube::Json newLease(const std::string& ns, const std::string& name, const LeaseRecord& record);

// The Lease's metadata.resourceVersion, or "" when it has none.
std::string resourceVersionOf(const kube::Json& lease);

// MicroTime, as Leases hold it (clock/time_format.h).
using clock::formatMicroTime;

}  // namespace sessionstore::leaderelection
