#include "crypto/crypto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <vector>

namespace sessionstore::crypto {
namespace {

bool inStandardAlphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

std::string encodeBlock(const unsigned char* bytes, std::size_t size) {
  std::string out;
  // EVP_EncodeBlock takes an int; encode in slices of a multiple of 3 bytes so any size works.
  constexpr std::size_t kSlice = 3 * 1024 * 1024;
  std::vector<unsigned char> buffer(4 * ((std::min(size, kSlice) + 2) / 3) + 1);
  out.reserve(4 * ((size + 2) / 3));
  for (std::size_t at = 0; at < size; at += kSlice) {
    const std::size_t n = std::min(kSlice, size - at);
    const int written = EVP_EncodeBlock(buffer.data(), bytes + at, static_cast<int>(n));
    out.append(reinterpret_cast<const char*>(buffer.data()), static_cast<std::size_t>(written));
  }
  return out;
}

}  // namespace

std::string base64Encode(std::string_view bytes) {
  return encodeBlock(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string base64UrlEncode(std::span<const unsigned char> bytes) {
  std::string out = encodeBlock(bytes.data(), bytes.size());
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

std::expected<std::string, std::string> base64Decode(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (const char c : text) {
    if (c != '\r' && c != '\n') clean += c;
  }
  if (clean.size() % 4 != 0) {
    return std::unexpected("not base64: " + std::to_string(clean.size()) +
                           " characters, not a multiple of 4 (padding missing?)");
  }
  std::size_t padding = 0;
  while (padding < 2 && padding < clean.size() && clean[clean.size() - 1 - padding] == '=') {
    ++padding;
  }
  for (std::size_t i = 0; i + padding < clean.size(); ++i) {
    if (!inStandardAlphabet(clean[i])) {
      return std::unexpected("not base64: character " + std::to_string(i + 1) +
                             (clean[i] == '=' ? " is padding before the end"
                                              : " is outside the standard alphabet"));
    }
  }
  std::string out;
  if (clean.empty()) return out;
  if (clean.size() > static_cast<std::size_t>(INT_MAX)) {
    return std::unexpected(std::string("not decoded: longer than 2 GiB"));
  }
  out.resize(clean.size() / 4 * 3);
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(clean.data()),
                                      static_cast<int>(clean.size()));
  if (written < 0 || static_cast<std::size_t>(written) != out.size()) {
    return std::unexpected(std::string("not base64: OpenSSL refused it"));
  }
  // EVP_DecodeBlock decodes '=' as zero bits and counts the bytes they make.
  out.resize(out.size() - padding);
  return out;
}

std::string sha256Hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  // EVP_Digest with SHA-256 cannot fail short of memory exhaustion; an empty result shows it.
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    return "";
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

RandomBytes systemRandomBytes() {
  return [](std::span<unsigned char> out) {
    if (out.size() > static_cast<std::size_t>(INT_MAX)) return false;
    return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
  };
}

}  // namespace sessionstore::crypto
