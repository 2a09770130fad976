#include "managedstore/managed_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace sessionstore::managedstore {
namespace {

constexpr std::string_view kAppPassword = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
constexpr std::string_view kMonitorPassword = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
constexpr std::string_view kAppSha =
    "ea866a757e4c38babfa8127cbe9a409d3e1f93a00ff1488ff735fcf917afffd0";
constexpr std::string_view kMonitorSha =
    "cf0931e168b49e987503caf18af6fe253b6b3d82a81008c3e8e1ee67c7c8dc55";

// Gives 0, 1, 2, ... across calls: the app password is bytes 0..31, the monitor's 32..63.
RandomBytes counterBytes() {
  auto next = std::make_shared<unsigned char>(0);
  return [next](std::span<unsigned char> out) {
    for (unsigned char& byte : out) byte = (*next)++;
    return true;
  };
}

api::SessionStore parse(const Json& spec) {
  Json object = {{"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "uid-1"}}},
                 {"spec", spec}};
  auto parsed = api::parseSessionStore(object);
  EXPECT_TRUE(parsed.has_value()) << parsed.error();
  return parsed.value_or(api::SessionStore());
}

api::SessionStore defaultStore() { return parse({{"target", {{"deployment", "web"}}}}); }

api::SessionStore customStore() {
  return parse(Json::parse(R"json({
    "target": {"deployment": "web"},
    "connection": {"keyPrefix": "sess:"},
    "store": {"managed": {
      "image": "redis:7.4-alpine",
      "maxMemory": "256Mi",
      "evictionPolicy": "allkeys-lru",
      "maxClients": 5000,
      "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m"}},
      "persistence": {"enabled": false, "storageClassName": "fast"}
    }}
  })json"));
}

api::SessionStore storageClassStore() {
  return parse(Json::parse(R"json({
    "target": {"deployment": "web"},
    "store": {"managed": {
      "persistence": {"size": "5Gi", "storageClassName": "fast"},
      "deletionPolicy": "Delete",
      "resources": {"requests": {"memory": "100Mi"}}
    }}
  })json"));
}

Passwords passwords() {
  return {.app = std::string(kAppPassword), .monitor = std::string(kMonitorPassword)};
}

// metadata of every object named `name`.
Json wantMetadata(const std::string& name) {
  Json metadata = Json::parse(R"json({
    "namespace": "shop",
    "labels": {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "web",
               "app.kubernetes.io/managed-by": "sessionstore-operator",
               "sessionstore.io/name": "web"},
    "ownerReferences": [{"apiVersion": "sessionstore.io/v1alpha1", "kind": "SessionStore",
                         "name": "web", "uid": "uid-1", "controller": true,
                         "blockOwnerDeletion": true}]
  })json");
  metadata["name"] = name;
  return metadata;
}

const Json kSelector = Json::parse(R"json({"app.kubernetes.io/name": "redis",
  "app.kubernetes.io/instance": "web", "sessionstore.io/name": "web"})json");

TEST(GeneratePasswordTest, FixedBytesGiveExactUrlSafeText) {
  RandomBytes random = counterBytes();
  auto password = generatePassword(random);
  ASSERT_TRUE(password.has_value()) << password.error();
  EXPECT_EQ(*password, kAppPassword);
  EXPECT_EQ(password->size(), 43u);
  auto second = generatePassword(random);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, kMonitorPassword);
}

