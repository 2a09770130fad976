// Where the operator may send a request a SessionStore asks for (issue 19, "confused deputy"):
// a Latency metric names a Prometheus URL, and the operator queries it from inside the cluster
// with its own network position. Without a check, whoever may create a SessionStore could make
// the operator fetch the cloud's metadata service (169.254.169.254, fe80::/10: credentials of the
// node) or the API server, and read the answer back in the metric's status message.
//
// The rules, for the host of a URL:
//   - with an allow-list (the operator's --allowed-prometheus-hosts flag), the host must be one of
//     its entries, compared as host names without regard to case (an entry "host:port" also fixes
//     the port); nothing else is checked: the admin named the hosts;
//   - without one, the host is refused when it names the API server (the kubernetes Service's
//     names, KUBERNETES_SERVICE_HOST, the host of the server the operator's kubeconfig names), or
//     when any address it resolves to now is link-local (169.254.0.0/16, fe80::/10), unspecified
//     (0.0.0.0, ::), or one of the API server's addresses. IPv4 inside IPv6 (::ffff:a.b.c.d,
//     ::a.b.c.d, 64:ff9b::a.b.c.d) counts as that IPv4 address. Addresses, not spellings, are
//     compared, so 2852039166, 0251.0376.0251.0376 or 0xa9fea9fe (which the resolver reads as
//     169.254.169.254) are refused too.
// The resolver is injected (tests use a table). REQUIRES of the caller: check at query time, right
// before the request, so that a name changed to point elsewhere since the last poll is caught.
#pragma once

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionstore::egress {

// An IP address as 16 bytes (IPv4 as ::ffff:a.b.c.d).
struct Address {
  unsigned char bytes[16] = {};
  bool operator==(const Address&) const = default;
  // IPv4 in whatever IPv6 form it came (mapped, compatible, NAT64), else not.
  bool isV4() const;
  std::string toString() const;
};

// Every address `host` resolves to (an IP literal resolves to itself); an error when it does not
// resolve.
using Resolver =
    std::function<std::expected<std::vector<Address>, std::string>(const std::string&)>;
// getaddrinfo, both families.
Resolver systemResolver();

// Parses an IP literal ("169.254.169.254", "fe80::1", "::ffff:10.0.0.1"); nullopt otherwise.
std::optional<Address> parseAddress(std::string_view text);

// Why an address may not be queried when no allow-list is set ("link-local (cloud metadata)",
// "unspecified"), or "".
std::string forbiddenRange(const Address& address);

// Where the API server listens: a host name or address, and a port (0: any port, as for the
// kubernetes Service's address, which serves nothing else).
struct Endpoint {
  std::string host;
  int port = 0;
};

class HostPolicy {
 public:
  // allowList: the flag's text (hosts or host:port, comma-separated; "" for none).
  // apiServer: where the API server listens (KUBERNETES_SERVICE_HOST on any port, the kubeconfig's
  // server on its port), beside the kubernetes Service's names, which are always included.
  static std::expected<HostPolicy, std::string> make(std::string_view allowList,
                                                     std::vector<Endpoint> apiServer,
                                                     Resolver resolver = systemResolver());
  HostPolicy();  // no allow-list, the kubernetes Service's names, the system resolver

  // "" when a request to `url` (http:// or https://) may go; else why not, naming the host (never
  // the URL's credentials).
  std::string check(const std::string& url) const;

  bool hasAllowList() const { return !allowed_.empty(); }
  std::string describeAllowList() const;

 private:
  struct Allowed {
    std::string host;  // lower case, IPv6 without brackets
    int port = 0;      // 0: any
  };
  std::vector<Allowed> allowed_;
  std::vector<Endpoint> apiServerHosts_;      // lower case, compared by name
  std::vector<Endpoint> apiServerAddresses_;  // the given ones, resolved at each check
  Resolver resolver_;
};

// The host (lower case, IPv6 without brackets) and port of an http:// or https:// URL; an error
// when it has none.
std::expected<std::pair<std::string, int>, std::string> hostOf(std::string_view url);

}  // namespace sessionstore::egress
