// A Prometheus /api/v1/query answer, from a server the user names: parsePrometheusValue gives a
// finite value or an error that says why, never an exception.
#include <cmath>

#include "autoscaling/sources.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const auto value = autoscaling::parsePrometheusValue(fuzz::text(data, size));
  if (value && !std::isfinite(*value)) fuzz::broken("a value that is not finite");
  if (!value && value.error().empty()) fuzz::broken("an error without a message");
  return 0;
}
