// Tabular datasets from CSV files (plain or .csv.gz): numeric feature columns and one label
// column, which holds class indices, class names (strings) or, for regression, numbers.
//
//   auto iris = nl::data::load_csv("iris.csv");                 // sklearn-style first line
//   auto wine = nl::data::load_csv("wine.csv", {.label_column_name = "quality", .regression = true});
//
// The first line may be
//   - a header of column names ("sepal_length,sepal_width,…,species"),
//   - scikit-learn's counts line "N,F,class names…" (its bundled iris/wine/breast_cancer
//     files): N rows of F features and a label follow, and the names name classes 0, 1, …,
//   - or already data.
// CsvHeader::Detect tells these apart: a counts line is two integers then names, with F + 1
// columns below it; a header is a first line with text where the second line has numbers.
//
// Labels: when every label cell is a non-negative integer they are the class indices
// (classes = largest + 1, named "0", "1", … unless the counts line names them); otherwise
// each distinct string is a class, numbered in sorted order and named by itself.
#pragma once
#include <memory>
#include <string>

#include "engine/data/dataset.h"

namespace nl::data {

enum class CsvHeader { Detect, ColumnNames, SklearnCounts, None };

struct CsvOptions {
  int64_t label_column = -1;      // negative counts from the end: -1 is the last column
  std::string label_column_name;  // when set, chooses the label column by its header name
  CsvHeader header = CsvHeader::Detect;
  char delimiter = ',';
  bool regression = false;  // the label column is a Float32 target [1] rather than classes
};

std::shared_ptr<TensorDataset> load_csv(const std::string& path, const CsvOptions& options = {});

}  // namespace nl::data
