#include "crypto/crypto.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace sessionstore::crypto {
namespace {

struct Vector {
  std::string bytes;
  std::string base64;
};

// RFC 4648 section 10.
const std::vector<Vector> kRfc4648 = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                      {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                      {"foobar", "Zm9vYmFy"}};

TEST(Base64, EncodesTheRfcVectors) {
  for (const auto& [bytes, base64] : kRfc4648) EXPECT_EQ(base64Encode(bytes), base64) << bytes;
}

TEST(Base64, DecodesTheRfcVectors) {
  for (const auto& [bytes, base64] : kRfc4648) {
    const auto decoded = base64Decode(base64);
    ASSERT_TRUE(decoded) << base64 << ": " << decoded.error();
    EXPECT_EQ(*decoded, bytes);
  }
}

TEST(Base64, EveryByteRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t size = 0; size <= all.size(); size += 37) {
    const std::string bytes = all.substr(0, size);
    EXPECT_EQ(base64Decode(base64Encode(bytes)), bytes) << size;
  }
}

TEST(Base64, LongInputRoundTrips) {
  // Longer than the slice handed to OpenSSL at once, and not a multiple of it.
  std::string bytes(7 * 1024 * 1024 + 1, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7919 % 251);
  const std::string encoded = base64Encode(bytes);
  EXPECT_EQ(encoded.size(), (bytes.size() + 2) / 3 * 4);
  EXPECT_EQ(base64Decode(encoded), bytes);
}

TEST(Base64, LineBreaksAreIgnoredAsKubernetesDoes) {
  // Go's base64.StdEncoding skips '\r' and '\n' (a PEM-style wrapped kubeconfig field).
  EXPECT_EQ(base64Decode("Zm9v\nYmFy\r\n"), "foobar");
  EXPECT_EQ(base64Decode("Zm\n9vYg=\r\n="), "foob");
}

TEST(Base64, RefusesWhatKubernetesRefuses) {
  for (const std::string& bad : std::vector<std::string>{
           "Zm8",           // padding missing (the old kubeconfig decoder accepted it)
           "Zg=",           // padding short
           "Z===",          // three '='
           "====",          // only padding
           "Zg==Zg==",      // padding before the end
           "Zm=v",          // '=' inside a group
           "Zm9v YmFy",     // a space (the old kubeconfig decoder skipped it)
           "Zm9v\tYmFy",    // a tab, likewise
           "-_8=",          // the URL-safe alphabet
           "aGVs*G8=",      // outside any alphabet
           "a",             // a lone character
           std::string("Zm\0v", 4),
       }) {
    EXPECT_FALSE(base64Decode(bad)) << "accepted \"" << bad << "\"";
  }
}

TEST(Base64, AnErrorNeverQuotesTheInput) {
  // The input may be a password: the message names a position, not the text.
  const auto decoded = base64Decode("c2VjcmV0cGFzcw#=");
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().find("c2VjcmV0"), std::string::npos) << decoded.error();
  EXPECT_NE(decoded.error().find("character 15"), std::string::npos) << decoded.error();
}

TEST(Base64, TrailingBitsNeedNotBeZero) {
  // Go's StdEncoding is not Strict(): "Zh==" decodes like "Zg==".
  EXPECT_EQ(base64Decode("Zh=="), "f");
}

TEST(Base64Url, UsesTheUrlSafeAlphabetWithoutPadding) {
  const std::array<unsigned char, 5> bytes = {0xfb, 0xff, 0xbf, 0xfb, 0xff};
  EXPECT_EQ(base64UrlEncode(bytes), "-_-_-_8");
  EXPECT_EQ(base64UrlEncode(std::span<const unsigned char>()), "");
  const std::array<unsigned char, 1> one = {'f'};
  EXPECT_EQ(base64UrlEncode(one), "Zg");
}

TEST(Sha256Hex, KnownVectors) {
  // FIPS 180-2 appendix B.
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256Hex(std::string(1, '\0')),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST(SystemRandomBytes, FillsTheSpanWithFreshBytes) {
  const auto random = systemRandomBytes();
  std::array<unsigned char, 32> first{};
  std::array<unsigned char, 32> second{};
  ASSERT_TRUE(random(first));
  ASSERT_TRUE(random(second));
  EXPECT_NE(first, second);
  EXPECT_NE(first, (std::array<unsigned char, 32>{}));
  EXPECT_TRUE(random(std::span<unsigned char>()));
}

}  // namespace
}  // namespace sessionstore::crypto
