// An API server's answer that is not a success: errorFromResponse reads the status code, the
// metav1.Status body and Retry-After into an Error, never an exception. Input: the status code
// as the first two bytes, then Retry-After and the body separated by "\n----\n".
#include "fuzz_input.h"
#include "kube/rest_client.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sessionstore;
  if (size < 2) return 0;
  const int status = (data[0] << 8 | data[1]) % 1000;
  const auto documents = fuzz::parts(fuzz::text(data + 2, size - 2), 2);
  const auto error = kube::errorFromResponse(
      status, documents[1], documents[0].empty() ? std::nullopt : std::optional(documents[0]));
  if (error.retryAfter && error.retryAfter->count() < 0) fuzz::broken("a negative Retry-After");
  (void)error.describe();
  return 0;
}
