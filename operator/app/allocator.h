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

}  // namespace sessionstore::app
