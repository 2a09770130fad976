// The informer without a server: a scripted client plays the API (lists, watch streams that end,
// break, or answer 410), and a fake clock stands in for the backoff waits.
#include "informer/informer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "mocks/clock/fake_clock.h"

namespace sessionstore::informer {
namespace {

using kube::ErrorKind;
using kube::WatchEvent;
using kube::WatchEventType;

Json object(const std::string& name, const std::string& rv, const std::string& ns = "ns") {
  return Json{{"metadata",
               {{"name", name},
                {"namespace", ns},
                {"resourceVersion", rv},
                {"managedFields", Json::array({{{"manager", "kubectl"}}})}}}};
}

// What one scripted watch() does: hand out events, then end, fail, or block until cancelled.
struct WatchScript {
  std::vector<WatchEvent> events;
  enum class Then { kEnd, kBlock, kFail } then = Then::kBlock;
  kube::Error failure{};
  std::optional<kube::Error> refuse;  // watch() itself fails
};

class ScriptedClient final : public kube::Client {
 public:
  std::deque<kube::Result<kube::ObjectList>> lists;
  std::deque<WatchScript> watches;
  std::vector<kube::ListOptions> listCalls;
  std::vector<kube::WatchOptions> watchCalls;

  kube::Result<Json> get(const kube::Resource&, const std::string&, const std::string&,
                         const std::string&) override {
    return kube::makeError(ErrorKind::kInternal, "unused");
  }
  kube::Result<kube::ObjectList> list(const kube::Resource&, const std::string&,
                                      const kube::ListOptions& options) override {
    std::unique_lock lock(mu_);
    listCalls.push_back(options);
    cv_.notify_all();
    if (lists.empty()) return kube::makeError(ErrorKind::kUnavailable, "no list scripted");
    auto next = std::move(lists.front());
    lists.pop_front();
    return next;
  }
  kube::Result<Json> create(const kube::Resource&, const std::string&, const Json&,
                            const kube::CreateOptions&) override {
    return kube::makeError(ErrorKind::kInternal, "unused");
  }
  kube::Result<Json> update(const kube::Resource&, const std::string&, const Json&,
                            const std::string&) override {
    return kube::makeError(ErrorKind::kInternal, "unused");
  }
  kube::Result<Json> remove(const kube::Resource&, const std::string&, const std::string&,
                            const kube::DeleteOptions&) override {
    return kube::makeError(ErrorKind::kInternal, "unused");
  }
  kube::Result<Json> patch(const kube::Resource&, const std::string&, const std::string&,
                           kube::PatchType, const Json&, const kube::PatchOptions&) override {
    return kube::makeError(ErrorKind::kInternal, "unused");
  }
  kube::Result<std::unique_ptr<kube::WatchStream>> watch(
      const kube::Resource&, const std::string&, const kube::WatchOptions& options) override {
    std::unique_lock lock(mu_);
    watchCalls.push_back(options);
    cv_.notify_all();
    WatchScript script;
    if (!watches.empty()) {
      script = std::move(watches.front());
      watches.pop_front();
    }
    if (script.refuse) return std::unexpected(*script.refuse);
    return std::unique_ptr<kube::WatchStream>(new Stream(std::move(script)));
  }

  // Waits (bounded by a real-time guard, not a sleep) until `done` holds.
  bool waitFor(const std::function<bool()>& done) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), done);
  }

 private:
  class Stream final : public kube::WatchStream {
   public:
    explicit Stream(WatchScript script) : script_(std::move(script)) {}
    kube::Result<std::optional<WatchEvent>> next() override {
      if (next_ < script_.events.size()) return std::optional<WatchEvent>(script_.events[next_++]);
      if (script_.then == WatchScript::Then::kEnd) return std::optional<WatchEvent>();
      if (script_.then == WatchScript::Then::kFail) return std::unexpected(script_.failure);
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return cancelled_; });
      return std::optional<WatchEvent>();
    }
    void cancel() override {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      cv_.notify_all();
    }

   private:
    WatchScript script_;
    size_t next_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
    bool cancelled_ = false;
  };

  std::mutex mu_;
  std::condition_variable cv_;
};

