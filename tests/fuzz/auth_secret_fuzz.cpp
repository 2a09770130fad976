// The Secret <name>-redis-auth as the API server returns it (anyone allowed to edit Secrets in the
// namespace can change it): managedstore::passwordsFromSecret gives the two passwords or an error
// that names the key and what is wrong with it, never the value and never an exception. A password
// it accepts encodes back to base64 that decodes to the same password.
#include <array>
#include <nlohmann/json.hpp>
#include <string_view>

#include "crypto/crypto.h"
#include "fuzz_input.h"
#include "managedstore/managed_store.h"

namespace {

// An error is "secret data.KEY: WHAT", KEY one of the two keys and WHAT one of a fixed set, so
// no part of a value can be in it.
bool errorHasTheOnlyShape(const std::string& error) {
  using namespace sessionstore::managedstore;
  for (const std::string_view key : {kAppPasswordKey, kMonitorPasswordKey}) {
    for (const std::string_view what :
         {"missing", "must be a string", "not valid base64", "empty"}) {
      if (error == "secret data." + std::string(key) + ": " + std::string(what)) return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const auto secret = nlohmann::json::parse(fuzz::text(data, size), nullptr, false);
  if (secret.is_discarded()) return 0;
  const auto passwords = managedstore::passwordsFromSecret(secret);
  if (!passwords) {
    if (!errorHasTheOnlyShape(passwords.error())) fuzz::broken("an error of another shape");
    return 0;
  }
  if (passwords->app.empty() || passwords->monitor.empty()) fuzz::broken("an empty password");
  const nlohmann::json again = {
      {"data",
       {{std::string(managedstore::kAppPasswordKey), crypto::base64Encode(passwords->app)},
        {std::string(managedstore::kMonitorPasswordKey),
         crypto::base64Encode(passwords->monitor)}}}};
  if (managedstore::passwordsFromSecret(again) != passwords)
    fuzz::broken("base64 does not round-trip");
  return 0;
}
