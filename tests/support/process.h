// Runs a program to completion and captures what it printed: the tests' way to drive kubectl,
// the control-plane scripts and the operator binary itself.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sessionstore::testing {

struct ProcessResult {
  int exitCode = -1;      // the exit status, or 128 + signal when the process was killed
  bool timedOut = false;  // killed because it outlived ProcessOptions::timeout
  std::string out;
  std::string err;

  bool ok() const { return exitCode == 0 && !timedOut; }
  // "exit 1: <stderr>" for assertion messages.
  std::string describe() const;
};

struct ProcessOptions {
  std::string input;                           // written to the child's stdin, then closed
  std::map<std::string, std::string> env;      // added to (or replacing in) the environment
  std::chrono::milliseconds timeout{120'000};  // SIGKILL after this long
};

// REQUIRES: argv is not empty; argv[0] is a path or a name looked up in PATH.
ProcessResult runProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// True while a process with this pid exists (zombies included).
bool processExists(int pid);

// A process that runs in the background while the test goes on (an operator replica), its
// stdout and stderr appended to a file. The destructor kills it (SIGKILL) if it still runs, and
// it is killed when the test process dies, however it dies.
class ChildProcess {
 public:
  // REQUIRES: argv is not empty.
  ChildProcess(const std::vector<std::string>& argv, const std::string& logFile,
               const std::map<std::string, std::string>& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }
  void signal(int sig) const;
  // The exit status (128 + signal when killed), or nullopt if it still runs after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // What it has printed so far.
  std::string output() const;

 private:
  int pid_ = -1;
  std::string logFile_;
  std::optional<int> status_;
};

}  // namespace sessionstore::testing
