#include "clock/clock.h"

#include <thread>

namespace sessionstore::clock {

void SystemClock::sleepFor(Duration d) const { std::this_thread::sleep_for(d); }

const Clock& systemClock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace sessionstore::clock
