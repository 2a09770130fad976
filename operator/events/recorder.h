// Records events.k8s.io/v1 Events about the operator's objects, the way client-go's
// tools/events library does, without ever blocking the caller on the network: record() only
// updates in-memory state and a bounded queue; a background worker talks to the API server.
//
// - Aggregation: a repeat of the same (regarding object, type, reason, action, note) within
//   aggregationWindow of its last occurrence does not create an Event; it counts into the
//   existing one's series (count, lastObservedTime), sent as a merge PATCH at most once per
//   seriesUpdateInterval per Event.
// - Rate limits: each new Event takes a token from its regarding object's bucket and from a
//   global one; without both it is dropped and counted. Repeats cost no token (their patches
//   are bounded by seriesUpdateInterval).
// - The queue holds at most queueCapacity Events to create; when full the oldest is dropped and
//   counted. stop() sends what it can within its timeout.
// Events are best effort: a failed call is counted, not retried.
#pragma once

#include <compare>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "clock/clock.h"
#include "events/event.h"
#include "events/token_bucket.h"
#include "identity/identity.h"
#include "kube/client.h"

namespace sessionstore::events {

inline constexpr clock::Duration kDefaultFlushTimeout = std::chrono::seconds(5);

struct RecorderConfig {
  std::string reportingController{identity::kReportingController};
  // Which replica reports: the pod's name, see defaultReportingInstance(). Required.
  std::string reportingInstance;
  // A repeat within this time of the last occurrence joins its series (client-go: 6 minutes).
  clock::Duration aggregationWindow = std::chrono::minutes(6);
  // At most one series PATCH per Event per interval.
  clock::Duration seriesUpdateInterval = std::chrono::seconds(30);
  // New Events per regarding object: a burst, then one per refill period.
  int64_t perObjectBurst = 25;
  clock::Duration perObjectRefill = std::chrono::seconds(5);
  // New Events overall.
  int64_t globalBurst = 100;
  clock::Duration globalRefill = std::chrono::seconds(1);
  // Events waiting to be created.
  std::size_t queueCapacity = 1000;
};

// Checks the configuration; the error says what to fix.
std::expected<void, std::string> validate(const RecorderConfig& config);

// The pod's name from the POD_NAME environment variable (set it from the downward API's
// metadata.name), else the hostname (a pod's hostname is its name), at most 128 bytes.
std::string defaultReportingInstance();

struct RecorderStats {
  uint64_t created = 0;             // Events created
  uint64_t seriesUpdates = 0;       // series PATCHes that succeeded
  uint64_t aggregated = 0;          // repeats counted into a series instead of a new Event
  uint64_t droppedRateLimited = 0;  // new Events over a rate limit
  uint64_t droppedQueueFull = 0;    // oldest queued Events dropped for newer ones
  uint64_t droppedInvalid = 0;      // record() calls without kind, name, reason or action
  uint64_t droppedStopped = 0;      // record() calls after stop()
  uint64_t droppedOnStop = 0;       // queued Events stop() could not send within its timeout
  uint64_t failed = 0;              // API calls that failed (the Event or update is lost)

  bool operator==(const RecorderStats&) const = default;
};

enum class RecordResult {
  kQueued,       // a new Event, to be created
  kAggregated,   // a repeat, counted into an existing Event's series
  kRateLimited,  // dropped by a rate limit
  kInvalid,      // dropped: kind, name, reason or action missing, or reason/action too long
  kStopped,      // dropped: the recorder is stopping
};

class EventRecorder {
 public:
  // REQUIRES: client and clock outlive the recorder.
  EventRecorder(kube::Client& client, const clock::Clock& clock, RecorderConfig config);
  // Stops as stop() does.
  ~EventRecorder();

  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Checks the configuration and starts the worker.
  // REQUIRES: not started before.
  std::expected<void, std::string> start();

  // Records one occurrence. Never waits for the network: it takes a mutex that is never held
  // across an API call. The note is cut to 1 KiB (at a UTF-8 character boundary).
  // Thread-safe.
  RecordResult record(const ObjectReference& regarding, EventType type, std::string_view reason,
                      std::string_view action, std::string_view note);

