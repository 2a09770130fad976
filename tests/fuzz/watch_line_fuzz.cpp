// One line of a watch stream, as the API server (or anything in between) sends it:
// kube::parseWatchLine gives an event or an Error (kMalformed, kGone, ...), never an exception.
#include "fuzz_input.h"
#include "kube/rest_client.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  const auto event = kube::parseWatchLine(fuzz::text(data, size));
  if (event && !event->object.is_object()) fuzz::broken("an event whose object is not an object");
  if (!event) (void)event.error().describe();
  return 0;
}
