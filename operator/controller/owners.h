// Which SessionStore an object the caches saw belongs to, so that its change enqueues that
// store (controller-runtime's EnqueueRequestForOwner, and a label map for the user's objects).
#pragma once

#include <string>
#include <vector>

#include "informer/informer.h"

namespace sessionstore::controller {

// An object the operator made for a store: the store named by its controller ownerReference of
// kind SessionStore, else by its identity::kStoreLabel label; {} when neither ("namespace/name").
std::vector<std::string> owningStoreKeys(const informer::Json& object);

// The user's target Deployment or Service: the store named by its identity::kWiredByLabel
// label; {} without it.
std::vector<std::string> wiringStoreKeys(const informer::Json& object);

}  // namespace sessionstore::controller
