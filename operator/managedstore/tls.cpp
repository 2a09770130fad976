#include "managedstore/tls.h"

#include "crypto/crypto.h"
#include "managedstore/managed_store.h"

namespace sessionstore::managedstore {
namespace {

Json objectMetadata(const api::SessionStore& store, const std::string& name) {
  Json labels = Json::object();
  for (const auto& [key, value] : managedLabels(store)) labels[key] = value;
  return {{"name", name},
          {"namespace", store.metadata.ns},
          {"labels", labels},
          {"ownerReferences", Json::array({ownerReference(store)})}};
}

std::expected<std::string, std::string> decodedKey(const Json& secret, std::string_view key,
                                                   bool required) {
  const std::string where = "data." + std::string(key);
  if (!secret.is_object() || !secret.contains("data") || !secret["data"].is_object() ||
      !secret["data"].contains(key)) {
    if (!required) return std::string();
    return std::unexpected(where + ": missing");
  }
  const Json& value = secret["data"][std::string(key)];
  if (!value.is_string()) return std::unexpected(where + ": must be a string");
  auto decoded = crypto::base64Decode(value.get<std::string>());
  if (!decoded) return std::unexpected(where + ": not valid base64");
  if (required && decoded->empty()) return std::unexpected(where + ": empty");
  return *decoded;
}

}  // namespace

std::string tlsSecretName(const api::SessionStore& store) {
  return store.metadata.name + "-redis-tls";
}
std::string tlsCaSecretName(const api::SessionStore& store) {
  return store.metadata.name + "-redis-tls-ca";
}
std::string certificateName(const api::SessionStore& store) {
  return store.metadata.name + "-redis-tls";
}

std::vector<std::string> serverDnsNames(const api::SessionStore& store) {
  const std::string& ns = store.metadata.ns;
  const std::string service = serviceName(store);
  const std::string headless = headlessServiceName(store);
  return {service + "." + ns + ".svc",
          service,
          service + "." + ns,
          service + "." + ns + ".svc.cluster.local",
          headless + "." + ns + ".svc",
          "*." + headless + "." + ns + ".svc",
          "*." + headless + "." + ns + ".svc.cluster.local"};
}

Json caSecret(const api::SessionStore& store, const crypto::KeyAndCertificate& ca,
              std::string_view previousCaPem) {
  Json data = {{kCaCertKey, crypto::base64Encode(ca.certificatePem)},
               {kCaKeyKey, crypto::base64Encode(ca.privateKeyPem)}};
  if (!previousCaPem.empty()) data[std::string(kPreviousCaCertKey)] = crypto::base64Encode(previousCaPem);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", objectMetadata(store, tlsCaSecretName(store))},
          {"type", "Opaque"},
          {"data", std::move(data)}};
}

std::string previousCaFromSecret(const Json& secret, crypto::TimePoint now) {
  auto pem = decodedKey(secret, kPreviousCaCertKey, false);
  if (!pem || pem->empty()) return {};
  auto info = crypto::readCertificate(*pem);
  if (!info || !info->isCa || now >= info->notAfter) return {};
  return *pem;
}

std::string firstCertificate(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  const auto begin = pem.find(kBegin);
  if (begin == std::string_view::npos) return {};
  const auto end = pem.find(kEnd, begin);
  if (end == std::string_view::npos) return {};
  return std::string(pem.substr(begin, end + kEnd.size() - begin)) + "\n";
}

std::string trustBundle(std::string_view caPem, std::string_view previousCaPem) {
  std::string bundle(caPem);
  if (previousCaPem.empty()) return bundle;
  if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
  return bundle + std::string(previousCaPem);
}

std::expected<crypto::KeyAndCertificate, std::string> caFromSecret(const Json& secret) {
  auto cert = decodedKey(secret, kCaCertKey, true);
  if (!cert) return std::unexpected(cert.error());
  auto key = decodedKey(secret, kCaKeyKey, true);
  if (!key) return std::unexpected(key.error());
  return crypto::KeyAndCertificate{.certificatePem = *cert, .privateKeyPem = *key};
}

