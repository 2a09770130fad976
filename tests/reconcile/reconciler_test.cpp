// The reconciler with a GoogleMock API (the passes themselves are proven against a real API
// server in tests/integration): which updates of a SessionStore are the echoes of its own writes.
#include "reconcile/reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "events/recorder.h"
#include "mocks/kube/mock_client.h"

namespace sessionstore::reconcile {
namespace {

using kube::Json;
using ::testing::_;
using ::testing::NiceMock;

class UnreachableStore : public health::StoreProber {
 public:
  health::ProbeResult probe(const wiring::StoreEndpoint&,
                            const std::optional<wiring::StoreEndpoint>&) override {
    return {.ok = false, .reason = "Unreachable", .message = "connection refused"};
  }
};

bool fixedBytes(std::span<unsigned char> out) {
  std::fill(out.begin(), out.end(), static_cast<unsigned char>(7));
  return true;
}

Json withVersion(Json object, const std::string& version) {
  object["metadata"]["resourceVersion"] = version;
  return object;
}

Json storeAt(const std::string& version, Json spec) {
  return {{"apiVersion", "sessionstore.io/v1alpha1"},
          {"kind", "SessionStore"},
          {"metadata",
           {{"namespace", "shop"},
            {"name", "web"},
            {"uid", "u-1"},
            {"generation", 1},
            {"resourceVersion", version}}},
          {"spec", std::move(spec)}};
}

const Json kManagedSpec = {{"target", {{"deployment", "web"}}}, {"store", {{"type", "Managed"}}}};

// The API answers every create with the body, every read with NotFound (a new namespace with
// no Deployment yet), the finalizer patch with version 2 and the status write with version 3.
class ReconcilerEchoes : public ::testing::Test {
 protected:
  void SetUp() override {
    ON_CALL(client_, create(_, _, _, _))
        .WillByDefault([](const kube::Resource&, const std::string&, const Json& body,
                          const kube::CreateOptions&) -> kube::Result<Json> {
          return withVersion(body, "100");
        });
    ON_CALL(client_, get(_, _, _, _))
        .WillByDefault([](const kube::Resource&, const std::string&, const std::string&,
                          const std::string&) -> kube::Result<Json> {
          return std::unexpected(kube::Error{.kind = kube::ErrorKind::kNotFound});
        });
    ON_CALL(client_, patch(_, _, _, _, _, _))
        .WillByDefault([this](const kube::Resource&, const std::string&, const std::string&,
                              kube::PatchType, const Json& patch,
                              const kube::PatchOptions&) -> kube::Result<Json> {
          Json written = cached_;
          written["metadata"]["finalizers"] = patch["metadata"]["finalizers"];
          return withVersion(written, "2");
        });
    ON_CALL(client_, update(_, _, _, _))
        .WillByDefault([this](const kube::Resource&, const std::string&, const Json& body,
                              const std::string&) -> kube::Result<Json> {
          ++statusWrites_;
          if (duringStatusWrite_) duringStatusWrite_();
          return withVersion(body, "3");
        });
  }

  Reconciler make() {
    return Reconciler(
        client_, prober_, fixedBytes, nullptr,
        {.cachedStore = [this](const std::string&, const std::string&) -> std::optional<Json> {
          if (cached_.is_null()) return std::nullopt;
          return cached_;
        }});
  }

