// What the manager checks before it starts anything: its bind addresses.
#include "manager/manager.h"

#include <gtest/gtest.h>

namespace sessionstore::manager {
namespace {

TEST(BindAddress, HostAndPortOrJustThePort) {
  EXPECT_EQ(parseAddress(":8080"), std::make_pair(std::string("0.0.0.0"), uint16_t{8080}));
  EXPECT_EQ(parseAddress("127.0.0.1:0"), std::make_pair(std::string("127.0.0.1"), uint16_t{0}));
  EXPECT_EQ(parseAddress("localhost:65535"),
            std::make_pair(std::string("localhost"), uint16_t{65535}));
}

TEST(BindAddress, SaysWhatIsWrong) {
  EXPECT_NE(parseAddress("8080").error().find("has no port"), std::string::npos);
  EXPECT_NE(parseAddress(":http").error().find("no valid port"), std::string::npos);
  EXPECT_NE(parseAddress(":65536").error().find("no valid port"), std::string::npos);
  EXPECT_NE(parseAddress("host:").error().find("no valid port"), std::string::npos);
}

}  // namespace
}  // namespace sessionstore::manager
