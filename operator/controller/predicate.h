// Which watch events of a SessionStore start a reconcile, as controller-runtime's predicates
// (GenerationChangedPredicate, with the metadata changes the operator must react to). Adds and
// deletes always pass. An update passes when metadata.generation, the deletionTimestamp, the
// uid, the operator's finalizer's presence, the labels or the annotations changed, or when it is
// a resync (before and after carry the same resourceVersion). A status-only change (the
// reconciler's own status writes, the autoscaler's) starts nothing: the API server bumps
// generation on every spec change of a custom resource with a status subresource, so a spec
// change is never missed.
#pragma once

#include <functional>

#include "informer/informer.h"

namespace sessionstore::controller {

// Whether an update from `before` to `after` should start a pass (see above). Pure.
bool sessionStoreUpdateMatters(const informer::Json& before, const informer::Json& after);

// `handlers` with its onUpdate called only for updates `matters` lets through; onAdd and
// onDelete as they are.
informer::Handlers filterUpdates(
    informer::Handlers handlers,
    std::function<bool(const informer::Json& before, const informer::Json& after)> matters);

}  // namespace sessionstore::controller
