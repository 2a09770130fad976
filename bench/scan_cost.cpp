// What counting the keys under a prefix costs the store, the ActiveSessions source of
// autoscaling: the operator's own redisclient::Session::countKeys (SCAN MATCH prefix* COUNT 1000)
// against a real redis-server holding a million keys under the prefix and others outside it,
// compared in the same run with KEYS prefix*, the command it never uses. It prints the wall
// time of the count, the number of SCAN round trips and their mean duration inside Redis
// (INFO commandstats), the longest single SCAN call (SLOWLOG with every command logged), the
// same for the one KEYS call, and the worst PING latency a second client saw while Redis was
// counting each way. No timing is asserted (the machine is noisy): compare within one run.
// It fails only when the count is wrong.
//
//   scan_cost_bench [--keys 1000000] [--others 200000] [--batch 1000]
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.h"
#include "redisclient/redis_client.h"

namespace ss = sessionstore;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  long keys = 1'000'000;
  long others = 200'000;
  int batch = 1000;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--keys")
      o.keys = std::stol(value);
    else if (flag == "--others")
      o.others = std::stol(value);
    else if (flag == "--batch")
      o.batch = std::stoi(value);
    else
      throw std::invalid_argument("unknown flag " + flag);
  }
  return o;
}

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A raw hiredis connection for what redisclient::Session does not expose: replies kept as trees
// (SLOWLOG GET), a long timeout for KEYS and DEBUG POPULATE, and a tight PING loop.
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class Connection {
 public:
  Connection(int port, std::chrono::seconds timeout) {
    const timeval tv{.tv_sec = static_cast<time_t>(timeout.count()), .tv_usec = 0};
    context_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (context_ == nullptr || context_->err != 0) {
      throw std::runtime_error(std::string("connect: ") +
                               (context_ != nullptr ? context_->errstr : "out of memory"));
    }
    redisSetTimeout(context_, tv);
  }
  ~Connection() { redisFree(context_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Reply run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply) throw std::runtime_error(args[0] + ": " + context_->errstr);
    if (reply->type == REDIS_REPLY_ERROR) {
      throw std::runtime_error(args[0] + ": " + std::string(reply->str, reply->len));
    }
    return reply;
  }
  std::string text(const std::vector<std::string>& args) {
    const Reply r = run(args);
    if (r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
    return r->str != nullptr ? std::string(r->str, r->len) : "";
  }
  long long integer(const std::vector<std::string>& args) {
    const Reply r = run(args);
    if (r->type != REDIS_REPLY_INTEGER) throw std::runtime_error(args[0] + ": not an integer");
    return r->integer;
  }

 private:
  redisContext* context_ = nullptr;
};

// cmdstat_<name> of INFO commandstats: calls and total microseconds.
struct CommandStat {
  long long calls = 0;
  long long usec = 0;
};

CommandStat commandStat(Connection& c, const std::string& command) {
  const auto info = ss::redisclient::parseInfo(c.text({"INFO", "commandstats"}));
  const auto it = info.find("cmdstat_" + command);
  CommandStat stat;
  if (it == info.end()) return stat;
  // calls=1234,usec=5678,usec_per_call=4.60,rejected_calls=0,failed_calls=0
  std::size_t at = 0;
  const std::string& v = it->second;
  while (at < v.size()) {
    const auto comma = std::min(v.find(',', at), v.size());
    const auto field = v.substr(at, comma - at);
    const auto eq = field.find('=');
    if (eq != std::string::npos) {
      const auto key = field.substr(0, eq);
      if (key == "calls") stat.calls = std::stoll(field.substr(eq + 1));
      if (key == "usec") stat.usec = std::stoll(field.substr(eq + 1));
    }
    at = comma + 1;
  }
  return stat;
}

// Durations in microseconds of the slow-log entries of `command` (every call is logged while
// slowlog-log-slower-than is 0).
std::vector<long long> slowlogDurations(Connection& c, const std::string& command) {
  const Reply r = c.run({"SLOWLOG", "GET", "-1"});
  std::vector<long long> out;
  for (std::size_t i = 0; i < r->elements; ++i) {
    const redisReply* entry = r->element[i];
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 4) continue;
    const redisReply* args = entry->element[3];
    if (args->type != REDIS_REPLY_ARRAY || args->elements == 0) continue;
    std::string name(args->element[0]->str, args->element[0]->len);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char ch) { return static_cast<char>(std::tolower(ch)); });
    if (name == command) out.push_back(entry->element[2]->integer);
  }
  return out;
}

