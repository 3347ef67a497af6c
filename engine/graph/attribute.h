// Attribute values of model-graph nodes (a layer's settings: out_features, kernel_size,
// activation choice …) and their kinds, as declared by layer schemas.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace nl::graph {

// What a layer schema declares an attribute to be. Choice is a string from a fixed list.
enum class AttrKind { Bool, Int, Float, String, Choice, Ints, Floats };

using AttrValue = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>, std::vector<double>>;
using AttrMap = std::map<std::string, AttrValue>;

const char* attr_kind_name(AttrKind kind);
// True when `value` holds the C++ alternative that `kind` stores (Choice and String: string).
bool attr_value_matches(AttrKind kind, const AttrValue& value);
// Human-readable form for messages, summaries and the inspector: 3, 0.5, true, "same", [3, 3].
std::string attr_value_to_string(const AttrValue& value);

}  // namespace nl::graph
