#include "managedstore/failover.h"

#include <charconv>
#include <map>

#include "identity/identity.h"

namespace sessionstore::managedstore {
namespace {

std::optional<std::int64_t> parseInt(std::string_view text) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

bool healthy(const PodObservation& pod) { return pod.ready && pod.replication.has_value(); }

bool servingPrimary(const PodObservation& pod) {
  return healthy(pod) && pod.replication->role == ReplicationInfo::Role::kMaster;
}

// A pod that answers and does not replicate from `host:port` (a master, or a replica of another).
bool needsRepointing(const PodObservation& pod, std::string_view host, int port) {
  if (!pod.replication) return false;
  const ReplicationInfo& info = *pod.replication;
  if (info.role == ReplicationInfo::Role::kMaster) return true;
  return info.masterHost != host || info.masterPort != port;
}

}  // namespace

std::optional<ReplicationInfo> parseReplicationInfo(std::string_view info) {
  std::map<std::string, std::string, std::less<>> fields;
  while (!info.empty()) {
    const std::size_t eol = info.find('\n');
    std::string_view line = info.substr(0, eol);
    info = eol == std::string_view::npos ? std::string_view() : info.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    fields.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  ReplicationInfo out;
  const auto role = fields.find("role");
  if (role == fields.end()) return std::nullopt;
  if (role->second == "master") {
    out.role = ReplicationInfo::Role::kMaster;
    const auto offset = fields.find("master_repl_offset");
    if (offset == fields.end()) return std::nullopt;
    const auto value = parseInt(offset->second);
    if (!value) return std::nullopt;
    out.offset = *value;
    return out;
  }
  if (role->second != "slave") return std::nullopt;
  out.role = ReplicationInfo::Role::kReplica;
  const auto host = fields.find("master_host");
  const auto port = fields.find("master_port");
  if (host == fields.end() || port == fields.end()) return std::nullopt;
  const auto portValue = parseInt(port->second);
  if (!portValue || *portValue < 0 || *portValue > 65535) return std::nullopt;
  out.masterHost = host->second;
  out.masterPort = static_cast<int>(*portValue);
  const auto link = fields.find("master_link_status");
  out.masterLinkUp = link != fields.end() && link->second == "up";
  // A replica that never synced has no offset yet: 0.
  if (const auto offset = fields.find("slave_repl_offset"); offset != fields.end()) {
    const auto value = parseInt(offset->second);
    if (!value) return std::nullopt;
    out.offset = *value;
  }
  return out;
}

FailoverDecision decideFailover(const std::vector<PodObservation>& pods) {
  using Type = FailoverAction::Type;
  FailoverDecision decision;
  std::vector<const PodObservation*> labelled;
  for (const auto& pod : pods) {
    if (pod.labelledPrimary) labelled.push_back(&pod);
  }

  // The labelled primary is kept while it serves: the others follow it.
  if (labelled.size() == 1 && servingPrimary(*labelled.front())) {
    const PodObservation& primary = *labelled.front();
    decision.primary = primary.name;
    for (const auto& pod : pods) {
      if (&pod == &primary) continue;
      if (needsRepointing(pod, primary.host, primary.port)) {
        decision.actions.push_back({Type::kReplicaOf, pod.name, primary.host, primary.port});
      }
    }
    return decision;
  }

  // Lost, or never chosen: the Ready pod that answers with the most replicated data.
  decision.primaryLost = !labelled.empty();
  const PodObservation* candidate = nullptr;
  for (const auto& pod : pods) {
    if (!healthy(pod) || pod.leaving) continue;
    if (candidate == nullptr || pod.replication->offset > candidate->replication->offset ||
        (pod.replication->offset == candidate->replication->offset &&
         pod.ordinal < candidate->ordinal)) {
      candidate = &pod;
    }
  }
  if (candidate == nullptr) {
    // Nothing to promote: the labels stay as they are (the app may still reach the old primary).
    if (labelled.size() == 1) decision.primary = labelled.front()->name;
    return decision;
  }
  // Fence first: no pod keeps the label while another gets it.
  for (const PodObservation* pod : labelled) {
    decision.actions.push_back({Type::kRemovePrimaryLabel, pod->name});
  }
  if (!labelled.empty()) decision.failedFrom = labelled.front()->name;
  if (candidate->replication->role != ReplicationInfo::Role::kMaster) {
    decision.actions.push_back({Type::kPromote, candidate->name});
  }
  decision.actions.push_back({Type::kAddPrimaryLabel, candidate->name});
  decision.primary = candidate->name;
  decision.promotes = true;
  for (const auto& pod : pods) {
    if (&pod == candidate) continue;
    if (needsRepointing(pod, candidate->host, candidate->port)) {
      decision.actions.push_back({Type::kReplicaOf, pod.name, candidate->host, candidate->port});
    }
  }
  return decision;
}

bool holdScaleDown(const std::vector<PodObservation>& pods, int wanted) {
  int labelled = 0;
  bool primaryLeaves = false;
  for (const auto& pod : pods) {
    if (!pod.labelledPrimary) continue;
    ++labelled;
    primaryLeaves = primaryLeaves || pod.ordinal >= wanted;
  }
  return primaryLeaves || labelled > 1;
}

SwitchoverDecision decideSwitchover(const std::vector<PodObservation>& pods, int wanted) {
  using Type = FailoverAction::Type;
  SwitchoverDecision decision;
  const PodObservation* primary = nullptr;
  for (const auto& pod : pods) {
    if (!pod.labelledPrimary) continue;
    if (primary != nullptr) return decision;  // several labelled: decideFailover's to settle
    primary = &pod;
  }
  if (primary == nullptr || primary->ordinal < wanted) return decision;
  decision.from = primary->name;
  if (!servingPrimary(*primary)) {
    decision.waiting = "the primary " + primary->name + " does not serve (a failover is due first)";
    return decision;
  }
  const PodObservation* chosen = nullptr;
  for (const auto& pod : pods) {
    if (pod.ordinal >= wanted || !healthy(pod)) continue;
    const ReplicationInfo& info = *pod.replication;
    if (info.role != ReplicationInfo::Role::kReplica || !info.masterLinkUp ||
        info.masterHost != primary->host || info.masterPort != primary->port) {
      continue;
    }
    if (chosen == nullptr || info.offset > chosen->replication->offset ||
        (info.offset == chosen->replication->offset && pod.ordinal < chosen->ordinal)) {
      chosen = &pod;
    }
  }
  if (chosen == nullptr) {
    decision.waiting =
        "no pod that stays is Ready and replicating from the primary " + primary->name;
    return decision;
  }
  if (chosen->replication->offset < primary->replication->offset) {
    decision.waiting =
        "waiting for " + chosen->name + " to catch up with the primary " + primary->name;
    return decision;
  }
  decision.to = chosen->name;
  decision.actions.push_back({Type::kRemovePrimaryLabel, primary->name});
  decision.actions.push_back({Type::kReplicaOf, primary->name, chosen->host, chosen->port});
  decision.actions.push_back({Type::kPromote, chosen->name});
  decision.actions.push_back({Type::kAddPrimaryLabel, chosen->name});
  for (const auto& pod : pods) {
    if (&pod == primary || &pod == chosen) continue;
    if (needsRepointing(pod, chosen->host, chosen->port)) {
      decision.actions.push_back({Type::kReplicaOf, pod.name, chosen->host, chosen->port});
    }
  }
  return decision;
}

std::optional<PodObservation> observePod(const nlohmann::json& pod, std::string_view statefulSet) {
  if (!pod.is_object()) return std::nullopt;
  const auto metadata = pod.find("metadata");
  if (metadata == pod.end() || !metadata->is_object()) return std::nullopt;
  const auto name = metadata->find("name");
  if (name == metadata->end() || !name->is_string()) return std::nullopt;
  PodObservation out;
  out.name = name->get<std::string>();
  const std::string prefix = std::string(statefulSet) + "-";
  if (!out.name.starts_with(prefix)) return std::nullopt;
  const std::string_view digits = std::string_view(out.name).substr(prefix.size());
  const auto ordinal = parseInt(digits);
  if (!ordinal || *ordinal < 0 || *ordinal > 1000 || (digits.size() > 1 && digits[0] == '0')) {
    return std::nullopt;
  }
  out.ordinal = static_cast<int>(*ordinal);
  if (const auto labels = metadata->find("labels");
      labels != metadata->end() && labels->is_object()) {
    const auto role = labels->find(identity::kRoleLabel);
    out.labelledPrimary =
        role != labels->end() && role->is_string() && *role == identity::kRolePrimary;
  }
  const bool deleting = metadata->contains("deletionTimestamp");
  if (const auto status = pod.find("status"); !deleting && status != pod.end() &&
                                              status->is_object()) {
    if (const auto conditions = status->find("conditions");
        conditions != status->end() && conditions->is_array()) {
      for (const auto& condition : *conditions) {
        if (condition.is_object() && condition.value("type", nlohmann::json()) == "Ready" &&
            condition.value("status", nlohmann::json()) == "True") {
          out.ready = true;
        }
      }
    }
  }
  return out;
}

}  // namespace sessionstore::managedstore
