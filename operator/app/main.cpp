// sessionstore-operator: the command line.
//   run    the operator: caches, leader election, health and metrics endpoints, controllers
//   version, help
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

// After <utility>: Boost.Asio 1.81, which it includes, uses std::exchange without including it.
#include <pplx/threadpool.h>

#include "app/allocator.h"
#include "autoscaling/scaling_controller.h"
#include "cache/cached_client.h"
#include "cache/slim.h"
#include "controller/controller.h"
#include "controller/owners.h"
#include "controller/predicate.h"
#include "crypto/crypto.h"
#include "egress/host_policy.h"
#include "events/recorder.h"
#include "health/health_monitor.h"
#include "health/memory_control.h"
#include "health/password_control.h"
#include "health/store_link.h"
#include "health/store_prober.h"
#include "imageref/image_ref.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "limits/open_files.h"
#include "logging/log.h"
#include "managedstore/managed_store.h"
#include "managedstore/tls.h"
#include "manager/manager.h"
#include "metrics/operator_metrics.h"
#include "metrics/registry.h"
#include "plan_command.h"
#include "reconcile/reconciler.h"
#include "transport/http_transport.h"
#include "transport/system_trust.h"

namespace ss = sessionstore;

namespace {

constexpr std::string_view kUsage =
    "usage: sessionstore-operator <command> [flags]\n"
    "\n"
    "commands:\n"
    "  run       run the operator (in a cluster, or outside with a kubeconfig)\n"
    "  plan      print what the operator would apply for a SessionStore file, without a cluster\n"
    "            (sessionstore-operator plan --help)\n"
    "  version   print the version\n"
    "  help      print this help\n"
    "\n"
    "run flags:\n"
    "  --kubeconfig PATH                  kubeconfig (default: $KUBECONFIG, in-cluster, "
    "~/.kube/config)\n"
    "  --context NAME                     kubeconfig context (default: current-context)\n"
    "  --metrics-bind-address HOST:PORT   /metrics (default :8080)\n"
    "  --health-probe-bind-address HOST:PORT  /healthz and /readyz (default :8081)\n"
    "  --leader-elect true|false          elect a leader on a Lease (default true)\n"
    "  --leader-election-namespace NS     namespace of the Lease (default: the operator's own)\n"
    "  --leader-election-id NAME          name of the Lease (default sessionstore-operator)\n"
    "  --identity NAME                    this replica's name in the Lease (default: "
    "hostname_random)\n"
    "  --log-level debug|info|warn|error  (default info)\n"
    "  --namespaces NS[,NS...]            watch SessionStores in these namespaces only (default: "
    "all)\n"
    "  --operator-namespace NS            where the operator's pods run; the store's NetworkPolicy "
    "admits them (default sessionstore-system)\n"
    "  --max-concurrent-reconciles N      SessionStores reconciled at once (default 4)\n"
    "  --store-resync-seconds N           a converged SessionStore is reconciled again after N s\n"
    "                                     (default 36000, 10 h; changes to it, its objects, its "
    "target and its\n"
    "                                     store's health start a pass at once)\n"
    "  --store-address-map FILE           outside the cluster only: where each store's in-cluster "
    "address\n"
    "                                     is reached from here, lines \"HOST:PORT LOCAL:PORT\" "
    "(e.g. a port-forward)\n"
    "  --managed-tls-certificate-seconds N  lifetime of the server certificates the operator's "
    "own CA\n"
    "                                     issues for managed TLS stores, renewed at 2/3 of it "
    "(default 7776000, 90 days)\n"
    "  --allowed-images LIST              managed stores may run only these images: registries\n"
    "                                     (registry.example.com, registry.example.com:5000) or "
    "image-name\n"
    "                                     prefixes (registry.example.com/team, redis), "
    "comma-separated;"
    " a prefix\n"
    "                                     matches at a / boundary (registry.example.com/redis does "
    "not allow\n"
    "                                     registry.example.com/redis-evil) (default: any image)\n"
    "  --allowed-prometheus-hosts LIST    Latency metrics may query only these hosts (names or "
    "addresses,\n"
    "                                     each with an optional :port, comma-separated, compared "
    "exactly)\n"
    "                                     (default: any host but the API server and link-local "
    "addresses,\n"
    "                                     where clouds serve instance metadata)\n";

struct Flags {
  std::map<std::string, std::string> values;
  std::string error;
};

// --name value or --name=value, for the names in `known`.
Flags parseFlags(int argc, char** argv, int first, const std::vector<std::string>& known) {
  Flags flags;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      flags.error = "unexpected argument \"" + arg + "\"";
      return flags;
    }
    std::string name = arg.substr(2), value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      flags.error = "flag --" + name + " needs a value";
      return flags;
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      flags.error = "unknown flag --" + name;
      return flags;
    }
    flags.values[name] = value;
  }
  return flags;
}

