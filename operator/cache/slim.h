// What the operator's caches keep of an object: the informers of its children and of the
// target pass each object through slimObject before storing it, so 1,200 stores' objects fit in
// the memory budget (PRODUCT.md: 48 MiB with 1,200 stores, caches included). What is dropped is
// what neither the reconciler nor the autoscaler reads:
// - metadata.managedFields, except the operator's own entries (the reconciler reads the fields
//   it owns through Apply on the user's Deployment and Service: OwnFields::kKeep); of the objects
//   the operator makes, only whether an own entry is an Update matters, so their Apply entries
//   keep no fieldsV1 (OwnFields::kDrop: a StatefulSet's is 3 KB); when the operator still has an
//   Update entry (an object it created and has not yet taken over to Apply), every entry is
//   kept whole, because taking over writes the whole managedFields list back and must not drop
//   anyone else's;
// - the kubectl.kubernetes.io/last-applied-configuration annotation (a second copy of the
//   object);
// - status, except the counters the operator reads (replicas, readyReplicas, ...).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace sessionstore::cache {

enum class OwnFields { kKeep, kDrop };

// Slims `object` in place as described above; `manager` is the operator's field manager.
void slimObject(nlohmann::json& object, std::string_view manager,
                OwnFields ownFields = OwnFields::kKeep);

}  // namespace sessionstore::cache
