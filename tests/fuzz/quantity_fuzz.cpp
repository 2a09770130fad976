// Resource quantities ("100m", "1.5Gi", "9559630n") from Deployments and PodMetrics:
// Quantity::parse gives a value or an error, and a value prints in a canonical form that parses
// back to the same value. (The text itself may change once: "62.5Ki" prints "64000", which,
// being decimal, prints "64k" from then on, as in Kubernetes.)
#include "fuzz_input.h"
#include "quantity/quantity.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using sessionstore::quantity::Quantity;
  namespace fuzz = sessionstore::fuzz;
  const auto parsed = Quantity::parse(fuzz::text(data, size));
  if (!parsed) return 0;
  const std::string canonical = parsed->toString();
  const auto again = Quantity::parse(canonical);
  if (!again) fuzz::broken("the canonical form does not parse");
  if (!(*again == *parsed)) fuzz::broken("the canonical form parses to another value");
  const std::string second = again->toString();
  if (Quantity::parse(second).value_or(Quantity()) != *parsed) fuzz::broken("printing drifts");
  if (Quantity::parse(second)->toString() != second) fuzz::broken("the canonical form is not stable");
  (void)parsed->value();
  (void)parsed->milliValue();
  return 0;
}
