// The Applier against the in-memory client: each write's result as a value (created, updated,
// unchanged, someone else's, refused, failed), creates without reads for a fresh store, the
// take-over of created fields before the first apply, and writes side by side.
#include "reconcile/apply.h"

#include <gtest/gtest.h>

#include "identity/identity.h"
#include "mocks/kube/fake_client.h"
#include "reconcile/decide.h"
#include "reconcile/fixtures.h"

namespace sessionstore::reconcile {
namespace {

using namespace testing;  // NOLINT: the fixtures
using kube::FakeClient;
using Verb = FakeClient::Verb;
using Kind = Written::Kind;

const std::string kManager{identity::kFieldManager};

Json configMap(const std::string& value = "1") {
  return withDesiredHash(
      ownedBy({{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata", {{"namespace", "shop"}, {"name", "web-redis-config"}}},
               {"data", {{"k", value}}}}));
}

class ApplyTest : public ::testing::Test {
 protected:
  FakeClient api_;
  api::SessionStore store_ = store();
  Applier applier_{api_, api_, store_};
};

TEST_F(ApplyTest, AFreshStoreCreatesWithoutReadingFirst) {
  const auto written = applier_.ensureOwned(configMap(), Observed::notRead());
  EXPECT_EQ(written.kind, Kind::kCreated);
  EXPECT_EQ(written.what, "ConfigMap web-redis-config");
  EXPECT_EQ(api_.count(Verb::kGet), 0u);
  EXPECT_EQ(api_.count(Verb::kCreate), 1u);
  EXPECT_TRUE(api_.stored(kube::resources::kConfigMaps, "shop", "web-redis-config"));
}

TEST_F(ApplyTest, AFreshCreateThatFindsItsOwnObjectReadsAndDecides) {
  api_.put(kube::resources::kConfigMaps, configMap());
  const auto written = applier_.ensureOwned(configMap(), Observed::notRead());
  EXPECT_EQ(written.kind, Kind::kUnchanged);
  EXPECT_EQ(api_.writes(), 1u) << "only the create that failed";
}

TEST_F(ApplyTest, AFreshCreateThatFindsSomeoneElsesObjectLeavesItAlone) {
  Json theirs = configMap();
  theirs["metadata"].erase("ownerReferences");
  const Json before = api_.put(kube::resources::kConfigMaps, theirs);
  const auto written = applier_.ensureOwned(configMap(), Observed::notRead());
  EXPECT_EQ(written.kind, Kind::kNotOurs);
  EXPECT_EQ(api_.count(Verb::kPatch), 0u);
  EXPECT_EQ(*api_.stored(kube::resources::kConfigMaps, "shop", "web-redis-config"), before);
}

TEST_F(ApplyTest, AWrittenSecretIsMadeWholeItsOldKeysRemoved) {
  const auto secret = [](Json data) {
    return ownedBy({{"apiVersion", "v1"},
                    {"kind", "Secret"},
                    {"type", "Opaque"},
                    {"metadata", {{"namespace", "shop"}, {"name", "web-redis-tls-ca"}}},
                    {"data", std::move(data)}});
  };
  const Json observed = api_.put(kube::resources::kSecrets,
                                 secret({{"ca.crt", "QQ=="}, {"previous-ca.crt", "Qg=="}}));
  auto written = applier_.writeSecret(secret({{"ca.crt", "Qw=="}}), Observed::found(observed));
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ((*written)["data"], Json({{"ca.crt", "Qw=="}}))
      << "a key the desired Secret lacks must go (a merge patch would keep it)";
}

TEST_F(ApplyTest, NoWriteWhenItIsAsDesired) {
  const Json observed = api_.put(kube::resources::kConfigMaps, configMap());
  const auto written = applier_.ensureOwned(configMap(), Observed::found(observed));
  EXPECT_EQ(written.kind, Kind::kUnchanged);
  EXPECT_EQ(api_.requests().size(), 0u);
}

TEST_F(ApplyTest, AMissingObjectIsAppliedAndAChangedOneUpdated) {
  const auto created = applier_.ensureOwned(configMap(), Observed::missing());
  EXPECT_EQ(created.kind, Kind::kCreated);
  const auto updated = applier_.ensureOwned(configMap("2"), Observed::found(created.object));
  EXPECT_EQ(updated.kind, Kind::kUpdated);
  EXPECT_EQ(updated.object["data"]["k"], "2");
}

TEST_F(ApplyTest, TheFieldsACreateGaveAreTakenOverBeforeTheFirstApply) {
  const auto created = applier_.ensureOwned(configMap(), Observed::notRead());
  ASSERT_EQ(created.object["metadata"]["managedFields"][0]["operation"], "Update");
  // The cache keeps a compact copy without managedFields: the whole object is read from live.
  Json compact = created.object;
  compact["metadata"].erase("managedFields");
  const Applier applier(api_, api_, store_);
  const auto updated = applier.ensureOwned(configMap("2"), Observed::found(compact));
  EXPECT_EQ(updated.kind, Kind::kUpdated);
  const auto requests = api_.requests();
  ASSERT_GE(requests.size(), 4u);
  EXPECT_EQ(requests[1].verb, Verb::kGet) << "the whole object";
  EXPECT_EQ(requests[2].detail, "merge") << "the Update entry folded into an Apply entry";
  EXPECT_EQ(requests[3].detail, "apply");
  for (const Json& entry : updated.object["metadata"]["managedFields"]) {
    EXPECT_EQ(entry["operation"], "Apply") << entry.dump();
  }
}

TEST_F(ApplyTest, NothingToTakeOverWhenTheOperatorOnlyApplied) {
  const auto created = applier_.ensureOwned(configMap(), Observed::missing());  // applied
  api_.clearRequests();
  const auto updated = applier_.ensureOwned(configMap("2"), Observed::found(created.object));
  EXPECT_EQ(updated.kind, Kind::kUpdated);
  EXPECT_EQ(api_.count(Verb::kGet), 0u);
  EXPECT_EQ(api_.count(Verb::kPatch), 1u);
}

TEST_F(ApplyTest, ARefusedWriteAndAFailedOneAreTold) {
  api_.failNext(Verb::kPatch, kube::resources::kConfigMaps,
                {.kind = kube::ErrorKind::kInvalid, .message = "data: Invalid"});
  const auto refused = applier_.ensureOwned(configMap(), Observed::missing());
  EXPECT_EQ(refused.kind, Kind::kRefused);
  ASSERT_TRUE(refused.error.has_value());
  EXPECT_EQ(refused.error->message, "data: Invalid");

  api_.failNext(Verb::kCreate, kube::resources::kConfigMaps, {.kind = kube::ErrorKind::kForbidden});
  EXPECT_EQ(applier_.ensureOwned(configMap(), Observed::notRead()).kind, Kind::kRefused);

  api_.failNext(Verb::kPatch, kube::resources::kConfigMaps,
                {.kind = kube::ErrorKind::kUnavailable});
  EXPECT_EQ(applier_.ensureOwned(configMap(), Observed::missing()).kind, Kind::kFailed);

  api_.failNext(Verb::kCreate, kube::resources::kConfigMaps, {.kind = kube::ErrorKind::kConflict});
  EXPECT_EQ(applier_.ensureOwned(configMap(), Observed::notRead()).kind, Kind::kFailed);
}

TEST_F(ApplyTest, TheStoreItself) {
  Json raw = api_.put(kube::resources::kSessionStores, storeObject());
  auto patched = applier_.patchStore(finalizerPatch(raw, true));
  ASSERT_TRUE(patched.has_value());
  EXPECT_TRUE(hasFinalizer(*patched));
  auto stale = applier_.writeStatus(raw, {{"phase", "Ready"}});
  ASSERT_FALSE(stale.has_value()) << "written on the version read";
  EXPECT_EQ(stale.error().kind, kube::ErrorKind::kConflict);
  auto written = applier_.writeStatus(*patched, {{"phase", "Ready"}});
  ASSERT_TRUE(written.has_value());
  EXPECT_EQ((*written)["status"]["phase"], "Ready");
}

TEST_F(ApplyTest, ThePasswordSecretIsOnlyEverCreated) {
  const auto passwords = *managedstore::generatePasswords(fixedBytes);
  ASSERT_TRUE(applier_.createPasswordSecret(passwords).has_value());
  auto again = applier_.createPasswordSecret(passwords);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().kind, kube::ErrorKind::kAlreadyExists);
}

}  // namespace
}  // namespace sessionstore::reconcile
