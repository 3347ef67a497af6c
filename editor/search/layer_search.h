// Search-to-add's model: ranks the registry's layer types against what the user typed,
// fuzzily (the letters in order, not necessarily adjacent), by name and by category. No
// widgets here, so the ranking is tested on its own.
//
//   LayerSearch search(LayerRegistry::builtin());
//   search.find("conv2");   // Conv2d (prefix) before ConvTranspose2d (only a subsequence)
//
// Ranking: a name prefix beats a match at a word start inside the name ("Norm" in
// "BatchNorm2d"), which beats a scattered subsequence; a category match ranks below any
// name match. Ties go to the shorter name (the more basic layer), then alphabetically.
#pragma once
#include <QString>
#include <functional>
#include <vector>

#include "engine/graph/layer_registry.h"

namespace nl::editor {

struct LayerMatch {
  QString type;
  QString category;
  int score = 0;
};

class LayerSearch {
 public:
  // Score tiers; the gaps leave room for the bonus of a tight (contiguous) subsequence.
  static constexpr int kNamePrefix = 400, kNameWordStart = 300, kNameSubsequence = 200;
  static constexpr int kCategoryWord = 150, kCategorySubsequence = 100;

  explicit LayerSearch(const graph::LayerRegistry& registry) : registry_(registry) {}

  // Only layers the filter accepts are listed (those that fit a dragged wire); empty → all.
  void setFilter(std::function<bool(const graph::LayerSchema&)> filter) { filter_ = std::move(filter); }
  // Every accepted layer matching the query, best first; an empty query lists them all by
  // category and name.
  std::vector<LayerMatch> find(const QString& query) const;

  // How well `query` matches `text` with the tiers above (prefix/word start/subsequence as
  // `prefix`, `word`, `subsequence`), or -1 when the letters do not all occur in order.
  static int score(const QString& query, const QString& text, int prefix, int word, int subsequence);

 private:
  const graph::LayerRegistry& registry_;
  std::function<bool(const graph::LayerSchema&)> filter_;
};

}  // namespace nl::editor
