// CSV parsing for load_csv: rows and quoted cells, first-line detection, numeric features,
// class or regression labels; every error names the file, line and column.
#include "engine/data/csv.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <string_view>

#include "engine/core/error.h"
#include "engine/data/file_reader.h"

namespace nl::data {
namespace {

constexpr size_t kMaxCsvBytes = size_t{4} << 30;

struct CsvRow {
  int64_t line;  // 1-based line number in the file
  std::vector<std::string> cells;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Cells of one line. Double-quoted cells may hold the delimiter and "" for a quote; a quoted
// cell cannot span lines.
std::vector<std::string> split_cells(std::string_view line, char delimiter, const std::string& path, int64_t line_no) {
  std::vector<std::string> cells;
  size_t i = 0;
  for (;;) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t') && line[i] != delimiter) ++i;
    std::string cell;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        NL_CHECK(i < line.size(), path, ": line ", line_no, ", column ", cells.size() + 1,
                 ": quoted cell has no closing quote");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            cell += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        cell += line[i++];
      }
      while (i < line.size() && line[i] != delimiter) {
        NL_CHECK(line[i] == ' ' || line[i] == '\t', path, ": line ", line_no, ", column ", cells.size() + 1,
                 ": text after a closing quote");
        ++i;
      }
    } else {
      size_t end = line.find(delimiter, i);
      if (end == std::string_view::npos) end = line.size();
      cell = std::string(trim(line.substr(i, end - i)));
      i = end;
    }
    cells.push_back(std::move(cell));
    if (i >= line.size()) break;
    ++i;  // the delimiter
  }
  return cells;
}

std::vector<CsvRow> split_rows(const std::string& path, const std::vector<uint8_t>& bytes, char delimiter) {
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte-order mark
  NL_CHECK(text.find('\0') == std::string_view::npos, path, ": holds NUL bytes; not a text CSV file");
  std::vector<CsvRow> rows;
  int64_t line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (line.ends_with('\r')) line.remove_suffix(1);
    ++line_no;
    if (!trim(line).empty()) rows.push_back({line_no, split_cells(line, delimiter, path, line_no)});
    start = end + 1;
  }
  return rows;
}

// The cell as a number, if it is one; `non_finite` is set for NaN and infinities.
std::optional<double> parse_number(std::string_view s, bool* non_finite = nullptr) {
  s = trim(s);
  if (s.starts_with('+')) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (!std::isfinite(value)) {
    if (non_finite) *non_finite = true;
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> parse_class_index(std::string_view s) {
  s = trim(s);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || value < 0) return std::nullopt;
  return value;
}

int64_t resolve_column(int64_t column, int64_t width) { return column < 0 ? width + column : column; }

CsvHeader detect_first_line(const std::vector<CsvRow>& rows, const CsvOptions& options) {
  if (options.header != CsvHeader::Detect) return options.header;
  const std::vector<std::string>& first = rows[0].cells;
  if (rows.size() < 2) return CsvHeader::None;
  const std::vector<std::string>& second = rows[1].cells;
  const int64_t label = resolve_column(options.label_column, static_cast<int64_t>(second.size()));
  const bool label_numeric = label >= 0 && label < static_cast<int64_t>(second.size()) && parse_number(second[label]);
  // A name is text that is neither empty (a missing value) nor NaN/inf (a number, though one
  // the parser will refuse later).
  auto is_name = [](const std::string& cell) {
    bool non_finite = false;
    return !trim(cell).empty() && !parse_number(cell, &non_finite) && !non_finite;
  };
  auto features = first.size() >= 3 ? parse_class_index(first[1]) : std::nullopt;
  if (features && parse_class_index(first[0]) && label_numeric &&
      static_cast<int64_t>(second.size()) == *features + 1 &&
      std::all_of(first.begin() + 2, first.end(), is_name))
    return CsvHeader::SklearnCounts;
  for (size_t c = 0; c < first.size() && c < second.size(); ++c)
    if (is_name(first[c]) && parse_number(second[c])) return CsvHeader::ColumnNames;
  return CsvHeader::None;
}

}  // namespace

