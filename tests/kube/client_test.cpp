// What Client adds over the raw verbs: listAll follows continue tokens and starts over once when
// one has expired; apply needs a name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mocks/kube/mock_client.h"

namespace sessionstore::kube {
namespace {

using ::testing::_;
using ::testing::Field;
using ::testing::Return;

ObjectList page(std::vector<std::string> names, std::string rv, std::string next) {
  ObjectList list{.resourceVersion = std::move(rv), .continueToken = std::move(next)};
  for (auto& n : names) list.items.push_back(Json{{"metadata", {{"name", n}}}});
  return list;
}

TEST(ListAll, FollowsContinueTokens) {
  MockClient client;
  EXPECT_CALL(client, list(_, "ns", Field(&ListOptions::continueToken, "")))
      .WillOnce(Return(page({"a", "b"}, "10", "t1")));
  EXPECT_CALL(client, list(_, "ns", Field(&ListOptions::continueToken, "t1")))
      .WillOnce(Return(page({"c"}, "10", "")));
  auto all = client.listAll(resources::kConfigMaps, "ns", ListOptions{.limit = 2});
  ASSERT_TRUE(all) << all.error().describe();
  EXPECT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->resourceVersion, "10");
}

TEST(ListAll, StartsOverOnceWhenAContinueTokenHasExpired) {
  MockClient client;
  EXPECT_CALL(client, list(_, "ns", Field(&ListOptions::continueToken, "")))
      .WillOnce(Return(page({"a", "b"}, "10", "t1")))
      .WillOnce(Return(page({"a", "b"}, "20", "t2")));
  EXPECT_CALL(client, list(_, "ns", Field(&ListOptions::continueToken, "t1")))
      .WillOnce(Return(std::unexpected(Error{.kind = ErrorKind::kGone, .httpStatus = 410})));
  EXPECT_CALL(client, list(_, "ns", Field(&ListOptions::continueToken, "t2")))
      .WillOnce(Return(page({"c"}, "20", "")));
  auto all = client.listAll(resources::kConfigMaps, "ns", ListOptions{.limit = 2});
  ASSERT_TRUE(all) << all.error().describe();
  EXPECT_EQ(all->items.size(), 3u);  // the first attempt's items are not kept twice
  EXPECT_EQ(all->resourceVersion, "20");
}

TEST(ListAll, GivesUpAfterASecondExpiry) {
  MockClient client;
  EXPECT_CALL(client, list(_, "ns", Field(&ListOptions::continueToken, "")))
      .WillRepeatedly(Return(page({"a"}, "10", "t")));
  EXPECT_CALL(client, list(_, "ns", Field(&ListOptions::continueToken, "t")))
      .WillRepeatedly(Return(std::unexpected(Error{.kind = ErrorKind::kGone, .httpStatus = 410})));
  auto all = client.listAll(resources::kConfigMaps, "ns", ListOptions{.limit = 1});
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().kind, ErrorKind::kGone);
}

TEST(Apply, NeedsAName) {
  MockClient client;
  EXPECT_CALL(client, patch(_, _, _, _, _, _)).Times(0);
  auto applied =
      client.apply(resources::kConfigMaps, "ns", Json{{"metadata", Json::object()}}, "me");
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().kind, ErrorKind::kBadRequest);
}

}  // namespace
}  // namespace sessionstore::kube
