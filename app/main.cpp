// The netloom executable: a command (`netloom train …`, `netloom help`) runs the headless
// command line; otherwise the main window opens, with a project when a path is given.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "app/cli/cli.h"
#include "app/gui/gui_main.h"

namespace {

bool is_command(const std::string& arg) {
  if (arg == "help" || arg.starts_with("-")) return true;  // help and options belong to the CLI
  for (const nl::app::Command& c : nl::app::builtin_commands())
    if (c.name == arg) return true;
  return false;
}

bool has_display() {
  auto set = [](const char* name) {
    const char* v = std::getenv(name);
    return v && *v;
  };
  return set("DISPLAY") || set("WAYLAND_DISPLAY") || set("QT_QPA_PLATFORM");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && is_command(args[0])) return nl::app::run_cli(args);
  if (args.size() > 1) {
    std::fprintf(stderr, "netloom: '%s' is not a command (try `netloom help`)\n", args[0].c_str());
    return 2;
  }
  if (!has_display()) {
    std::fprintf(stderr,
                 "netloom: no display for the main window (DISPLAY and WAYLAND_DISPLAY are unset).\n"
                 "Train headless with `netloom train PROJECT.netloom`, or see `netloom help`.\n");
    return 2;
  }
  // Qt takes its own options (-platform …) from argv; only the project path is ours.
  int qt_argc = 1;
  return nl::app::run_gui(qt_argc, argv, args.empty() ? QString() : QString::fromLocal8Bit(args[0].c_str()));
}
