// The managed store over TLS, end to end (issue 19): the operator binary on the cluster profile,
// and the test playing the node with a real TLS-only redis-server (Debian's Redis 7, built with
// TLS) started from the operator's rendered redis.conf and users.acl and the certificate
// Secret's files, as a pod would mount them. The operator's CA issues the certificate with a
// short lifetime (--managed-tls-certificate-seconds), so it is renewed during the test: while a
// client loop runs commands (on a kept connection and on fresh ones, each TLS-verified against
// the CA the app is given), the test updates the files as the kubelet updates a mounted Secret,
// and the operator has Redis reload them. Not one command may fail, the new certificate must be
// served afterwards, and the CA must not change.
#include <atomic>
#include <functional>
#include <mutex>
#include <filesystem>
#include <thread>

#include "crypto/certificates.h"
#include "operator_fixture.h"
#include "test_ca.h"

namespace sessionstore::testing {
namespace {

class ManagedTlsIntegration : public OperatorFixture {
 protected:
  static void SetUpTestSuite() {
    // Renewed at two thirds: about every 20 s.
    extraFlags() = {"--managed-tls-certificate-seconds", "30"};
    OperatorFixture::SetUpTestSuite();
  }

  // Writes the certificate Secret's keys into `dir` as the kubelet updates a mounted Secret:
  // each file replaced whole (written aside, then renamed over). Returns the tls.crt written.
  static std::string syncFiles(const Json& secret, const std::string& dir) {
    for (const char* key : {"tls.crt", "tls.key", "ca.crt"}) {
      const std::string path = dir + "/" + key;
      writeTextFile(path + ".new", decode(secret, key));
      std::filesystem::rename(path + ".new", path);
    }
    return decode(secret, "tls.crt");
  }

  // Plays the node for a TLS store: the rendered config with the mounted Secret's folder
  // replaced by `dir`, the port the test's.
  RedisServer& playTlsNode(const std::string& store, const std::string& dir) {
    Json config;
    Json secret;
    if (!eventually([&] {
          if (!get("statefulset", store + "-redis")) return false;
          auto map = get("configmap", store + "-redis-config");
          auto tls = get("secret", store + "-redis-tls");
          if (map) config = *map;
          if (tls) secret = *tls;
          return map.has_value() && tls.has_value();
        })) {
      throw std::runtime_error("no StatefulSet, ConfigMap and certificate Secret for " + store +
                               ":\n" + describeStore(store));
    }
    syncFiles(secret, dir);
    std::string conf = config["data"]["redis.conf"].get<std::string>();
    const std::string acl = plane_->dir() + "/" + ns_ + "-" + store + "-users.acl";
    writeTextFile(acl, config["data"]["users.acl"].get<std::string>());
    conf = std::regex_replace(conf, std::regex("aclfile [^\n]*"), "aclfile " + acl);
    conf = std::regex_replace(conf, std::regex("(^|\n)(dir|bind|port|tls-port) [^\n]*"), "$1");
    conf = std::regex_replace(conf, std::regex("/etc/redis-tls/"), dir + "/");
    const RedisTlsFiles files{
        .certFile = dir + "/tls.crt", .keyFile = dir + "/tls.key", .caFile = dir + "/ca.crt"};
    auto server = std::make_unique<RedisServer>(conf, "", 0, &files);
    std::ofstream(addressMap_, std::ios::app)
        << store << "-redis." << ns_ << ".svc:6379 127.0.0.1:" << server->port() << "\n";
    auto& ref = *server;
    stores_[ns_ + "/" + store] = std::move(server);
    return ref;
  }

