// The delegating client against a mocked server: an informer fed through the mock's watch is
// the cache; reads come from it when it holds the object, from the server otherwise, and never
// answer with a copy older than the client's own last write.
#include "cache/cached_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "mocks/clock/fake_clock.h"
#include "mocks/kube/mock_client.h"

namespace sessionstore::cache {
namespace {

using kube::WatchEvent;
using kube::WatchEventType;
using ::testing::_;
using ::testing::Return;
const kube::Resource& kCm = kube::resources::kConfigMaps;

Json configMap(const std::string& name, const std::string& rv, const std::string& value) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}},
              {"data", {{"k", value}}}};
}

// A watch stream the test feeds event by event; next() blocks until an event or cancel().
class FedStream final : public kube::WatchStream {
 public:
  void push(WatchEvent event) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
    cv_.notify_all();
  }
  kube::Result<std::optional<WatchEvent>> next() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return cancelled_ || !events_.empty(); });
    if (events_.empty()) return std::optional<WatchEvent>();
    auto event = std::move(events_.front());
    events_.pop_front();
    return std::optional<WatchEvent>(std::move(event));
  }
  void cancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> events_;
  bool cancelled_ = false;
};

class CachedClientTest : public ::testing::Test {
 protected:
  void startCache(std::vector<Json> listed, std::vector<std::string> indexedFields = {},
                  std::string labelSelector = "") {
    const uint64_t adds = listed.size();
    stream_ = new FedStream();  // owned by the informer once watch() returns it
    EXPECT_CALL(server_, list(kCm, "ns", _))
        .WillOnce(Return(kube::ObjectList{.items = std::move(listed), .resourceVersion = "10"}));
    EXPECT_CALL(server_, watch(kCm, "ns", _))
        .WillOnce([this](auto&&...) { return std::unique_ptr<kube::WatchStream>(stream_); })
        .WillRepeatedly([](auto&&...) -> kube::Result<std::unique_ptr<kube::WatchStream>> {
          return std::unique_ptr<kube::WatchStream>(new FedStream());
        });
    informer_ = std::make_unique<informer::Informer>(
        server_,
        informer::InformerOptions{
            .resource = kCm,
            .namespaces = {"ns"},
            .labelSelector = std::move(labelSelector),
            .indexedFields = std::move(indexedFields)},
        client_.observing(
            kCm, informer::Handlers{.onAdd = [this](const Json&) { seen(); },
                                    .onUpdate = [this](const Json&, const Json&) { seen(); },
                                    .onDelete = [this](const Json&) { seen(); }}));
    client_.serveFrom(*informer_);
    informer_->start();
    ASSERT_TRUE(informer_->waitForSync(std::chrono::seconds(10)));
    // The list's adds reach the handlers after the cache says it has synced.
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return events_ >= adds; }));
  }
  void TearDown() override {
    if (informer_) informer_->stop();
  }
  // Feeds one event and waits (bounded, for the handler's call, not for time) until applied.
  void feed(WatchEventType type, Json object) {
    uint64_t before;
    {
      std::lock_guard lock(mu_);
      before = events_;
    }
    stream_->push(WatchEvent{type, std::move(object)});
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return events_ > before; }));
  }
  void seen() {
    std::lock_guard lock(mu_);
    ++events_;
    cv_.notify_all();
  }

  ::testing::StrictMock<kube::MockClient> server_;
  clock::FakeClock clock_;
  CachedClient client_{server_, clock_};
  std::unique_ptr<informer::Informer> informer_;
  FedStream* stream_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t events_ = 0;  // GUARDED_BY(mu_)
};

TEST_F(CachedClientTest, AnswersFromTheCacheWithoutARequest) {
  startCache({configMap("a", "5", "one")});
  auto got = client_.get(kCm, "ns", "a");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["data"]["k"], "one");
  EXPECT_EQ(client_.stats().cacheHits, 1u);
  EXPECT_EQ(client_.stats().serverReads, 0u);
}

