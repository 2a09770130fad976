// The replication of a replicated managed store's pods as the operator reads and moves it
// (spec.store.managed.replicas above 1, issue 18): INFO replication of one pod, REPLICAOF
// host port and REPLICAOF NO ONE, with the monitoring credentials (the ACL lets the monitor user
// REPLICAOF only in a replicated store; the app's user never can). One connection per call,
// opened for the purpose and closed after, like memory_control.h: the reconciler asks each pod
// once a pass. Never logs; no password in an error.
#pragma once

#include <chrono>
#include <expected>
#include <memory>
#include <string>

#include "health/store_prober.h"
#include "wiring/connection.h"

namespace sessionstore::health {

class ReplicationControl {
 public:
  virtual ~ReplicationControl() = default;
  // The text of INFO replication (managedstore::parseReplicationInfo reads it). The error says
  // what failed (connect, AUTH, INFO).
  virtual std::expected<std::string, std::string> info(const wiring::StoreEndpoint& monitor) = 0;
  // REPLICAOF host port: the pod replicates from host:port (as the pod reaches it).
  virtual std::expected<void, std::string> replicaOf(const wiring::StoreEndpoint& monitor,
                                                     const std::string& host, int port) = 0;
  // REPLICAOF NO ONE: the pod becomes a master, keeping its data.
  virtual std::expected<void, std::string> promote(const wiring::StoreEndpoint& monitor) = 0;
  // Where a pod reaches `host`:`port` (the address map's translation when the operator runs
  // with one, as the played test and a developer's port-forward do; else host:port itself).
  virtual std::pair<std::string, int> peerAddress(const std::string& host, int port) = 0;
};

// On hiredis (redisclient::Session): connect and command timeouts of `timeout`, addresses
// through `addresses` when given (the operator outside the cluster).
std::unique_ptr<ReplicationControl> redisReplicationControl(std::shared_ptr<AddressMap> addresses,
                                                            std::chrono::milliseconds timeout);

}  // namespace sessionstore::health
