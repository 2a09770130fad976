// The managed Redis of a SessionStore (PRODUCT.md, item 1, store.type Managed): the generated
// passwords and their Secret, redis.conf and the ACL file (a ConfigMap: the ACL holds only SHA-256
// hashes of the passwords), the StatefulSet, the headless and the client Service, and the
// NetworkPolicy that admits only the target's pods and the operator. Pure functions: no client,
// no clock, no logger; randomness is injected (RandomBytes). Every object has a deterministic
// name, the labels of managedLabels() and an ownerReference (controller) to the SessionStore.
// The passwords appear in the Secret built by authSecret() and nowhere else.
#pragma once

#include <cstddef>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "api/session_store.h"
#include "crypto/crypto.h"
#include "identity/identity.h"
#include "quantity/quantity.h"

namespace sessionstore::managedstore {

using Json = nlohmann::json;
using Labels = std::map<std::string, std::string>;

// Fills every byte of the span with random bytes; false when the source failed. Production:
// crypto::systemRandomBytes() (OpenSSL's CSPRNG); tests: fixed bytes.
using RandomBytes = crypto::RandomBytes;

inline constexpr int kPort = 6379;
inline constexpr std::string_view kPortName = "redis";
// The Redis container of the StatefulSet's pod.
inline constexpr std::string_view kContainerName = "redis";
inline constexpr std::size_t kPasswordBytes = 32;
inline constexpr std::string_view kAppUser = "app";
inline constexpr std::string_view kMonitorUser = "monitor";
// The user a replica authenticates to its primary with (spec.store.managed.replicas above 1):
// only what replication needs (PSYNC, REPLCONF, PING).
inline constexpr std::string_view kReplicationUser = "replication";
// Keys of the password Secret.
inline constexpr std::string_view kAppPasswordKey = "app-password";
inline constexpr std::string_view kMonitorPasswordKey = "monitor-password";
// Present only when the store has (or had) more than one replica.
inline constexpr std::string_view kReplicationPasswordKey = "replication-password";
// During a password rotation only: the app password being replaced, which Redis still accepts
// until every Ready pod of the app runs with the new one (reconcile/rotation.h).
inline constexpr std::string_view kPreviousAppPasswordKey = "previous-app-password";
// Keys of the config ConfigMap, mounted at kConfigDir.
inline constexpr std::string_view kRedisConfKey = "redis.conf";
inline constexpr std::string_view kUsersAclKey = "users.acl";
inline constexpr std::string_view kConfigDir = "/etc/redis";
inline constexpr std::string_view kDataDir = "/data";
// The uid and gid of the redis user in the official images.
inline constexpr int kRedisUid = 999;
// The env var of the Redis container the probes authenticate with.
inline constexpr std::string_view kMonitorPasswordEnvVar = "MONITOR_PASSWORD";
// The env vars of the Redis container with replicas above 1: the replication password, and the
// pod's name (for the logs of the start script).
inline constexpr std::string_view kReplicationPasswordEnvVar = "REPLICATION_PASSWORD";

// kPasswordBytes random bytes as URL-safe base64 without padding: 43 characters of
// [A-Za-z0-9_-], safe in a redis:// URL, in redis.conf and in a shell. Errors when `random` fails.
std::expected<std::string, std::string> generatePassword(const RandomBytes& random);

struct Passwords {
  std::string app;
  std::string monitor;
  // "" when the Secret has none (a store that never had more than one replica); the reconciler
  // generates it (generatePassword) before rendering a store with replicas above 1.
  std::string replication;
  // Empty except during a rotation: the app password being replaced (Redis accepts both).
  std::string previousApp;
  bool operator==(const Passwords&) const = default;
};

// Two passwords from `random`, app first. The reconciler generates them only when the Secret
// does not exist yet, and otherwise reads them back with passwordsFromSecret().
std::expected<Passwords, std::string> generatePasswords(const RandomBytes& random);

// The passwords held by a Secret built by authSecret() (as the API server returns it, base64
// data); replication-password and previous-app-password are optional. Errors name the missing or
// malformed key, never the
// value.
std::expected<Passwords, std::string> passwordsFromSecret(const Json& secret);

// Object names.
std::string authSecretName(const api::SessionStore& store);       // <name>-redis-auth
std::string configMapName(const api::SessionStore& store);        // <name>-redis-config
std::string statefulSetName(const api::SessionStore& store);      // <name>-redis
std::string headlessServiceName(const api::SessionStore& store);  // <name>-redis-headless
std::string serviceName(const api::SessionStore& store);          // <name>-redis
std::string networkPolicyName(const api::SessionStore& store);    // <name>-redis
std::string podDisruptionBudgetName(const api::SessionStore& store);  // <name>-redis
// The name of the StatefulSet's pod `ordinal` (<name>-redis-<ordinal>).
std::string podName(const api::SessionStore& store, int ordinal);

// app.kubernetes.io/{name: redis, instance: <name>, managed-by: sessionstore-operator} and
// sessionstore.io/name: <name>: the labels of every object and of the Redis pods.
Labels managedLabels(const api::SessionStore& store);
// The subset that selects the Redis pods (StatefulSet selector, Services, NetworkPolicy).
Labels selectorLabels(const api::SessionStore& store);
// The ownerReference to the SessionStore (controller, blockOwnerDeletion).
Json ownerReference(const api::SessionStore& store);

// True when the store runs more than one Redis pod, with a primary chosen by the operator.
bool replicated(const api::SessionStore& store);

// The memory limit of the Redis container: maxMemory * 1.25, rounded up to a byte (64Mi: 80Mi).
quantity::Quantity derivedMemoryLimit(const quantity::Quantity& maxMemory);

// redis.conf for `managed`: port (with tls.enabled: port 0 and tls-port with the files of
// managedstore/tls.h's kTlsDir), bind, protected mode, maxmemory in bytes, maxmemory-policy,
// maxclients, appendonly by persistence, dir and the ACL file. (The key prefix is in the ACL
// file only.)
std::string renderRedisConf(const api::ManagedStore& managed);

// The ACL file: the default user off, the app user limited to keys and channels under
// `keyPrefix` without @admin and @dangerous commands, and the read-only monitor user with only
// what the operator's probe and metrics need. Passwords as SHA-256 hex only. With `maySetConfig`
// the monitor user may also CONFIG SET: the operator has Redis reload a renewed certificate
// (spec.store.managed.tls.enabled: tls-cert-file, tls-key-file) and raises maxmemory live
// (spec.store.managed.memory); its password is the operator's alone, never the app's.
// With `mayMovePrimary` (a replicated store) the monitor user may also REPLICAOF (host port, and
// NO ONE): the operator promotes a replica and points the others at the primary.
// The monitor user may always ACL SETUSER (and no other ACL subcommand): the operator adds and
// removes app passwords live during a rotation. Redis cannot limit ACL SETUSER to one user, so
// this right is as strong as the monitor password is secret; it stays the operator's alone.
// `previousAppPasswordSha256Hex` (a rotation) gives the app user a second password.
// REQUIRES: keyPrefix has no glob character or space (api::parseSessionStore checks it).
std::string renderUsersAcl(std::string_view keyPrefix, std::string_view appPasswordSha256Hex,
                           std::string_view monitorPasswordSha256Hex, bool maySetConfig = false,
                           bool mayMovePrimary = false,
                           std::string_view previousAppPasswordSha256Hex = {});

// The line a replicated store (replicated()) adds to the ACL file: the replication user, with
// only +psync +replconf +ping (Redis refuses a file naming a user twice, so the monitor's
// +replicaof is renderUsersAcl's mayMovePrimary).
std::string renderReplicationAcl(std::string_view replicationPasswordSha256Hex);

// The Secret <name>-redis-auth: type Opaque, app-password and monitor-password (and
// replication-password when set, and during a rotation previous-app-password) as base64 data (as
// the API server returns them, so desired and observed compare).
Json authSecret(const api::SessionStore& store, const Passwords& passwords);

// The ConfigMap <name>-redis-config: redis.conf and users.acl (hashes of `passwords` only).
// REQUIRES: passwords.replication is set when replicated(store).
Json configMap(const api::SessionStore& store, const Passwords& passwords);

// SHA-256 hex of a ConfigMap's data, for identity::kConfigHashAnnotation, with the password
// hashes of users.acl left out: passwords change live (ACL SETUSER during a rotation), so a new
// password is no reason to restart Redis; any other change of redis.conf or of the ACL rules is.
// (A Redis that restarts for another reason reads the ConfigMap's users.acl, which has every
// password Redis accepts at that moment.)
std::string configHash(const Json& configMap);

// The StatefulSet <name>-redis (see the .cpp for every field); `configHash` goes to the
// pod-template annotation. With spec.store.managed.memory its updateStrategy is OnDelete: a raise
// of maxmemory changes the template's memory limit without rolling Redis.
Json statefulSet(const api::SessionStore& store, std::string_view configHash);

// The headless Service <name>-redis-headless (clusterIP None, publishNotReadyAddresses).
Json headlessService(const api::SessionStore& store);
// The client Service <name>-redis, port 6379 named redis. When replicated(store) it selects only
// the pod labelled identity::kRoleLabel: kRolePrimary.
Json clientService(const api::SessionStore& store);

// The PodDisruptionBudget <name>-redis (maxUnavailable 1) of a replicated store: a drain takes
// one Redis pod at a time. nullopt when the store has a single pod (a budget would block a drain
// for good, or protect nothing).
std::optional<Json> podDisruptionBudget(const api::SessionStore& store);

// Where the operator runs, for the NetworkPolicy: its pods match `podLabels` in the namespaces
// matching `namespaceLabels` (for example kubernetes.io/metadata.name: <operator namespace>).
struct OperatorPeer {
  Labels namespaceLabels;
  Labels podLabels;
  bool operator==(const OperatorPeer&) const = default;
};

// The NetworkPolicy <name>-redis: Redis pods accept TCP 6379 only from pods of the SessionStore's
// namespace matching `targetPodLabels` (the target Deployment's pod-template labels) and from
// the operator. Errors when a label map is empty (it would admit every pod).
std::expected<Json, std::string> networkPolicy(const api::SessionStore& store,
                                               const Labels& targetPodLabels,
                                               const OperatorPeer& operatorPeer);

}  // namespace sessionstore::managedstore
