// The managed store's app passwords as the operator changes them live (password rotation, issue
// 18): ACL SETUSER app #<sha256> adds a password, ACL SETUSER app !<sha256> removes one, with the
// monitoring credentials (the ACL lets the monitor user ACL SETUSER and no other ACL subcommand;
// managedstore::renderUsersAcl). Only SHA-256 hashes cross this interface, never a password.
// One connection per call, opened for the purpose and closed after: a rotation makes a handful.
// Never logs.
#pragma once

#include <chrono>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include "health/store_prober.h"
#include "wiring/connection.h"

namespace sessionstore::health {

class PasswordControl {
 public:
  virtual ~PasswordControl() = default;
  // Redis accepts the password whose SHA-256 hex is `sha256Hex` for `user` from now on (its
  // other passwords stay). Adding a password the user has already is no change.
  virtual std::expected<void, std::string> addPassword(const wiring::StoreEndpoint& monitor,
                                                       std::string_view user,
                                                       std::string_view sha256Hex) = 0;
  // Redis refuses that password for `user` from now on (new AUTHs; connections already
  // authenticated stay). Removing a password the user does not have is no change.
  virtual std::expected<void, std::string> removePassword(const wiring::StoreEndpoint& monitor,
                                                          std::string_view user,
                                                          std::string_view sha256Hex) = 0;
};

// On hiredis (redisclient::Session): connect and command timeouts of `timeout`, addresses
// through `addresses` when given (the operator outside the cluster).
std::unique_ptr<PasswordControl> redisPasswordControl(std::shared_ptr<AddressMap> addresses,
                                                      std::chrono::milliseconds timeout);

}  // namespace sessionstore::health
