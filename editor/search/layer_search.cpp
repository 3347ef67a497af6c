// Search-to-add's ranking of layer types.
#include "editor/search/layer_search.h"

#include <algorithm>

namespace nl::editor {

namespace {

// A word starts at the beginning, after a non-letter, at a capital after a lower-case letter
// ("BatchNorm"), and at a digit run ("Conv2d" → "2d").
bool wordStart(const QString& s, int i) {
  if (i == 0) return true;
  QChar prev = s[i - 1], c = s[i];
  if (!prev.isLetterOrNumber()) return c.isLetterOrNumber();
  if (c.isUpper() && prev.isLower()) return true;
  return c.isDigit() && !prev.isDigit();
}

}  // namespace

int LayerSearch::score(const QString& query, const QString& text, int prefix, int word, int subsequence) {
  if (query.isEmpty()) return subsequence;
  QString q = query.toLower(), t = text.toLower();
  if (t.startsWith(q)) return prefix;
  for (int i = t.indexOf(q, 1); i > 0; i = t.indexOf(q, i + 1))
    if (wordStart(text, i)) return word;
  // Subsequence, greedily from the left; fewer gaps scores a little higher within the tier.
  int gaps = 0, pos = 0, last = -1;
  for (QChar c : q) {
    pos = t.indexOf(c, pos);
    if (pos < 0) return -1;
    if (last >= 0 && pos != last + 1) ++gaps;
    last = pos++;
  }
  return subsequence + std::max(0, 40 - 5 * gaps);
}

std::vector<LayerMatch> LayerSearch::find(const QString& query) const {
  QString q = query.trimmed();
  q.remove(' ');
  std::vector<LayerMatch> out;
  for (const std::string& type : registry_.types()) {
    const graph::LayerSchema& schema = registry_.get(type);
    if (filter_ && !filter_(schema)) continue;
    QString name = QString::fromStdString(type), category = QString::fromStdString(schema.category);
    int s = score(q, name, kNamePrefix, kNameWordStart, kNameSubsequence);
    if (s < 0) s = score(q, category, kCategoryWord, kCategoryWord, kCategorySubsequence);
    if (s >= 0) out.push_back({name, category, s});
  }
  if (q.isEmpty()) {
    std::stable_sort(out.begin(), out.end(), [](const LayerMatch& a, const LayerMatch& b) {
      return a.category != b.category ? a.category < b.category : a.type < b.type;
    });
    return out;
  }
  std::stable_sort(out.begin(), out.end(), [](const LayerMatch& a, const LayerMatch& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.type.size() != b.type.size()) return a.type.size() < b.type.size();
    return a.type < b.type;
  });
  return out;
}

}  // namespace nl::editor