TEST(GeneratePasswordTest, UsesTheUrlSafeAlphabetWithoutPadding) {
  std::vector<unsigned char> pattern;
  for (int i = 0; i < 10; ++i) pattern.insert(pattern.end(), {0xfb, 0xff, 0xbf});
  pattern.insert(pattern.end(), {0xfb, 0xff});
  auto password = generatePassword([&](std::span<unsigned char> out) {
    if (out.size() != pattern.size()) return false;
    std::copy(pattern.begin(), pattern.end(), out.begin());
    return true;
  });
  ASSERT_TRUE(password.has_value()) << password.error();
  EXPECT_EQ(*password, "-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8");
  EXPECT_EQ(password->find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

TEST(GeneratePasswordTest, FailingSourceIsAnError) {
  auto password = generatePassword([](std::span<unsigned char>) { return false; });
  EXPECT_FALSE(password.has_value());
  EXPECT_FALSE(generatePassword(RandomBytes()).has_value());
}

TEST(GeneratePasswordTest, SystemSourceGivesDistinctPasswords) {
  auto passwords = generatePasswords(crypto::systemRandomBytes());
  ASSERT_TRUE(passwords.has_value()) << passwords.error();
  EXPECT_EQ(passwords->app.size(), 43u);
  EXPECT_NE(passwords->app, passwords->monitor);
}

TEST(Sha256HexTest, TheAclHoldsTheAppPasswordsDigest) {
  EXPECT_EQ(crypto::sha256Hex(kAppPassword), kAppSha);
}

TEST(AuthSecretTest, HoldsBothPasswordsAsBase64Data) {
  auto generated = generatePasswords(counterBytes());
  ASSERT_TRUE(generated.has_value());
  EXPECT_EQ(*generated, passwords());
  Json want = {
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata", wantMetadata("web-redis-auth")},
      {"type", "Opaque"},
      {"data",
       {{"app-password", "QUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOA=="},
        {"monitor-password", "SUNFaUl5UWxKaWNvS1NvckxDMHVMekF4TWpNME5UWTNPRGs2T3p3OVBqOA=="}}}};
  Json got = authSecret(defaultStore(), *generated);
  EXPECT_EQ(got, want) << got.dump(2);
}

TEST(AuthSecretTest, PasswordsReadBackFromTheSecret) {
  Json secret = authSecret(defaultStore(), passwords());
  auto read = passwordsFromSecret(secret);
  ASSERT_TRUE(read.has_value()) << read.error();
  EXPECT_EQ(*read, passwords());

  secret["data"].erase("monitor-password");
  read = passwordsFromSecret(secret);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error(), "secret data.monitor-password: missing");

  secret["data"]["monitor-password"] = "not base64!";
  read = passwordsFromSecret(secret);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error(), "secret data.monitor-password: not valid base64");
}

TEST(RenderRedisConfTest, DefaultSpec) {
  EXPECT_EQ(renderRedisConf(defaultStore().spec.store.managed),
            "# Rendered by sessionstore-operator; edits are overwritten.\n"
            "port 6379\n"
            "bind 0.0.0.0\n"
            "protected-mode yes\n"
            "maxmemory 67108864\n"
            "maxmemory-policy volatile-lru\n"
            "maxclients 1000\n"
            "appendonly yes\n"
            "dir /data\n"
            "aclfile /etc/redis/users.acl\n");
}

TEST(RenderRedisConfTest, CustomSpec) {
  EXPECT_EQ(renderRedisConf(customStore().spec.store.managed),
            "# Rendered by sessionstore-operator; edits are overwritten.\n"
            "port 6379\n"
            "bind 0.0.0.0\n"
            "protected-mode yes\n"
            "maxmemory 268435456\n"
            "maxmemory-policy allkeys-lru\n"
            "maxclients 5000\n"
            "appendonly no\n"
            "dir /data\n"
            "aclfile /etc/redis/users.acl\n");
}

TEST(RenderUsersAclTest, ExactText) {
  EXPECT_EQ(renderUsersAcl("shop:web:", "aaaa", "bbbb"),
            "user default off resetpass resetkeys resetchannels -@all\n"
            "user app on #aaaa ~shop:web:* &shop:web:* +@all -@admin -@dangerous\n"
            "user monitor on #bbbb %R~shop:web:* resetchannels -@all +ping +info +client|list "
            "+dbsize +scan +config|get +acl|setuser\n");
}

