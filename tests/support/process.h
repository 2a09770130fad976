// Runs a program to completion and captures what it printed: the tests' way to drive kubectl,
// the control-plane scripts and the operator binary itself.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace sessionstore::testing {

struct ProcessResult {
  int exitCode = -1;     // the exit status, or 128 + signal when the process was killed
  bool timedOut = false; // killed because it outlived ProcessOptions::timeout
  std::string out;
  std::string err;

  bool ok() const { return exitCode == 0 && !timedOut; }
  // "exit 1: <stderr>" for assertion messages.
  std::string describe() const;
};

struct ProcessOptions {
  std::string input;                          // written to the child's stdin, then closed
  std::map<std::string, std::string> env;     // added to (or replacing in) the environment
  std::chrono::milliseconds timeout{120'000};  // SIGKILL after this long
};

// REQUIRES: argv is not empty; argv[0] is a path or a name looked up in PATH.
ProcessResult runProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// True while a process with this pid exists (zombies included).
bool processExists(int pid);

}  // namespace sessionstore::testing
