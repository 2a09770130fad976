// The memory allocator the operator runs on, and handing freed memory back to the system.
//
// The release build links jemalloc (Debian's libjemalloc2): with 1,195 Ready stores glibc's
// malloc held 68 MiB from the system for 33 MiB in use (its arenas fragment between the caches'
// long-lived objects and each pass's short-lived ones), and the operator's resident memory was
// 79 MiB; under jemalloc, 64 MiB (BENCHMARKS.md, "At rest"). Sanitizer builds keep glibc's
// (AddressSanitizer brings its own).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace sessionstore::app {

// "jemalloc 5.3.0-...", "glibc malloc" or "AddressSanitizer's malloc".
std::string allocatorName();

// What the allocator holds: `allocated`, the bytes the program has asked for and not freed;
// `resident`, the bytes of the allocator's pages in memory (its own metadata included). jemalloc's
// stats.allocated and stats.resident; glibc's mallinfo2 (in use, and the arenas and mappings it
// holds); none under AddressSanitizer.
struct HeapFigures {
  std::size_t allocated = 0;
  std::size_t resident = 0;
};
std::optional<HeapFigures> heapFigures();

// Returns freed memory to the system: jemalloc purges every arena's unused pages, glibc trims
// its heaps. Called every 30 s.
void releaseFreeMemory();

// How soon jemalloc hands pages freed by the program back to the system (its arenas'
// dirty_decay_ms): at once while the operator is quiet, so that its resident memory at rest
// does not rise and fall with each /metrics scrape and each round of probes (0.7 MiB with a
// second's delay at 1,200 stores, BENCHMARKS.md); a second later while it works, so that a
// burst of passes reuses its pages instead of faulting them in again (at once cost a third more
// CPU converging 1,195 stores). Nothing under another allocator.
void releaseFreedPagesAtOnce(bool atOnce);
// The arenas' dirty_decay_ms as jemalloc reports it (every arena has the same); nullopt under
// another allocator.
std::optional<long> freedPagesDelayMs();

// Decides from a count that grows with the operator's work (its work queue's adds), read every
// few seconds, whether the operator is quiet: nothing added since the last look. Tells
// releaseFreedPagesAtOnce when that changes.
class QuietWatch {
 public:
  // Returns whether the operator is quiet now.
  bool look(double workCount);

 private:
  std::optional<double> last_;
  bool quiet_ = false;
};

}  // namespace sessionstore::app
