#include "api/env_names.h"

#include <algorithm>
#include <cctype>

namespace sessionstore::api {
namespace {

constexpr std::string_view kLoader = "the dynamic loader reads it to load code into every process";
constexpr std::string_view kGlibc =
    "glibc reads it to load modules or files (it is on glibc's list of variables unsafe for "
    "privileged programs)";
constexpr std::string_view kShell = "the shell reads it to find programs or run code";
constexpr std::string_view kRuntime = "a language runtime reads it to load or run code";
constexpr std::string_view kProgram = "programs run the command it names";
constexpr std::string_view kProxy = "HTTP clients send their requests through the host it names";
constexpr std::string_view kTrust = "TLS clients read it to decide which certificates to trust";
constexpr std::string_view kKubernetes =
    "Kubernetes clients in the pod read it to find the API server (and send the pod's token there)";

// Sources: glibc's UNSECURE_ENVVARS (sysdeps/generic/unsecvars.h), the bash manual's "Shell
// Variables", each runtime's documentation of the variables it reads at start.
constexpr ReservedEnvVar kReserved[] = {
    // The dynamic loader and glibc.
    {"LD_", true, kLoader},
    {"DYLD_", true, kLoader},
    {"GLIBC_TUNABLES", false, kGlibc},
    {"MALLOC_", true, kGlibc},
    {"GCONV_PATH", false, kGlibc},
    {"GETCONF_DIR", false, kGlibc},
    {"HOSTALIASES", false, kGlibc},
    {"LOCALDOMAIN", false, kGlibc},
    {"LOCPATH", false, kGlibc},
    {"NIS_PATH", false, kGlibc},
    {"NLSPATH", false, kGlibc},
    {"RESOLV_HOST_CONF", false, kGlibc},
    {"RES_OPTIONS", false, kGlibc},
    {"TMPDIR", false, kGlibc},
    {"TZDIR", false, kGlibc},
    // Shells.
    {"PATH", false, kShell},
    {"HOME", false, kShell},
    {"SHELL", false, kShell},
    {"IFS", false, kShell},
    {"ENV", false, kShell},
    {"BASH", true, kShell},  // BASH_ENV, BASHOPTS, BASH_LOADABLES_PATH, BASH_XTRACEFD, ...
    {"SHELLOPTS", false, kShell},
    {"PS4", false, kShell},
    {"PROMPT_COMMAND", false, kShell},
    {"CDPATH", false, kShell},
    {"GLOBIGNORE", false, kShell},
    {"EDITOR", false, kProgram},
    {"VISUAL", false, kProgram},
    {"PAGER", false, kProgram},
    // Language runtimes.
    {"PYTHON", true, kRuntime},  // PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, PYTHONBREAKPOINT, ...
    {"PERL", true, kRuntime},    // PERL5OPT, PERL5LIB, PERLLIB, PERL5DB
    {"RUBY", true, kRuntime},    // RUBYOPT, RUBYLIB
    {"GEM_HOME", false, kRuntime},
    {"GEM_PATH", false, kRuntime},
    {"NODE_", true, kRuntime},   // NODE_OPTIONS, NODE_PATH, NODE_REPL_EXTERNAL_MODULE
    {"JAVA_", true, kRuntime},   // JAVA_TOOL_OPTIONS, JAVA_OPTS, JAVA_HOME
    {"_JAVA_", true, kRuntime},  // _JAVA_OPTIONS
    {"JDK_JAVA_OPTIONS", false, kRuntime},
    {"CLASSPATH", false, kRuntime},
    {"DOTNET_", true, kRuntime},   // DOTNET_STARTUP_HOOKS, DOTNET_ADDITIONAL_DEPS
    {"CORECLR_", true, kRuntime},  // CORECLR_PROFILER_PATH
    {"COMPLUS_", true, kRuntime},
    {"PHPRC", false, kRuntime},
    {"PHP_INI_SCAN_DIR", false, kRuntime},
    {"LUA_", true, kRuntime},  // LUA_INIT runs code, LUA_PATH, LUA_CPATH
    {"GODEBUG", false, kRuntime},
    {"GIT_", true, kProgram},    // GIT_SSH_COMMAND, GIT_EXEC_PATH, GIT_CONFIG_*
    {"OPENSSL_", true, kTrust},  // OPENSSL_CONF loads engines and providers
    // Where traffic goes and what is trusted.
    {"HTTP_PROXY", false, kProxy},
    {"HTTPS_PROXY", false, kProxy},
    {"ALL_PROXY", false, kProxy},
    {"NO_PROXY", false, kProxy},
    {"FTP_PROXY", false, kProxy},
    {"SSL_CERT_FILE", false, kTrust},
    {"SSL_CERT_DIR", false, kTrust},
    {"CURL_CA_BUNDLE", false, kTrust},
    {"REQUESTS_CA_BUNDLE", false, kTrust},
    {"KUBERNETES_", true, kKubernetes},
};

bool equalFold(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::span<const ReservedEnvVar> reservedEnvVars() { return kReserved; }

std::optional<ReservedEnvVar> reservedEnvVar(std::string_view name) {
  for (const ReservedEnvVar& entry : kReserved) {
    const bool match = entry.prefix ? name.size() >= entry.name.size() &&
                                          equalFold(name.substr(0, entry.name.size()), entry.name)
                                    : equalFold(name, entry.name);
    if (match) return entry;
  }
  return std::nullopt;
}

std::string reservedEnvVarPattern() {
  std::string prefixes;
  std::string names;
  for (const ReservedEnvVar& entry : kReserved) {
    std::string& list = entry.prefix ? prefixes : names;
    if (!list.empty()) list += '|';
    list += entry.name;  // letters, digits and _ only: nothing to escape
  }
  return "(?i)^(" + prefixes + ")|^(" + names + ")$";
}

std::string reservedEnvVarProblem(std::string_view name) {
  const auto entry = reservedEnvVar(name);
  if (!entry) return "";
  const std::string which =
      entry->prefix ? std::string(entry->name) + "*" : std::string(entry->name);
  return "\"" + std::string(name) + "\" may not be used: " + which + " is reserved because " +
         std::string(entry->reader) +
         "; choose a name the app reads for this and nothing else (the defaults are REDIS_URL, "
         "REDIS_MAX_CONNECTIONS and WORKERS)";
}

}  // namespace sessionstore::api
