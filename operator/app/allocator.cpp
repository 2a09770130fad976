#include "app/allocator.h"

#include <malloc.h>

#include <sys/types.h>

#include <cstdint>

#if defined(SESSIONSTORE_JEMALLOC)
#include <jemalloc/jemalloc.h>

// Read by jemalloc at its start (jemalloc(3), "TUNING"); MALLOC_CONF in the environment still
// overrides it. Two arenas, as M_ARENA_MAX 2 did for glibc: the operator's threads mostly wait.
// No per-thread caches: each of about 35 threads would keep freed memory of its own. Unused
// pages go back to the system a second after they are freed: jemalloc's background thread
// purges them on time, where without it they waited for the next allocation that happened to
// check (at rest, with few allocations, up to the 30 s purge: a saw-tooth of 0.6 MiB).
extern "C" {
const char* malloc_conf =
    "narenas:2,tcache:false,dirty_decay_ms:1000,muzzy_decay_ms:0,background_thread:true";
}

namespace {
constexpr long kBusyDirtyDecayMs = 1000;  // as malloc_conf
}
#endif

namespace sessionstore::app {

std::string allocatorName() {
#if defined(SESSIONSTORE_JEMALLOC)
  const char* version = nullptr;
  std::size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) == 0 && version != nullptr) {
    return std::string("jemalloc ") + version;
  }
  return "jemalloc";
#elif defined(__SANITIZE_ADDRESS__)
  return "AddressSanitizer's malloc";
#else
  return "glibc malloc";
#endif
}

std::optional<HeapFigures> heapFigures() {
#if defined(SESSIONSTORE_JEMALLOC)
  // The statistics are a snapshot taken at the last "epoch" write.
  std::uint64_t epoch = 1;
  std::size_t size = sizeof(epoch);
  if (mallctl("epoch", &epoch, &size, &epoch, sizeof(epoch)) != 0) return std::nullopt;
  HeapFigures out;
  size = sizeof(std::size_t);
  if (mallctl("stats.allocated", &out.allocated, &size, nullptr, 0) != 0 ||
      mallctl("stats.resident", &out.resident, &size, nullptr, 0) != 0) {
    return std::nullopt;
  }
  return out;
#elif defined(__SANITIZE_ADDRESS__)
  return std::nullopt;
#else
  const struct mallinfo2 info = ::mallinfo2();
  return HeapFigures{.allocated = info.uordblks + info.hblkhd,
                     .resident = info.arena + info.hblkhd};
#endif
}

void releaseFreeMemory() {
#if defined(SESSIONSTORE_JEMALLOC)
  // MALLCTL_ARENAS_ALL: every arena.
  const std::string purge = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
  mallctl(purge.c_str(), nullptr, nullptr, nullptr, 0);
#else
  ::malloc_trim(0);
#endif
}

void releaseFreedPagesAtOnce(bool atOnce) {
#if defined(SESSIONSTORE_JEMALLOC)
  ssize_t ms = atOnce ? 0 : kBusyDirtyDecayMs;
  unsigned arenas = 0;
  std::size_t size = sizeof(arenas);
  if (mallctl("arenas.narenas", &arenas, &size, nullptr, 0) != 0) return;
  for (unsigned i = 0; i < arenas; ++i) {
    const std::string name = "arena." + std::to_string(i) + ".dirty_decay_ms";
    mallctl(name.c_str(), nullptr, nullptr, &ms, sizeof(ms));
  }
  // Arenas made later start with it too.
  mallctl("arenas.dirty_decay_ms", nullptr, nullptr, &ms, sizeof(ms));
#else
  (void)atOnce;
#endif
}

std::optional<long> freedPagesDelayMs() {
#if defined(SESSIONSTORE_JEMALLOC)
  ssize_t ms = 0;
  std::size_t size = sizeof(ms);
  if (mallctl("arena.0.dirty_decay_ms", &ms, &size, nullptr, 0) != 0) return std::nullopt;
  return static_cast<long>(ms);
#else
  return std::nullopt;
#endif
}

bool QuietWatch::look(double workCount) {
  const bool quiet = last_ && *last_ == workCount;
  last_ = workCount;
  if (quiet != quiet_) {
    quiet_ = quiet;
    releaseFreedPagesAtOnce(quiet);
  }
  return quiet_;
}

}  // namespace sessionstore::app
