// The small cryptographic helpers the operator shares, all on OpenSSL (libcrypto): base64 as
// Kubernetes writes and reads it in a Secret's data, the URL-safe base64 passwords are spelled in,
// SHA-256 as lower-case hex (the digests in annotations and the Redis ACL file), and the CSPRNG
// the passwords come from. No state, no clock, no logger.
#pragma once

#include <expected>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace sessionstore::crypto {

// RFC 4648 section 4: the standard alphabet, padded with '=' to a multiple of four characters.
// What the API server stores in a Secret's `data` and kubeconfigs hold in `*-data` fields.
std::string base64Encode(std::string_view bytes);

// RFC 4648 section 5: the URL-safe alphabet ('-' and '_'), without padding.
std::string base64UrlEncode(std::span<const unsigned char> bytes);

// Standard padded base64 back to bytes, accepting exactly what Kubernetes accepts in a Secret's
// `data` (Go's base64.StdEncoding): the standard alphabet, '=' padding to a multiple of four
// characters (at most two, only at the end), line breaks ('\r', '\n') ignored anywhere. Anything
// else (a missing or misplaced '=', spaces, the URL-safe alphabet) is an error naming the
// position, never the input, which may be a password.
std::expected<std::string, std::string> base64Decode(std::string_view text);

// Lower-case hex SHA-256 of `bytes` (64 characters).
std::string sha256Hex(std::string_view bytes);

// Fills its argument with random bytes; false when it cannot. Injected so tests give fixed bytes.
using RandomBytes = std::function<bool(std::span<unsigned char>)>;

// OpenSSL's CSPRNG (RAND_bytes).
RandomBytes systemRandomBytes();

}  // namespace sessionstore::crypto
