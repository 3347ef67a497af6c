// Dispatch and help for the netloom command line.
#include "app/cli/cli.h"

#include <cstdio>
#include <exception>
#include <optional>

#include "engine/core/error.h"

namespace nl::app {

std::vector<Command> builtin_commands() {
  return {info_command(),   validate_command(), train_command(),  run_command(),
          import_command(), export_command(),   devices_command()};
}

namespace {

void print_help(const std::vector<Command>& commands) {
  std::printf("Netloom: design and train neural networks.\n\nUsage: netloom <command> [arguments]\n\nCommands:\n");
  for (const auto& c : commands) std::printf("  %-10s %s\n", c.name.c_str(), c.summary.c_str());
  std::printf("\n`netloom help <command>` shows a command's options.\n");
}

void print_command_help(const Command& c) {
  std::printf("Usage: netloom %s %s\n\n%s\n", c.name.c_str(), c.usage.c_str(), c.summary.c_str());
  if (!c.options.empty()) std::printf("\nOptions:\n%s", format_options(c.options).c_str());
}

const Command* find(const std::vector<Command>& commands, const std::string& name) {
  for (const auto& c : commands)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace

int run_cli(const std::vector<std::string>& args) {
  std::vector<Command> commands = builtin_commands();
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    if (args.size() > 1) {
      if (const Command* c = find(commands, args[1])) {
        print_command_help(*c);
        return 0;
      }
      std::fprintf(stderr, "netloom: no command '%s'\n", args[1].c_str());
      return 2;
    }
    print_help(commands);
    return args.empty() ? 2 : 0;
  }
  const Command* command = find(commands, args[0]);
  if (!command) {
    std::fprintf(stderr, "netloom: no command '%s' (try `netloom help`)\n", args[0].c_str());
    return 2;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  for (const auto& a : rest)
    if (a == "--help" || a == "-h") {
      print_command_help(*command);
      return 0;
    }
  std::optional<Arguments> parsed;
  try {
    parsed.emplace(rest, command->options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "netloom %s: error: %s\nUsage: netloom %s %s\n", command->name.c_str(), e.what(),
                 command->name.c_str(), command->usage.c_str());
    return 2;
  }
  try {
    return command->run(*parsed);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "netloom %s: error: %s\n", command->name.c_str(), e.what());
    return 1;
  }
}

}  // namespace nl::app
