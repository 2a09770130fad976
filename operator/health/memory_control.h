// The managed store's memory as the operator reads and raises it (spec.store.managed.memory,
// issue 18): used_memory and maxmemory from INFO, and CONFIG SET maxmemory, live, with the
// monitoring credentials (the ACL lets the monitor user CONFIG SET only when the store's memory
// follows load; the app's user never can). One connection per call, opened for the purpose and
// closed after, as the figures are read (store_link.h): a memory-following store is looked at a
// few times a minute at most. Never logs; no password in an error.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "health/store_prober.h"
#include "wiring/connection.h"

namespace sessionstore::health {

// INFO memory's used_memory and maxmemory, in bytes.
struct MemoryReading {
  std::int64_t usedMemory = 0;
  std::int64_t maxMemory = 0;
  bool operator==(const MemoryReading&) const = default;
};

class MemoryControl {
 public:
  virtual ~MemoryControl() = default;
  // Reads used_memory and maxmemory. The error says what failed (connect, AUTH, INFO).
  virtual std::expected<MemoryReading, std::string> read(const wiring::StoreEndpoint& monitor) = 0;
  // CONFIG SET maxmemory `bytes`: Redis applies it at once, with no restart.
  virtual std::expected<void, std::string> setMaxMemory(const wiring::StoreEndpoint& monitor,
                                                        std::int64_t bytes) = 0;
};

// On hiredis (redisclient::Session): connect and command timeouts of `timeout`, addresses
// through `addresses` when given (the operator outside the cluster).
std::unique_ptr<MemoryControl> redisMemoryControl(std::shared_ptr<AddressMap> addresses,
                                                  std::chrono::milliseconds timeout);

}  // namespace sessionstore::health
