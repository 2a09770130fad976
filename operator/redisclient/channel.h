// The byte stream under a Session: a TCP connection to the store, with TLS over it (OpenSSL) for
// rediss://. It knows nothing of Redis; redis_client.cpp encodes commands and parses replies with
// hiredis and moves the bytes through a Channel. Every call takes a deadline and never blocks past
// it (the socket is non-blocking and waits in poll), so the connect, the TLS handshake and each
// command are bounded for TLS as for plain TCP. The socket and the SSL objects are owned (RAII):
// destroying the Channel closes them whatever state they are in. Not thread-safe.
//
// TLS verification (unless insecureSkipVerify): the chain against the given CA bundle, or the
// system's CAs (OpenSSL's default paths) when none is given; the certificate's names against the
// server name (a DNS name, or an IP literal checked as an IP address); SNI carries the name
// (never an IP, RFC 6066).
#pragma once

#include <chrono>
#include <cstddef>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sessionstore::redisclient {

using Deadline = std::chrono::steady_clock::time_point;

struct ChannelOptions {
  std::string host;  // where to connect (a name resolved here, or an address)
  int port = 0;
  bool tls = false;
  std::string serverName;  // the name SNI carries and the certificate must match; "" = host
  std::string caPem;       // trusted CAs (PEM); "" = the system's default CA paths
  bool insecureSkipVerify = false;
};

class Channel {
 public:
  // Connects (each address of the host in turn) and, with tls, completes the handshake, all
  // before `deadline`. Errors are texts that say what failed: "connect to H:P: ...", or one that
  // starts with "TLS" (see redis_client.h for the prefixes a caller may match).
  static std::expected<std::unique_ptr<Channel>, std::string> open(const ChannelOptions& options,
                                                                   Deadline deadline);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Writes all of `data` before the deadline.
  std::expected<void, std::string> writeAll(std::string_view data, Deadline deadline);
  // Reads at least one byte (at most `size`) before the deadline. The peer closing the
  // connection is an error.
  std::expected<std::size_t, std::string> readSome(char* buffer, std::size_t size,
                                                   Deadline deadline);

  // Lower-case hex SHA-256 of the DER of the certificate the server showed in the handshake;
  // "" for plain TCP. (What the operator compares with the certificate a store should serve.)
  std::string peerCertificateSha256() const;

  struct State;  // the socket and SSL objects (channel.cpp)

 private:
  explicit Channel(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Whether `pem` holds at least one certificate OpenSSL can read; the error says what is wrong
// with it (no PEM block, a block that does not parse). Used to check a CA bundle before use.
std::expected<int, std::string> countPemCertificates(std::string_view pem);

// Whether `host` is an IPv4 or IPv6 literal (as verification treats it).
bool isIpLiteral(std::string_view host);

}  // namespace sessionstore::redisclient