TEST(RenderUsersAclTest, DuringARotationTheAppUserHasBothPasswords) {
  EXPECT_EQ(renderUsersAcl("shop:web:", "aaaa", "bbbb", false, false, "cccc"),
            "user default off resetpass resetkeys resetchannels -@all\n"
            "user app on #aaaa #cccc ~shop:web:* &shop:web:* +@all -@admin -@dangerous\n"
            "user monitor on #bbbb %R~shop:web:* resetchannels -@all +ping +info +client|list "
            "+dbsize +scan +config|get +acl|setuser\n");
}

TEST(DerivedMemoryLimitTest, IsAQuarterMoreThanMaxMemory) {
  api::SessionStore store = defaultStore();
  EXPECT_EQ(store.spec.store.managed.maxMemory.value(), 67108864);
  EXPECT_EQ(derivedMemoryLimit(store.spec.store.managed.maxMemory).toString(), "80Mi");
  EXPECT_EQ(derivedMemoryLimit(quantity::Quantity::fromInt64(10)).value(), 13);  // 12.5 up
  EXPECT_EQ(derivedMemoryLimit(quantity::Quantity::fromInt64(INT64_MAX)).value(), INT64_MAX);
}

TEST(ConfigMapTest, HoldsConfAndAclWithHashesOnly) {
  Json want = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", wantMetadata("web-redis-config")},
               {"data",
                {{"redis.conf",
                  "# Rendered by sessionstore-operator; edits are overwritten.\n"
                  "port 6379\n"
                  "bind 0.0.0.0\n"
                  "protected-mode yes\n"
                  "maxmemory 67108864\n"
                  "maxmemory-policy volatile-lru\n"
                  "maxclients 1000\n"
                  "appendonly yes\n"
                  "dir /data\n"
                  "aclfile /etc/redis/users.acl\n"},
                 {"users.acl",
                  "user default off resetpass resetkeys resetchannels -@all\n"
                  "user app on "
                  "#ea866a757e4c38babfa8127cbe9a409d3e1f93a00ff1488ff735fcf917afffd0 "
                  "~shop:web:* &shop:web:* +@all -@admin -@dangerous\n"
                  "user monitor on "
                  "#cf0931e168b49e987503caf18af6fe253b6b3d82a81008c3e8e1ee67c7c8dc55 "
                  "%R~shop:web:* resetchannels -@all +ping +info +client|list +dbsize +scan "
                  "+config|get +acl|setuser\n"}}}};
  Json got = configMap(defaultStore(), passwords());
  EXPECT_EQ(got, want) << got.dump(2);
}

TEST(ConfigMapTest, UsesTheSpecKeyPrefix) {
  Json got = configMap(customStore(), passwords());
  EXPECT_EQ(got["data"]["users.acl"], renderUsersAcl("sess:", kAppSha, kMonitorSha));
  EXPECT_EQ(got["data"]["redis.conf"], renderRedisConf(customStore().spec.store.managed));
}

TEST(ConfigHashTest, ChangesWithTheConfig) {
  Json a = configMap(defaultStore(), passwords());
  Json b = configMap(customStore(), passwords());
  EXPECT_EQ(configHash(a).size(), 64u);
  EXPECT_EQ(configHash(a), configHash(configMap(defaultStore(), passwords())));
  EXPECT_NE(configHash(a), configHash(b));
}

TEST(ConfigHashTest, APasswordChangeIsNoReasonToRestartRedis) {
  // Passwords change live (ACL SETUSER): the pod template's hash stays, so Redis does not roll.
  Passwords rotating = passwords();
  rotating.previousApp = rotating.app;
  rotating.app = "a-new-app-password";
  Passwords rotated = passwords();
  rotated.app = "a-new-app-password";
  const Json before = configMap(defaultStore(), passwords());
  const Json during = configMap(defaultStore(), rotating);
  const Json after = configMap(defaultStore(), rotated);
  ASSERT_NE(before["data"]["users.acl"], during["data"]["users.acl"]);
  ASSERT_NE(before["data"]["users.acl"], after["data"]["users.acl"]);
  EXPECT_EQ(configHash(before), configHash(during));
  EXPECT_EQ(configHash(before), configHash(after));
  // Any other change of the ACL still does (a key prefix is the app user's rights).
  Json rules = before;
  rules["data"]["users.acl"] = renderUsersAcl("other:", kAppSha, kMonitorSha);
  EXPECT_NE(configHash(before), configHash(rules));
}

