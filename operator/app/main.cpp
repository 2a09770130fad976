// sessionstore-operator: the command line. `run` (the controller) and `plan` (offline preview)
// come with the reconcile issue; until then the binary reports its version and usage.
#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

constexpr std::string_view kUsage =
    "usage: sessionstore-operator <command> [flags]\n"
    "\n"
    "commands:\n"
    "  version   print the version\n"
    "  help      print this help\n";

}  // namespace

int main(int argc, char** argv) {
  const std::string_view command = argc > 1 ? argv[1] : "help";
  if (command == "version" || command == "--version") {
    std::printf("sessionstore-operator %s\n", SESSIONSTORE_VERSION);
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  std::fprintf(stderr, "sessionstore-operator: unknown command '%s'\n\n%s", argv[1], kUsage.data());
  return 2;
}