// Handler calls, in order, as "add a", "update a", "delete a".
struct Journal {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> entries;

  Handlers handlers() {
    auto name = [](const Json& o) { return o["metadata"]["name"].get<std::string>(); };
    auto note = [this](std::string entry) {
      std::lock_guard lock(mu);
      entries.push_back(std::move(entry));
      cv.notify_all();
    };
    return Handlers{.onAdd = [=](const Json& o) { note("add " + name(o)); },
                    .onUpdate = [=](const Json&, const Json& o) { note("update " + name(o)); },
                    .onDelete = [=](const Json& o) { note("delete " + name(o)); }};
  }
  bool waitForCount(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return entries.size() >= n; });
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu);
    return entries;
  }
};

// Spins (no sleep) until a thread waits on the fake clock, so advancing it is seen by that wait.
bool untilWaiting(const clock::FakeClock& clock) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (clock.waiters() == 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

kube::ObjectList listOf(std::vector<Json> items, const std::string& rv) {
  return kube::ObjectList{.items = std::move(items), .resourceVersion = rv, .continueToken = ""};
}

InformerOptions options() {
  return InformerOptions{
      .resource = kube::resources::kConfigMaps, .namespaces = {"ns"}, .labelSelector = "app=web"};
}

TEST(Informer, ListsThenWatchesFromTheListsVersion) {
  ScriptedClient client;
  client.lists.push_back(listOf({object("a", "10")}, "11"));
  client.watches.push_back(WatchScript{.events = {{WatchEventType::kAdded, object("b", "12")},
                                                  {WatchEventType::kModified, object("a", "13")},
                                                  {WatchEventType::kDeleted, object("b", "14")}}});
  clock::FakeClock clock;
  Journal journal;
  Informer informer(client, options(), journal.handlers(), clock, [] { return 0.5; });
  informer.start();
  ASSERT_TRUE(journal.waitForCount(4));
  EXPECT_TRUE(informer.hasSynced());
  EXPECT_EQ(journal.snapshot(),
            (std::vector<std::string>{"add a", "add b", "update a", "delete b"}));
  ASSERT_EQ(client.watchCalls.size(), 1u);
  EXPECT_EQ(client.watchCalls[0].resourceVersion, "11");
  EXPECT_TRUE(client.watchCalls[0].allowBookmarks);
  EXPECT_EQ(client.watchCalls[0].labelSelector, "app=web");
  EXPECT_EQ(client.watchCalls[0].timeout, std::chrono::seconds(450));  // jitter 0.5 of 300..600
  EXPECT_EQ(client.listCalls[0].labelSelector, "app=web");
  EXPECT_EQ(client.listCalls[0].limit, 500);
  EXPECT_EQ(informer.size(), 1u);
  const auto a = informer.get("ns", "a");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["metadata"]["resourceVersion"], "13");
  EXPECT_FALSE((*a)["metadata"].contains("managedFields"));  // stripped before caching
  informer.stop();
}

TEST(Informer, ReWatchesFromTheLastBookmarkWhenTheServerEndsAStream) {
  ScriptedClient client;
  client.lists.push_back(listOf({}, "5"));
  client.watches.push_back(WatchScript{
      .events = {{WatchEventType::kAdded, object("a", "6")},
                 {WatchEventType::kBookmark, Json{{"metadata", {{"resourceVersion", "20"}}}}}},
      .then = WatchScript::Then::kEnd});
  clock::FakeClock clock;
  Journal journal;
  Informer informer(client, options(), journal.handlers(), clock, [] { return 0.0; });
  informer.start();
  ASSERT_TRUE(client.waitFor([&] { return client.watchCalls.size() >= 2; }));
  EXPECT_EQ(client.watchCalls[1].resourceVersion, "20");
  EXPECT_EQ(client.listCalls.size(), 1u);                            // no relist for a normal end
  EXPECT_EQ(journal.snapshot(), std::vector<std::string>{"add a"});  // bookmarks are not events
  informer.stop();
}

