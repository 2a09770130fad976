#include "wiring/connection.h"

#include "crypto/crypto.h"
#include "managedstore/managed_store.h"
#include "wiring/wiring.h"

namespace sessionstore::wiring {

namespace {

// RFC 3986 userinfo: unreserved characters stay, everything else is percent-encoded.
std::string encodeUserinfo(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

Json childMetadata(const api::SessionStore& store, const std::string& name) {
  return Json{{"name", name},
              {"namespace", store.metadata.ns},
              {"labels",
               {{std::string(identity::kManagedByLabel), std::string(identity::kName)},
                {"app.kubernetes.io/instance", store.metadata.name},
                {std::string(identity::kStoreLabel), store.metadata.name}}},
              {"ownerReferences", Json::array({managedstore::ownerReference(store)})}};
}

}  // namespace

std::string redisUrl(const StoreEndpoint& endpoint) {
  std::string url = endpoint.tls ? "rediss://" : "redis://";
  if (!endpoint.password.empty()) {
    url += encodeUserinfo(endpoint.username) + ":" + encodeUserinfo(endpoint.password) + "@";
  }
  // An IPv6 address is written in brackets (RFC 3986), so its colons are not read as the port's.
  const bool ipv6 = endpoint.host.find(':') != std::string::npos;
  return url + (ipv6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" +
         std::to_string(endpoint.port) + "/" +
         std::to_string(endpoint.database);
}

Json connectionSecret(const api::SessionStore& store, const StoreEndpoint& endpoint, int poolSize) {
  // Json objects keep keys sorted, so the data (and its hash) is the same for the same inputs.
  Json data = {{std::string(kUrlSecretKey), crypto::base64Encode(redisUrl(endpoint))},
               {"REDIS_HOST", crypto::base64Encode(endpoint.host)},
               {"REDIS_PORT", crypto::base64Encode(std::to_string(endpoint.port))},
               {"REDIS_PASSWORD", crypto::base64Encode(endpoint.password)},
               {std::string(kKeyPrefixSecretKey), crypto::base64Encode(api::keyPrefix(store))},
               {"REDIS_MAX_CONNECTIONS", crypto::base64Encode(std::to_string(poolSize))}};
  if (!endpoint.caPemForApp.empty()) data[std::string(kCaSecretKey)] = crypto::base64Encode(endpoint.caPemForApp);
  return Json{{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", childMetadata(store, api::secretName(store))},
              {"type", "Opaque"},
              {"data", data}};
}

std::string connectionHash(const Json& secret) {
  return crypto::sha256Hex(secret.contains("data") ? secret["data"].dump() : "{}");
}

Json serviceAffinityConfiguration(const api::SessionStore& store, bool storeReady) {
  const auto mode = store.spec.affinity.mode;
  const bool sticky = mode == api::AffinityMode::kClientIP ||
                      (mode == api::AffinityMode::kUntilStoreReady && !storeReady);
  Json spec = {{"sessionAffinity", sticky ? "ClientIP" : "None"}};
  if (sticky) {
    spec["sessionAffinityConfig"] = {
        {"clientIP", {{"timeoutSeconds", store.spec.affinity.timeoutSeconds}}}};
  }
  return Json{{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata",
               {{"name", store.spec.target.service},
                {"namespace", store.metadata.ns},
                {"labels", {{std::string(identity::kWiredByLabel), store.metadata.name}}}}},
              {"spec", spec}};
}

}  // namespace sessionstore::wiring