TEST_F(CachedClientTest, AMissAsksTheServer) {
  startCache({});
  // Outside the cache's label scope: a same-named object of the user's.
  EXPECT_CALL(server_, get(kCm, "ns", "users", "")).WillOnce(Return(configMap("users", "7", "u")));
  auto got = client_.get(kCm, "ns", "users");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["data"]["k"], "u");
  EXPECT_EQ(client_.stats().serverReads, 1u);
}

TEST_F(CachedClientTest, ResourcesWithoutACacheAndSubresourcesAskTheServer) {
  startCache({configMap("a", "5", "one")});
  EXPECT_CALL(server_, get(kube::resources::kSecrets, "ns", "a", ""))
      .WillOnce(Return(Json{{"metadata", {{"name", "a"}}}}));
  EXPECT_CALL(server_, get(kCm, "ns", "a", "status")).WillOnce(Return(configMap("a", "5", "s")));
  EXPECT_TRUE(client_.get(kube::resources::kSecrets, "ns", "a"));
  EXPECT_TRUE(client_.get(kCm, "ns", "a", "status"));
  EXPECT_EQ(client_.stats().serverReads, 2u);
  EXPECT_EQ(client_.stats().cacheHits, 0u);
}

TEST_F(CachedClientTest, BeforeTheCacheSyncsReadsGoToTheServer) {
  informer::Informer unsynced(server_, {.resource = kCm, .namespaces = {"ns"}}, {});
  client_.serveFrom(unsynced);  // never started
  EXPECT_CALL(server_, get(kCm, "ns", "a", "")).WillOnce(Return(configMap("a", "5", "one")));
  EXPECT_TRUE(client_.get(kCm, "ns", "a"));
}

TEST_F(CachedClientTest, AGetAfterAnOwnPatchNeverAnswersTheOlderCachedCopy) {
  startCache({configMap("a", "5", "one")});
  EXPECT_CALL(server_, patch(kCm, "ns", "a", kube::PatchType::kApply, _, _))
      .WillOnce(Return(configMap("a", "8", "two")));
  ASSERT_TRUE(client_.apply(kCm, "ns", configMap("a", "", "two"), "sessionstore-operator"));
  // The cache still holds version 5: the answer is the write's, with no request.
  auto got = client_.get(kCm, "ns", "a");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["data"]["k"], "two");
  EXPECT_EQ(client_.stats().rememberedHits, 1u);
  EXPECT_EQ(client_.stats().remembered, 1u);
  // The watch brings version 8: the memory of the write is dropped and the cache answers.
  feed(WatchEventType::kModified, configMap("a", "8", "two"));
  EXPECT_EQ(client_.stats().remembered, 0u);
  got = client_.get(kCm, "ns", "a");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["data"]["k"], "two");
  EXPECT_EQ(client_.stats().cacheHits, 1u);
}

TEST_F(CachedClientTest, ALaterChangeBySomeoneElseIsServedFromTheCache) {
  startCache({configMap("a", "5", "one")});
  EXPECT_CALL(server_, update(kCm, "ns", _, "")).WillOnce(Return(configMap("a", "8", "two")));
  ASSERT_TRUE(client_.update(kCm, "ns", configMap("a", "5", "two")));
  // Someone else's edit after the write: the cache holds 9, newer than the write's 8.
  feed(WatchEventType::kModified, configMap("a", "9", "three"));
  auto got = client_.get(kCm, "ns", "a");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["data"]["k"], "three");
  EXPECT_EQ(client_.stats().remembered, 0u);
}

