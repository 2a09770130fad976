// Image references by distribution/reference's grammar, and the --allowed-images list's exact
// matching rules (imageref/image_ref.h).
#include "imageref/image_ref.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sessionstore::imageref {
namespace {

TEST(ImageRef, ValidReferencesSplitIntoTheirParts) {
  struct Row {
    std::string text;
    ImageRef want;
    std::string canonical;
  };
  const std::string digest = "sha256:" + std::string(64, 'a');
  const std::vector<Row> rows = {
      {"redis", {.path = "redis"}, "docker.io/library/redis"},
      {"redis:7.2-alpine", {.path = "redis", .tag = "7.2-alpine"}, "docker.io/library/redis"},
      {"bitnami/redis:7", {.path = "bitnami/redis", .tag = "7"}, "docker.io/bitnami/redis"},
      {"registry.example.com/team/redis:7",
       {.domain = "registry.example.com", .path = "team/redis", .tag = "7"},
       "registry.example.com/team/redis"},
      {"registry.example.com:5000/redis@" + digest,
       {.domain = "registry.example.com:5000", .path = "redis", .digest = digest},
       "registry.example.com:5000/redis"},
      {"localhost/redis:7_x",
       {.domain = "localhost", .path = "redis", .tag = "7_x"},
       "localhost/redis"},
      {"Registry.Example.com/a__b.c---d/e",
       {.domain = "Registry.Example.com", .path = "a__b.c---d/e"},
       "Registry.Example.com/a__b.c---d/e"},
      {"[::1]:5000/redis:7",
       {.domain = "[::1]:5000", .path = "redis", .tag = "7"},
       "[::1]:5000/redis"},
      {"redis:7@" + digest,
       {.path = "redis", .tag = "7", .digest = digest},
       "docker.io/library/redis"},
      // A registry in upper case stays as written: in lower case "rediA/x" would read as a path
      // and "[D1]" not at all (both found by image_ref_fuzz).
      {"[D1]/a", {.domain = "[D1]", .path = "a"}, "[D1]/a"},
      {"rediA/x", {.domain = "rediA", .path = "x"}, "rediA/x"},
      {"[d1]/a", {.domain = "[d1]", .path = "a"}, "[d1]/a"},
  };
  for (const auto& row : rows) {
    const auto parsed = parse(row.text);
    ASSERT_TRUE(parsed.has_value()) << row.text << ": " << parsed.error();
    EXPECT_EQ(*parsed, row.want) << row.text;
    EXPECT_EQ(parsed->canonicalName(), row.canonical) << row.text;
    EXPECT_EQ(parsed->toString(), row.text);
    EXPECT_TRUE(parse(parsed->canonicalName()).has_value()) << row.canonical;
  }
}

TEST(ImageRef, InvalidReferencesSayWhatIsWrong) {
  struct Row {
    std::string text;
    std::string error;
  };
  const std::vector<Row> rows = {
      {"", "the image is empty"},
      {"redis:7\nFLUSHALL", "the image has a space, control or non-ASCII character at position 8"},
      {"redis:7 ", "the image has a space, control or non-ASCII character at position 8"},
      {std::string("redis\0:7", 8), "at position 6"},
      {"r\xc3\xa9"
       "dis",
       "at position 2"},
      {"Redis", "the repository \"Redis\" must be lower-case"},
      {"team/Redis", "the repository \"team/Redis\" must be lower-case"},
      {"redis:", "the tag must be 1 to 128"},
      {"redis:.7", "the tag must be 1 to 128"},
      {"redis:" + std::string(129, 't'), "the tag must be 1 to 128"},
      {"redis@sha256:abc", "the digest must be ALGORITHM:HEX"},
      {"redis@" + std::string(64, 'a'), "the digest must be ALGORITHM:HEX"},
      {"redis@sha256:" + std::string(63, 'a') + "g", "the digest must be ALGORITHM:HEX"},
      {"-registry.example.com/redis", "is not a host name"},
      {"registry.example.com:port/redis", "the registry \"registry.example.com:port\" has a port"},
      {"registry..example.com/redis", "the registry \"registry..example.com\" is not a host name"},
      {"registry.example.com/", "the repository \"\""},
      {"redis//x", "the repository"},
      {"redis/x/", "the repository"},
      {"a-/b", "the repository"},
      {"redis.", "the repository"},
      {std::string(256, 'a'), "the image name is longer than 255 characters"},
      // 250 characters as written, 266 as pulled (docker.io/library/...): found by image_ref_fuzz.
      {"team/" + std::string(245, 'a'),
       "longer than 255 characters as it is pulled (docker.io/..., with the registry"},
      {std::string(250, 'a'), "as it is pulled"},
      {std::string(600, 'a'), "longer than 512"},
  };
  for (const auto& row : rows) {
    const auto parsed = parse(row.text);
    ASSERT_FALSE(parsed.has_value()) << row.text;
    EXPECT_NE(parsed.error().find(row.error), std::string::npos)
        << row.text << ": " << parsed.error();
    for (char c : parsed.error()) {
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << "a control character in the error";
    }
  }
}

bool allowed(const std::string& list, const std::string& image) {
  const auto parsedList = AllowList::parse(list);
  EXPECT_TRUE(parsedList.has_value()) << list << ": " << parsedList.error();
  const auto parsedImage = parse(image);
  EXPECT_TRUE(parsedImage.has_value()) << image;
  return parsedList && parsedImage && parsedList->allows(*parsedImage);
}

TEST(AllowList, EmptyAllowsEveryImage) {
  EXPECT_TRUE(allowed("", "evil.example.com/x:1"));
  EXPECT_TRUE(allowed(" , ", "redis"));
}

TEST(AllowList, ARegistryAllowsExactlyThatRegistry) {
  const std::string list = "registry.example.com";
  EXPECT_TRUE(allowed(list, "registry.example.com/redis:7"));
  EXPECT_TRUE(allowed(list, "REGISTRY.example.com/team/redis"));
  EXPECT_FALSE(allowed(list, "registry.example.com:5000/redis"));
  EXPECT_FALSE(allowed(list, "registry.example.com.evil.io/redis"));
  EXPECT_FALSE(allowed(list, "evil.io/registry.example.com/redis"));
  EXPECT_FALSE(allowed(list, "redis"));
  EXPECT_TRUE(allowed("docker.io", "redis:7.2-alpine"));
  EXPECT_TRUE(allowed("localhost:5000", "localhost:5000/redis"));
  EXPECT_FALSE(allowed("localhost:5000", "localhost/redis"));
}

TEST(AllowList, AnImageNamePrefixMatchesAtAPathBoundary) {
  const std::string list = "registry.example.com/redis";
  EXPECT_TRUE(allowed(list, "registry.example.com/redis"));
  EXPECT_TRUE(allowed(list, "registry.example.com/redis:7"));
  EXPECT_TRUE(allowed(list, "registry.example.com/redis/sentinel:7"));
  EXPECT_FALSE(allowed(list, "registry.example.com/redis-evil:7"));
  EXPECT_FALSE(allowed(list, "registry.example.com/redisx"));
  EXPECT_FALSE(allowed(list, "registry.example.com/team/redis"));
  // Docker Hub's defaults on both sides.
  EXPECT_TRUE(allowed("redis", "redis:7.2-alpine"));
  EXPECT_TRUE(allowed("redis", "docker.io/library/redis:7"));
  EXPECT_FALSE(allowed("redis", "redisevil"));
  EXPECT_FALSE(allowed("redis", "bitnami/redis"));
  EXPECT_TRUE(allowed("bitnami/redis", "docker.io/bitnami/redis:7"));
  EXPECT_TRUE(allowed("docker.io/bitnami", "bitnami/redis:7"));
  EXPECT_FALSE(allowed("docker.io/bitnami", "bitnamievil/redis:7"));
  // Any entry of the list.
  EXPECT_TRUE(allowed("quay.io, registry.example.com/redis", "quay.io/x/y"));
  EXPECT_TRUE(allowed("quay.io,registry.example.com/redis", "registry.example.com/redis:1"));
}

TEST(AllowList, MalformedEntriesAreErrorsNamingThem) {
  for (const auto& [list, error] : std::vector<std::pair<std::string, std::string>>{
           {"registry.example.com/redis:7",
            "entry \"registry.example.com/redis:7\": give a "
            "registry or an image name, without a tag or digest"},
           {"Registry Example", "entry \"Registry Example\""},
           {"quay.io, bad..host", "entry \"bad..host\": the registry"},
           {"registry.example.com/Team", "must be lower-case"}}) {
    const auto parsed = AllowList::parse(list);
    ASSERT_FALSE(parsed.has_value()) << list;
    EXPECT_NE(parsed.error().find(error), std::string::npos) << parsed.error();
  }
  const auto list = AllowList::parse(" quay.io ,registry.example.com/redis ");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->describe(), "quay.io, registry.example.com/redis");
}

}  // namespace
}  // namespace sessionstore::imageref
