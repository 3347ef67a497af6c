// The canvas's clipboard format: a selection as snippet JSON (graph_json.h), put on the
// system clipboard both as `application/x-netloom-snippet` and as plain-text JSON, so a
// snippet pasted into another project — or another Netloom window, or a text editor and
// back — works.
#pragma once
#include <QPointF>
#include <optional>

#include <nlohmann/json.hpp>

#include "editor/graph_document.h"

namespace nl::editor {

class SnippetClipboard {
 public:
  static constexpr const char* kMime = "application/x-netloom-snippet";

  // Puts the snippet of these nodes (and the edges between them) on the clipboard; false
  // when there is nothing to copy.
  static bool copy(const graph::ModelGraph& graph, const std::vector<graph::NodeId>& ids);
  // The snippet on the clipboard: our mime type first, else plain text that parses as a
  // snippet; nullopt when the clipboard holds neither.
  static std::optional<nlohmann::json> read();
  // Top-left corner of the snippet's node positions (where its first row/column starts).
  static QPointF topLeft(const nlohmann::json& snippet);
};

}  // namespace nl::editor
