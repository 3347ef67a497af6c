// The netloom executable. For now the headless command line; the GUI joins this binary
// (no arguments: the main window; a command: the command line).
#include <string>
#include <vector>

#include "app/cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return nl::app::run_cli(args);
}
