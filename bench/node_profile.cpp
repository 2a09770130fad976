// What the node profile costs to get: scripts/build-images when nothing changed (every archive
// reused), `scripts/controlplane up node` on a warm machine (the figure and its parts, as the
// script prints them) and `down`, over a few runs; with --cold-images, every image built from
// nothing (an empty archive cache and an empty buildah storage of its own: debootstrap, apt, the
// operator's compile). Budgets from the issue that asked for the node: up in under 30 s warm,
// images in under 5 minutes cold. Prints figures; asserts nothing.
//
//   node_profile_bench [--runs N] [--cold-images]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "control_plane.h"
#include "process.h"

namespace {

using namespace std::chrono_literals;
using sessionstore::testing::ProcessResult;
using sessionstore::testing::runProcess;
using sessionstore::testing::sourceDir;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Builds every image into an empty cache and an empty buildah storage; prints the script's
// phase times and the total.
int coldImages() {
  const std::filesystem::path scratch =
      std::filesystem::temp_directory_path() / ("node-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(scratch / "cache");
  {
    std::ofstream conf(scratch / "storage.conf");
    conf << "[storage]\ndriver = \"overlay\"\ngraphroot = \"" << (scratch / "storage").string()
         << "\"\nrunroot = \"" << (scratch / "run").string() << "\"\n";
  }
  // buildah keeps RUN --mount=type=cache folders (the operator's compiler cache) under TMPDIR.
  std::filesystem::create_directories(scratch / "tmp");
  const std::map<std::string, std::string> env{
      {"SESSIONSTORE_CACHE", (scratch / "cache").string()},
      {"CONTAINERS_STORAGE_CONF", (scratch / "storage.conf").string()},
      {"TMPDIR", (scratch / "tmp").string()}};
  const auto start = Clock::now();
  const auto built = runProcess({sourceDir() + "/scripts/build-images"},
                                {.env = env, .timeout = std::chrono::minutes(30)});
  const double took = secondsSince(start);
  std::cout << built.err.substr(built.err.rfind("[build-images] phase times") == std::string::npos
                                    ? 0
                                    : built.err.rfind("[build-images] phase times"));
  std::cout << "images, cold: " << (built.ok() ? "built" : "FAILED") << " in " << took
            << " s (budget 300 s: " << (built.ok() && took < 300 ? "met" : "missed") << ")\n";
  runProcess({"buildah", "rm", "--all"}, {.env = env});
  runProcess({"buildah", "rmi", "--all", "--force"}, {.env = env});
  // Whatever buildah left mounted under the scratch folder goes before the folder does.
  runProcess({"sh", "-c",
              "awk '{print $5}' /proc/self/mountinfo | grep '^" + scratch.string() +
                  "/' | sort -r | xargs -r -n1 umount -l"});
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
  return built.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 3;
  bool cold = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--cold-images") {
      cold = true;
    } else {
      std::cerr << "usage: node_profile_bench [--runs N] [--cold-images]\n";
      return 2;
    }
  }
  int failures = 0;
  if (cold) failures += coldImages();

  // Warm: the images as they are (built when missing, then reused).
  runProcess({sourceDir() + "/scripts/build-images"}, {.timeout = std::chrono::minutes(30)});
  const auto reuseStart = Clock::now();
  const auto reused =
      runProcess({sourceDir() + "/scripts/build-images"}, {.timeout = std::chrono::minutes(5)});
  const double reuse = secondsSince(reuseStart);
  const bool allReused = reused.ok() && reused.err.find(" built ") == std::string::npos;
  std::cout << "images, nothing changed: " << reuse << " s, "
            << (allReused ? "every archive reused" : "SOMETHING WAS REBUILT") << "\n";
  if (!allReused) ++failures;

  std::vector<double> ups, downs;
  const std::regex upLine(R"(profile node up in ([0-9]+) ms \([^;]*; ([^)]*)\))");
  for (int run = 1; run <= runs; ++run) {
    const auto upStart = Clock::now();
    const ProcessResult up = runProcess({sourceDir() + "/scripts/controlplane", "up", "node",
                                         "--owner-pid", std::to_string(::getpid())},
                                        {.timeout = std::chrono::minutes(20)});
    const double upTook = secondsSince(upStart);
    if (!up.ok()) {
      std::cout << "run " << run << ": up FAILED: " << up.describe() << "\n";
      ++failures;
      continue;
    }
    std::smatch parts;
    const std::string said =
        std::regex_search(up.err, parts, upLine) ? parts[2].str() : std::string("?");
    const auto downStart = Clock::now();
    const ProcessResult down =
        runProcess({sourceDir() + "/scripts/controlplane", "down", trimmed(up.out)},
                   {.timeout = std::chrono::minutes(5)});
    const double downTook = secondsSince(downStart);
    if (!down.ok()) ++failures;
    ups.push_back(upTook);
    downs.push_back(downTook);
    std::cout << "run " << run << ": up " << upTook << " s (" << said << "), down " << downTook
              << " s" << (down.ok() ? "" : " FAILED") << "\n";
  }
  if (!ups.empty()) {
    std::sort(ups.begin(), ups.end());
    std::sort(downs.begin(), downs.end());
    std::cout << "node profile up, warm: p50 " << ups[ups.size() / 2] << " s, max " << ups.back()
              << " s over " << ups.size() << " runs (budget 30 s: "
              << (ups.back() < 30 ? "met" : "missed") << "); down: p50 " << downs[downs.size() / 2]
              << " s, max " << downs.back() << " s\n";
  }
  return failures == 0 ? 0 : 1;
}