template <typename T>
T percentile(std::vector<T> values, double p) {
  if (values.empty()) return T{};
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

// A second client sending PING in a loop, one at a time, recording each round trip.
class Pinger {
 public:
  explicit Pinger(int port) : connection_(port, std::chrono::seconds(60)) {}
  void start() {
    latenciesUs_.clear();
    latenciesUs_.reserve(1'000'000);
    stop_ = false;
    thread_ = std::thread([this] {
      while (!stop_) {
        const auto start = Clock::now();
        connection_.run({"PING"});
        latenciesUs_.push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      }
    });
  }
  // The round trips seen since start(), in microseconds.
  std::vector<double> stop() {
    stop_ = true;
    thread_.join();
    return latenciesUs_;
  }

 private:
  Connection connection_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<double> latenciesUs_;
};

void printPings(const char* during, const std::vector<double>& us) {
  const auto over = std::count_if(us.begin(), us.end(), [](double v) { return v > 10'000; });
  std::printf(
      "  PING during %-5s: %7zu pings, median %7.0f us, p99 %8.0f us, worst %9.0f us, "
      "%ld over 10 ms\n",
      during, us.size(), percentile(us, 0.5), percentile(us, 0.99),
      us.empty() ? 0.0 : *std::max_element(us.begin(), us.end()), static_cast<long>(over));
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  // The keys are "shop:web:<n>"; the others "other:api:<n>" (DEBUG POPULATE adds ":<n>").
  const std::string prefix = "shop:web:";
  std::printf("scan_cost: %ld keys under \"%s\", %ld outside it, SCAN COUNT %d\n", options.keys,
              prefix.c_str(), options.others, options.batch);
  {
    std::ifstream loadavg("/proc/loadavg");
    std::string load;
    std::getline(loadavg, load);
    std::printf("load average at start: %s (nproc %u)\n", load.c_str(),
                std::thread::hardware_concurrency());
  }
  std::fflush(stdout);

  ss::testing::RedisServer server("enable-debug-command local\n");
  Connection admin(server.port(), std::chrono::seconds(300));
  auto populate = Clock::now();
  admin.run({"DEBUG", "POPULATE", std::to_string(options.keys), "shop:web"});
  admin.run({"DEBUG", "POPULATE", std::to_string(options.others), "other:api"});
  const long long dbsize = admin.integer({"DBSIZE"});
  std::printf(
      "loaded: DBSIZE %lld in %.0f ms, used_memory_human %s\n", dbsize, msSince(populate),
      ss::redisclient::parseInfo(admin.text({"INFO", "memory"}))["used_memory_human"].c_str());
  if (dbsize != options.keys + options.others) {
    std::fprintf(stderr, "FAIL: DBSIZE is %lld, expected %ld\n", dbsize,
                 options.keys + options.others);
    return 1;
  }

  // The operator's connection: its own class and its 2 s timeouts.
  auto opened = ss::redisclient::Session::open({.host = "127.0.0.1", .port = server.port()});
  if (!opened) throw std::runtime_error(opened.error());
  ss::redisclient::Session& counter = **opened;

  // Pass 1, alone on the server: every command in the slow log.
  admin.run({"CONFIG", "SET", "slowlog-max-len", "100000"});
  admin.run({"CONFIG", "SET", "slowlog-log-slower-than", "0"});

  admin.run({"SLOWLOG", "RESET"});
  const CommandStat scanBefore = commandStat(admin, "scan");
  auto start = Clock::now();
  const auto counted = counter.countKeys(prefix, options.batch);
  const double scanWallMs = msSince(start);
  const CommandStat scanAfter = commandStat(admin, "scan");
  const auto scanCalls = slowlogDurations(admin, "scan");
  if (!counted) {
    std::fprintf(stderr, "FAIL: countKeys: %s\n", counted.error().c_str());
    return 1;
  }

  admin.run({"SLOWLOG", "RESET"});
  const CommandStat keysBefore = commandStat(admin, "keys");
  start = Clock::now();
  std::size_t keysReturned = 0;
  {
    const Reply keys = admin.run({"KEYS", prefix + "*"});
    keysReturned = keys->elements;
  }
  const double keysWallMs = msSince(start);
  const CommandStat keysAfter = commandStat(admin, "keys");
  const auto keysCalls = slowlogDurations(admin, "keys");
  admin.run({"CONFIG", "SET", "slowlog-log-slower-than", "10000"});
  admin.run({"SLOWLOG", "RESET"});

  const long long rounds = scanAfter.calls - scanBefore.calls;
  const long long scanUsec = scanAfter.usec - scanBefore.usec;
  const long long keysUsec = keysAfter.usec - keysBefore.usec;
  const long long longestScan =
      scanCalls.empty() ? 0 : *std::max_element(scanCalls.begin(), scanCalls.end());
  const long long keysCall =
      keysCalls.empty() ? keysUsec : *std::max_element(keysCalls.begin(), keysCalls.end());
  std::printf("\nSCAN (redisclient::Session::countKeys), alone:\n");
  std::printf("  keys counted           %lld (expected %ld)\n", static_cast<long long>(*counted),
              options.keys);
  std::printf("  wall time              %.0f ms\n", scanWallMs);
  std::printf("  SCAN round trips       %lld (INFO commandstats), %zu in SLOWLOG\n", rounds,
              scanCalls.size());
  std::printf("  time inside Redis      %.1f ms in all, %.0f us per call on average\n",
              static_cast<double>(scanUsec) / 1000.0,
              rounds > 0 ? static_cast<double>(scanUsec) / static_cast<double>(rounds) : 0.0);
  std::printf(
      "  per call (SLOWLOG)     median %lld us, p99 %lld us, longest %lld us, %ld over 5 ms\n",
      percentile(scanCalls, 0.5), percentile(scanCalls, 0.99), longestScan,
      static_cast<long>(std::count_if(scanCalls.begin(), scanCalls.end(),
                                      [](long long us) { return us > 5000; })));
  std::printf("KEYS %s*, alone:\n", prefix.c_str());
  std::printf("  keys returned          %zu\n", keysReturned);
  std::printf("  wall time              %.0f ms (reply of %zu names transferred and parsed)\n",
              keysWallMs, keysReturned);
  std::printf("  the single call        %lld us inside Redis (SLOWLOG; commandstats %lld us)\n",
              keysCall, keysUsec);
  std::printf(
      "  KEYS blocks Redis %.0fx longer than the longest SCAN call\n",
      longestScan > 0 ? static_cast<double>(keysCall) / static_cast<double>(longestScan) : 0.0);
  std::fflush(stdout);

  // Pass 2: what another client sees meanwhile.
  std::printf("\nA second client doing PING in a loop:\n");
  Pinger pinger(server.port());
  pinger.start();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const auto idle = pinger.stop();
  printPings("idle", idle);

  // The slow log is back to its default (calls over 10 ms): whether Redis itself was slow, or
  // the pinger was only waiting for a core.
  admin.run({"SLOWLOG", "RESET"});
  pinger.start();
  start = Clock::now();
  const auto countedAgain = counter.countKeys(prefix, options.batch);
  const double scanWallBusyMs = msSince(start);
  const auto duringScan = pinger.stop();
  const auto slowScans = slowlogDurations(admin, "scan");
  printPings("SCAN", duringScan);

  pinger.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  start = Clock::now();
  { const Reply keys = admin.run({"KEYS", prefix + "*"}); }
  const double keysWallBusyMs = msSince(start);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto duringKeys = pinger.stop();
  printPings("KEYS", duringKeys);
  const double worstScan =
      duringScan.empty() ? 0.0 : *std::max_element(duringScan.begin(), duringScan.end());
  const double worstKeys =
      duringKeys.empty() ? 0.0 : *std::max_element(duringKeys.begin(), duringKeys.end());
  std::printf("  (count took %.0f ms and KEYS %.0f ms wall with the pinger running)\n",
              scanWallBusyMs, keysWallBusyMs);
  std::printf("  SCAN calls over 10 ms inside Redis during that count (SLOWLOG): %zu%s\n",
              slowScans.size(),
              slowScans.empty()
                  ? ""
                  : (", longest " +
                     std::to_string(*std::max_element(slowScans.begin(), slowScans.end())) + " us")
                        .c_str());
  std::printf("  worst PING during KEYS / during SCAN: %.0fx\n",
              worstScan > 0 ? worstKeys / worstScan : 0.0);

  if (*counted != options.keys || !countedAgain || *countedAgain != options.keys) {
    std::fprintf(
        stderr, "FAIL: countKeys counted %lld then %s keys under %s, expected %ld\n",
        static_cast<long long>(*counted),
        countedAgain ? std::to_string(*countedAgain).c_str() : countedAgain.error().c_str(),
        prefix.c_str(), options.keys);
    return 1;
  }
  std::printf("\nOK: counted %ld keys under %s with SCAN, twice\n", options.keys, prefix.c_str());
  return 0;
}
