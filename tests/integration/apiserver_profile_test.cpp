// The `apiserver` profile (etcd + kube-apiserver) with the SessionStore CRD installed: the real
// server stores a valid SessionStore, applies the schema's defaults, and rejects invalid ones
// with the schema's own message.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "control_plane.h"
#include "eventually.h"

namespace sessionstore::testing {
namespace {

class ApiServerProfile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      plane_ = ControlPlane::start(Profile::kApiServer);
    } catch (const std::exception& e) {
      startError_ = e.what();
      return;
    }
    const auto applied = plane_->kubectl({"apply", "-f", sourceDir() + "/crds/"});
    if (!applied.ok()) {
      startError_ = "kubectl apply -f crds/: " + applied.describe();
      return;
    }
    const auto established = plane_->waitForCrd("sessionstores.sessionstore.io");
    if (!established.ok()) startError_ = "CRD not established: " + established.describe();
  }
  static void TearDownTestSuite() { plane_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(startError_.empty()) << startError_;
    ASSERT_NE(plane_, nullptr);
  }

  static std::unique_ptr<ControlPlane> plane_;
  static std::string startError_;
};

std::unique_ptr<ControlPlane> ApiServerProfile::plane_;
std::string ApiServerProfile::startError_;

constexpr const char* kValid = R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata:
  name: web
  namespace: default
spec:
  target:
    deployment: web
    service: web
  store:
    type: Managed
    managed:
      maxMemory: 128Mi
  autoscaling:
    enabled: true
    minReplicas: 2
    maxReplicas: 6
    metrics:
    - type: CPU
      targetAverageUtilization: 80
)";

TEST_F(ApiServerProfile, StoresASessionStoreAndReadsItBackWithDefaults) {
  const auto created = plane_->kubectl({"create", "-f", "-"}, kValid);
  ASSERT_TRUE(created.ok()) << created.describe();

  const auto got = plane_->kubectl({"get", "sessionstore", "web", "-o", "json"});
  ASSERT_TRUE(got.ok()) << got.describe();
  const auto object = nlohmann::json::parse(got.out);
  EXPECT_EQ(object["apiVersion"], "sessionstore.io/v1alpha1");
  EXPECT_EQ(object["kind"], "SessionStore");
  const auto& spec = object["spec"];
  EXPECT_EQ(spec["target"]["deployment"], "web");
  EXPECT_EQ(spec["store"]["type"], "Managed");
  EXPECT_EQ(spec["store"]["managed"]["maxMemory"], "128Mi");
  EXPECT_EQ(spec["autoscaling"]["maxReplicas"], 6);
  EXPECT_EQ(spec["autoscaling"]["metrics"][0]["targetAverageUtilization"], 80);
  // Defaults come from the schema, so every reader sees the same values.
  EXPECT_EQ(spec["store"]["managed"]["evictionPolicy"], "volatile-lru");
  EXPECT_EQ(spec["store"]["managed"]["maxClients"], 1000);
  EXPECT_EQ(spec["connection"]["urlEnvVar"], "REDIS_URL");
  EXPECT_EQ(spec["affinity"]["mode"], "UntilStoreReady");
  EXPECT_EQ(spec["workers"]["perCPU"], 2);

  // The listing works through the CRD's names too.
  const auto listed = plane_->kubectl({"get", "sessionstores", "-o", "name"});
  ASSERT_TRUE(listed.ok()) << listed.describe();
  EXPECT_EQ(listed.out, "sessionstore.sessionstore.io/web\n");
}

// The CRD's cross-field (CEL) rules and ranges, each rejected by the real server with the
// message written in the schema, so `kubectl apply` says what to fix.
TEST_F(ApiServerProfile, RejectsEveryCrossFieldRuleWithItsMessage) {
  struct Case {
    const char* spec;
    const char* message;
  };
  const Case cases[] = {
      {"target: {deployment: web}\n  autoscaling: {minReplicas: 5, maxReplicas: 3}",
       "autoscaling.minReplicas must not be greater than autoscaling.maxReplicas"},
      {"target: {deployment: web}\n  store: {type: External, managed: {maxClients: 10}, "
       "external: {urlSecretRef: {name: r}}}",
       "store.managed is only allowed with store.type Managed"},
      {"target: {deployment: web}\n  store: {type: Managed, external: {urlSecretRef: {name: r}}}",
       "store.external is only allowed with store.type External"},
      {"target: {deployment: web}\n  store: {type: External}",
       "store.type External needs store.external.urlSecretRef"},
      {"target: {deployment: web}\n  affinity: {timeoutSeconds: 0}",
       "should be greater than or equal to 1"},
      {"target: {deployment: web}\n  affinity: {timeoutSeconds: 86401}",
       "should be less than or equal to 86400"},
      {"target: {deployment: web}\n  connection: {keyPrefix: \"app:*\"}",
       "would widen the Redis ACL key pattern"},
      {"target: {deployment: web}\n  connection: {keyPrefix: \"a b\"}",
       "would widen the Redis ACL key pattern"},
      {"target: {deployment: web}\n  workers: {min: 8, max: 4}",
       "workers.min must not be greater than workers.max"},
      {"target: {deployment: web}\n  autoscaling: {enabled: true}",
       "autoscaling.enabled needs at least one entry in autoscaling.metrics"},
  };
  for (const auto& c : cases) {
    const std::string manifest =
        "apiVersion: sessionstore.io/v1alpha1\nkind: SessionStore\nmetadata: {name: rule, "
        "namespace: default}\nspec:\n  " +
        std::string(c.spec) + "\n";
    const auto applied = plane_->kubectl({"apply", "--dry-run=server", "-f", "-"}, manifest);
    EXPECT_FALSE(applied.ok()) << "accepted:\n" << manifest;
    EXPECT_NE(applied.err.find(c.message), std::string::npos)
        << "for:\n" << manifest << "\nthe server said: " << applied.err;
  }
}

