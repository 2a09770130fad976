// A test process that dies half-way with a control plane running, for teardown_test.
//   teardown_child fail  PROFILE OUTFILE: starts the plane, then fails the way a test does
//                                         (an exception unwinds, destructors run);
//   teardown_child crash PROFILE OUTFILE: starts the plane, then aborts (no destructor runs:
//                                         the script's watchdog must clean up).
// The plane's folder and pids are written to OUTFILE first.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "control_plane.h"

int main(int argc, char** argv) {
  using sessionstore::testing::ControlPlane;
  using sessionstore::testing::Profile;
  if (argc != 4) {
    std::cerr << "usage: teardown_child fail|crash apiserver|cluster|node OUTFILE\n";
    return 2;
  }
  const std::string mode = argv[1];
  const Profile profile = std::strcmp(argv[2], "cluster") == 0 ? Profile::kCluster
                          : std::strcmp(argv[2], "node") == 0  ? Profile::kNode
                                                               : Profile::kApiServer;
  try {
    auto plane = ControlPlane::start(profile);
    {
      std::ofstream out(argv[3]);
      out << plane->dir() << "\n";
      for (int pid : plane->pids()) out << pid << "\n";
    }
    if (mode == "crash") std::abort();
    throw std::runtime_error("a failing assertion half-way through the test");
  } catch (const std::runtime_error& e) {
    std::cerr << "teardown_child: " << e.what() << "\n";
    return 1;
  }
}
