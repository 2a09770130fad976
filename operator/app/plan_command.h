// `sessionstore-operator plan`: reads the files named on the command line, prints
// plan::renderPlan's YAML on stdout, and exits 0; input errors go to stderr with exit code 2.
#pragma once

// REQUIRES: argv[1] is "plan".
int runPlan(int argc, char** argv);
