// A SessionStore object as the API server or a file gives it: JSON text, then
// api::parseSessionStore. Whatever the bytes, the answer is a SessionStore or an error message,
// never an exception; a SessionStore it accepts keeps the parser's guarantees.
#include <nlohmann/json.hpp>

#include "api/session_store.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const auto object = nlohmann::json::parse(fuzz::text(data, size), nullptr, false);
  if (object.is_discarded()) return 0;
  const auto store = api::parseSessionStore(object);
  if (!store) {
    if (store.error().empty()) fuzz::broken("an error without a message");
    return 0;
  }
  const auto& scaling = store->spec.autoscaling;
  if (scaling.minReplicas > scaling.maxReplicas) fuzz::broken("minReplicas > maxReplicas accepted");
  if (scaling.enabled && scaling.metrics.empty()) fuzz::broken("autoscaling without a metric");
  if (store->spec.workers.min > store->spec.workers.max) fuzz::broken("workers min > max accepted");
  if (const auto& external = store->spec.store.external; external && external->tls) {
    const auto& tls = *external->tls;
    if (tls.insecureSkipVerify && tls.caSecretRef) {
      fuzz::broken("insecureSkipVerify accepted together with a CA");
    }
    if (tls.caSecretRef && (tls.caSecretRef->name.empty() || tls.caSecretRef->key.empty())) {
      fuzz::broken("a CA Secret reference without a name or key accepted");
    }
    if (tls.serverName.find_first_of(" \r\n\t/@") != std::string::npos) {
      fuzz::broken("a serverName no certificate could hold accepted");
    }
  }
  // What toJson writes parses back to the same spec.
  nlohmann::json again = object;
  again["spec"] = api::toJson(store->spec);
  const auto reparsed = api::parseSessionStore(again);
  if (!reparsed || reparsed->spec != store->spec) fuzz::broken("toJson does not read back");
  return 0;
}
