#include "logging/secret.h"

namespace sessionstore::logging {

std::ostream& operator<<(std::ostream& out, const Secret& /*secret*/) { return out << kRedacted; }

}  // namespace sessionstore::logging
