// What every fuzz target shares: the input as text, split into parts where a target needs
// several inputs (a PodList and its PodMetricsList), and the one way to report a broken
// invariant (abort, which libFuzzer and the replay driver both report with the input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace sessionstore::fuzz {

inline std::string text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Splits at each "\n----\n": corpus files hold several documents that way.
inline std::vector<std::string> parts(const std::string& input, std::size_t count) {
  std::vector<std::string> out;
  std::size_t from = 0;
  while (out.size() + 1 < count) {
    const auto at = input.find("\n----\n", from);
    if (at == std::string::npos) break;
    out.push_back(input.substr(from, at - from));
    from = at + 6;
  }
  out.push_back(input.substr(from));
  while (out.size() < count) out.emplace_back();
  return out;
}

[[noreturn]] inline void broken(const char* invariant) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", invariant);
  std::abort();
}

}  // namespace sessionstore::fuzz