TEST_F(CachedClientTest, AGetAfterAnOwnDeleteAsksTheServerUntilTheCacheSeesIt) {
  startCache({configMap("a", "5", "one")});
  EXPECT_CALL(server_, remove(kCm, "ns", "a", _))
      .WillOnce(Return(Json{{"kind", "Status"}, {"status", "Success"}}));
  ASSERT_TRUE(client_.remove(kCm, "ns", "a"));
  EXPECT_CALL(server_, get(kCm, "ns", "a", ""))
      .WillOnce(Return(kube::makeError(kube::ErrorKind::kNotFound, "gone")));
  auto got = client_.get(kCm, "ns", "a");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, kube::ErrorKind::kNotFound);
  feed(WatchEventType::kDeleted, configMap("a", "6", "one"));
  EXPECT_EQ(client_.stats().remembered, 0u);
}

TEST_F(CachedClientTest, ACreateSeenLaterAsAnOlderVersionStillAnswersTheWrite) {
  startCache({});
  EXPECT_CALL(server_, create(kCm, "ns", _, _)).WillOnce(Return(configMap("b", "12", "new")));
  ASSERT_TRUE(client_.create(kCm, "ns", configMap("b", "", "new")));
  // The cache catches up with an older version first (it was behind when the write was made).
  feed(WatchEventType::kAdded, configMap("b", "11", "old"));
  auto got = client_.get(kCm, "ns", "b");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["data"]["k"], "new");
  feed(WatchEventType::kModified, configMap("b", "12", "new"));
  EXPECT_EQ(client_.stats().remembered, 0u);
}

TEST_F(CachedClientTest, AWriteTheCacheNeverShowsIsForgottenAfterItsTimeAndNoSooner) {
  startCache({configMap("a", "5", "one"), configMap("b", "6", "one")});
  EXPECT_CALL(server_, patch(kCm, "ns", "a", kube::PatchType::kApply, _, _))
      .WillOnce(Return(configMap("a", "8", "two")))
      .WillOnce(Return(configMap("a", "11", "three")));
  EXPECT_CALL(server_, patch(kCm, "ns", "b", kube::PatchType::kApply, _, _))
      .WillOnce(Return(configMap("b", "9", "two")));
  EXPECT_CALL(server_, create(kCm, "ns", _, _))
      .WillOnce(Return(configMap("c", "12", "new")))
      .WillOnce(Return(configMap("d", "13", "new")));
  // a and b are written; the cache never shows either write (its watch is stuck).
  ASSERT_TRUE(client_.apply(kCm, "ns", configMap("a", "", "two"), "sessionstore-operator"));
  ASSERT_TRUE(client_.apply(kCm, "ns", configMap("b", "", "two"), "sessionstore-operator"));
  // a is written again half-way: its time starts again, b's does not.
  clock_.advance(CachedClient::kForgetAfter / 2);
  ASSERT_TRUE(client_.apply(kCm, "ns", configMap("a", "", "three"), "sessionstore-operator"));
  EXPECT_EQ(client_.stats().remembered, 2u);
  // Past b's time, not past a's second write: the next write forgets b only.
  clock_.advance(CachedClient::kForgetAfter / 2 + std::chrono::seconds(1));
  ASSERT_TRUE(client_.create(kCm, "ns", configMap("c", "", "new")));
  EXPECT_EQ(client_.stats().remembered, 2u);  // a and c
  auto b = client_.get(kCm, "ns", "b");
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["data"]["k"], "one");  // the cache's copy: the write is forgotten
  auto a = client_.get(kCm, "ns", "a");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["data"]["k"], "three");  // still the write's
  // Past a's time too.
  clock_.advance(CachedClient::kForgetAfter / 2);
  ASSERT_TRUE(client_.create(kCm, "ns", configMap("d", "", "new")));
  EXPECT_EQ(client_.stats().remembered, 2u);  // c and d
  a = client_.get(kCm, "ns", "a");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["data"]["k"], "one");
  EXPECT_EQ(client_.stats().rememberedHits, 1u);
  EXPECT_EQ(client_.stats().cacheHits, 2u);
}

