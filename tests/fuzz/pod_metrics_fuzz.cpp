// A PodList and its PodMetricsList (metrics.k8s.io), as the API server answers them, and the
// Deployment's label selector: podSample and selectorString give a sample or an error, never an
// exception. The input holds the three JSON documents separated by "\n----\n".
#include <cmath>
#include <nlohmann/json.hpp>

#include "autoscaling/sources.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const auto documents = fuzz::parts(fuzz::text(data, size), 3);
  const auto pods = nlohmann::json::parse(documents[0], nullptr, false);
  const auto metrics = nlohmann::json::parse(documents[1], nullptr, false);
  const auto selector = nlohmann::json::parse(documents[2], nullptr, false);
  if (!selector.is_discarded()) (void)autoscaling::selectorString(selector);
  if (pods.is_discarded() || metrics.is_discarded()) return 0;
  for (const char* resource : {"cpu", "memory"}) {
    const auto sample = autoscaling::podSample(pods, metrics, resource, {});
    if (!sample) continue;
    for (const auto& pod : sample->ready) {
      if (!std::isfinite(pod.usage) || !std::isfinite(pod.request)) {
        fuzz::broken("a pod sample that is not finite");
      }
    }
  }
  return 0;
}
