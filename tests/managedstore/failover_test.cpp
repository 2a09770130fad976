#include "managedstore/failover.h"

#include <gtest/gtest.h>

namespace sessionstore::managedstore {
namespace {

using Type = FailoverAction::Type;
using Role = ReplicationInfo::Role;

constexpr std::string_view kService = "s-redis";
constexpr int kPort = 6379;

std::string hostOf(int ordinal) {
  return "s-redis-" + std::to_string(ordinal) + ".s-redis-headless";
}
ReplicationInfo master(std::int64_t offset) { return {.role = Role::kMaster, .offset = offset}; }
// A replica of `host` (by default the client Service, as the start script makes every pod).
ReplicationInfo replica(std::int64_t offset, std::string host = std::string(kService),
                        bool linkUp = true) {
  return {.role = Role::kReplica,
          .offset = offset,
          .masterHost = std::move(host),
          .masterPort = kPort,
          .masterLinkUp = linkUp};
}
PodObservation pod(int ordinal, std::optional<ReplicationInfo> info, bool labelled = false,
                   bool ready = true) {
  return {.name = "s-redis-" + std::to_string(ordinal),
          .ordinal = ordinal,
          .host = hostOf(ordinal),
          .port = kPort,
          .ready = ready,
          .labelledPrimary = labelled,
          .replication = std::move(info)};
}
FailoverAction replicaOf(int ordinal, int primary) {
  return {Type::kReplicaOf, "s-redis-" + std::to_string(ordinal), hostOf(primary), kPort};
}

TEST(ParseReplicationInfoTest, Master) {
  auto info = parseReplicationInfo(
      "# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=10.0.0.2,port=6379,"
      "state=online,offset=1234,lag=0\r\nmaster_replid:abc\r\nmaster_repl_offset:1234\r\n");
  ASSERT_TRUE(info);
  EXPECT_EQ(*info, master(1234));
}

TEST(ParseReplicationInfoTest, Replica) {
  auto info = parseReplicationInfo(
      "# Replication\r\nrole:slave\r\nmaster_host:s-redis\r\nmaster_port:6379\r\n"
      "master_link_status:down\r\nslave_repl_offset:77\r\nmaster_repl_offset:77\r\n");
  ASSERT_TRUE(info);
  EXPECT_EQ(*info, replica(77, "s-redis", false));
}

TEST(ParseReplicationInfoTest, MalformedAnswersAreNotTrusted) {
  EXPECT_FALSE(parseReplicationInfo(""));
  EXPECT_FALSE(parseReplicationInfo("# Replication\r\n"));
  EXPECT_FALSE(parseReplicationInfo("role:sentinel\r\n"));
  EXPECT_FALSE(parseReplicationInfo("role:master\r\n"));  // no offset
  EXPECT_FALSE(parseReplicationInfo("role:master\r\nmaster_repl_offset:12x\r\n"));
  EXPECT_FALSE(parseReplicationInfo("role:slave\r\nmaster_port:6379\r\n"));  // no host
  EXPECT_FALSE(parseReplicationInfo("role:slave\r\nmaster_host:h\r\nmaster_port:99999\r\n"));
  EXPECT_FALSE(parseReplicationInfo("role:master\r\nmaster_repl_offset:99999999999999999999\r\n"));
}

TEST(DecideFailoverTest, FirstStartPromotesTheLowestOrdinalAmongEquals) {
  // Every pod starts as a replica of the Service, which selects nobody yet.
  auto decision = decideFailover({pod(0, replica(0, "s-redis", false)),
                                  pod(1, replica(0, "s-redis", false)),
                                  pod(2, replica(0, "s-redis", false))});
  EXPECT_EQ(decision.actions, (std::vector<FailoverAction>{{Type::kPromote, "s-redis-0"},
                                                           {Type::kAddPrimaryLabel, "s-redis-0"},
                                                           replicaOf(1, 0),
                                                           replicaOf(2, 0)}));
  EXPECT_EQ(decision.primary, "s-redis-0");
  EXPECT_FALSE(decision.failedFrom);
  EXPECT_TRUE(decision.promotes);
}

TEST(DecideFailoverTest, AServingPrimaryIsKeptAndNothingIsDone) {
  auto decision = decideFailover({pod(0, master(500), true), pod(1, replica(500, hostOf(0))),
                                  pod(2, replica(480, hostOf(0), false))});
  EXPECT_TRUE(decision.actions.empty());
  EXPECT_EQ(decision.primary, "s-redis-0");
  EXPECT_FALSE(decision.promotes);
}

TEST(DecideFailoverTest, AReturningOldPrimaryIsMadeAReplicaAndNotLabelled) {
  // s-redis-0 came back as a master with its old data; s-redis-1 is the primary now.
  auto decision = decideFailover(
      {pod(0, master(900)), pod(1, master(500), true), pod(2, replica(500, hostOf(1)))});
  EXPECT_EQ(decision.actions, (std::vector<FailoverAction>{replicaOf(0, 1)}));
  EXPECT_EQ(decision.primary, "s-redis-1");
  EXPECT_FALSE(decision.promotes);
}

TEST(DecideFailoverTest, AReplicaOfAnotherAddressIsRepointed) {
  auto decision = decideFailover({pod(0, master(10), true), pod(1, replica(10, "10.0.0.9")),
                                  pod(2, replica(10, hostOf(0)))});
  EXPECT_EQ(decision.actions, (std::vector<FailoverAction>{replicaOf(1, 0)}));
}

TEST(DecideFailoverTest, AnUnreachablePrimaryIsFencedThenTheReplicaWithMostDataPromoted) {
  auto decision =
      decideFailover({pod(0, std::nullopt, true), pod(1, replica(480, hostOf(0), false)),
                      pod(2, replica(500, hostOf(0), false))});
  EXPECT_EQ(decision.actions,
            (std::vector<FailoverAction>{{Type::kRemovePrimaryLabel, "s-redis-0"},
                                         {Type::kPromote, "s-redis-2"},
                                         {Type::kAddPrimaryLabel, "s-redis-2"},
                                         replicaOf(1, 2)}));
  EXPECT_EQ(decision.primary, "s-redis-2");
  EXPECT_EQ(decision.failedFrom, "s-redis-0");
}

TEST(DecideFailoverTest, APrimaryWhosePodIsNotReadyIsLost) {
  auto decision =
      decideFailover({pod(0, master(500), true, /*ready=*/false), pod(1, replica(500, hostOf(0))),
                      pod(2, replica(400, hostOf(0)))});
  // The old primary still answers as a master: it is made a replica after the new one is
  // labelled (it is unlabelled by then, so the Service sends it nothing).
  EXPECT_EQ(decision.actions,
            (std::vector<FailoverAction>{{Type::kRemovePrimaryLabel, "s-redis-0"},
                                         {Type::kPromote, "s-redis-1"},
                                         {Type::kAddPrimaryLabel, "s-redis-1"},
                                         replicaOf(0, 1),
                                         replicaOf(2, 1)}));
  EXPECT_EQ(decision.failedFrom, "s-redis-0");
}

TEST(DecideFailoverTest, APrimaryThatRestartedAsAReplicaIsLost) {
  // Its Redis restarted: the start script makes it a replica of the Service (fenced).
  auto decision = decideFailover({pod(0, replica(0, "s-redis", false), true),
                                  pod(1, replica(700, hostOf(0), false)),
                                  pod(2, replica(650, hostOf(0), false))});
  EXPECT_EQ(decision.actions,
            (std::vector<FailoverAction>{{Type::kRemovePrimaryLabel, "s-redis-0"},
                                         {Type::kPromote, "s-redis-1"},
                                         {Type::kAddPrimaryLabel, "s-redis-1"},
                                         replicaOf(0, 1),
                                         replicaOf(2, 1)}));
}

TEST(DecideFailoverTest, NotReadyOrSilentReplicasAreNeverPromoted) {
  auto decision = decideFailover(
      {pod(0, std::nullopt, true), pod(1, replica(900), false, false), pod(2, std::nullopt)});
  // Nothing to promote: the label stays (fencing would only stop what the app may still reach).
  EXPECT_TRUE(decision.actions.empty());
  EXPECT_EQ(decision.primary, "s-redis-0");
  EXPECT_FALSE(decision.promotes);
}

TEST(DecideFailoverTest, TwoLabelledPodsLoseBothLabelsBeforeOneIsLabelled) {
  auto decision = decideFailover(
      {pod(0, master(100), true), pod(1, master(300), true), pod(2, replica(300, hostOf(1)))});
  EXPECT_EQ(decision.actions,
            (std::vector<FailoverAction>{{Type::kRemovePrimaryLabel, "s-redis-0"},
                                         {Type::kRemovePrimaryLabel, "s-redis-1"},
                                         {Type::kAddPrimaryLabel, "s-redis-1"},
                                         replicaOf(0, 1)}));
  EXPECT_EQ(decision.primary, "s-redis-1");
}

// Whatever the pods look like, running the actions in order never has two pods labelled, and the
// labelled pod at the end is a master (it was promoted or already one).
TEST(DecideFailoverTest, NoPrefixOfTheActionsLabelsTwoPods) {
  const std::vector<std::optional<ReplicationInfo>> states = {
      std::nullopt,      master(0),          master(50), replica(0, "s-redis", false),
      replica(50, hostOf(0)), replica(60, hostOf(1))};
  int cases = 0;
  for (const auto& a : states) {
    for (const auto& b : states) {
      for (const auto& c : states) {
        for (int labels = 0; labels < 8; ++labels) {
          for (int ready = 0; ready < 8; ++ready) {
            std::vector<PodObservation> pods = {pod(0, a, labels & 1, ready & 1),
                                                pod(1, b, labels & 2, ready & 2),
                                                pod(2, c, labels & 4, ready & 4)};
            const auto decision = decideFailover(pods);
            std::map<std::string, bool> labelled;
            for (const auto& p : pods) labelled[p.name] = p.labelledPrimary;
            const int before = (labels & 1) + ((labels >> 1) & 1) + ((labels >> 2) & 1);
            for (const auto& action : decision.actions) {
              if (action.type == Type::kRemovePrimaryLabel) labelled[action.pod] = false;
              if (action.type == Type::kAddPrimaryLabel) {
                int others = 0;
                for (const auto& [name, on] : labelled) others += on && name != action.pod;
                ASSERT_EQ(others, 0) << "case " << cases;
                labelled[action.pod] = true;
              }
            }
            int after = 0;
            for (const auto& [name, on] : labelled) after += on;
            if (before <= 1) {
              EXPECT_LE(after, 1) << "case " << cases;
            }
            if (decision.promotes) {
              EXPECT_EQ(after, 1) << "case " << cases;
              EXPECT_TRUE(labelled[*decision.primary]);
            }
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 6 * 6 * 6 * 64);
}

TEST(DecideFailoverTest, APodTheStatefulSetRemovesIsNeverPromoted) {
  // Pod 2 has the most data but is leaving (the StatefulSet was lowered): what it holds goes
  // with it, so the next best that stays is promoted.
  PodObservation leaving = pod(2, replica(900, hostOf(0), false));
  leaving.leaving = true;
  auto decision =
      decideFailover({pod(0, std::nullopt, true), pod(1, replica(800, hostOf(0), false)), leaving});
  EXPECT_EQ(decision.primary, "s-redis-1");
  EXPECT_EQ(decision.actions,
            (std::vector<FailoverAction>{{Type::kRemovePrimaryLabel, "s-redis-0"},
                                         {Type::kPromote, "s-redis-1"},
                                         {Type::kAddPrimaryLabel, "s-redis-1"},
                                         replicaOf(2, 1)}));
  // Only leaving pods answer: nothing to promote, the label stays.
  decision = decideFailover({pod(0, std::nullopt, true), leaving});
  EXPECT_TRUE(decision.actions.empty());
  EXPECT_FALSE(decision.promotes);
}

TEST(HoldScaleDownTest, HoldsWhileAPodThatGoesIsLabelledOrSeveralAre) {
  // 3 -> 1 with the primary at 2 or 1: held; at 0: the StatefulSet may go down.
  EXPECT_TRUE(holdScaleDown({pod(0, std::nullopt), pod(1, std::nullopt),
                             pod(2, std::nullopt, true)}, 1));
  EXPECT_TRUE(holdScaleDown({pod(0, std::nullopt), pod(1, std::nullopt, true)}, 1));
  EXPECT_FALSE(holdScaleDown({pod(0, std::nullopt, true), pod(1, std::nullopt),
                              pod(2, std::nullopt)}, 1));
  // 3 -> 2: pod 1 stays.
  EXPECT_FALSE(holdScaleDown({pod(0, std::nullopt), pod(1, std::nullopt, true),
                              pod(2, std::nullopt)}, 2));
  // Two labelled (a failover half done, or an edit): it settles first.
  EXPECT_TRUE(holdScaleDown({pod(0, std::nullopt, true), pod(1, std::nullopt, true)}, 2));
  // No primary to protect (none elected yet): the failover elects among those that stay.
  EXPECT_FALSE(holdScaleDown({pod(0, std::nullopt), pod(1, std::nullopt), pod(2, std::nullopt)},
                             1));
}

TEST(DecideSwitchoverTest, NoneIsDueWhileThePrimaryStays) {
  const auto decision = decideSwitchover(
      {pod(0, master(100), true), pod(1, replica(100, hostOf(0))), pod(2, replica(90, hostOf(0)))},
      1);
  EXPECT_EQ(decision, SwitchoverDecision{});
}

TEST(DecideSwitchoverTest, ThePrimaryIsFencedBeforeACaughtUpPodThatStaysIsPromoted) {
  const auto decision = decideSwitchover(
      {pod(0, replica(500, hostOf(2))), pod(1, replica(500, hostOf(2))), pod(2, master(500), true)},
      1);
  EXPECT_EQ(decision.from, "s-redis-2");
  EXPECT_EQ(decision.to, "s-redis-0");
  EXPECT_EQ(decision.actions,
            (std::vector<FailoverAction>{{Type::kRemovePrimaryLabel, "s-redis-2"},
                                         replicaOf(2, 0),
                                         {Type::kPromote, "s-redis-0"},
                                         {Type::kAddPrimaryLabel, "s-redis-0"},
                                         replicaOf(1, 0)}));
  EXPECT_TRUE(decision.waiting.empty());
}

TEST(DecideSwitchoverTest, ToThreeOfFiveTheStayingPodWithMostDataIsChosen) {
  const auto decision = decideSwitchover(
      {pod(0, replica(400, hostOf(4))), pod(1, replica(500, hostOf(4))),
       pod(2, replica(500, hostOf(4))), pod(3, replica(600, hostOf(4))),
       pod(4, master(500), true)},
      3);
  // Pod 3 goes too, however much it has; 1 and 2 tie: the lower ordinal.
  EXPECT_EQ(decision.to, "s-redis-1");
  ASSERT_GE(decision.actions.size(), 4u);
  EXPECT_EQ(decision.actions[1], replicaOf(4, 1));
}

TEST(DecideSwitchoverTest, WaitsForTheChosenPodToCatchUp) {
  const auto decision = decideSwitchover(
      {pod(0, replica(480, hostOf(1))), pod(1, master(500), true)}, 1);
  EXPECT_TRUE(decision.actions.empty());
  EXPECT_EQ(decision.from, "s-redis-1");
  EXPECT_FALSE(decision.to);
  EXPECT_NE(decision.waiting.find("s-redis-0 to catch up"), std::string::npos) << decision.waiting;
}

TEST(DecideSwitchoverTest, WaitsWithoutAReadyReplicaOfThePrimaryThatStays) {
  for (const auto& zero : {pod(0, std::nullopt), pod(0, replica(500, hostOf(1)), false, false),
                           pod(0, replica(500, hostOf(1), /*linkUp=*/false)),
                           pod(0, replica(500, "elsewhere")), pod(0, master(500))}) {
    const auto decision = decideSwitchover({zero, pod(1, master(500), true)}, 1);
    EXPECT_TRUE(decision.actions.empty());
    EXPECT_NE(decision.waiting.find("no pod that stays"), std::string::npos) << decision.waiting;
  }
}

TEST(DecideSwitchoverTest, ALostPrimaryIsTheFailoversNotAPlannedMove) {
  auto decision = decideSwitchover({pod(0, replica(500, hostOf(1))), pod(1, std::nullopt, true)}, 1);
  EXPECT_TRUE(decision.actions.empty());
  EXPECT_NE(decision.waiting.find("does not serve"), std::string::npos) << decision.waiting;
  // Two labelled: decideFailover's to settle, nothing planned.
  decision = decideSwitchover({pod(0, master(500), true), pod(1, master(500), true)}, 1);
  EXPECT_EQ(decision, SwitchoverDecision{});
}

// Whatever the pods look like, the switchover's actions never leave two pods labelled nor two
// masters at any step, and end with the chosen pod the only labelled master.
TEST(DecideSwitchoverTest, NoPrefixOfTheActionsHasTwoPrimariesOrTwoMasters) {
  const std::vector<std::optional<ReplicationInfo>> states = {
      std::nullopt, master(500), replica(500, hostOf(2)), replica(400, hostOf(2)),
      replica(500, hostOf(2), false)};
  int moved = 0;
  for (const auto& a : states) {
    for (const auto& b : states) {
      std::vector<PodObservation> pods = {pod(0, a), pod(1, b), pod(2, master(500), true)};
      const auto decision = decideSwitchover(pods, 2);
      std::map<std::string, bool> labelled;
      std::map<std::string, bool> masters;
      for (const auto& p : pods) {
        labelled[p.name] = p.labelledPrimary;
        masters[p.name] = p.replication && p.replication->role == Role::kMaster;
      }
      for (const auto& action : decision.actions) {
        switch (action.type) {
          case Type::kRemovePrimaryLabel: labelled[action.pod] = false; break;
          case Type::kAddPrimaryLabel: labelled[action.pod] = true; break;
          case Type::kPromote: masters[action.pod] = true; break;
          case Type::kReplicaOf: masters[action.pod] = false; break;
        }
        int labels = 0;
        int mastersNow = 0;
        for (const auto& [name, on] : labelled) labels += on;
        // A master already there before (not the primary) is re-pointed last: only the pods the
        // switchover moves count here.
        for (const char* name : {"s-redis-2", decision.to ? decision.to->c_str() : ""}) {
          mastersNow += masters[name];
        }
        EXPECT_LE(labels, 1);
        EXPECT_LE(mastersNow, 1);
      }
      if (decision.to) {
        ++moved;
        EXPECT_TRUE(labelled[*decision.to]);
        EXPECT_TRUE(masters[*decision.to]);
        EXPECT_FALSE(labelled["s-redis-2"]);
        EXPECT_FALSE(masters["s-redis-2"]);
        for (const auto& [name, on] : masters) {
          EXPECT_EQ(on, name == *decision.to) << name;
        }
      }
    }
  }
  EXPECT_GT(moved, 0);
}

}  // namespace
}  // namespace sessionstore::managedstore

namespace sessionstore::managedstore {
namespace {

TEST(ObservePodTest, ReadsNameOrdinalReadinessAndTheRoleLabel) {
  auto pod = observePod(nlohmann::json::parse(R"({
    "metadata": {"name": "s-redis-2", "labels": {"sessionstore.io/role": "primary"}},
    "status": {"conditions": [{"type": "PodScheduled", "status": "True"},
                              {"type": "Ready", "status": "True"}]}})"),
                        "s-redis");
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->name, "s-redis-2");
  EXPECT_EQ(pod->ordinal, 2);
  EXPECT_TRUE(pod->ready);
  EXPECT_TRUE(pod->labelledPrimary);
  EXPECT_FALSE(pod->replication);
}

TEST(ObservePodTest, NotReadyUnlabelledAndDeletingPods) {
  auto notReady = observePod(nlohmann::json::parse(R"({
    "metadata": {"name": "s-redis-0", "labels": {"sessionstore.io/role": "replica"}},
    "status": {"conditions": [{"type": "Ready", "status": "False"}]}})"),
                             "s-redis");
  ASSERT_TRUE(notReady);
  EXPECT_FALSE(notReady->ready);
  EXPECT_FALSE(notReady->labelledPrimary);
  auto deleting = observePod(nlohmann::json::parse(R"({
    "metadata": {"name": "s-redis-1", "deletionTimestamp": "2026-12-05T10:00:00Z"},
    "status": {"conditions": [{"type": "Ready", "status": "True"}]}})"),
                             "s-redis");
  ASSERT_TRUE(deleting);
  EXPECT_FALSE(deleting->ready);
}

TEST(ObservePodTest, MalformedOrForeignObjectsAreLeftOut) {
  for (const char* text :
       {R"(null)", R"([])", R"({})", R"({"metadata": []})", R"({"metadata": {"name": 3}})",
        R"({"metadata": {"name": "other-0"}})", R"({"metadata": {"name": "s-redis-"}})",
        R"({"metadata": {"name": "s-redis-x"}})", R"({"metadata": {"name": "s-redis-01"}})",
        R"({"metadata": {"name": "s-redis-headless-0"}})",
        R"({"metadata": {"name": "s-redis-0"}, "status": {"conditions": [3, "x"]}})"}) {
    auto pod = observePod(nlohmann::json::parse(text), "s-redis");
    if (std::string(text).find("conditions") != std::string::npos) {
      ASSERT_TRUE(pod) << text;  // a garbled condition list is only "not Ready"
      EXPECT_FALSE(pod->ready);
    } else {
      EXPECT_FALSE(pod) << text;
    }
  }
}

}  // namespace
}  // namespace sessionstore::managedstore
