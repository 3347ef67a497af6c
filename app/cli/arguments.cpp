// Command-line argument parsing for the netloom commands.
#include "app/cli/arguments.h"

#include <charconv>
#include <cstdlib>

#include "engine/core/error.h"

namespace nl::app {

namespace {
const OptionSpec* find_spec(const std::vector<OptionSpec>& specs, const std::string& name) {
  for (const auto& s : specs)
    if (s.name == name) return &s;
  return nullptr;
}
}  // namespace

Arguments::Arguments(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 3 || a.rfind("--", 0) != 0) {
      positionals_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const OptionSpec* spec = find_spec(specs, name);
    if (!spec) throw Error("unknown option --" + name);
    if (spec->value_name.empty()) {
      if (inline_value) throw Error("--" + name + " takes no value");
    } else if (!inline_value) {
      if (i + 1 >= args.size()) throw Error("--" + name + " needs a value (" + spec->value_name + ")");
      value = args[++i];
    }
    auto& slot = values_[name];
    if (!slot.empty() && !spec->repeatable) throw Error("--" + name + " is given twice");
    slot.push_back(value);
  }
}

std::optional<std::string> Arguments::value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

const std::vector<std::string>& Arguments::values(const std::string& name) const {
  static const std::vector<std::string> none;
  auto it = values_.find(name);
  return it == values_.end() ? none : it->second;
}

std::optional<int64_t> Arguments::integer(const std::string& name, int64_t min, int64_t max) const {
  auto v = value(name);
  if (!v) return std::nullopt;
  int64_t out = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || end != v->data() + v->size())
    throw Error("--" + name + ": '" + *v + "' is not a whole number");
  if (out < min || out > max)
    throw Error("--" + name + ": " + *v + " is outside [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return out;
}

std::optional<double> Arguments::real(const std::string& name) const {
  auto v = value(name);
  if (!v) return std::nullopt;
  char* end = nullptr;
  double out = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0') throw Error("--" + name + ": '" + *v + "' is not a number");
  return out;
}

std::string format_options(const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const auto& s : specs) {
    std::string left = "  --" + s.name + (s.value_name.empty() ? "" : " " + s.value_name);
    if (left.size() < 26) left.resize(26, ' ');
    else left += "  ";
    out += left + s.help + "\n";
  }
  return out;
}

}  // namespace nl::app
