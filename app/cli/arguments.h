// A small command-line argument parser for `netloom <command> …`: positionals, `--name value`,
// `--name=value`, repeatable options and flags, with errors that name the option.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nl::app {

struct OptionSpec {
  std::string name;  // without dashes: "epochs"
  std::string value_name;  // "N"; empty for a flag
  std::string help;
  bool repeatable = false;
};

class Arguments {
 public:
  // Parses argv after the command name. Throws nl::Error on an unknown option or a missing value.
  Arguments(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs);

  const std::vector<std::string>& positionals() const { return positionals_; }
  bool flag(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> value(const std::string& name) const;
  const std::vector<std::string>& values(const std::string& name) const;  // repeatable options
  // Typed getters; throw naming the option when the value does not parse or is out of range.
  std::optional<int64_t> integer(const std::string& name, int64_t min, int64_t max) const;
  std::optional<double> real(const std::string& name) const;

 private:
  std::vector<std::string> positionals_;
  std::map<std::string, std::vector<std::string>> values_;
};

std::string format_options(const std::vector<OptionSpec>& specs);

}  // namespace nl::app
