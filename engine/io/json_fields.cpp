// Field-by-field JSON reading with file and path in every error message.
#include "engine/io/json_fields.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "engine/core/error.h"

namespace nl::io {

nlohmann::json parse_json_text(const std::string& text, const std::string& name) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and points at the last character read; count lines up to it so the
    // message matches what an editor shows.
    size_t end = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    int64_t line = 1, column = 1;
    for (size_t i = 0; i < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    // nlohmann's own text starts "[json.exception.parse_error.101] parse error at line …: ";
    // keep only the reason after the last ": " of that prefix.
    std::string why = e.what();
    if (size_t p = why.find(": "); p != std::string::npos) why = why.substr(p + 2);
    fail(name, ": not valid JSON: line ", line, ", column ", column, ": ", why);
  }
}

nlohmann::json parse_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return parse_json_text(text.str(), path);
}

std::string json_excerpt(const nlohmann::json& value) {
  std::string s = value.dump();
  constexpr size_t kMax = 60;
  if (s.size() > kMax) s = s.substr(0, kMax) + "…";
  return s;
}

JsonField::JsonField(const nlohmann::json& value, std::string path, std::string file)
    : value_(&value), path_(std::move(path)), file_(std::move(file)) {}

void JsonField::fail(const std::string& message) const {
  std::string out;
  if (!file_.empty()) out += file_ + ": ";
  if (!path_.empty()) out += path_ + ": ";
  throw Error(out + message);
}

void JsonField::fail_expected(const char* what) const {
  fail(std::string("expected ") + what + ", got " + json_excerpt(*value_));
}

std::string JsonField::child_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

JsonField JsonField::operator[](const std::string& key) const {
  expect_object();
  auto it = value_->find(key);
  if (it == value_->end()) fail("missing field '" + key + "'");
  return JsonField(*it, child_path(key), file_);
}

std::optional<JsonField> JsonField::find(const std::string& key) const {
  expect_object();
  auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) return std::nullopt;
  return JsonField(*it, child_path(key), file_);
}

size_t JsonField::size() const {
  if (!value_->is_array()) fail_expected("an array");
  return value_->size();
}

JsonField JsonField::at(size_t index) const {
  if (!value_->is_array()) fail_expected("an array");
  if (index >= value_->size()) fail("has no element " + std::to_string(index));
  return JsonField((*value_)[index], path_ + "[" + std::to_string(index) + "]", file_);
}

void JsonField::expect_object() const {
  if (!value_->is_object()) fail_expected("an object");
}

bool JsonField::as_bool() const {
  if (!value_->is_boolean()) fail_expected("true or false");
  return value_->get<bool>();
}

int64_t JsonField::as_int() const {
  if (value_->is_number_integer() && !value_->is_number_unsigned()) return value_->get<int64_t>();
  if (value_->is_number_unsigned()) {
    uint64_t u = value_->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) fail("integer " + value_->dump() + " is too large");
    return static_cast<int64_t>(u);
  }
  fail_expected("an integer");
}

uint64_t JsonField::as_uint() const {
  if (value_->is_number_unsigned()) return value_->get<uint64_t>();
  if (value_->is_number_integer()) fail("expected a non-negative integer, got " + value_->dump());
  fail_expected("a non-negative integer");
}

double JsonField::as_double() const {
  if (!value_->is_number()) fail_expected("a number");
  return value_->get<double>();
}

std::string JsonField::as_string() const {
  if (!value_->is_string()) fail_expected("a string");
  return value_->get<std::string>();
}

std::vector<int64_t> JsonField::as_ints() const {
  if (!value_->is_array()) fail_expected("a list of integers");
  std::vector<int64_t> out;
  for (size_t i = 0; i < value_->size(); ++i) out.push_back(at(i).as_int());
  return out;
}

std::vector<double> JsonField::as_doubles() const {
  if (!value_->is_array()) fail_expected("a list of numbers");
  std::vector<double> out;
  for (size_t i = 0; i < value_->size(); ++i) out.push_back(at(i).as_double());
  return out;
}

void JsonField::read(const std::string& key, bool& out) const {
  if (auto f = find(key)) out = f->as_bool();
}
void JsonField::read(const std::string& key, int64_t& out) const {
  if (auto f = find(key)) out = f->as_int();
}
void JsonField::read(const std::string& key, uint64_t& out) const {
  if (auto f = find(key)) out = f->as_uint();
}
void JsonField::read(const std::string& key, double& out) const {
  if (auto f = find(key)) out = f->as_double();
}
void JsonField::read(const std::string& key, std::string& out) const {
  if (auto f = find(key)) out = f->as_string();
}
void JsonField::read(const std::string& key, std::vector<int64_t>& out) const {
  if (auto f = find(key)) out = f->as_ints();
}

}  // namespace nl::io
