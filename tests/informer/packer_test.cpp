// The informer's packing of cached objects: what is packed comes back byte for byte, objects like
// the first one (the dictionary) pack far below their CBOR, and corrupt input is an error, not a
// crash or a wrong object.
#include "informer/packer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace sessionstore::informer {
namespace {

using Json = nlohmann::json;

std::vector<std::uint8_t> statefulSet(const std::string& name) {
  Json object = Json::parse(R"({
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"namespace": "shop", "resourceVersion": "1234",
      "labels": {"app.kubernetes.io/managed-by": "sessionstore-operator"}},
    "spec": {"replicas": 1, "template": {"spec": {"containers": [
      {"name": "redis", "image": "redis:7.0", "args": ["/etc/redis/redis.conf"],
       "ports": [{"name": "redis", "containerPort": 6379}],
       "resources": {"limits": {"memory": "160Mi"}}}]}}}})");
  object["metadata"]["name"] = name + "-redis";
  object["metadata"]["uid"] = "0d7c1e44-" + name;
  object["metadata"]["labels"]["app.kubernetes.io/instance"] = name;
  object["spec"]["serviceName"] = name + "-redis-headless";
  return Json::to_cbor(object);
}

TEST(Packer, WhatIsPackedComesBackByteForByte) {
  Packer packer;
  const auto first = statefulSet("web");
  const auto second = statefulSet("cart");
  const auto packedFirst = packer.pack(first);
  const auto packedSecond = packer.pack(second);
  EXPECT_EQ(packer.unpack(packedFirst), first);
  EXPECT_EQ(packer.unpack(packedSecond), second);
  EXPECT_EQ(packedSecond.size, second.size());
  const std::vector<std::uint8_t> unlike = Json::to_cbor(Json{{"data", {{"k", "something else"}}}});
  EXPECT_EQ(packer.unpack(packer.pack(unlike)), unlike);
}

// The first object is the dictionary: an object like it keeps only what differs.
TEST(Packer, AnObjectLikeTheFirstPacksToAFractionOfItsCbor) {
  Packer packer;
  packer.pack(statefulSet("web"));
  const auto cbor = statefulSet("cart");
  const auto packed = packer.pack(cbor);
  EXPECT_LT(packed.bytes.size() * 4, cbor.size())
      << packed.bytes.size() << " bytes packed of " << cbor.size();
}

TEST(Packer, CorruptInputIsAnErrorNotAWrongObject) {
  Packer packer;
  auto packed = packer.pack(statefulSet("web"));
  auto truncated = packed;
  truncated.bytes.resize(truncated.bytes.size() / 2);
  EXPECT_THROW(packer.unpack(truncated), PackError);
  auto wrongSize = packed;
  wrongSize.size += 10;
  EXPECT_THROW(packer.unpack(wrongSize), PackError);
  auto garbage = packed;
  for (auto& byte : garbage.bytes) byte = 0xff;
  EXPECT_THROW(packer.unpack(garbage), PackError);
}

}  // namespace
}  // namespace sessionstore::informer
