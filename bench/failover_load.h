// What the two failover benchmarks share (failover.cpp on played Redis, failover_node.cpp on the
// real node): the steady write load through the client Service, the log of every write accepted,
// the count of the writes lost, and the figures printed at the end, so both measure one thing.
#pragma once

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"

namespace bench {

// A session to a Redis with the short timeouts a failover is measured with (nullptr: none).
inline std::unique_ptr<ss::redisclient::Session> openFailoverSession(const std::string& host,
                                                                     int port,
                                                                     const std::string& user,
                                                                     const std::string& password) {
  auto session = ss::redisclient::Session::open({.host = host,
                                                 .port = port,
                                                 .username = user,
                                                 .password = password,
                                                 .connectTimeout = std::chrono::milliseconds(300),
                                                 .commandTimeout = std::chrono::milliseconds(500)});
  if (!session) return nullptr;
  return std::move(*session);
}

// Polls `done` every 20 ms for up to `seconds`.
inline bool waitUntil(const std::function<bool()>& done, int seconds) {
  const auto until = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// A writer as the app's user: SET of a new key at a time, and after every 10th a WAIT 1 (the
// write acknowledged by a replica). Each write accepted is logged with where it went (what
// `where()` said when the writer connected: a port, a pod).
class WriteLoad {
 public:
  struct Write {
    std::string key;
    Clock::time_point at;
    bool acked = false;
    std::string where;
  };
  using Connect = std::function<std::unique_ptr<ss::redisclient::Session>()>;

  WriteLoad(std::string keyPrefix, Connect connect, std::function<std::string()> where)
      : prefix_(std::move(keyPrefix)), connect_(std::move(connect)), where_(std::move(where)) {}
  ~WriteLoad() { stop(); }

  void start() {
    running_ = true;
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }

  // The first write accepted after `t`, if one was.
  std::optional<Write> firstAfter(Clock::time_point t) {
    std::lock_guard lock(mu_);
    for (auto it = accepted_.rbegin(); it != accepted_.rend(); ++it) {
      if (it->at <= t) {
        if (it == accepted_.rbegin()) return std::nullopt;
        return *std::prev(it);
      }
    }
    if (accepted_.empty()) return std::nullopt;
    return accepted_.front();
  }

  struct Lost {
    long accepted = 0, acked = 0, lostAcked = 0, lostPlain = 0;
  };
  // Every write accepted, looked up through `reader` (call after stop()).
  Lost lost(ss::redisclient::Session& reader) {
    std::lock_guard lock(mu_);
    Lost out;
    for (const auto& w : accepted_) {
      ++out.accepted;
      auto got = reader.command({"GET", w.key});
      const bool there = got && *got == "v";
      if (w.acked) ++out.acked;
      if (!there) ++(w.acked ? out.lostAcked : out.lostPlain);
    }
    return out;
  }

 private:
  void run() {
    std::unique_ptr<ss::redisclient::Session> s;
    std::string at;
    long n = 0;
    while (running_) {
      if (!s) {
        at = where_();
        s = connect_();
        if (!s) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
      }
      const std::string key = prefix_ + "k" + std::to_string(n);
      auto set = s->command({"SET", key, "v"});
      if (!set || *set != "OK") {  // no answer, or READONLY from a replica: not accepted
        s.reset();
        continue;
      }
      const auto now = Clock::now();
      bool acked = false;
      if (n % 10 == 0) {
        auto waited = s->command({"WAIT", "1", "1000"});
        if (!waited) {
          s.reset();
        } else {
          acked = *waited != "0";
        }
      }
      {
        std::lock_guard lock(mu_);
        accepted_.push_back({key, now, acked, at});
      }
      ++n;
    }
  }

  const std::string prefix_;
  const Connect connect_;
  const std::function<std::string()> where_;
  std::atomic<bool> running_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Write> accepted_;  // GUARDED_BY(mu_), in the order accepted
};

// The figures of issue 18's failover benchmark, against its targets.
inline void printFailoverFigures(int kills, const std::vector<double>& recovery,
                                 const WriteLoad::Lost& lost, long samples, long twoLabelled,
                                 long twoMasters) {
  std::printf("\nkills: %d; time from the kill to the first write accepted again: p50 %.3f s "
              "(target <= 5 s, %s), max %.3f s (target <= 10 s, %s)\n",
              kills, percentile(recovery, 0.5), verdict(percentile(recovery, 0.5) <= 5),
              percentile(recovery, 1.0), verdict(percentile(recovery, 1.0) <= 10));
  std::printf("writes accepted: %ld, of them acknowledged by WAIT 1: %ld; WAIT-acknowledged "
              "lost: %ld (target 0, %s); plain writes lost: %ld\n",
              lost.accepted, lost.acked, lost.lostAcked, verdict(lost.lostAcked == 0),
              lost.lostPlain);
  std::printf("samples (100 ms): %ld; with two pods labelled primary: %ld; with two Redis "
              "answering role:master: %ld (target 0 each, %s)\n",
              samples, twoLabelled, twoMasters, verdict(twoLabelled == 0 && twoMasters == 0));
  std::fflush(stdout);
}

}  // namespace bench
