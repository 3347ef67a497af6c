// The netloom executable: a command (`netloom train …`, `netloom help`) runs the headless
// command line; otherwise the main window opens, with a project when a path is given.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "app/cli/cli.h"
#include "app/gui/gui_main.h"

namespace {

// A first argument that is not a project file goes to the command line, which runs the
// command or says there is no such command ("netloom trian" must not open a window).
bool is_project_path(const std::string& arg) {
  if (arg.starts_with("-")) return false;
  for (const nl::app::Command& c : nl::app::builtin_commands())
    if (c.name == arg) return false;
  return arg.ends_with(".netloom") || std::filesystem::is_regular_file(arg);
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
  if (args.size() > 1 || (args.size() == 1 && !is_project_path(args[0]))) return nl::app::run_cli(args);
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