TEST(Informer, RelistsOnGoneAndReportsWhatChangedUnseen) {
  ScriptedClient client;
  client.lists.push_back(listOf({object("a", "1"), object("b", "2")}, "3"));
  // 410 as an ERROR event in the stream.
  client.watches.push_back(
      WatchScript{.then = WatchScript::Then::kFail,
                  .failure = kube::Error{.kind = ErrorKind::kGone, .httpStatus = 410}});
  // While unseen: a deleted, b changed, c created.
  client.lists.push_back(listOf({object("b", "7"), object("c", "8")}, "9"));
  // 410 as an HTTP answer to the next watch.
  client.watches.push_back(
      WatchScript{.refuse = kube::Error{.kind = ErrorKind::kGone, .httpStatus = 410}});
  client.lists.push_back(listOf({object("b", "7"), object("c", "8")}, "10"));
  clock::FakeClock clock;
  Journal journal;
  Informer informer(client, options(), journal.handlers(), clock);
  informer.start();
  ASSERT_TRUE(client.waitFor([&] { return client.watchCalls.size() >= 3; }));
  ASSERT_TRUE(journal.waitForCount(5));
  EXPECT_EQ(journal.snapshot(),
            (std::vector<std::string>{"add a", "add b", "delete a", "add c", "update b"}));
  EXPECT_EQ(client.listCalls.size(), 3u);
  EXPECT_EQ(client.watchCalls[2].resourceVersion, "10");
  EXPECT_EQ(informer.stats().gone, 2u);
  EXPECT_FALSE(informer.get("ns", "a"));
  informer.stop();
}

TEST(Informer, BacksOffWhileTheServerIsAwayThenRelistsAfterAMalformedEvent) {
  ScriptedClient client;
  client.lists.push_back(kube::makeError(ErrorKind::kUnavailable, "connection refused"));
  client.lists.push_back(listOf({}, "4"));
  client.watches.push_back(WatchScript{.then = WatchScript::Then::kFail,
                                       .failure = kube::Error{.kind = ErrorKind::kMalformed}});
  client.lists.push_back(listOf({object("z", "5")}, "6"));
  clock::FakeClock clock;
  Journal journal;
  Informer informer(client, options(), journal.handlers(), clock);
  informer.start();
  // The first list failed: nothing more happens until the backoff (800 ms) has passed.
  ASSERT_TRUE(client.waitFor([&] { return client.listCalls.size() == 1; }));
  ASSERT_TRUE(untilWaiting(clock));
  EXPECT_FALSE(informer.hasSynced());
  clock.advance(std::chrono::milliseconds(799));
  EXPECT_EQ(client.listCalls.size(), 1u);
  clock.advance(std::chrono::milliseconds(1));
  ASSERT_TRUE(client.waitFor([&] { return client.watchCalls.size() == 1; }));
  EXPECT_TRUE(informer.hasSynced());
  // The malformed event: after the next (doubled) backoff, a relist rather than a re-watch.
  ASSERT_TRUE(untilWaiting(clock));
  clock.advance(std::chrono::milliseconds(1600));
  ASSERT_TRUE(client.waitFor([&] { return client.listCalls.size() >= 3; }));
  ASSERT_TRUE(journal.waitForCount(1));
  EXPECT_EQ(journal.snapshot(), std::vector<std::string>{"add z"});
  EXPECT_EQ(informer.stats().errors, 2u);
  informer.stop();
}

