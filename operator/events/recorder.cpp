#include "events/recorder.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <utility>

namespace sessionstore::events {

namespace {

// How long an idle worker waits before looking again (nothing depends on it: record() and
// stop() wake it).
constexpr clock::Duration kIdleWake = std::chrono::hours(1);

const kube::Resource& eventsResource() { return kube::resources::kEvents; }

uint64_t unixNanos(clock::SystemTime t) {
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
  return nanos.count() < 0 ? 0 : static_cast<uint64_t>(nanos.count());
}

}  // namespace

std::expected<void, std::string> validate(const RecorderConfig& config) {
  if (config.reportingController.empty()) {
    return std::unexpected("event recorder: reportingController is required");
  }
  if (config.reportingInstance.empty() ||
      config.reportingInstance.size() > kReportingInstanceLimit) {
    return std::unexpected(
        "event recorder: reportingInstance (the pod's name) is required, at most 128 bytes");
  }
  if (config.aggregationWindow <= clock::Duration::zero() ||
      config.seriesUpdateInterval <= clock::Duration::zero() ||
      config.seriesUpdateInterval >= config.aggregationWindow) {
    return std::unexpected(
        "event recorder: seriesUpdateInterval must be positive and shorter than "
        "aggregationWindow, or a series' last count is never sent");
  }
  if (config.perObjectBurst < 1 || config.globalBurst < 1 ||
      config.perObjectRefill <= clock::Duration::zero() ||
      config.globalRefill <= clock::Duration::zero()) {
    return std::unexpected("event recorder: rate limit bursts must be >= 1 and refills positive");
  }
  if (config.queueCapacity < 1)
    return std::unexpected("event recorder: queueCapacity must be >= 1");
  return {};
}

std::string defaultReportingInstance() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') {
    return clampUtf8(pod, kReportingInstanceLimit);
  }
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return {};
  return clampUtf8(host, kReportingInstanceLimit);
}

EventRecorder::EventRecorder(kube::Client& client, const clock::Clock& clock, RecorderConfig config)
    : client_(client),
      clock_(clock),
      config_(std::move(config)),
      global_(config_.globalBurst, config_.globalRefill, clock.now()) {}

EventRecorder::~EventRecorder() { stop(); }

std::expected<void, std::string> EventRecorder::start() {
  if (auto valid = validate(config_); !valid) return valid;
  if (worker_.joinable()) return std::unexpected("event recorder: already started");
  worker_ = std::thread([this] { run(); });
  return {};
}

