#include "wiring/connection.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

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
               {{"app.kubernetes.io/managed-by", "sessionstore-operator"},
                {"app.kubernetes.io/instance", store.metadata.name},
                {"sessionstore.io/name", store.metadata.name}}},
              {"ownerReferences", Json::array({ownerReference(store)})}};
}

}  // namespace

std::string encodeBase64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string redisUrl(const StoreEndpoint& endpoint) {
  std::string url = endpoint.tls ? "rediss://" : "redis://";
  if (!endpoint.password.empty()) {
    url += encodeUserinfo(endpoint.username) + ":" + encodeUserinfo(endpoint.password) + "@";
  }
  return url + endpoint.host + ":" + std::to_string(endpoint.port) + "/0";
}

Json ownerReference(const api::SessionStore& store) {
  return Json{{"apiVersion", api::kApiVersion}, {"kind", api::kKind}, {"name", store.metadata.name},
              {"uid", store.metadata.uid},      {"controller", true}, {"blockOwnerDeletion", true}};
}

Json connectionSecret(const api::SessionStore& store, const StoreEndpoint& endpoint, int poolSize) {
  // Json objects keep keys sorted, so the data (and its hash) is the same for the same inputs.
  Json data = {{std::string(kUrlSecretKey), encodeBase64(redisUrl(endpoint))},
               {"REDIS_HOST", encodeBase64(endpoint.host)},
               {"REDIS_PORT", encodeBase64(std::to_string(endpoint.port))},
               {"REDIS_PASSWORD", encodeBase64(endpoint.password)},
               {std::string(kKeyPrefixSecretKey), encodeBase64(api::keyPrefix(store))},
               {"REDIS_MAX_CONNECTIONS", encodeBase64(std::to_string(poolSize))}};
  return Json{{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", childMetadata(store, api::secretName(store))},
              {"type", "Opaque"},
              {"data", data}};
}

std::string connectionHash(const Json& secret) {
  const std::string text = secret.contains("data") ? secret["data"].dump() : "{}";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (const unsigned char b : digest) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 0xF]);
  }
  return hex;
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
              {"metadata", {{"name", store.spec.target.service}, {"namespace", store.metadata.ns}}},
              {"spec", spec}};
}

}  // namespace sessionstore::wiring
