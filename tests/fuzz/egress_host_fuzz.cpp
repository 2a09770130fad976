// Where a Latency query may go (egress::hostOf, egress::HostPolicy): the Prometheus URL of a
// SessionStore and the --allowed-prometheus-hosts list. Never a crash; an accepted URL has a
// non-empty host and a port from 1 to 65535; a refusal is the same without the URL's credentials
// (what comes before the last '@' of its authority), so it never repeats them; a list's own
// description parses back to a list that decides the same. The first part is the URL, the second
// the allow-list; names resolve through a table (no lookups leave the target).
#include "egress/host_policy.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace egress = sessionstore::egress;
  namespace fuzz = sessionstore::fuzz;
  const auto input = fuzz::parts(fuzz::text(data, size), 2);
  const std::string& url = input[0];
  const auto host = egress::hostOf(url);
  if (host) {
    if (host->first.empty()) fuzz::broken("an accepted URL has an empty host");
    if (host->second < 1 || host->second > 65535) fuzz::broken("a port outside 1..65535");
  }
  const egress::Resolver table =
      [](const std::string& name) -> std::expected<std::vector<egress::Address>, std::string> {
    if (auto literal = egress::parseAddress(name)) return std::vector<egress::Address>{*literal};
    if (name == "metadata.example") {
      return std::vector<egress::Address>{*egress::parseAddress("169.254.169.254")};
    }
    return std::unexpected(std::string("not found"));
  };
  for (const std::string& list : {std::string(), input[1]}) {
    const auto policy = egress::HostPolicy::make(list, {{"10.96.0.1", 0}}, table);
    if (!policy) continue;
    const std::string problem = policy->check(url);
    const auto scheme = url.find("://");
    if (!problem.empty() && scheme != std::string::npos) {
      const std::string authority =
          url.substr(scheme + 3, url.find_first_of("/?#", scheme + 3) - (scheme + 3));
      // The refusal is the same with the credentials taken out: it cannot repeat them. (Looking
      // for the credentials' text in the message instead fails on "prom@...": the message names
      // --allowed-prometheus-hosts.)
      if (const auto at = authority.rfind('@'); at != std::string::npos) {
        const std::string without = url.substr(0, scheme + 3) + url.substr(scheme + 3 + at + 1);
        if (policy->check(without) != problem) {
          fuzz::broken("a refusal depends on the URL's credentials");
        }
      }
    }
    if (policy->hasAllowList()) {
      const auto again =
          egress::HostPolicy::make(policy->describeAllowList(), {{"10.96.0.1", 0}}, table);
      if (!again) fuzz::broken("an allow-list's description does not parse");
      if (again->check(url).empty() != problem.empty()) {
        fuzz::broken("an allow-list decides differently once printed and parsed again");
      }
    }
  }
  return 0;
}
