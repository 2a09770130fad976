#include "egress/host_policy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

namespace sessionstore::egress {
namespace {

// The kubernetes Service in every cluster (cluster.local is the default cluster domain).
const char* const kApiServerNames[] = {"kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                       "kubernetes.default.svc.cluster.local"};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Lower case, without the trailing dot of a fully qualified name and without IPv6's brackets.
std::string normalHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return lower(host);
}

Address fromV4(const unsigned char v4[4]) {
  Address out;
  out.bytes[10] = 0xff;
  out.bytes[11] = 0xff;
  std::memcpy(out.bytes + 12, v4, 4);
  return out;
}

// The IPv4 address inside, in mapped form; the address itself when it is not IPv4.
Address normal(const Address& address) {
  if (!address.isV4()) return address;
  return fromV4(address.bytes + 12);
}

}  // namespace

bool Address::isV4() const {
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static const unsigned char kZero[12] = {};
  if (std::memcmp(bytes, kMapped, 12) == 0 || std::memcmp(bytes, kNat64, 12) == 0) return true;
  // IPv4-compatible ::a.b.c.d (deprecated), but not :: or ::1.
  if (std::memcmp(bytes, kZero, 12) == 0) {
    const bool high = bytes[12] != 0 || bytes[13] != 0 || bytes[14] != 0;
    return high || bytes[15] > 1;
  }
  return false;
}

std::string Address::toString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (isV4()) {
    ::inet_ntop(AF_INET, bytes + 12, text, sizeof text);
  } else {
    ::inet_ntop(AF_INET6, bytes, text, sizeof text);
  }
  return text;
}

std::optional<Address> parseAddress(std::string_view text) {
  const std::string host = normalHost(text);
  unsigned char buffer[16];
  if (::inet_pton(AF_INET, host.c_str(), buffer) == 1) return fromV4(buffer);
  if (::inet_pton(AF_INET6, host.c_str(), buffer) == 1) {
    Address out;
    std::memcpy(out.bytes, buffer, 16);
    return out;
  }
  return std::nullopt;
}

Resolver systemResolver() {
  return [](const std::string& host) -> std::expected<std::vector<Address>, std::string> {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int code = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (code != 0) return std::unexpected(std::string(::gai_strerror(code)));
    std::vector<Address> out;
    for (const addrinfo* at = found; at != nullptr; at = at->ai_next) {
      if (at->ai_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(at->ai_addr);
        unsigned char v4[4];
        std::memcpy(v4, &in->sin_addr, 4);
        out.push_back(fromV4(v4));
      } else if (at->ai_family == AF_INET6) {
        const auto* in = reinterpret_cast<const sockaddr_in6*>(at->ai_addr);
        Address address;
        std::memcpy(address.bytes, &in->sin6_addr, 16);
        out.push_back(address);
      }
    }
    ::freeaddrinfo(found);
    return out;
  };
}

std::string forbiddenRange(const Address& given) {
  const Address address = normal(given);
  if (address.isV4()) {
    const unsigned char* v4 = address.bytes + 12;
    if (v4[0] == 169 && v4[1] == 254) return "link-local (where clouds serve instance metadata)";
    if (v4[0] == 100 && v4[1] == 100 && v4[2] == 100 && v4[3] == 200) {
      return "a cloud metadata service (Alibaba Cloud)";
    }
    if (v4[0] == 0) return "unspecified (this host)";
    return "";
  }
  static const unsigned char kZero[16] = {};
  if (std::memcmp(address.bytes, kZero, 16) == 0) return "unspecified (this host)";
  if (address.bytes[0] == 0xfe && (address.bytes[1] & 0xc0) == 0x80) {
    return "link-local (where clouds serve instance metadata)";
  }
  if (const auto aws = parseAddress("fd00:ec2::254"); aws && address == *aws) {
    return "a cloud metadata service (AWS, IPv6)";
  }
  return "";
}

std::expected<std::pair<std::string, int>, std::string> hostOf(std::string_view url) {
  int port = 0;
  if (url.starts_with("http://")) {
    url.remove_prefix(7);
    port = 80;
  } else if (url.starts_with("https://")) {
    url.remove_prefix(8);
    port = 443;
  } else {
    return std::unexpected(std::string("must start with http:// or https://"));
  }
  std::string_view authority = url.substr(0, url.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);  // credentials: never looked at, never repeated
  }
  std::string_view host = authority;
  std::string_view portText;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::unexpected(std::string("has an unclosed ["));
    host = authority.substr(0, close + 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::unexpected(std::string("has text after the host"));
      portText = rest.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    portText = authority.substr(colon + 1);
  }
  if (!portText.empty()) {
    int parsed = 0;
    const auto [end, ec] =
        std::from_chars(portText.data(), portText.data() + portText.size(), parsed);
    if (ec != std::errc() || end != portText.data() + portText.size() || parsed < 1 ||
        parsed > 65535) {
      return std::unexpected(std::string("has a port that is not a number from 1 to 65535"));
    }
    port = parsed;
  }
  // Brackets only around the whole host (an IPv6 address): "d0::7]" or "[[::1]" is no host.
  const std::string_view inner =
      host.starts_with("[") ? host.substr(1, host.size() >= 2 ? host.size() - 2 : 0) : host;
  if (inner.find_first_of("[]") != std::string_view::npos) {
    return std::unexpected(std::string("has a [ or ] outside brackets around an IPv6 address"));
  }
  const std::string normalized = normalHost(host);
  if (normalized.empty()) return std::unexpected(std::string("has no host"));
  return std::pair{normalized, port};
}

