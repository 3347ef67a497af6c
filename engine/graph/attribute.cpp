// Attribute kinds and value formatting for the model graph.
#include "engine/graph/attribute.h"

#include <sstream>

namespace nl::graph {

const char* attr_kind_name(AttrKind kind) {
  switch (kind) {
    case AttrKind::Bool: return "bool";
    case AttrKind::Int: return "int";
    case AttrKind::Float: return "float";
    case AttrKind::String: return "string";
    case AttrKind::Choice: return "choice";
    case AttrKind::Ints: return "int list";
    case AttrKind::Floats: return "float list";
  }
  return "?";
}

bool attr_value_matches(AttrKind kind, const AttrValue& value) {
  switch (kind) {
    case AttrKind::Bool: return std::holds_alternative<bool>(value);
    case AttrKind::Int: return std::holds_alternative<int64_t>(value);
    case AttrKind::Float: return std::holds_alternative<double>(value);
    case AttrKind::String:
    case AttrKind::Choice: return std::holds_alternative<std::string>(value);
    case AttrKind::Ints: return std::holds_alternative<std::vector<int64_t>>(value);
    case AttrKind::Floats: return std::holds_alternative<std::vector<double>>(value);
  }
  return false;
}

namespace {
std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

std::string attr_value_to_string(const AttrValue& value) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return number(d); }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(const std::vector<int64_t>& v) const {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
      return out + "]";
    }
    std::string operator()(const std::vector<double>& v) const {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + number(v[i]);
      return out + "]";
    }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace nl::graph
