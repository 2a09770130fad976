// Who is the primary of a replicated managed store (spec.store.managed.replicas above 1, issue
// 18), as a pure decision: from what the operator sees of each Redis pod (its readiness from the
// watch, its role label, whether it answered on the operator's connection, its INFO replication)
// to the ordered list of actions that label one primary and point every other pod at it. No
// client, no clock: the caller gathers, runs the actions in order and stops at the first that
// fails (the next pass decides again from what it then sees).
//
// The rules, in order:
//   - The primary is the one pod labelled identity::kRoleLabel: kRolePrimary while it is Ready,
//     answers, and says role:master. It is kept; every other pod that answers and is a master,
//     or a replica of another address, is made a replica of the primary's address (REPLICAOF
//     host port, the primary's PodObservation::host and port):
//     this is how a returning old primary is fenced (it is unlabelled, so the client Service sends
//     it nothing, and it becomes a replica before anything else).
//   - Otherwise the primary is lost (or there never was one). The candidate is the Ready pod
//     that answers with the largest replication offset (slave_repl_offset of a replica,
//     master_repl_offset of a master), the lowest ordinal on a tie. Without a candidate nothing
//     is done (fencing the old one would only stop a primary that the app may still reach).
//     With one: first the label leaves every labelled pod (fence), then the candidate is
//     promoted (REPLICAOF NO ONE) and labelled, then the others are pointed at it.
//   - Several labelled pods (only someone else's edit can do that): all labels go first, then as
//     above. So no order of actions ever leaves two pods labelled primary.
//   - A pod the StatefulSet is removing (PodObservation::leaving, a scale down) is never the
//     candidate: whatever it holds goes with it.
//
// Scaling a replicated store down (holdScaleDown, decideSwitchover): the StatefulSet deletes the
// highest ordinals. While one of them is labelled primary, the StatefulSet keeps its pods and the
// primary first moves, as planned, to a pod that stays and has every byte the primary has
// (no acknowledged write is lost); only then is the StatefulSet lowered.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionstore::managedstore {

// INFO replication of one Redis, as far as the decision needs it. Parsed by
// parseReplicationInfo().
struct ReplicationInfo {
  enum class Role { kMaster, kReplica };
  Role role = Role::kMaster;
  // master_repl_offset of a master; slave_repl_offset of a replica (0 when it has none yet).
  std::int64_t offset = 0;
  // A replica's master_host and master_port, and master_link_status:up.
  std::string masterHost;
  int masterPort = 0;
  bool masterLinkUp = false;
  bool operator==(const ReplicationInfo&) const = default;
};

// The text of INFO replication ("# Replication\r\nrole:master\r\n..."); nullopt when the role
// is missing or unknown, or a number it needs is malformed (a truncated or garbled answer is
// never trusted, and never a crash).
std::optional<ReplicationInfo> parseReplicationInfo(std::string_view info);

struct PodObservation {
  std::string name;
  int ordinal = 0;            // the StatefulSet ordinal (from the name)
  // Where the other pods reach this one (its stable DNS name through the headless Service).
  std::string host;
  int port = 0;
  bool ready = false;         // the pod's Ready condition is True
  bool labelledPrimary = false;
  // The StatefulSet is removing it (its ordinal is at or above the StatefulSet's replicas).
  bool leaving = false;
  // INFO replication as the operator read it just now; nullopt when the pod did not answer.
  std::optional<ReplicationInfo> replication;
  bool operator==(const PodObservation&) const = default;
};

struct FailoverAction {
  enum class Type {
    kRemovePrimaryLabel,  // patch the pod's labels: kRoleLabel removed
    kPromote,             // REPLICAOF NO ONE
    kAddPrimaryLabel,     // patch the pod's labels: kRoleLabel: kRolePrimary
    kReplicaOf,           // REPLICAOF primaryHost primaryPort
  };
  Type type;
  std::string pod;
  // kReplicaOf: the primary's address.
  std::string host;
  int port = 0;
  bool operator==(const FailoverAction&) const = default;
};

struct FailoverDecision {
  // In the order they must run.
  std::vector<FailoverAction> actions;
  // The pod that is (or, once the actions ran, will be) primary; nullopt when there is none.
  std::optional<std::string> primary;
  // Set when this decision moves the primary: the pod labelled before (empty when there was none,
  // as at the first start) and the one promoted.
  std::optional<std::string> failedFrom;
  bool promotes = false;
  // A pod is labelled primary and none of the labelled ones serves (whether or not a candidate
  // was found): the primary is lost.
  bool primaryLost = false;
  bool operator==(const FailoverDecision&) const = default;
};

// REQUIRES: pod names distinct.
FailoverDecision decideFailover(const std::vector<PodObservation>& pods);

// Whether the StatefulSet must keep its pods this pass rather than go down to `wanted`: a pod
// that would go is labelled primary (it must hand over first, decideSwitchover), or several are
// labelled (a failover or someone's edit is under way: it settles first). With no pod labelled
// there is no primary to protect, and the failover elects among the pods that stay.
// `pods` need only their names, ordinals and labels.
bool holdScaleDown(const std::vector<PodObservation>& pods, int wanted);

struct SwitchoverDecision {
  // In the order they must run; empty while waiting, or when no switchover is due.
  std::vector<FailoverAction> actions;
  std::optional<std::string> from;  // the primary that would leave (set while one must move)
  std::optional<std::string> to;    // the pod chosen to take over (set when actions are)
  // Why nothing moves yet, for the user; empty when the actions are set or none is due.
  std::string waiting;
  bool operator==(const SwitchoverDecision&) const = default;
};

// The planned move of the primary before a scale down to `wanted` pods, once the failover has
// nothing to do (one labelled primary that serves, every other pod following it). None is due
// while the primary's ordinal is below `wanted`. Otherwise the chosen pod is a pod that stays,
// Ready, answering as a replica of the primary with its link up, and with the largest offset
// (the lowest ordinal on a tie); it is taken only once its offset has reached the primary's (the
// caller reads the primary after the others, so equal offsets mean nothing was written between).
// The actions: the primary's label goes (the client Service stops sending to it), the primary is
// made a replica of the chosen pod (it takes no more writes: from then on no pod is a master
// until the next action), the chosen pod is promoted and labelled, the others are pointed at it.
// So at no moment are two pods labelled, nor two Redis masters.
SwitchoverDecision decideSwitchover(const std::vector<PodObservation>& pods, int wanted);

// What a Pod object (as the API server returns it) says for the decision: its name, its ordinal
// in StatefulSet `statefulSet` (the name's suffix), its Ready condition and its role label;
// host, port and replication are left for the caller. A pod being deleted is not Ready. nullopt
// for an object that is not one of that StatefulSet's pods (malformed, or another name).
std::optional<PodObservation> observePod(const nlohmann::json& pod, std::string_view statefulSet);

}  // namespace sessionstore::managedstore
