// Where a Latency query may go (egress/host_policy.h): addresses, not spellings, are checked;
// the API server and link-local addresses are refused without an allow-list; an allow-list is
// matched exactly. The resolver is a table here, except where the system's own reading of
// numeric spellings is the point (no network: numeric hosts are not looked up).
#include "egress/host_policy.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace sessionstore::egress {
namespace {

Address ip(const std::string& text) {
  auto parsed = parseAddress(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(Address{});
}

// Names to addresses; an IP literal resolves to itself; anything else does not resolve.
Resolver table(std::map<std::string, std::vector<std::string>> names) {
  return [names](const std::string& host) -> std::expected<std::vector<Address>, std::string> {
    if (auto literal = parseAddress(host)) return std::vector<Address>{*literal};
    const auto it = names.find(host);
    if (it == names.end()) return std::unexpected(std::string("Name or service not known"));
    std::vector<Address> out;
    for (const auto& text : it->second) out.push_back(*parseAddress(text));
    return out;
  };
}

HostPolicy policy(const std::string& allowList = "") {
  auto made = HostPolicy::make(allowList, {{"10.96.0.1", 0}, {"api.cluster.example", 6443}},
                               table({{"prometheus.monitoring.svc", {"10.0.0.7"}},
                                      {"metadata.attacker.example", {"169.254.169.254"}},
                                      {"mixed.attacker.example", {"10.0.0.8", "fe80::1"}},
                                      {"api.cluster.example", {"192.0.2.10"}},
                                      {"api-alias.attacker.example", {"192.0.2.10"}},
                                      {"svc-alias.attacker.example", {"10.96.0.1"}}}));
  EXPECT_TRUE(made.has_value()) << made.error();
  return made.value_or(HostPolicy());
}

TEST(ForbiddenRange, LinkLocalAndUnspecifiedInEveryForm) {
  for (const std::string text : {"169.254.169.254", "169.254.0.1", "::ffff:169.254.169.254",
                                 "::169.254.169.254", "64:ff9b::169.254.169.254", "fe80::1",
                                 "febf::1", "fd00:ec2::254", "0.0.0.0", "::", "100.100.100.200"}) {
    EXPECT_NE(forbiddenRange(ip(text)), "") << text;
  }
  for (const std::string text : {"10.0.0.7", "127.0.0.1", "::1", "fec0::1", "2001:db8::1",
                                 "169.253.255.255", "169.255.0.1", "::ffff:10.0.0.1"}) {
    EXPECT_EQ(forbiddenRange(ip(text)), "") << text;
  }
}

TEST(HostPolicy, MetadataAndTheApiServerAreRefusedByAddressWithoutAList) {
  const HostPolicy p = policy();
  EXPECT_EQ(p.check("http://prometheus.monitoring.svc:9090"), "");
  EXPECT_EQ(p.check("https://prometheus.monitoring.svc"), "");
  EXPECT_EQ(p.check("http://no-such-host.invalid:9090"), "") << "the query fails by itself";
  // The kubeconfig's server is the API server on its port only (a node's address serves more).
  EXPECT_EQ(p.check("http://api.cluster.example:9090"), "");
  EXPECT_EQ(p.check("http://api-alias.attacker.example:9090"), "");
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"http://169.254.169.254/latest/meta-data", "resolves to 169.254.169.254, link-local"},
      {"http://[fe80::1]:80", "resolves to fe80::1, link-local"},
      {"http://[::ffff:169.254.169.254]/", "resolves to 169.254.169.254, link-local"},
      {"http://metadata.attacker.example:9090",
       "host metadata.attacker.example resolves to "
       "169.254.169.254, link-local"},
      {"http://mixed.attacker.example", "resolves to fe80::1"},
      {"https://kubernetes.default.svc:443",
       "host kubernetes.default.svc is the Kubernetes API server"},
      {"https://KUBERNETES.default.svc.cluster.local.", "is the Kubernetes API server"},
      {"https://kubernetes", "is the Kubernetes API server"},
      {"https://10.96.0.1", "is the Kubernetes API server"},
      {"https://api.cluster.example:6443", "is the Kubernetes API server"},
      {"https://api-alias.attacker.example:6443",
       "resolves to 192.0.2.10, an address of the "
       "Kubernetes API server"},
      {"https://svc-alias.attacker.example", "resolves to 10.96.0.1, an address of the Kubernetes"},
      {"http://user:hunter2@169.254.169.254/", "resolves to 169.254.169.254"},
      {"http://0.0.0.0:9090", "unspecified"},
  };
  for (const auto& [url, why] : refused) {
    const std::string problem = p.check(url);
    EXPECT_NE(problem.find(why), std::string::npos) << url << ": " << problem;
    EXPECT_EQ(problem.find("hunter2"), std::string::npos) << "credentials in the message";
  }
}

