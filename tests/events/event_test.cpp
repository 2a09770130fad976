#include "events/event.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace sessionstore::events {
namespace {

using namespace std::chrono;

const ObjectReference kStore{.apiVersion = "sessionstore.io/v1alpha1",
                             .kind = "SessionStore",
                             .ns = "shop",
                             .name = "web",
                             .uid = "6f1c",
                             .resourceVersion = "812"};

TEST(EventTest, MakesAnEventsV1Event) {
  const clock::SystemTime at = sys_days{2026y / November / 22} + microseconds(5);
  const auto event = makeEvent(EventSpec{.name = "web.18a",
                                         .regarding = kStore,
                                         .type = EventType::kWarning,
                                         .reason = "RedisUnreachable",
                                         .action = "Probe",
                                         .note = "PING timed out",
                                         .eventTime = at,
                                         .reportingController = "sessionstore-operator",
                                         .reportingInstance = "operator-0"});
  EXPECT_EQ(event, (kube::Json{
                       {"apiVersion", "events.k8s.io/v1"},
                       {"kind", "Event"},
                       {"metadata", {{"name", "web.18a"}, {"namespace", "shop"}}},
                       {"eventTime", "2026-11-22T00:00:00.000005Z"},
                       {"reportingController", "sessionstore-operator"},
                       {"reportingInstance", "operator-0"},
                       {"action", "Probe"},
                       {"reason", "RedisUnreachable"},
                       {"type", "Warning"},
                       {"note", "PING timed out"},
                       {"regarding",
                        {{"apiVersion", "sessionstore.io/v1alpha1"},
                         {"kind", "SessionStore"},
                         {"namespace", "shop"},
                         {"name", "web"},
                         {"uid", "6f1c"},
                         {"resourceVersion", "812"}}},
                   }));
}

TEST(EventTest, ClusterScopedObjectsGetTheirEventsInDefault) {
  EXPECT_EQ(eventNamespace(ObjectReference{.kind = "Namespace", .name = "shop"}), "default");
  EXPECT_EQ(eventNamespace(kStore), "shop");
}

TEST(EventTest, SeriesPatchCarriesCountAndLastObservedTime) {
  const clock::SystemTime at = sys_days{2026y / November / 22};
  EXPECT_EQ(seriesPatch(3, at),
            (kube::Json{
                {"series", {{"count", 3}, {"lastObservedTime", "2026-11-22T00:00:00.000000Z"}}}}));
}

TEST(EventTest, NameIsTheRegardingNameAndAHexSuffix) {
  EXPECT_EQ(eventName("web", 0x18a7f3c2d1e4b5a6ULL), "web.18a7f3c2d1e4b5a6");
}

TEST(EventTest, LongNamesAreShortenedToADnsSubdomain) {
  const std::string longName = std::string(230, 'a') + "-" + std::string(40, 'b');
  const auto name = eventName(longName, 0x18a7f3c2d1e4b5a6ULL);
  EXPECT_EQ(name.size(), kNameLimit);
  EXPECT_EQ(name, std::string(230, 'a') + "-" + std::string(5, 'b') + ".18a7f3c2d1e4b5a6");

  // A label cannot end with '-': the one the cut leaves at the end is dropped.
  const auto cutAtDash = eventName(std::string(235, 'a') + "-xyz", 0x18a7f3c2d1e4b5a6ULL);
  EXPECT_EQ(cutAtDash, std::string(235, 'a') + ".18a7f3c2d1e4b5a6");
}

TEST(EventTest, ClampKeepsShortTextAsIs) {
  EXPECT_EQ(clampUtf8("plain text", 1024), "plain text");
  EXPECT_EQ(clampUtf8("", 10), "");
}

TEST(EventTest, ClampCutsAtTheLimit) {
  EXPECT_EQ(clampUtf8(std::string(2000, 'x'), 1024), std::string(1024, 'x'));
}

TEST(EventTest, ClampNeverSplitsACharacter) {
  // "é" is two bytes; 1023 ASCII bytes leave room for one byte only.
  const std::string text = std::string(1023, 'x') + "\xC3\xA9";
  EXPECT_EQ(clampUtf8(text, 1024), std::string(1023, 'x'));
  EXPECT_EQ(clampUtf8("a\xF0\x9F\x98\x80", 4), "a");  // a four-byte emoji does not fit
  EXPECT_EQ(clampUtf8("a\xF0\x9F\x98\x80", 5), "a\xF0\x9F\x98\x80");
}

TEST(EventTest, ClampReplacesInvalidBytes) {
  EXPECT_EQ(clampUtf8("a\xFF"
                      "b",
                      10),
            "a?b");
  EXPECT_EQ(clampUtf8("\xC3", 10), "?");                     // truncated sequence
  EXPECT_EQ(clampUtf8("\xC0\xAF", 10), "??");                // overlong '/'
  EXPECT_EQ(clampUtf8("\xED\xA0\x80", 10), "???");           // UTF-16 surrogate
  EXPECT_EQ(clampUtf8("\xE2\x82\xAC", 10), "\xE2\x82\xAC");  // the euro sign is fine
}

}  // namespace
}  // namespace sessionstore::events
