#include "api/session_store.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>

#include "api/env_names.h"
#include "imageref/image_ref.h"

namespace sessionstore::api {

namespace {

std::string join(const std::string& path, std::string_view key) {
  std::string out = path;
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

// Reads fields into values that already hold their defaults. The first problem wins: it is kept
// in error_ and every later read is a no-op, so the parse functions read straight through and
// check ok() once.
class Reader {
 public:
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  void fail(const std::string& path, std::string_view what) {
    if (ok()) error_ = path + ": " + std::string(what);
  }

  // The member `key` of `object`, or nullptr when it is absent or null (both mean "default").
  static const Json* member(const Json& object, std::string_view key) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(std::string(key));
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
  }

  // The member `key` when it is an object; nullptr when absent, or (with an error) not an object.
  const Json* object(const Json& parent, const std::string& path, std::string_view key) {
    const Json* value = member(parent, key);
    if (value == nullptr || !ok()) return nullptr;
    if (!value->is_object()) {
      fail(join(path, key), "must be an object");
      return nullptr;
    }
    return value;
  }

  void string(const Json& parent, const std::string& path, std::string_view key, std::string& out) {
    const Json* value = member(parent, key);
    if (value == nullptr || !ok()) return;
    if (!value->is_string()) return fail(join(path, key), "must be a string");
    out = value->get<std::string>();
  }

  void optionalString(const Json& parent, const std::string& path, std::string_view key,
                      std::optional<std::string>& out) {
    if (member(parent, key) == nullptr) return;
    std::string value;
    string(parent, path, key, value);
    if (ok()) out = std::move(value);
  }

  void requiredString(const Json& parent, const std::string& path, std::string_view key,
                      std::string& out) {
    if (!ok()) return;
    if (member(parent, key) == nullptr) return fail(join(path, key), "required");
    string(parent, path, key, out);
    if (ok() && out.empty()) fail(join(path, key), "must not be empty");
  }

  void boolean(const Json& parent, const std::string& path, std::string_view key, bool& out) {
    const Json* value = member(parent, key);
    if (value == nullptr || !ok()) return;
    if (!value->is_boolean()) return fail(join(path, key), "must be a boolean");
    out = value->get<bool>();
  }

  void integer64(const Json& parent, const std::string& path, std::string_view key,
                 std::int64_t& out) {
    const Json* value = member(parent, key);
    if (value == nullptr || !ok()) return;
    if (!value->is_number_integer()) return fail(join(path, key), "must be an integer");
    if (value->is_number_unsigned() &&
        value->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return fail(join(path, key), "is out of range");
    }
    out = value->get<std::int64_t>();
  }

  // An integer in [min, max], the CRD's range for the field.
  void integer(const Json& parent, const std::string& path, std::string_view key, int min, int max,
               int& out) {
    if (member(parent, key) == nullptr || !ok()) return;
    std::int64_t value = 0;
    integer64(parent, path, key, value);
    if (!ok()) return;
    if (value < min || value > max) {
      return fail(join(path, key), "must be between " + std::to_string(min) + " and " +
                                       std::to_string(max) + ", got " + std::to_string(value));
    }
    out = static_cast<int>(value);
  }

  void optionalInteger(const Json& parent, const std::string& path, std::string_view key, int min,
                       int max, std::optional<int>& out) {
    if (member(parent, key) == nullptr) return;
    int value = 0;
    integer(parent, path, key, min, max, value);
    if (ok()) out = value;
  }

  // A number (integer or not) in [min, max].
  void number(const Json& parent, const std::string& path, std::string_view key, int min, int max,
              double& out) {
    const Json* value = member(parent, key);
    if (value == nullptr || !ok()) return;
    if (!value->is_number()) return fail(join(path, key), "must be a number");
    double parsed = value->get<double>();
    if (!(parsed >= min && parsed <= max)) {
      return fail(join(path, key), "must be between " + std::to_string(min) + " and " +
                                       std::to_string(max) + ", got " + value->dump());
    }
    out = parsed;
  }

  // A Kubernetes quantity, written as a string ("64Mi") or an integer (67108864).
  void quantityValue(const Json& value, const std::string& path, quantity::Quantity& out) {
    if (!ok()) return;
    std::string text;
    if (value.is_string()) {
      text = value.get<std::string>();
    } else if (value.is_number_integer()) {
      text = value.dump();
    } else {
      return fail(path, "must be a quantity: a string such as 64Mi, or an integer");
    }
    auto parsed = quantity::Quantity::parse(text);
    if (!parsed) return fail(path, parsed.error());
    out = *parsed;
  }

  void quantity(const Json& parent, const std::string& path, std::string_view key,
                quantity::Quantity& out) {
    const Json* value = member(parent, key);
    if (value == nullptr || !ok()) return;
    quantityValue(*value, join(path, key), out);
  }

  void resourceList(const Json& parent, const std::string& path, std::string_view key,
                    ResourceList& out) {
    const Json* list = object(parent, path, key);
    if (list == nullptr) return;
    for (const auto& [name, value] : list->items()) {
      quantity::Quantity q;
      quantityValue(value, join(path, key) + "." + name, q);
      if (!ok()) return;
      out[name] = q;
    }
  }

  // An enum: a string equal to the name of one of `choices`, stored as its value.
  template <typename E>
  void enumeration(const Json& parent, const std::string& path, std::string_view key,
                   std::span<const std::pair<std::string_view, E>> choices, E& out) {
    std::string text;
    const Json* value = member(parent, key);
    if (value == nullptr || !ok()) return;
    string(parent, path, key, text);
    if (!ok()) return;
    std::string allowed;
    for (const auto& [name, choice] : choices) {
      if (name == text) {
        out = choice;
        return;
      }
      if (!allowed.empty()) allowed += ", ";
      allowed += name;
    }
    fail(join(path, key), "must be one of " + allowed + ", got \"" + text + "\"");
  }

  // An array of strings.
  void strings(const Json& parent, const std::string& path, std::string_view key,
               std::vector<std::string>& out) {
    const Json* value = member(parent, key);
    if (value == nullptr || !ok()) return;
    if (!value->is_array()) return fail(join(path, key), "must be an array");
    std::vector<std::string> items;
    for (std::size_t i = 0; i < value->size(); ++i) {
      const Json& item = (*value)[i];
      if (!item.is_string()) {
        return fail(join(path, key) + "[" + std::to_string(i) + "]", "must be a string");
      }
      items.push_back(item.get<std::string>());
    }
    out = std::move(items);
  }

 private:
  std::string error_;
};

constexpr std::pair<std::string_view, StoreType> kStoreTypes[] = {
    {"Managed", StoreType::kManaged}, {"External", StoreType::kExternal}};
constexpr std::pair<std::string_view, std::string_view> kIssuerKinds[] = {
    {"Issuer", "Issuer"}, {"ClusterIssuer", "ClusterIssuer"}};
constexpr std::pair<std::string_view, DeletionPolicy> kDeletionPolicies[] = {
    {"Retain", DeletionPolicy::kRetain}, {"Delete", DeletionPolicy::kDelete}};
constexpr std::pair<std::string_view, AffinityMode> kAffinityModes[] = {
    {"ClientIP", AffinityMode::kClientIP},
    {"None", AffinityMode::kNone},
    {"UntilStoreReady", AffinityMode::kUntilStoreReady}};
constexpr std::pair<std::string_view, MetricType> kMetricTypes[] = {
    {"CPU", MetricType::kCPU},
    {"Memory", MetricType::kMemory},
    {"ActiveSessions", MetricType::kActiveSessions},
    {"StoreClients", MetricType::kStoreClients},
    {"Latency", MetricType::kLatency}};
constexpr std::pair<std::string_view, std::string_view> kEvictionPolicies[] = {
    {"volatile-lru", "volatile-lru"},       {"volatile-lfu", "volatile-lfu"},
    {"volatile-random", "volatile-random"}, {"volatile-ttl", "volatile-ttl"},
    {"allkeys-lru", "allkeys-lru"},         {"allkeys-lfu", "allkeys-lfu"},
    {"allkeys-random", "allkeys-random"},   {"noeviction", "noeviction"}};

template <typename E, std::size_t N>
const char* nameOf(const std::pair<std::string_view, E> (&choices)[N], E value) {
  for (const auto& [name, choice] : choices) {
    if (choice == value) return name.data();
  }
  return "Unknown";
}

bool isEnvVarName(std::string_view text) {
  if (text.empty()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// The CRD's keyPrefix rule: a glob character or a space would widen the Redis ACL key pattern.
bool isKeyPrefix(std::string_view text) {
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// ^[0-9]+(\.[0-9]+)?(ms|s)$, as the CRD's targetValue pattern.
bool isLatency(std::string_view text) {
  if (text.ends_with("ms")) {
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  } else {
    return false;
  }
  auto digits = [](std::string_view part) {
    return !part.empty() && part.find_first_not_of("0123456789") == std::string_view::npos;
  };
  std::size_t dot = text.find('.');
  if (dot == std::string_view::npos) return digits(text);
  return digits(text.substr(0, dot)) && digits(text.substr(dot + 1));
}

}  // namespace

std::expected<double, std::string> latencySeconds(std::string_view text) {
  if (!isLatency(text)) {
    return std::unexpected("latency \"" + std::string(text) +
                           "\" must be a number followed by ms or s, such as 250ms or 2s");
  }
  const bool millis = text.ends_with("ms");
  const std::string_view number = text.substr(0, text.size() - (millis ? 2 : 1));
  double value = 0;
  std::from_chars(number.data(), number.data() + number.size(), value, std::chars_format::fixed);
  return millis ? value / 1000.0 : value;
}

namespace {

void checkEnvVar(Reader& r, const std::string& path, const std::string& value) {
  if (r.ok() && !isEnvVarName(value)) {
    r.fail(path,
           "must be an environment variable name (letters, digits and _, not starting "
           "with a digit), got \"" +
               value + "\"");
  }
  if (r.ok()) {
    if (const std::string problem = reservedEnvVarProblem(value); !problem.empty()) {
      r.fail(path, problem);
    }
  }
}

void parseTarget(Reader& r, const Json& spec, Target& out) {
  const std::string path = "spec.target";
  const Json* target = r.object(spec, "spec", "target");
  if (!r.ok()) return;
  if (target == nullptr) return r.fail(path, "required");
  r.requiredString(*target, path, "deployment", out.deployment);
  r.string(*target, path, "service", out.service);
  r.strings(*target, path, "containers", out.containers);
  r.optionalInteger(*target, path, "maxReplicas", 1, 1000, out.maxReplicas);
}

void parseManaged(Reader& r, const Json& managed, ManagedStore& out) {
  const std::string path = "spec.store.managed";
  r.string(managed, path, "image", out.image);
  // It goes into the StatefulSet as written: only a reference a registry could serve (a newline
  // or a space would be written there too).
  if (r.ok()) {
    if (auto image = imageref::parse(out.image); !image) {
      r.fail(path + ".image",
             "must be an image reference ([registry/]name[:tag][@digest]): " + image.error());
    }
  }
  if (const Json* resources = r.object(managed, path, "resources")) {
    r.resourceList(*resources, path + ".resources", "limits", out.resources.limits);
    r.resourceList(*resources, path + ".resources", "requests", out.resources.requests);
  }
  r.quantity(managed, path, "maxMemory", out.maxMemory);
  // The CRD's rule: Redis needs some memory, maxmemory 0 means no limit, and the container limit
  // derived from it must stay a sane quantity.
  const auto mebi =
      quantity::Quantity::fromInt64(std::int64_t{1} << 20, quantity::Format::kBinarySI);
  const auto tebi =
      quantity::Quantity::fromInt64(std::int64_t{1} << 40, quantity::Format::kBinarySI);
  if (r.ok() && (out.maxMemory < mebi || out.maxMemory > tebi)) {
    r.fail(path + ".maxMemory", "must be between 1Mi and 1Ti, got " + out.maxMemory.toString());
  }
  std::string_view eviction = out.evictionPolicy;
  r.enumeration<std::string_view>(managed, path, "evictionPolicy", kEvictionPolicies, eviction);
  out.evictionPolicy = std::string(eviction);
  r.integer(managed, path, "maxClients", 16, 100000, out.maxClients);
  r.integer(managed, path, "replicas", kMinStoreReplicas, kMaxStoreReplicas, out.replicas);
  if (const Json* persistence = r.object(managed, path, "persistence")) {
    const std::string p = path + ".persistence";
    r.boolean(*persistence, p, "enabled", out.persistence.enabled);
    r.quantity(*persistence, p, "size", out.persistence.size);
    r.string(*persistence, p, "storageClassName", out.persistence.storageClassName);
  }
  r.enumeration<DeletionPolicy>(managed, path, "deletionPolicy", kDeletionPolicies,
                                out.deletionPolicy);
  if (const Json* tls = r.object(managed, path, "tls")) {
    const std::string t = path + ".tls";
    r.boolean(*tls, t, "enabled", out.tls.enabled);
    if (const Json* issuer = r.object(*tls, t, "issuerRef")) {
      const std::string i = t + ".issuerRef";
      IssuerRef ref;
      r.requiredString(*issuer, i, "name", ref.name);
      std::string_view kind = ref.kind;
      r.enumeration<std::string_view>(*issuer, i, "kind", kIssuerKinds, kind);
      ref.kind = std::string(kind);
      r.string(*issuer, i, "group", ref.group);
      if (!r.ok()) return;
      // The name and group go into a Certificate as written: what an object name can be.
      const auto dnsLike = [](const std::string& text) {
        return !text.empty() && text.size() <= 253 &&
               text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") ==
                   std::string::npos;
      };
      if (!dnsLike(ref.name)) {
        return r.fail(i + ".name", "must be an object name (lower-case letters, digits, '-', '.')");
      }
      if (!dnsLike(ref.group)) {
        return r.fail(i + ".group", "must be an API group (lower-case letters, digits, '-', '.')");
      }
      if (!out.tls.enabled) {
        return r.fail(i, "is only used with tls.enabled true: set enabled, or remove issuerRef");
      }
      out.tls.issuerRef = std::move(ref);
    }
  }
  if (const Json* memory = r.object(managed, path, "memory")) {
    const std::string m = path + ".memory";
    MemoryScaling scaling;
    r.quantity(*memory, m, "ceiling", scaling.ceiling);
    r.integer(*memory, m, "targetUtilization", 1, 99, scaling.targetUtilization);
    r.integer(*memory, m, "windowSeconds", 0, 3600, scaling.windowSeconds);
    // The CRD's rules: both ends on the ladder, the floor (maxMemory) not above the ceiling, and
    // no fixed memory limit (it would not follow maxmemory, and Redis would be killed under it).
    const auto onLadder = [](const quantity::Quantity& q) {
      for (const std::int64_t step : kMemoryLadder) {
        if (q.value() == step) return true;
      }
      return false;
    };
    if (r.ok() && !onLadder(scaling.ceiling)) {
      r.fail(m + ".ceiling", "must be on the ladder 64Mi, 128Mi, 256Mi, 512Mi, 1Gi, got " +
                                 scaling.ceiling.toString());
    } else if (r.ok() && !onLadder(out.maxMemory)) {
      r.fail(path + ".maxMemory",
             "with memory, maxMemory is the floor and must be on the ladder 64Mi, 128Mi, 256Mi, "
             "512Mi, 1Gi, got " +
                 out.maxMemory.toString());
    } else if (r.ok() && out.maxMemory > scaling.ceiling) {
      r.fail(m + ".ceiling", "must not be below maxMemory (the floor), got " +
                                 scaling.ceiling.toString() + " < " + out.maxMemory.toString());
    } else if (r.ok() && out.resources.limits.contains("memory")) {
      r.fail(path + ".resources.limits.memory",
             "not allowed with memory: the container's memory limit follows maxmemory");
    }
    out.memory = scaling;
  }
}

void parseStore(Reader& r, const Json& spec, Store& out) {
  const std::string path = "spec.store";
  const Json* store = r.object(spec, "spec", "store");
  if (store == nullptr) return;
  r.enumeration<StoreType>(*store, path, "type", kStoreTypes, out.type);
  if (const Json* managed = r.object(*store, path, "managed")) {
    if (out.type != StoreType::kManaged) {
      return r.fail(path + ".managed", "only allowed with store.type Managed");
    }
    parseManaged(r, *managed, out.managed);
  }
  const Json* external = r.object(*store, path, "external");
  if (!r.ok()) return;
  if (external == nullptr) {
    if (out.type == StoreType::kExternal) {
      r.fail(path + ".external.urlSecretRef",
             "required with store.type External: the Secret that holds the Redis URL");
    }
    return;
  }
  if (out.type != StoreType::kExternal) {
    return r.fail(path + ".external", "only allowed with store.type External");
  }
  const std::string p = path + ".external";
  const Json* ref = r.object(*external, p, "urlSecretRef");
  if (!r.ok()) return;
  if (ref == nullptr) return r.fail(p + ".urlSecretRef", "required");
  ExternalStore parsed;
  r.requiredString(*ref, p + ".urlSecretRef", "name", parsed.urlSecretRef.name);
  r.string(*ref, p + ".urlSecretRef", "key", parsed.urlSecretRef.key);
  if (r.ok() && parsed.urlSecretRef.key.empty()) {
    return r.fail(p + ".urlSecretRef.key", "must not be empty");
  }
  if (const Json* tls = r.object(*external, p, "tls")) {
    const std::string t = p + ".tls";
    ExternalTls parsedTls;
    if (const Json* ca = r.object(*tls, t, "caSecretRef")) {
      SecretKeySelector caRef{.key = "ca.crt"};
      r.requiredString(*ca, t + ".caSecretRef", "name", caRef.name);
      r.string(*ca, t + ".caSecretRef", "key", caRef.key);
      if (r.ok() && caRef.key.empty()) return r.fail(t + ".caSecretRef.key", "must not be empty");
      parsedTls.caSecretRef = std::move(caRef);
    }
    r.string(*tls, t, "serverName", parsedTls.serverName);
    r.boolean(*tls, t, "insecureSkipVerify", parsedTls.insecureSkipVerify);
    if (!r.ok()) return;
    // A DNS name or an IP address: what a certificate can name (no port, no space, no newline).
    if (parsedTls.serverName.size() > 253 ||
        parsedTls.serverName.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:") !=
            std::string::npos) {
      return r.fail(t + ".serverName",
                    "must be a DNS name or an IP address (letters, digits, '-', '.', ':'; at most "
                    "253 characters)");
    }
    if (parsedTls.insecureSkipVerify && parsedTls.caSecretRef) {
      return r.fail(t + ".insecureSkipVerify",
                    "cannot be true with caSecretRef: a CA is only used to verify; remove "
                    "insecureSkipVerify (unsafe) to verify against the CA");
    }
    parsed.tls = std::move(parsedTls);
  }
  if (!r.ok()) return;
  out.external = std::move(parsed);
}

void parseConnection(Reader& r, const Json& spec, Connection& out) {
  const std::string path = "spec.connection";
  const Json* connection = r.object(spec, "spec", "connection");
  if (connection == nullptr) return;
  r.string(*connection, path, "secretName", out.secretName);
  r.string(*connection, path, "urlEnvVar", out.urlEnvVar);
  r.string(*connection, path, "keyPrefix", out.keyPrefix);
  r.string(*connection, path, "poolSizeEnvVar", out.poolSizeEnvVar);
  r.integer(*connection, path, "poolSize", 0, 10000, out.poolSize);
  checkEnvVar(r, path + ".urlEnvVar", out.urlEnvVar);
  checkEnvVar(r, path + ".poolSizeEnvVar", out.poolSizeEnvVar);
  if (r.ok() && !isKeyPrefix(out.keyPrefix)) {
    r.fail(path + ".keyPrefix",
           "may only hold letters, digits and _ . : / - (glob characters or spaces would widen "
           "the Redis ACL key pattern)");
  }
}

void parseAffinity(Reader& r, const Json& spec, Affinity& out) {
  const std::string path = "spec.affinity";
  const Json* affinity = r.object(spec, "spec", "affinity");
  if (affinity == nullptr) return;
  r.enumeration<AffinityMode>(*affinity, path, "mode", kAffinityModes, out.mode);
  r.integer(*affinity, path, "timeoutSeconds", 1, 86400, out.timeoutSeconds);
}

void parseWorkers(Reader& r, const Json& spec, Workers& out) {
  const std::string path = "spec.workers";
  const Json* workers = r.object(spec, "spec", "workers");
  if (workers == nullptr) return;
  r.string(*workers, path, "envVar", out.envVar);
  r.number(*workers, path, "perCPU", 0, 64, out.perCPU);
  r.integer(*workers, path, "offset", 0, 64, out.offset);
  r.integer(*workers, path, "min", 1, 1024, out.min);
  r.integer(*workers, path, "max", 1, 1024, out.max);
  checkEnvVar(r, path + ".envVar", out.envVar);
  if (r.ok() && out.min > out.max) {
    r.fail(path + ".min", "must not be greater than workers.max (" + std::to_string(out.max) + ")");
  }
}

void parseMetric(Reader& r, const Json& item, const std::string& path, Metric& out) {
  if (!item.is_object()) return r.fail(path, "must be an object");
  if (Reader::member(item, "type") == nullptr) return r.fail(path + ".type", "required");
  r.enumeration<MetricType>(item, path, "type", kMetricTypes, out.type);
  r.optionalInteger(item, path, "targetAverageUtilization", 1, 1000, out.targetAverageUtilization);
  r.optionalInteger(item, path, "targetPerReplica", 1, 100000000, out.targetPerReplica);
  r.optionalString(item, path, "targetValue", out.targetValue);
  if (const Json* prometheus = r.object(item, path, "prometheus")) {
    PrometheusQuery query;
    r.requiredString(*prometheus, path + ".prometheus", "url", query.url);
    r.requiredString(*prometheus, path + ".prometheus", "query", query.query);
    if (r.ok() && !query.url.starts_with("http://") && !query.url.starts_with("https://")) {
      r.fail(path + ".prometheus.url", "must start with http:// or https://");
    }
    if (r.ok()) out.prometheus = std::move(query);
  }
  if (r.ok() && out.targetValue && !isLatency(*out.targetValue)) {
    r.fail(path + ".targetValue",
           "must be a duration in ms or s, such as 250ms or 2s, got \"" + *out.targetValue + "\"");
  }
  if (!r.ok()) return;
  switch (out.type) {
    case MetricType::kCPU:
    case MetricType::kMemory:
      if (!out.targetAverageUtilization) {
        r.fail(path + ".targetAverageUtilization", "required for CPU and Memory metrics");
      }
      break;
    case MetricType::kActiveSessions:
    case MetricType::kStoreClients:
      if (!out.targetPerReplica) {
        r.fail(path + ".targetPerReplica", "required for ActiveSessions and StoreClients metrics");
      }
      break;
    case MetricType::kLatency:
      if (!out.targetValue) {
        r.fail(path + ".targetValue", "required for Latency metrics");
      } else if (!out.prometheus) {
        r.fail(path + ".prometheus", "required for Latency metrics");
      }
      break;
  }
}

void parseScalingRules(Reader& r, const Json& behavior, const std::string& path,
                       std::string_view key, ScalingRules& out) {
  const Json* rules = r.object(behavior, path, key);
  if (rules == nullptr) return;
  const std::string p = join(path, key);
  r.integer(*rules, p, "stabilizationWindowSeconds", 0, 3600, out.stabilizationWindowSeconds);
  r.integer(*rules, p, "maxReplicasPerStep", 1, 1000, out.maxReplicasPerStep);
}

void parseAutoscaling(Reader& r, const Json& spec, Autoscaling& out) {
  const std::string path = "spec.autoscaling";
  const Json* autoscaling = r.object(spec, "spec", "autoscaling");
  if (autoscaling == nullptr) return;
  r.boolean(*autoscaling, path, "enabled", out.enabled);
  r.integer(*autoscaling, path, "minReplicas", 1, 1000, out.minReplicas);
  r.integer(*autoscaling, path, "maxReplicas", 1, 1000, out.maxReplicas);
  r.integer(*autoscaling, path, "pollIntervalSeconds", 5, 3600, out.pollIntervalSeconds);
  if (r.ok() && out.minReplicas > out.maxReplicas) {
    return r.fail(path + ".minReplicas", "must not be greater than autoscaling.maxReplicas (" +
                                             std::to_string(out.maxReplicas) + ")");
  }
  if (const Json* metrics = Reader::member(*autoscaling, "metrics"); metrics && r.ok()) {
    if (!metrics->is_array()) return r.fail(path + ".metrics", "must be an array");
    for (std::size_t i = 0; i < metrics->size() && r.ok(); ++i) {
      Metric metric;
      parseMetric(r, (*metrics)[i], path + ".metrics[" + std::to_string(i) + "]", metric);
      out.metrics.push_back(std::move(metric));
    }
  }
  if (r.ok() && out.enabled && out.metrics.empty()) {
    return r.fail(path + ".metrics", "autoscaling.enabled needs at least one metric");
  }
  if (const Json* behavior = r.object(*autoscaling, path, "behavior")) {
    parseScalingRules(r, *behavior, path + ".behavior", "scaleUp", out.behavior.scaleUp);
    parseScalingRules(r, *behavior, path + ".behavior", "scaleDown", out.behavior.scaleDown);
  }
}

void parseMetadata(Reader& r, const Json& object, ObjectMeta& out) {
  const Json* metadata = r.object(object, "", "metadata");
  if (!r.ok()) return;
  if (metadata == nullptr) return r.fail("metadata", "required");
  r.string(*metadata, "metadata", "namespace", out.ns);
  r.requiredString(*metadata, "metadata", "name", out.name);
  r.string(*metadata, "metadata", "uid", out.uid);
  r.integer64(*metadata, "metadata", "generation", out.generation);
  r.string(*metadata, "metadata", "resourceVersion", out.resourceVersion);
  r.optionalString(*metadata, "metadata", "deletionTimestamp", out.deletionTimestamp);
  r.strings(*metadata, "metadata", "finalizers", out.finalizers);
}

}  // namespace

const char* toString(StoreType value) { return nameOf(kStoreTypes, value); }
const char* toString(DeletionPolicy value) { return nameOf(kDeletionPolicies, value); }
const char* toString(AffinityMode value) { return nameOf(kAffinityModes, value); }
const char* toString(MetricType value) { return nameOf(kMetricTypes, value); }

std::expected<SessionStore, std::string> parseSessionStore(const Json& object) {
  if (!object.is_object()) return std::unexpected("the SessionStore must be a JSON object");
  Reader r;
  SessionStore out;
  parseMetadata(r, object, out.metadata);
  const Json* spec = r.object(object, "", "spec");
  if (!r.ok()) return std::unexpected(r.error());
  if (spec == nullptr) return std::unexpected("spec: required");
  parseTarget(r, *spec, out.spec.target);
  parseStore(r, *spec, out.spec.store);
  parseConnection(r, *spec, out.spec.connection);
  parseAffinity(r, *spec, out.spec.affinity);
  parseWorkers(r, *spec, out.spec.workers);
  parseAutoscaling(r, *spec, out.spec.autoscaling);
  if (!r.ok()) return std::unexpected(r.error());
  if (out.spec.target.maxReplicas && out.spec.autoscaling.enabled) {
    return std::unexpected(
        "spec.target.maxReplicas: not allowed with spec.autoscaling.enabled, where the "
        "connection pools are sized for spec.autoscaling.maxReplicas: remove "
        "spec.target.maxReplicas");
  }
  // Each wired container gets these four env entries, keyed by name: the same name twice would
  // make the Deployment apply fail.
  const std::pair<std::string_view, const std::string*> envVars[] = {
      {"spec.connection.urlEnvVar", &out.spec.connection.urlEnvVar},
      {"spec.connection.poolSizeEnvVar", &out.spec.connection.poolSizeEnvVar},
      {"spec.workers.envVar", &out.spec.workers.envVar}};
  const std::string keyPrefixEnvVar = "SESSION_KEY_PREFIX";
  for (std::size_t i = 0; i < std::size(envVars); ++i) {
    const auto& [path, name] = envVars[i];
    if (*name == keyPrefixEnvVar) {
      return std::unexpected(std::string(path) + ": " + keyPrefixEnvVar +
                             " is reserved for the key prefix");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (*envVars[j].second == *name) {
        return std::unexpected(std::string(path) + ": \"" + *name + "\" is already used by " +
                               std::string(envVars[j].first));
      }
    }
  }
  return out;
}

namespace {

void putIfNotEmpty(Json& object, std::string_view key, const std::string& value) {
  if (!value.empty()) object[std::string(key)] = value;
}

Json toJson(const ResourceList& list) {
  Json out = Json::object();
  for (const auto& [name, value] : list) out[name] = value.toString();
  return out;
}

Json toJson(const ScalingRules& rules) {
  return {{"stabilizationWindowSeconds", rules.stabilizationWindowSeconds},
          {"maxReplicasPerStep", rules.maxReplicasPerStep}};
}

Json toJson(const Metric& metric) {
  Json out = {{"type", toString(metric.type)}};
  if (metric.targetAverageUtilization) {
    out["targetAverageUtilization"] = *metric.targetAverageUtilization;
  }
  if (metric.targetPerReplica) out["targetPerReplica"] = *metric.targetPerReplica;
  if (metric.targetValue) out["targetValue"] = *metric.targetValue;
  if (metric.prometheus) {
    out["prometheus"] = {{"url", metric.prometheus->url}, {"query", metric.prometheus->query}};
  }
  return out;
}

}  // namespace

Json toJson(const SessionStoreSpec& spec) {
  Json target = {{"deployment", spec.target.deployment}};
  putIfNotEmpty(target, "service", spec.target.service);
  if (!spec.target.containers.empty()) target["containers"] = spec.target.containers;
  if (spec.target.maxReplicas) target["maxReplicas"] = *spec.target.maxReplicas;

  Json store = {{"type", toString(spec.store.type)}};
  if (spec.store.type == StoreType::kManaged) {
    const ManagedStore& managed = spec.store.managed;
    Json resources = Json::object();
    if (!managed.resources.limits.empty()) resources["limits"] = toJson(managed.resources.limits);
    if (!managed.resources.requests.empty()) {
      resources["requests"] = toJson(managed.resources.requests);
    }
    Json persistence = {{"enabled", managed.persistence.enabled},
                        {"size", managed.persistence.size.toString()}};
    putIfNotEmpty(persistence, "storageClassName", managed.persistence.storageClassName);
    store["managed"] = {{"image", managed.image},
                        {"resources", std::move(resources)},
                        {"maxMemory", managed.maxMemory.toString()},
                        {"evictionPolicy", managed.evictionPolicy},
                        {"maxClients", managed.maxClients},
                        {"persistence", std::move(persistence)},
                        {"deletionPolicy", toString(managed.deletionPolicy)}};
    // Left out at 1, so the effective spec of a single-pod store reads as before.
    if (managed.replicas != 1) store["managed"]["replicas"] = managed.replicas;
    // Left out while off, so the effective spec of a store without TLS reads as before.
    if (managed.tls.enabled) {
      Json tls = {{"enabled", true}};
      if (const auto& issuer = managed.tls.issuerRef) {
        tls["issuerRef"] = {
            {"name", issuer->name}, {"kind", issuer->kind}, {"group", issuer->group}};
      }
      store["managed"]["tls"] = std::move(tls);
  }
    if (managed.memory) {
      store["managed"]["memory"] = {{"ceiling", managed.memory->ceiling.toString()},
                                    {"targetUtilization", managed.memory->targetUtilization},
                                    {"windowSeconds", managed.memory->windowSeconds}};
    }
  }
  if (spec.store.external) {
    store["external"] = {{"urlSecretRef",
                          {{"name", spec.store.external->urlSecretRef.name},
                           {"key", spec.store.external->urlSecretRef.key}}}};
    if (const auto& tls = spec.store.external->tls) {
      Json out = {{"insecureSkipVerify", tls->insecureSkipVerify}};
      if (!tls->serverName.empty()) out["serverName"] = tls->serverName;
      if (tls->caSecretRef) {
        out["caSecretRef"] = {{"name", tls->caSecretRef->name}, {"key", tls->caSecretRef->key}};
      }
      store["external"]["tls"] = std::move(out);
    }
  }

  Json connection = {{"urlEnvVar", spec.connection.urlEnvVar},
                     {"poolSizeEnvVar", spec.connection.poolSizeEnvVar},
                     {"poolSize", spec.connection.poolSize}};
  putIfNotEmpty(connection, "secretName", spec.connection.secretName);
  putIfNotEmpty(connection, "keyPrefix", spec.connection.keyPrefix);

  Json metrics = Json::array();
  for (const Metric& metric : spec.autoscaling.metrics) metrics.push_back(toJson(metric));

  return {
      {"target", std::move(target)},
      {"store", std::move(store)},
      {"connection", std::move(connection)},
      {"affinity",
       {{"mode", toString(spec.affinity.mode)}, {"timeoutSeconds", spec.affinity.timeoutSeconds}}},
      {"workers",
       {{"envVar", spec.workers.envVar},
        {"perCPU", spec.workers.perCPU},
        {"offset", spec.workers.offset},
        {"min", spec.workers.min},
        {"max", spec.workers.max}}},
      {"autoscaling",
       {{"enabled", spec.autoscaling.enabled},
        {"minReplicas", spec.autoscaling.minReplicas},
        {"maxReplicas", spec.autoscaling.maxReplicas},
        {"pollIntervalSeconds", spec.autoscaling.pollIntervalSeconds},
        {"metrics", std::move(metrics)},
        {"behavior",
         {{"scaleUp", toJson(spec.autoscaling.behavior.scaleUp)},
          {"scaleDown", toJson(spec.autoscaling.behavior.scaleDown)}}}}},
  };
}

std::string secretName(const SessionStore& store) {
  if (!store.spec.connection.secretName.empty()) return store.spec.connection.secretName;
  return store.metadata.name + "-session-store";
}

std::string keyPrefix(const SessionStore& store) {
  if (!store.spec.connection.keyPrefix.empty()) return store.spec.connection.keyPrefix;
  return store.metadata.ns + ":" + store.metadata.name + ":";
}

}  // namespace sessionstore::api