RecordResult EventRecorder::record(const ObjectReference& regarding, EventType type,
                                   std::string_view reason, std::string_view action,
                                   std::string_view note) {
  const bool valid = !regarding.kind.empty() && !regarding.name.empty() && !reason.empty() &&
                     !action.empty() && reason.size() <= kReasonLimit &&
                     action.size() <= kActionLimit;
  // Built before taking the lock: record() holds it only for map and queue updates.
  Key key{.apiVersion = regarding.apiVersion,
          .kind = regarding.kind,
          .ns = regarding.ns,
          .name = regarding.name,
          .uid = regarding.uid,
          .type = type,
          .reason = clampUtf8(reason, kReasonLimit),
          .action = clampUtf8(action, kActionLimit),
          .note = clampUtf8(note, kNoteLimit)};

  std::lock_guard lock(mu_);
  if (!valid) {
    ++stats_.droppedInvalid;
    return RecordResult::kInvalid;
  }
  if (stopping_) {
    ++stats_.droppedStopped;
    return RecordResult::kStopped;
  }
  const auto now = clock_.now();
  const auto wallNow = clock_.wallNow();

  auto current = current_.find(key);
  if (current != current_.end()) {
    auto& series = series_.at(current->second);
    if (now < series.lastSeenAt + config_.aggregationWindow) {
      ++series.count;
      series.lastObservedTime = wallNow;
      series.lastSeenAt = now;
      ++stats_.aggregated;
      wakeRequested_ = true;
      wake_.notify_all();
      return RecordResult::kAggregated;
    }
    // Out of the window: a new Event. The old series stays until the worker has sent its last
    // count.
  }
  if (!admitLocked(regarding, now)) {
    ++stats_.droppedRateLimited;
    return RecordResult::kRateLimited;
  }

  // Unique even when the clock has not moved since the last Event.
  lastSuffix_ = std::max(unixNanos(wallNow), lastSuffix_ + 1);
  const uint64_t id = nextId_++;
  EventSpec spec{.name = eventName(regarding.name, lastSuffix_),
                 .regarding = regarding,
                 .type = type,
                 .reason = key.reason,
                 .action = key.action,
                 .note = key.note,
                 .eventTime = wallNow,
                 .reportingController = config_.reportingController,
                 .reportingInstance = config_.reportingInstance};
  if (current != current_.end()) {
    // The earlier series of this key no longer takes repeats.
    series_.at(current->second).current.reset();
    current->second = id;
  } else {
    current = current_.emplace(std::move(key), id).first;
  }
  Series series{.eventNs = eventNamespace(regarding),
                .eventName = spec.name,
                .toCreate = std::make_unique<EventSpec>(std::move(spec)),
                .current = current,
                .lastObservedTime = wallNow,
                .lastSeenAt = now};
  series_.emplace(id, std::move(series));
  queue_.push_back(id);
  if (queue_.size() > config_.queueCapacity) {
    const uint64_t oldest = queue_.front();
    queue_.pop_front();
    forgetLocked(oldest);
    ++stats_.droppedQueueFull;
  }
  wakeRequested_ = true;
  wake_.notify_all();
  return RecordResult::kQueued;
}

bool EventRecorder::admitLocked(const ObjectReference& regarding, clock::MonotonicTime now) {
  const std::string object = !regarding.uid.empty() ? regarding.uid
                                                    : regarding.apiVersion + "/" + regarding.kind +
                                                          "/" + regarding.ns + "/" + regarding.name;
  auto bucket =
      perObject_.try_emplace(object, config_.perObjectBurst, config_.perObjectRefill, now).first;
  // Take from both or from neither.
  if (bucket->second.available(now) == 0 || !global_.tryTake(now)) return false;
  return bucket->second.tryTake(now);
}

void EventRecorder::forgetLocked(uint64_t id) {
  const auto it = series_.find(id);
  if (it == series_.end()) return;
  if (it->second.current) current_.erase(*it->second.current);
  series_.erase(it);
}

void EventRecorder::stop(clock::Duration flushTimeout) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      flushDeadline_ = clock_.now() + flushTimeout;
    }
  }
  wake_.notify_all();
  if (worker_.joinable()) {
    worker_.join();
    return;
  }
  clock::MonotonicTime deadline;
  {
    std::lock_guard lock(mu_);
    if (flushed_) return;
    deadline = flushDeadline_;
  }
  drain(deadline);
}

RecorderStats EventRecorder::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::optional<EventRecorder::Call> EventRecorder::nextCallLocked(clock::MonotonicTime now,
                                                                 bool flushing) {
  if (!queue_.empty()) {
    const uint64_t id = queue_.front();
    queue_.pop_front();
    auto& series = series_.at(id);
    series.state = State::kCreating;
    // Created once (a failed create is forgotten): the spec is not needed after.
    Call call{.kind = Call::Kind::kCreate,
              .id = id,
              .ns = series.eventNs,
              .name = series.eventName,
              .body = makeEvent(*series.toCreate)};
    series.toCreate.reset();
    return call;
  }
  for (auto& [id, series] : series_) {
    if (series.state != State::kCreated || series.patchInFlight ||
        series.count <= series.sentCount) {
      continue;
    }
    const bool due =
        flushing ? !series.flushTried
                 : !series.lastPatchAt || now >= *series.lastPatchAt + config_.seriesUpdateInterval;
    if (!due) continue;
    series.patchInFlight = true;
    if (flushing) series.flushTried = true;
    return Call{.kind = Call::Kind::kPatch,
                .id = id,
                .ns = series.eventNs,
                .name = series.eventName,
                .body = seriesPatch(series.count, series.lastObservedTime),
                .count = series.count};
  }
  return std::nullopt;
}

