// The condition types, reasons and phases a SessionStore's status uses, in one place (as
// kubebuilder's conditions.go), so that the controller, `plan`, tests and documentation spell
// them the same way. A reason is a CamelCase word a machine can match; the message beside it
// says, for a person, what was seen and what to fix. Each condition also carries
// observedGeneration.
#pragma once

#include <string_view>

namespace sessionstore::api {

// Condition types.
inline constexpr std::string_view kConditionStoreReady = "StoreReady";
inline constexpr std::string_view kConditionConnectionWired = "ConnectionWired";
inline constexpr std::string_view kConditionAffinityApplied = "AffinityApplied";
inline constexpr std::string_view kConditionWorkersSized = "WorkersSized";
inline constexpr std::string_view kConditionAutoscalingActive = "AutoscalingActive";
inline constexpr std::string_view kConditionReady = "Ready";
// spec.store.managed.memory only: whether maxmemory has reached memory.ceiling (True: the
// operator raises it no further). Shown, but not one of the conditions Ready is made of: a store
// at its ceiling still serves.
inline constexpr std::string_view kConditionMemoryAtCeiling = "MemoryAtCeiling";

// Condition statuses.
inline constexpr std::string_view kStatusTrue = "True";
inline constexpr std::string_view kStatusFalse = "False";
inline constexpr std::string_view kStatusUnknown = "Unknown";

// status.phase values.
inline constexpr std::string_view kPhasePending = "Pending";
inline constexpr std::string_view kPhaseProvisioning = "Provisioning";
inline constexpr std::string_view kPhaseReady = "Ready";
inline constexpr std::string_view kPhaseDegraded = "Degraded";
inline constexpr std::string_view kPhaseFailed = "Failed";

// Reasons of StoreReady.
// The store answered AUTH, PING and INFO: a client can use it now.
inline constexpr std::string_view kReasonStoreAvailable = "StoreAvailable";
// The managed store's objects exist but its pod is not ready yet.
inline constexpr std::string_view kReasonProvisioning = "Provisioning";
// The store could not be reached (connection refused, timeout, DNS).
inline constexpr std::string_view kReasonStoreUnreachable = "StoreUnreachable";
// The store refused the credentials.
inline constexpr std::string_view kReasonAuthenticationFailed = "AuthenticationFailed";
// The external store's urlSecretRef names a Secret or key that does not exist.
inline constexpr std::string_view kReasonUrlSecretMissing = "UrlSecretMissing";
// The external store's URL is not a redis:// or rediss:// URL (or its database index cannot be
// one, or spec.store.external.tls is set for a redis:// URL).
inline constexpr std::string_view kReasonInvalidUrl = "InvalidUrl";
// The store refused SELECT of the URL's database (an index past its `databases`).
inline constexpr std::string_view kReasonDatabaseUnavailable = "DatabaseUnavailable";
// rediss://: the store's certificate does not chain to a trusted CA (the system's, or the one in
// spec.store.external.tls.caSecretRef).
inline constexpr std::string_view kReasonTlsCertificateUntrusted = "TLSCertificateUntrusted";
// rediss://: the store's certificate does not name the host (or tls.serverName).
inline constexpr std::string_view kReasonTlsHostMismatch = "TLSHostMismatch";
// rediss://: the certificate was refused for another reason (expired, not yet valid, ...); the
// message has OpenSSL's verify result.
inline constexpr std::string_view kReasonTlsVerificationFailed = "TLSVerificationFailed";
// rediss://: the TLS handshake failed before verification (not a TLS port, no common version).
inline constexpr std::string_view kReasonTlsHandshakeFailed = "TLSHandshakeFailed";
// spec.store.external.tls.caSecretRef names a Secret or key that does not exist, or that holds
// no PEM certificate.
inline constexpr std::string_view kReasonTlsCaSecretInvalid = "TLSCASecretInvalid";

// The password Secret exists but does not hold two passwords; the message names the key.
inline constexpr std::string_view kReasonPasswordSecretInvalid = "PasswordSecretInvalid";
// StoreReady: spec.store.managed.tls.issuerRef names a cert-manager issuer, but the cluster does
// not serve cert-manager's Certificate resource (cert-manager is not installed).
inline constexpr std::string_view kReasonCertManagerMissing = "CertManagerMissing";
// StoreReady: waiting for cert-manager to issue the managed store's certificate.
inline constexpr std::string_view kReasonCertificatePending = "CertificatePending";
// StoreReady: the managed store's certificate or CA Secret cannot be used (named in the message).
inline constexpr std::string_view kReasonTlsSecretInvalid = "TLSSecretInvalid";
// Writing one of the store's objects failed (the message has the API server's answer).
inline constexpr std::string_view kReasonProvisioningFailed = "ProvisioningFailed";

// Any condition: an object the operator must write exists and is not owned by this
// SessionStore; the operator never overwrites it. The message names it and what to change.
inline constexpr std::string_view kReasonNameTaken = "NameTaken";

// Reasons of ConnectionWired.
// The target Deployment carries the connection env and the connection-hash annotation.
inline constexpr std::string_view kReasonWired = "Wired";
// Wiring waits for StoreReady, so the app never starts against a store that is not there.
inline constexpr std::string_view kReasonWaitingForStore = "WaitingForStore";
// spec.target.deployment does not exist (yet) in the SessionStore's namespace.
inline constexpr std::string_view kReasonDeploymentNotFound = "DeploymentNotFound";
// A container named in spec.target.containers is not in the Deployment's pod template.
inline constexpr std::string_view kReasonContainerNotFound = "ContainerNotFound";
// The server-side apply to the Deployment failed (the message says why).
inline constexpr std::string_view kReasonApplyFailed = "ApplyFailed";
// A wired container already has an env entry of a name the operator writes, one the operator did
// not write (the user's own): it is never replaced. The message names the container, the entry
// and the spec field that chose the name.
inline constexpr std::string_view kReasonEnvVarInUse = "EnvVarInUse";
// The pod template already has a volume, or a wired container a mount, by the name or path the
// operator gives the store's CA (a managed TLS store), and the operator did not write it: it is
// never replaced. The message names the volume or mount and what to rename.
inline constexpr std::string_view kReasonVolumeInUse = "VolumeInUse";

// Any target condition (ConnectionWired, AffinityApplied): another SessionStore already wires the
// target Deployment or Service (one SessionStore per target; the first keeps it). The message
// names that SessionStore; nothing of the target is written.
inline constexpr std::string_view kReasonTargetClaimed = "TargetClaimed";

// Reasons of AffinityApplied.
// The Service is set to ClientIP affinity with the configured timeout.
inline constexpr std::string_view kReasonAffinityClientIP = "ClientIP";
// The Service is set to no affinity: sessions are shared through the store.
inline constexpr std::string_view kReasonAffinityNone = "None";
// spec.target.service is empty: affinity is not managed.
inline constexpr std::string_view kReasonNoService = "NoService";
// spec.target.service does not exist (yet) in the SessionStore's namespace.
inline constexpr std::string_view kReasonServiceNotFound = "ServiceNotFound";

// Reasons of WorkersSized.
// The worker count was computed from the containers' CPU and applied.
inline constexpr std::string_view kReasonWorkersSized = "Sized";
// The Deployment asks more replicas than its connection pools are sized for (the bound:
// spec.target.maxReplicas, an HPA's or ScaledObject's maximum, or autoscaling.maxReplicas); the
// pods are not rolled for it.
inline constexpr std::string_view kReasonReplicasAboveBound = "ReplicasAboveBound";

// Reasons of AutoscalingActive (present only while spec.autoscaling.enabled).
// Replicas follow the metrics.
inline constexpr std::string_view kReasonScaling = "Scaling";
// A HorizontalPodAutoscaler already targets the Deployment; the operator does not scale it.
inline constexpr std::string_view kReasonHorizontalPodAutoscalerPresent =
    "HorizontalPodAutoscalerPresent";
// A KEDA ScaledObject already targets the Deployment; the operator does not scale it.
inline constexpr std::string_view kReasonScaledObjectPresent = "ScaledObjectPresent";
// The Deployment has 0 replicas (scaled to zero by hand): autoscaling waits, as the HPA does.
inline constexpr std::string_view kReasonScaledToZero = "ScaledToZero";
// A metric could not be read this poll (the message names it and why); no scale-down until
// every source answers, scale-up from the others still happens.
inline constexpr std::string_view kReasonMetricsUnavailable = "MetricsUnavailable";
// The recommendation was capped by what the store can serve (maxClients).
inline constexpr std::string_view kReasonStoreCapacityLimited = "StoreCapacityLimited";

// Reasons of MemoryAtCeiling.
inline constexpr std::string_view kReasonCeilingReached = "CeilingReached";
inline constexpr std::string_view kReasonBelowCeiling = "BelowCeiling";

// Reasons of Ready.
// Every other condition is as wanted.
inline constexpr std::string_view kReasonReady = "Ready";
// Some condition is not yet as wanted; the message names it.
inline constexpr std::string_view kReasonNotReady = "NotReady";
// The spec cannot be used as written (the message names the field); no retry until it changes.
inline constexpr std::string_view kReasonInvalidSpec = "InvalidSpec";

}  // namespace sessionstore::api