  NiceMock<kube::MockClient> client_;
  UnreachableStore prober_;
  Json cached_ = storeAt("1", kManagedSpec);
  std::atomic<int> statusWrites_{0};
  // What the watch brings before the status write's response does.
  std::function<void()> duringStatusWrite_;
};

TEST_F(ReconcilerEchoes, TheFinalizerAndStatusOfAPassAreItsOwnWritesOnce) {
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  ASSERT_EQ(statusWrites_, 1);

  EXPECT_FALSE(reconciler.isOwnWrite(storeAt("1", kManagedSpec))) << "the version it started from";
  EXPECT_TRUE(reconciler.isOwnWrite(storeAt("2", kManagedSpec))) << "the finalizer's";
  EXPECT_TRUE(reconciler.isOwnWrite(storeAt("3", kManagedSpec))) << "the status'";
  EXPECT_FALSE(reconciler.isOwnWrite(storeAt("3", kManagedSpec))) << "each version once";
  EXPECT_FALSE(reconciler.isOwnWrite(storeAt("4", kManagedSpec))) << "someone else's";
}

TEST_F(ReconcilerEchoes, AVersionLaterThanTheEchoTakesTheOlderOnesWithIt) {
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  // The watch may skip the finalizer's version (a relist): once the status' came back, the
  // finalizer's can no longer come and is forgotten.
  EXPECT_TRUE(reconciler.isOwnWrite(storeAt("3", kManagedSpec)));
  EXPECT_FALSE(reconciler.isOwnWrite(storeAt("2", kManagedSpec)));
}

TEST_F(ReconcilerEchoes, AnotherStoreOrAnObjectWithoutAVersionIsNeverAnEcho) {
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  Json other = storeAt("3", kManagedSpec);
  other["metadata"]["name"] = "api";
  EXPECT_FALSE(reconciler.isOwnWrite(other));
  Json unversioned = storeAt("3", kManagedSpec);
  unversioned["metadata"].erase("resourceVersion");
  EXPECT_FALSE(reconciler.isOwnWrite(unversioned));
  EXPECT_FALSE(reconciler.isOwnWrite(Json::array()));
  EXPECT_FALSE(reconciler.isOwnWrite({{"metadata", {{"namespace", 1}, {"name", "web"}}}}));
  EXPECT_TRUE(reconciler.isOwnWrite(storeAt("3", kManagedSpec)));
}

TEST_F(ReconcilerEchoes, TheStatusOfAnInvalidSpecIsAnOwnWriteToo) {
  cached_ = storeAt("1", {{"target", {{"deployment", 42}}}});
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  ASSERT_EQ(statusWrites_, 1) << "the InvalidSpec condition is written";
  EXPECT_TRUE(reconciler.isOwnWrite(storeAt("3", cached_["spec"])));
}

TEST_F(ReconcilerEchoes, AnEchoQuickerThanTheWritesResponseIsStillAnEcho) {
  Reconciler reconciler = make();
  std::vector<bool> answers;
  duringStatusWrite_ = [&] {
    answers.push_back(reconciler.isOwnWrite(storeAt("3", kManagedSpec)));
  };
  const auto outcome = reconciler.reconcile("shop/web");
  EXPECT_EQ(answers, std::vector<bool>{true}) << "held back while the write was on its way";
  EXPECT_EQ(outcome.kind, workqueue::Outcome::Kind::kRequeueAfter);
  EXPECT_GT(outcome.after, clock::Duration::zero()) << "the store waits for its Redis: no hurry";
  EXPECT_FALSE(reconciler.isOwnWrite(storeAt("3", kManagedSpec))) << "it came back already";
}

TEST_F(ReconcilerEchoes, SomeoneElsesChangeDuringTheWriteRunsThePassAgainAtOnce) {
  Reconciler reconciler = make();
  std::vector<bool> answers;
  duringStatusWrite_ = [&] {
    answers.push_back(reconciler.isOwnWrite(storeAt("3", kManagedSpec)));  // the echo
    answers.push_back(reconciler.isOwnWrite(storeAt("4", kManagedSpec)));  // a user's edit
  };
  const auto outcome = reconciler.reconcile("shop/web");
  EXPECT_EQ(answers, (std::vector<bool>{true, true})) << "both held back until the write returns";
  EXPECT_EQ(outcome.kind, workqueue::Outcome::Kind::kRequeueAfter);
  EXPECT_EQ(outcome.after, clock::Duration::zero()) << "the user's edit is looked at now";

  // The next pass has nothing held back: it waits as usual.
  duringStatusWrite_ = nullptr;
  cached_ = storeAt("4", kManagedSpec);
  const auto next = reconciler.reconcile("shop/web");
  EXPECT_GT(next.after, clock::Duration::zero());
}

TEST_F(ReconcilerEchoes, AFailedWriteMakesEverythingHeldBackSomeoneElses) {
  ON_CALL(client_, update(_, _, _, _))
      .WillByDefault([this](const kube::Resource&, const std::string&, const Json&,
                            const std::string&) -> kube::Result<Json> {
        ++statusWrites_;
        if (duringStatusWrite_) duringStatusWrite_();
        return std::unexpected(kube::Error{.kind = kube::ErrorKind::kConflict});
      });
  Reconciler reconciler = make();
  duringStatusWrite_ = [&] { EXPECT_TRUE(reconciler.isOwnWrite(storeAt("5", kManagedSpec))); };
  const auto outcome = reconciler.reconcile("shop/web");
  EXPECT_EQ(outcome.kind, workqueue::Outcome::Kind::kRetry) << "a lost write is retried";
  EXPECT_FALSE(reconciler.isOwnWrite(storeAt("5", kManagedSpec)));
}

TEST_F(ReconcilerEchoes, ADeletedStoreIsForgotten) {
  Reconciler reconciler = make();
  reconciler.reconcile("shop/web");
  cached_ = nullptr;  // gone from the cache, and the server answers NotFound
  reconciler.reconcile("shop/web");
  EXPECT_FALSE(reconciler.isOwnWrite(storeAt("3", kManagedSpec)));
}

// The objects a pass creates side by side are each told once in its Created Event (each ran on
// a copy of the pass, and joining the copies used to repeat what the pass held before them: a
// note listed the password Secret up to nine times).
TEST_F(ReconcilerEchoes, TheCreatedEventNamesEachObjectOnce) {
  events::EventRecorder recorder(client_, clock::systemClock(), {.reportingInstance = "test"});
  std::vector<std::string> notes;
  ON_CALL(client_, create(_, _, _, _))
      .WillByDefault([&notes](const kube::Resource& resource, const std::string&, const Json& body,
                              const kube::CreateOptions&) -> kube::Result<Json> {
        if (resource.resource == "events") notes.push_back(body.value("note", ""));
        return withVersion(body, "100");
      });
  Reconciler reconciler(
      client_, prober_, fixedBytes, &recorder,
      {.cachedStore = [this](const std::string&, const std::string&) -> std::optional<Json> {
        return cached_;
      }});
  reconciler.reconcile("shop/web");
  recorder.sendDue();
  const auto created = std::find_if(notes.begin(), notes.end(), [](const std::string& note) {
    return note.starts_with("created ");
  });
  ASSERT_NE(created, notes.end()) << ::testing::PrintToString(notes);
  for (const std::string object :
       {"Secret web-redis-auth", "ConfigMap web-redis-config", "Service web-redis-headless",
        "Service web-redis,", "StatefulSet web-redis"}) {
    std::size_t count = 0;
    for (auto at = created->find(object); at != std::string::npos;
         at = created->find(object, at + 1)) {
      ++count;
    }
    EXPECT_EQ(count, 1u) << object << " in: " << *created;
  }
}

}  // namespace
}  // namespace sessionstore::reconcile