TEST(AuthSecretTest, KeepsThePreviousAppPasswordDuringARotationOnly) {
  Passwords rotating = passwords();
  rotating.previousApp = "the-old-app-password";
  const Json secret = authSecret(defaultStore(), rotating);
  ASSERT_TRUE(secret["data"].contains("previous-app-password"));
  auto read = passwordsFromSecret(secret);
  ASSERT_TRUE(read.has_value()) << read.error();
  EXPECT_EQ(*read, rotating);
  EXPECT_FALSE(authSecret(defaultStore(), passwords())["data"].contains("previous-app-password"));
  Json empty = secret;
  empty["data"]["previous-app-password"] = "";
  auto refused = passwordsFromSecret(empty);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error(), "secret data.previous-app-password: empty");
}

Json wantProbe(int initialDelay, int period, int timeout, int failures) {
  return {{"exec",
           {{"command",
             {"sh", "-c",
              "redis-cli --user monitor --pass \"$MONITOR_PASSWORD\" --no-auth-warning ping | "
              "grep -q PONG"}}}},
          {"initialDelaySeconds", initialDelay},
          {"periodSeconds", period},
          {"timeoutSeconds", timeout},
          {"failureThreshold", failures}};
}

// The StatefulSet of the default spec, with `hash` as config hash.
Json wantDefaultStatefulSet(const std::string& hash) {
  Json want = Json::parse(R"json({
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "spec": {
      "replicas": 1,
      "serviceName": "web-redis-headless",
      "template": {
        "spec": {
          "automountServiceAccountToken": false,
          "securityContext": {"runAsUser": 999, "runAsGroup": 999, "runAsNonRoot": true,
                              "fsGroup": 999, "seccompProfile": {"type": "RuntimeDefault"}},
          "containers": [{
            "name": "redis",
            "image": "redis:7.2-alpine",
            "command": ["redis-server", "/etc/redis/redis.conf"],
            "ports": [{"name": "redis", "containerPort": 6379, "protocol": "TCP"}],
            "env": [{"name": "MONITOR_PASSWORD", "valueFrom": {"secretKeyRef":
                      {"name": "web-redis-auth", "key": "monitor-password"}}}],
            "resources": {"limits": {"memory": "80Mi"}},
            "securityContext": {"allowPrivilegeEscalation": false,
                                "readOnlyRootFilesystem": true, "runAsNonRoot": true,
                                "runAsUser": 999, "runAsGroup": 999,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/redis", "readOnly": true},
                             {"name": "data", "mountPath": "/data"}]
          }],
          "volumes": [{"name": "config", "configMap": {"name": "web-redis-config"}}]
        }
      },
      "volumeClaimTemplates": [{
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}
      }],
      "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}
    }
  })json");
  want["metadata"] = wantMetadata("web-redis");
  want["spec"]["selector"] = {{"matchLabels", kSelector}};
  want["spec"]["template"]["metadata"] = {{"labels", wantMetadata("x")["labels"]},
                                          {"annotations", {{"sessionstore.io/config-hash", hash}}}};
  Json& container = want["spec"]["template"]["spec"]["containers"][0];
  container["readinessProbe"] = wantProbe(5, 5, 2, 3);
  container["livenessProbe"] = wantProbe(15, 10, 5, 6);
  want["spec"]["volumeClaimTemplates"][0]["metadata"] = {{"name", "data"},
                                                         {"labels", wantMetadata("x")["labels"]}};
  return want;
}

TEST(StatefulSetTest, DefaultSpec) {
  Json got = statefulSet(defaultStore(), "h1");
  EXPECT_EQ(got, wantDefaultStatefulSet("h1")) << got.dump(2);
}

