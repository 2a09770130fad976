#include "reconcile/decide.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "api/conditions.h"
#include "clock/time_format.h"
#include "crypto/crypto.h"
#include "identity/identity.h"
#include "kube/json_path.h"
#include "reconcile/matches.h"
#include "redisclient/channel.h"
#include "wiring/wiring.h"

namespace sessionstore::reconcile {
namespace {

using kube::at;
using kube::integerAt;

const std::string kManager{identity::kFieldManager};

}  // namespace

std::string describe(const kube::Error& error) {
  return error.message.empty() ? "the API server answered " + std::to_string(error.httpStatus)
                               : error.message;
}

workqueue::Outcome retryFor(const kube::Error& error) {
  return error.retryAfter ? workqueue::Outcome::retryNoSoonerThan(*error.retryAfter)
                          : workqueue::Outcome::retry();
}

// --- Objects the SessionStore controls -----------------------------------------------------------

Json withDesiredHash(const Json& desired) {
  Json body = desired;
  body["metadata"]["annotations"][std::string(identity::kDesiredHashAnnotation)] =
      crypto::sha256Hex(desired.dump()).substr(0, 16);
  return body;
}

bool controlledBy(const Json& object, const std::string& uid) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return false;
  const auto owners = metadata->find("ownerReferences");
  if (owners == metadata->end() || !owners->is_array()) return false;
  return std::any_of(owners->begin(), owners->end(), [&](const Json& owner) {
    return owner.is_object() && owner.value("uid", "") == uid && owner.value("controller", false);
  });
}

WriteNeed decideWrite(const Json& desired, const std::optional<Json>& observed,
                      const std::string& uid) {
  if (!observed) return WriteNeed::kWrite;
  if (!controlledBy(*observed, uid)) return WriteNeed::kNotOurs;
  return contains(*observed, desired) ? WriteNeed::kNone : WriteNeed::kWrite;
}

ConditionState notOursCondition(const std::string& what) {
  return {.type = std::string(api::kConditionStoreReady),
          .ok = false,
          .reason = std::string(api::kReasonNameTaken),
          .message = what + " exists and is not owned by this SessionStore: rename or remove it"};
}

ConditionState refusedCondition(const std::string& what, const kube::Error& error) {
  return {.type = std::string(api::kConditionStoreReady),
          .ok = false,
          .reason = std::string(api::kReasonProvisioningFailed),
          .message = "cannot write " + what + ": " + describe(error)};
}

// --- What a SessionStore may ask
// ------------------------------------------------------------------

std::optional<std::string> replicasNotServed(const api::SessionStore& store) {
  if (!managedstore::replicated(store)) return std::nullopt;
  return "spec.store.managed.replicas: " + std::to_string(store.spec.store.managed.replicas) +
         " needs the operator's failover, which this reconciler runs without; set replicas to 1";
}

std::optional<std::string> imageNotAllowed(const api::SessionStore& store,
                                           const imageref::AllowList& allowed) {
  if (store.spec.store.type != api::StoreType::kManaged || allowed.empty()) return std::nullopt;
  const std::string& image = store.spec.store.managed.image;
  const auto parsed = imageref::parse(image);  // parseSessionStore checked it
  if (parsed && allowed.allows(*parsed)) return std::nullopt;
  return "spec.store.managed.image: \"" + image +
         "\" is not allowed: this operator runs store images only from its --allowed-images list "
         "(" +
         allowed.describe() +
         "); use an image from one of them, or ask the cluster admin to allow this one";
}

// --- The managed store -------------------------------------------------------------------------

PasswordsDecision decidePasswords(const api::SessionStore& store, const Observed& secret) {
  if (!secret.read || !secret.object) return {.generate = true};
  const std::string name = managedstore::authSecretName(store);
  if (!controlledBy(*secret.object, store.metadata.uid)) {
    return {.problem = ConditionState{
                .type = std::string(api::kConditionStoreReady),
                .ok = false,
                .reason = std::string(api::kReasonNameTaken),
                .message = "Secret " + name +
                           " exists and is not owned by this SessionStore; the operator keeps its "
                           "passwords there: rename or remove that Secret"}};
  }
  auto passwords = managedstore::passwordsFromSecret(*secret.object);
  if (!passwords) {
    return {.problem = ConditionState{
                .type = std::string(api::kConditionStoreReady),
                .ok = false,
                .reason = std::string(api::kReasonPasswordSecretInvalid),
                .message = "Secret " + name + ": " + passwords.error() +
                           "; delete the Secret to have new passwords generated (the app is wired "
                           "again with them)"}};
  }
  return {.passwords = std::move(*passwords)};
}

FreshObjects decideFreshObjects(const api::SessionStore& store,
                                const std::optional<managedstore::Passwords>& passwords) {
  FreshObjects out{.services = {withDesiredHash(managedstore::headlessService(store)),
                                withDesiredHash(managedstore::clientService(store))}};
  if (passwords && !managedstore::replicated(store) && !store.spec.store.managed.memory) {
    out.configMap = withDesiredHash(managedstore::configMap(store, *passwords));
  }
  return out;
}

StoreObjectsDecision decideStoreObjects(const api::SessionStore& store,
                                        const managedstore::Passwords& passwords,
                                        const std::optional<Json>& deployment,
                                        const std::string& operatorNamespace,
                                        std::optional<std::int64_t> maxMemoryBytes) {
  std::optional<managedstore::Labels> targetLabels;
  if (deployment) targetLabels = podTemplateLabels(*deployment);
  auto objects = managedStoreObjects(store, passwords, targetLabels,
                                     operatorPeer(operatorNamespace), maxMemoryBytes);
  StoreObjectsDecision out;
  if (!objects) {
    out.problem = ConditionState{.type = std::string(api::kConditionStoreReady),
                                 .ok = false,
                                 .reason = std::string(api::kReasonProvisioningFailed),
                                 .message = objects.error()};
    return out;
  }
  const std::string headless = "Service " + managedstore::headlessServiceName(store);
  for (std::size_t i = 1; i < objects->size(); ++i) {  // [0] is the password Secret
    Json object = withDesiredHash((*objects)[i]);
    const std::string kind = object.value("kind", "");
    if (kind == "StatefulSet") {
      out.statefulSet = std::move(object);
    } else if (kind == "ConfigMap" || describeObject(object) == headless) {
      out.mounted.push_back(std::move(object));
    } else {
      out.beside.push_back(std::move(object));
    }
  }
  return out;
}

// --- Memory that follows load ------------------------------------------------------------------