TEST_F(CachedClientTest, DryRunsAreNotRemembered) {
  startCache({configMap("a", "5", "one")});
  EXPECT_CALL(server_, patch(kCm, "ns", "a", kube::PatchType::kMerge, _, _))
      .WillOnce(Return(configMap("a", "5", "dry")));
  ASSERT_TRUE(
      client_.patch(kCm, "ns", "a", kube::PatchType::kMerge, Json::object(), {.dryRun = true}));
  EXPECT_EQ(client_.stats().remembered, 0u);
  EXPECT_EQ((*client_.get(kCm, "ns", "a"))["data"]["k"], "one");
}

TEST_F(CachedClientTest, ListsAndWatchesGoToTheServer) {
  startCache({});
  EXPECT_CALL(server_, list(kube::resources::kPersistentVolumeClaims, "ns", _))
      .WillOnce(Return(kube::ObjectList{}));
  EXPECT_TRUE(client_.list(kube::resources::kPersistentVolumeClaims, "ns"));
}

// The reconciler lists the namespace's HPAs and ScaledObjects on every pass: with
// resourceVersion "0" (any recent version) a complete cache answers, with no request. Every other
// list still goes to the server (StrictMock: an unexpected call fails the test).
TEST_F(CachedClientTest, AnyVersionListsAreAnsweredFromACompleteCache) {
  startCache({configMap("a", "5", "one"), configMap("b", "6", "two")});
  client_.serveListsFrom(*informer_);
  auto listed = client_.list(kCm, "ns", {.resourceVersion = "0"});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->items.size(), 2u);
  EXPECT_EQ(listed->items[0]["data"]["k"], "one");
  EXPECT_EQ(client_.stats().listCacheHits, 1u);

  EXPECT_CALL(server_, list(kCm, "ns", _)).WillOnce(Return(kube::ObjectList{}));  // most recent
  EXPECT_TRUE(client_.list(kCm, "ns"));
  EXPECT_CALL(server_, list(kCm, "other", _)).WillOnce(Return(kube::ObjectList{}));  // not cached
  EXPECT_TRUE(client_.list(kCm, "other", {.resourceVersion = "0"}));
  EXPECT_CALL(server_, list(kCm, "ns", _)).WillOnce(Return(kube::ObjectList{}));  // a selector
  EXPECT_TRUE(client_.list(kCm, "ns", {.labelSelector = "app=web", .resourceVersion = "0"}));
  EXPECT_EQ(client_.stats().listCacheHits, 1u);
}

// A new store looks for the other stores naming its target by a field selector: a cache indexed
// by that field answers, decoding only the matches, and follows changes of the field. Any other
// selector (another field, a negation, two terms, a label selector beside it) goes to the server.
TEST_F(CachedClientTest, AListByAnIndexedFieldIsAnsweredFromTheCache) {
  startCache({configMap("a", "5", "one"), configMap("b", "6", "two"), configMap("c", "7", "two")},
             {"data.k"});
  auto listed = client_.list(kCm, "ns", {.fieldSelector = "data.k=two"});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->items.size(), 2u);
  EXPECT_EQ(listed->items[0]["metadata"]["name"], "b");
  EXPECT_EQ(listed->items[1]["metadata"]["name"], "c");
  EXPECT_TRUE(client_.list(kCm, "ns", {.fieldSelector = "data.k=none"})->items.empty());

  feed(WatchEventType::kModified, configMap("b", "8", "three"));
  listed = client_.listAll(kCm, "ns", {.fieldSelector = "data.k==three"});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0]["metadata"]["name"], "b");
  EXPECT_EQ(client_.list(kCm, "ns", {.fieldSelector = "data.k=two"})->items.size(), 1u);
  EXPECT_EQ(client_.stats().listCacheHits, 4u);

  for (const std::string selector : {"data.k!=two", "metadata.name=a", "data.k=two,data.k=one"}) {
    EXPECT_CALL(server_, list(kCm, "ns", _)).WillOnce(Return(kube::ObjectList{}));
    EXPECT_TRUE(client_.list(kCm, "ns", {.fieldSelector = selector})) << selector;
  }
  EXPECT_CALL(server_, list(kCm, "ns", _)).WillOnce(Return(kube::ObjectList{}));
  EXPECT_TRUE(client_.list(kCm, "ns", {.labelSelector = "app=web", .fieldSelector = "data.k=two"}));
  EXPECT_CALL(server_, list(kCm, "other", _)).WillOnce(Return(kube::ObjectList{}));
  EXPECT_TRUE(client_.list(kCm, "other", {.fieldSelector = "data.k=two"}));  // not watched
  EXPECT_EQ(client_.stats().listCacheHits, 4u);
}

