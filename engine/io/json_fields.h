// Reading JSON documents (project files, graph snippets) field by field, so that every
// error names the file and the field path: "a.netloom: graph.nodes[3].attrs.kernel_size:
// expected int list, got "3"". Writers use nlohmann::json directly.
//
//   nlohmann::json doc = nl::io::parse_json_file("a.netloom");   // "a.netloom: not valid JSON: line 4, column 7: …"
//   nl::io::JsonField root(doc, "", "a.netloom");
//   int64_t epochs = root["training"]["epochs"].as_int();           // required member
//   if (auto d = root.find("description")) name = d->as_string();  // optional member
//   root["training"].read("seed", settings.seed);                  // optional, keeps the default
//
// Members that no reader asks for are ignored, so a file from a build with extra settings
// still opens (forward compatibility within a format version).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nl::io {

// Parses `text`; a syntax error becomes nl::Error "<name>: not valid JSON: line L, column C: …".
nlohmann::json parse_json_text(const std::string& text, const std::string& name);
// Reads and parses a file ("<path>: cannot open" when it cannot be read).
nlohmann::json parse_json_file(const std::string& path);

// A short rendering of a JSON value for messages: "3", "\"3\"", "[1, 2]" (long values cut).
std::string json_excerpt(const nlohmann::json& value);

// A JSON value together with its path from the document root and the document's name. It
// refers to the value, which must outlive it.
class JsonField {
 public:
  JsonField(const nlohmann::json& value, std::string path, std::string file = {});

  const nlohmann::json& value() const { return *value_; }
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }

  // Throws nl::Error "<file>: <path>: <message>" (parts left out when empty).
  [[noreturn]] void fail(const std::string& message) const;

  // Members of an object: operator[] requires the member, find() returns nullopt when it
  // is absent (or null, so writers may spell "no value" either way).
  JsonField operator[](const std::string& key) const;
  std::optional<JsonField> find(const std::string& key) const;
  // Elements of an array.
  size_t size() const;  // fails unless an array
  JsonField at(size_t index) const;

  void expect_object() const;
  bool as_bool() const;
  int64_t as_int() const;      // an integer (3, not 3.0 or "3")
  uint64_t as_uint() const;    // a non-negative integer
  double as_double() const;    // any number
  std::string as_string() const;
  std::vector<int64_t> as_ints() const;
  std::vector<double> as_doubles() const;

  // Optional members that keep `out` (the default) when absent.
  void read(const std::string& key, bool& out) const;
  void read(const std::string& key, int64_t& out) const;
  void read(const std::string& key, uint64_t& out) const;
  void read(const std::string& key, double& out) const;
  void read(const std::string& key, std::string& out) const;
  void read(const std::string& key, std::vector<int64_t>& out) const;

 private:
  [[noreturn]] void fail_expected(const char* what) const;
  std::string child_path(const std::string& key) const;

  const nlohmann::json* value_;
  std::string path_;
  std::string file_;
};

}  // namespace nl::io
