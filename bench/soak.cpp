// Soak benchmark for the operator's HTTP parts: the cpprestsdk client (watches through an
// informer, with churn on 1,000 objects against a real kube-apiserver) and the Boost.Beast HTTP
// server (/metrics and /healthz, with and without keep-alive), in one process as in the
// operator. It prints resident memory, open file descriptors and threads at the start and the end
// (and every minute), checks that the informer's cache still matches the server, and fails when
// memory or descriptors grew.
//
//   soak_bench [--minutes 30] [--objects 1000] [--requests 100000] [--churn-per-second 20]
//              [--watch-timeout-seconds 0 (client-go's 300..600)]
#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

#include "control_plane.h"
#include "eventually.h"
#include "http_client.h"
#include "httpserver/beast_http_server.h"
#include "httpserver/endpoints.h"
#include "informer/informer.h"
#include "kube/config.h"
#include "kube/rest_client.h"
#include "metrics/registry.h"

namespace ss = sessionstore;
using ss::kube::Json;
using ss::kube::resources::kConfigMaps;

namespace {

struct Options {
  double minutes = 30;
  int objects = 1000;
  long requests = 100000;
  int churnPerSecond = 20;
  int watchTimeoutSeconds = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--minutes")
      o.minutes = std::stod(value);
    else if (flag == "--objects")
      o.objects = std::stoi(value);
    else if (flag == "--requests")
      o.requests = std::stol(value);
    else if (flag == "--churn-per-second")
      o.churnPerSecond = std::stoi(value);
    else if (flag == "--watch-timeout-seconds")
      o.watchTimeoutSeconds = std::stoi(value);
    else
      throw std::invalid_argument("unknown flag " + flag);
  }
  return o;
}

struct Sample {
  double seconds;
  long rssKiB;
  int fds;
  int threads;
};

Sample sample(std::chrono::steady_clock::time_point start) {
  return Sample{std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                ss::testing::residentKiB(), ss::testing::openFileDescriptors(),
                ss::testing::threadCount()};
}