  static std::string fingerprint(const std::string& pem) {
    auto info = crypto::readCertificate(pem);
    if (!info) throw std::runtime_error("certificate: " + info.error());
    return info->sha256;
  }
};

TEST_F(ManagedTlsIntegration, ReadyWithRedissAndRenewedWithoutAFailedCommand) {
  const std::string name = "tls";
  apply(deploymentYaml(name));
  apply(serviceYaml(name));
  apply(managedStoreYaml(name, name, "      tls: {enabled: true}\n"));

  // What the pod would run: TLS only, the files of the mounted Secret.
  char pattern[] = "/tmp/sessionstore-mounted-tls.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  RedisServer& server = playTlsNode(name, dir);
  const Json config = mustGet("configmap", name + "-redis-config");
  const std::string conf = config["data"]["redis.conf"];
  EXPECT_NE(conf.find("\nport 0\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("tls-port 6379\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("tls-auth-clients no\n"), std::string::npos) << conf;
  const Json sts = mustGet("statefulset", name + "-redis");
  EXPECT_NE(sts["spec"]["template"]["spec"]["volumes"].dump().find(name + "-redis-tls"),
            std::string::npos);

  ASSERT_TRUE(eventually([&] { return phase(name) == "Ready"; })) << describeStore(name);
  const Json connection = mustGet("secret", name + "-session-store");
  const std::string url = decode(connection, "REDIS_URL");
  EXPECT_TRUE(url.starts_with("rediss://")) << "the app's URL is not rediss://";
  const std::string ca = decode(connection, "ca.crt");
  ASSERT_NE(ca.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  const Json caSecret = mustGet("secret", name + "-redis-tls-ca");

  // The app's pods get the CA as a file: the real API server took the volume, the mount (a list
  // it keys by mountPath) and REDIS_CA_FILE, and the operator, owning exactly what it applied,
  // does not write the Deployment again.
  std::optional<Json> wired;
  ASSERT_TRUE(eventually([&] {
    wired = get("deployment", name);
    return wired && (*wired)["spec"]["template"]["spec"].contains("volumes");
  })) << "the Deployment never got the CA's volume";
  const Json& podSpec = (*wired)["spec"]["template"]["spec"];
  EXPECT_EQ(podSpec["volumes"][0]["name"], "sessionstore-ca");
  EXPECT_EQ(podSpec["volumes"][0]["secret"]["secretName"], name + "-session-store");
  EXPECT_EQ(podSpec["containers"][0]["volumeMounts"][0]["mountPath"], "/var/run/sessionstore");
  EXPECT_NE(podSpec["containers"][0]["env"].dump().find(
                R"({"name":"REDIS_CA_FILE","value":"/var/run/sessionstore/ca.crt"})"),
            std::string::npos)
      << podSpec["containers"][0]["env"].dump();
  const std::string generation = (*wired)["metadata"]["generation"].dump();

  // The app's view: its URL, verified against the CA it was given, by the Service's name.
  auto endpoint = redisclient::parseRedisUrl(url);
  ASSERT_TRUE(endpoint);
  const std::string host = endpoint->host;
  EXPECT_EQ(host, name + "-redis." + ns_ + ".svc");
  endpoint->host = "127.0.0.1";
  endpoint->port = server.port();
  endpoint->verification = {.serverName = host, .caPem = ca};
  // Plain TCP is refused: the store listens with TLS only.
  {
    auto plain = *endpoint;
    plain.tls = false;
    plain.connectTimeout = plain.commandTimeout = std::chrono::milliseconds(1000);
    EXPECT_FALSE(redisclient::Session::open(plain)) << "a plain connection was served";
  }
  const std::string prefix = decode(connection, "SESSION_KEY_PREFIX");
  const std::string first = fingerprint(decode(mustGet("secret", name + "-redis-tls"), "tls.crt"));
  {
    auto session = redisclient::Session::open(*endpoint);
    ASSERT_TRUE(session) << session.error();
    EXPECT_EQ((*session)->peerCertificateSha256(), first);
  }

  // The client loop: a kept connection, and a fresh one (a new handshake) every few commands.
  std::atomic<bool> stop{false};
  std::atomic<long> commands{0};
  std::atomic<long> failures{0};
  std::string firstFailure;
  std::thread loop([&] {
    std::unique_ptr<redisclient::Session> kept;
    long i = 0;
    while (!stop) {
      ++i;
      std::unique_ptr<redisclient::Session> fresh;
      redisclient::Session* use = nullptr;
      if (i % 5 == 0 || !kept) {
        auto opened = redisclient::Session::open(*endpoint);
        if (!opened) {
          if (failures++ == 0) firstFailure = "open: " + opened.error();
          continue;
        }
        (kept ? fresh : kept) = std::move(*opened);
        use = fresh ? fresh.get() : kept.get();
      } else {
        use = kept.get();
      }
      const std::string key = prefix + "session:" + std::to_string(i % 50);
      auto set = use->command({"SET", key, std::to_string(i)});
      auto got = use->command({"GET", key});
      ++commands;
      if (!set || !got || *got != std::to_string(i)) {
        if (failures++ == 0) firstFailure = !set ? set.error() : !got ? got.error() : *got;
        if (!use->usable() && use == kept.get()) kept.reset();
      }
    }
  });

  // The renewal: the operator writes a new certificate; the test updates the mounted files as
  // the kubelet would; the operator has Redis load it. Then a fresh handshake shows it.
  std::string written = first;
  const bool renewed = eventually(
      [&] {
        auto secret = get("secret", name + "-redis-tls");
        if (!secret) return false;
        const std::string current = fingerprint(decode(*secret, "tls.crt"));
        if (current != written) written = fingerprint(syncFiles(*secret, dir));
        if (written == first) return false;
        auto session = redisclient::Session::open(*endpoint);
        return session && (*session)->peerCertificateSha256() == written;
      },
      std::chrono::seconds(120), std::chrono::milliseconds(500));
  // Commands go on past the switch.
  const long seen = commands;
  eventually([&] { return commands > seen + 20; }, std::chrono::seconds(30));
  stop = true;
  loop.join();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);

  ASSERT_TRUE(renewed) << "the renewed certificate was never served\n" << describeStore(name);
  EXPECT_GT(commands.load(), 20);
  EXPECT_EQ(failures.load(), 0) << "first failure: " << firstFailure;
  // The CA did not change: the app keeps verifying with what it was given.
  EXPECT_EQ(decode(mustGet("secret", name + "-session-store"), "ca.crt"), ca);
  EXPECT_EQ(decode(mustGet("secret", name + "-redis-tls-ca"), "ca.crt"),
            decode(caSecret, "ca.crt"));
  EXPECT_EQ(phase(name), "Ready") << describeStore(name);
  EXPECT_EQ(mustGet("deployment", name)["metadata"]["generation"].dump(), generation)
      << "the Deployment was written again with nothing changed (or rolled by the renewal)";
}

}  // namespace
}  // namespace sessionstore::testing

namespace sessionstore::testing {
namespace {

// The hostile-input kind of EnvVarInUse, for the CA file (issue 19): the app's own mount at the
// path where the operator gives the store's CA is never replaced. The store is Ready, the wiring
// refused with VolumeInUse naming the mount, and the Deployment untouched; once the user moves
// their mount, the app is wired.
TEST_F(ManagedTlsIntegration, TheAppsOwnMountAtTheCaPathIsNeverReplaced) {
  const std::string name = "mine";
  const std::string mounts = R"(        volumeMounts:
        - {name: certs, mountPath: /var/run/sessionstore}
      volumes:
      - name: certs
        emptyDir: {}
)";
  apply(deploymentYaml(name, mounts));
  apply(serviceYaml(name));
  apply(managedStoreYaml(name, name, "      tls: {enabled: true}\n"));
  char pattern[] = "/tmp/sessionstore-mounted-tls.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  playTlsNode(name, dir);
  ASSERT_TRUE(eventually([&] {
    return conditionIs(name, "StoreReady", "True", "StoreAvailable") &&
           conditionIs(name, "ConnectionWired", "False", "VolumeInUse");
  })) << describeStore(name);
  const auto message = condition(name, "ConnectionWired")->value("message", "");
  EXPECT_NE(message.find("container \"app\" of Deployment mine already mounts a volume at "
                         "/var/run/sessionstore"),
            std::string::npos)
      << message;
  const Json untouched = mustGet("deployment", name);
  EXPECT_EQ(untouched["metadata"]["generation"], 1) << "the Deployment was written";
  EXPECT_EQ(untouched["spec"]["template"]["spec"]["containers"][0].dump().find("REDIS_URL"),
            std::string::npos);
  EXPECT_EQ(untouched["spec"]["template"]["spec"]["volumes"][0]["name"], "certs");