TEST(Informer, AnswerWithRetryAfterIsNotRetriedSooner) {
  ScriptedClient client;
  kube::Error tooMany{.kind = ErrorKind::kTooManyRequests, .httpStatus = 429};
  tooMany.retryAfter = std::chrono::seconds(3);
  client.lists.push_back(std::unexpected(tooMany));
  client.lists.push_back(listOf({}, "4"));
  clock::FakeClock clock;
  Journal journal;
  Informer informer(client, options(), journal.handlers(), clock);
  informer.start();
  ASSERT_TRUE(client.waitFor([&] { return client.listCalls.size() == 1; }));
  ASSERT_TRUE(untilWaiting(clock));
  // The backoff (800 ms) alone would list again now; Retry-After: 3 holds it back.
  clock.advance(std::chrono::milliseconds(2999));
  EXPECT_EQ(client.listCalls.size(), 1u);
  EXPECT_FALSE(informer.hasSynced());
  clock.advance(std::chrono::milliseconds(1));
  ASSERT_TRUE(client.waitFor([&] { return client.watchCalls.size() == 1; }));
  EXPECT_EQ(client.listCalls.size(), 2u);
  EXPECT_TRUE(informer.hasSynced());
  informer.stop();
}

// KEDA not installed: its ScaledObjects are not served. The cache is synced and empty at once
// (no wait for a sync that never comes), no error is counted, and the list is tried again only
// after absentRecheck; once served, the objects arrive as adds.
TEST(Informer, AnOptionalResourceThatIsNotServedIsSyncedAndEmptyAndLookedForRarely) {
  ScriptedClient client;
  client.lists.push_back(kube::makeError(ErrorKind::kNotFound, "the server could not find it"));
  client.lists.push_back(kube::makeError(ErrorKind::kNotFound, "the server could not find it"));
  client.lists.push_back(listOf({object("web", "7")}, "8"));
  client.watches.push_back(WatchScript{});  // blocks until stopped
  clock::FakeClock clock;
  Journal journal;
  InformerOptions optional{.resource = kube::resources::kScaledObjects,
                           .namespaces = {"ns"},
                           .optional = true,
                           .absentRecheck = std::chrono::minutes(10)};
  Informer informer(client, optional, journal.handlers(), clock);
  informer.start();
  ASSERT_TRUE(client.waitFor([&] { return client.listCalls.size() == 1; }));
  ASSERT_TRUE(untilWaiting(clock));
  EXPECT_TRUE(informer.hasSynced());
  EXPECT_FALSE(informer.served());
  EXPECT_EQ(informer.size(), 0u);
  EXPECT_EQ(informer.stats().errors, 0u) << "not served is an answer, not a failure";
  // The backoff of a failure (800 ms) would have listed again by now; the recheck does not.
  clock.advance(std::chrono::minutes(10) - std::chrono::milliseconds(1));
  EXPECT_EQ(client.listCalls.size(), 1u);
  clock.advance(std::chrono::milliseconds(1));
  ASSERT_TRUE(client.waitFor([&] { return client.listCalls.size() == 2; }));
  ASSERT_TRUE(untilWaiting(clock));
  EXPECT_TRUE(client.watchCalls.empty()) << "nothing to watch while it is not served";
  // KEDA installed meanwhile: the next look lists, caches and watches.
  clock.advance(std::chrono::minutes(10));
  ASSERT_TRUE(client.waitFor([&] { return client.watchCalls.size() == 1; }));
  ASSERT_TRUE(journal.waitForCount(1));
  EXPECT_EQ(journal.snapshot(), std::vector<std::string>{"add web"});
  EXPECT_TRUE(informer.served());
  informer.stop();
}

// A NotFound of a resource that is not optional stays a failure (retried with backoff, unsynced).
TEST(Informer, NotFoundOfARequiredResourceIsAFailure) {
  ScriptedClient client;
  client.lists.push_back(kube::makeError(ErrorKind::kNotFound, "the server could not find it"));
  clock::FakeClock clock;
  Journal journal;
  Informer informer(client, options(), journal.handlers(), clock);
  informer.start();
  ASSERT_TRUE(client.waitFor([&] { return client.listCalls.size() == 1; }));
  ASSERT_TRUE(untilWaiting(clock));
  EXPECT_FALSE(informer.hasSynced());
  EXPECT_EQ(informer.stats().errors, 1u);
  informer.stop();
}