kube::Result<kube::Json> EventRecorder::send(const Call& call) {
  if (call.kind == Call::Kind::kCreate) {
    return client_.create(eventsResource(), call.ns, call.body);
  }
  return client_.patch(eventsResource(), call.ns, call.name, kube::PatchType::kMerge, call.body,
                       kube::PatchOptions{});
}

void EventRecorder::finishLocked(const Call& call, const kube::Result<kube::Json>& result,
                                 clock::MonotonicTime now) {
  const auto it = series_.find(call.id);
  if (!result) ++stats_.failed;
  if (it == series_.end()) return;
  auto& series = it->second;
  if (call.kind == Call::Kind::kCreate) {
    if (!result) {
      // Lost; the next occurrence creates it again.
      forgetLocked(call.id);
      return;
    }
    ++stats_.created;
    series.state = State::kCreated;
    series.sentCount = 1;
    return;
  }
  series.patchInFlight = false;
  series.lastPatchAt = now;
  if (result) {
    ++stats_.seriesUpdates;
    series.sentCount = call.count;
  } else if (result.error().kind == kube::ErrorKind::kNotFound) {
    // The Event is gone (Events expire on the server): the next occurrence creates a new one.
    forgetLocked(call.id);
  }
}

std::optional<clock::MonotonicTime> EventRecorder::cleanupLocked(clock::MonotonicTime now) {
  std::optional<clock::MonotonicTime> next;
  const auto consider = [&next](clock::MonotonicTime t) {
    if (!next || t < *next) next = t;
  };
  for (auto it = series_.begin(); it != series_.end();) {
    const auto& series = it->second;
    const uint64_t id = it->first;
    ++it;
    if (series.state != State::kCreated || series.patchInFlight) continue;
    const bool pending = series.count > series.sentCount;
    const auto expiresAt = series.lastSeenAt + config_.aggregationWindow;
    // An expired series goes once nothing is pending or its last count had one try after
    // expiring.
    if (now >= expiresAt &&
        (!pending || (series.lastPatchAt && *series.lastPatchAt >= expiresAt))) {
      forgetLocked(id);
      continue;
    }
    if (pending) {
      consider(series.lastPatchAt ? *series.lastPatchAt + config_.seriesUpdateInterval : now);
    }
    consider(std::max(expiresAt, now));
  }
  // A full bucket is as good as a new one.
  for (auto it = perObject_.begin(); it != perObject_.end();) {
    it = it->second.full(now) ? perObject_.erase(it) : std::next(it);
  }
  return next;
}

std::optional<clock::MonotonicTime> EventRecorder::sendDue() {
  std::unique_lock lock(mu_);
  while (auto call = nextCallLocked(clock_.now(), false)) {
    lock.unlock();
    const auto result = send(*call);
    lock.lock();
    finishLocked(*call, result, clock_.now());
  }
  return cleanupLocked(clock_.now());
}

void EventRecorder::drain(clock::MonotonicTime deadline) {
  std::unique_lock lock(mu_);
  while (clock_.now() < deadline) {
    auto call = nextCallLocked(clock_.now(), true);
    if (!call) break;
    lock.unlock();
    const auto result = send(*call);
    lock.lock();
    finishLocked(*call, result, clock_.now());
  }
  stats_.droppedOnStop += queue_.size();
  while (!queue_.empty()) {
    forgetLocked(queue_.front());
    queue_.pop_front();
  }
  flushed_ = true;
}

void EventRecorder::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wakeRequested_ = false;
    lock.unlock();
    const auto next = sendDue();
    lock.lock();
    const auto deadline = next.value_or(clock_.now() + kIdleWake);
    while (!stopping_ && !wakeRequested_ && clock_.now() < deadline) {
      clock_.waitUntil(wake_, lock, deadline);
    }
  }
  const auto deadline = flushDeadline_;
  lock.unlock();
  drain(deadline);
}

}  // namespace sessionstore::events