namespace {

std::string ladderText(std::int64_t bytes) {
  return quantity::Quantity::fromInt64(bytes, quantity::Format::kBinarySI).toString();
}

std::string mebibytes(std::int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1fMi", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

std::optional<std::int64_t> configMapMaxMemory(const Json& configMap) {
  const Json* conf =
      kube::at(configMap, {"data", std::string(managedstore::kRedisConfKey).c_str()});
  if (conf == nullptr || !conf->is_string()) return std::nullopt;
  std::istringstream lines(conf->get<std::string>());
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("maxmemory ")) continue;
    try {
      std::size_t used = 0;
      const long long value = std::stoll(line.substr(10), &used);
      if (used == line.size() - 10 && value >= 0) return value;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  }
  return std::nullopt;
}

MemoryDecision decideMemory(const api::SessionStore& store,
                            const std::optional<health::MemoryReading>& reading,
                            const Json& previousStatus, const Observed& configMap,
                            clock::SystemTime now) {
  const api::MemoryScaling& spec = *store.spec.store.managed.memory;
  const std::int64_t floor = store.spec.store.managed.maxMemory.value();
  const std::int64_t ceiling = std::max(floor, static_cast<std::int64_t>(spec.ceiling.value()));
  const Json previous = [&] {
    const Json* memory = kube::at(previousStatus, {"store", "memory"});
    return memory != nullptr && memory->is_object() ? *memory : Json::object();
  }();

  // Where the store is: the highest that anything remembers, on the ladder, within the bounds.
  std::int64_t seen = floor;
  if (const auto it = previous.find("maxMemoryBytes");
      it != previous.end() && it->is_number_integer()) {
    seen = std::max(seen, it->get<std::int64_t>());
  }
  if (configMap.object) {
    if (auto fromConfig = configMapMaxMemory(*configMap.object)) seen = std::max(seen, *fromConfig);
  }
  if (reading) seen = std::max(seen, reading->maxMemory);
  std::int64_t level = floor;
  for (const std::int64_t step : api::kMemoryLadder) {
    if (step <= seen && step <= ceiling && step >= floor) level = step;
  }

  MemoryDecision out;
  out.from = level;
  const clock::Duration window = std::chrono::seconds(spec.windowSeconds);
  const std::int64_t threshold = level / 100 * spec.targetUtilization;
  const bool above = reading && reading->usedMemory > threshold;
  // Since when used_memory is above the target (meaningful while `isAbove`); a plain value, as
  // g++ 12 takes an optional time_point for uninitialized.
  bool isAbove = above;
  clock::SystemTime since = now;
  if (above) {
    // The window runs at one level: a raise starts it again.
    if (const auto it = previous.find("aboveTargetSince");
        it != previous.end() && it->is_string() &&
        previous.value("maxMemoryBytes", std::int64_t{0}) == level) {
      if (auto parsed = clock::parseTime(it->get<std::string>()); parsed && *parsed <= now) {
        since = *parsed;
      }
    }
  }
  std::optional<std::int64_t> next;
  for (const std::int64_t step : api::kMemoryLadder) {
    if (step > level && step <= ceiling) {
      next = step;
      break;
    }
  }
  const std::string target = std::to_string(spec.targetUtilization) + "%";
  std::string lastRaise = previous.value("lastRaiseTime", "");
  if (above && next && now - since >= window) {
    out.raised = true;
    out.level = *next;
    out.setLive = *next;
    lastRaise = clock::formatTime(now);
    const bool atTop = *next >= ceiling;
    out.events.push_back(
        {.type = events::EventType::kNormal,
         .reason = "MemoryRaised",
         .action = "Resize",
         .note = "maxmemory raised " + ladderText(level) + " -> " + ladderText(*next) +
                 " live (CONFIG SET, no restart): used_memory " + mebibytes(reading->usedMemory) +
                 " stayed above " + target + " of " + ladderText(level) + " for " +
                 std::to_string(spec.windowSeconds) + "s; container memory limit " +
                 managedstore::derivedMemoryLimit(quantity::Quantity::fromInt64(*next)).toString() +
                 (atTop ? "; now at the ceiling " + ladderText(ceiling) : "")});
    isAbove = false;  // the window starts again at the new level
  } else {
    out.level = level;
    // Redis restarted with less than the store has reached (before its mounted redis.conf had
    // the raise): it gets the level back. Never lower than what it has.
    if (reading && reading->maxMemory != 0 && reading->maxMemory < level) {
      out.setLive = level;
      out.events.push_back({.type = events::EventType::kNormal,
                            .reason = "MemoryRestored",
                            .action = "Resize",
                            .note = "maxmemory set back to " + ladderText(level) +
                                    " live (Redis answered with " + mebibytes(reading->maxMemory) +
                                    ", below what the store had reached)"});
    }
  }

  // The messages hold no figure that moves (used_memory is in status.store.memory): a condition
  // that changes at every look would be a status write at every look.
  const std::int64_t used = reading ? reading->usedMemory : previous.value("usedMemoryBytes", 0);
  if (out.level >= ceiling) {
    out.atCeiling = {.type = std::string(api::kConditionMemoryAtCeiling),
                     .ok = true,
                     .reason = std::string(api::kReasonCeilingReached),
                     .message = "maxmemory is at the ceiling " + ladderText(ceiling) +
                                ": the operator raises it no further; raise "
                                "spec.store.managed.memory.ceiling to give the store more"};
  } else {
    out.atCeiling = {.type = std::string(api::kConditionMemoryAtCeiling),
                     .ok = false,
                     .reason = std::string(api::kReasonBelowCeiling),
                     .message = "maxmemory " + ladderText(out.level) + "; raised to " +
                                ladderText(*next) +
                                " when used_memory stays "
                                "above " +
                                target + " for " + std::to_string(spec.windowSeconds) +
                                "s; ceiling " + ladderText(ceiling)};
  }
  bool wasAtCeiling = false;
  if (const Json* conditions = kube::at(previousStatus, {"conditions"});
      conditions != nullptr && conditions->is_array()) {
    for (const Json& condition : *conditions) {
      if (condition.value("type", "") == api::kConditionMemoryAtCeiling) {
        wasAtCeiling = condition.value("status", "") == api::kStatusTrue;
      }
    }
  }
  if (out.atCeiling.ok && !wasAtCeiling) {
    out.events.push_back({.type = events::EventType::kWarning,
                          .reason = std::string(api::kConditionMemoryAtCeiling),
                          .action = "Resize",
                          .note = out.atCeiling.message});
  }

  int step = 0;
  for (const std::int64_t s : api::kMemoryLadder) {
    if (s > floor && s <= out.level) ++step;
  }
  out.status = {{"maxMemory", ladderText(out.level)},
                {"maxMemoryBytes", out.level},
                {"step", step},
                {"ceiling", ladderText(ceiling)}};
  if (reading || previous.contains("usedMemoryBytes")) out.status["usedMemoryBytes"] = used;
  if (isAbove) out.status["aboveTargetSince"] = clock::formatTime(since);
  if (!lastRaise.empty()) out.status["lastRaiseTime"] = lastRaise;

  const clock::Duration poll = std::max<clock::Duration>(window, std::chrono::seconds(1));
  out.lookAgainIn = poll;
  if (isAbove && next) {
    out.lookAgainIn =
        std::max<clock::Duration>(since + window - now, std::chrono::milliseconds(500));
  } else if (out.raised) {
    out.lookAgainIn = std::chrono::seconds(1);  // still above at the new level? start its window
  }
  return out;
}

StoreEndpoints managedEndpoints(const api::SessionStore& store,
                                const managedstore::Passwords& passwords) {
  StoreEndpoints out{.app = managedEndpoint(store, passwords)};
  out.monitor = out.app;
  out.monitor->username = std::string(managedstore::kMonitorUser);
  out.monitor->password = passwords.monitor;
  return out;
}

// --- TLS of the managed store ------------------------------------------------------------------

ManagedTlsDecision decideManagedTls(const api::SessionStore& store, const Observed& tlsSecret,
                                    const Observed& caSecret, crypto::TimePoint now,
                                    std::chrono::seconds certificateLifetime,
                                    const std::optional<std::string>& appCaBundle) {
  ManagedTlsDecision out;
  const auto condition = [](std::string_view reason, std::string message) {
    return ConditionState{.type = std::string(api::kConditionStoreReady),
                          .ok = false,
                          .reason = std::string(reason),
                          .message = std::move(message)};
  };
  const std::string secretName = managedstore::tlsSecretName(store);
  if (store.spec.store.managed.tls.issuerRef) {
    out.certificate = withDesiredHash(managedstore::certificate(store));
    if (!tlsSecret.object) {
      out.problem = condition(api::kReasonCertificatePending,
                              "waiting for cert-manager to issue Certificate " +
                                  managedstore::certificateName(store) + " into Secret " +
                                  secretName + " (kubectl describe certificate " +
                                  managedstore::certificateName(store) + ")");
      return out;
    }
    auto server = managedstore::serverTlsFromSecret(*tlsSecret.object);
    if (!server || server->caPem.empty()) {
      out.problem = condition(
          api::kReasonTlsSecretInvalid,
          "Secret " + secretName + ": " + (server ? "data.ca.crt: missing" : server.error()) +
              "; the issuer must give the CA that signed the certificate (ca.crt), which the "
              "app and the operator verify the store with");
      return out;
    }
    auto info = crypto::readCertificate(server->certificatePem);
    if (!info) {
      out.problem = condition(api::kReasonTlsSecretInvalid,
                              "Secret " + secretName + " data.tls.crt " + info.error());
      return out;
    }
    out.caPem = server->caPem;
    out.certificateSha256 = info->sha256;
    out.server = std::move(*server);
    return out;  // cert-manager renews it
  }
  // The operator's own CA.
  const std::string caName = managedstore::tlsCaSecretName(store);
  for (const auto& [observed, name] : {std::pair{&caSecret, caName}, {&tlsSecret, secretName}}) {
    if (observed->object && !controlledBy(*observed->object, store.metadata.uid)) {
      out.problem = notOursCondition("Secret " + name);
      return out;
    }
  }
  std::optional<crypto::KeyAndCertificate> ca;
  std::string previous;
  if (caSecret.object) {
    if (auto read = managedstore::caFromSecret(*caSecret.object)) ca = std::move(*read);
    previous = managedstore::previousCaFromSecret(*caSecret.object, now);
  }
  std::optional<managedstore::ServerTls> server;
  if (tlsSecret.object) {
    if (auto read = managedstore::serverTlsFromSecret(*tlsSecret.object)) server = std::move(*read);
  }
  const auto names = managedstore::serverDnsNames(store);
  // The served certificate stays (servesUnder read it). Looked at again when the app's rollout
  // changes its Deployment, and at the latest when it expires (then one is issued anew).
  const auto keepServing = [&] {
    const auto info = crypto::readCertificate(server->certificatePem);
    out.server = server;
    out.certificateSha256 = info->sha256;
    out.renewAt = info->notAfter;
  };

  out.newCa = managedstore::caReplaceReason(ca, now, certificateLifetime);
  if (out.newCa) {
    // The trust to keep beside the new CA, so that no client that verifies with what it was
    // given fails: the CA replaced, while it is still valid; or, when the CA Secret was lost,
    // the CA the served certificate chains to (the server Secret keeps a copy as ca.crt).
    if (ca) {
      const auto info = crypto::readCertificate(ca->certificatePem);
      if (info && info->isCa && now < info->notAfter) previous = ca->certificatePem;
    } else if (server && !server->caPem.empty()) {
      const auto info = crypto::readCertificate(server->caPem);
      if (info && info->isCa && now < info->notAfter &&
          managedstore::servesUnder(*server, server->caPem, names, now)) {
        previous = managedstore::firstCertificate(server->caPem);
      }
    }
    out.previousCaPem = previous;
    if (!previous.empty() && server && managedstore::servesUnder(*server, previous, names, now)) {
      keepServing();  // from the previous CA until the app trusts the new one
      return out;
    }
    out.issue = "the CA is new";
    return out;
  }
  out.ca = ca;
  out.previousCaPem = previous;
  out.caPem = managedstore::trustBundle(ca->certificatePem, previous);
  const bool appTrustsCa =
      !appCaBundle || appCaBundle->find(ca->certificatePem) != std::string::npos;
  if (!previous.empty() && server && !crypto::signedBy(server->certificatePem, ca->certificatePem) &&
      managedstore::servesUnder(*server, previous, names, now)) {
    // Served from the previous CA: issued from the current one once every pod of the app trusts
    // it (its rollout to the connection with both CAs is complete).
    if (appTrustsCa) {
      out.issue = "every pod of the app now trusts the store's new CA";
      return out;
    }
    keepServing();
    return out;
  }
  out.issue = managedstore::reissueReason(server, ca->certificatePem, names, now);
  if (out.issue) return out;
  // The previous CA signs nothing in the certificate Secret any more: it is trusted no longer
  // once the store serves that certificate (the reconciler checks the probe's handshake); until
  // then the app keeps the bundle.
  out.dropPreviousCa = !previous.empty();
  const auto info = crypto::readCertificate(server->certificatePem);  // reissueReason read it
  out.certificateSha256 = info->sha256;
  out.renewAt = managedstore::renewalTime(*info);
  out.server = std::move(server);
  return out;
}

void useManagedTls(StoreEndpoints& endpoints, const std::string& caPem,
                   const std::string& certificateSha256) {
  endpoints.app.tls = true;
  endpoints.app.tlsCaPem = caPem;
  endpoints.app.caPemForApp = caPem;
  if (endpoints.monitor) {
    endpoints.monitor->tls = true;
    endpoints.monitor->tlsCaPem = caPem;
    endpoints.monitor->tlsExpectedCertificateSha256 = certificateSha256;
  }
}

// --- The external store ------------------------------------------------------------------------

namespace {

// The TLS settings of an external rediss:// store (spec.store.external.tls), the CA read from
// its Secret; the error is a StoreReady condition.
std::expected<void, ConditionState> applyExternalTls(const api::SessionStore& store,
                                                     const Observed& caSecret,
                                                     wiring::StoreEndpoint& endpoint) {
  const auto& tls = store.spec.store.external->tls;
  const auto& urlRef = store.spec.store.external->urlSecretRef;
  if (!endpoint.tls) {
    if (!tls) return {};
    return std::unexpected(ConditionState{
        .type = std::string(api::kConditionStoreReady),
        .ok = false,
        .reason = std::string(api::kReasonInvalidUrl),
        .message = "spec.store.external.tls is set but the URL in Secret " + urlRef.name +
                   " key \"" + urlRef.key +
                   "\" is redis:// (no TLS): use rediss:// to connect with TLS, or remove "
                   "spec.store.external.tls"});
  }
  if (!tls) return {};
  endpoint.tlsServerName = tls->serverName;
  endpoint.tlsInsecureSkipVerify = tls->insecureSkipVerify;
  if (!tls->caSecretRef) return {};
  const auto& ref = *tls->caSecretRef;
  const auto invalid = [&](const std::string& message) {
    return std::unexpected(ConditionState{
        .type = std::string(api::kConditionStoreReady),
        .ok = false,
        .reason = std::string(api::kReasonTlsCaSecretInvalid),
        .message = message + " (spec.store.external.tls.caSecretRef); the store is not "
                             "contacted until its certificate can be verified"});
  };
  if (!caSecret.object) {
    return invalid("Secret " + ref.name + " does not exist in namespace " + store.metadata.ns +
                   ": create it with key \"" + ref.key +
                   "\" holding the PEM certificate of the CA that signed the store's certificate");
  }
  const Json* value = at(*caSecret.object, {"data", ref.key.c_str()});
  if (value == nullptr || !value->is_string()) {
    return invalid("Secret " + ref.name + " has no key \"" + ref.key +
                   "\": add the CA certificate (PEM) under it, or set caSecretRef.key");
  }
  const auto pem = crypto::base64Decode(value->get<std::string>());
  if (!pem) return invalid("Secret " + ref.name + " key \"" + ref.key + "\" is not valid base64");
  if (auto counted = redisclient::countPemCertificates(*pem); !counted) {
    return invalid("Secret " + ref.name + " key \"" + ref.key + "\" " + counted.error());
  }
  endpoint.tlsCaPem = *pem;
  return {};
}

}  // namespace

ExternalStoreDecision decideExternalStore(const api::SessionStore& store, const Observed& urlSecret,
                                          const Observed& caSecret) {
  const auto& ref = store.spec.store.external->urlSecretRef;
  const std::string& ns = store.metadata.ns;
  const auto missing = [&](const std::string& message) {
    return ExternalStoreDecision{
        .problem = ConditionState{.type = std::string(api::kConditionStoreReady),
                                  .ok = false,
                                  .reason = std::string(api::kReasonUrlSecretMissing),
                                  .message = message}};
  };
  if (!urlSecret.object) {
    return missing("Secret " + ref.name + " does not exist in namespace " + ns +
                   ": create it with key \"" + ref.key +
                   "\" holding the store's redis:// or rediss:// URL");
  }
  const Json& secret = *urlSecret.object;
  const Json* value = at(secret, {"data", ref.key.c_str()});
  if (value == nullptr || !value->is_string()) {
    std::string keys;
    if (const Json* data = at(secret, {"data"}); data != nullptr && data->is_object()) {
      for (const auto& [key, unused] : data->items()) keys += (keys.empty() ? "" : ", ") + key;
    }
    return missing("Secret " + ref.name + " has no key \"" + ref.key +
                   "\" (its keys: " + (keys.empty() ? "none" : keys) +
                   "): add it, or set spec.store.external.urlSecretRef.key");
  }
  const auto url = crypto::base64Decode(value->get<std::string>());
  std::string problem;
  if (!url) {
    problem = "is not valid base64";
  } else if (auto parsed = externalEndpoint(*url); !parsed) {
    problem = parsed.error();
  } else {
    if (auto tls = applyExternalTls(store, caSecret, *parsed); !tls) {
      return {.problem = std::move(tls.error())};
    }
    return {.endpoint = std::move(*parsed)};
  }
  return {.problem = ConditionState{
              .type = std::string(api::kConditionStoreReady),
              .ok = false,
              .reason = std::string(api::kReasonInvalidUrl),
              .message = "Secret " + ref.name + " key \"" + ref.key + "\": " + problem +
                         "; set it to redis://[user:password@]host:port[/db] (or rediss://)"}};
}

// --- Health ------------------------------------------------------------------------------------

ConditionState decideStoreReady(const api::SessionStore& store, const health::ProbeResult& probe,
                                const std::optional<Json>& deployment,
                                const std::optional<Json>& statefulSet) {
  ConditionState condition{.type = std::string(api::kConditionStoreReady),
                           .ok = probe.ok,
                           .reason = probe.reason,
                           .message = probe.message};
  if (probe.ok) return condition;
  if (store.spec.store.type == api::StoreType::kExternal) {
    // The URL is the user's: say where to look.
    const auto& ref = store.spec.store.external->urlSecretRef;
    const std::string where = " in Secret " + ref.name + " key \"" + ref.key + "\"";
    if (probe.reason == api::kReasonAuthenticationFailed) {
      condition.message += "; check the user and password" + where;
    } else if (probe.reason == api::kReasonDatabaseUnavailable) {
      condition.message += "; the store has fewer databases than the index in the URL" + where +
                           ": use an index it has, or raise its `databases` setting";
    } else if (probe.reason == api::kReasonTlsCertificateUntrusted) {
      condition.message +=
          "; set spec.store.external.tls.caSecretRef to a Secret holding the CA that signed the "
          "store's certificate (without it the system's CAs are used)";
    } else if (probe.reason == api::kReasonTlsHostMismatch) {
      condition.message += "; use the host the certificate names" + where +
                           ", or set spec.store.external.tls.serverName to a name it holds";
    } else if (probe.reason == api::kReasonTlsVerificationFailed ||
               probe.reason == api::kReasonTlsHandshakeFailed) {
      condition.message += "; check the store's TLS port and certificate" + where;
    } else {
      condition.message += "; check the host and port" + where +
                           ", and that the store accepts connections from the operator and the app";
    }
  }
  // A store that stops answering once the app is wired to it is unreachable, not provisioning,
  // whatever its pod's readiness says.
  const bool wiredBefore = deployment && !ownedLeafFields(*deployment, kManager).empty();
  if (statefulSet && !wiredBefore) {
    const auto ready = integerAt(*statefulSet, {"status", "readyReplicas"}).value_or(0);
    if (ready < 1) {
      condition.reason = std::string(api::kReasonProvisioning);
      condition.message = "waiting for the pod of StatefulSet " +
                          managedstore::statefulSetName(store) +
                          " to be ready; the store does not answer yet (" + probe.message + ")";
    }
  }
  return condition;
}

// --- The target --------------------------------------------------------------------------------

TargetConditions targetMissing(const api::SessionStore& store) {
  const std::string message = "Deployment " + store.spec.target.deployment +
                              " does not exist in namespace " + store.metadata.ns +
                              ": create it, or correct spec.target.deployment";
  ConditionState wired{.type = std::string(api::kConditionConnectionWired),
                       .ok = false,
                       .reason = std::string(api::kReasonDeploymentNotFound),
                       .message = message};
  ConditionState workers = wired;
  workers.type = std::string(api::kConditionWorkersSized);
  return {.wired = std::move(wired), .workers = std::move(workers)};
}

namespace {

// Whether `scaler` (an HPA or a ScaledObject) names `deployment` in spec.scaleTargetRef. KEDA
// defaults the kind to Deployment and the apiVersion to apps/v1; an HPA sets both.
bool scalesDeployment(const Json& scaler, const std::string& deployment) {
  const Json* ref = at(scaler, {"spec", "scaleTargetRef"});
  if (ref == nullptr || !ref->is_object()) return false;
  const auto text = [&](const char* key, const char* fallback) -> std::optional<std::string> {
    const auto it = ref->find(key);
    if (it == ref->end() || it->is_null()) return std::string(fallback);
    if (!it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  const auto name = text("name", "");
  const auto kind = text("kind", "Deployment");
  const auto apiVersion = text("apiVersion", "apps/v1");
  return name && *name == deployment && kind && *kind == "Deployment" && apiVersion &&
         (*apiVersion == "apps/v1" || apiVersion->starts_with("apps/"));
}

// spec.<field> of `scaler` when it is an integer from 1 up; `fallback` when absent (nullopt:
// required); nullopt when malformed.
std::optional<int> maximumOf(const Json& scaler, const char* field, std::optional<int> fallback) {
  const Json* value = at(scaler, {"spec", field});
  if (value == nullptr || value->is_null()) return fallback;
  if (!value->is_number_integer()) return std::nullopt;
  const auto number = integerAt(scaler, {"spec", field});
  if (!number || *number < 1) return std::nullopt;
  return static_cast<int>(std::min<std::int64_t>(*number, 1 << 20));
}

std::string nameOf(const Json& object) {
  const Json* name = at(object, {"metadata", "name"});
  return name != nullptr && name->is_string() ? name->get<std::string>() : std::string();
}

}  // namespace

wiring::ReplicasBound decideReplicasBound(const api::SessionStore& store,
                                          const std::vector<Json>& horizontalPodAutoscalers,
                                          const std::vector<Json>& scaledObjects) {
  if (store.spec.autoscaling.enabled) return wiring::specReplicasBound(store.spec);
  const std::string& deployment = store.spec.target.deployment;
  const auto largest = [&](const std::vector<Json>& scalers, const char* field,
                           std::optional<int> fallback,
                           wiring::BoundSource source) -> std::optional<wiring::ReplicasBound> {
    std::optional<wiring::ReplicasBound> out;
    for (const Json& scaler : scalers) {
      if (!scaler.is_object() || !scalesDeployment(scaler, deployment)) continue;
      const auto maximum = maximumOf(scaler, field, fallback);
      if (!maximum) continue;
      // Several at once is a mistake the user is told of elsewhere; size for the largest.
      if (!out || *maximum > out->replicas) {
        out =
            wiring::ReplicasBound{.replicas = *maximum, .source = source, .scaler = nameOf(scaler)};
      }
    }
    return out;
  };
  if (auto hpa = largest(horizontalPodAutoscalers, "maxReplicas", std::nullopt,
                         wiring::BoundSource::kHorizontalPodAutoscaler)) {
    return *hpa;
  }
  if (auto scaled = largest(scaledObjects, "maxReplicaCount", kKedaDefaultMaxReplicaCount,
                            wiring::BoundSource::kScaledObject)) {
    return *scaled;
  }
  return wiring::specReplicasBound(store.spec);
}

WiringDecision decideWiring(const api::SessionStore& store,
                            const std::optional<wiring::StoreEndpoint>& endpoint,
                            const Json& deployment, const std::optional<health::ProbeResult>& probe,
                            const std::string& storeReason, const wiring::ReplicasBound& bound) {
  WiringDecision out;
  const std::string& deploymentName = store.spec.target.deployment;
  const bool wiredBefore = !ownedLeafFields(deployment, kManager).empty();
  if (!probe || !probe->ok || !endpoint) {
    // The wiring waits for the store; wiring already there stays (an outage is not a reason to
    // take the app's connection away).
    out.isWired = wiredBefore;
    out.wired.ok = wiredBefore;
    out.wired.reason = std::string(wiredBefore ? api::kReasonWired : api::kReasonWaitingForStore);
    out.wired.message =
        wiredBefore
            ? "Deployment " + deploymentName + " keeps its wiring while the store does not answer"
            : "the Deployment is wired once the store answers (StoreReady is " +
                  (storeReason.empty() ? std::string("not known") : storeReason) + ")";
    out.workers.ok = wiredBefore;
    out.workers.reason =
        std::string(wiredBefore ? api::kReasonWorkersSized : api::kReasonWaitingForStore);
    out.workers.message = wiredBefore ? "workers were sized when the app was wired"
                                      : "workers are set when the app is wired";
    return out;
  }

  std::optional<int> serverMaxClients;
  if (store.spec.store.type == api::StoreType::kExternal && probe->maxClients) {
    serverMaxClients = static_cast<int>(std::min<std::int64_t>(*probe->maxClients, 1 << 30));
  }
  auto wiring = desiredWiring(store, *endpoint, deployment, bound.replicas, serverMaxClients);
  if (!wiring) {
    const bool containerMissing = wiring.error().find("has no container") != std::string::npos;
    out.wired.ok = false;
    out.wired.reason =
        std::string(containerMissing ? api::kReasonContainerNotFound : api::kReasonApplyFailed);
    out.wired.message =
        wiring.error() + (containerMissing ? ": correct spec.target.containers" : "");
    out.workers = out.wired;
    out.workers.type = std::string(api::kConditionWorkersSized);
    out.needsUser = true;
    return out;
  }
  auto foreign = foreignEnvEntry(store, wiring->deployment, deployment);
  auto foreignReason = api::kReasonEnvVarInUse;
  if (!foreign) {
    foreign = foreignCaVolume(store, wiring->deployment, deployment);
    foreignReason = api::kReasonVolumeInUse;
  }
  if (foreign) {
    out.wired.ok = false;
    out.wired.reason = std::string(foreignReason);
    out.wired.message = std::move(*foreign);
    out.workers = out.wired;
    out.workers.type = std::string(api::kConditionWorkersSized);
    out.needsUser = true;
    return out;
  }
  out.wiring = std::move(*wiring);
  out.wiring->connectionSecret = withDesiredHash(out.wiring->connectionSecret);
  out.applyDeployment = !ownsExactly(deployment, out.wiring->deploymentApply, kManager);

  std::ostringstream note;
  note << "wired Deployment " << deploymentName << ": " << store.spec.connection.urlEnvVar
       << " from Secret " << api::secretName(store);
  for (const auto& container : out.wiring->deployment.containers) {
    note << "; " << container.name << ": " << store.spec.workers.envVar << "=" << container.workers
         << ", " << store.spec.connection.poolSizeEnvVar << "=" << container.poolSize;
  }
  out.wiredEvent = {
      .type = events::EventType::kNormal, .reason = "Wired", .action = "Wire", .note = note.str()};

  out.isWired = true;
  std::ostringstream workers;
  std::int64_t perPod = 0;  // connections one pod may open
  for (const auto& container : out.wiring->deployment.containers) {
    workers << (workers.tellp() > 0 ? ", " : "") << container.name << ": " << container.workers
            << " workers, pool " << container.poolSize;
    out.poolSize =
        std::min<std::int64_t>(out.poolSize.value_or(container.poolSize), container.poolSize);
    perPod += std::int64_t{container.workers} * container.poolSize;
  }
  workers << " (pools sized for " << bound.replicas << " replicas, " << wiring::describeBound(bound)
          << ")";
  out.workerCount = out.wiring->deployment.containers.front().workers;
  out.wired = {.type = out.wired.type,
               .ok = true,
               .reason = std::string(api::kReasonWired),
               .message = "Deployment " + deploymentName + " reads " +
                          store.spec.connection.urlEnvVar + " from Secret " +
                          api::secretName(store) + "; pods roll when the connection changes"};
  out.workers = {.type = out.workers.type,
                 .ok = true,
                 .reason = std::string(api::kReasonWorkersSized),
                 .message = workers.str()};
  // A scale past the bound: said, not rolled. The Deployment's default is 1 replica; a
  // replicas field that is not an integer is the API server's to refuse, not a scale.
  const Json* replicasField = at(deployment, {"spec", "replicas"});
  std::optional<std::int64_t> replicas;
  if (replicasField == nullptr || replicasField->is_null()) {
    replicas = 1;
  } else if (replicasField->is_number_integer()) {
    replicas = integerAt(deployment, {"spec", "replicas"});
  }
  // (A fixed spec.connection.poolSize does not depend on the bound: nothing to say.)
  if (store.spec.connection.poolSize == 0 && replicas && *replicas > bound.replicas) {
    std::ostringstream message;
    message << "Deployment " << deploymentName << " asks " << *replicas
            << " replicas, more than the " << bound.replicas
            << " its connection pools are sized for (" << wiring::describeBound(bound)
            << "): up to " << *replicas << " x " << perPod << " = " << *replicas * perPod
            << " connections against the store's maxclients "
            << serverMaxClients.value_or(store.spec.store.managed.maxClients)
            << "; the pods are not rolled for a scale: " << wiring::howToRaiseBound(bound)
            << " to at least " << *replicas
            << " (the pods then roll once, with smaller pools), or scale back to at most "
            << bound.replicas << " (" << workers.str() << ")";
    out.workers = {.type = out.workers.type,
                   .ok = false,
                   .reason = std::string(api::kReasonReplicasAboveBound),
                   .message = message.str()};
  }
  return out;
}

std::optional<std::string> foreignEnvEntry(const api::SessionStore& store,
                                           const wiring::DeploymentWiring& wiring,
                                           const Json& deployment) {
  // Each name the operator writes, with the field that chose it.
  const std::pair<std::string, std::string> written[] = {
      {wiring.urlEnvVar, "spec.connection.urlEnvVar"},
      {std::string(wiring::kKeyPrefixEnvVar), ""},  // fixed by the contract
      {wiring.poolSizeEnvVar, "spec.connection.poolSizeEnvVar"},
      {wiring.workersEnvVar, "spec.workers.envVar"},
      // fixed too; written only for a store whose CA the app is given
      {wiring.caFile ? std::string(wiring::kCaFileEnvVar) : std::string(), ""}};
  const Json* containers = at(deployment, {"spec", "template", "spec", "containers"});
  if (containers == nullptr || !containers->is_array()) return std::nullopt;
  const auto owned = ownedLeafFields(deployment, kManager);
  for (const auto& target : wiring.containers) {
    const Json* env = nullptr;
    for (const Json& container : *containers) {
      if (container.is_object() && container.value("name", "") == target.name) {
        env = at(container, {"env"});
        break;
      }
    }
    if (env == nullptr || !env->is_array()) continue;
    for (const Json& entry : *env) {
      if (!entry.is_object()) continue;
      const auto name = entry.find("name");
      if (name == entry.end() || !name->is_string()) continue;
      for (const auto& [envName, field] : written) {
        if (envName.empty() || *name != envName) continue;
        // The entry's own path in managedFields; the operator owns it when it owns a leaf under it.
        const std::string path =
            "f:spec/f:template/f:spec/f:containers/k:" + Json{{"name", target.name}}.dump() +
            "/f:env/k:" + Json{{"name", envName}}.dump();
        const bool ours = std::any_of(owned.begin(), owned.end(), [&](const std::string& leaf) {
          return leaf == path || (leaf.starts_with(path) && leaf[path.size()] == '/');
        });
        if (ours) continue;
        const std::string fix =
            field.empty() ? "remove it from the Deployment: the operator gives " +
                                std::string(envName == wiring::kCaFileEnvVar
                                                ? "the path of the store's CA"
                                                : "the key prefix") +
                                " in " + envName + " and cannot use another name"
                          : "set " + field +
                                " to another name, or remove the entry from the "
                                "Deployment";
        return "container \"" + target.name + "\" of Deployment " + store.spec.target.deployment +
               " already sets " + envName +
               " and the operator did not write it: the operator never replaces an env entry of "
               "the app's own; " +
               fix;
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> foreignCaVolume(const api::SessionStore& store,
                                           const wiring::DeploymentWiring& wiring,
                                           const Json& deployment) {
  if (!wiring.caFile) return std::nullopt;
  const Json* podSpec = at(deployment, {"spec", "template", "spec"});
  if (podSpec == nullptr || !podSpec->is_object()) return std::nullopt;
  const auto owned = ownedLeafFields(deployment, kManager);
  const auto ours = [&](const std::string& path) {
    return std::any_of(owned.begin(), owned.end(), [&](const std::string& leaf) {
      return leaf == path || (leaf.starts_with(path) && leaf[path.size()] == '/');
    });
  };
  const std::string deploymentName = store.spec.target.deployment;
  const std::string why =
      ": the operator gives the store's CA to the app as a file there (the store serves TLS with "
      "a certificate the app must verify) and never replaces what it did not write; rename or "
      "remove it in the Deployment";
  if (const Json* volumes = at(*podSpec, {"volumes"}); volumes != nullptr && volumes->is_array()) {
    for (const Json& volume : *volumes) {
      if (!volume.is_object() || volume.value("name", "") != wiring::kCaVolumeName) continue;
      if (ours("f:spec/f:template/f:spec/f:volumes/k:" +
               Json{{"name", wiring::kCaVolumeName}}.dump())) {
        continue;
      }
      return "Deployment " + deploymentName + " already has a volume named " +
             std::string(wiring::kCaVolumeName) + why;
    }
  }
  const Json* containers = at(*podSpec, {"containers"});
  if (containers == nullptr || !containers->is_array()) return std::nullopt;
  for (const auto& target : wiring.containers) {
    for (const Json& container : *containers) {
      if (!container.is_object() || container.value("name", "") != target.name) continue;
      const Json* mounts = at(container, {"volumeMounts"});
      if (mounts == nullptr || !mounts->is_array()) break;
      for (const Json& mount : *mounts) {
        if (!mount.is_object() || mount.value("mountPath", "") != wiring::kCaMountPath) continue;
        if (ours("f:spec/f:template/f:spec/f:containers/k:" + Json{{"name", target.name}}.dump() +
                 "/f:volumeMounts/k:" + Json{{"mountPath", wiring::kCaMountPath}}.dump())) {
          continue;
        }
        return "container \"" + target.name + "\" of Deployment " + deploymentName +
               " already mounts a volume at " + std::string(wiring::kCaMountPath) + why;
      }
      break;
    }
  }
  return std::nullopt;
}

ConditionState connectionSecretTaken(const api::SessionStore& store) {
  return {.type = std::string(api::kConditionConnectionWired),
          .ok = false,
          .reason = std::string(api::kReasonNameTaken),
          .message = "Secret " + api::secretName(store) +
                     " exists and is not owned by this SessionStore: rename or remove it, or set "
                     "spec.connection.secretName"};
}

std::pair<ConditionState, Event> deploymentRefused(const api::SessionStore& store,
                                                   const kube::Error& error) {
  ConditionState condition{
      .type = std::string(api::kConditionConnectionWired),
      .ok = false,
      .reason = std::string(api::kReasonApplyFailed),
      .message = "cannot apply to Deployment " + store.spec.target.deployment + ": " +
                 describe(error) +
                 "; the operator adds env entries and the pod-template annotation "
                 "sessionstore.io/connection-hash: change the Deployment so that they fit"};
  Event event{.type = events::EventType::kWarning,
              .reason = std::string(api::kReasonApplyFailed),
              .action = "Wire",
              .note = condition.message};
  return {std::move(condition), std::move(event)};
}

// --- One SessionStore per target ---------------------------------------------------------------

std::optional<std::string> targetHolder(const api::SessionStore& store, std::string_view field,
                                        const Json& target, const std::vector<Json>& claimants) {
  const std::string name = targetName(target);
  const std::string wiredBy = wiredByLabel(target);
  if (wiredBy == store.metadata.name) return std::nullopt;
  const auto stringAt = [](const Json& object, std::initializer_list<const char*> path) {
    const Json* value = at(object, path);
    return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
  };
  const auto valid = [&](const Json& claimant) {
    return namesTarget(claimant, field, name) && api::parseSessionStore(claimant).has_value();
  };
  if (!wiredBy.empty()) {
    for (const Json& claimant : claimants) {
      // Its wiring is there: it keeps the target while it names it, even while its spec is
      // invalid or it is being deleted (its finalizer releases the target, then the label goes).
      if (stringAt(claimant, {"metadata", "name"}) == wiredBy &&
          namesTarget(claimant, field, name)) {
        return wiredBy;
      }
    }
  }
  // No store's wiring is there: the oldest claimant keeps it. `store` itself counts even when the
  // list was read before it existed.
  std::pair<std::string, std::string> oldest;  // creationTimestamp, name
  bool found = false;
  for (const Json& claimant : claimants) {
    if (at(claimant, {"metadata", "deletionTimestamp"}) != nullptr || !valid(claimant)) continue;
    // RFC 3339 times in UTC with whole seconds, as the API server writes them, order as strings.
    std::pair<std::string, std::string> key{stringAt(claimant, {"metadata", "creationTimestamp"}),
                                            stringAt(claimant, {"metadata", "name"})};
    if (!found || key < oldest) oldest = std::move(key);
    found = true;
  }
  if (!found || oldest.second == store.metadata.name) return std::nullopt;
  return oldest.second;
}

ConditionState targetClaimed(const api::SessionStore& store, std::string_view field,
                             const std::string& holder) {
  const bool deployment = field == "deployment";
  const std::string what = deployment ? "Deployment " + store.spec.target.deployment
                                      : "Service " + store.spec.target.service;
  return {.type = std::string(deployment ? api::kConditionConnectionWired
                                         : api::kConditionAffinityApplied),
          .ok = false,
          .reason = std::string(api::kReasonTargetClaimed),
          .message = what + " is already wired by SessionStore " + holder +
                     " (one SessionStore per " + (deployment ? "Deployment" : "Service") +
                     "; the first keeps it): nothing of it is changed; point spec.target." +
                     std::string(field) + " elsewhere, or delete SessionStore " + holder +
                     " and this one takes over"};
}

bool wiredByAnother(const Json& target, const std::string& store) {
  const std::string wiredBy = wiredByLabel(target);
  return !wiredBy.empty() && wiredBy != store;
}

// --- Affinity ----------------------------------------------------------------------------------

AffinityDecision decideAffinity(const api::SessionStore& store, const std::optional<Json>& service,
                                bool storeReady) {
  AffinityDecision out;
  const std::string& serviceName = store.spec.target.service;
  if (serviceName.empty()) {
    out.condition.ok = true;
    out.condition.reason = std::string(api::kReasonNoService);
    out.condition.message = "spec.target.service is empty: affinity is not managed";
    return out;
  }
  if (!service) {
    out.condition.ok = false;
    out.condition.reason = std::string(api::kReasonServiceNotFound);
    out.condition.message = "Service " + serviceName + " does not exist in namespace " +
                            store.metadata.ns + ": create it, or correct spec.target.service";
    out.waiting = true;
    return out;
  }
  Json body = wiring::serviceAffinityConfiguration(store, storeReady);
  const bool sticky = body["spec"]["sessionAffinity"] == "ClientIP";
  const std::string description =
      sticky ? "ClientIP affinity for " + std::to_string(store.spec.affinity.timeoutSeconds) + " s"
             : "no affinity";
  if (!ownsExactly(*service, body, kManager)) {
    std::string why;
    if (store.spec.affinity.mode == api::AffinityMode::kUntilStoreReady) {
      why =
          storeReady ? " (the store is ready: sessions are shared)" : " (until the store is ready)";
    }
    out.apply = std::move(body);
    out.appliedEvent = {.type = events::EventType::kNormal,
                        .reason = "AffinitySet",
                        .action = "SetAffinity",
                        .note = "Service " + serviceName + ": " + description + why};
  }
  out.condition.ok = true;
  out.condition.reason =
      std::string(sticky ? api::kReasonAffinityClientIP : api::kReasonAffinityNone);
  out.condition.message = "Service " + serviceName + " has " + description + " (mode " +
                          api::toString(store.spec.affinity.mode) + ")";
  return out;
}

// --- Status ------------------------------------------------------------------------------------

void keepAutoscalingStatus(const Json& previous, Json& status) {
  if (!previous.is_object()) return;
  if (const auto conditions = previous.find("conditions");
      conditions != previous.end() && conditions->is_array()) {
    for (const Json& condition : *conditions) {
      if (condition.is_object() &&
          condition.value("type", "") == api::kConditionAutoscalingActive) {
        Json& list = status["conditions"];
        list.insert(list.end() - 1, condition);  // before Ready
      }
    }
  }
  if (const Json* target = at(previous, {"target"}); target != nullptr && target->is_object()) {
    for (const char* key : {"desiredReplicas", "lastScaleTime", "lastScaleReason"}) {
      if (target->contains(key)) status["target"][key] = (*target)[key];
    }
  }
  if (previous.contains("autoscaling")) status["autoscaling"] = previous["autoscaling"];
}

StatusDecision decideStatus(const api::SessionStore& store, Observation observation,
                            const Json& previous, clock::SystemTime now) {
  for (auto& condition : observation.conditions) {
    if (condition.reason.empty() && condition.type == api::kConditionStoreReady) {
      condition.reason = std::string(api::kReasonProvisioning);
      condition.message = "the store is being set up";
    } else if (condition.reason.empty()) {  // a step that did not run: say what it waits for
      condition.reason = std::string(api::kReasonWaitingForStore);
      condition.message = "waits for the store";
    }
  }
  Json status = buildStatus(observation, previous, now);
  if (store.spec.autoscaling.enabled) keepAutoscalingStatus(previous, status);
  // The store's figures (clients, memory) move all the time: they alone do not make a write, so
  // a converged SessionStore costs no write per probe. They are refreshed with any other change;
  // /metrics has them live.
  const auto withoutFigures = [](Json s) {
    if (s.contains("store") && s["store"].is_object()) {
      s["store"].erase("connectedClients");
      s["store"].erase("usedMemoryBytes");
      if (s["store"].contains("memory") && s["store"]["memory"].is_object()) {
        s["store"]["memory"].erase("usedMemoryBytes");
      }
    }
    return s;
  };
  const bool hadFigures =
      previous.contains("store") && previous["store"].is_object() &&
      (previous["store"].contains("connectedClients") ||
       (previous["store"].contains("memory") && previous["store"]["memory"].is_object() &&
        previous["store"]["memory"].contains("usedMemoryBytes")));
  if (status == previous || (hadFigures && withoutFigures(status) == withoutFigures(previous))) {
    return {};
  }
  StatusDecision out;
  const std::string phaseBefore = previous.value("phase", "");
  const std::string phase = status.value("phase", "");
  if (phase != phaseBefore) {
    if (phase == api::kPhaseReady) {
      out.events.push_back({.type = events::EventType::kNormal,
                            .reason = "Ready",
                            .action = "Reconcile",
                            .note = "the store answers and the app is wired to it"});
    } else if (phase == api::kPhaseDegraded || phase == api::kPhaseFailed) {
      for (const auto& condition : status["conditions"]) {
        if (condition.value("status", "") == api::kStatusFalse) {
          out.events.push_back(
              {.type = events::EventType::kWarning,
               .reason = condition.value("reason", ""),
               .action = "Reconcile",
               .note = condition.value("type", "") + ": " + condition.value("message", "")});
          break;
        }
      }
    }
  }
  // Problems that need the user are Events too, once per change of the condition.
  for (const auto& condition : status["conditions"]) {
    if (condition.value("status", "") != api::kStatusFalse) continue;
    const std::string reason = condition.value("reason", "");
    if (reason == api::kReasonWaitingForStore || reason == api::kReasonProvisioning ||
        reason == api::kReasonNotReady) {
      continue;
    }
    bool sameBefore = false;
    if (const auto& before = previous.find("conditions"); before != previous.end()) {
      for (const auto& old : *before) {
        sameBefore = sameBefore || (old.value("type", "") == condition.value("type", "") &&
                                    old.value("reason", "") == reason &&
                                    old.value("message", "") == condition.value("message", ""));
      }
    }
    if (!sameBefore && phase != api::kPhaseDegraded) {
      out.events.push_back(
          {.type = events::EventType::kWarning,
           .reason = reason,
           .action = "Reconcile",
           .note = condition.value("type", "") + ": " + condition.value("message", "")});
    }
  }
  out.status = std::move(status);
  return out;
}

StatusDecision decideInvalidSpecStatus(std::int64_t generation, const std::string& problem,
                                       const Json& previous, clock::SystemTime now) {
  Observation observation{
      .generation = generation,
      .invalidSpec = true,
      .conditions = {{.type = std::string(api::kConditionReady),
                      .ok = false,
                      .reason = std::string(api::kReasonInvalidSpec),
                      .message = problem + ": correct the SessionStore and apply it again"}}};
  Json status = buildStatus(observation, previous, now);
  if (status == previous) return {};
  return {.status = std::move(status),
          .events = {{.type = events::EventType::kWarning,
                      .reason = std::string(api::kReasonInvalidSpec),
                      .action = "Reconcile",
                      .note = observation.conditions.front().message}}};
}

std::vector<Event> writesEvents(const std::vector<std::string>& created,
                                const std::vector<std::string>& updated) {
  std::vector<Event> out;
  const auto report = [&](const std::vector<std::string>& what, const char* reason,
                          const char* action, const std::string& verb) {
    if (what.empty()) return;
    std::vector<std::string> named;  // each object once, in the order written
    for (const auto& item : what) {
      if (std::find(named.begin(), named.end(), item) == named.end()) named.push_back(item);
    }
    std::string note = verb;
    for (std::size_t i = 0; i < named.size(); ++i) note += (i == 0 ? " " : ", ") + named[i];
    out.push_back(
        {.type = events::EventType::kNormal, .reason = reason, .action = action, .note = note});
  };
  report(created, "Created", "Create", "created");
  report(updated, "Updated", "Update", "updated");
  return out;
}

// --- Deletion ----------------------------------------------------------------------------------

std::vector<std::string> finalizersOf(const Json& object) {
  std::vector<std::string> out;
  const Json* list = at(object, {"metadata", "finalizers"});
  if (list == nullptr || !list->is_array()) return out;
  for (const Json& item : *list) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

bool hasFinalizer(const Json& object) {
  const auto finalizers = finalizersOf(object);
  return std::find(finalizers.begin(), finalizers.end(), identity::kFinalizer) != finalizers.end();
}

Json finalizerPatch(const Json& object, bool add) {
  auto finalizers = finalizersOf(object);
  std::erase(finalizers, std::string(identity::kFinalizer));
  if (add) finalizers.emplace_back(identity::kFinalizer);
  std::string version;
  if (const Json* rv = at(object, {"metadata", "resourceVersion"});
      rv != nullptr && rv->is_string()) {
    version = rv->get<std::string>();
  }
  // The resourceVersion makes the patch fail rather than drop a finalizer added meanwhile.
  return {{"metadata", {{"finalizers", finalizers}, {"resourceVersion", version}}}};
}

std::vector<Release> releases(const api::SessionStore& store) {
  const std::string& ns = store.metadata.ns;
  std::vector<Release> out;
  if (!store.spec.target.deployment.empty()) {
    out.push_back({&kube::resources::kDeployments, store.spec.target.deployment,
                   wiring::deploymentUnwireConfiguration(ns, store.spec.target.deployment)});
  }
  if (!store.spec.target.service.empty()) {
    out.push_back({&kube::resources::kServices,
                   store.spec.target.service,
                   {{"apiVersion", "v1"},
                    {"kind", "Service"},
                    {"metadata", {{"name", store.spec.target.service}, {"namespace", ns}}}}});
  }
  return out;
}

bool deletesData(const api::SessionStore& store) {
  return store.spec.store.type == api::StoreType::kManaged &&
         store.spec.store.managed.deletionPolicy == api::DeletionPolicy::kDelete;
}

std::string claimSelector(const api::SessionStore& store) {
  return "sessionstore.io/name=" + store.metadata.name +
         ",app.kubernetes.io/managed-by=sessionstore-operator";
}

}  // namespace sessionstore::reconcile
