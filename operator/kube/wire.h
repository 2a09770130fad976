// What the API server sends on the wire, read into the client's types: error answers
// (metav1.Status, Retry-After), transport failures, and the lines of a watch stream; and the
// encoding of query values. Pure functions over outside input, with no client and no
// transport, so they can be fuzzed on their own (tests/fuzz).
#pragma once

#include <optional>
#include <string>

#include "kube/client.h"
#include "kube/error.h"
#include "transport/http_transport.h"

namespace sessionstore::kube {

// The Error for an HTTP answer that is not a success: kind from the status code, reason,
// message and causes from the metav1.Status body when there is one, Retry-After honoured.
Error errorFromResponse(int status, const std::string& body,
                        const std::optional<std::string>& retryAfter);

// The Error for a request that got no answer.
Error errorFromFailure(const transport::Failure& failure);

// One line of a watch stream as an event; kMalformed for anything else, kGone for an ERROR
// event whose Status has code 410, another Error for any other ERROR event.
Result<WatchEvent> parseWatchLine(const std::string& line);

// Percent-encodes a query parameter value.
std::string escapeQueryValue(const std::string& value);

}  // namespace sessionstore::kube