std::shared_ptr<TensorDataset> load_csv(const std::string& path, const CsvOptions& options) {
  const std::vector<uint8_t> bytes = read_whole_file(path, kMaxCsvBytes, "CSV text");
  const std::vector<CsvRow> rows = split_rows(path, bytes, options.delimiter);
  NL_CHECK(!rows.empty(), path, ": the file has no rows");

  const CsvHeader header = detect_first_line(rows, options);
  std::vector<std::string> column_names;
  std::vector<std::string> class_names;
  int64_t declared_rows = -1;
  size_t first_data = 0;
  int64_t width = static_cast<int64_t>(rows[0].cells.size());
  if (header == CsvHeader::ColumnNames) {
    column_names = rows[0].cells;
    first_data = 1;
  } else if (header == CsvHeader::SklearnCounts) {
    const std::vector<std::string>& counts = rows[0].cells;
    auto n = counts.size() >= 2 ? parse_class_index(counts[0]) : std::nullopt;
    auto f = counts.size() >= 2 ? parse_class_index(counts[1]) : std::nullopt;
    NL_CHECK(n && f, path, ": line ", rows[0].line, ": expected \"samples,features,class names…\" but found '",
             counts[0], "'");
    declared_rows = *n;
    width = *f + 1;
    class_names.assign(counts.begin() + 2, counts.end());
    first_data = 1;
  }
  NL_CHECK(first_data < rows.size(), path, ": the file has a header line but no data rows");
  if (header == CsvHeader::None) width = static_cast<int64_t>(rows[first_data].cells.size());
  const int64_t reference_line = rows[header == CsvHeader::SklearnCounts ? first_data : 0].line;
  NL_CHECK(width >= 2, path, ": line ", reference_line, " has ", width,
           " column(s); a dataset needs at least one feature column and a label column");

  int64_t label = resolve_column(options.label_column, width);
  if (!options.label_column_name.empty()) {
    NL_CHECK(header == CsvHeader::ColumnNames, path, ": a label column name ('", options.label_column_name,
             "') was given but the file has no header line of column names");
    auto found = std::find(column_names.begin(), column_names.end(), options.label_column_name);
    if (found == column_names.end()) {
      std::string all;
      for (const std::string& c : column_names) all += (all.empty() ? "" : ", ") + c;
      fail(path, ": no column named '", options.label_column_name, "' (columns: ", all, ")");
    }
    label = found - column_names.begin();
  }
  NL_CHECK(label >= 0 && label < width, path, ": label column ", options.label_column, " is outside the ", width,
           " columns");

  const int64_t n = static_cast<int64_t>(rows.size() - first_data);
  if (declared_rows >= 0)
    NL_CHECK(declared_rows == n, path, ": line ", rows[0].line, " says ", declared_rows,
             " samples but the file holds ", n, " data rows");
  auto column_label = [&](int64_t c) {
    std::string s = "column " + std::to_string(c + 1);
    if (!column_names.empty()) s += " ('" + column_names[c] + "')";
    return s;
  };
  auto number_at = [&](const CsvRow& row, int64_t c) {
    const std::string& cell = row.cells[c];
    NL_CHECK(!trim(cell).empty(), path, ": line ", row.line, ", ", column_label(c),
             ": the cell is empty (missing values are not supported)");
    bool non_finite = false;
    std::optional<double> v = parse_number(cell, &non_finite);
    NL_CHECK(v.has_value(), path, ": line ", row.line, ", ", column_label(c), ": '", cell, "' is ",
             non_finite ? "not a finite number" : "not a number");
    return *v;
  };

  Tensor inputs = Tensor::empty({n, width - 1});
  float* x = inputs.data<float>();
  std::vector<std::string> label_cells;
  label_cells.reserve(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    const CsvRow& row = rows[first_data + r];
    NL_CHECK(static_cast<int64_t>(row.cells.size()) == width, path, ": line ", row.line, " has ", row.cells.size(),
             " columns but line ", reference_line, header == CsvHeader::SklearnCounts ? " (from line 1's count)" : "",
             " has ", width);
    for (int64_t c = 0; c < width; ++c)
      if (c != label) *x++ = static_cast<float>(number_at(row, c));
    NL_CHECK(!trim(row.cells[label]).empty(), path, ": line ", row.line, ", ", column_label(label),
             ": the label cell is empty");
    label_cells.push_back(std::string(trim(row.cells[label])));
  }

  if (options.regression) {
    Tensor targets = Tensor::empty({n, 1});
    float* values = targets.data<float>();
    for (int64_t r = 0; r < n; ++r) values[r] = static_cast<float>(number_at(rows[first_data + r], label));
    return std::make_shared<TensorDataset>(inputs, targets);
  }

  Tensor targets = Tensor::empty({n}, DType::Int64);
  int64_t* y = targets.data<int64_t>();
  const bool all_indices = std::all_of(label_cells.begin(), label_cells.end(),
                                       [](const std::string& c) { return parse_class_index(c).has_value(); });
  if (all_indices) {
    for (int64_t r = 0; r < n; ++r) {
      y[r] = *parse_class_index(label_cells[r]);
      if (!class_names.empty())
        NL_CHECK(y[r] < static_cast<int64_t>(class_names.size()), path, ": line ", rows[first_data + r].line, ", ",
                 column_label(label), ": class ", y[r], " but line ", rows[0].line, " names only ", class_names.size(),
                 " classes");
    }
  } else {
    // String labels: the counts line's names give their indices when present, else sorted order.
    std::map<std::string, int64_t> index_of;
    if (!class_names.empty()) {
      for (size_t i = 0; i < class_names.size(); ++i) index_of.emplace(class_names[i], static_cast<int64_t>(i));
    } else {
      for (const std::string& c : label_cells) index_of.emplace(c, 0);
      for (auto& [name, index] : index_of) {
        index = static_cast<int64_t>(class_names.size());
        class_names.push_back(name);
      }
    }
    for (int64_t r = 0; r < n; ++r) {
      auto it = index_of.find(label_cells[r]);
      NL_CHECK(it != index_of.end(), path, ": line ", rows[first_data + r].line, ", ", column_label(label), ": '",
               label_cells[r], "' is not one of the classes line ", rows[0].line, " names");
      y[r] = it->second;
    }
  }
  return std::make_shared<TensorDataset>(inputs, targets, std::move(class_names));
}

}  // namespace nl::data