TEST(StatefulSetTest, PersistenceOffUsesEmptyDirAndGivenResources) {
  Json want = wantDefaultStatefulSet("h2");
  want["spec"].erase("volumeClaimTemplates");
  want["spec"].erase("persistentVolumeClaimRetentionPolicy");
  Json& pod = want["spec"]["template"]["spec"];
  pod["volumes"].push_back({{"name", "data"}, {"emptyDir", Json::object()}});
  pod["containers"][0]["image"] = "redis:7.4-alpine";
  pod["containers"][0]["resources"] = {{"limits", {{"cpu", "1"}, {"memory", "512Mi"}}},
                                       {"requests", {{"cpu", "250m"}}}};
  Json got = statefulSet(customStore(), "h2");
  EXPECT_EQ(got, want) << got.dump(2);
}

TEST(StatefulSetTest, StorageClassSizeAndDeletePolicy) {
  Json want = wantDefaultStatefulSet("h3");
  want["spec"]["volumeClaimTemplates"][0]["spec"] = {
      {"accessModes", {"ReadWriteOnce"}},
      {"resources", {{"requests", {{"storage", "5Gi"}}}}},
      {"storageClassName", "fast"}};
  want["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] = "Delete";
  want["spec"]["template"]["spec"]["containers"][0]["resources"] = {
      {"limits", {{"memory", "80Mi"}}}, {"requests", {{"memory", "100Mi"}}}};
  Json got = statefulSet(storageClassStore(), "h3");
  EXPECT_EQ(got, want) << got.dump(2);
}

TEST(ServiceTest, HeadlessAndClient) {
  Json ports = Json::parse(
      R"json([{"name": "redis", "port": 6379, "targetPort": "redis", "protocol": "TCP"}])json");
  Json wantHeadless = {{"apiVersion", "v1"},
                       {"kind", "Service"},
                       {"metadata", wantMetadata("web-redis-headless")},
                       {"spec",
                        {{"clusterIP", "None"},
                         {"publishNotReadyAddresses", true},
                         {"selector", kSelector},
                         {"ports", ports}}}};
  Json wantClient = {{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"metadata", wantMetadata("web-redis")},
                     {"spec", {{"type", "ClusterIP"}, {"selector", kSelector}, {"ports", ports}}}};
  EXPECT_EQ(headlessService(defaultStore()), wantHeadless)
      << headlessService(defaultStore()).dump(2);
  EXPECT_EQ(clientService(defaultStore()), wantClient) << clientService(defaultStore()).dump(2);
}

const OperatorPeer kOperator{
    .namespaceLabels = {{"kubernetes.io/metadata.name", "sessionstore-system"}},
    .podLabels = {{"app.kubernetes.io/name", "sessionstore-operator"}}};

TEST(NetworkPolicyTest, AdmitsOnlyTheTargetAndTheOperator) {
  auto got = networkPolicy(defaultStore(), {{"app", "web"}, {"tier", "front"}}, kOperator);
  ASSERT_TRUE(got.has_value()) << got.error();
  Json want = Json::parse(R"json({
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "spec": {
      "policyTypes": ["Ingress"],
      "ingress": [{
        "from": [
          {"podSelector": {"matchLabels": {"app": "web", "tier": "front"}}},
          {"namespaceSelector": {"matchLabels":
             {"kubernetes.io/metadata.name": "sessionstore-system"}},
           "podSelector": {"matchLabels": {"app.kubernetes.io/name": "sessionstore-operator"}}}
        ],
        "ports": [{"protocol": "TCP", "port": 6379}]
      }]
    }
  })json");
  want["metadata"] = wantMetadata("web-redis");
  want["spec"]["podSelector"] = {{"matchLabels", kSelector}};
  EXPECT_EQ(*got, want) << got->dump(2);
}

TEST(NetworkPolicyTest, EmptyLabelsAreErrors) {
  EXPECT_FALSE(networkPolicy(defaultStore(), {}, kOperator).has_value());
  EXPECT_FALSE(networkPolicy(defaultStore(), {{"app", "web"}}, OperatorPeer{}).has_value());
}

