// Which environment variable names the operator may write into the app's containers (issue 19,
// "confused deputy"). The operator puts spec.connection.urlEnvVar (the store's URL, password
// included), spec.connection.poolSizeEnvVar and spec.workers.envVar into every wired container, so
// whoever may create a SessionStore chooses env names in someone else's pods. A name that the
// dynamic loader, a shell, a language runtime or a common library reads to load code, to find
// programs, or to change where traffic goes or which certificates are trusted would let them change
// what the app runs: `urlEnvVar: LD_PRELOAD` makes every process try to preload the URL (and print
// it, password included, to stderr); `NODE_OPTIONS`, `PYTHONSTARTUP`, `JAVA_TOOL_OPTIONS` or
// `BASH_ENV` run code; `HTTPS_PROXY` or `KUBERNETES_SERVICE_HOST` send the app's requests (and its
// service account token) elsewhere.
//
// The list lives here only. The CRD holds the same rule as a CEL regular expression on each env
// field (reservedEnvVarPattern() spells it; tests/api checks that the CRD's rules are exactly
// that), and parseSessionStore refuses the names too, for `plan` and for a CRD installed without
// the rule. Names compare without regard to case: several readers take lower-case spellings
// (curl's http_proxy), and nobody needs `path` for a Redis URL.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sessionstore::api {

struct ReservedEnvVar {
  std::string_view name;    // "PATH", or a prefix such as "LD_"
  bool prefix = false;      // every name that starts with `name` is reserved
  std::string_view reader;  // who reads it and what it changes, for the error message
};

// Every reserved name and prefix, with its reader.
std::span<const ReservedEnvVar> reservedEnvVars();

// The entry that reserves `name` (case-insensitively), or nullopt when the operator may write it.
std::optional<ReservedEnvVar> reservedEnvVar(std::string_view name);

// The RE2 pattern (CEL's matches()) that matches exactly the reserved names:
// "(?i)^(LD_|...)|^(PATH|...)$".
std::string reservedEnvVarPattern();

// The error for a reserved name in field `path`, or "" when it is not reserved:
// "LD_PRELOAD may not be used: the dynamic loader reads LD_* (it loads code into every process);
// choose another name".
std::string reservedEnvVarProblem(std::string_view name);

}  // namespace sessionstore::api