  // The user moves their mount: the app is wired, the CA beside their volume.
  apply(deploymentYaml(name, R"(        volumeMounts:
        - {name: certs, mountPath: /var/run/certs}
      volumes:
      - name: certs
        emptyDir: {}
)"));
  ASSERT_TRUE(eventually([&] { return conditionIs(name, "ConnectionWired", "True", "Wired"); }))
      << describeStore(name);
  const Json wired = mustGet("deployment", name);
  const std::string podSpec = wired["spec"]["template"]["spec"].dump();
  EXPECT_NE(podSpec.find(R"("mountPath":"/var/run/certs")"), std::string::npos) << podSpec;
  EXPECT_NE(podSpec.find(R"("mountPath":"/var/run/sessionstore")"), std::string::npos) << podSpec;
  EXPECT_NE(podSpec.find(R"("name":"sessionstore-ca")"), std::string::npos) << podSpec;
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

// What the API server refuses (the CRD's CEL rule), and cert-manager missing from the cluster:
// a condition that says so, not a crash, and nothing of the store's certificate written.
TEST_F(ManagedTlsIntegration, AnIssuerWithoutTlsIsRefusedAndMissingCertManagerIsACondition) {
  const std::string name = "cm";
  apply(deploymentYaml(name));
  const auto refused =
      inNs({"apply", "-f", "-"},
           managedStoreYaml(name, name, "      tls: {issuerRef: {name: corp-ca}}\n"));
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.err.find("tls.issuerRef is only used with tls.enabled true"), std::string::npos)
      << refused.describe();

  apply(managedStoreYaml(name, name,
                         "      tls: {enabled: true, issuerRef: {name: corp-ca, kind: "
                         "ClusterIssuer}}\n"));
  ASSERT_TRUE(eventually([&] {
    return conditionIs(name, "StoreReady", "False", "CertManagerMissing");
  })) << describeStore(name);
  const auto message = condition(name, "StoreReady")->value("message", "");
  EXPECT_NE(message.find("install cert-manager"), std::string::npos) << message;
  EXPECT_FALSE(get("secret", name + "-redis-tls-ca")) << "no CA of the operator's with an issuer";
  EXPECT_FALSE(get("secret", name + "-session-store")) << "the app is not wired";
  // kubectl explain documents the field.
  std::string explained;
  EXPECT_TRUE(eventually(
      [&] {
        const auto r = kubectl({"explain", "sessionstore.spec.store.managed.tls"});
        explained = r.out + r.err;
        return r.ok();
      },
      std::chrono::seconds(20)))
      << explained;
  EXPECT_NE(explained.find("issuerRef"), std::string::npos) << explained;
  EXPECT_NE(explained.find("two thirds"), std::string::npos) << explained;
  // The operator is still up and answering.
  EXPECT_NO_THROW(operatorMetrics());
}

}  // namespace
}  // namespace sessionstore::testing

namespace sessionstore::testing {
namespace {

// The operator's CA replaced without a failed request (issue 19: certificates renew before expiry
// without a failed request; the CA is one, and its Secret can be deleted by mistake). The CA
// Secret is deleted while two clients run: one verifying with the CA the app was first given (a
// pod of the app before the change), one with whatever the connection Secret holds when it opens
// a connection (a pod started after it). The operator makes a new CA, trusts both in the app's
// ca.crt, and keeps serving the old certificate until the app's Deployment has rolled out to that
// bundle (kube-controller-manager and kwok roll it here); only then is a certificate from the new
// CA written, and the old CA dropped once it signs nothing served. The server certificates live
// long in this suite (600 s), so no renewal falls inside the test.
class ManagedTlsCaReplacement : public ManagedTlsIntegration {
 protected:
  static void SetUpTestSuite() {
    extraFlags() = {"--managed-tls-certificate-seconds", "600"};
    OperatorFixture::SetUpTestSuite();
  }
  // The target Deployment's rollout is complete (every replica updated and available, none of an
  // older template left) to a template whose connection hash is not `notHash`.
  bool rolledOutAway(const std::string& name, const std::string& notHash) {
    auto d = get("deployment", name);
    if (!d) return false;
    const Json& status = (*d).value("status", Json::object());
    const long replicas = (*d)["spec"].value("replicas", 1L);
    const std::string hash = (*d)["spec"]["template"]["metadata"]
                                 .value("annotations", Json::object())
                                 .value("sessionstore.io/connection-hash", "");
    return !hash.empty() && hash != notHash &&
           status.value("observedGeneration", 0L) == (*d)["metadata"].value("generation", -1L) &&
           status.value("updatedReplicas", 0L) == replicas &&
           status.value("replicas", 0L) == replicas &&
           status.value("availableReplicas", 0L) == replicas;
  }
  std::string templateHash(const std::string& name) {
    return mustGet("deployment", name)["spec"]["template"]["metadata"]
        .value("annotations", Json::object())
        .value("sessionstore.io/connection-hash", "");
  }
};

TEST_F(ManagedTlsCaReplacement, ALostCaIsReplacedWithoutAFailedCommand) {
  const std::string name = "lostca";
  apply(deploymentYaml(name));
  apply(serviceYaml(name));
  apply(managedStoreYaml(name, name, "      tls: {enabled: true}\n"));
  char pattern[] = "/tmp/sessionstore-mounted-tls.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  RedisServer& server = playTlsNode(name, dir);
  ASSERT_TRUE(eventually([&] { return phase(name) == "Ready"; })) << describeStore(name);
  ASSERT_TRUE(eventually([&] { return rolledOutAway(name, ""); }, 120s))
      << "the wired Deployment never rolled out";
  const std::string firstHash = templateHash(name);
  const Json connection = mustGet("secret", name + "-session-store");
  const std::string oldCa = decode(connection, "ca.crt");
  const std::string prefix = decode(connection, "SESSION_KEY_PREFIX");
  auto endpoint = redisclient::parseRedisUrl(decode(connection, "REDIS_URL"));
  ASSERT_TRUE(endpoint);
  const std::string host = endpoint->host;
  endpoint->host = "127.0.0.1";
  endpoint->port = server.port();
  const std::string firstCertificate = decode(mustGet("secret", name + "-redis-tls"), "tls.crt");

  // A client: a fresh TLS connection (a new handshake) every 5 commands, verified against
  // caOf() as it is when the connection opens.
  struct Loop {
    std::atomic<bool> stop{false};
    std::atomic<long> commands{0};
    std::atomic<long> failures{0};
    std::string firstFailure;
    std::thread thread;
  };
  std::mutex caMutex;
  std::string currentCa = oldCa;  // the connection Secret's ca.crt, as the test last read it
  const auto run = [&](Loop& loop, std::function<std::string()> caOf) {
    loop.thread = std::thread([&, caOf] {
      long i = 0;
      std::unique_ptr<redisclient::Session> session;
      while (!loop.stop) {
        if (i++ % 5 == 0 || !session) {
          auto e = *endpoint;
          e.verification = {.serverName = host, .caPem = caOf()};
          auto opened = redisclient::Session::open(e);
          if (!opened) {
            if (loop.failures++ == 0) loop.firstFailure = "open: " + opened.error();
            std::this_thread::sleep_for(50ms);
            continue;
          }
          session = std::move(*opened);
        }
        const auto set = session->command({"SET", prefix + "ca:" + std::to_string(i % 20), "v"});
        ++loop.commands;
        if (!set) {
          if (loop.failures++ == 0) loop.firstFailure = set.error();
          session.reset();
        }
      }
    });
  };
  Loop oldPod;   // trusts the CA it was given at the start, and nothing else
  Loop newPods;  // trusts what the connection Secret holds when it connects
  run(oldPod, [&] { return oldCa; });
  run(newPods, [&] {
    std::lock_guard lock(caMutex);
    return currentCa;
  });

  ASSERT_TRUE(inNs({"delete", "secret", name + "-redis-tls-ca"}).ok());

  // The operator plays its part; the test the kubelet's: the mounted files follow the
  // certificate Secret. The old pod's client stops the moment a new certificate is written,
  // before it is served: by then its pod must be gone (the rollout to the bundle complete).
  bool rolledBeforeMove = false;
  bool sawBundle = false;
  std::string writtenCertificate = firstCertificate;
  const bool settled = eventually(
      [&] {
        auto conn = get("secret", name + "-session-store");
        if (conn) {
          const std::string ca = decode(*conn, "ca.crt");
          std::lock_guard lock(caMutex);
          currentCa = ca;
          sawBundle = sawBundle || (ca.find(oldCa) != std::string::npos && ca != oldCa);
        }
        auto tls = get("secret", name + "-redis-tls");
        if (!tls) return false;
        const std::string certificate = decode(*tls, "tls.crt");
        if (certificate != writtenCertificate) {
          if (writtenCertificate == firstCertificate) {
            rolledBeforeMove = rolledOutAway(name, firstHash);
            oldPod.stop = true;
          }
          writtenCertificate = syncFiles(*tls, dir);
        }
        auto caSecret = get("secret", name + "-redis-tls-ca");
        // Done: served from the new CA, the old one dropped, and the app given the new CA alone.
        return writtenCertificate != firstCertificate && caSecret &&
               !(*caSecret)["data"].contains("previous-ca.crt") && conn &&
               decode(*conn, "ca.crt").find(oldCa) == std::string::npos;
      },
      180s, 500ms);
  // Commands go on past the end, with the new CA alone.
  const long seen = newPods.commands;
  eventually([&] { return newPods.commands > seen + 20; }, 30s);
  oldPod.stop = newPods.stop = true;
  oldPod.thread.join();
  newPods.thread.join();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);

