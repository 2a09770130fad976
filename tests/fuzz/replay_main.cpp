// The driver for a fuzz target in the regular (g++) build: runs every file of the folders given
// on the command line through LLVMFuzzerTestOneInput, so ctest replays the corpus and every
// regression input on each run. A missing or empty corpus folder fails: a replay of nothing
// would prove nothing. Folders named with a leading '?' may be missing or empty (regressions).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::size_t total = 0;
  for (int i = 1; i < argc; ++i) {
    std::string folder = argv[i];
    const bool optional = folder.starts_with("?");
    if (optional) folder.erase(0, 1);
    std::size_t inputs = 0;
    if (fs::is_directory(folder)) {
      for (const auto& entry : fs::recursive_directory_iterator(folder)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream file(entry.path(), std::ios::binary);
        const std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                                      std::istreambuf_iterator<char>());
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        ++inputs;
      }
    }
    std::printf("%zu inputs from %s\n", inputs, folder.c_str());
    if (inputs == 0 && !optional) {
      std::fprintf(stderr, "no inputs in %s: the corpus is missing\n", folder.c_str());
      return 1;
    }
    total += inputs;
  }
  std::printf("replayed %zu inputs without a crash or a broken invariant\n", total);
  return 0;
}
