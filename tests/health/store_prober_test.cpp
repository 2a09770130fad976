// The prober against a real redis-server is covered by the integration tests; here: the address
// map file the operator reads when it runs outside the cluster.
#include "health/store_prober.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace sessionstore::health {
namespace {

class AddressMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("address-map-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void write(const std::string& text) {
    std::ofstream(path_) << text;
    // A new modification time even on coarse clocks.
    std::filesystem::last_write_time(
        path_, std::filesystem::last_write_time(path_) + std::chrono::seconds(++bumps_));
  }
  std::filesystem::path path_;
  int bumps_ = 0;
};

TEST_F(AddressMapTest, MapsListedAddressesAndLeavesOthers) {
  write("# comment\n\nweb-redis.shop.svc:6379 127.0.0.1:41000\n[::1]:6380 localhost:7000\n");
  auto map = AddressMap::open(path_);
  ASSERT_TRUE(map) << map.error();
  EXPECT_EQ((*map)->resolve("web-redis.shop.svc", 6379),
            (std::pair<std::string, int>{"127.0.0.1", 41000}));
  EXPECT_EQ((*map)->resolve("::1", 6380), (std::pair<std::string, int>{"localhost", 7000}));
  EXPECT_EQ((*map)->resolve("other.svc", 6379), (std::pair<std::string, int>{"other.svc", 6379}));
}

TEST_F(AddressMapTest, ReReadsTheFileWhenItChangesAndKeepsTheLastGoodMapOnAnError) {
  write("a.svc:6379 127.0.0.1:1000\n");
  auto map = AddressMap::open(path_);
  ASSERT_TRUE(map);
  write("a.svc:6379 127.0.0.1:2000\n");
  EXPECT_EQ((*map)->resolve("a.svc", 6379).second, 2000);
  write("a.svc:6379\n");
  EXPECT_EQ((*map)->resolve("a.svc", 6379).second, 2000);
  EXPECT_NE((*map)->lastError().find(":1: expected"), std::string::npos) << (*map)->lastError();
}

TEST_F(AddressMapTest, ABadFileAtStartIsAnErrorNamingTheLine) {
  write("ok.svc:6379 127.0.0.1:1\nbad.svc:99999 127.0.0.1:2\n");
  auto map = AddressMap::open(path_);
  ASSERT_FALSE(map);
  EXPECT_NE(map.error().find(":2: \"bad.svc:99999\": the port must be 1 to 65535"),
            std::string::npos)
      << map.error();
  EXPECT_FALSE(AddressMap::open(path_.string() + ".missing"));
}

TEST(AddressMap, NoPathMapsNothing) {
  auto map = AddressMap::open("");
  ASSERT_TRUE(map);
  EXPECT_EQ((*map)->resolve("x", 1), (std::pair<std::string, int>{"x", 1}));
}

}  // namespace
}  // namespace sessionstore::health