  ASSERT_TRUE(settled) << "the CA was not replaced to the end\n" << describeStore(name);
  EXPECT_TRUE(sawBundle) << "the app was never given both CAs";
  EXPECT_TRUE(rolledBeforeMove)
      << "a certificate from the new CA was written before the app's rollout to the bundle was "
         "complete: a pod that trusted only the old CA could still be running";
  EXPECT_GT(oldPod.commands.load(), 0);
  EXPECT_EQ(oldPod.failures.load(), 0) << "first failure: " << oldPod.firstFailure;
  EXPECT_GT(newPods.commands.load(), 20);
  EXPECT_EQ(newPods.failures.load(), 0) << "first failure: " << newPods.firstFailure;
  EXPECT_EQ(phase(name), "Ready") << describeStore(name);
  EXPECT_NE(decode(mustGet("secret", name + "-redis-tls-ca"), "ca.crt"), oldCa);
}

}  // namespace
}  // namespace sessionstore::testing

namespace sessionstore::testing {
namespace {

// The cert-manager path (spec.store.managed.tls.issuerRef) against cert-manager's own CRDs, as
// its release ships them (scripts/build-controlplane fetches them from the library module of the
// pinned version): the API server checks the Certificate the operator writes against
// cert-manager's schema. cert-manager's controller itself is not run here: the Go module proxy
// this project builds from does not serve its module, so the test does its part, as the
// controller would: it reads the Certificate, issues a certificate for its dnsNames from an
// issuer CA of the test's, and writes the Secret the Certificate names (tls.crt, tls.key,
// ca.crt). The store is then Ready over rediss:// verified against the issuer's CA, which the
// app is given; a renewal by the issuer is served without a failed command.
class ManagedTlsCertManager : public ManagedTlsIntegration {
 protected:
  static void SetUpTestSuite() {
    extraFlags() = {};
    OperatorFixture::SetUpTestSuite();
    const std::string crds = controlPlaneBinary("cert-manager-crds");
    for (const char* file : {"cert-manager.io_certificates.yaml", "cert-manager.io_issuers.yaml",
                             "cert-manager.io_clusterissuers.yaml"}) {
      const auto installed = plane_->kubectl({"apply", "--server-side", "-f", crds + "/" + file});
      if (!installed.ok()) throw std::runtime_error(std::string(file) + ": " + installed.describe());
    }
    const auto established = plane_->waitForCrd("certificates.cert-manager.io");
    if (!established.ok()) throw std::runtime_error("cert-manager's CRD: " + established.describe());
  }
  // What cert-manager's controller does for a Certificate: a key pair and a certificate for its
  // spec.dnsNames, from the issuer, into the Secret spec.secretName (type kubernetes.io/tls).
  void issueAsCertManager(const Json& certificate, const TestCa& issuer) {
    std::vector<std::string> names;
    for (const auto& n : certificate["spec"]["dnsNames"]) names.push_back(n.get<std::string>());
    const auto issued = issuer.issue(certificate["spec"]["commonName"].get<std::string>(), names, {});
    const std::string secretName = certificate["spec"]["secretName"];
    const Json secret = {
        {"apiVersion", "v1"},
        {"kind", "Secret"},
        {"type", "kubernetes.io/tls"},
        {"metadata",
         {{"name", secretName},
          {"labels", certificate["spec"].value("secretTemplate", Json::object())
                         .value("labels", Json::object())},
          {"annotations", {{"cert-manager.io/certificate-name",
                            certificate["metadata"]["name"]}}}}},
        {"data",
         {{"tls.crt", crypto::base64Encode(issued.certPem)},
          {"tls.key", crypto::base64Encode(issued.keyPem)},
          {"ca.crt", crypto::base64Encode(issuer.certPem())}}}};
    const auto applied = inNs({"apply", "--server-side", "--force-conflicts",
                               "--field-manager=cert-manager-certificates-issuing", "-f", "-"},
                              secret.dump());
    ASSERT_TRUE(applied.ok()) << applied.describe();
  }
};

TEST_F(ManagedTlsCertManager, AnIssuedCertificateServesTheStoreAndItsRenewalFailsNothing) {
  const std::string name = "issued";
  apply(deploymentYaml(name));
  apply(serviceYaml(name));
  apply(managedStoreYaml(name, name,
                         "      tls: {enabled: true, issuerRef: {name: corp-ca, kind: "
                         "ClusterIssuer}}\n"));
  // The Certificate, accepted by cert-manager's schema, asking for the Services' names.
  std::optional<Json> certificate;
  ASSERT_TRUE(eventually([&] {
    certificate = get("certificates.cert-manager.io", name + "-redis-tls");
    return certificate.has_value();
  })) << describeStore(name);
  EXPECT_EQ((*certificate)["spec"]["issuerRef"]["name"], "corp-ca");
  EXPECT_EQ((*certificate)["spec"]["issuerRef"]["kind"], "ClusterIssuer");
  EXPECT_EQ((*certificate)["spec"]["secretName"], name + "-redis-tls");
  EXPECT_EQ((*certificate)["spec"]["dnsNames"][0], name + "-redis." + ns_ + ".svc");
  EXPECT_EQ((*certificate)["metadata"]["ownerReferences"][0]["kind"], "SessionStore");
  ASSERT_TRUE(eventually([&] {
    return conditionIs(name, "StoreReady", "False", "CertificatePending");
  })) << describeStore(name);
  EXPECT_FALSE(get("secret", name + "-redis-tls-ca")) << "no CA of the operator's with an issuer";

  const TestCa issuer("corp-ca");
  ASSERT_NO_FATAL_FAILURE(issueAsCertManager(*certificate, issuer));
  char pattern[] = "/tmp/sessionstore-mounted-tls.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  RedisServer& server = playTlsNode(name, dir);
  ASSERT_TRUE(eventually([&] { return phase(name) == "Ready"; })) << describeStore(name);
  const Json connection = mustGet("secret", name + "-session-store");
  EXPECT_EQ(decode(connection, "ca.crt"), issuer.certPem()) << "the app verifies with the issuer's CA";
  auto endpoint = redisclient::parseRedisUrl(decode(connection, "REDIS_URL"));
  ASSERT_TRUE(endpoint);
  EXPECT_TRUE(endpoint->tls);
  const std::string host = endpoint->host;
  endpoint->host = "127.0.0.1";
  endpoint->port = server.port();
  endpoint->verification = {.serverName = host, .caPem = issuer.certPem()};
  const std::string prefix = decode(connection, "SESSION_KEY_PREFIX");
  const std::string first = fingerprint(decode(mustGet("secret", name + "-redis-tls"), "tls.crt"));

  // cert-manager renews: a new certificate in the same Secret, while a client loop runs.
  std::atomic<bool> stop{false};
  std::atomic<long> commands{0}, failures{0};
  std::string firstFailure;
  std::thread loop([&] {
    long i = 0;
    while (!stop) {
      auto opened = redisclient::Session::open(*endpoint);
      if (!opened) {
        if (failures++ == 0) firstFailure = "open: " + opened.error();
        continue;
      }
      for (int k = 0; k < 5 && !stop; ++k, ++i) {
        const auto set = (*opened)->command({"SET", prefix + "cm:" + std::to_string(i % 20), "v"});
        ++commands;
        if (!set && failures++ == 0) firstFailure = set.error();
      }
    }
  });
  ASSERT_NO_FATAL_FAILURE(issueAsCertManager(*certificate, issuer));
  const std::string renewed =
      fingerprint(syncFiles(mustGet("secret", name + "-redis-tls"), dir));
  ASSERT_NE(renewed, first);
  const bool served = eventually(
      [&] {
        auto session = redisclient::Session::open(*endpoint);
        return session && (*session)->peerCertificateSha256() == renewed;
      },
      std::chrono::seconds(120), std::chrono::milliseconds(500));
  const long seen = commands;
  eventually([&] { return commands > seen + 20; }, std::chrono::seconds(30));
  stop = true;
  loop.join();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  EXPECT_TRUE(served) << "the operator never had Redis load the renewed certificate\n"
                      << describeStore(name);
  EXPECT_GT(commands.load(), 20);
  EXPECT_EQ(failures.load(), 0) << "first failure: " << firstFailure;
  EXPECT_EQ(phase(name), "Ready") << describeStore(name);
}

}  // namespace
}  // namespace sessionstore::testing