TEST_F(ApiServerProfile, ExplainDocumentsFieldsAndGetShowsThePrinterColumns) {
  std::string explained;
  // Discovery of a new CRD's schema may lag its Established condition by a moment.
  ASSERT_TRUE(eventually([&] {
    const auto r = plane_->kubectl({"explain", "sessionstore.spec.affinity"});
    explained = r.out + r.err;
    return r.ok();
  }, std::chrono::seconds(20))) << explained;
  EXPECT_NE(explained.find("UntilStoreReady"), std::string::npos) << explained;
  EXPECT_NE(explained.find("timeoutSeconds"), std::string::npos) << explained;

  ASSERT_TRUE(plane_->kubectl({"apply", "-f", "-"}, kValid).ok());
  const auto listed = plane_->kubectl({"get", "sstore", "-n", "default"});
  ASSERT_TRUE(listed.ok()) << listed.describe();
  const std::string header = listed.out.substr(0, listed.out.find('\n'));
  for (const char* column : {"NAME", "PHASE", "STORE", "REPLICAS", "WORKERS", "AGE"}) {
    EXPECT_NE(header.find(column), std::string::npos) << header;
  }
}

// The operator finds the other stores naming a target with a field selector; before its cache
// has synced (or in a namespace it does not cache) the real server answers it, which it does
// only for the CRD's selectableFields.
TEST_F(ApiServerProfile, SelectsStoresByTheirTargetDeploymentOrService) {
  const std::string stores = R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: by-target-a, namespace: default}
spec:
  target: {deployment: shop, service: shop-front}
  store: {type: Managed}
---
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: by-target-b, namespace: default}
spec:
  target: {deployment: cart}
  store: {type: Managed}
)";
  const auto applied = plane_->kubectl({"apply", "-f", "-"}, stores);
  ASSERT_TRUE(applied.ok()) << applied.describe();
  const auto byDeployment = plane_->kubectl({"get", "sessionstores", "-n", "default", "-o", "name",
                                             "--field-selector", "spec.target.deployment=shop"});
  ASSERT_TRUE(byDeployment.ok()) << byDeployment.describe();
  EXPECT_EQ(byDeployment.out, "sessionstore.sessionstore.io/by-target-a\n");
  const auto byService =
      plane_->kubectl({"get", "sessionstores", "-n", "default", "-o", "name", "--field-selector",
                       "spec.target.service=shop-front"});
  ASSERT_TRUE(byService.ok()) << byService.describe();
  EXPECT_EQ(byService.out, "sessionstore.sessionstore.io/by-target-a\n");
  const auto none = plane_->kubectl({"get", "sessionstores", "-n", "default", "-o", "name",
                                     "--field-selector", "spec.target.deployment=nothing"});
  ASSERT_TRUE(none.ok()) << none.describe();
  EXPECT_EQ(none.out, "");
  ASSERT_TRUE(plane_->kubectl({"delete", "sessionstore", "-n", "default", "by-target-a",
                               "by-target-b"})
                  .ok());
}

TEST_F(ApiServerProfile, RejectsAWrongTypeWithTheSchemaMessage) {
  const auto created = plane_->kubectl({"create", "-f", "-"}, R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: wrong-type, namespace: default}
spec:
  target: {deployment: web}
  store: {type: Managed}
  autoscaling: {maxReplicas: "many"}
)");
  ASSERT_FALSE(created.ok()) << "the server accepted a string for maxReplicas";
  EXPECT_NE(created.err.find("spec.autoscaling.maxReplicas"), std::string::npos) << created.err;
  EXPECT_NE(created.err.find("must be of type integer"), std::string::npos) << created.err;
  EXPECT_FALSE(plane_->kubectl({"get", "sessionstore", "wrong-type"}).ok());
}

TEST_F(ApiServerProfile, RejectsAnUnknownEnumValueWithTheSupportedValues) {
  const auto created = plane_->kubectl({"create", "-f", "-"}, R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: wrong-enum, namespace: default}
spec:
  target: {deployment: web}
  store: {type: Memcached}
)");
  ASSERT_FALSE(created.ok()) << "the server accepted store.type Memcached";
  EXPECT_NE(created.err.find("spec.store.type"), std::string::npos) << created.err;
  EXPECT_NE(created.err.find(R"(Unsupported value: "Memcached")"), std::string::npos)
      << created.err;
  EXPECT_NE(created.err.find(R"("Managed", "External")"), std::string::npos) << created.err;
}

TEST_F(ApiServerProfile, RejectsAMissingRequiredField) {
  const auto created = plane_->kubectl({"create", "-f", "-"}, R"(
apiVersion: sessionstore.io/v1alpha1
kind: SessionStore
metadata: {name: no-target, namespace: default}
spec:
  store: {type: Managed}
)");
  ASSERT_FALSE(created.ok()) << "the server accepted a SessionStore without a target";
  EXPECT_NE(created.err.find("spec.target: Required value"), std::string::npos) << created.err;
}

}  // namespace
}  // namespace sessionstore::testing