HostPolicy::HostPolicy() : resolver_(systemResolver()) {
  for (const char* name : kApiServerNames) apiServerHosts_.push_back({.host = name, .port = 0});
}

std::expected<HostPolicy, std::string> HostPolicy::make(std::string_view allowList,
                                                        std::vector<Endpoint> apiServer,
                                                        Resolver resolver) {
  HostPolicy out;
  out.resolver_ = std::move(resolver);
  for (const auto& endpoint : apiServer) {
    if (endpoint.host.empty()) continue;
    const Endpoint normalized{.host = normalHost(endpoint.host), .port = endpoint.port};
    out.apiServerHosts_.push_back(normalized);
    out.apiServerAddresses_.push_back(normalized);
  }
  std::size_t start = 0;
  while (start <= allowList.size()) {
    auto comma = allowList.find(',', start);
    if (comma == std::string_view::npos) comma = allowList.size();
    std::string_view item = allowList.substr(start, comma - start);
    start = comma + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    const bool hasPort = item.starts_with("[") ? item.find("]:") != std::string_view::npos
                                               : item.find(':') != std::string_view::npos &&
                                                     item.find(':') == item.rfind(':');
    auto parsed = hostOf("http://" + std::string(item));
    const bool plain = std::all_of(item.begin(), item.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
             c == '[' || c == ']';
    });
    if (!parsed || !plain) {
      return std::unexpected("entry \"" + std::string(item) +
                             "\" is not a host name or address with an optional :port");
    }
    out.allowed_.push_back({.host = parsed->first, .port = hasPort ? parsed->second : 0});
  }
  return out;
}

std::string HostPolicy::describeAllowList() const {
  std::string out;
  for (const auto& entry : allowed_) {
    std::string host =
        entry.host.find(':') != std::string::npos ? "[" + entry.host + "]" : entry.host;
    if (entry.port != 0) host += ":" + std::to_string(entry.port);
    out += (out.empty() ? "" : ", ") + host;
  }
  return out;
}

std::string HostPolicy::check(const std::string& url) const {
  auto parsed = hostOf(url);
  if (!parsed) return "the URL " + parsed.error();
  const auto& [host, port] = *parsed;
  if (!allowed_.empty()) {
    const bool listed = std::any_of(allowed_.begin(), allowed_.end(), [&](const Allowed& entry) {
      return entry.host == host && (entry.port == 0 || entry.port == port);
    });
    if (listed) return "";
    return "host " + host +
           " is not one of the Prometheus hosts this operator may query "
           "(--allowed-prometheus-hosts: " +
           describeAllowList() + ")";
  }
  const auto samePort = [&](const Endpoint& endpoint) {
    return endpoint.port == 0 || endpoint.port == port;
  };
  if (std::any_of(apiServerHosts_.begin(), apiServerHosts_.end(), [&](const Endpoint& endpoint) {
        return endpoint.host == host && samePort(endpoint);
      })) {
    return "host " + host +
           " is the Kubernetes API server, which the operator does not query for "
           "a SessionStore";
  }
  auto addresses = resolver_(host);
  if (!addresses) return "";  // the request fails by itself, and says so
  std::vector<Address> apiServer;
  // The kubernetes Service's names resolve to KUBERNETES_SERVICE_HOST, which is given: only the
  // given hosts are resolved (a lookup of "kubernetes" outside a cluster can take seconds).
  for (const auto& endpoint : apiServerAddresses_) {
    if (!samePort(endpoint)) continue;
    if (auto resolved = resolver_(endpoint.host)) {
      for (const auto& address : *resolved) apiServer.push_back(normal(address));
    }
  }
  for (const Address& address : *addresses) {
    const std::string range = forbiddenRange(address);
    if (!range.empty()) {
      return "host " + host + " resolves to " + address.toString() + ", " + range +
             ", which the operator does not query for a SessionStore";
    }
    if (std::find(apiServer.begin(), apiServer.end(), normal(address)) != apiServer.end()) {
      return "host " + host + " resolves to " + address.toString() +
             ", an address of the Kubernetes API server, which the operator does not query for a "
             "SessionStore";
    }
  }
  return "";
}

}  // namespace sessionstore::egress