Json configMap(int i) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", "soak-" + std::to_string(i)}, {"labels", {{"soak", "1"}}}}},
              {"data", {{"n", "0"}, {"payload", std::string(512, 'x')}}}};
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  std::printf("soak: %.1f min, %d objects, %ld HTTP requests, churn %d/s\n", options.minutes,
              options.objects, options.requests, options.churnPerSecond);

  auto plane = ss::testing::ControlPlane::start(ss::testing::Profile::kApiServer);
  auto config = ss::kube::loadKubeconfig(plane->kubeconfig());
  if (!config) throw std::runtime_error(config.error().describe());
  auto writer = std::move(*ss::kube::RestClient::connect(*config));
  auto reader = std::move(*ss::kube::RestClient::connect(*config));
  const std::string ns = "soak";
  (void)writer->create(
      ss::kube::resources::kNamespaces, "",
      Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  for (int i = 0; i < options.objects; ++i) {
    auto created = writer->create(kConfigMaps, ns, configMap(i));
    if (!created) throw std::runtime_error(created.error().describe());
  }

  ss::metrics::Registry registry;
  auto served = registry.counter("soak_requests_total", "Requests served").withLabels({});
  ss::httpserver::HealthChecks health;
  auto server = ss::httpserver::makeBeastHttpServer();
  ss::httpserver::serveMetrics(*server, registry);
  ss::httpserver::serveChecks(*server, "/healthz", health);
  auto port = server->start("127.0.0.1", 0);
  if (!port) throw std::runtime_error("HTTP server: " + port.error());

  std::atomic<long> events{0};
  ss::informer::InformerOptions informerOptions{
      .resource = kConfigMaps, .namespaces = {ns}, .labelSelector = "soak=1"};
  if (options.watchTimeoutSeconds > 0) {
    informerOptions.minWatchTimeout = std::chrono::seconds(options.watchTimeoutSeconds);
    informerOptions.maxWatchTimeout = std::chrono::seconds(options.watchTimeoutSeconds * 2);
  }
  auto count = [&](const Json&) { ++events; };
  ss::informer::Informer informer(
      *reader, informerOptions,
      {.onAdd = count, .onUpdate = [&](const Json&, const Json&) { ++events; }, .onDelete = count});
  informer.start();
  if (!informer.waitForSync(std::chrono::seconds(60)))
    throw std::runtime_error("informer did not sync");

  const auto start = std::chrono::steady_clock::now();
  const auto duration = std::chrono::duration<double>(options.minutes * 60);
  const auto deadline =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(duration);
  std::atomic<bool> done{false};
  std::atomic<long> churned{0}, churnErrors{0}, requests{0}, httpErrors{0};

  std::thread churn([&] {
    std::mt19937 random(42);
    const auto interval =
        std::chrono::microseconds(1'000'000 / std::max(1, options.churnPerSecond));
    auto next = std::chrono::steady_clock::now();
    for (long i = 1; !done; ++i) {
      const int which = static_cast<int>(random() % static_cast<unsigned>(options.objects));
      const auto name = "soak-" + std::to_string(which);
      bool ok;
      if (i % 50 == 0) {  // delete and recreate now and then
        ok = writer->remove(kConfigMaps, ns, name).has_value() &&
             writer->create(kConfigMaps, ns, configMap(which)).has_value();
      } else {
        ok = writer
                 ->patch(kConfigMaps, ns, name, ss::kube::PatchType::kMerge,
                         Json{{"data", {{"n", std::to_string(i)}}}})
                 .has_value();
      }
      ok ? ++churned : ++churnErrors;
      next += interval;
      std::this_thread::sleep_until(next);
    }
  });

  // HTTP load: batches of 100 requests on one keep-alive connection, alternating with single
  // requests that close their connection, /metrics and /healthz in turn, spread over the run.
  std::thread load([&] {
    const auto perRequest = std::chrono::duration<double>(duration) /
                            static_cast<double>(std::max(1L, options.requests));
    while (!done && requests < options.requests) {
      const bool keepAlive = (requests / 100) % 2 == 0;
      if (keepAlive) {
        ss::testing::HttpClient client(*port);
        for (int i = 0; i < 100 && requests < options.requests; ++i) {
          const char* path = i % 2 == 0 ? "/metrics" : "/healthz";
          const auto response = client.send(ss::testing::httpRequest("GET", path, true))
                                    ? client.receive()
                                    : std::nullopt;
          (response && response->status == 200) ? (void)++requests
                                                : (void)(++httpErrors, ++requests);
          served->inc();
        }
      } else {
        for (int i = 0; i < 100 && requests < options.requests; ++i) {
          const auto response =
              ss::testing::httpExchange(*port, "GET", i % 2 == 0 ? "/healthz" : "/metrics");
          (response && response->status == 200) ? (void)++requests
                                                : (void)(++httpErrors, ++requests);
          served->inc();
        }
      }
      const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   perRequest * static_cast<double>(requests.load()));
      std::this_thread::sleep_until(std::min(due, deadline));
    }
  });

  // The baseline is taken after a warm-up of a tenth of the run (caches, pools, arenas filled).
  std::printf("%8s %10s %6s %8s %10s %9s %8s %8s\n", "seconds", "rss_KiB", "fds", "threads",
              "requests", "churned", "events", "watches");
  auto print = [&](const Sample& s) {
    std::printf("%8.0f %10ld %6d %8d %10ld %9ld %8ld %8lu\n", s.seconds, s.rssKiB, s.fds, s.threads,
                requests.load(), churned.load(), events.load(),
                static_cast<unsigned long>(informer.stats().watches));
    std::fflush(stdout);
  };
  print(sample(start));
  std::this_thread::sleep_until(
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(duration / 10));
  const Sample first = sample(start);
  print(first);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_until(
        std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(60)));
    print(sample(start));
  }
  done = true;
  churn.join();
  load.join();

  // The cache must have followed every change: compare resourceVersions with the server's.
  auto cacheMatchesServer = [&] {
    auto listed = writer->listAll(kConfigMaps, ns, {.labelSelector = "soak=1", .limit = 500});
    if (!listed || listed->items.size() != informer.size()) return false;
    for (const auto& item : listed->items) {
      const auto cached = informer.get(ns, item["metadata"]["name"]);
      if (!cached ||
          (*cached)["metadata"]["resourceVersion"] != item["metadata"]["resourceVersion"])
        return false;
    }
    return true;
  };
  const bool consistent = ss::testing::eventually(cacheMatchesServer, std::chrono::seconds(60));
  const Sample last = sample(start);
  print(last);
  const auto stats = informer.stats();
  informer.stop();
  server->stop();

  // Flat: from the baseline to the end, memory within 10 % + 2 MiB and descriptors within 4.
  const long rssGrowth = last.rssKiB - first.rssKiB;
  const int fdGrowth = last.fds - first.fds;
  const bool rssFlat = rssGrowth <= first.rssKiB / 10 + 2048;
  const bool fdsFlat = fdGrowth <= 4;
  std::printf("\nresult: rss %ld -> %ld KiB (%+ld), fds %d -> %d (%+d), threads %d -> %d\n",
              first.rssKiB, last.rssKiB, rssGrowth, first.fds, last.fds, fdGrowth, first.threads,
              last.threads);
  std::printf(
      "result: %ld HTTP requests (%ld failed), %ld changes (%ld failed), %ld watch events, "
      "%lu watches, %lu relists, %lu errors\n",
      requests.load(), httpErrors.load(), churned.load(), churnErrors.load(), events.load(),
      static_cast<unsigned long>(stats.watches), static_cast<unsigned long>(stats.lists),
      static_cast<unsigned long>(stats.errors));
  std::printf("result: memory %s, descriptors %s, cache %s, HTTP %s\n", rssFlat ? "flat" : "GREW",
              fdsFlat ? "flat" : "GREW",
              consistent ? "matches the server" : "DIFFERS FROM THE SERVER",
              httpErrors == 0 ? "all 200" : "FAILURES");
  return rssFlat && fdsFlat && consistent && httpErrors == 0 && churnErrors == 0 ? 0 : 1;
}
