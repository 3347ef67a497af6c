// Formatting and matching of symbolic shapes.
#include "engine/graph/symbolic_shape.h"

namespace nl::graph {

std::string shape_to_string(const SymShape& shape) {
  if (shape.empty()) return "scalar";
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += "\u00d7";
    const Dim& d = shape[i];
    out += d.is_known() ? std::to_string(d.size) : (d.symbol.empty() ? std::string("?") : d.symbol);
  }
  return out;
}

SymShape shape_from_ints(const std::vector<int64_t>& dims, const std::string& batch_symbol) {
  SymShape s;
  s.reserve(dims.size());
  for (int64_t d : dims) s.push_back(d < 0 ? Dim::symbolic(batch_symbol) : Dim::known(d));
  return s;
}

int64_t numel_per_sample(const SymShape& shape) {
  int64_t n = 1;
  for (const Dim& d : shape)
    if (d.is_known()) n *= d.size;
  return n;
}

bool shape_matches(const SymShape& symbolic, const std::vector<int64_t>& concrete) {
  if (symbolic.size() != concrete.size()) return false;
  for (size_t i = 0; i < symbolic.size(); ++i)
    if (symbolic[i].is_known() && symbolic[i].size != concrete[i]) return false;
  return true;
}

}  // namespace nl::graph
