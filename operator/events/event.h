// events.k8s.io/v1 Event objects, built by pure functions: what the recorder (recorder.h)
// creates and patches. The limits are the API server's validation of events.k8s.io/v1:
// reason and action required and at most 128 bytes, note at most 1 KiB, the name a DNS
// subdomain, eventTime, reportingController and reportingInstance required.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "clock/clock.h"
#include "kube/client.h"

namespace sessionstore::events {

inline constexpr std::size_t kNoteLimit = 1024;
inline constexpr std::size_t kReasonLimit = 128;
inline constexpr std::size_t kActionLimit = 128;
inline constexpr std::size_t kReportingInstanceLimit = 128;
inline constexpr std::size_t kNameLimit = 253;

// The object an Event is about (an ObjectReference).
struct ObjectReference {
  std::string apiVersion;
  std::string kind;
  std::string ns;  // "" for cluster-scoped objects
  std::string name;
  std::string uid;
  std::string resourceVersion;

  bool operator==(const ObjectReference&) const = default;
};

enum class EventType { kNormal, kWarning };

const char* toString(EventType type);

// Everything a new Event carries.
struct EventSpec {
  std::string name;  // from eventName()
  ObjectReference regarding;
  EventType type = EventType::kNormal;
  std::string reason;
  std::string action;
  std::string note;
  clock::SystemTime eventTime{};
  std::string reportingController;
  std::string reportingInstance;
};

// The namespace an Event about `regarding` lives in: the object's, or "default" for a
// cluster-scoped object (the API server accepts only default or kube-system there).
std::string eventNamespace(const ObjectReference& regarding);

// "<regarding name>.<suffix in hex>", the name shortened so the whole stays a DNS subdomain of at
// most 253 characters.
std::string eventName(std::string_view regardingName, uint64_t suffix);

// `text` as valid UTF-8 of at most `maxBytes` bytes: cut at a character boundary, each invalid
// byte replaced by '?'. (A JSON serializer rejects invalid UTF-8.)
std::string clampUtf8(std::string_view text, std::size_t maxBytes);

// The events.k8s.io/v1 Event to create.
kube::Json makeEvent(const EventSpec& spec);

// The merge patch that records `count` occurrences, the last at `lastObserved`.
// REQUIRES: count >= 2 (the API's minimum for a series).
kube::Json seriesPatch(int64_t count, clock::SystemTime lastObserved);

// RFC 3339 in UTC with exactly six fractional digits: "2026-11-22T00:00:00.000000Z".


}  // namespace sessionstore::events