  // Stops accepting records, sends what is queued and every pending series count until
  // `flushTimeout` has passed on the clock (a call in flight is waited for), and ends the
  // worker. Idempotent.
  void stop(clock::Duration flushTimeout = kDefaultFlushTimeout);

  // Thread-safe.
  RecorderStats stats() const;

  // The worker's body: makes every API call due now (queued creates, series patches whose
  // interval has passed), then returns when something next falls due, if anything does.
  // REQUIRES: start() not called (the worker calls it); tests call it to run synchronously.
  std::optional<clock::MonotonicTime> sendDue();

 private:
  // What makes two occurrences the same Event.
  struct Key {
    std::string apiVersion;
    std::string kind;
    std::string ns;
    std::string name;
    std::string uid;
    EventType type = EventType::kNormal;
    std::string reason;
    std::string action;
    std::string note;

    auto operator<=>(const Key&) const = default;
  };

  enum class State { kQueued, kCreating, kCreated };

  using Current = std::map<Key, uint64_t>;

  // One Event and its occurrences. Kept for the aggregation window after its last occurrence,
  // so it holds what a series PATCH needs and no more: the Event's full spec only until its
  // create is sent, its key only in current_.
  struct Series {
    std::string eventNs;
    std::string eventName;
    // Until the create call is made; on the heap, so that a created series does not keep the
    // room of one.
    std::unique_ptr<EventSpec> toCreate;
    // Its entry in current_ while repeats join this series (not once a later Event of the same
    // key has taken it over).
    std::optional<Current::iterator> current;
    State state = State::kQueued;
    int64_t count = 1;      // occurrences so far
    int64_t sentCount = 0;  // occurrences the server knows of
    clock::SystemTime lastObservedTime{};
    clock::MonotonicTime lastSeenAt{};  // local, for the aggregation window
    std::optional<clock::MonotonicTime> lastPatchAt;
    bool patchInFlight = false;
    bool flushTried = false;  // stop() already tried to send its count
  };

  // One API call, prepared under mu_ and made without it.
  struct Call {
    enum class Kind { kCreate, kPatch } kind;
    uint64_t id;
    std::string ns;
    std::string name;
    kube::Json body;
    int64_t count = 0;  // kPatch: the count sent
  };

  std::optional<Call> nextCallLocked(clock::MonotonicTime now, bool flushing);
  kube::Result<kube::Json> send(const Call& call);
  void finishLocked(const Call& call, const kube::Result<kube::Json>& result,
                    clock::MonotonicTime now);
  std::optional<clock::MonotonicTime> cleanupLocked(clock::MonotonicTime now);
  bool admitLocked(const ObjectReference& regarding, clock::MonotonicTime now);
  void forgetLocked(uint64_t id);
  void drain(clock::MonotonicTime deadline);
  void run();

  kube::Client& client_;
  const clock::Clock& clock_;
  const RecorderConfig config_;

  mutable std::mutex mu_;
  std::condition_variable_any wake_;              // signalled by record() and stop()
  std::map<uint64_t, Series> series_;             // GUARDED_BY(mu_)
  Current current_;                               // GUARDED_BY(mu_): key -> the series repeats join
  std::deque<uint64_t> queue_;                    // GUARDED_BY(mu_): series to create, oldest first
  std::map<std::string, TokenBucket> perObject_;  // GUARDED_BY(mu_)
  TokenBucket global_;                            // GUARDED_BY(mu_)
  RecorderStats stats_;                           // GUARDED_BY(mu_)
  uint64_t nextId_ = 1;                           // GUARDED_BY(mu_)
  uint64_t lastSuffix_ = 0;                       // GUARDED_BY(mu_)
  bool wakeRequested_ = false;                    // GUARDED_BY(mu_)
  bool stopping_ = false;                         // GUARDED_BY(mu_)
  bool flushed_ = false;                          // GUARDED_BY(mu_)
  clock::MonotonicTime flushDeadline_{};          // GUARDED_BY(mu_)
  std::thread worker_;
};

}  // namespace sessionstore::events