// Every string anywhere in `json`.
void strings(const Json& json, std::vector<std::string>& out) {
  if (json.is_string()) out.push_back(json.get<std::string>());
  if (json.is_structured()) {
    for (const auto& [key, value] : json.items()) {
      out.push_back(key);
      strings(value, out);
    }
  }
}

TEST(NoPasswordLeakTest, OnlyTheSecretHoldsThePasswords) {
  for (const api::SessionStore& store : {defaultStore(), customStore(), storageClassStore()}) {
    Json cm = configMap(store, passwords());
    auto policy = networkPolicy(store, {{"app", "web"}}, kOperator);
    ASSERT_TRUE(policy.has_value());
    std::vector<Json> objects = {cm, statefulSet(store, configHash(cm)), headlessService(store),
                                 clientService(store), *policy};
    for (const Json& object : objects) {
      std::string text = object.dump();
      for (std::string_view secret :
           {kAppPassword, kMonitorPassword, std::string_view("QUFFQ0F3UUZCZ2NJ"),
            std::string_view("SUNFaUl5UWxKaWNv")}) {
        EXPECT_EQ(text.find(secret), std::string::npos) << object["kind"] << " holds a password";
      }
    }
  }
  // The Secret does hold them (as base64), which is the point of the check above.
  Json secret = authSecret(defaultStore(), passwords());
  EXPECT_NE(secret.dump().find("QUFFQ0F3UUZCZ2NJ"), std::string::npos);
}


api::SessionStore replicatedStore() {
  return parse({{"target", {{"deployment", "web"}}}, {"store", {{"managed", {{"replicas", 3}}}}}});
}

Passwords replicatedPasswords() {
  Passwords out = passwords();
  out.replication = "replication-secret-value";
  return out;
}

TEST(ReplicasTest, OneReplicaRendersWhatASinglePodStoreAlwaysHad) {
  // The default is 1, and replicas: 1 written out is the same store.
  api::SessionStore one =
      parse({{"target", {{"deployment", "web"}}}, {"store", {{"managed", {{"replicas", 1}}}}}});
  EXPECT_FALSE(replicated(one));
  EXPECT_EQ(statefulSet(one, "h"), wantDefaultStatefulSet("h"));
  EXPECT_EQ(clientService(one), clientService(defaultStore()));
  EXPECT_EQ(configMap(one, passwords()), configMap(defaultStore(), passwords()));
  EXPECT_FALSE(podDisruptionBudget(one));
  EXPECT_EQ(authSecret(one, passwords())["data"].size(), 2u);
}

TEST(ReplicasTest, StatefulSetStartsEveryPodAsAReplicaOfTheClientService) {
  Json want = wantDefaultStatefulSet("h");
  want["spec"]["replicas"] = 3;
  Json& pod = want["spec"]["template"]["spec"];
  pod["containers"][0]["command"] = {
      "sh", "-c",
      "exec redis-server /etc/redis/redis.conf --replicaof web-redis 6379 --masteruser "
      "replication --masterauth \"$REPLICATION_PASSWORD\""};
  pod["containers"][0]["env"].push_back(
      {{"name", "REPLICATION_PASSWORD"},
       {"valueFrom",
        {{"secretKeyRef", {{"name", "web-redis-auth"}, {"key", "replication-password"}}}}}});
  pod["affinity"] = {
      {"podAntiAffinity",
       {{"preferredDuringSchedulingIgnoredDuringExecution",
         {{{"weight", 100},
           {"podAffinityTerm",
            {{"topologyKey", "kubernetes.io/hostname"},
             {"labelSelector", {{"matchLabels", kSelector}}}}}}}}}}};
  Json got = statefulSet(replicatedStore(), "h");
  EXPECT_EQ(got, want) << got.dump(2);
  // The password is expanded by the shell from the Secret: it is not in the spec.
  EXPECT_EQ(got.dump().find("replication-secret-value"), std::string::npos);
}

