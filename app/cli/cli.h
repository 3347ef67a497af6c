// The headless command line: `netloom <command> …`. Each command is an entry in a table
// (name, usage, options, function), so later features (import, export) add an entry and a
// file without touching the dispatcher.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "app/cli/arguments.h"

namespace nl::app {

struct Command {
  std::string name;       // "train"
  std::string usage;      // "PROJECT [options]"
  std::string summary;    // one line for `netloom help`
  std::vector<OptionSpec> options;
  std::function<int(const Arguments&)> run;  // exit status
};

// The built-in commands, in the order `netloom help` lists them.
std::vector<Command> builtin_commands();

// Runs `netloom` with its arguments (argv without the program name). Errors become a line
// "netloom <command>: error: …" on stderr and exit status 2 (usage) or 1 (failure).
int run_cli(const std::vector<std::string>& args);

// Command factories, one per file.
Command info_command();
Command validate_command();
Command train_command();
Command run_command();
Command import_command();
Command export_command();
Command devices_command();

}  // namespace nl::app
