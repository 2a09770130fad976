// A kubeconfig, the YAML file a user hands the operator: kube::parseKubeconfig gives a cluster
// configuration or an Error that says what is wrong, never an exception. Relative paths resolve
// in a folder that does not exist, so no file of this machine is read.
#include "fuzz_input.h"
#include "kube/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const auto config = kube::parseKubeconfig(fuzz::text(data, size), "/nonexistent-fuzz-dir");
  if (config) {
    if (config->server.empty()) fuzz::broken("a configuration without a server");
  } else if (config.error().describe().empty()) {
    fuzz::broken("an error without a message");
  }
  return 0;
}
