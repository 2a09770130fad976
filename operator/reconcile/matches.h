// Whether an object read from the API server already is what the operator would apply, so that a
// reconcile with nothing to change makes no write (PRODUCT.md: "steady state with nothing changed
// makes no writes"). Two checks, for two kinds of object:
//   - contains(): for the operator's own children. Every field of the desired body is in the
//     observed object with the same value; the server's defaults and additions are ignored, and a
//     desired zero value (false, 0, "", {}, [], null) matches an absent field, as Go's omitempty
//     drops it. Lists of objects that all have a "name" match by name, other lists by position
//     and length.
//   - ownsExactly(): for the user's Deployment and Service, where the operator owns a few fields
//     among others'. contains() alone would miss a field the operator applied before and no
//     longer wants (an env entry of a container no longer targeted); this compares the leaf
//     fields the operator's field manager owns (metadata.managedFields, operation Apply) with
//     the leaves of the body it would apply now.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

namespace sessionstore::reconcile {

using Json = nlohmann::json;

bool contains(const Json& observed, const Json& desired);

// The leaf fields of a server-side-apply body, in managedFields' fieldsV1 spelling
// ("f:spec/f:template/f:spec/f:containers/k:{\"name\":\"app\"}/f:env/k:{\"name\":\"WORKERS\"}/f:value").
// apiVersion, kind, metadata.name and metadata.namespace are left out (the server does not
// record them). List elements are keyed by their "name", the merge key of every list the
// operator applies to a user's object.
std::set<std::string> leafFields(const Json& body);

// The leaf fields `manager` owns through Apply in `object`'s metadata.managedFields (entries
// "." that stand for a list element itself are left out).
std::set<std::string> ownedLeafFields(const Json& object, std::string_view manager);

// True when `manager` owns exactly the leaves of `body` and each has the desired value in
// `object` (contains()). An atomic struct the server records as one leaf (secretKeyRef) owns the
// body's leaves under it.
bool ownsExactly(const Json& object, const Json& body, std::string_view manager);

}  // namespace sessionstore::reconcile