std::string flag(const Flags& f, const std::string& name, const std::string& fallback) {
  const auto it = f.values.find(name);
  return it == f.values.end() ? fallback : it->second;
}

std::string defaultIdentity() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::random_device random;
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", random(), random());
  return std::string(host) + "_" + suffix;
}

// "a,b" to {"a", "b"}; "" to {}.
std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::optional<std::size_t> parseCount(const std::string& text) {
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 64) {
    return std::nullopt;
  }
  return value;
}

int run(int argc, char** argv) {
  // glibc gives each thread that allocates an arena of its own (up to 8 per core), and each
  // keeps what it freed: with a thread per watch and per worker that is resident memory no one
  // uses. Two arenas keep allocation contention low at this operator's request rates.
  ::mallopt(M_ARENA_MAX, 2);
  // Each TLS connection would parse the system's whole CA bundle and throw it away: the API
  // server's connections trust its CA alone, the others load the system's CAs themselves.
  // Before any thread starts: it changes the environment (transport/system_trust.h).
  ss::transport::stopDefaultTrustLoading();
  const auto flags =
      parseFlags(argc, argv, 2,
                 {"kubeconfig", "context", "metrics-bind-address", "health-probe-bind-address",
                  "leader-elect", "leader-election-namespace", "leader-election-id", "identity",
                  "log-level", "namespaces", "operator-namespace", "max-concurrent-reconciles",
                  "store-address-map", "store-resync-seconds", "allowed-images",
                  "allowed-prometheus-hosts", "managed-tls-certificate-seconds"});
  if (!flags.error.empty()) {
    std::fprintf(stderr, "sessionstore-operator run: %s\n\n%s", flags.error.c_str(), kUsage.data());
    return 2;
  }
  const auto level = ss::logging::parseLevel(flag(flags, "log-level", "info"));
  if (!level) {
    std::fprintf(stderr, "sessionstore-operator run: %s\n", level.error().c_str());
    return 2;
  }
  const std::string leaderElect = flag(flags, "leader-elect", "true");
  if (leaderElect != "true" && leaderElect != "false") {
    std::fprintf(stderr, "sessionstore-operator run: --leader-elect takes true or false\n");
    return 2;
  }
  ss::logging::setDefaultLogger(ss::logging::Logger(*level));
  auto log = ss::logging::defaultLogger();
  const auto workers = parseCount(flag(flags, "max-concurrent-reconciles", "4"));
  if (!workers) {
    std::fprintf(stderr,
                 "sessionstore-operator run: --max-concurrent-reconciles takes a number "
                 "from 1 to 64\n");
    return 2;
  }
  const std::string resyncText = flag(flags, "store-resync-seconds", "36000");
  int resyncSeconds = 0;
  if (const auto [end, ec] =
          std::from_chars(resyncText.data(), resyncText.data() + resyncText.size(), resyncSeconds);
      ec != std::errc() || end != resyncText.data() + resyncText.size() || resyncSeconds < 1 ||
      resyncSeconds > 86400) {
    std::fprintf(stderr,
                 "sessionstore-operator run: --store-resync-seconds takes a number of seconds "
                 "from 1 to 86400\n");
    return 2;
  }
  const std::string lifetimeText = flag(
      flags, "managed-tls-certificate-seconds",
      std::to_string(std::chrono::seconds(ss::managedstore::kDefaultCertificateLifetime).count()));
  long long lifetimeSeconds = 0;
  if (const auto [end, ec] = std::from_chars(
          lifetimeText.data(), lifetimeText.data() + lifetimeText.size(), lifetimeSeconds);
      ec != std::errc() || end != lifetimeText.data() + lifetimeText.size() ||
      lifetimeSeconds < 30 || lifetimeSeconds > 5LL * 365 * 86400) {
    std::fprintf(stderr,
                 "sessionstore-operator run: --managed-tls-certificate-seconds takes a number of "
                 "seconds from 30 to 157680000 (5 years)\n");
    return 2;
  }
  auto allowedImages = ss::imageref::AllowList::parse(flag(flags, "allowed-images", ""));
  if (!allowedImages) {
    std::fprintf(stderr, "sessionstore-operator run: --allowed-images: %s\n",
                 allowedImages.error().c_str());
    return 2;
  }
  auto addresses = ss::health::AddressMap::open(flag(flags, "store-address-map", ""));
  if (!addresses) {
    std::fprintf(stderr, "sessionstore-operator run: --store-address-map: %s\n",
                 addresses.error().c_str());
    return 2;
  }

  // SIGTERM and SIGINT are taken by one thread with sigwait; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // One kept connection per store, plus the watches: more than the usual soft limit of 1024.
  if (auto limit = ss::limits::raiseOpenFileLimit(); !limit) {
    log.warn("cannot raise the open-file limit", {{"error", limit.error()}});
  }
  ::signal(SIGPIPE, SIG_IGN);  // hiredis and sockets write with plain write()
  // A small pool: the operator's requests block its own threads, not the pool's.
  crossplat::threadpool::initialize_with_threads(8);

  auto config = ss::kube::loadDefault(flag(flags, "kubeconfig", ""), flag(flags, "context", ""));
  if (!config) {
    log.error("cannot configure the Kubernetes client", {{"error", config.error().describe()}});
    return 1;
  }
  // Latency queries never go to the API server: its Service's address, and the host the
  // kubeconfig names.
  std::vector<ss::egress::Endpoint> apiServerHosts;
  if (const char* serviceHost = std::getenv("KUBERNETES_SERVICE_HOST")) {
    apiServerHosts.push_back({.host = serviceHost, .port = 0});
  }
  if (auto server = ss::egress::hostOf(config->server)) {
    apiServerHosts.push_back({.host = server->first, .port = server->second});
  }
  auto prometheusHosts = ss::egress::HostPolicy::make(flag(flags, "allowed-prometheus-hosts", ""),
                                                      std::move(apiServerHosts));
  if (!prometheusHosts) {
    log.error("bad flag",
              {{"flag", "--allowed-prometheus-hosts"}, {"error", prometheusHosts.error()}});
    return 2;
  }
  ss::metrics::Registry registry;
  ss::metrics::OperatorMetrics metrics(registry);
  const std::string host = config->server.substr(config->server.find("://") + 3);
  auto client =
      ss::kube::RestClient::connect(*config, [&metrics, host](const std::string& verb, int code) {
        metrics.restClientRequestsTotal
            .withLabels({code == 0 ? "<error>" : std::to_string(code), verb, host})
            ->inc();
      });
  if (!client) {
    log.error("cannot configure the Kubernetes client", {{"error", client.error().describe()}});
    return 1;
  }
  log.info("starting", {{"version", SESSIONSTORE_VERSION},
                        {"allocator", ss::app::allocatorName()},
                        {"cluster", config->source},
                        {"server", config->server}});

  ss::manager::ManagerOptions options{
      .metricsAddress = flag(flags, "metrics-bind-address", ":8080"),
      .healthAddress = flag(flags, "health-probe-bind-address", ":8081"),
      .leaderElect = leaderElect == "true",
      .election = {
          .leaseNamespace = flag(flags, "leader-election-namespace", config->defaultNamespace),
          .leaseName = flag(flags, "leader-election-id", "sessionstore-operator"),
          .identity = flag(flags, "identity", defaultIdentity())}};
  // Leader election gets its own client with a short timeout: a renew that hangs must not
  // outlast the renew deadline (10 s).
  auto electionClient = ss::kube::RestClient::connect(*config, {}, std::chrono::seconds(4));
  if (!electionClient) {
    log.error("cannot configure the Kubernetes client",
              {{"error", electionClient.error().describe()}});
    return 1;
  }
  // Without the CRD the SessionStore cache never syncs: say so at once, as controller-runtime
  // does ("no matches for kind"), instead of waiting. Other errors (the server not up yet) are
  // the manager's to retry.
  // A CRD applied together with the operator (kubectl apply -k, a GitOps sync) may take a few
  // seconds to be served: wait up to 30 s for it.
  for (int attempt = 1;; ++attempt) {
    // In the watched namespace when there are some: the namespaced RBAC variant may not list
    // SessionStores cluster-wide (a 403 would hide the 404 this looks for).
    const auto watched = splitList(flag(flags, "namespaces", ""));
    auto probe = (*client)->list(ss::kube::resources::kSessionStores,
                                 watched.empty() ? "" : watched.front(), {.limit = 1});
    if (probe || probe.error().kind != ss::kube::ErrorKind::kNotFound) break;
    if (attempt == 30) {
      log.error(
          "the SessionStore CRD is not installed in this cluster",
          {{"crd", "sessionstores.sessionstore.io"},
           {"fix", "kubectl apply -f crds/ (from this repository), then start the operator"}});
      return 1;
    }
    if (attempt == 1) log.info("waiting for the SessionStore CRD to be served", {});
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ss::manager::Manager manager(**client, options, registry, metrics, **electionClient);

  // The SessionStore controller: an informer on SessionStores feeds its queue; the reconciler
  // reads and writes through the client and reports through Events.
  ss::events::EventRecorder recorder(
      **client, ss::clock::systemClock(),
      {.reportingInstance = flag(flags, "identity", ss::events::defaultReportingInstance())});
  if (auto started = recorder.start(); !started) {
    log.error("cannot start the event recorder", {{"error", started.error()}});
    return 1;
  }
  const auto watchedNamespaces = splitList(flag(flags, "namespaces", ""));
  // Reads of the SessionStores, of the objects made for them and of the targets come from the
  // caches below once they have synced; writes go to the server (operator/cache).
  ss::cache::CachedClient cached(**client);
  // Autoscaling polls on its own threads; the reconciler tells it which SessionStores to poll.
  ss::autoscaling::ScalingController scaling(
      cached, &recorder, *addresses,
      [](const std::string& baseUrl, std::chrono::seconds timeout) {
        return ss::transport::makeCppRestTransport(
            {.baseUrl = baseUrl, .requestTimeout = timeout, .streamTimeout = timeout});
      },
      {.prometheusHosts = *prometheusHosts}, ss::clock::systemClock(), &metrics);
  // The store's health: each store probed on its own timer over a kept connection; a change of
  // health enqueues the store (set once the controller exists, below).
  std::function<void(const std::string&)> healthChanged;
  ss::health::HealthMonitor storeHealth(
      ss::health::redisLinks(*addresses, std::chrono::seconds(1)),
      [&healthChanged](const std::string& key) {
        if (healthChanged) healthChanged(key);
      },
      ss::clock::systemClock());
  // Stores kept from a target by another store, woken when that target changes (its wiring
  // released).
  ss::controller::TargetWaiters waiters;
  std::function<void(const std::string&)> wake;  // set once the controller exists, below
  // Memory that follows load: read and raised on connections of its own (monitor user).
  auto memoryControl = ss::health::redisMemoryControl(*addresses, std::chrono::seconds(1));
  // Replicas and failover: each Redis pod read and moved on connections of its own (monitor
  // user), with a short timeout, as a lost primary must be told from a slow one quickly.
  auto replicationControl =
      ss::health::redisReplicationControl(*addresses, std::chrono::milliseconds(500));
  // Password rotation: app passwords added and removed live (monitor user, ACL SETUSER).
  auto passwordControl = ss::health::redisPasswordControl(*addresses, std::chrono::seconds(1));
  ss::reconcile::Reconciler reconciler(
      cached, **client, storeHealth, ss::crypto::systemRandomBytes(), &recorder,
      {.operatorNamespace =
           flag(flags, "operator-namespace", std::string(ss::identity::kDefaultOperatorNamespace)),
       .resyncInterval = std::chrono::seconds(resyncSeconds),
       .certificateLifetime = std::chrono::seconds(lifetimeSeconds),
       .allowedImages = *allowedImages,
       .memory = memoryControl.get(),
       .replication = replicationControl.get(),
       .passwords = passwordControl.get(),
       .observed = [&scaling](const ss::api::SessionStore& store) { scaling.observe(store); },
       .gone = [&scaling](const std::string& key) { scaling.forget(key); },
       .waitsFor = [&waiters](
                       const std::string& key,
                       const std::vector<std::string>& targets) { waiters.waitFor(key, targets); },
       .released =
           [&waiters, &wake](const std::vector<std::string>& targets) {
             for (const auto& target : targets) {
               for (const auto& key : waiters.waitersOf(target)) {
                 if (wake) wake(key);
               }
             }
           }},
      ss::clock::systemClock(), &metrics);
  auto controller = std::make_unique<ss::controller::Controller>(
      ss::controller::ControllerOptions{.name = "sessionstore", .workers = *workers},
      [&reconciler](const std::string& key) { return reconciler.reconcile(key); },
      ss::clock::systemClock(), &metrics);
  // SessionStores: a pass for each add and delete, and for updates that change what the
  // operator acts on (not for status writes, the operator's own or the autoscaler's). The full
  // resync is rare, as controller-runtime's default (10 h); the reconciler asks to look again
  // sooner by itself.
  auto& storesCache = manager.addInformer(
      {.resource = ss::kube::resources::kSessionStores,
       .namespaces = watchedNamespaces,
       .resync = std::chrono::hours(10),
       .indexedFields = {"spec.target.deployment", "spec.target.service"}},
      cached.observing(
          ss::kube::resources::kSessionStores,
          ss::controller::filterUpdates(controller->enqueueFor(ss::controller::Controller::ownKey),
                                        ss::controller::sessionStoreUpdateMatters)));
  cached.serveFrom(storesCache);
  // The objects the operator makes, scoped by its managed-by label: each change (a drift, a
  // deletion, the StatefulSet's readiness) enqueues the owning store. Kept slim (cache/slim.h).
  const std::string managedBy =
      std::string(ss::identity::kManagedByLabel) + "=" + std::string(ss::identity::kName);
  const auto slim = [](ss::kube::Json& object) {
    ss::cache::slimObject(object, ss::identity::kFieldManager, ss::cache::OwnFields::kDrop);
  };
  const auto slimTarget = [](ss::kube::Json& object) {
    ss::cache::slimObject(object, ss::identity::kFieldManager, ss::cache::OwnFields::kKeep);
  };
  for (const auto* resource :
       {&ss::kube::resources::kConfigMaps, &ss::kube::resources::kServices,
        &ss::kube::resources::kStatefulSets, &ss::kube::resources::kNetworkPolicies,
        &ss::kube::resources::kPodDisruptionBudgets}) {
    cached.serveFrom(manager.addInformer(
        {.resource = *resource,
         .namespaces = watchedNamespaces,
         .labelSelector = managedBy,
         .transform = slim},
        cached.observing(*resource, controller->enqueueFor(ss::controller::owningStoreKeys))));
  }
  // The Redis pods (they carry the managed-by label of their StatefulSet's template): a change of
  // readiness or of the role label enqueues the store, so a replicated store's lost primary is
  // seen from the watch as well as from its kept connection. The reconciler lists a settled
  // store's pods from this cache (during a failover, from the server): the copies keep metadata
  // and status only, which is all it reads of them.
  cached.serveSelectedListsFrom(manager.addInformer({.resource = ss::kube::resources::kPods,
                       .namespaces = watchedNamespaces,
                       .labelSelector = managedBy,
                       .transform =
                           [](ss::kube::Json& pod) {
                             if (pod.contains("metadata") && pod["metadata"].is_object()) {
                               pod["metadata"].erase("managedFields");
                             }
                             pod.erase("spec");
                           }},
                      controller->enqueueFor(ss::controller::owningStoreKeys)));
  // The password and connection Secrets: metadata only, so no Secret data enters the operator
  // through a watch; a deleted or edited Secret enqueues its store. Reads of Secrets go to the
  // server by name, as before.
  manager.addInformer({.resource = ss::kube::resources::kSecrets,
                       .namespaces = watchedNamespaces,
                       .labelSelector = managedBy,
                       .metadataOnly = true},
                      controller->enqueueFor(ss::controller::owningStoreKeys));
  // The user's target Deployment and Service, scoped by the label the wiring and the affinity
  // apply: the wiring removed or the affinity edited by hand enqueues the store that wired it.
  // A store that another store keeps from the target waits for it: the same events wake it.
  for (const auto* resource :
       {&ss::kube::resources::kDeployments, &ss::kube::resources::kServices}) {
    cached.serveFrom(manager.addInformer(
        {.resource = *resource,
         .namespaces = watchedNamespaces,
         .labelSelector = std::string(ss::identity::kWiredByLabel),
         .transform = slimTarget},
        cached.observing(*resource,
                         controller->enqueueFor([&waiters, resource](const ss::kube::Json& object) {
                           return waiters.keysFor(resource->kind, object);
                         }))));
  }
  // HorizontalPodAutoscalers and KEDA ScaledObjects, all of them in the watched namespaces (few,
  // small, and not the operator's to label): the reconciler lists them from these caches (the
  // maximum of one that targets a store's Deployment bounds its connection pools), with no
  // request. One created, deleted, or changed in its target or maximum enqueues the stores whose
  // Deployment it targets; an HPA's status updates start nothing. KEDA may not be installed: the
  // ScaledObject cache is then empty, synced, and looks again every 10 minutes.
  const auto storesIn = [&storesCache](const std::string& ns) { return storesCache.list(ns); };
  for (const auto* resource :
       {&ss::kube::resources::kHorizontalPodAutoscalers, &ss::kube::resources::kScaledObjects}) {
    cached.serveListsFrom(manager.addInformer(
        {.resource = *resource,
         .namespaces = watchedNamespaces,
         .optional = resource == &ss::kube::resources::kScaledObjects},
        ss::controller::enqueueScalerTargets(
            [storesIn](const ss::kube::Json& scaler) {
              return ss::controller::scalerTargetStoreKeys(scaler, storesIn);
            },
            [c = controller.get()](const std::string& key) { c->enqueue(key); })));
  }
  healthChanged = [c = controller.get()](const std::string& key) { c->enqueue(key); };
  wake = healthChanged;
  manager.addController(std::move(controller));

  std::thread signalThread([&] {
    int received = 0;
    sigwait(&signals, &received);
    log.info("signal received, stopping", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
    manager.requestStop();
  });
  // Freed memory is handed back every 30 s (app/allocator.h): what a relist or a burst of passes
  // freed would otherwise stay resident; at once while the operator is quiet (nothing added to
  // its work queue in the last 5 s). What the allocator holds is published every 5 s.
  std::mutex trimMu;
  std::condition_variable trimWake;
  bool stopping = false;  // GUARDED_BY(trimMu)
  std::thread trimThread([&] {
    const auto publish = [&] {
      if (const auto heap = ss::app::heapFigures()) {
        metrics.heapAllocatedBytes.withLabels({})->set(static_cast<double>(heap->allocated));
        metrics.heapResidentBytes.withLabels({})->set(static_cast<double>(heap->resident));
      }
    };
    publish();
    ss::app::QuietWatch quiet;
    const auto work = metrics.workqueueAddsTotal.withLabels({"sessionstore"});
    std::unique_lock lock(trimMu);
    for (int tick = 1; !trimWake.wait_for(lock, std::chrono::seconds(5), [&] { return stopping; });
         ++tick) {
      quiet.look(work->value());
      if (tick % 6 == 0) ss::app::releaseFreeMemory();
      publish();
    }
  });
  scaling.start();
  storeHealth.start();
  const int code = manager.run();
  storeHealth.stop();  // the controllers have stopped: nothing reads it any more
  scaling.stop();
  {
    std::lock_guard lock(trimMu);
    stopping = true;
  }
  trimWake.notify_all();
  trimThread.join();
  // Wake the signal thread if it is still waiting (leadership lost, or a start failure).
  ::kill(::getpid(), SIGTERM);
  signalThread.join();
  recorder.stop();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view command = argc > 1 ? argv[1] : "help";
  if (command == "run") return run(argc, argv);
  if (command == "plan") return runPlan(argc, argv);
  if (command == "version" || command == "--version") {
    std::printf("sessionstore-operator %s\nallocator: %s\n", SESSIONSTORE_VERSION,
                ss::app::allocatorName().c_str());
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  std::fprintf(stderr, "sessionstore-operator: unknown command '%s'\n\n%s", argv[1], kUsage.data());
  return 2;
}
