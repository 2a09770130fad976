// The SessionStore update filter, one case per field it watches, and the status-only change it
// drops.
#include "controller/predicate.h"

#include <gtest/gtest.h>

namespace sessionstore::controller {
namespace {

using informer::Json;

Json store() {
  return Json::parse(R"({
    "apiVersion": "sessionstore.io/v1alpha1", "kind": "SessionStore",
    "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "generation": 3,
                 "resourceVersion": "100", "finalizers": ["sessionstore.io/finalizer"],
                 "labels": {"team": "a"}, "annotations": {"note": "x"}},
    "spec": {"target": {"deployment": "web", "service": "web"}},
    "status": {"observedGeneration": 3, "conditions": []}})");
}

// `after` as a later version of `before` (a new resourceVersion), changed by `edit`.
Json changed(const std::function<void(Json&)>& edit) {
  Json after = store();
  after["metadata"]["resourceVersion"] = "101";
  edit(after);
  return after;
}

TEST(SessionStoreUpdateMatters, StatusOnlyChangeDoesNotPass) {
  const Json after = changed([](Json& s) {
    s["status"]["conditions"] = Json::array({{{"type", "Ready"}, {"status", "True"}}});
    s["status"]["replicas"] = 3;
  });
  EXPECT_FALSE(sessionStoreUpdateMatters(store(), after));
}

TEST(SessionStoreUpdateMatters, ManagedFieldsOnlyChangeDoesNotPass) {
  const Json after = changed([](Json& s) {
    s["metadata"]["managedFields"] = Json::array({{{"manager", "x"}}});
  });
  EXPECT_FALSE(sessionStoreUpdateMatters(store(), after));
}

TEST(SessionStoreUpdateMatters, GenerationChangePasses) {
  EXPECT_TRUE(sessionStoreUpdateMatters(store(),
                                        changed([](Json& s) { s["metadata"]["generation"] = 4; })));
}

TEST(SessionStoreUpdateMatters, DeletionTimestampSetPasses) {
  EXPECT_TRUE(sessionStoreUpdateMatters(
      store(),
      changed([](Json& s) { s["metadata"]["deletionTimestamp"] = "2026-12-05T08:00:00Z"; })));
}

TEST(SessionStoreUpdateMatters, UidChangePasses) {
  // Deleted and created again under the same name between two events.
  EXPECT_TRUE(
      sessionStoreUpdateMatters(store(), changed([](Json& s) { s["metadata"]["uid"] = "u2"; })));
}

TEST(SessionStoreUpdateMatters, FinalizerRemovedPasses) {
  EXPECT_TRUE(sessionStoreUpdateMatters(
      store(), changed([](Json& s) { s["metadata"]["finalizers"] = Json::array(); })));
}

TEST(SessionStoreUpdateMatters, FinalizerAddedPasses) {
  Json before = store();
  before["metadata"].erase("finalizers");
  EXPECT_TRUE(sessionStoreUpdateMatters(before, changed([](Json&) {})));
}

TEST(SessionStoreUpdateMatters, SomeoneElsesFinalizerDoesNotPass) {
  EXPECT_FALSE(sessionStoreUpdateMatters(
      store(),
      changed([](Json& s) { s["metadata"]["finalizers"].push_back("example.com/other"); })));
}

TEST(SessionStoreUpdateMatters, LabelChangePasses) {
  EXPECT_TRUE(sessionStoreUpdateMatters(
      store(), changed([](Json& s) { s["metadata"]["labels"]["team"] = "b"; })));
}

TEST(SessionStoreUpdateMatters, AnnotationChangePasses) {
  EXPECT_TRUE(sessionStoreUpdateMatters(
      store(), changed([](Json& s) { s["metadata"]["annotations"].erase("note"); })));
}

TEST(SessionStoreUpdateMatters, EmptyAndAbsentLabelsAreTheSame) {
  Json before = store();
  before["metadata"].erase("labels");
  EXPECT_FALSE(sessionStoreUpdateMatters(
      before, changed([](Json& s) { s["metadata"]["labels"] = Json::object(); })));
}

TEST(SessionStoreUpdateMatters, ResyncPasses) {
  // The informer's resync hands the cached object as both before and after.
  EXPECT_TRUE(sessionStoreUpdateMatters(store(), store()));
}

TEST(FilterUpdates, CallsOnUpdateOnlyWhenItMattersAndKeepsAddAndDelete) {
  int adds = 0, updates = 0, deletes = 0;
  const auto handlers =
      filterUpdates(informer::Handlers{.onAdd = [&](const Json&) { ++adds; },
                                       .onUpdate = [&](const Json&, const Json&) { ++updates; },
                                       .onDelete = [&](const Json&) { ++deletes; }},
                    sessionStoreUpdateMatters);
  const Json statusOnly = changed([](Json& s) { s["status"]["replicas"] = 2; });
  const Json specChange = changed([](Json& s) { s["metadata"]["generation"] = 4; });
  handlers.onAdd(store());
  handlers.onUpdate(store(), statusOnly);
  handlers.onUpdate(store(), specChange);
  handlers.onDelete(store());
  EXPECT_EQ(adds, 1);
  EXPECT_EQ(updates, 1);
  EXPECT_EQ(deletes, 1);
}

}  // namespace
}  // namespace sessionstore::controller