TEST(HostPolicy, TheSystemResolverReadsNumericSpellingsAsTheAddressTheyAre) {
  // inet_aton's forms, which getaddrinfo accepts: decimal, octal, hex, short dotted.
  auto made = HostPolicy::make("", {});
  ASSERT_TRUE(made.has_value());
  for (const std::string host : {"2852039166", "0251.0376.0251.0376", "0xa9fea9fe", "169.254.43518",
                                 "0xa9.0xfe.0xa9.0xfe"}) {
    const std::string problem = made->check("http://" + host + ":80/");
    EXPECT_NE(problem.find("resolves to 169.254.169.254, link-local"), std::string::npos)
        << host << ": " << problem;
  }
}

TEST(HostPolicy, AnAllowListIsMatchedExactly) {
  const HostPolicy p = policy("prometheus.monitoring.svc:9090, thanos.example");
  EXPECT_TRUE(p.hasAllowList());
  EXPECT_EQ(p.check("http://prometheus.monitoring.svc:9090"), "");
  EXPECT_EQ(p.check("http://PROMETHEUS.monitoring.svc.:9090/x"), "");
  EXPECT_EQ(p.check("https://thanos.example"), "");
  EXPECT_EQ(p.check("https://thanos.example:10902"), "");
  for (const std::string url :
       {"http://prometheus.monitoring.svc:9091", "http://prometheus.monitoring.svc.evil.io:9090",
        "http://evil.io/prometheus.monitoring.svc:9090", "http://thanos.example.evil.io",
        "http://169.254.169.254", "http://thanos.example@169.254.169.254/"}) {
    const std::string problem = p.check(url);
    EXPECT_NE(problem.find("is not one of the Prometheus hosts this operator may query "
                           "(--allowed-prometheus-hosts: prometheus.monitoring.svc:9090, "
                           "thanos.example)"),
              std::string::npos)
        << url << ": " << problem;
  }
}

TEST(HostPolicy, BadAllowListEntriesAreErrors) {
  // "d0::7]:8180" and "[[::1]" were taken as hosts with a bracket in them, and printed back as a
  // list that did not parse (found by egress_host_fuzz).
  for (const std::string list : {"http://prometheus", "prometheus:port", "a b", "prom/x",
                                 "d0::7]:8180", "[[::1]", "3].:80", "prom]", "[::1]]"}) {
    const auto made = HostPolicy::make(list, {});
    ASSERT_FALSE(made.has_value()) << list;
    EXPECT_NE(made.error().find("is not a host name or address"), std::string::npos)
        << made.error();
  }
  const auto v6 = HostPolicy::make("[fd00::7]:9090", {}, table({}));
  ASSERT_TRUE(v6.has_value()) << v6.error();
  EXPECT_EQ(v6->check("http://[fd00::7]:9090/"), "");
  EXPECT_NE(v6->check("http://[fd00::8]:9090/"), "");
}

}  // namespace
}  // namespace sessionstore::egress