// A replicated store's pods are listed by their labels: a cache scoped by one of those labels
// (the pod informer's managed-by) answers a resourceVersion "0" list whose equality selector
// implies its scope, filtered by the whole selector. A selector that does not imply the scope,
// a set-based or negated one, a consistent list or another namespace goes to the server.
TEST_F(CachedClientTest, ASelectedListWithinTheCachesScopeIsAnsweredFromIt) {
  const auto labelled = [](const std::string& name, Json labels) {
    Json object = configMap(name, "5", name);
    object["metadata"]["labels"] = std::move(labels);
    return object;
  };
  startCache({labelled("a", {{"managed", "yes"}, {"app", "web"}}),
              labelled("b", {{"managed", "yes"}, {"app", "shop"}}),
              labelled("c", {{"managed", "yes"}, {"app", "web"}, {"role", "primary"}})},
             {}, "managed=yes");
  client_.serveSelectedListsFrom(*informer_);
  auto listed = client_.list(kCm, "ns", {.labelSelector = "app=web,managed=yes",
                                         .resourceVersion = "0"});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->items.size(), 2u);
  EXPECT_EQ(listed->items[0]["metadata"]["name"], "a");
  EXPECT_EQ(listed->items[1]["metadata"]["name"], "c");
  listed = client_.list(kCm, "ns", {.labelSelector = "managed==yes,app=web,role=primary",
                                    .resourceVersion = "0"});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0]["metadata"]["name"], "c");
  EXPECT_EQ(client_.stats().listCacheHits, 2u);

  for (const std::string selector :
       {"app=web", "managed=no,app=web", "managed=yes,app!=web", "managed=yes,app in (web)",
        "managed=yes,role", "managed=yes,managed=no"}) {
    EXPECT_CALL(server_, list(kCm, "ns", _)).WillOnce(Return(kube::ObjectList{}));
    EXPECT_TRUE(client_.list(kCm, "ns", {.labelSelector = selector, .resourceVersion = "0"}))
        << selector;
  }
  EXPECT_CALL(server_, list(kCm, "ns", _)).WillOnce(Return(kube::ObjectList{}));  // consistent
  EXPECT_TRUE(client_.list(kCm, "ns", {.labelSelector = "managed=yes,app=web"}));
  EXPECT_CALL(server_, list(kCm, "other", _)).WillOnce(Return(kube::ObjectList{}));
  EXPECT_TRUE(client_.list(kCm, "other", {.labelSelector = "managed=yes", .resourceVersion = "0"}));
  EXPECT_EQ(client_.stats().listCacheHits, 2u);
}

TEST(CaughtUp, ComparesDecimalVersionsAndOtherwiseOnlyEquality) {
  EXPECT_TRUE(CachedClient::caughtUp("8", "8"));
  EXPECT_TRUE(CachedClient::caughtUp("9", "8"));
  EXPECT_FALSE(CachedClient::caughtUp("7", "8"));
  EXPECT_TRUE(CachedClient::caughtUp("x1", "x1"));
  EXPECT_FALSE(CachedClient::caughtUp("x2", "x1"));
  EXPECT_FALSE(CachedClient::caughtUp("9", ""));
}

}  // namespace
}  // namespace sessionstore::cache
