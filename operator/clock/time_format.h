// Wall-clock times as the Kubernetes API and the logs write them: RFC 3339 in UTC.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "clock/clock.h"

namespace sessionstore::clock {

// "2026-11-22T00:00:00.000000Z" (metav1.MicroTime: Lease renewTime, Event eventTime).
std::string formatMicroTime(SystemTime t);
// "2026-11-22T00:00:00.000Z" (log lines).
std::string formatMilliTime(SystemTime t);
// "2026-11-22T00:00:00Z" (metav1.Time: conditions' lastTransitionTime).
std::string formatTime(SystemTime t);
// The time formatTime wrote ("2026-11-22T00:00:00Z"); nullopt for any other text.
std::optional<SystemTime> parseTime(std::string_view text);

}  // namespace sessionstore::clock
