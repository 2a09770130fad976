#include "leaderelection/lease.h"

#include <gtest/gtest.h>

#include <chrono>

namespace sessionstore::leaderelection {
namespace {

using namespace std::chrono;

TEST(LeaseTest, ReadsTheRecordFromTheSpec) {
  const kube::Json lease = {{"spec",
                             {{"holderIdentity", "a"},
                              {"leaseDurationSeconds", 15},
                              {"acquireTime", "2026-11-22T00:00:00.000000Z"},
                              {"renewTime", "2026-11-22T00:00:02.000000Z"},
                              {"leaseTransitions", 3}}}};
  EXPECT_EQ(recordOf(lease), (LeaseRecord{.holderIdentity = "a",
                                          .leaseDurationSeconds = 15,
                                          .acquireTime = "2026-11-22T00:00:00.000000Z",
                                          .renewTime = "2026-11-22T00:00:02.000000Z",
                                          .leaseTransitions = 3}));
}

TEST(LeaseTest, MissingOrMistypedFieldsReadAsDefaults) {
  EXPECT_EQ(recordOf(kube::Json()), LeaseRecord{});
  EXPECT_EQ(recordOf(kube::Json{{"spec", "nope"}}), LeaseRecord{});
  const kube::Json lease = {
      {"spec", {{"holderIdentity", 7}, {"leaseDurationSeconds", "15"}, {"renewTime", nullptr}}}};
  EXPECT_EQ(recordOf(lease), LeaseRecord{});
}

TEST(LeaseTest, WritingKeepsMetadataAndOtherSpecFields) {
  const kube::Json lease = {
      {"metadata", {{"name", "l"}, {"resourceVersion", "42"}}},
      {"spec", {{"holderIdentity", "a"}, {"strategy", "OldestEmulationVersion"}}}};
  const LeaseRecord record{.holderIdentity = "b",
                           .leaseDurationSeconds = 15,
                           .acquireTime = "2026-11-22T00:00:00.000000Z",
                           .renewTime = "2026-11-22T00:00:00.000000Z",
                           .leaseTransitions = 1};
  const auto written = withRecord(lease, record);
  EXPECT_EQ(resourceVersionOf(written), "42");
  EXPECT_EQ(written["spec"]["strategy"], "OldestEmulationVersion");
  EXPECT_EQ(recordOf(written), record);
}

TEST(LeaseTest, ReleasedRecordWritesAnEmptyHolder) {
  const auto written = withRecord(kube::Json::object(), LeaseRecord{.leaseDurationSeconds = 1});
  EXPECT_EQ(written["spec"]["holderIdentity"], "");
  EXPECT_EQ(written["spec"]["leaseDurationSeconds"], 1);
  EXPECT_FALSE(written["spec"].contains("renewTime"));
}

TEST(LeaseTest, NewLeaseIsACoordinationV1Lease) {
  const auto lease = newLease("ops", "sessionstore-operator", LeaseRecord{.holderIdentity = "a"});
  EXPECT_EQ(lease["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(lease["kind"], "Lease");
  EXPECT_EQ(lease["metadata"]["namespace"], "ops");
  EXPECT_EQ(lease["metadata"]["name"], "sessionstore-operator");
  EXPECT_EQ(lease["spec"]["holderIdentity"], "a");
  EXPECT_EQ(resourceVersionOf(lease), "");
}

TEST(LeaseTest, MicroTimeIsRfc3339WithSixFractionalDigitsInUtc) {
  const clock::SystemTime midnight = sys_days{2026y / November / 22};
  EXPECT_EQ(formatMicroTime(midnight), "2026-11-22T00:00:00.000000Z");
  EXPECT_EQ(
      formatMicroTime(midnight + hours(23) + minutes(59) + seconds(58) + nanoseconds(123456789)),
      "2026-11-22T23:59:58.123456Z");
  EXPECT_EQ(formatMicroTime(clock::SystemTime{}), "1970-01-01T00:00:00.000000Z");
}

}  // namespace
}  // namespace sessionstore::leaderelection