TEST(ReplicasTest, WithTlsReplicasReplicateOverTls) {
  api::SessionStore store = parse({{"target", {{"deployment", "web"}}},
                                   {"store", {{"managed", {{"replicas", 2}, {"tls", {{"enabled", true}}}}}}}});
  const std::string command =
      statefulSet(store, "h")["spec"]["template"]["spec"]["containers"][0]["command"][2];
  EXPECT_TRUE(command.ends_with(" --tls-replication yes")) << command;
}

TEST(ReplicasTest, ClientServiceSelectsOnlyThePrimary) {
  Json selector = kSelector;
  selector["sessionstore.io/role"] = "primary";
  EXPECT_EQ(clientService(replicatedStore())["spec"]["selector"], selector);
  // The headless Service keeps every pod (replicas reach each other by name, the operator each).
  EXPECT_EQ(headlessService(replicatedStore())["spec"]["selector"], kSelector);
}

TEST(ReplicasTest, PodDisruptionBudgetTakesOnePodAtATime) {
  auto pdb = podDisruptionBudget(replicatedStore());
  ASSERT_TRUE(pdb);
  EXPECT_EQ(*pdb, (Json{{"apiVersion", "policy/v1"},
                        {"kind", "PodDisruptionBudget"},
                        {"metadata", wantMetadata("web-redis")},
                        {"spec", {{"maxUnavailable", 1}, {"selector", {{"matchLabels", kSelector}}}}}}));
}

TEST(ReplicasTest, AclAddsAReplicationUserWithOnlyReplicationAndLetsTheMonitorMoveThePrimary) {
  Json config = configMap(replicatedStore(), replicatedPasswords());
  const std::string acl = config["data"]["users.acl"];
  const std::string single = configMap(defaultStore(), passwords())["data"]["users.acl"];
  // The single-pod ACL with +replicaof for the monitor, and the replication user.
  std::string want = single;
  want.insert(want.find("\n", want.find("user monitor")), " +replicaof");
  want += "user replication on #" + crypto::sha256Hex("replication-secret-value") +
          " resetkeys resetchannels -@all +psync +replconf +ping\n";
  EXPECT_EQ(acl, want);
  EXPECT_EQ(config.dump().find("replication-secret-value"), std::string::npos);
}

TEST(ReplicasTest, TheReplicationPasswordRoundTripsAndIsOptional) {
  Json secret = authSecret(replicatedStore(), replicatedPasswords());
  EXPECT_EQ(secret["data"].size(), 3u);
  auto back = passwordsFromSecret(secret);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, replicatedPasswords());
  auto older = passwordsFromSecret(authSecret(defaultStore(), passwords()));
  ASSERT_TRUE(older) << older.error();
  EXPECT_EQ(older->replication, "");
  secret["data"]["replication-password"] = "%%%";
  auto bad = passwordsFromSecret(secret);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "secret data.replication-password: not valid base64");
}

TEST(ReplicasTest, NetworkPolicyAdmitsTheStoresOwnPods) {
  auto policy = networkPolicy(replicatedStore(), {{"app", "web"}}, kOperator);
  ASSERT_TRUE(policy) << policy.error();
  const Json& from = (*policy)["spec"]["ingress"][0]["from"];
  ASSERT_EQ(from.size(), 3u);
  EXPECT_EQ(from[2], (Json{{"podSelector", {{"matchLabels", kSelector}}}}));
  auto single = networkPolicy(defaultStore(), {{"app", "web"}}, kOperator);
  ASSERT_TRUE(single);
  EXPECT_EQ((*single)["spec"]["ingress"][0]["from"].size(), 2u);
}

TEST(ReplicasTest, PodNames) {
  EXPECT_EQ(podName(replicatedStore(), 0), "web-redis-0");
  EXPECT_EQ(podDisruptionBudgetName(replicatedStore()), "web-redis");
}

}  // namespace
}  // namespace sessionstore::managedstore