Json tlsSecret(const api::SessionStore& store, const crypto::KeyAndCertificate& server,
               std::string_view caPem) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", objectMetadata(store, tlsSecretName(store))},
          {"type", "kubernetes.io/tls"},
          {"data",
           {{kTlsCertKey, crypto::base64Encode(server.certificatePem)},
            {kTlsKeyKey, crypto::base64Encode(server.privateKeyPem)},
            {kCaCertKey, crypto::base64Encode(caPem)}}}};
}

std::expected<ServerTls, std::string> serverTlsFromSecret(const Json& secret) {
  auto cert = decodedKey(secret, kTlsCertKey, true);
  if (!cert) return std::unexpected(cert.error());
  auto key = decodedKey(secret, kTlsKeyKey, true);
  if (!key) return std::unexpected(key.error());
  auto ca = decodedKey(secret, kCaCertKey, false);
  if (!ca) return std::unexpected(ca.error());
  return ServerTls{.certificatePem = *cert, .privateKeyPem = *key, .caPem = *ca};
}

Json certificate(const api::SessionStore& store) {
  const api::IssuerRef& issuer = *store.spec.store.managed.tls.issuerRef;
  return {{"apiVersion", "cert-manager.io/v1"},
          {"kind", "Certificate"},
          {"metadata", objectMetadata(store, certificateName(store))},
          {"spec",
           {{"secretName", tlsSecretName(store)},
            {"commonName", serverDnsNames(store).front()},
            {"dnsNames", serverDnsNames(store)},
            {"issuerRef", {{"name", issuer.name}, {"kind", issuer.kind}, {"group", issuer.group}}},
            {"privateKey", {{"algorithm", "ECDSA"}, {"size", 256}, {"rotationPolicy", "Always"}}},
            {"usages", {"server auth", "digital signature", "key encipherment"}},
            {"secretTemplate", {{"labels", objectMetadata(store, "")["labels"]}}}}}};
}

crypto::TimePoint renewalTime(const crypto::CertificateInfo& certificate) {
  if (certificate.notAfter <= certificate.notBefore) return certificate.notBefore;
  // d - d/3 rather than d * 2 / 3: twice a validity of more than 146 years overflows.
  const auto lifetime = certificate.notAfter - certificate.notBefore;
  return certificate.notBefore + (lifetime - lifetime / 3);
}

bool servesUnder(const ServerTls& server, std::string_view caPem,
                 const std::vector<std::string>& dnsNames, crypto::TimePoint now) {
  auto info = crypto::readCertificate(server.certificatePem);
  return info && now >= info->notBefore && now < info->notAfter &&
         info->dnsNames == dnsNames && crypto::signedBy(server.certificatePem, caPem) &&
         crypto::keyMatches(server.certificatePem, server.privateKeyPem);
}

std::optional<std::string> reissueReason(const std::optional<ServerTls>& current,
                                         std::string_view caPem,
                                         const std::vector<std::string>& dnsNames,
                                         crypto::TimePoint now) {
  if (!current) return "there is no server certificate yet";
  auto info = crypto::readCertificate(current->certificatePem);
  if (!info) return "the server certificate " + info.error();
  if (!crypto::signedBy(current->certificatePem, caPem)) {
    return std::string("the server certificate was not signed by the store's CA");
  }
  if (!crypto::keyMatches(current->certificatePem, current->privateKeyPem)) {
    return std::string("the server key is not the certificate's");
  }
  if (info->dnsNames != dnsNames) return std::string("the server certificate names other hosts");
  if (now >= renewalTime(*info)) {
    return std::string("the server certificate reached two thirds of its lifetime");
  }
  return std::nullopt;
}

std::optional<std::string> caReplaceReason(const std::optional<crypto::KeyAndCertificate>& ca,
                                           crypto::TimePoint now,
                                           std::chrono::seconds certificateLifetime) {
  if (!ca) return "there is no CA yet";
  auto info = crypto::readCertificate(ca->certificatePem);
  if (!info) return "the CA certificate " + info.error();
  if (!info->isCa) return std::string("the CA certificate is not a CA");
  if (!crypto::keyMatches(ca->certificatePem, ca->privateKeyPem)) {
    return std::string("the CA key is not the CA certificate's");
  }
  if (now + certificateLifetime >= info->notAfter) {
    return std::string("the CA expires before a certificate issued now would");
  }
  return std::nullopt;
}

}  // namespace sessionstore::managedstore
