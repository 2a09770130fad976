// What watching store health costs the operator at rest (issue 17: 1,200 healthy stores at most
// 2 % of a core, probes included): the HealthMonitor with its real links, one kept connection
// per store, all to one real redis-server, on the system clock at the default schedule (PING
// every 2 s; the figures are read by a pass's check() once they are 30 s old, so at rest, with
// no pass, not at all). After the first check of every store (connect, AUTH, PING, and the
// figures through a monitoring user: what a pass pays at most once per 30 s) and a warm-up, it
// measures the process's CPU time (getrusage) over a window and prints the probes made, the CPU
// time per probe, the CPU share of one core, and what Redis spent (INFO cpu) for comparison.
// Nothing is asserted: the machine is shared and noisy; the figures are recorded in
// BENCHMARKS.md by hand.
//
//   health_probe_bench [--stores 1200] [--seconds 40] [--warmup 5] [--threads 4]
//                      [--interval-ms 2000]
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "clock/clock.h"
#include "health/health_monitor.h"
#include "limits/open_files.h"
#include "redis_server.h"
#include "redisclient/redis_client.h"

namespace ss = sessionstore;

namespace {

struct Options {
  int stores = 1200;
  int seconds = 40;
  int warmup = 5;
  std::size_t threads = 4;
  int intervalMs = 2000;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--stores")
      o.stores = std::stoi(value);
    else if (flag == "--seconds")
      o.seconds = std::stoi(value);
    else if (flag == "--warmup")
      o.warmup = std::stoi(value);
    else if (flag == "--threads")
      o.threads = std::stoul(value);
    else if (flag == "--interval-ms")
      o.intervalMs = std::stoi(value);
    else
      throw std::invalid_argument("unknown flag " + flag);
  }
  return o;
}

double cpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Counts what the monitor does through the real link.
struct Counts {
  std::atomic<long> pings{0};
  std::atomic<long> figures{0};
  std::atomic<long> failures{0};
};

class CountingLink final : public ss::health::StoreLink {
 public:
  CountingLink(std::unique_ptr<ss::health::StoreLink> link, Counts& counts)
      : link_(std::move(link)), counts_(counts) {}
  ss::health::ProbeResult ping() override {
    ++counts_.pings;
    auto result = link_->ping();
    if (!result.ok) ++counts_.failures;
    return result;
  }
  ss::health::StoreFigures figures() override {
    ++counts_.figures;
    return link_->figures();
  }
  bool connected() const override { return link_->connected(); }

 private:
  std::unique_ptr<ss::health::StoreLink> link_;
  Counts& counts_;
};

// Redis's own CPU seconds (user + sys), from INFO cpu.
double redisCpu(int port) {
  auto session = ss::redisclient::Session::open(
      {.host = "127.0.0.1", .port = port, .username = "monitor", .password = "monitor-password"});
  if (!session) return -1;
  auto info = (*session)->info();
  if (!info) return -1;
  return std::stod(info->at("used_cpu_user")) + std::stod(info->at("used_cpu_sys"));
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  if (auto raised = ss::limits::raiseOpenFileLimit(); !raised) {
    std::fprintf(stderr, "%s\n", raised.error().c_str());
  }
  ss::testing::RedisServer server(
      "user default off\n"
      "user app on >app-password ~* &* +@all -@admin -@dangerous\n"
      "user monitor on >monitor-password ~* -@all +ping +info +config|get\n"
      "maxclients 10000\n");
  Counts counts;
  std::atomic<long> changes{0};
  ss::health::HealthMonitorOptions monitorOptions;
  monitorOptions.threads = options.threads;
  monitorOptions.healthyInterval = std::chrono::milliseconds(options.intervalMs);
  const auto links = ss::health::redisLinks(nullptr, std::chrono::milliseconds(1000));
  ss::health::HealthMonitor monitor(
      [&](const ss::wiring::StoreEndpoint& app,
          const std::optional<ss::wiring::StoreEndpoint>& monitorEndpoint) {
        return std::make_unique<CountingLink>(links(app, monitorEndpoint), counts);
      },
      [&](const std::string&) { ++changes; }, ss::clock::systemClock(), monitorOptions);

  const ss::wiring::StoreEndpoint app{
      .host = "127.0.0.1", .port = server.port(), .username = "app", .password = "app-password"};
  const ss::wiring::StoreEndpoint monitorUser{.host = "127.0.0.1",
                                              .port = server.port(),
                                              .username = "monitor",
                                              .password = "monitor-password"};
  const double checkStart = cpuSeconds();
  const auto wallStart = std::chrono::steady_clock::now();
  int unhealthy = 0;
  for (int i = 0; i < options.stores; ++i) {
    // One SessionStore each; the stores share the server, as if each were its own.
    if (!monitor.check("bench/store-" + std::to_string(i), app, monitorUser).ok) ++unhealthy;
  }
  const double checkCpu = cpuSeconds() - checkStart;
  const double checkWall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
  monitor.start();
  std::this_thread::sleep_for(std::chrono::seconds(options.warmup));

  const long pings0 = counts.pings, figures0 = counts.figures;
  const double cpu0 = cpuSeconds(), redis0 = redisCpu(server.port());
  const auto window0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(options.seconds));
  const double cpu = cpuSeconds() - cpu0;
  const double redis = redisCpu(server.port()) - redis0;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - window0).count();
  const long pings = counts.pings - pings0, figures = counts.figures - figures0;
  monitor.stop();

  std::printf("stores: %d (%d not healthy at the first check), probing threads: %zu\n",
              options.stores, unhealthy, options.threads);
  std::printf(
      "first checks: %.2f s wall, %.1f ms CPU (%.0f us per store: connect, AUTH, PING, "
      "figures)\n",
      checkWall, checkCpu * 1e3, checkCpu * 1e6 / options.stores);
  std::printf(
      "at rest over %.1f s: %ld PINGs (%.1f per second), %ld figure reads, %ld failed, "
      "%ld changes of health\n",
      wall, pings, static_cast<double>(pings) / wall, figures, counts.failures.load(),
      changes.load());
  std::printf(
      "operator CPU at rest: %.3f s = %.2f %% of a core; %.1f us per probe (figure reads "
      "included, if any)\n",
      cpu, 100.0 * cpu / wall, pings > 0 ? cpu * 1e6 / static_cast<double>(pings) : 0.0);
  std::printf("redis-server CPU at rest: %.3f s = %.2f %% of a core\n", redis,
              100.0 * redis / wall);
  return 0;
}
