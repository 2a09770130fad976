// A YAML file under review, as `sessionstore-operator plan -f FILE` reads it: plan::parseYaml
// gives JSON documents or a "line L, column C" error, never an exception. Every document it
// gives keeps the promise of plan/yaml_json.h: toYaml(parseYaml(toYaml(v))) == toYaml(v).
#include "fuzz_input.h"
#include "plan/yaml_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const auto documents = plan::parseYaml(fuzz::text(data, size));
  if (!documents) {
    if (documents.error().empty()) fuzz::broken("an error without a message");
    return 0;
  }
  for (const auto& document : *documents) {
    const std::string once = plan::toYaml(document);
    const auto again = plan::parseYaml(once);
    if (!again) fuzz::broken("toYaml wrote text that parseYaml refuses");
    if (again->size() != 1) fuzz::broken("toYaml wrote other than one document");
    if (plan::toYaml(again->front()) != once) fuzz::broken("toYaml(parseYaml(toYaml(v))) != toYaml(v)");
  }
  return 0;
}
