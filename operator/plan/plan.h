// `sessionstore-operator plan` as a pure function (PRODUCT.md, "The operator process"): from a
// SessionStore file, and optionally the target's Deployment and Service files, the objects and
// patches the operator would apply, as multi-document YAML for review in a pull request, with no
// cluster. The documents are the reconciler's own (reconcile/desired.h, wiring/connection.h), in
// the order it applies them, each preceded by a comment saying what it is and how it is applied;
// a header names the SessionStore, its effective spec (every CRD default filled in) and what the
// plan could not show. Every document is one the API server accepts
// (kubectl apply --server-side --dry-run=server --field-manager=sessionstore-operator -f -).
//
// What only the cluster knows is a placeholder, said so in a comment: the passwords the operator
// generates at apply (kPlaceholderPassword; a real password is never generated or printed), the
// hashes and URLs built from them, an external store's URL (kExternalPlaceholderHost), and the
// SessionStore's uid in ownerReferences (kPlaceholderUid). Same input, byte-identical output:
// no clock, no randomness, keys in a fixed order.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "reconcile/desired.h"

namespace sessionstore::plan {

// Stands for each password the operator generates (32 CSPRNG bytes) once, at apply.
inline constexpr std::string_view kPlaceholderPassword = "generated-by-the-operator-at-apply";
// What plan shows in place of a managed TLS store's CA and certificate (PEM, keys).
inline constexpr std::string_view kPlaceholderPem = "made-by-the-operator-at-apply";
// Stands for the password in an external store's URL, read from its Secret at apply.
inline constexpr std::string_view kExternalPlaceholderPassword = "read-from-the-url-at-apply";
// Stands for an external store's host (.invalid never resolves, RFC 6761).
inline constexpr std::string_view kExternalPlaceholderHost = "external-store.invalid";
// Stands for the SessionStore's uid, known once the API server has created it.
inline constexpr std::string_view kPlaceholderUid = "00000000-0000-0000-0000-000000000000";
// The namespace when neither the file nor -n names one, as kubectl.
inline constexpr std::string_view kDefaultNamespace = "default";

struct InputFile {
  std::string path;  // as the user named it; every error message starts with it
  std::string text;  // the file's YAML
};

struct PlanInput {
  InputFile sessionStore;               // one SessionStore (-f)
  std::optional<InputFile> deployment;  // the Deployment spec.target.deployment names
  std::optional<InputFile> service;     // the Service spec.target.service names
  // -n: the namespace to plan for when the SessionStore's file does not say; "" for
  // kDefaultNamespace. A file that says another namespace is an error, as with kubectl.
  std::string ns;
  // Where the operator runs (the NetworkPolicy admits its pods).
  std::string operatorNamespace = std::string(identity::kDefaultOperatorNamespace);
};

// The plan, or the first input error as "<path>: <what is wrong and what to fix>": YAML that
// does not parse (with its line), a file that is not one object of the expected kind, a spec
// that api::parseSessionStore rejects, a Deployment or Service that is not the target the spec
// names (or is in another namespace), a Deployment the wiring cannot use (a container named in
// spec.target.containers that it lacks, a malformed CPU).
std::expected<std::string, std::string> renderPlan(const PlanInput& input);

}  // namespace sessionstore::plan