TEST(Informer, StopEndsABlockedWatchAndNoHandlerRunsAfterIt) {
  ScriptedClient client;
  client.lists.push_back(listOf({}, "1"));
  clock::FakeClock clock;
  Journal journal;
  Informer informer(client, options(), journal.handlers(), clock);
  informer.start();
  ASSERT_TRUE(client.waitFor([&] { return !client.watchCalls.empty(); }));
  informer.stop();
  EXPECT_TRUE(journal.snapshot().empty());
}

TEST(Informer, ResyncReplaysEveryObjectAsAnUpdate) {
  ScriptedClient client;
  client.lists.push_back(listOf({object("a", "1"), object("b", "2")}, "3"));
  clock::FakeClock clock;
  Journal journal;
  auto opts = options();
  opts.resync = std::chrono::minutes(10);
  Informer informer(client, opts, journal.handlers(), clock);
  informer.start();
  ASSERT_TRUE(journal.waitForCount(2));
  ASSERT_TRUE(client.waitFor([&] { return !client.watchCalls.empty(); }));
  ASSERT_TRUE(untilWaiting(clock));
  clock.advance(std::chrono::minutes(10));
  ASSERT_TRUE(journal.waitForCount(4));
  EXPECT_EQ(journal.snapshot(),
            (std::vector<std::string>{"add a", "add b", "update a", "update b"}));
  informer.stop();
}

// An index by a field: only the objects whose field is that string, in the namespace asked;
// an object without the field, or with a non-string there, matches no value; a field not
// indexed is nullopt (the caller must ask the server).
TEST(Informer, ListWhereAnswersByAnIndexedFieldOnly) {
  auto named = [](const std::string& name, const std::string& ns, const Json& target) {
    Json o = object(name, "1", ns);
    o["spec"]["target"] = target;
    return o;
  };
  ScriptedClient client;
  client.lists.push_back(listOf({named("a", "ns", {{"deployment", "shop"}}),
                                 named("b", "ns", {{"deployment", "cart"}}),
                                 named("c", "ns", {{"deployment", "shop"}}),
                                 named("d", "ns", {{"deployment", 7}}), named("e", "ns", Json())},
                                "3"));
  Journal journal;
  auto opts = options();
  opts.indexedFields = {"spec.target.deployment"};
  Informer informer(client, opts, journal.handlers());
  informer.start();
  ASSERT_TRUE(journal.waitForCount(5));
  auto names = [](const std::vector<Json>& items) {
    std::vector<std::string> out;
    for (const auto& item : items) out.push_back(item["metadata"]["name"]);
    return out;
  };
  EXPECT_EQ(names(*informer.listWhere("ns", "spec.target.deployment", "shop")),
            (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(names(*informer.listWhere("", "spec.target.deployment", "cart")),
            (std::vector<std::string>{"b"}));
  EXPECT_TRUE(informer.listWhere("other", "spec.target.deployment", "shop")->empty());
  EXPECT_TRUE(informer.listWhere("ns", "spec.target.deployment", "7")->empty());
  EXPECT_TRUE(informer.listWhere("ns", "spec.target.deployment", "")->empty());
  EXPECT_FALSE(informer.listWhere("ns", "spec.target.service", "shop"));
  EXPECT_TRUE(informer.indexes("spec.target.deployment"));
  EXPECT_FALSE(informer.indexes("spec.target"));
  informer.stop();
}

TEST(Informer, KeysAreNamespaceSlashNameOrJustTheName) {
  EXPECT_EQ(Informer::keyOf(object("a", "1", "shop")), "shop/a");
  EXPECT_EQ(Informer::keyOf(Json{{"metadata", {{"name", "node-1"}}}}), "node-1");
  EXPECT_EQ(Informer::keyOf(Json{{"metadata", {{"name", 7}}}}), "");
  EXPECT_EQ(Informer::keyOf(Json::array()), "");
}

}  // namespace
}  // namespace sessionstore::informer
